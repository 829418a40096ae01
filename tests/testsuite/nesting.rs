//! Issue 21, point 12: every parameter of every action terminus serves, nested as deep as the official SDKs nest
//! it, is read in the `Signature` form; only a name deeper than any documented parameter is `UnknownParameter`.
//! The parameter names come from outside: `tests/params/cvm-parameter-paths.txt`, walked from tccli's API model
//! (its header says how).

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use terminus::mock::MockServer;
use terminus::provider::{Call, ProviderId, SignForm};
use terminus::signing::Credentials;
use terminus::world::WorldSpec;

use crate::common::raw::{Answer, read_answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY};

const PATHS: &str = include_str!("../params/cvm-parameter-paths.txt");

/// Each action's parameter names, in the file's order.
fn documented() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut actions: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in PATHS.lines().filter(|line| !line.starts_with('#')) {
        let (action, name) = line.split_once(' ').expect("`Action Name`");
        match actions.last_mut() {
            Some((last, names)) if *last == action => names.push(name),
            _ => actions.push((action, vec![name])),
        }
    }
    actions
}

/// The nested parameters the dotted names describe (`A.0.B` is `{"A": [{"B": …}]}`), each leaf a string.
fn nested(names: &[&str]) -> Map<String, Value> {
    fn put(slot: &mut Value, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            *slot = Value::String("1".into());
            return;
        };
        let next = if first.bytes().all(|b| b.is_ascii_digit()) {
            if !slot.is_array() {
                *slot = Value::Array(vec![Value::Null]);
            }
            &mut slot.as_array_mut().unwrap()[0]
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut()
                .unwrap()
                .entry(first.to_string())
                .or_insert(Value::Null)
        };
        put(next, rest);
    }
    let mut root = Value::Object(Map::new());
    for name in names {
        put(&mut root, &name.split('.').collect::<Vec<_>>());
    }
    match root {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// Sends `action` with `params`, flattened and signed as the Python SDK's `Signature` form does (POST form);
/// returns the error code, if any.
fn send(
    address: std::net::SocketAddr,
    action: &str,
    params: &Map<String, Value>,
) -> Option<String> {
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action,
        params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp: SIGNED_AT,
        nonce: 7,
        sign: SignForm::HmacSha256,
        method: "POST",
        headers: &[],
    };
    let (request, _) = ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    let mut stream = TcpStream::connect(address).expect("the mock accepts");
    stream.write_all(&request.to_bytes()).expect("sent");
    match read_answer(
        &mut stream,
        &mut Vec::new(),
        Instant::now() + Duration::from_secs(15),
        false,
    ) {
        Answer::Response(response) => {
            let body: Value = serde_json::from_slice(&response.body).expect("a JSON answer");
            body.pointer("/Response/Error/Code")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        other => panic!("{action}: no answer: {other:?}"),
    }
}

fn server() -> MockServer {
    let world = format!(
        "clock = {{ mode = \"fixed\", at = {SIGNED_AT} }}\n[[accounts]]\nsecret-id = \"{TENCENT_ID}\"\n\
         secret-key = \"{TENCENT_KEY}\"\n"
    );
    MockServer::builder()
        .world(WorldSpec::from_toml(&world, "test").expect("a valid world"))
        .start()
        .expect("the mock starts")
}

#[test]
fn every_documented_parameter_of_every_served_action_is_read_at_its_sdk_depth() {
    let mock = server();
    let actions = documented();
    assert_eq!(actions.len(), 8, "every served action is listed");
    let deepest = actions
        .iter()
        .flat_map(|(_, names)| names.iter())
        .map(|name| name.split('.').count())
        .max();
    assert_eq!(deepest, Some(5), "TagSpecification.0.Tags.0.Key");
    for (action, names) in &actions {
        let code = send(mock.address(), action, &nested(names));
        assert_ne!(
            code.as_deref(),
            Some("UnknownParameter"),
            "{action} with every documented parameter"
        );
        for name in names.iter().filter(|name| name.contains('.')) {
            let code = send(mock.address(), action, &nested(&[name]));
            assert_ne!(code.as_deref(), Some("UnknownParameter"), "{action} {name}");
        }
    }
}

#[test]
fn a_name_deeper_than_any_documented_parameter_is_unknown() {
    let mock = server();
    let code = send(
        mock.address(),
        "RunInstances",
        &nested(&["TagSpecification.0.Tags.0.Key.Deeper"]),
    );
    assert_eq!(code.as_deref(), Some("UnknownParameter"));
}
