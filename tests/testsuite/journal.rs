//! The request journal, the diagnosis of rejected signatures, the world's round trip and reset, and the fault
//! queue, over HTTP on loopback.
//!
//! The signatures with mistakes are made here by a TC3 signer of the test's own, written from the documentation
//! (`https://cloud.tencent.com/document/api/213/30654`), so that each official client's mistake can be made on
//! purpose: the scope date in Beijing time, the host without its port, the body re-serialised after signing.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use terminus::mock::MockServer;
use terminus::signing::hash::{hmac_sha256, sha256_hex};

use crate::common::{TENCENT_ID, TENCENT_KEY};

/// 2023-11-14 22:13:20 UTC: 2023-11-15 in Beijing (UTC+8).
pub(crate) const AT: i64 = 1_700_000_000;

fn client() -> Client {
    crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// A server on the default world, its clock fixed at [`AT`].
fn server() -> MockServer {
    let mut world = terminus::world::WorldSpec::default_world();
    world.clock = terminus::world::clock::ClockSpec::Fixed { at: AT };
    MockServer::builder()
        .world(world)
        .start()
        .expect("the mock starts")
}

/// What a client signs: the host it names, the date of its scope, the body bytes it hashes, the action's case.
pub(crate) struct Signing<'a> {
    pub(crate) host: &'a str,
    pub(crate) date: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) key: &'a str,
    /// Also sign `x-tc-action`, with its value as sent (not lowercased) when `true`.
    pub(crate) action_as_sent: Option<bool>,
}

impl<'a> Signing<'a> {
    /// Signing as documented for `host`: the UTC date of [`AT`], [`BODY`], the example key, `x-tc-action` unsigned.
    pub(crate) fn documented(host: &'a str) -> Self {
        Self {
            host,
            date: "2023-11-14",
            body: BODY,
            key: TENCENT_KEY,
            action_as_sent: None,
        }
    }
}

