//! Issue 9's server side, over loopback HTTP against a real [`MockServer`]: what any client can send must not crash,
//! wipe or starve it. One level of `CONNECT` (point 1), the connection and body-bytes caps (point 3), unreadable
//! control bodies (point 5), one world per request while the world is replaced (point 6), and who may call the
//! control API (point 9). Flattened names (point 2) are in `tests/malformed/corpus.toml` and `legacy.rs`; the
//! bounded hostile-load test against `terminus serve` is in `hostile.rs`.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use terminus::mock::{ControlToken, Limits, MockServer};
use terminus::world::WorldSpec;

use crate::common::raw::{Answer, Response, read_answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, signed_terminate};

/// How long any one answer may take.
const ANSWER: Duration = Duration::from_secs(15);

fn world(instances: usize) -> WorldSpec {
    let mut text = format!(
        "clock = {{ mode = \"fixed\", at = {SIGNED_AT} }}\nrate-limit = {{ terminate-per-second = 0 }}\n\
         [[accounts]]\nsecret-id = \"{TENCENT_ID}\"\nsecret-key = \"{TENCENT_KEY}\"\n"
    );
    for i in 0..instances {
        text.push_str(&format!("[[instances]]\nid = \"ins-{i:08}\"\n"));
    }
    WorldSpec::from_toml(&text, "test").expect("the test world is valid")
}

fn server(limits: Limits) -> MockServer {
    MockServer::builder()
        .world(world(4))
        .limits(limits)
        .start()
        .expect("the mock starts")
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("the mock accepts connections");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Sends `bytes` on `stream` and reads one answer.
fn exchange(stream: &mut TcpStream, buffer: &mut Vec<u8>, bytes: &[u8], no_body: bool) -> Answer {
    stream.write_all(bytes).expect("the request is sent");
    read_answer(stream, buffer, Instant::now() + ANSWER, no_body)
}

/// One request on a new connection.
fn once(address: SocketAddr, bytes: &[u8]) -> Response {
    let mut stream = connect(address);
    match exchange(&mut stream, &mut Vec::new(), bytes, false) {
        Answer::Response(response) => response,
        other => panic!("no answer: {other:?}"),
    }
}

fn control(method: &str, path: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn json(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

fn clock_now(address: SocketAddr) -> i64 {
    let response = once(address, &control("GET", "/__terminus/clock", "", ""));
    json(&response)["now"].as_i64().expect("the clock answers")
}

#[test]
fn a_connect_inside_a_tunnel_is_answered_400_and_the_tunnel_keeps_serving() {
    let mock = server(Limits::default());
    let mut stream = connect(mock.address());
    let mut buffer = Vec::new();
    let connect = b"CONNECT cvm.tencentcloudapi.com:443 HTTP/1.1\r\nHost: cvm.tencentcloudapi.com:443\r\n\r\n";
    match exchange(&mut stream, &mut buffer, connect, true) {
        Answer::Response(response) => assert_eq!(response.status, 200),
        other => panic!("no answer to the first CONNECT: {other:?}"),
    }
    // 2,000 nested CONNECTs in one write (the issue: 30,000 overflowed the stack): each one is refused, in order.
    let nested = connect.repeat(2_000);
    stream.write_all(&nested).expect("sent");
    for n in 0..2_000 {
        match read_answer(&mut stream, &mut buffer, Instant::now() + ANSWER, false) {
            Answer::Response(response) => {
                assert_eq!(response.status, 400, "nested CONNECT {n}");
                assert!(
                    json(&response)["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("one level of tunnel")),
                    "{:?}",
                    String::from_utf8_lossy(&response.body)
                );
            }
            other => panic!("nested CONNECT {n}: {other:?}"),
        }
    }
    // The tunnel still serves the providers, but not the control API.
    match exchange(
        &mut stream,
        &mut buffer,
        &signed_terminate(&["ins-00000000"], false, false, SIGNED_AT),
        false,
    ) {
        Answer::Response(response) => assert_eq!(json(&response)["Response"]["Error"], Value::Null),
        other => panic!("no answer in the tunnel: {other:?}"),
    }
    match exchange(
        &mut stream,
        &mut buffer,
        &control("GET", "/__terminus/world", "", ""),
        false,
    ) {
        Answer::Response(response) => assert_eq!(response.status, 403),
        other => panic!("no answer in the tunnel: {other:?}"),
    }
}

#[test]
fn a_connection_over_the_cap_is_answered_503_and_a_freed_place_serves_again() {
    let mock = server(Limits {
        connections: 2,
        ..Limits::default()
    });
    let clock = control("GET", "/__terminus/clock", "", "");
    // Two connections, each proved served (so held) by one answer.
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = connect(mock.address());
            let answer = exchange(&mut stream, &mut Vec::new(), &clock, false);
            assert!(
                matches!(answer, Answer::Response(ref r) if r.status == 200),
                "{answer:?}"
            );
            stream
        })
        .collect();
    let mut third = connect(mock.address());
    match read_answer(&mut third, &mut Vec::new(), Instant::now() + ANSWER, false) {
        Answer::Response(response) => {
            assert_eq!(response.status, 503);
            assert_eq!(response.header_values("retry-after"), ["1"]);
            let body: Value = serde_json::from_slice(&response.body).expect("a whole JSON body");
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("--max-connections"))
            );
        }
        other => panic!("no answer over the cap: {other:?}"),
    }
    drop(held.pop());
    // The server notices the close when it reads: retry until the place is free (bounded).
    let deadline = Instant::now() + ANSWER;
    loop {
        let mut stream = connect(mock.address());
        match exchange(&mut stream, &mut Vec::new(), &clock, false) {
            Answer::Response(response) if response.status == 200 => break,
            Answer::Response(response) if response.status == 503 && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("a freed place does not serve: {other:?}"),
        }
    }
}

