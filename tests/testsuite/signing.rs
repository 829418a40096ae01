//! Verification rules beyond the vectors: scope, signed headers, expiry, and what is deliberately not signed.
//! Each test starts from a request captured from an official SDK, so the starting point is outside evidence.

use rstest::rstest;
use terminus::message::Request;
use terminus::signing::{self, Credentials, Policy, Rejection, Scheme, Secret, SignOptions};

use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, captured};

fn verify(request: &Request, now: Option<i64>, policy: &Policy) -> Result<(), Rejection> {
    let claim = signing::inspect(request).expect("a usable signed request");
    claim
        .verify(request, &Secret::from(TENCENT_KEY), now, policy, None)
        .map(drop)
}

/// The captured Python SDK request with one part of its Authorization header replaced.
fn with_authorization(from: &str, to: &str) -> Request {
    let mut request = captured("tc3/tc3-py-post-1id");
    let authorization = request.header("authorization").unwrap().replace(from, to);
    request.set_header("Authorization", authorization);
    request
}

#[test]
fn the_captured_request_verifies_as_sent() {
    assert_eq!(
        verify(
            &captured("tc3/tc3-py-post-1id"),
            Some(SIGNED_AT),
            &Policy::default()
        ),
        Ok(())
    );
}

#[test]
fn a_scope_dated_in_beijing_time_is_rejected_before_the_signature() {
    // 1700000000 is 2023-11-15 in UTC+8; the scope must carry the UTC date, 2023-11-14.
    let request = with_authorization("/2023-11-14/", "/2023-11-15/");
    let rejection = verify(&request, None, &Policy::default()).unwrap_err();
    assert!(
        matches!(&rejection, Rejection::ScopeDate { scope, expected, .. } if scope == "2023-11-15" && expected == "2023-11-14")
    );
    assert_eq!(rejection.step(), "credential-scope");
}

#[test]
fn a_scope_for_another_service_is_rejected_when_the_endpoint_names_its_service() {
    let request = with_authorization("/cvm/", "/cbs/");
    let policy = Policy {
        service: Some("cvm".into()),
        ..Policy::default()
    };
    let rejection = verify(&request, None, &policy).unwrap_err();
    assert!(
        matches!(&rejection, Rejection::ScopeService { scope, expected } if scope == "cbs" && expected == "cvm")
    );
}

#[test]
fn a_scope_not_ending_in_tc3_request_is_rejected() {
    let request = with_authorization("/tc3_request", "/aws4_request");
    assert!(
        matches!(verify(&request, None, &Policy::default()), Err(Rejection::ScopeTerminator(t)) if t == "aws4_request")
    );
}

#[rstest]
#[case::without_host("content-type", "host")]
#[case::without_content_type("host", "content-type")]
#[case::only_the_action("x-tc-action", "content-type")]
fn signed_headers_must_include_host_and_content_type(
    #[case] signed_headers: &str,
    #[case] missing: &'static str,
) {
    // A correctly computed signature over too few headers: the rule, not the arithmetic, rejects it.
    let mut unsigned = captured("tc3/tc3-py-post-1id");
    unsigned.remove_header("authorization");
    let options = SignOptions {
        signed_headers: Some(signed_headers.into()),
        ..SignOptions::default()
    };
    let signed = signing::sign(
        &unsigned,
        &Credentials::new(TENCENT_ID, TENCENT_KEY),
        Scheme::Tc3,
        &options,
    )
    .unwrap();
    let rejection = verify(&signed.request, None, &Policy::default()).unwrap_err();
    assert_eq!(
        rejection,
        Rejection::SignedHeaders {
            signed_headers: signed_headers.into(),
            missing
        }
    );
}

#[test]
fn a_signed_header_absent_from_the_request_is_named() {
    let mut request = with_authorization(
        "SignedHeaders=content-type;host",
        "SignedHeaders=content-type;host;x-tc-region",
    );
    request.remove_header("x-tc-region");
    assert_eq!(
        verify(&request, None, &Policy::default()),
        Err(Rejection::SignedHeaderAbsent("x-tc-region".into()))
    );
}

#[rstest]
#[case::tc3("tc3/tc3-py-post-1id")]
#[case::hmac_sha1("hmac-sha1/v1-py-hmacsha1-get-1id")]
#[case::hmac_sha256("hmac-sha256/legacy-qcloudapi-hmacsha256-post")]
fn five_minutes_either_way_is_accepted_and_one_second_more_is_not(#[case] vector: &str) {
    let request = captured(vector);
    let policy = Policy::default();
    for now in [SIGNED_AT - 300, SIGNED_AT, SIGNED_AT + 300] {
        assert_eq!(
            verify(&request, Some(now), &policy),
            Ok(()),
            "now = timestamp {:+}",
            now - SIGNED_AT
        );
    }
    for now in [SIGNED_AT - 301, SIGNED_AT + 301] {
        let rejection = verify(&request, Some(now), &policy).unwrap_err();
        assert_eq!(
            rejection,
            Rejection::Expired {
                timestamp: SIGNED_AT,
                now,
                max_skew: 300
            }
        );
        assert_eq!(rejection.step(), "timestamp");
    }
}

