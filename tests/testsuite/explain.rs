//! `terminus verify` on a rejection: the recomputed steps (`--trace`), the step a signer's own trace departs
//! from (`--expect`), and the common client mistake that explains it; `terminus serve`'s log line per request.

use std::path::Path;
use std::time::Duration;

use crate::common::TENCENT_KEY;
use crate::common::binary::{Served, terminus, text};

const UNSIGNED: &str = "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
    X-TC-Action: TerminateInstances\r\nX-TC-Timestamp: 1700000000\r\nContent-Length: 32\r\n\r\n\
    {\"InstanceIds\":[\"ins-r8hr2upy\"]}";

/// `terminus sign --format json` of [`UNSIGNED`], signing these headers.
fn signed(signed_headers: &str) -> serde_json::Value {
    let output = terminus(
        &[
            "sign",
            "--secret-id",
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "--secret-key",
            TENCENT_KEY,
            "--signed-headers",
            signed_headers,
            "--format",
            "json",
            "-",
        ],
        UNSIGNED.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn verify_trace_prints_the_recomputed_steps_on_a_rejection_too() {
    let request = signed("content-type;host")["request"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = terminus(
        &["verify", "--secret-key", "not-the-key", "--trace", "-"],
        request.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    let out = text(&output.stdout);
    assert!(
        out.starts_with("signature rejected (TC3-HMAC-SHA256) at signature"),
        "{out}"
    );
    assert!(
        out.contains("recomputed with the given key:\n== hashed-payload\n"),
        "{out}"
    );
    assert!(out.contains("== canonical-request\nPOST\n/\n\ncontent-type:application/json\nhost:cvm.tencentcloudapi.com\n"), "{out}");
    assert!(
        out.contains(
            "== string-to-sign\nTC3-HMAC-SHA256\n1700000000\n2023-11-14/cvm/tc3_request\n"
        ),
        "{out}"
    );
}

#[test]
fn verify_expect_names_the_canonical_headers_not_the_key_when_the_signed_header_names_differ() {
    let document = signed("content-type;host;x-tc-action");
    // The request a client sent: it names fewer headers than its signer signed.
    let request = document["request"].as_str().unwrap().replace(
        "SignedHeaders=content-type;host;x-tc-action",
        "SignedHeaders=content-type;host",
    );
    let expect = std::env::temp_dir().join(format!(
        "terminus-explain-expect-{}.json",
        std::process::id()
    ));
    std::fs::write(&expect, document.to_string()).unwrap();
    let output = terminus(
        &[
            "verify",
            "--secret-key",
            TENCENT_KEY,
            "--expect",
            expect.to_str().unwrap(),
            "-",
        ],
        request.as_bytes(),
    );
    std::fs::remove_file(&expect).ok();
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("signature rejected (TC3-HMAC-SHA256) at canonical-request: canonical request differs at line 6: signed \"x-tc-action:terminateinstances\""),
        "{out}"
    );
    assert!(!out.contains("secret key"), "{out}");
}

#[test]
fn verify_names_signed_header_names_in_upper_case() {
    let request = signed("Content-Type;Host")["request"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = terminus(
        &["verify", "--secret-key", TENCENT_KEY, "-"],
        request.as_bytes(),
    );
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.starts_with("signature rejected (TC3-HMAC-SHA256) at signed-headers: SignedHeaders \"Content-Type;Host\" names headers in upper case"), "{out}");
}

#[test]
fn verify_names_a_body_re_serialised_after_signing() {
    let request = signed("content-type;host")["request"]
        .as_str()
        .unwrap()
        .replace(
            "{\"InstanceIds\":[\"ins-r8hr2upy\"]}",
            "{\"InstanceIds\": [\"ins-r8hr2upy\"]}",
        )
        .replace("Content-Length: 32", "Content-Length: 33");
    let output = terminus(
        &["verify", "--secret-key", TENCENT_KEY, "-"],
        request.as_bytes(),
    );
    let out = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "\nlikely cause (body-reserialised-compact): the body was re-serialised after signing"
        ),
        "{out}"
    );
}

#[test]
fn serve_logs_one_json_line_per_request_to_stderr_without_secrets() {
    let served = Served::start(Path::new("."), &["--log-format", "json"]);
    let uri = served.uri.clone();
    let answer = crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .post(uri + "/")
        .header("X-TC-Action", "TerminateInstances")
        .header("X-TC-Token", "sessionSECRET")
        .body("{}")
        .send();
    let log = served.next_log_line();
    served.finish();
    assert!(answer.is_ok());
    let line: serde_json::Value =
        serde_json::from_str(&log).unwrap_or_else(|_| panic!("not JSON: {log}"));
    assert_eq!(line["target"], "terminus::request", "{log}");
    assert_eq!(line["fields"]["provider"], "tencent", "{log}");
    assert_eq!(line["fields"]["action"], "TerminateInstances", "{log}");
    assert_eq!(line["fields"]["verdict"], "error", "{log}");
    assert_eq!(
        line["fields"]["code"], "AuthFailure.InvalidAuthorization",
        "{log}"
    );
    assert!(!log.contains("sessionSECRET"), "{log}");
}

/// Log lines are written in batches: one answered just before the server is told to stop is still written, and
/// the server ends with status 0 on SIGTERM and SIGINT alike.
#[cfg(unix)]
#[rstest::rstest]
#[case("TERM")]
#[case("INT")]
fn a_stopped_serve_writes_the_log_lines_it_holds_and_exits_0(#[case] signal: &str) {
    let served = Served::start(Path::new("."), &[]);
    let client = crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for n in 0..20 {
        let answer = client
            .post(served.uri.clone() + "/")
            .header("X-TC-Action", format!("Action{n}"))
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let (code, stderr) = served.stop_with(signal);
    assert_eq!(code, Some(0), "{stderr}");
    for n in 0..20 {
        assert!(
            stderr.contains(&format!("action=\"Action{n}\"")),
            "the line of request {n} is missing:\n{stderr}"
        );
    }
}

#[test]
fn serve_quiet_logs_only_rejected_signatures_with_their_mistake() {
    use crate::journal::{AT, Signing, authorization};
    let served = Served::start(Path::new("."), &["--quiet"]);
    let uri = served.uri.clone();
    let client = crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // A world that names nothing: the fixed clock and the example accounts.
    let put = client
        .put(uri.clone() + "/__terminus/world")
        .header("Content-Type", "application/toml")
        .body("seed = 1\n")
        .send()
        .expect("the control API answers");
    assert_eq!(put.status(), 200);
    // Refused, but not for its signature: not logged under --quiet.
    client.post(uri.clone() + "/").body("{}").send().unwrap();
    let host = uri.trim_start_matches("http://").to_owned();
    let signed = authorization(&Signing::documented(&host));
    client
        .post(uri + "/")
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "TerminateInstances")
        .header("X-TC-Version", "2017-03-12")
        .header("X-TC-Region", "ap-guangzhou")
        .header("X-TC-Timestamp", AT.to_string())
        .header("Authorization", signed)
        .body(r#"{"InstanceIds": ["ins-r8hr2upy"]}"#)
        .send()
        .unwrap();
    let log = served.next_log_line();
    served.finish();
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes off a terminal: {log}"
    );
    assert!(
        log.contains(" WARN terminus::request: POST / 200 AuthFailure.SignatureFailure"),
        "{log}"
    );
    assert!(log.contains("AuthFailure.SignatureFailure"), "{log}");
    assert!(
        log.contains("mistake=\"body-reserialised-compact\"")
            || log.contains("mistake=body-reserialised-compact"),
        "{log}"
    );
}
