//! The legacy API 2.0 gateway beyond what a case can say: the reference's own signed requests (`ref-l*`) and the
//! captured QcloudApi ones (`legacy-qcloudapi-*`), replayed byte for byte against the mock; a replay of one of
//! them; and the rate limit it shares with API 3.0's `TerminateInstances`.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use terminus::message::Request;
use terminus::mock::MockServer;
use terminus::provider::SignForm;
use terminus::provider::{Call, ProviderId};
use terminus::signing::Credentials;
use terminus::world::WorldSpec;

use crate::common::raw::{Answer, read_answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, captured, signed_terminate, state_of};

/// The keys of the API 2.0 documents, which the `ref-l*` vectors are signed with.
const DOC_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA";
const DOC_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA";

fn world(text: &str) -> WorldSpec {
    WorldSpec::from_toml(text, "test").expect("the test world is valid")
}

fn server(world: WorldSpec) -> MockServer {
    MockServer::builder()
        .world(world)
        .workers(1)
        .start()
        .expect("the mock starts")
}

/// Sends raw bytes and reads the answer's status and JSON body.
fn send(address: SocketAddr, bytes: &[u8]) -> (u16, Value) {
    use std::io::Write;
    let mut stream = TcpStream::connect(address).expect("the mock accepts connections");
    stream.write_all(bytes).expect("the request is sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    match read_answer(&mut stream, &mut Vec::new(), deadline, false) {
        Answer::Response(response) => {
            let body = serde_json::from_slice(&response.body).unwrap_or_else(|error| {
                panic!(
                    "the answer is not JSON ({error}): {}",
                    String::from_utf8_lossy(&response.body)
                )
            });
            (response.status, body)
        }
        other => panic!("no answer: {other:?}"),
    }
}

/// A request as QcloudApi builds it (`terminus::provider::tencent_legacy::client`), signed with the example key.
fn legacy(action: &str, params: Value, nonce: u64, timestamp: i64) -> Vec<u8> {
    let params: Map<String, Value> = serde_json::from_value(params).expect("an object");
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action,
        params: &params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp,
        nonce,
        sign: SignForm::HmacSha1,
        method: "POST",
        headers: &[],
    };
    let (request, _) = ProviderId::TencentLegacy
        .build_request(&call)
        .expect("the request builds");
    request.to_bytes()
}

fn error_code(body: &Value) -> Option<&str> {
    body.pointer("/Response/Error/Code").and_then(Value::as_str)
}

#[test]
fn the_reference_and_captured_terminate_requests_are_accepted_as_they_are() {
    for (vector, id, key, region) in [
        (
            "hmac-sha1/ref-l1-terminateinstances-get",
            DOC_ID,
            DOC_KEY,
            "ap-guangzhou",
        ),
        (
            "hmac-sha1/ref-l2-terminateinstances-post",
            DOC_ID,
            DOC_KEY,
            "ap-guangzhou",
        ),
        (
            "hmac-sha256/ref-l3-terminateinstances-get",
            DOC_ID,
            DOC_KEY,
            "ap-guangzhou",
        ),
        (
            "hmac-sha256/ref-l4-terminateinstances-post",
            DOC_ID,
            DOC_KEY,
            "ap-guangzhou",
        ),
        (
            "hmac-sha1/legacy-qcloudapi-hmacsha1-get",
            TENCENT_ID,
            TENCENT_KEY,
            "ap-guangzhou",
        ),
        (
            "hmac-sha256/legacy-qcloudapi-hmacsha256-post",
            TENCENT_ID,
            TENCENT_KEY,
            "ap-singapore",
        ),
    ] {
        let mock = server(world(&format!(
            r#"
            region = "{region}"
            clock = {{ mode = "fixed", at = {SIGNED_AT} }}
            [[accounts]]
            secret-id = "{id}"
            secret-key = "{key}"
            [[instances]]
            id = "ins-r8hr2upy"
            [[instances]]
            id = "ins-5d8a23rs"
            [[instances]]
            id = "ins-09dx96dg"
            "#
        )));
        let request = captured(vector);
        let named: Vec<&str> = ["ins-r8hr2upy", "ins-5d8a23rs", "ins-09dx96dg"]
            .into_iter()
            .filter(|id| String::from_utf8_lossy(&request.to_bytes()).contains(id))
            .collect();
        let (status, body) = send(mock.address(), &request.to_bytes());
        assert_eq!(status, 200, "{vector}: {body}");
        assert!(
            body.pointer("/Response/RequestId").is_some() && error_code(&body).is_none(),
            "{vector}: {body}"
        );
        for id in named {
            assert_eq!(state_of(&mock, id), "TERMINATED", "{vector}: {id}");
        }
    }
}

#[test]
fn the_reference_return_instance_request_is_accepted_with_its_short_region() {
    // L5: Region=gz, Timestamp=1465750149, Nonce=46364, instanceId=ins-a19qoqqk, signed with the 2.0 documents' keys.
    let mock = server(world(&format!(
        r#"
        clock = {{ mode = "fixed", at = 1465750149 }}
        [[accounts]]
        secret-id = "{DOC_ID}"
        secret-key = "{DOC_KEY}"
        [[instances]]
        id = "ins-a19qoqqk"
        "#
    )));
    let bytes = captured("hmac-sha1/ref-l5-returninstance").to_bytes();
    let (status, body) = send(mock.address(), &bytes);
    assert_eq!((status, body), (200, json!({ "code": 0, "message": "ok" })));
    assert_eq!(state_of(&mock, "ins-a19qoqqk"), "TERMINATED");

    // The same bytes again: the Nonce is still in its window.
    let (_, again) = send(mock.address(), &bytes);
    assert_eq!(again["code"], 4500, "{again}");
    assert_eq!(again["codeDesc"], "InvalidRequest.ReplayAttack", "{again}");
}