#[test]
fn bodies_over_the_bytes_in_flight_cap_are_answered_503_until_room_is_freed() {
    let mock = server(Limits {
        body_bytes_in_flight: Limits::LARGEST_BODY,
        ..Limits::default()
    });
    // A 10 MB TC3 body, declared and only begun: 10 MB of the 16 MiB are reserved while it is read.
    let head = |length: usize| {
        format!(
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\n\r\n"
        )
    };
    let mut slow = connect(mock.address());
    slow.write_all(head(10_000_000).as_bytes()).expect("sent");
    slow.write_all(b"{\"InstanceIds\":[").expect("sent");
    // The reservation is taken when the server reads the head: poll (bounded) until a second one is refused.
    let deadline = Instant::now() + ANSWER;
    let refused = loop {
        let mut second = connect(mock.address());
        second.write_all(head(10_000_000).as_bytes()).expect("sent");
        match read_answer(
            &mut second,
            &mut Vec::new(),
            Instant::now() + Duration::from_millis(500),
            false,
        ) {
            Answer::Response(response) if response.status == 503 => break response,
            _ if Instant::now() < deadline => continue,
            other => panic!("the second body was not refused: {other:?}"),
        }
    };
    assert_eq!(refused.header_values("retry-after"), ["1"]);
    assert!(String::from_utf8_lossy(&refused.body).contains("--max-body-bytes-in-flight"));
    // A small body still fits.
    let small = once(
        mock.address(),
        &signed_terminate(&["ins-00000001"], false, false, SIGNED_AT),
    );
    assert_eq!(json(&small)["Response"]["Error"], Value::Null, "{small:?}");
    // The slow body ends (cut short): its room is given back and a large body is read again.
    slow.shutdown(Shutdown::Both).expect("closed");
    drop(slow);
    let deadline = Instant::now() + ANSWER;
    loop {
        let mut third = connect(mock.address());
        third.write_all(head(10_000_000).as_bytes()).expect("sent");
        match read_answer(
            &mut third,
            &mut Vec::new(),
            Instant::now() + Duration::from_millis(500),
            false,
        ) {
            // Not refused at once: it waits for its body, as a reserved one does.
            Answer::Silent(_) => break,
            Answer::Response(response) if response.status == 503 && Instant::now() < deadline => {}
            other => panic!("room was not given back: {other:?}"),
        }
    }
}

