//! Properties over arbitrary inputs: every scheme round-trips sign → bytes → parse → verify, and verification
//! never panics, whatever the bytes; flattened parameter names stay within their bounds and any of them, signed,
//! gets the API envelope; the control API answers any call with a status and JSON.

use proptest::prelude::*;
use terminus::message::Request;
use terminus::signing::{self, Credentials, Policy, Scheme, Secret, SignOptions};

use crate::common::captured;

/// A key: printable ASCII, as real keys are.
fn key() -> impl Strategy<Value = String> {
    "[!-~]{1,64}"
}

/// Signs, serialises, parses back, and verifies at the signing time. Returns whether a wrong key is refused too.
fn round_trip(
    unsigned: &Request,
    credentials: &Credentials,
    scheme: Scheme,
    options: &SignOptions,
    now: i64,
) -> Result<(), TestCaseError> {
    let signed = signing::sign(unsigned, credentials, scheme, options)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let received = Request::parse(&signed.request.to_bytes())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let claim = signing::inspect(&received).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(claim.scheme, scheme);
    let verified = claim.verify(
        &received,
        credentials.secret_key(),
        Some(now),
        &Policy::default(),
        None,
    );
    prop_assert!(verified.is_ok(), "{:?}", verified);
    prop_assert_eq!(verified.unwrap(), signed.trace);
    let wrong = format!("{}x", credentials.secret_key().expose());
    prop_assert!(
        claim
            .verify(
                &received,
                &Secret::from(wrong),
                Some(now),
                &Policy::default(),
                None
            )
            .is_err()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn tc3_round_trips_any_body_and_query(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        query in proptest::collection::vec(("[A-Za-z][A-Za-z0-9.]{0,10}", "\\PC{0,12}"), 0..4),
        get in any::<bool>(),
        unsigned_payload in any::<bool>(),
        sign_action in any::<bool>(),
        id in "AKID[A-Za-z0-9]{8,32}",
        key in key(),
        timestamp in 0i64..4_102_444_800,
    ) {
        let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish();
        let target = if query.is_empty() { "/".to_owned() } else { format!("/?{query}") };
        let method = if get { "GET" } else { "POST" };
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
             X-TC-Action: TerminateInstances\r\nX-TC-Timestamp: {timestamp}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if unsigned_payload {
            head.push_str("X-TC-Content-SHA256: UNSIGNED-PAYLOAD\r\n");
        }
        let mut bytes = format!("{head}\r\n").into_bytes();
        bytes.extend_from_slice(&body);
        let unsigned = Request::parse(&bytes).unwrap();
        let signed_headers = sign_action.then(|| "content-type;host;x-tc-action".to_owned());
        let options = SignOptions { signed_headers, ..SignOptions::default() };
        round_trip(&unsigned, &Credentials::new(id, key), Scheme::Tc3, &options, timestamp)?;
    }

    #[test]
    fn signature_parameters_round_trip_any_names_and_values(
        params in proptest::collection::vec(("[A-Za-z][A-Za-z0-9_.]{0,12}", "\\PC{0,16}"), 0..8),
        post in any::<bool>(),
        sha256 in any::<bool>(),
        key in key(),
        timestamp in 0i64..4_102_444_800,
        nonce in any::<u64>(),
        legacy in any::<bool>(),
    ) {
        let id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.extend_pairs(params.iter().filter(|(name, _)| name != "Signature" && name != "SignatureMethod"));
        form.append_pair("SecretId", id).append_pair("Timestamp", &timestamp.to_string()).append_pair("Nonce", &nonce.to_string());
        if sha256 {
            form.append_pair("SignatureMethod", "HmacSHA256");
        }
        let form = form.finish();
        let path = if legacy { "/v2/index.php" } else { "/" };
        let bytes = if post {
            format!("POST {path} HTTP/1.1\r\nHost: cvm.api.qcloud.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}", form.len())
        } else {
            format!("GET {path}?{form} HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\n\r\n")
        };
        let unsigned = Request::parse(bytes.as_bytes()).unwrap();
        let scheme = if sha256 { Scheme::HmacSha256 } else { Scheme::HmacSha1 };
        prop_assert_eq!(signing::infer_scheme(&unsigned), Some(scheme));
        round_trip(&unsigned, &Credentials::new(id, key), scheme, &SignOptions::default(), timestamp)?;
    }

    #[test]
    fn zc2_round_trips_any_body(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        id in "[A-Za-z0-9]{8,24}",
        key in key(),
        timestamp in 0i64..4_102_444_800,
    ) {
        let mut bytes = format!(
            "POST /api/v2/bmc HTTP/1.1\r\nhost: console.zenlayer.com\r\nContent-Type: application/json\r\n\
             x-zc-action: TerminateInstance\r\nx-zc-timestamp: {timestamp}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        let unsigned = Request::parse(&bytes).unwrap();
        round_trip(&unsigned, &Credentials::new(id, key), Scheme::Zc2, &SignOptions::default(), timestamp)?;
    }

    #[test]
    fn bearer_tokens_round_trip(token in "[!-~]{1,80}") {
        let unsigned = Request::parse(b"POST /api/v2/bmc HTTP/1.1\r\nhost: console.zenlayer.com\r\n\r\n").unwrap();
        let signed = signing::sign(&unsigned, &Credentials::new("", token.as_str()), Scheme::Bearer, &SignOptions::default()).unwrap();
        let claim = signing::inspect(&signed.request).unwrap();
        prop_assert!(claim.verify(&signed.request, &Secret::from(token.as_str()), None, &Policy::default(), None).is_ok());
        let wrong = format!("{token}x");
        prop_assert!(claim.verify(&signed.request, &Secret::from(wrong.as_str()), None, &Policy::default(), None).is_err());
    }

    #[test]
    fn verify_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024), now in any::<i64>()) {
        verify_anything(&bytes, now);
    }

    #[test]
    fn verify_never_panics_on_damaged_signed_requests(
        vector in prop::sample::select(&[
            "tc3/tc3-py-post-1id", "tc3/tc3-py-get-2ids", "hmac-sha1/v1-py-hmacsha1-get-1id",
            "hmac-sha256/legacy-qcloudapi-hmacsha256-post", "zc2/zc2-zenlayer-bmc-2022-11-20",
            "bearer/bearer-zenlayer-bmc-2026-02-01",
        ][..]),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        now in any::<i64>(),
    ) {
        let mut bytes = captured(vector).to_bytes();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        verify_anything(&bytes, now);
    }
}

