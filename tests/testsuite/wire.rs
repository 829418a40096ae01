//! The wire as the clients see it: a case sends the same bytes, and renders the same exchange, whether it runs on
//! the embedded mock or against a server reached as `--target`.

use std::path::Path;
use std::time::Duration;

use terminus::case;
use terminus::harness::http1::Connection;
use terminus::harness::{self, Outcome, Target, snapshot};
use terminus::mock::MockServer;
use terminus::world::WorldSpec;

/// Cases whose answers carry each of the facts the two paths could render differently: a success, a zh-CN error,
/// an echoed trace id, a GET, a form body, the legacy gateway, Zenlayer, STS and a dropped connection.
const CASES: [&str; 9] = [
    "tencent/terminate-instances/running-instance-is-destroyed",
    "tencent/terminate-instances/unknown-instance-in-zh-cn-is-quoted-as-a-python-list",
    "tencent/terminate-instances/trace-id-is-echoed",
    "tencent/terminate-instances/tc3-get-is-signed-as-the-python-sdk-signs-it",
    "tencent/terminate-instances/signature-form-labelled-json-is-read-as-a-form",
    "tencent-legacy/terminate-instances/qcloudcli-request-source-is-a-common-parameter",
    "zenlayer-bmc/terminate-instance/running-instance-goes-to-the-recycle-bin",
    "tencent/get-caller-identity/signing-account-is-the-caller",
    "tencent/terminate-instances/injected-dropped-connection-gets-no-answer",
];

#[test]
fn the_embedded_mock_and_a_target_render_the_same_exchanges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let server = MockServer::builder()
        .world(WorldSpec::default())
        .workers(1)
        .start()
        .expect("a mock server");
    let target = Target::Url(server.uri());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for id in CASES {
        let loaded = case::load(&root, &root.join(format!("{id}.toml"))).expect("the case loads");
        let (embedded, remote) = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), async {
                (
                    harness::run_case(&loaded, &Target::Mock).await,
                    harness::run_case(&loaded, &target).await,
                )
            })
            .await
            .expect("both runs finish within a minute")
        });
        assert_eq!(
            embedded.outcome,
            Outcome::Passed,
            "{id} on the embedded mock"
        );
        assert_eq!(remote.outcome, Outcome::Passed, "{id} against the target");
        assert_eq!(
            snapshot::render(&embedded.exchanges),
            snapshot::render(&remote.exchanges),
            "{id}"
        );
    }
}

/// Sends `request` on a connection of its own and reads until the server closes it (or 10 s pass).
fn exchange_until_close(address: std::net::SocketAddr, request: &[u8]) -> (String, bool) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    stream.write_all(request).expect("writes");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

/// The head of an answer: its lines up to the blank one, `Date` and `Content-Length` values left out.
fn head_of(answer: &str) -> Vec<String> {
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| match line.split_once(": ") {
            Some((name @ ("Date" | "Content-Length"), _)) => format!("{name}: …"),
            _ => line.to_owned(),
        })
        .collect()
}

#[test]
fn the_api_3_head_is_the_gateways_and_says_when_the_connection_closes() {
    let server = MockServer::builder()
        .world(WorldSpec::default())
        .workers(1)
        .start()
        .expect("a mock server");
    let request = |version: &str, connection: &str| {
        format!(
            "POST / {version}\r\nHost: cvm.tencentcloudapi.com\r\n{connection}Content-Type: application/json\r\n\
             Content-Length: 2\r\n\r\n{{}}"
        )
    };
    let head = |status: &str, connection: &str| {
        vec![
            status.to_owned(),
            "Server: nginx".to_owned(),
            "Date: …".to_owned(),
            "Content-Type: application/json".to_owned(),
            "Content-Length: …".to_owned(),
            format!("Connection: {connection}"),
        ]
    };
    // Recorded CVM answers (real-wire.md §6.3): these five headers, in this order.
    let (answer, _) = exchange_until_close(
        server.address(),
        request("HTTP/1.1", "Connection: close\r\n").as_bytes(),
    );
    assert_eq!(head_of(&answer), head("HTTP/1.1 200 OK", "close"));
    let (answer, closed) =
        exchange_until_close(server.address(), request("HTTP/1.0", "").as_bytes());
    assert_eq!(head_of(&answer), head("HTTP/1.0 200 OK", "close"));
    assert!(
        closed,
        "an HTTP/1.0 connection without keep-alive is closed"
    );
    // Kept open: a second request on the same connection is answered too.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let heads = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), async {
            let mut connection = Connection::open(server.address()).await.expect("connects");
            let mut heads = Vec::new();
            for _ in 0..2 {
                connection
                    .exchange(request("HTTP/1.1", "").as_bytes())
                    .await
                    .expect("an answer on the kept connection");
                let response = connection.response();
                heads.push(
                    response
                        .headers
                        .iter()
                        .map(|(name, value)| match name.as_str() {
                            "Date" | "Content-Length" => format!("{name}: …"),
                            _ => format!("{name}: {value}"),
                        })
                        .collect::<Vec<_>>(),
                );
            }
            heads
        })
        .await
        .expect("both answers within 20 s")
    });
    for head_lines in heads {
        assert_eq!(head_lines, head("HTTP/1.1 200 OK", "keep-alive")[1..]);
    }
}