#[test]
fn a_control_body_that_cannot_be_read_changes_nothing() {
    let mock = server(Limits::default());
    let instances = mock.snapshot().instances.len();
    let toml = "Content-Type: application/toml\r\n";
    // Declared over 16 MiB: refused before reading.
    let response = once(
        mock.address(),
        format!(
            "PUT /__terminus/world HTTP/1.1\r\nHost: 127.0.0.1\r\n{toml}Content-Length: {}\r\n\r\n",
            16 * 1024 * 1024 + 1
        )
        .as_bytes(),
    );
    assert_eq!(response.status, 413, "{response:?}");
    // Chunked, over 16 MiB: refused when the limit is passed.
    let mut stream = connect(mock.address());
    stream
        .write_all(
            format!("PUT /__terminus/world HTTP/1.1\r\nHost: 127.0.0.1\r\n{toml}Transfer-Encoding: chunked\r\n\r\n")
                .as_bytes(),
        )
        .expect("sent");
    let chunk = format!("{:x}\r\n{}\r\n", 1024 * 1024, "#".repeat(1024 * 1024));
    for _ in 0..17 {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break; // the server answered and closed
        }
    }
    match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
        Answer::Response(response) => assert_eq!(response.status, 413, "{response:?}"),
        other => panic!("no answer to an oversized chunked body: {other:?}"),
    }
    // Cut short: 10 bytes of a declared 100, then the client closes its side.
    let mut stream = connect(mock.address());
    stream
        .write_all(format!("PUT /__terminus/world HTTP/1.1\r\nHost: 127.0.0.1\r\n{toml}Content-Length: 100\r\n\r\nseed = 1\r\n").as_bytes())
        .expect("sent");
    stream.shutdown(Shutdown::Write).expect("half-closed");
    match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
        Answer::Response(response) => assert_eq!(response.status, 400, "{response:?}"),
        other => panic!("no answer to a cut body: {other:?}"),
    }
    // A clock change cut short: no change, not a 200 no-op.
    let before = clock_now(mock.address());
    let mut stream = connect(mock.address());
    stream
        .write_all(b"POST /__terminus/clock HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"advance\": 1")
        .expect("sent");
    stream.shutdown(Shutdown::Write).expect("half-closed");
    match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
        Answer::Response(response) => assert_eq!(response.status, 400, "{response:?}"),
        other => panic!("no answer to a cut clock body: {other:?}"),
    }
    assert_eq!(clock_now(mock.address()), before);
    assert_eq!(mock.snapshot().instances.len(), instances);
}

#[test]
fn a_control_body_stalled_past_the_body_timeout_changes_nothing() {
    // A short body timeout, so that the test need not wait out the default 10 s.
    let timeout = Duration::from_millis(500);
    let mock = server(Limits {
        body_timeout: timeout,
        ..Limits::default()
    });
    let instances = mock.snapshot().instances.len();
    let mut stream = connect(mock.address());
    let sent = Instant::now();
    stream
        .write_all(b"PUT /__terminus/world HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/toml\r\nContent-Length: 100\r\n\r\nseed = 1\r\n")
        .expect("sent");
    // The answer must come after the body timeout, within it plus a margin, with the connection still open.
    match read_answer(&mut stream, &mut Vec::new(), sent + ANSWER, false) {
        Answer::Response(response) => {
            assert!(
                sent.elapsed() >= timeout,
                "answered before the body timeout"
            );
            assert_eq!(response.status, 400, "{response:?}");
            assert!(
                String::from_utf8_lossy(&response.body).contains("did not arrive within 0.5 s"),
                "{response:?}"
            );
        }
        other => panic!("no answer to a stalled body: {other:?}"),
    }
    assert_eq!(mock.snapshot().instances.len(), instances);
}