/// Runs everything a verifier runs on received bytes; any outcome is fine but a panic.
fn verify_anything(bytes: &[u8], now: i64) {
    let Ok(request) = Request::parse(bytes) else {
        return;
    };
    let Ok(claim) = signing::inspect(&request) else {
        return;
    };
    let policy = Policy {
        service: Some("cvm".into()),
        ..Policy::default()
    };
    let _ = claim.verify(&request, &Secret::from("key"), Some(now), &policy, None);
    let _ = signing::infer_scheme(&request);
}

/// A flattened parameter name: 1 to 9 segments, each a field name, an index (small, at the bound, or huge), or
/// something odd (empty, signs, dots).
fn flattened_name() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        4 => "[A-Z][A-Za-z]{0,8}",
        4 => (0usize..=102).prop_map(|index| index.to_string()),
        1 => Just("99999999999999999999999".to_owned()),
        1 => "[-+0-9a-z]{0,3}",
    ];
    proptest::collection::vec(segment, 1..10).prop_map(|segments| segments.join("."))
}

/// A mock for the flattened-name property and another for the control API's (whose calls add faults and move the
/// clock); each case is one request on a new connection.
fn property_mock(control: bool) -> &'static terminus::mock::MockServer {
    static NAMES: std::sync::OnceLock<terminus::mock::MockServer> = std::sync::OnceLock::new();
    static CONTROL: std::sync::OnceLock<terminus::mock::MockServer> = std::sync::OnceLock::new();
    let mock = if control { &CONTROL } else { &NAMES };
    mock.get_or_init(|| {
        let world = terminus::world::WorldSpec::from_toml(
            &format!(
                "clock = {{ mode = \"fixed\", at = {} }}\nrate-limit = {{ terminate-per-second = 0 }}\n\
                 [[accounts]]\nsecret-id = \"{}\"\nsecret-key = \"{}\"\n",
                crate::common::SIGNED_AT,
                crate::common::TENCENT_ID,
                crate::common::TENCENT_KEY
            ),
            "properties",
        )
        .expect("the world is valid");
        terminus::mock::MockServer::builder()
            .world(world)
            .start()
            .expect("the mock starts")
    })
}

