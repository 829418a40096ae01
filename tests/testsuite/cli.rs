//! The command line's contract, which tools and checks rely on: exit status 0 / 1 / 2 and what is printed.

use std::io::Write;
use std::process::{Command, Stdio};

use rstest::rstest;

use crate::common::binary::{terminus, text};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, captured};

#[test]
fn verify_says_signature_ok_and_exits_0() {
    let output = terminus(
        &["verify", "--secret-key", TENCENT_KEY, "-"],
        &captured("tc3/tc3-py-post-1id").to_bytes(),
    );
    assert_eq!(
        (output.status.code(), text(&output.stdout)),
        (Some(0), "signature ok (TC3-HMAC-SHA256)\n".into())
    );
}

#[test]
fn verify_names_the_failing_step_and_exits_1() {
    let now = (SIGNED_AT + 301).to_string();
    let output = terminus(
        &["verify", "--secret-key", TENCENT_KEY, "--now", &now, "-"],
        &captured("tc3/tc3-py-post-1id").to_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout)
            .starts_with("signature rejected (TC3-HMAC-SHA256) at timestamp: signature expired"),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn verify_takes_the_key_from_the_environment_so_it_stays_out_of_ps() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["verify", "-"])
        .env("TERMINUS_SECRET_KEY", TENCENT_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&captured("tc3/tc3-py-post-1id").to_bytes())
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
}

#[test]
fn sign_prints_the_input_plus_the_authorization_the_sdk_sent() {
    let captured = captured("tc3/tc3-py-post-1id");
    let mut unsigned = captured.clone();
    unsigned.remove_header("authorization");
    let output = terminus(
        &[
            "sign",
            "--secret-id",
            TENCENT_ID,
            "--secret-key",
            TENCENT_KEY,
            "-",
        ],
        &unsigned.to_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let mut expected = unsigned;
    expected.headers.push((
        "Authorization".into(),
        captured.header("authorization").unwrap().into(),
    ));
    assert_eq!(text(&output.stdout), text(&expected.to_bytes()));
}

#[test]
fn sign_appends_the_url_encoded_signature_parameter_the_sdk_sent() {
    let captured = captured("hmac-sha1/v1-py-hmacsha1-get-1id");
    let (unsigned_query, _) = captured.query().rsplit_once("&Signature=").unwrap();
    let mut unsigned = captured.clone();
    unsigned.set_query(unsigned_query);
    let output = terminus(
        &[
            "sign",
            "--secret-id",
            TENCENT_ID,
            "--secret-key",
            TENCENT_KEY,
            "-",
        ],
        &unsigned.to_bytes(),
    );
    assert_eq!(
        text(&output.stdout),
        text(&captured.to_bytes()),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn sign_trace_prints_every_step_before_the_request() {
    let mut unsigned = captured("zc2/zc2-zenlayer-bmc-2022-11-20");
    unsigned.remove_header("authorization");
    let output = terminus(
        &[
            "sign",
            "--secret-id",
            "ZLAKIDEXAMPLE0001",
            "--secret-key",
            "ZLsecretEXAMPLEpassword0001",
            "--trace",
            "-",
        ],
        &unsigned.to_bytes(),
    );
    let headings: Vec<String> = text(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("== "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        headings,
        [
            "== hashed-payload",
            "== canonical-request",
            "== hashed-canonical-request",
            "== string-to-sign",
            "== signature",
            "== authorization",
            "== signed-request"
        ]
    );
}

#[rstest]
#[case::not_http(b"hello\n".as_slice(), "not an HTTP/1.1 request")]
#[case::head_never_ends(b"POST / HTTP/1.1\r\nHost: a\r\n".as_slice(), "does not end with a blank line")]
#[case::no_host(b"POST / HTTP/1.1\r\nAuthorization: TC3-HMAC-SHA256 x\r\n\r\n".as_slice(), "no Host header")]
#[case::no_signature(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n".as_slice(), "carries no signature")]
#[case::unknown_scheme(
    b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: AWS4-HMAC-SHA256 Credential=x\r\n\r\n".as_slice(),
    "unknown signing scheme \"AWS4-HMAC-SHA256\""
)]
#[case::malformed_tc3(
    b"POST / HTTP/1.1\r\nHost: a\r\nX-TC-Timestamp: 1\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, Signature=ab\r\n\r\n".as_slice(),
    "malformed Authorization header: no SignedHeaders="
)]
#[case::tc3_without_timestamp(
    b"POST / HTTP/1.1\r\nHost: a\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=ab\r\n\r\n".as_slice(),
    "no X-TC-Timestamp header"
)]
#[case::timestamp_not_a_number(
    b"POST / HTTP/1.1\r\nHost: a\r\nX-TC-Timestamp: soon\r\nAuthorization: TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=ab\r\n\r\n".as_slice(),
    "X-TC-Timestamp \"soon\" is not a Unix time in seconds"
)]
#[case::param_without_secret_id(b"GET /?Signature=x&Timestamp=1 HTTP/1.1\r\nHost: a\r\n\r\n".as_slice(), "no SecretId parameter")]
#[case::truncated_body(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{}".as_slice(), "the body has 2 bytes but Content-Length says 10")]
fn unusable_input_exits_2_with_the_reason(#[case] input: &[u8], #[case] reason: &str) {
    let output = terminus(&["verify", "--secret-key", "k", "-"], input);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains(reason),
        "stderr {:?} lacks {reason:?}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn sign_refuses_a_request_whose_scheme_it_cannot_tell() {
    let output = terminus(
        &["sign", "--secret-id", "a", "--secret-key", "b", "-"],
        b"POST / HTTP/1.1\r\nHost: a\r\n\r\n{}",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("pass --scheme"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn sign_refuses_a_secret_id_other_than_the_one_the_parameters_name() {
    let captured = captured("hmac-sha1/v1-py-hmacsha1-get-1id");
    let output = terminus(
        &[
            "sign",
            "--secret-id",
            "AKIDother",
            "--secret-key",
            TENCENT_KEY,
            "-",
        ],
        &captured.to_bytes(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("SecretId parameter"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_missing_file_is_named() {
    let output = terminus(
        &["verify", "--secret-key", "k", "/nonexistent/request.http"],
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cannot read /nonexistent/request.http"));
}