#[test]
fn the_control_api_refuses_what_a_browser_or_another_host_can_send() {
    let mock = server(Limits::default());
    let advance = r#"{"advance": 60}"#;
    let before = clock_now(mock.address());
    for (headers, why) in [
        (
            "Content-Type: text/plain\r\n",
            "text/plain, sent cross-origin without asking",
        ),
        (
            "Content-Type: application/x-www-form-urlencoded\r\n",
            "a form",
        ),
        (
            "Content-Type: Multipart/Form-Data; boundary=x\r\n",
            "multipart",
        ),
        ("", "no Content-Type"),
    ] {
        let response = once(
            mock.address(),
            &control("POST", "/__terminus/clock", headers, advance),
        );
        assert_eq!(response.status, 415, "{why}: {response:?}");
    }
    // Another Host (a page whose name was rebound to 127.0.0.1).
    let rebound = format!(
        "POST /__terminus/clock HTTP/1.1\r\nHost: evil.example:18080\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{advance}",
        advance.len()
    );
    assert_eq!(once(mock.address(), rebound.as_bytes()).status, 403);
    // Proxy form, for any host.
    let proxied = format!(
        "POST http://cvm.tencentcloudapi.com/__terminus/clock HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{advance}",
        advance.len()
    );
    assert_eq!(once(mock.address(), proxied.as_bytes()).status, 403);
    assert_eq!(clock_now(mock.address()), before);
    // What a program sends: JSON, or any body with the custom header.
    let json_type = "Content-Type: application/json\r\n";
    let response = once(
        mock.address(),
        &control("POST", "/__terminus/clock", json_type, advance),
    );
    assert_eq!(response.status, 200, "{response:?}");
    let header = "X-Terminus-Token: anything\r\n";
    let response = once(
        mock.address(),
        &control("POST", "/__terminus/clock", header, advance),
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(clock_now(mock.address()), before + 120);
}

#[test]
fn a_control_token_is_required_when_given_and_generated_off_loopback() {
    let token = ControlToken::new("s3cret-token-for-tests").expect("a token");
    let mock = MockServer::builder()
        .world(world(1))
        .control_token(Some(token))
        .start()
        .expect("the mock starts");
    let get = |headers: &str| {
        once(
            mock.address(),
            &control("GET", "/__terminus/clock", headers, ""),
        )
        .status
    };
    assert_eq!(get(""), 401);
    assert_eq!(get("X-Terminus-Token: s3cret-token-for-test\r\n"), 401);
    assert_eq!(get("X-Terminus-Token: s3cret-token-for-tests\r\n"), 200);
    // With the token, any Host (the address it listens on).
    let other_host = b"GET /__terminus/clock HTTP/1.1\r\nHost: ci-runner-7:18080\r\nX-Terminus-Token: s3cret-token-for-tests\r\n\r\n";
    assert_eq!(once(mock.address(), other_host).status, 200);
    assert!(
        !format!("{mock:?}").contains("s3cret"),
        "the token is not in Debug output"
    );

    // Off loopback without a token given: one is generated, and required.
    let open = MockServer::builder()
        .listen(SocketAddr::from(([0, 0, 0, 0], 0)))
        .world(world(1))
        .start()
        .expect("the mock starts");
    let generated = open
        .control_token()
        .expect("a token is generated")
        .reveal()
        .to_owned();
    assert_eq!(generated.len(), 32);
    let local = SocketAddr::from(([127, 0, 0, 1], open.address().port()));
    assert_eq!(
        once(local, &control("GET", "/__terminus/world", "", "")).status,
        401
    );
    let with = format!("X-Terminus-Token: {generated}\r\n");
    assert_eq!(
        once(local, &control("GET", "/__terminus/world", &with, "")).status,
        200
    );
}

#[test]
fn replacing_the_world_during_a_flood_of_terminates_answers_every_request() {
    // Two worlds that differ in the caller's key: a request verified against one and judged on the other used to
    // panic at `expect("the caller is authenticated")` and lose its connection.
    let with_key = world(400);
    let without_key = {
        let mut spec = world(400);
        let mut first = true;
        spec.accounts.update_all(|account| {
            if std::mem::take(&mut first) {
                account.secret_id = "AKIDanotheraccountEXAMPLE".into();
            }
        });
        spec
    };
    let body = |spec: &WorldSpec| {
        let mut value = serde_json::to_value(spec).expect("a world serialises");
        value["accounts"][0]["secret-key"] = Value::from(TENCENT_KEY);
        serde_json::to_string(&value).expect("JSON")
    };
    let (with_key_body, without_key_body) = (body(&with_key), body(&without_key));
    let mock = MockServer::builder()
        .world(with_key)
        .workers(2)
        .start()
        .expect("the mock starts");
    let address = mock.address();
    let flooding = AtomicBool::new(true);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let replacer = scope.spawn(|| {
            let mut stream = connect(address);
            let mut buffer = Vec::new();
            let json_type = "Content-Type: application/json\r\n";
            let mut replaced = 0;
            while flooding.load(Ordering::Relaxed) && replaced < 5_000 {
                let body = if replaced % 2 == 0 {
                    &without_key_body
                } else {
                    &with_key_body
                };
                match exchange(
                    &mut stream,
                    &mut buffer,
                    &control("PUT", "/__terminus/world", json_type, body),
                    false,
                ) {
                    Answer::Response(response) => assert_eq!(response.status, 200, "{response:?}"),
                    other => panic!("a world replacement was not answered: {other:?}"),
                }
                replaced += 1;
            }
            replaced
        });
        let clients: Vec<_> = (0..4)
            .map(|client| {
                scope.spawn(move || {
                    let mut stream = connect(address);
                    let mut buffer = Vec::new();
                    let mut codes = std::collections::BTreeMap::<String, usize>::new();
                    for n in 0..300 {
                        let id = format!("ins-{:08}", (client * 100 + n) % 400);
                        let request = signed_terminate(&[&id], false, false, SIGNED_AT);
                        match exchange(&mut stream, &mut buffer, &request, false) {
                            Answer::Response(response) => {
                                assert_eq!(response.status, 200, "{response:?}");
                                let code = json(&response)["Response"]["Error"]["Code"]
                                    .as_str()
                                    .unwrap_or("success")
                                    .to_owned();
                                *codes.entry(code).or_default() += 1;
                            }
                            other => panic!("client {client}, request {n}: no answer: {other:?}"),
                        }
                    }
                    codes
                })
            })
            .collect();
        let mut codes = std::collections::BTreeMap::<String, usize>::new();
        for client in clients {
            for (code, count) in client.join().expect("a client finishes") {
                *codes.entry(code).or_default() += count;
            }
        }
        flooding.store(false, Ordering::Relaxed);
        let replaced = replacer.join().expect("the replacer finishes");
        assert!(
            replaced >= 2,
            "the world was replaced during the flood ({replaced} times)"
        );
        // Every answer is one of what either world gives a terminate: done, destroyed (still listed as terminating,
        // or no longer), or the key unknown.
        for code in codes.keys() {
            assert!(
                [
                    "success",
                    "AuthFailure.SecretIdNotFound",
                    "UnsupportedOperation.InstanceStateTerminating",
                    "UnsupportedOperation.InstanceStateTerminated"
                ]
                .contains(&code.as_str()),
                "unexpected answer {code}: {codes:?}"
            );
        }
    });
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// Issue 21, point 8: an HTTP/1.0 control call without `Host` is refused (the loopback check had nothing to look
/// at), and an empty or blank `PUT /__terminus/world` is a mistake, not an empty world; an empty world is a
/// document that says so.
#[test]
fn a_control_call_without_host_or_an_empty_world_body_changes_nothing() {
    let mock = server(Limits::default());
    let before = clock_now(mock.address());
    let advance = r#"{"advance": 60}"#;
    let hostless = format!(
        "POST /__terminus/clock HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{advance}",
        advance.len()
    );
    let response = once(mock.address(), hostless.as_bytes());
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        String::from_utf8_lossy(&response.body).contains("Host"),
        "{response:?}"
    );
    assert_eq!(clock_now(mock.address()), before);

    let instances = |mock: &MockServer| {
        let response = once(mock.address(), &control("GET", "/__terminus/world", "", ""));
        json(&response)["instances"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(instances(&mock), 4);
    for (body, media_type) in [
        ("", "application/toml"),
        (" \r\n\t\n", "application/toml"),
        ("", "application/json"),
        ("\n", "application/json"),
    ] {
        let response = once(
            mock.address(),
            &control(
                "PUT",
                "/__terminus/world",
                &format!("Content-Type: {media_type}\r\n"),
                body,
            ),
        );
        assert_eq!(response.status, 400, "{body:?} {media_type}: {response:?}");
        assert!(
            String::from_utf8_lossy(&response.body).contains("empty"),
            "{response:?}"
        );
        assert_eq!(
            instances(&mock),
            4,
            "{body:?} {media_type} replaced the world"
        );
    }
    // Said explicitly, an empty world is served.
    let response = once(
        mock.address(),
        &control(
            "PUT",
            "/__terminus/world",
            "Content-Type: application/toml\r\n",
            "accounts = []\ninstances = []\n",
        ),
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(instances(&mock), 0);
}

/// A `Signature`-form request of `action` signed at `timestamp` with the example key.
fn signature_form_at(action: &str, params: Value, timestamp: i64) -> Vec<u8> {
    use terminus::provider::{Call, ProviderId, SignForm};
    let params: serde_json::Map<String, Value> = serde_json::from_value(params).expect("an object");
    let credentials = terminus::signing::Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action,
        params: &params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp,
        nonce: {
            static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(11);
            NONCE.fetch_add(1, Ordering::Relaxed)
        },
        sign: SignForm::HmacSha256,
        method: "POST",
        headers: &[],
    };
    let (request, _) = ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    request.to_bytes()
}

/// Issue 21, point 11: at the end of the clock's range a reboot's end is past `i64::MAX`. It panicked in a debug
/// build ("attempt to add with overflow") and ended at once in release (`RUNNING`); it never comes.
#[test]
fn a_reboot_at_the_end_of_time_stays_rebooting_and_nothing_overflows() {
    let world = format!(
        "clock = {{ mode = \"fixed\", at = {} }}\n[[accounts]]\nsecret-id = \"{TENCENT_ID}\"\n\
         secret-key = \"{TENCENT_KEY}\"\n[[instances]]\nid = \"ins-end00001\"\n",
        i64::MAX
    );
    let mock = MockServer::builder()
        .world(WorldSpec::from_toml(&world, "test").unwrap())
        .start()
        .expect("the mock starts");
    let response = once(
        mock.address(),
        &signature_form_at(
            "RebootInstances",
            serde_json::json!({ "InstanceIds": ["ins-end00001"] }),
            i64::MAX,
        ),
    );
    assert_eq!(
        json(&response).pointer("/Response/Error"),
        None,
        "{response:?}"
    );
    assert_eq!(crate::common::state_of(&mock, "ins-end00001"), "REBOOTING");
}

/// Issue 21, point 11: near the end of the clock's range `now + 300` wrapped, so an `ActionTime` in the world's
/// past was accepted (and fired at once). It is refused with the documented parameter error.
#[test]
fn an_action_timer_not_in_the_future_is_refused_near_the_end_of_time() {
    let now = i64::MAX - 100;
    let world = format!(
        "clock = {{ mode = \"fixed\", at = {now} }}\n[[accounts]]\nsecret-id = \"{TENCENT_ID}\"\n\
         secret-key = \"{TENCENT_KEY}\"\n"
    );
    let mock = MockServer::builder()
        .world(WorldSpec::from_toml(&world, "test").unwrap())
        .start()
        .expect("the mock starts");
    let response = once(
        mock.address(),
        &signature_form_at(
            "RunInstances",
            serde_json::json!({
                "Placement": { "Zone": "ap-guangzhou-3" },
                "ImageId": "img-eb30mz89",
                "ActionTimer": { "TimerAction": "TerminateInstances", "ActionTime": "2023-11-14T23:00:00Z" },
            }),
            now,
        ),
    );
    assert_eq!(
        json(&response).pointer("/Response/Error/Code"),
        Some(&Value::from("InvalidParameterValue")),
        "{response:?}"
    );
}

/// Issue 21, point 5: with the request log on, the instances a request names were found by scanning every
/// instance for every request under the world's lock: one 10 MB request against 5,000 instances stalled every
/// other client for seconds. Now its words are looked up in the id index a batch at a time: no other client
/// waits more than 50 ms.
#[test]
fn a_large_request_with_the_request_log_on_stalls_no_other_client() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockServer::builder()
        .world(world(5_000))
        .workers(2)
        .log(Some(dir.path().join("requests.jsonl")))
        .start()
        .expect("the mock starts");
    // Unauthenticated (no Authorization), 10 MB of words that are all existing ids.
    let mut body = Vec::with_capacity(10_000_000);
    while body.len() + 13 <= 10_000_000 {
        body.extend_from_slice(b"ins-00000001,");
    }
    let head = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: DescribeInstances\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // Connected first: the workers take connections in turn, so the small requests are served by the other one.
    let mut large = connect(mock.address());
    let mut small = connect(mock.address());
    // A request decided through the index, under the world's lock: its own work is small whatever the world.
    let small_request = signature_form_at(
        "TerminateInstances",
        serde_json::json!({ "InstanceIds": ["ins-notthere"] }),
        SIGNED_AT,
    );
    let mut buffer = Vec::new();
    assert!(matches!(
        exchange(&mut small, &mut buffer, &small_request, false),
        Answer::Response(_)
    ));
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || {
            large.write_all(head.as_bytes()).unwrap();
            large.write_all(&body).unwrap();
            let answer = read_answer(
                &mut large,
                &mut Vec::new(),
                Instant::now() + Duration::from_secs(120),
                false,
            );
            done.store(true, Ordering::SeqCst);
            answer
        })
    };
    let mut longest = Duration::ZERO;
    let mut served = 0;
    let mut waits = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let started = Instant::now();
        let answer = exchange(&mut small, &mut buffer, &small_request, false);
        longest = longest.max(started.elapsed());
        waits.push(started.elapsed().as_millis());
        assert!(matches!(answer, Answer::Response(_)), "{answer:?}");
        served += 1;
    }
    let answer = sender.join().unwrap();
    assert!(
        matches!(&answer, Answer::Response(response) if response.status == 200),
        "{answer:?}"
    );
    assert!(served > 1, "the small requests ran beside the large one");
    // This machine's scheduler (a debug build, other builds sharing two cores) adds its own outliers: 99 in 100
    // waits are within the bound, and none is more than four times it. Before, every wait was the whole scan.
    waits.sort_unstable();
    let p99 = waits[waits.len() * 99 / 100];
    assert!(
        p99 <= 50 && longest <= Duration::from_millis(200),
        "another client waited {longest:?}, 99th percentile {p99} ms ({served} requests served meanwhile)"
    );
    let log = std::fs::read_to_string(dir.path().join("requests.jsonl")).unwrap();
    assert!(
        log.contains(r#""names-existing":["ins-00000001"]"#),
        "{log}"
    );
}