#[test]
fn a_captured_request_sent_twice_is_a_replay_here_but_not_on_api_3_0() {
    let text = format!(
        r#"
        clock = {{ mode = "fixed", at = {SIGNED_AT} }}
        [[accounts]]
        secret-id = "{TENCENT_ID}"
        secret-key = "{TENCENT_KEY}"
        [[instances]]
        id = "ins-r8hr2upy"
        "#
    );
    // The legacy gateway: the second copy is refused before the rules see it.
    let mock = server(world(&text));
    let bytes = captured("hmac-sha1/legacy-qcloudapi-hmacsha1-get").to_bytes();
    let (_, first) = send(mock.address(), &bytes);
    assert_eq!(error_code(&first), None, "{first}");
    let (_, second) = send(mock.address(), &bytes);
    assert_eq!(error_code(&second), Some("InvalidRequest.ReplayAttack"));

    // API 3.0 (the Python SDK's v1 capture, the same Nonce and Timestamp): no replay check, so the second copy
    // reaches the rules and finds the instance destroyed, still listed as terminating (the lifecycle's 5 s).
    // Adding the gateway changed nothing there.
    let mock = server(world(&text));
    let bytes = captured("hmac-sha1/v1-py-hmacsha1-get-1id").to_bytes();
    let (_, first) = send(mock.address(), &bytes);
    assert_eq!(error_code(&first), None, "{first}");
    let (_, second) = send(mock.address(), &bytes);
    assert_eq!(
        error_code(&second),
        Some("UnsupportedOperation.InstanceStateTerminating")
    );
}

#[test]
fn terminate_instances_shares_its_rate_limit_with_api_3_0_and_return_instance_has_its_own() {
    let mock = server(world(&format!(
        r#"
        clock = {{ mode = "fixed", at = {SIGNED_AT} }}
        rate-limit = {{ terminate-per-second = 10 }}
        [[accounts]]
        secret-id = "{TENCENT_ID}"
        secret-key = "{TENCENT_KEY}"
        [[instances]]
        id = "ins-rate0001"
        [[instances]]
        id = "ins-rate0002"
        "#
    )));
    for _ in 0..10 {
        let (_, body) = send(
            mock.address(),
            &signed_terminate(&["ins-00000000"], false, false, SIGNED_AT),
        );
        assert_eq!(error_code(&body), Some("InvalidInstanceId.NotFound"));
    }
    let eleventh = legacy(
        "TerminateInstances",
        json!({ "InstanceIds": ["ins-rate0001"] }),
        1,
        SIGNED_AT,
    );
    let (_, body) = send(mock.address(), &eleventh);
    assert_eq!(
        error_code(&body),
        Some("InvalidRequest.RequestConcurrencyExceeded")
    );
    assert_eq!(state_of(&mock, "ins-rate0001"), "RUNNING");

    let returned = legacy(
        "ReturnInstance",
        json!({ "instanceId": "ins-rate0002" }),
        2,
        SIGNED_AT,
    );
    let (_, body) = send(mock.address(), &returned);
    assert_eq!(body, json!({ "code": 0, "message": "ok" }));
    assert_eq!(state_of(&mock, "ins-rate0002"), "TERMINATED");
}

#[test]
fn the_gateway_serves_only_its_path() {
    let mock = server(world(&format!(
        "clock = {{ mode = \"fixed\", at = {SIGNED_AT} }}\n"
    )));
    // The gateway's host, another path: no API there. (`/v2/index.php` on the API 3.0 host stays API 3.0's
    // `InvalidAction`: tests/malformed/corpus.toml, `path-legacy-gateway`.)
    let mut request = Request::parse(&legacy(
        "TerminateInstances",
        json!({ "InstanceIds": ["ins-00000000"] }),
        3,
        SIGNED_AT,
    ))
    .expect("HTTP");
    request.target = "/".into();
    let (_, body) = send(mock.address(), &request.to_bytes());
    assert_eq!(error_code(&body), Some("InvalidAction.NotFound"), "{body}");
}

#[test]
fn flattened_names_are_bounded_in_depth_and_index_on_the_gateway_too() {
    let mock = server(world(&format!(
        r#"
        clock = {{ mode = "fixed", at = {SIGNED_AT} }}
        [[accounts]]
        secret-id = "{TENCENT_ID}"
        secret-key = "{TENCENT_KEY}"
        [[instances]]
        id = "ins-deep0001"
        "#
    )));
    // The issue's crash: one name of 30,000 levels (~60 KB) aborted the server (recursive insert, walk and drop).
    let deep = format!("InstanceIds{}", ".0".repeat(30_000));
    for (nonce, name, code) in [
        (10, deep.as_str(), "UnknownParameter"),
        (11, "InstanceIds.0.0.0.0.0", "UnknownParameter"),
        (12, "InstanceIds.101", "InvalidParameterValue.LimitExceeded"),
    ] {
        let request = legacy(
            "TerminateInstances",
            json!({ name: "ins-deep0001" }),
            nonce,
            SIGNED_AT,
        );
        let (_, body) = send(mock.address(), &request);
        let shown: String = body.to_string().chars().take(300).collect();
        assert_eq!(error_code(&body), Some(code), "{shown}");
    }
    assert_eq!(state_of(&mock, "ins-deep0001"), "RUNNING");
    // Still serving, and the deepest shape the API means still reads.
    let request = legacy(
        "TerminateInstances",
        json!({ "InstanceIds.1": "ins-deep0001" }),
        13,
        SIGNED_AT,
    );
    let (_, body) = send(mock.address(), &request);
    assert_eq!(error_code(&body), None, "{body}");
    assert_eq!(state_of(&mock, "ins-deep0001"), "TERMINATED");
}