#[test]
fn the_zenlayer_window_is_a_parameter_because_zenlayer_documents_none() {
    let request = captured("zc2/zc2-zenlayer-bmc-2022-11-20");
    let claim = signing::inspect(&request).unwrap();
    let wide = Policy {
        max_skew: 3600,
        ..Policy::default()
    };
    let key = "ZLsecretEXAMPLEpassword0001";
    assert!(
        claim
            .verify(
                &request,
                &Secret::from(key),
                Some(SIGNED_AT + 3600),
                &wide,
                None
            )
            .is_ok()
    );
    assert!(
        claim
            .verify(
                &request,
                &Secret::from(key),
                Some(SIGNED_AT + 3601),
                &wide,
                None
            )
            .is_err()
    );
}

#[rstest]
#[case::action("X-TC-Action", "DescribeInstances")]
#[case::region("X-TC-Region", "ap-shanghai")]
#[case::version("X-TC-Version", "2099-01-01")]
#[case::language("X-TC-Language", "en-US")]
#[case::user_agent("User-Agent", "curl/8")]
#[case::token("X-TC-Token", "another-token")]
fn headers_outside_signed_headers_may_change_without_breaking_the_signature(
    #[case] name: &str,
    #[case] value: &str,
) {
    // The official SDKs sign only content-type;host. Everything else (even X-TC-Action) is outside the canonical
    // request, so a change there leaves the signature valid: the mock must apply its own checks to these headers.
    let mut request = captured("tc3/tc3-py-post-1id");
    request.set_header(name, value);
    assert_eq!(
        verify(&request, Some(SIGNED_AT), &Policy::default()),
        Ok(())
    );
}

#[test]
fn a_signed_header_changed_only_in_case_still_verifies_because_values_are_lowercased() {
    // The documentation lowercases header values in the canonical request (`x-tc-action:describeinstances`).
    let mut request = captured("tc3/tc3-py-post-1id");
    request.set_header("Host", "CVM.TencentCloudAPI.com");
    assert_eq!(
        verify(&request, Some(SIGNED_AT), &Policy::default()),
        Ok(())
    );
}

#[test]
fn with_a_reference_trace_a_changed_body_is_named_by_its_payload_hash() {
    let original = captured("tc3/tc3-py-post-1id");
    let mut unsigned = original.clone();
    unsigned.remove_header("authorization");
    let signer = signing::sign(
        &unsigned,
        &Credentials::new(TENCENT_ID, TENCENT_KEY),
        Scheme::Tc3,
        &SignOptions::default(),
    )
    .unwrap();
    let mut received = original;
    received.set_body(br#"{"InstanceIds": ["ins-r8hr2upz"]}"#.to_vec());
    let claim = signing::inspect(&received).unwrap();
    let rejection = claim
        .verify(
            &received,
            &Secret::from(TENCENT_KEY),
            None,
            &Policy::default(),
            Some(&signer.trace),
        )
        .unwrap_err();
    assert_eq!(rejection.step(), "hashed-payload");
    assert!(
        rejection.to_string().starts_with(
            "payload hash differs: signed 133464d95ab078428ea6fefee1339249fcbdf76f6438f4302f54fe35e7008a84, body hashes to "
        ),
        "{rejection}"
    );
}

#[test]
fn rejections_never_quote_a_whole_signature() {
    let request = captured("tc3/tc3-py-post-1id");
    let claim = signing::inspect(&request).unwrap();
    let rejection = claim
        .verify(
            &request,
            &Secret::from("wrong-key"),
            None,
            &Policy::default(),
            None,
        )
        .unwrap_err();
    let message = rejection.to_string();
    assert!(
        !message.contains("f130c7ab70fcfa761b5be6d67d4179649b3f869fae9a62d840c3f2fdc1d510a9"),
        "{message}"
    );
    assert!(message.contains("f130c7ab…"), "{message}");
}

#[test]
fn credentials_never_show_their_key_when_debugged() {
    let debugged = format!("{:?}", Credentials::new(TENCENT_ID, TENCENT_KEY));
    assert!(
        debugged.contains(TENCENT_ID) && !debugged.contains(TENCENT_KEY),
        "{debugged}"
    );
}

#[test]
fn a_world_never_shows_keys_or_tokens_when_debugged() {
    let mut world = terminus::world::WorldSpec::default_world();
    let mut first = true;
    world.accounts.update_all(|account| {
        if std::mem::take(&mut first) {
            account.token = Some("tokenEXAMPLE0001".into());
        }
    });
    let debugged = format!("{:?}", terminus::world::World::new(world));
    assert!(
        !debugged.contains(TENCENT_KEY) && !debugged.contains("tokenEXAMPLE0001"),
        "{debugged}"
    );
}
