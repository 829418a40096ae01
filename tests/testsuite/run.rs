//! `terminus run` hides nothing: every selected case ends as passed, failed or error and is printed, counted and
//! in the reports; a case that cannot be carried out as written is an error, never a pass; a run that selects no
//! case or cannot write a report it was asked for is a usage error (exit 2), with the reason.

use std::path::Path;
use std::process::Command;

use rstest::rstest;

use crate::common::binary::text;
use crate::common::cases::{CaseTree, HEAD, passing};

#[test]
fn a_case_that_used_to_panic_is_reported_as_an_error_in_every_report() {
    // A GET step whose only query parameter is empty: the body tamper once indexed past the end of the query,
    // and the panicking case vanished from the output, the counts and the reports, with exit 0.
    let tampered = format!(
        "{HEAD}\n[[step]]\nmethod = \"GET\"\ntamper = \"body\"\nparams = {{ InstanceIds = [\"\"] }}\nexpect.error = \"AuthFailure.SignatureFailure\"\n"
    );
    let tree = CaseTree::new(
        "run-contract",
        "panic",
        &[
            ("tencent/terminate-instances/get-tamper", &tampered),
            ("tencent/terminate-instances/good", &passing()),
        ],
    );
    let (json, junit) = (tree.root.join("report.json"), tree.root.join("junit.xml"));
    let output = tree.run(&[
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ERR  tencent/terminate-instances/get-tamper"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "tamper = \"body\": the request has no body and no query parameter with a value"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 0 failed, 1 error"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let statuses: Vec<(&str, &str)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["id"].as_str().unwrap(),
                case["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("tencent/terminate-instances/get-tamper", "error"),
            ("tencent/terminate-instances/good", "passed")
        ]
    );
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("tests=\"2\""), "{junit}");
    assert!(junit.contains("errors=\"1\""), "{junit}");
}

#[rstest]
#[case::a_header_that_is_not_there(
    "drop-header",
    "tamper = { drop-header = \"X-Not-Sent\" }\nparams = { InstanceIds = [\"ins-nosuch01\"] }\nexpect.error = \"InvalidInstanceId.NotFound\"",
    "changes nothing"
)]
#[case::the_body_of_a_bodiless_get_without_parameters(
    "get-body",
    "method = \"GET\"\ntamper = \"body\"\nexpect.error = \"MissingParameter\"",
    "no body and no query parameter"
)]
#[case::the_signature_of_an_unsigned_request(
    "unsigned",
    "sign = \"none\"\ntamper = \"signature\"\nparams = { InstanceIds = [\"ins-nosuch01\"] }\nexpect.error = \"AuthFailure.SignatureFailure\"",
    "changes nothing"
)]
fn a_tamper_that_changes_nothing_is_an_error_not_a_pass(
    #[case] name: &str,
    #[case] step: &str,
    #[case] reason: &str,
) {
    let case = format!("{HEAD}\n[[step]]\n{step}\n");
    let tree = CaseTree::new(
        "run-contract",
        name,
        &[("tencent/terminate-instances/noop", &case)],
    );
    let output = tree.run(&[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ERR  tencent/terminate-instances/noop"),
        "{stdout}"
    );
    assert!(stdout.contains(reason), "{stdout}");
    assert!(stdout.contains("0 passed, 0 failed, 1 error"), "{stdout}");
}

#[rstest]
#[case::an_unknown_tag(&["--tag", "nosuchtag"], "no case selected: ")]
#[case::a_filter_with_a_typo(&["--filter", "unkown-instance"], "whose id contains \"unkown-instance\"")]
fn selecting_no_case_is_a_usage_error(#[case] selection: &[&str], #[case] reason: &str) {
    let tree = CaseTree::new(
        "run-contract",
        selection[1],
        &[("tencent/terminate-instances/good", &passing())],
    );
    let output = tree.run(selection);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(reason), "{stderr}");
}

