//! `terminus record` end to end, in one process: a client signs with marked (canary) credentials and talks to the
//! recording proxy in both modes (plain HTTP upgraded, CONNECT with the generated CA); the proxy forwards to a
//! `terminus serve --tls` upstream that knows those credentials. Then: every stored request verifies with the
//! fixture key, no written byte holds a canary, `terminus replay` of the cassette reports no drift, and a changed
//! mock behaviour is reported as drift naming the exchange.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use terminus::harness::http1::Connection;
use terminus::message::Request;
use terminus::mock::MockServer;
use terminus::provider::is_provider_host;
use terminus::record::redact::FIXTURE_TENCENT;
use terminus::record::{Playback, Recorder, RecorderConfig, cassette, replay};
use terminus::signing::{self, Credentials, Policy, Scheme, SignOptions};
use terminus::tls::{Authority, Trust};
use terminus::world::WorldSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(30);
const CANARY_ID: &str = "AKIDcanaryCANARYcanaryCANARYcanary01";
const CANARY_KEY: &str = "canaryKEYcanaryKEYcanaryKEY00001";
const CANARY_TOKEN: &str = "canaryTOKENcanaryTOKEN0001";
const CANARY_TRACE: &str = "canary-trace-0c1d2e3f";
const CANARY_EXTRA: &str = "canary-project-name";

fn upstream_world() -> WorldSpec {
    WorldSpec::from_toml(
        &format!(
            r#"
region = "ap-guangzhou"
clock = {{ mode = "real" }}

[[accounts]]
secret-id = "{CANARY_ID}"
secret-key = "{CANARY_KEY}"
token = "{CANARY_TOKEN}"
owner = "100000000001"

[[instances]]
id = "ins-r8hr2upy"

[[instances]]
id = "ins-09dx96dg"
"#
        ),
        "the upstream world",
    )
    .unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A TC3 request as tencentcloud-sdk-python sends it, signed with the canary key.
fn tc3(action: &str, body: &str) -> Request {
    let text = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nX-TC-Action: {action}\r\nX-TC-Region: ap-guangzhou\r\n\
         X-TC-Timestamp: {}\r\nX-TC-Version: 2017-03-12\r\nX-TC-Token: {CANARY_TOKEN}\r\n\
         X-TC-TraceId: {CANARY_TRACE}\r\nX-TC-RequestClient: SDK_PYTHON_3.0.1300\r\n\
         Content-Type: application/json\r\nUser-Agent: canary-project-name/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        now(),
        body.len()
    );
    signed(&text, Scheme::Tc3)
}

/// A `Signature`-parameter (HmacSHA256) request, signed with the canary key, carrying the token as `Token`.
fn v1_terminate(instance: &str) -> Request {
    let body = format!(
        "Action=TerminateInstances&InstanceIds.0={instance}&Nonce=4242&Region=ap-guangzhou&SecretId={CANARY_ID}\
         &SignatureMethod=HmacSHA256&Timestamp={}&Token={CANARY_TOKEN}&Version=2017-03-12",
        now()
    );
    let text = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    signed(&text, Scheme::HmacSha256)
}

fn signed(text: &str, scheme: Scheme) -> Request {
    let request = Request::parse(text.as_bytes()).unwrap();
    signing::sign(
        &request,
        &Credentials::new(CANARY_ID, CANARY_KEY),
        scheme,
        &SignOptions::default(),
    )
    .unwrap()
    .request
}

/// The request in absolute form, as a client configured with an HTTP proxy sends it.
fn absolute(request: &Request) -> Vec<u8> {
    let mut request = request.clone();
    request.target = format!("http://cvm.tencentcloudapi.com{}", request.target);
    request.to_bytes()
}