/// `Authorization` for a TerminateInstances POST, computed as the TC3 document describes.
pub(crate) fn authorization(signing: &Signing<'_>) -> String {
    let mut headers = format!("content-type:application/json\nhost:{}\n", signing.host);
    let mut signed_headers = "content-type;host".to_owned();
    if let Some(as_sent) = signing.action_as_sent {
        let action = if as_sent {
            "TerminateInstances"
        } else {
            "terminateinstances"
        };
        headers.push_str(&format!("x-tc-action:{action}\n"));
        signed_headers.push_str(";x-tc-action");
    }
    let canonical = format!(
        "POST\n/\n\n{headers}\n{signed_headers}\n{}",
        sha256_hex(signing.body)
    );
    let scope = format!("{}/cvm/tc3_request", signing.date);
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{AT}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac_sha256(
        format!("TC3{}", signing.key).as_bytes(),
        signing.date.as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, b"cvm");
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    format!(
        "TC3-HMAC-SHA256 Credential={TENCENT_ID}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

/// Sends a TerminateInstances POST with `body` and `authorization`, asking for the diagnosis when `explain`.
fn terminate(server: &MockServer, body: &[u8], authorization: &str, explain: bool) -> Response {
    let mut request = client()
        .post(server.uri() + "/")
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "TerminateInstances")
        .header("X-TC-Version", "2017-03-12")
        .header("X-TC-Region", "ap-guangzhou")
        .header("X-TC-Timestamp", AT.to_string())
        .header("Authorization", authorization)
        .body(body.to_vec());
    if explain {
        request = request.header("X-Terminus-Explain", "1");
    }
    request.send().expect("the mock answers")
}

fn host(server: &MockServer) -> String {
    server.address().to_string()
}

fn get(server: &MockServer, path: &str) -> Value {
    let response = client()
        .get(server.uri() + path)
        .send()
        .expect("the control API answers");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().expect("JSON")
}

fn send(server: &MockServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    let response = client()
        .request(method.parse().unwrap(), server.uri() + path)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .expect("the control API answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// The last journal entry.
fn last_entry(server: &MockServer) -> Value {
    get(server, "/__terminus/requests?limit=1")["requests"][0].clone()
}

pub(crate) const BODY: &[u8] = br#"{"InstanceIds":["ins-r8hr2upy"]}"#;

#[test]
fn a_scope_date_in_local_time_is_named_in_the_journal() {
    let server = server();
    let signed = authorization(&Signing {
        date: "2023-11-15",
        ..Signing::documented(&host(&server))
    });
    let answer: Value = terminate(&server, BODY, &signed, false).json().unwrap();
    assert_eq!(
        answer["Response"]["Error"]["Code"],
        "AuthFailure.SignatureFailure"
    );
    let entry = last_entry(&server);
    assert_eq!(entry["verdict"], "error");
    assert_eq!(entry["code"], "AuthFailure.SignatureFailure");
    assert_eq!(
        entry["diagnosis"]["mistake"], "scope-date-not-utc",
        "{entry:#}"
    );
    let cause = entry["diagnosis"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("the scope date is the local date, not UTC"),
        "{cause}"
    );
    assert!(
        cause.contains("2023-11-15") && cause.contains("2023-11-14"),
        "{cause}"
    );
    assert_eq!(entry["diagnosis"]["step"], "credential-scope");
    let string_to_sign = entry["diagnosis"]["string-to-sign"].as_str().unwrap();
    assert!(
        string_to_sign.contains("2023-11-14/cvm/tc3_request"),
        "{string_to_sign}"
    );
}

#[test]
fn a_body_re_serialised_after_signing_is_named_and_the_wire_answer_is_the_real_apis() {
    let server = server();
    let signed = authorization(&Signing::documented(&host(&server)));
    // What Python's json.dumps sends for the same value.
    let sent = br#"{"InstanceIds": ["ins-r8hr2upy"]}"#;
    let plain = terminate(&server, sent, &signed, false);
    assert!(
        plain
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("x-terminus")),
        "no terminus header unless asked: {:?}",
        plain.headers()
    );
    let answer: Value = plain.json().unwrap();
    assert_eq!(
        answer["Response"]["Error"],
        json!({
            "Code": "AuthFailure.SignatureFailure",
            "Message": "The provided credentials could not be validated. Please check your signature is correct."
        })
    );
    let entry = last_entry(&server);
    assert_eq!(
        entry["diagnosis"]["mistake"], "body-reserialised-compact",
        "{entry:#}"
    );
    assert!(
        entry["diagnosis"]["cause"]
            .as_str()
            .unwrap()
            .contains("the body was re-serialised after signing")
    );
    assert_eq!(entry["diagnosis"]["step"], "hashed-payload");

    let explained = terminate(&server, sent, &signed, true);
    let diagnosis = explained
        .headers()
        .get("x-terminus-diagnosis")
        .expect("asked for")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        diagnosis.starts_with("body-reserialised-compact: the body was re-serialised"),
        "{diagnosis}"
    );
    let id = explained.headers()["x-terminus-journal-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(last_entry(&server)["id"].to_string(), id);
}

#[test]
fn a_host_signed_without_its_port_is_named_even_where_the_node_sdk_quirk_lets_it_through() {
    let server = server();
    let signed = authorization(&Signing::documented(&server.address().ip().to_string()));
    let answer: Value = terminate(&server, BODY, &signed, true).json().unwrap();
    // Tolerated for the Node SDK (README, "Client quirks"): the request is answered.
    assert!(answer["Response"].get("Error").is_none(), "{answer}");
    let entry = last_entry(&server);
    assert_eq!(entry["verdict"], "ok");
    assert_eq!(
        entry["diagnosis"]["mistake"], "host-without-port",
        "{entry:#}"
    );
    assert!(
        entry["diagnosis"]["cause"]
            .as_str()
            .unwrap()
            .starts_with("the host was signed without its port")
    );
    assert_eq!(entry["diagnosis"]["step"], "canonical-request");
    assert!(
        entry["diagnosis"]["difference"]
            .as_str()
            .unwrap()
            .contains(&format!("host:{}", host(&server)))
    );
}

#[test]
fn an_action_signed_in_upper_case_is_named() {
    let server = server();
    let signed = authorization(&Signing {
        action_as_sent: Some(true),
        ..Signing::documented(&host(&server))
    });
    terminate(&server, BODY, &signed, false);
    let entry = last_entry(&server);
    assert_eq!(
        entry["diagnosis"]["mistake"], "header-value-case",
        "{entry:#}"
    );
    assert!(
        entry["diagnosis"]["cause"]
            .as_str()
            .unwrap()
            .starts_with("x-tc-action signed in upper case")
    );
    // The same request signed as documented goes through: the check is the diagnosis', not a new rule.
    let right = authorization(&Signing {
        action_as_sent: Some(false),
        ..Signing::documented(&host(&server))
    });
    terminate(&server, BODY, &right, false);
    assert_eq!(last_entry(&server)["verdict"], "ok");
}

#[test]
fn a_wrong_key_is_not_blamed_on_a_mistake_and_the_servers_steps_are_shown() {
    let server = server();
    let signed = authorization(&Signing {
        key: "not-the-key",
        ..Signing::documented(&host(&server))
    });
    terminate(&server, BODY, &signed, false);
    let entry = last_entry(&server);
    assert_eq!(entry["diagnosis"]["mistake"], Value::Null, "{entry:#}");
    assert_eq!(entry["diagnosis"]["step"], "signature");
    let canonical = entry["diagnosis"]["canonical-request"].as_str().unwrap();
    assert!(
        canonical.starts_with("POST\n/\n\ncontent-type:application/json\nhost:"),
        "{canonical}"
    );
    let text = entry.to_string();
    assert!(
        !text.contains(TENCENT_KEY) && !text.contains("not-the-key"),
        "{text}"
    );
}

#[test]
fn the_journal_keeps_each_request_without_secrets_filters_and_clears() {
    let server = server();
    let good = authorization(&Signing::documented(&host(&server)));
    terminate(&server, BODY, &good, false);
    // A legacy-form request carrying a session token in its query.
    client()
        .get(server.uri() + "/?Action=DescribeInstances&SecretId=AKIDunknown&Token=sessionSECRET&Nonce=1&Timestamp=1700000000&Signature=x")
        .header("X-TC-Token", "headerSECRET")
        .send()
        .unwrap();
    let all = get(&server, "/__terminus/requests");
    let entries = all["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{all:#}");
    let first = &entries[0];
    assert_eq!(first["provider"], "tencent");
    assert_eq!(first["action"], "TerminateInstances");
    assert_eq!(first["secret-id"], TENCENT_ID);
    assert_eq!(first["verdict"], "ok");
    assert_eq!(first["status"], 200);
    assert_eq!(first["world-time"], AT);
    assert!(first["latency-us"].is_u64());
    assert_eq!(
        first["request"]["body"],
        String::from_utf8_lossy(BODY).as_ref()
    );
    let text = all.to_string();
    assert!(
        !text.contains("sessionSECRET") && !text.contains("headerSECRET"),
        "{text}"
    );
    assert!(text.contains("Token=[TOKEN]"), "{text}");

    let refused = get(
        &server,
        "/__terminus/requests?verdict=error&secret-id=AKIDunknown",
    );
    assert_eq!(refused["requests"].as_array().unwrap().len(), 1);
    let after = get(
        &server,
        &format!("/__terminus/requests?since={}", first["id"]),
    );
    assert_eq!(after["requests"].as_array().unwrap().len(), 1);
    let (status, error) = send(&server, "GET", "/__terminus/requests?colour=red", "");
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("colour"));

    let (status, _) = send(&server, "DELETE", "/__terminus/requests", "");
    assert_eq!(status, 200);
    assert_eq!(get(&server, "/__terminus/requests")["requests"], json!([]));
}

/// Once the journal is full, a connection builds each new entry in the blocks of one the journal let go of. Nothing
/// of the old entry (its diagnosis, SecretId, action, code, request) may show through: the last entry on a server
/// that has recycled a thousand rejected signatures is the entry a fresh server writes for the same request.
#[test]
fn an_entry_built_in_the_blocks_of_an_evicted_one_is_the_entry_a_fresh_server_writes() {
    let recycling = server();
    let host = host(&recycling);
    let wrong = authorization(&Signing {
        key: "AnotherKeyThatIsNotTheAccountsEXAMPLE",
        ..Signing::documented(&host)
    });
    // One keep-alive connection: the blocks an evicted entry leaves are kept per connection.
    let kept_alive = client();
    let send_rejected = || {
        kept_alive
            .post(recycling.uri() + "/")
            .header("Content-Type", "application/json")
            .header("X-TC-Action", "TerminateInstances")
            .header("X-TC-Version", "2017-03-12")
            .header("X-TC-Region", "ap-guangzhou")
            .header("X-TC-Timestamp", AT.to_string())
            .header("Authorization", &wrong)
            .body(BODY.to_vec())
            .send()
            .expect("the mock answers")
    };
    for _ in 0..terminus::mock::journal::CAPACITY + 2 {
        assert_eq!(send_rejected().status(), 200);
    }
    let unsigned = |client: &Client, server: &MockServer| {
        client
            .post(server.uri() + "/?Limit=1")
            .header("X-TC-Action", "DescribeInstances")
            .body("{}")
            .send()
            .expect("the mock answers")
    };
    unsigned(&kept_alive, &recycling);
    let fresh = server();
    unsigned(&client(), &fresh);
    let last = |server: &MockServer| {
        let mut entry = get(server, "/__terminus/requests?limit=1")["requests"][0].clone();
        let entry = entry.as_object_mut().expect("an entry");
        for varies in ["id", "time", "latency-us"] {
            assert!(entry.remove(varies).is_some(), "{entry:?}");
        }
        // The Host header names each server's own port.
        entry["request"]["headers"]
            .as_array_mut()
            .unwrap()
            .retain(|pair| !pair[0].as_str().unwrap().eq_ignore_ascii_case("host"));
        serde_json::Value::Object(entry.clone())
    };
    let recycled = last(&recycling);
    assert_eq!(recycled, last(&fresh));
    assert_eq!(recycled["action"], "DescribeInstances", "{recycled:#}");
    assert!(recycled.get("diagnosis").is_none(), "{recycled:#}");
    assert!(recycled["secret-id"].is_null(), "{recycled:#}");
}

#[test]
fn the_world_puts_back_as_it_was_got_with_its_keys_kept_and_resets_to_the_start() {
    let server = server();
    let world = get(&server, "/__terminus/world");
    assert_eq!(world["accounts"][0]["secret-key"], "[REDACTED]");
    assert!(!world.to_string().contains(TENCENT_KEY));
    let (status, put) = send(&server, "PUT", "/__terminus/world", &world.to_string());
    assert_eq!(status, 200, "{put}");
    assert_eq!(put, world);
    // The key was kept: a request signed with it is still accepted, and terminates.
    let signed = authorization(&Signing::documented(&host(&server)));
    terminate(&server, BODY, &signed, false);
    assert_eq!(last_entry(&server)["verdict"], "ok");
    let instance = get(&server, "/__terminus/instances/ins-r8hr2upy");
    assert_ne!(instance["state"], "RUNNING", "{instance}");

    let (status, _) = send(&server, "POST", "/__terminus/reset", "");
    assert_eq!(status, 200);
    assert_eq!(get(&server, "/__terminus/world"), world);

    // An elided key of an account the world does not have cannot be kept.
    let mut stranger = world.clone();
    stranger["accounts"][0]["secret-id"] = "AKIDnobodyEXAMPLE".into();
    let (status, error) = send(&server, "PUT", "/__terminus/world", &stranger.to_string());
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("AKIDnobodyEXAMPLE"),
        "{error}"
    );

    let health = get(&server, "/__terminus/health");
    assert_eq!(health["status"], "ok");
}