/// Issue 21, point 9: on a TLS port a connection over the cap was answered `503` in plaintext, which a TLS client
/// reads as a broken record (`WRONG_VERSION_NUMBER`). It is closed at once instead, with nothing written.
#[test]
fn a_tls_connection_over_the_cap_is_closed_at_once_without_plaintext() {
    use std::io::Read;
    let authority = terminus::tls::Authority::generate().expect("a CA");
    let mock = MockServer::builder()
        .world(world(1))
        .limits(Limits {
            connections: 1,
            ..Limits::default()
        })
        .tls(authority.server_config(std::sync::Arc::new(|_: &str| true)))
        .start()
        .expect("the mock starts");
    // Holds the only place: accepted, its handshake awaited.
    let _holder = connect(mock.address());
    let mut over = connect(mock.address());
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let ended = over.read_to_end(&mut received);
    assert!(
        received.is_empty(),
        "plaintext on a TLS port: {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        ended.is_ok()
            || ended
                .as_ref()
                .is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset),
        "{ended:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "closed at once");
}

/// Creates `count` instances and terminates them, signed at the world's clock; the ids created.
fn create_and_terminate(address: SocketAddr, count: u32) -> Vec<Value> {
    let now = clock_now(address);
    let created = json(&once(
        address,
        &signature_form_at(
            "RunInstances",
            serde_json::json!({
                "Placement": { "Zone": "ap-guangzhou-3" },
                "ImageId": "img-eb30mz89",
                "InstanceCount": count,
            }),
            now,
        ),
    ));
    let ids = created
        .pointer("/Response/InstanceIdSet")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| panic!("{created}"));
    let terminated = json(&once(
        address,
        &signature_form_at(
            "TerminateInstances",
            serde_json::json!({ "InstanceIds": ids }),
            now,
        ),
    ));
    assert_eq!(terminated.pointer("/Response/Error"), None, "{terminated}");
    ids
}

