//! The recording proxy's cost: a signed `TerminateInstances` sent to a `terminus serve --tls` mock directly (TLS,
//! keep-alive) and through `terminus record` (plain HTTP to the proxy, which forwards over its own keep-alive TLS
//! and writes the redacted exchange to a cassette), in the same run. README, "The recorder", quotes the result.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use terminus::harness::http1::Connection;
use terminus::message::Request;
use terminus::mock::MockServer;
use terminus::provider::is_provider_host;
use terminus::record::{Recorder, RecorderConfig};
use terminus::signing::{self, Credentials, Scheme, SignOptions};
use terminus::tls::{Authority, Trust};
use terminus::world::WorldSpec;

const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

fn terminate() -> Request {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let body = r#"{"InstanceIds":["ins-r8hr2upy"]}"#;
    let text = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nX-TC-Action: TerminateInstances\r\n\
         X-TC-Region: ap-guangzhou\r\nX-TC-Timestamp: {now}\r\nX-TC-Version: 2017-03-12\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let request = Request::parse(text.as_bytes()).expect("HTTP");
    signing::sign(
        &request,
        &Credentials::new(ID, KEY),
        Scheme::Tc3,
        &SignOptions::default(),
    )
    .expect("signs")
    .request
}

fn proxy(c: &mut Criterion) {
    let world = WorldSpec::from_toml(
        &format!(
            "rate-limit = {{ terminate-per-second = 1000000000 }}\n[[accounts]]\nsecret-id = \"{ID}\"\n\
             secret-key = \"{KEY}\"\nowner = \"100000000001\"\n[[instances]]\nid = \"ins-r8hr2upy\"\n"
        ),
        "the bench world",
    )
    .expect("a world");
    let authority = Authority::generate().expect("a CA");
    let mock = MockServer::builder()
        .world(world)
        .tls(authority.server_config(Arc::new(is_provider_host)))
        .start()
        .expect("the mock starts");
    let trust = Trust {
        public_roots: false,
        extra: vec![authority.certificate_der().clone()],
    };
    let out = std::env::temp_dir().join(format!("terminus-bench-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let recorder = Recorder::start(RecorderConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        out: out.clone(),
        upstream: Some(mock.uri()),
        trust: trust.clone(),
        redact: Vec::new(),
        secrets: Vec::new(),
        log: None,
        request_deadline: terminus::record::proxy::REQUEST_DEADLINE,
    })
    .expect("the recorder starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Signed once: the mock's clock is real, and a bench run lasts well under the five-minute window.
    let direct_bytes = terminate().to_bytes();
    let mut absolute = terminate();
    absolute.target = format!("http://cvm.tencentcloudapi.com{}", absolute.target);
    let proxied_bytes = absolute.to_bytes();

    let mut direct = runtime.block_on(async {
        let config = trust.client_config().expect("a client configuration");
        let stream = terminus::tls::connect(mock.address(), "127.0.0.1", config)
            .await
            .expect("TLS to the mock");
        Connection::over(stream)
    });
    let mut through = runtime
        .block_on(Connection::open(recorder.address()))
        .expect("a connection to the proxy");

    // Every proxied exchange writes three files: a short measurement keeps the cassette to thousands, not millions.
    let mut group = c.benchmark_group("record");
    group
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    group.bench_function("TerminateInstances direct (TLS keep-alive)", |b| {
        b.iter(|| {
            runtime
                .block_on(direct.exchange(&direct_bytes))
                .expect("an answer")
        })
    });
    group.bench_function("TerminateInstances through the recording proxy", |b| {
        b.iter(|| {
            runtime
                .block_on(through.exchange(&proxied_bytes))
                .expect("an answer")
        })
    });
    group.finish();
    drop(recorder);
    let _ = std::fs::remove_dir_all(&out);
}

criterion_group!(benches, proxy);
criterion_main!(benches);