/// CONNECT through the proxy, then TLS to `host` trusting `ca_pem`.
async fn connect_tunnel(
    proxy: std::net::SocketAddr,
    host: &str,
    ca_pem: &str,
) -> std::io::Result<Connection> {
    let mut stream = tokio::net::TcpStream::connect(proxy).await?;
    stream
        .write_all(format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 || head.len() > 4096 {
            return Err(std::io::Error::other(format!(
                "CONNECT answered {:?}",
                String::from_utf8_lossy(&head)
            )));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    let dir = scratch("ca");
    let path = dir.join("proxy-ca.pem");
    std::fs::write(&path, ca_pem)?;
    let config = Trust::from_ca_file(Some(&path))
        .unwrap()
        .client_config()
        .unwrap();
    std::fs::remove_dir_all(&dir)?;
    let name = rustls_name(host);
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await?;
    Ok(Connection::over(tls))
}

fn rustls_name(host: &str) -> tokio_rustls::rustls::pki_types::ServerName<'static> {
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap()
}

/// A directory of this test's own (no shared scratch files).
fn scratch(what: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "terminus-record-{what}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(every_file(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files
}

fn status_of(connection: &Connection) -> u16 {
    connection.response().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recorded_in_both_modes_leaves_a_verifiable_canary_free_cassette_that_replays_without_drift()
 {
    // The upstream: `terminus serve --tls`, knowing the canary credentials.
    let authority = Authority::generate().unwrap();
    let upstream = MockServer::builder()
        .world(upstream_world())
        .tls(authority.server_config(Arc::new(is_provider_host)))
        .start()
        .unwrap();
    let out = scratch("cassette").join("cassette");
    let recorder = Recorder::start(RecorderConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        out: out.clone(),
        upstream: Some(upstream.uri()),
        trust: Trust {
            public_roots: false,
            extra: vec![authority.certificate_der().clone()],
        },
        redact: vec![CANARY_EXTRA.to_owned()],
        secrets: vec![],
        log: None,
        request_deadline: terminus::record::proxy::REQUEST_DEADLINE,
    })
    .unwrap();
    let proxy = recorder.address();

    let mut sent_signatures = Vec::new();
    let run = async {
        // 1. Plain HTTP, absolute form, upgraded to HTTPS upstream.
        let terminate = tc3("TerminateInstances", r#"{"InstanceIds":["ins-r8hr2upy"]}"#);
        sent_signatures.push(terminate.header("authorization").unwrap().to_owned());
        let mut plain = Connection::open(proxy).await.unwrap();
        plain.exchange(&absolute(&terminate)).await.unwrap();
        assert_eq!(status_of(&plain), 200);
        assert!(
            !String::from_utf8_lossy(plain.body()).contains("\"Error\""),
            "{}",
            String::from_utf8_lossy(plain.body())
        );

        // A host outside the providers' domains is refused, not forwarded.
        let mut elsewhere = terminate.clone();
        elsewhere.target = "http://example.com/".into();
        let mut refused = Connection::open(proxy).await.unwrap();
        refused.exchange(&elsewhere.to_bytes()).await.unwrap();
        assert_eq!(status_of(&refused), 403);

        // 2. CONNECT with the generated CA: DescribeInstances, then a v1 TerminateInstances on the same tunnel.
        let mut tunnel = connect_tunnel(proxy, "cvm.tencentcloudapi.com", recorder.ca_pem())
            .await
            .unwrap();
        let describe = tc3("DescribeInstances", "{}");
        sent_signatures.push(describe.header("authorization").unwrap().to_owned());
        tunnel.exchange(&describe.to_bytes()).await.unwrap();
        assert_eq!(status_of(&tunnel), 200);
        let v1 = v1_terminate("ins-09dx96dg");
        let params = signing::hmac_param::Params::read(&v1).unwrap();
        sent_signatures.push(params.get("Signature").unwrap().to_owned());
        tunnel.exchange(&v1.to_bytes()).await.unwrap();
        assert_eq!(
            status_of(&tunnel),
            200,
            "{}",
            String::from_utf8_lossy(tunnel.body())
        );
    };
    tokio::time::timeout(DEADLINE, run).await.expect("deadline");
    assert_eq!(recorder.refused(), 0);
    assert_eq!(recorder.recorded(), 3);
    drop(recorder);

    // Every stored request verifies with the fixture key.
    let (_, recorded) = cassette::read(&out).unwrap();
    let names: Vec<_> = recorded.iter().map(|r| r.entry.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "0001-TerminateInstances",
            "0002-DescribeInstances",
            "0003-TerminateInstances"
        ]
    );
    let via: Vec<_> = recorded.iter().map(|r| r.entry.via.as_str()).collect();
    assert_eq!(via, ["http", "connect", "connect"]);
    for exchange in &recorded {
        let claim = signing::inspect(&exchange.request).unwrap();
        assert_eq!(claim.secret_id.as_deref(), Some(FIXTURE_TENCENT.0));
        claim
            .verify(
                &exchange.request,
                &terminus::signing::Secret::new(FIXTURE_TENCENT.1),
                None,
                &Policy::default(),
                None,
            )
            .unwrap_or_else(|error| panic!("{}: {error}", exchange.entry.name));
        assert_eq!(
            exchange.entry.request_client.is_some(),
            exchange.entry.name != "0003-TerminateInstances"
        );
    }

    // The canary: no written byte holds a marked secret, the client's signatures, or the extra string.
    let mut canaries = vec![
        CANARY_ID,
        CANARY_KEY,
        CANARY_TOKEN,
        CANARY_TRACE,
        CANARY_EXTRA,
    ];
    canaries.extend(sent_signatures.iter().map(String::as_str));
    let signature_hexes: Vec<String> = sent_signatures
        .iter()
        .filter_map(|value| {
            value
                .rsplit_once("Signature=")
                .map(|(_, hex)| hex.to_owned())
        })
        .collect();
    canaries.extend(signature_hexes.iter().map(String::as_str));
    let files = every_file(&out);
    assert!(files.len() >= 10, "{files:?}");
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for canary in &canaries {
            assert!(
                !text.contains(canary),
                "{} holds {canary:?}",
                path.display()
            );
        }
    }

    // A recorded exchange as a case skeleton that the case loader's model reads.
    let (skeleton, path) =
        terminus::record::to_case::skeleton(&out, "0001-TerminateInstances").unwrap();
    assert_eq!(path, "cases/tencent/terminate-instances/TODO-scenario.toml");
    let case: terminus::case::Case =
        toml::from_str(&skeleton).unwrap_or_else(|e| panic!("{e}\n{skeleton}"));
    assert_eq!(case.steps.len(), 1);
    assert_eq!(
        case.steps[0].params["InstanceIds"],
        serde_json::json!(["ins-r8hr2upy"])
    );
    assert!(case.steps[0].expect.error.is_none(), "{skeleton}");

    // Replay against the mock in the world derived from the recording: no drift.
    let world = replay::derive_world(&recorded).unwrap();
    let verdicts = tokio::time::timeout(DEADLINE, replay::replay_on_mock(&recorded, world.clone()))
        .await
        .expect("deadline")
        .unwrap();
    for verdict in &verdicts {
        assert!(verdict.same, "{verdict:?}");
    }

    // A changed behaviour (the first instance now protected) is drift, named by exchange.
    let mut changed = world;
    changed.instances.update_all(|instance| {
        if instance.id == "ins-r8hr2upy" {
            instance.protected = true;
        }
    });
    let verdicts = tokio::time::timeout(DEADLINE, replay::replay_on_mock(&recorded, changed))
        .await
        .expect("deadline")
        .unwrap();
    let drifted: Vec<_> = verdicts.iter().filter(|v| !v.same).collect();
    assert_eq!(drifted.len(), 1, "{verdicts:?}");
    assert_eq!(drifted[0].name, "0001-TerminateInstances");
    assert!(
        drifted[0]
            .differences
            .iter()
            .any(|d| d.starts_with("error code: recorded none (success), replay ")),
        "{:?}",
        drifted[0]
    );

    // The command line says the same: exit 0, then exit 1 naming the exchange (--format json).
    let binary = env!("CARGO_BIN_EXE_terminus");
    let same = std::process::Command::new(binary)
        .args(["replay", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let world_file = out.parent().unwrap().join("changed-world.toml");
    std::fs::write(
        &world_file,
        format!(
            "region = \"ap-guangzhou\"\n[[accounts]]\nsecret-id = \"{}\"\nsecret-key = \"{}\"\ntoken = \"[TOKEN]\"\nowner = \"100000000001\"\n\
             [[instances]]\nid = \"ins-r8hr2upy\"\nprotected = true\n[[instances]]\nid = \"ins-09dx96dg\"\n",
            FIXTURE_TENCENT.0, FIXTURE_TENCENT.1
        ),
    )
    .unwrap();
    let drift = std::process::Command::new(binary)
        .args([
            "replay",
            out.to_str().unwrap(),
            "--format",
            "json",
            "--world",
        ])
        .arg(&world_file)
        .output()
        .unwrap();
    assert_eq!(
        drift.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&drift.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&drift.stdout).unwrap();
    assert_eq!(report["drifted"], 1, "{report}");
    assert_eq!(report["exchanges"][0]["name"], "0001-TerminateInstances");
    assert_eq!(report["exchanges"][0]["same"], false);

    // `serve --cassette`: the client's run again (new timestamps and signatures) is answered as recorded.
    let playback = Playback::start(
        &out,
        "127.0.0.1:0".parse().unwrap(),
        terminus::record::playback::Mode::Once,
        None,
    )
    .unwrap();
    let rerun = async {
        let again = [
            tc3("TerminateInstances", r#"{"InstanceIds":["ins-r8hr2upy"]}"#),
            tc3("DescribeInstances", "{}"),
            v1_terminate("ins-09dx96dg"),
        ];
        let mut connection = Connection::open(playback.address()).await.unwrap();
        for (request, recorded) in again.iter().zip(&recorded) {
            connection.exchange(&request.to_bytes()).await.unwrap();
            let answer = connection.response();
            let stored = recorded.response.as_ref().unwrap();
            assert_eq!(answer.status, stored.status, "{}", recorded.entry.name);
            assert_eq!(answer.body, stored.body, "{}", recorded.entry.name);
        }
        // Played once each: a fourth identical request has no answer left.
        let mut fourth = Connection::open(playback.address()).await.unwrap();
        fourth.exchange(&again[0].to_bytes()).await.unwrap();
        assert_eq!(fourth.response().status, 501);
        assert!(String::from_utf8_lossy(fourth.body()).contains("all 1 recorded answers"));
        // An unmatched request names the nearest recorded one and what differs.
        let other = tc3("TerminateInstances", r#"{"InstanceIds":["ins-3jaw1j8m"]}"#);
        let mut unmatched = Connection::open(playback.address()).await.unwrap();
        unmatched.exchange(&other.to_bytes()).await.unwrap();
        let body = String::from_utf8_lossy(unmatched.body()).into_owned();
        assert_eq!(unmatched.response().status, 501, "{body}");
        assert!(
            body.contains("nearest: 0001-TerminateInstances")
                && body.contains("differs in parameters"),
            "{body}"
        );
    };
    tokio::time::timeout(DEADLINE, rerun)
        .await
        .expect("deadline");
    drop(playback);
    std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
}

fn recorded(action: &str, request: &[u8], answer: &str) -> cassette::Recorded {
    cassette::Recorded {
        entry: cassette::Entry {
            name: format!("0001-{action}"),
            provider: "tencent".to_owned(),
            host: "cvm.api.qcloud.com".to_owned(),
            via: "connect".to_owned(),
            action: Some(action.to_owned()),
            user_agent: None,
            request_client: None,
            sent_at: "2026-11-27T11:00:00Z".to_owned(),
            elapsed_ms: 1,
            status: Some(200),
            no_answer: None,
        },
        request: Arc::new(Request::parse(request).unwrap()),
        response: Some(Arc::new(terminus::exchange::Response {
            status: 200,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: answer.as_bytes().to_vec(),
        })),
    }
}

#[test]
fn record_derived_world_takes_a_bare_v1_token_and_zenlayer_instances() {
    // QcloudApi sends a token of unreserved characters unencoded, so the redactor's placeholder stands bare.
    let legacy = recorded(
        "TerminateInstances",
        b"POST /v2/index.php HTTP/1.1\r\nHost: cvm.api.qcloud.com\r\nContent-Length: 56\r\n\r\nInstanceIds.0=ins-tempkey1&Token=[TOKEN]&Region=ap-x1234",
        r#"{"Response":{"RequestId":"r"}}"#,
    );
    let world = replay::derive_world(&[legacy]).unwrap();
    assert_eq!(
        world.accounts[0].token.as_ref().map(|t| t.expose()),
        Some("[TOKEN]")
    );
    assert_eq!(world.instances[0].id, "ins-tempkey1");

    // A Zenlayer DescribeInstances answer: its instances belong to the Zenlayer fixture account.
    let zenlayer = recorded(
        "DescribeInstances",
        b"POST /api/v2/bmc HTTP/1.1\r\nHost: console.zenlayer.com\r\nContent-Length: 2\r\n\r\n{}",
        r#"{"requestId":"r","response":{"dataSet":[{"instanceId":"5642","instanceStatus":"STOPPED","zoneId":"SEL-A","instanceChargeType":"PREPAID"}]}}"#,
    );
    let world = replay::derive_world(&[zenlayer]).unwrap();
    assert_eq!(world.bmc_instances.len(), 1);
    let bmc = &world.bmc_instances[0];
    assert_eq!(bmc.id, "5642");
    assert_eq!(bmc.zone, "SEL-A");
    assert_eq!(bmc.owner.as_deref(), Some("200000000001"));
    assert_eq!(
        serde_json::to_value(bmc.status).unwrap(),
        serde_json::json!("STOPPED")
    );
}
