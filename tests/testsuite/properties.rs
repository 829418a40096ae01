//! Properties over arbitrary inputs: every scheme round-trips sign → bytes → parse → verify, and verification
//! never panics, whatever the bytes.

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