#[test]
fn queued_faults_strike_one_request_each_with_their_own_message() {
    let server = server();
    for fault in [
        r#"{"kind": "error", "code": "ResourceInsufficient", "message": "No room in the zone."}"#,
        r#"{"kind": "http", "status": 502}"#,
    ] {
        let (status, answer) = send(&server, "POST", "/__terminus/faults", fault);
        assert_eq!(status, 200, "{answer}");
    }
    let signed = authorization(&Signing::documented(&host(&server)));
    let first = terminate(&server, BODY, &signed, false);
    assert_eq!(first.status(), 200);
    let first: Value = first.json().unwrap();
    assert_eq!(first["Response"]["Error"]["Code"], "ResourceInsufficient");
    assert_eq!(
        first["Response"]["Error"]["Message"],
        "No room in the zone."
    );
    assert_eq!(terminate(&server, BODY, &signed, false).status(), 502);
    let third: Value = terminate(&server, BODY, &signed, false).json().unwrap();
    assert!(third["Response"].get("Error").is_none(), "{third}");
    let faults = get(&server, "/__terminus/requests?verdict=fault");
    assert_eq!(faults["requests"].as_array().unwrap().len(), 2);
}

#[test]
fn a_put_world_that_names_no_clock_or_accounts_gets_a_cases_defaults() {
    use terminus::provider::ProviderId;
    let server = server();
    let response = client()
        .put(server.uri() + "/__terminus/world")
        .header("Content-Type", "application/toml")
        .body("seed = 1\n")
        .send()
        .expect("the control API answers");
    assert_eq!(response.status(), 200);
    let world: Value = response.json().unwrap();
    assert_eq!(world["clock"], json!({ "mode": "fixed", "at": AT }));
    let ids: Vec<&str> = world["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["secret-id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![TENCENT_ID, "0D9UtpyKYcHxms5v"]);
    assert_eq!(
        terminus::world::example_accounts().to_vec(),
        vec![
            ProviderId::Tencent.example_account(),
            ProviderId::ZenlayerBmc.example_account()
        ]
    );
    // The same defaults as a case's world: the documentation's example key signs, at the case epoch.
    let signed = authorization(&Signing::documented(&host(&server)));
    terminate(&server, BODY, &signed, false);
    assert_eq!(last_entry(&server)["code"], "InvalidInstanceId.NotFound");
}