fn world_instances(address: SocketAddr) -> usize {
    json(&once(address, &control("GET", "/__terminus/world", "", "")))["instances"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Issue 21, point 4: instances that finished terminating stayed in the world for ever (15 loops of create and
/// terminate held 150,000). They leave once the clock has passed their listing window: 20 loops, each a second
/// apart, leave at most the last loop's instances.
#[test]
fn destroyed_instances_leave_the_world_once_their_listing_window_has_passed() {
    let mock = server(Limits::default());
    let advance = r#"{"advance": 1}"#;
    let json_type = "Content-Type: application/json\r\n";
    let before = world_instances(mock.address());
    for _ in 0..20 {
        once(
            mock.address(),
            &control(
                "PUT",
                "/__terminus/timings",
                json_type,
                r#"{"timings": "immediate"}"#,
            ),
        );
        create_and_terminate(mock.address(), 100);
        once(
            mock.address(),
            &control("POST", "/__terminus/clock", json_type, advance),
        );
    }
    let after = world_instances(mock.address());
    assert!(
        after <= before + 100,
        "{before} instances before, {after} after 20 loops"
    );
}

/// Issue 21, point 4: the whole world is capped (`Limits::instances`, `serve --max-instances`), answered with the
/// API's quota error.
#[test]
fn a_run_past_the_world_cap_is_the_quota_error() {
    let mock = server(Limits {
        instances: 150,
        ..Limits::default()
    });
    once(
        mock.address(),
        &control(
            "PUT",
            "/__terminus/timings",
            "Content-Type: application/json\r\n",
            r#"{"timings": {"launch": 0, "terminate": 3600}}"#,
        ),
    );
    create_and_terminate(mock.address(), 100);
    let now = clock_now(mock.address());
    let refused = json(&once(
        mock.address(),
        &signature_form_at(
            "RunInstances",
            serde_json::json!({
                "Placement": { "Zone": "ap-guangzhou-3" },
                "ImageId": "img-eb30mz89",
                "InstanceCount": 100,
            }),
            now,
        ),
    ));
    assert_eq!(
        refused.pointer("/Response/Error/Code"),
        Some(&Value::from("LimitExceeded.InstanceQuota")),
        "{refused}"
    );
    assert!(world_instances(mock.address()) <= 150);
}