#[test]
fn a_provider_directory_passed_as_the_cases_directory_is_a_usage_error() {
    // `--cases` takes the root holding `<provider>/<action>/<scenario>.toml`, not a provider's directory.
    let output = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["run", "--cases"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("cases/tencent"))
        .output()
        .expect("the terminus binary runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no case selected"), "{stderr}");
}

#[test]
fn a_cases_directory_without_cases_is_a_usage_error() {
    let tree = CaseTree::new("run-contract", "empty", &[]);
    let output = tree.run(&[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no case selected"), "{stderr}");
}

#[rstest]
#[case::junit("--junit", "no/such/dir/junit.xml")]
#[case::json("--json", "no/such/dir/report.json")]
#[case::record("--record", "a-file/not-a-dir")]
fn a_report_that_cannot_be_written_is_a_usage_error(#[case] flag: &str, #[case] path: &str) {
    let tree = CaseTree::new(
        "run-contract",
        &flag[2..],
        &[("tencent/terminate-instances/good", &passing())],
    );
    // `a-file` is a file, so nothing can be created below it.
    std::fs::write(tree.root.join("a-file"), "").unwrap();
    let path = tree.root.join(path);
    let output = tree.run(&[flag, path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
}

/// A one-step case on a world of `instances`, with `faults` (TOML array) and the step's extra lines.
fn one_step(instances: &[&str], faults: &str, step: &str) -> String {
    let instances = instances
        .iter()
        .map(|id| format!("{{ id = \"{id}\" }}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{HEAD}\n[world]\ninstances = [{instances}]\nfaults = {faults}\n\n[[step]]\n{step}\n")
}

#[rstest]
#[case::a_delay_that_did_not_happen(
    "no-delay",
    one_step(&["ins-late0001"], "[]", "params = { InstanceIds = [\"ins-late0001\"] }\nexpect.elapsed = { at-least = \"400ms\" }"),
    "expected the answer to take at least 400ms, it took "
)]
#[case::a_delay_longer_than_allowed(
    "too-slow",
    one_step(&["ins-late0001"], "[{ kind = \"latency\", millis = 300 }]", "params = { InstanceIds = [\"ins-late0001\"] }\nexpect.elapsed = { at-most = \"100ms\" }"),
    "expected the answer to take at most 100ms, it took "
)]
#[case::a_client_timeout_is_not_a_dropped_connection(
    "timeout",
    one_step(&["ins-late0001"], "[{ kind = \"latency\", millis = 5000 }]", "timeout = \"200ms\"\nparams = { InstanceIds = [\"ins-late0001\"] }\nexpect.dropped = true"),
    "expected the connection to close without an answer, but the client stopped waiting after 200ms"
)]
#[case::one_instance_of_the_batch_left_running(
    "every",
    one_step(&["ins-all00001", "ins-all00002", "ins-all00003"], "[]", "params = { InstanceIds = [\"ins-all00001\", \"ins-all00002\"] }\nexpect.every-instance = \"TERMINATED\""),
    "instance ins-all00003: expected TERMINATED (every instance), is RUNNING"
)]
fn an_expectation_that_does_not_hold_fails_the_case(
    #[case] name: &str,
    #[case] case: String,
    #[case] message: &str,
) {
    let tree = CaseTree::new(
        "run-contract",
        name,
        &[("tencent/terminate-instances/expectation", &case)],
    );
    let output = tree.run(&[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL tencent/terminate-instances/expectation"),
        "{stdout}"
    );
    assert!(stdout.contains(message), "{stdout}");
}

#[test]
fn the_expectations_hold_when_the_target_does_what_they_say() {
    let case = one_step(
        &["ins-late0001"],
        "[{ kind = \"latency\", millis = 300 }]",
        "params = { InstanceIds = [\"ins-late0001\"] }\nexpect.elapsed = { at-least = \"300ms\", at-most = \"10s\" }\nexpect.every-instance = \"TERMINATED\"",
    );
    let tree = CaseTree::new(
        "run-contract",
        "hold",
        &[("tencent/terminate-instances/expectation", &case)],
    );
    let output = tree.run(&[]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 passed, 0 failed, 0 errors"), "{stdout}");
}