/// Sends bytes and reads one answer, within a deadline.
fn ask(control: bool, bytes: &[u8]) -> Option<crate::common::raw::Response> {
    use std::io::Write;
    let address = property_mock(control).address();
    let mut stream = std::net::TcpStream::connect(address).expect("the mock accepts connections");
    stream.write_all(bytes).expect("sent");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    match crate::common::raw::read_answer(&mut stream, &mut Vec::new(), deadline, false) {
        crate::common::raw::Answer::Response(response) => Some(response),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn flattened_names_never_panic_and_keep_within_their_depth_and_index_100(
        pairs in proptest::collection::vec((flattened_name(), "[a-z0-9-]{0,12}"), 1..8),
    ) {
        use terminus::provider::tencent::wire::{ActionParams, MAX_INDEX, MAX_NAME_DEPTH};
        let parsed = ActionParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let too_deep = pairs.iter().any(|(name, _)| name.split('.').count() > MAX_NAME_DEPTH);
        let too_large = pairs.iter().any(|(name, _)| {
            name.split('.').skip(1).any(|segment| {
                !segment.is_empty()
                    && segment.bytes().all(|b| b.is_ascii_digit())
                    && segment.parse::<usize>().map_or(true, |index| index > MAX_INDEX)
            })
        });
        match parsed {
            Ok(_) => prop_assert!(!too_deep && !too_large, "accepted {:?}", pairs),
            Err(error) => prop_assert!(
                ["UnknownParameter", "InvalidParameter", "InvalidParameterValue.LimitExceeded"]
                    .contains(&error.code.as_str()),
                "{:?}: {:?}", pairs, error
            ),
        }
        if pairs.len() == 1 && too_deep {
            let error = ActionParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            prop_assert_eq!(error.unwrap_err().code, "UnknownParameter");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn signed_requests_with_any_flattened_names_get_the_api_envelope(
        name in flattened_name(),
        value in "[a-z0-9-]{0,12}",
        get in any::<bool>(),
        nonce in 1u64..1_000_000_000,
    ) {
        let params: serde_json::Map<String, serde_json::Value> =
            std::iter::once((name.clone(), serde_json::Value::from(value))).collect();
        let credentials = Credentials::new(crate::common::TENCENT_ID, crate::common::TENCENT_KEY);
        let call = terminus::provider::Call {
            action: "TerminateInstances",
            params: &params,
            region: Some("ap-guangzhou"),
            version: None,
            credentials: &credentials,
            token: None,
            timestamp: crate::common::SIGNED_AT,
            nonce,
            sign: terminus::provider::SignForm::HmacSha1,
            method: if get { "GET" } else { "POST" },
            headers: &[],
        };
        let Ok((request, _)) = terminus::provider::ProviderId::Tencent.build_request(&call) else {
            return Ok(());
        };
        let response = ask(false, &request.to_bytes());
        prop_assert!(response.is_some(), "no answer for {}", name);
        let response = response.unwrap();
        prop_assert_eq!(response.status, 200);
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        prop_assert!(body.pointer("/Response/RequestId").is_some_and(serde_json::Value::is_string), "{}", body);
    }

    #[test]
    fn the_control_api_answers_any_call_with_a_status_and_json_and_never_panics(
        method in prop::sample::select(&["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"][..]),
        path in prop::sample::select(&["world", "clock", "faults", "instances/ins-00000000", "instances/", "x", ""][..]),
        media_type in prop::sample::select(&["application/json", "application/toml", "text/plain", ""][..]),
        token in any::<bool>(),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            // Numbers from the whole i64 range and past it (issue 21 point 11: clock arithmetic is checked).
            "\\{\"(advance|set|kind|action|count|status|fraction)\": ?(-?[0-9]{1,20}|\"[a-z]{0,8}\"|null|1e999)\\}"
                .prop_map(String::into_bytes),
            "(seed|region|clock|rate-limit) = (\"[a-z]{0,6}\"|-?[0-9]{1,20}|\\{ mode = \"fixed\", at = -?[0-9]{1,20} \\})"
                .prop_map(String::into_bytes),
        ],
    ) {
        // Never the world: replacing it would only make later cases differ; every other call is fair game.
        let (method, path) = if method == "PUT" && path == "world" { ("POST", "world") } else { (method, path) };
        let mut head = format!("{method} /__terminus/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n", body.len());
        if !media_type.is_empty() {
            head.push_str(&format!("Content-Type: {media_type}\r\n"));
        }
        if token {
            head.push_str("X-Terminus-Token: any\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&body);
        let response = ask(true, &bytes);
        prop_assert!(response.is_some(), "no answer");
        let response = response.unwrap();
        prop_assert!([200, 400, 404, 405, 413, 415].contains(&response.status), "{}", response.status);
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&response.body).is_ok());
        // Still answering.
        let clock = ask(true, b"GET /__terminus/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        prop_assert!(clock.is_some_and(|clock| clock.status == 200));
    }
}

/// The exact end of a transition started at `now` lasting `seconds`, and whether it has come by `then`, in wide
/// integers: the expectation the world's checked arithmetic must meet (a transition that ends past `i64::MAX`
/// never comes; the last second of the range is the end of time).
fn reboot_over(now: i64, seconds: u32, then: i64) -> bool {
    let end = i128::from(now) + i128::from(seconds);
    if seconds == 0 {
        return true;
    }
    end < i128::from(i64::MAX) && end <= i128::from(then)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Issue 21, point 11: clocks, timings and advances from the whole range; a reboot never panics (debug builds
    /// check overflow), and is over exactly when the wide-integer sum says.
    #[test]
    fn a_reboot_ends_when_its_checked_sum_says_for_any_clock_and_duration(
        now in prop_oneof![any::<i64>(), (i64::MAX - 100_000)..=i64::MAX, i64::MIN..=(i64::MIN + 100_000)],
        seconds in prop_oneof![any::<u32>(), 0u32..100],
        advance in prop_oneof![any::<i64>(), 0i64..100_000],
    ) {
        use terminus::world::lifecycle::Change;
        use terminus::world::{World, WorldSpec};
        let spec = WorldSpec::from_toml(
            &format!(
                "clock = {{ mode = \"fixed\", at = {now} }}\ntimings = {{ reboot = {seconds} }}\n\
                 [[accounts]]\nsecret-id = \"AKIDowner\"\nsecret-key = \"k\"\nowner = \"100000000001\"\n\
                 [[instances]]\nid = \"ins-clock001\"\nregion = \"ap-guangzhou\"\n"
            ),
            "test",
        )
        .unwrap();
        let mut world = World::new(spec);
        let ids = ["ins-clock001".to_owned()];
        prop_assert!(world.change_state("100000000001", "ap-guangzhou", &ids, Change::Reboot, "r").is_ok());
        world.settle();
        let state = |world: &World| format!("{:?}", world.instance("ins-clock001").unwrap().state);
        let expected = |over: bool| if over { "Running" } else { "Rebooting" };
        prop_assert_eq!(state(&world), expected(reboot_over(now, seconds, now)));
        world.clock.advance(advance);
        let then = world.clock.now();
        prop_assert_eq!(then, now.saturating_add(advance));
        world.settle();
        prop_assert_eq!(state(&world), expected(reboot_over(now, seconds, then)));
    }
}
