//! The API 3.0 gateway's refusals of malformed requests, as recorded (`real-wire.md` §2): requests no case can
//! send (a form pair without `=`, a non-integer `Nonce`, a form body over 1 MB), sent as bytes to a mock server.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use terminus::mock::MockServer;
use terminus::provider::{Call, ProviderId, SignForm};
use terminus::signing::Credentials;
use terminus::world::WorldSpec;

use crate::common::raw::{Answer, read_answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY};

fn server() -> MockServer {
    MockServer::builder()
        .world(WorldSpec {
            clock: terminus::world::clock::ClockSpec::Fixed { at: SIGNED_AT },
            ..WorldSpec::default_world()
        })
        .workers(1)
        .start()
        .expect("a mock server")
}

/// Sends `bytes` and reads the answer's `Response` object (within 20 s).
fn answer(server: &MockServer, bytes: &[u8]) -> Value {
    let address = server.uri().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(address.trim_end_matches('/')).expect("connects");
    stream.write_all(bytes).expect("sends");
    let mut buffer = Vec::new();
    match read_answer(
        &mut stream,
        &mut buffer,
        Instant::now() + Duration::from_secs(20),
        false,
    ) {
        Answer::Response(response) => {
            let body: Value = serde_json::from_slice(&response.body).expect("a JSON answer");
            body["Response"].clone()
        }
        _ => panic!("no answer"),
    }
}

/// A `TerminateInstances` call in the `Signature` form (HmacSHA1, POST), signed with the documentation's key.
fn form_request(params: &Map<String, Value>) -> Vec<u8> {
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action: "TerminateInstances",
        params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp: SIGNED_AT,
        nonce: 11886,
        sign: SignForm::HmacSha1,
        method: "POST",
        headers: &[],
    };
    let (request, _) = ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    request.to_bytes()
}

/// Replaces the body of an HTTP/1.1 request, fixing its `Content-Length`.
fn with_body(bytes: &[u8], body: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("a text request");
    let (head, _) = text.split_once("\r\n\r\n").expect("a head");
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
}

fn body_of(bytes: &[u8]) -> String {
    let text = String::from_utf8(bytes.to_vec()).expect("a text request");
    text.split_once("\r\n\r\n").expect("a head").1.to_owned()
}

fn error(response: &Value) -> (&str, &str) {
    (
        response["Error"]["Code"].as_str().unwrap_or_default(),
        response["Error"]["Message"].as_str().unwrap_or_default(),
    )
}

#[test]
fn a_form_pair_without_an_equals_sign_is_refused_before_the_signature() {
    // real-wire.md ISS-12 (HIllya51/LunaTranslator#264): an unescaped `&` in a v1 form value.
    let server = server();
    let params = json!({ "InstanceIds": ["ins-r8hr2upy"] });
    let signed = form_request(params.as_object().expect("an object"));
    let body = format!("{}&stray", body_of(&signed));
    let response = answer(&server, &with_body(&signed, &body));
    assert_eq!(
        error(&response),
        (
            "InvalidParameter",
            "Url key and value should be splited by `=`."
        ),
        "{response}"
    );
}

#[test]
fn a_nonce_that_is_not_an_integer_is_a_type_error() {
    // real-wire.md FILE-03: `Parameter `Nonce` type error.` for a v1 form with a non-integer Nonce.
    let server = server();
    let params = json!({ "InstanceIds": ["ins-r8hr2upy"] });
    let signed = form_request(params.as_object().expect("an object"));
    let body = body_of(&signed).replace("Nonce=11886", "Nonce=abc");
    assert!(body.contains("Nonce=abc"), "{body}");
    let response = answer(&server, &with_body(&signed, &body));
    assert_eq!(
        error(&response),
        ("InvalidParameter", "Parameter `Nonce` type error."),
        "{response}"
    );
}

#[test]
fn a_form_body_over_one_megabyte_fails_the_signature_as_recorded() {
    // real-wire.md ISS-09 (tencentcloud-sdk-dotnet#75, tencentcloud-sdk-python#42): a large v1-signed body.
    let server = server();
    let params = json!({ "InstanceIds": ["ins-r8hr2upy"], "Padding": "x".repeat(1024 * 1024) });
    let signed = form_request(params.as_object().expect("an object"));
    let response = answer(&server, &signed);
    assert_eq!(
        error(&response),
        (
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated because of exceeding request size limit, please use new signature method `TC3-HMAC-SHA256`."
        ),
        "{response}"
    );
}

#[test]
fn a_tc3_request_without_its_timestamp_misses_the_timestamp_parameter() {
    // real-wire.md ISS-11 (tencentcloud-sdk-nodejs#99, a TC3 client): the gateway names `Timestamp`, not the header.
    let server = server();
    let signed = crate::common::signed_terminate(&["ins-r8hr2upy"], false, false, SIGNED_AT);
    let text = String::from_utf8(signed).expect("a text request");
    let without: Vec<&str> = text
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("x-tc-timestamp:"))
        .collect();
    let response = answer(&server, without.join("\r\n").as_bytes());
    assert_eq!(
        error(&response),
        (
            "MissingParameter",
            "The request is missing a required parameter `Timestamp`."
        ),
        "{response}"
    );
}