#[test]
fn a_zenlayer_body_re_serialised_after_signing_is_named_too() {
    use terminus::case::SignForm;
    use terminus::provider::{Call, ProviderId};
    use terminus::signing::Credentials;
    let server = server();
    let params = json!({ "instanceId": "564212148932313088" });
    let credentials = Credentials::new("0D9UtpyKYcHxms5v", "Gu5t9xGARNpq86cd98joQYCN3");
    let headers = vec![("host".to_owned(), host(&server))];
    let (request, _) = ProviderId::ZenlayerBmc
        .build_request(&Call {
            action: "TerminateInstance",
            params: params.as_object().unwrap(),
            region: None,
            version: None,
            credentials: &credentials,
            token: None,
            timestamp: AT,
            nonce: 1,
            sign: SignForm::Zc2,
            method: "POST",
            headers: &headers,
        })
        .expect("the SDK's request");
    // The SDK signs json.dumps' text; a layer in between sends the compact one.
    assert_eq!(request.body, br#"{"instanceId": "564212148932313088"}"#);
    let mut sent = client()
        .post(server.uri() + &request.target)
        .body(br#"{"instanceId":"564212148932313088"}"#.to_vec());
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            sent = sent.header(name.as_str(), value.as_str());
        }
    }
    sent.send().expect("the mock answers");
    let entry = last_entry(&server);
    assert_eq!(entry["provider"], "zenlayer-bmc");
    assert_eq!(entry["code"], "AUTH_FAILURE_SIGNATURE_FAILURE", "{entry:#}");
    assert_eq!(entry["diagnosis"]["scheme"], "ZC2-HMAC-SHA256");
    assert_eq!(
        entry["diagnosis"]["mistake"], "body-reserialised-spaced",
        "{entry:#}"
    );
}

#[test]
fn a_legacy_signature_over_the_host_without_its_port_is_named() {
    use terminus::case::SignForm;
    use terminus::provider::{Call, ProviderId};
    use terminus::signing::Credentials;
    let server = server();
    let params = json!({ "InstanceIds": ["ins-r8hr2upy"] });
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    // QcloudApi signs the host it was configured with; here the address without its port.
    let headers = vec![("Host".to_owned(), server.address().ip().to_string())];
    let (request, _) = ProviderId::TencentLegacy
        .build_request(&Call {
            action: "TerminateInstances",
            params: params.as_object().unwrap(),
            region: Some("ap-guangzhou"),
            version: None,
            credentials: &credentials,
            token: None,
            timestamp: AT,
            nonce: 7,
            sign: SignForm::HmacSha1,
            method: "GET",
            headers: &headers,
        })
        .expect("QcloudApi's request");
    let answer = client()
        .get(server.uri() + &request.target)
        .send()
        .expect("the mock answers");
    assert_eq!(answer.status(), 200);
    let entry = last_entry(&server);
    assert_eq!(entry["provider"], "tencent-legacy", "{entry:#}");
    assert_eq!(entry["verdict"], "error", "{entry:#}");
    assert_eq!(entry["diagnosis"]["scheme"], "HmacSHA1", "{entry:#}");
    assert_eq!(
        entry["diagnosis"]["mistake"], "host-without-port",
        "{entry:#}"
    );
}

/// `POST /__terminus/reset` rebuilds the world from the instances kept as JSON text: for every case's world, the
/// default world and the client tests' world, what is rebuilt is the world that was kept, field for field.
#[test]
fn the_kept_initial_world_is_every_case_world_field_for_field() {
    use terminus::mock::InitialWorld;
    use terminus::world::WorldSpec;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut worlds: Vec<(String, WorldSpec)> = terminus::case::discover(&root.join("cases"))
        .iter()
        .map(|path| {
            let loaded = terminus::case::load(&root.join("cases"), path).expect("every case loads");
            (loaded.id, loaded.case.world)
        })
        .collect();
    let clients = root.join("tests/clients/world.toml");
    let text = std::fs::read_to_string(&clients).expect("the client tests' world");
    worlds.push((
        "tests/clients/world.toml".into(),
        WorldSpec::from_toml(&text, "tests/clients/world.toml").expect("it loads"),
    ));
    worlds.push(("the default world".into(), WorldSpec::default()));
    assert!(worlds.len() > 200, "only {} worlds", worlds.len());
    for (name, world) in worlds {
        assert_eq!(InitialWorld::of(&world).spec(), world, "{name}");
    }
}

/// Sends `count` unauthenticated requests with 20 headers of 8 KB each, on one connection.
fn send_large_heads(mock: &MockServer, count: usize) {
    use std::io::Write;
    let mut head = String::from(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: DescribeInstances\r\nContent-Length: 2\r\n",
    );
    for n in 0..20 {
        head.push_str(&format!("X-Padding-{n}: {}\r\n", "p".repeat(8 * 1024)));
    }
    head.push_str("\r\n{}");
    let mut stream = std::net::TcpStream::connect(mock.address()).unwrap();
    let mut buffer = Vec::new();
    for _ in 0..count {
        stream.write_all(head.as_bytes()).unwrap();
        let answer = crate::common::raw::read_answer(
            &mut stream,
            &mut buffer,
            std::time::Instant::now() + Duration::from_secs(15),
            false,
        );
        assert!(
            matches!(answer, crate::common::raw::Answer::Response(_)),
            "{answer:?}"
        );
    }
}

/// Issue 21, point 3: a large header is kept as its prefix and its length, so unauthenticated requests with
/// large heads cannot fill the journal with hundreds of MiB (1,000 requests of 400 KB added 389 MiB).
#[test]
fn a_large_header_is_kept_as_its_prefix_and_its_length() {
    let mock = server();
    send_large_heads(&mock, 50);
    let body = client()
        .get(format!("{}/__terminus/requests", mock.uri()))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    // 50 requests of 160 KB of headers: 8 MB as received, 50 × 20 × 4 KiB kept.
    assert!(body.len() < 5 * 1024 * 1024, "{} bytes", body.len());
    let journal: Value = serde_json::from_slice(&body).unwrap();
    let entries = journal["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 50);
    let header = &entries[0]["request"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|header| header[0] == "x-padding-0" || header[0] == "X-Padding-0")
        .expect("the header is kept")[1];
    let shown = header.as_str().unwrap();
    assert!(
        shown.ends_with("…(8192 bytes)"),
        "{}",
        &shown[shown.len() - 40..]
    );
    assert_eq!(shown.len(), 4096 + "…(8192 bytes)".len());
}

/// Issue 21, point 3: the journal is bounded in bytes too (`journal_bytes`, `serve --journal-bytes`): the oldest
/// entries go to make room, and `evicted` counts them; a clear empties it.
#[test]
fn the_journal_is_bounded_in_bytes_and_a_clear_empties_it() {
    let mock = MockServer::builder()
        .limits(terminus::mock::Limits {
            journal_bytes: 1024 * 1024,
            ..terminus::mock::Limits::default()
        })
        .start()
        .unwrap();
    send_large_heads(&mock, 40);
    let journal: Value = client()
        .get(format!("{}/__terminus/requests", mock.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kept = journal["requests"].as_array().unwrap().len();
    // About 80 KiB per entry: a dozen fit in 1 MiB.
    assert!((5..40).contains(&kept), "{kept} kept");
    assert_eq!(journal["evicted"], json!(40 - kept));
    let cleared = client()
        .delete(format!("{}/__terminus/requests", mock.uri()))
        .send()
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let journal: Value = client()
        .get(format!("{}/__terminus/requests", mock.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(journal, json!({ "requests": [], "evicted": 0 }));
}
