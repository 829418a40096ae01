//! Careless and hostile input to the command line (issue 9, points 4, 7, 8, 10, 11): every flag, file and case
//! that used to panic, hang, loop, leak a secret or pass silently gets a clear error, a documented bound or a
//! redaction. Each test runs the binary with a deadline, in a temporary directory of its own.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::binary::{Served, terminus_within, write};

const DEADLINE: Duration = Duration::from_secs(30);

// ---- point 7: tokens in run's failure output and reports

#[test]
fn a_failed_signing_stage_check_prints_no_session_token_in_output_json_or_junit() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/token-stage.toml",
        r#"
title = "a signing stage that differs, on a request carrying a session token"
source = { doc = "test", quote = "test" }
live = "mock-only"

[[world.accounts]]
secret-id = "AKIDcanary0001"
secret-key = "CANARYkeyPoint7"
token = "CANARYtokenPoint7"

[[world.instances]]
id = "ins-canary01"

[[step]]
sign = "hmac-sha256"
params = { InstanceIds = ["ins-canary01"] }
expect.signed = { string-to-sign = "not what the signer computes" }
"#,
    );
    let run = terminus_within(
        dir.path(),
        &[
            "run", "--cases", "cases", "--json", "r.json", "--junit", "r.xml",
        ],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.contains("Token=[REDACTED]"), "{}", run.stdout);
    for (what, text) in [
        ("stdout", run.stdout),
        ("stderr", run.stderr),
        (
            "json",
            std::fs::read_to_string(dir.path().join("r.json")).unwrap(),
        ),
        (
            "junit",
            std::fs::read_to_string(dir.path().join("r.xml")).unwrap(),
        ),
    ] {
        assert!(!text.contains("CANARY"), "{what} holds a secret:\n{text}");
    }
}

// ---- point 8: secrets in parse errors and in verify's JSON

/// World files broken on, or next to, the line that holds a key, and keys pasted into typed fields.
const BROKEN_ACCOUNTS: [&str; 14] = [
    "secret-key = \"CANARYkey8",
    "secret-key = CANARYkey8",
    "secret-key = \"CANARYkey8\" trailing",
    "secret-key = 'CANARYkey8",
    "secret-key = \"\"\"CANARYkey8",
    "secret-key = \"CANARYkey8\\q\"",
    "secret-key = [\"CANARYkey8\"]",
    "secret-key = \"CANARYkey8\"\nsecret-key = \"CANARYkey8b\"",
    "secret-key = \"CANARYkey8\"\nmfa = \"CANARYkey8\"",
    "secret-key = \"CANARYkey8\"\nreturn-quota = \"CANARYkey8\"",
    "secret-key = \"CANARYkey8\"\ndisabled = \"CANARYkey8\"",
    "secret-key = \"CANARYkey8\"\ntoken = 7\nbearer-token = \"CANARYkey8",
    "secret-key = \"CANARYkey8\"\nowner = CANARYkey8",
    "secret-key = \"CANARYkey8\"\n[[instances]]\nid = \"ins-1\"\nstate = \"CANARYkey8\"",
];

fn broken_world(variant: &str) -> String {
    format!("[[accounts]]\nsecret-id = \"AKIDcanary0001\"\n{variant}\n")
}

#[test]
fn a_broken_world_file_is_refused_without_quoting_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    for variant in BROKEN_ACCOUNTS {
        std::fs::write(dir.path().join("world.toml"), broken_world(variant)).unwrap();
        let run = terminus_within(
            dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--world", "world.toml"],
            DEADLINE,
        );
        assert_eq!(run.code, Some(2), "{variant}: {}", run.stderr);
        assert!(run.stderr.contains("world.toml: line "), "{}", run.stderr);
        assert!(
            !(run.stdout + &run.stderr).contains("CANARY"),
            "{variant:?} quoted: {}",
            run.stderr
        );
    }
}

#[test]
fn a_broken_world_put_to_the_control_api_is_refused_without_quoting_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[]);
    for variant in BROKEN_ACCOUNTS {
        let (status, body) =
            served.control("PUT", "world", "application/toml", &broken_world(variant));
        assert_eq!(status, 400, "{variant:?}: {body}");
        assert!(body.contains("line "), "{body}");
        assert!(!body.contains("CANARY"), "{variant:?} quoted: {body}");
    }
    for json in [
        r#"{"accounts": [{"secret-id": "AKIDcanary0001", "secret-key": "CANARYkey8", "mfa": "CANARYkey8"}]}"#,
        r#"{"accounts": [{"secret-id": "AKIDcanary0001", "secret-key": "CANARYkey8", "return-quota": "CANARYkey8"}]}"#,
        r#"{"accounts": [{"secret-id": "AKIDcanary0001", "secret-key": "CANARYkey8", "token": ["CANARYkey8"]}]}"#,
        r#"{"accounts": [{"secret-id": "AKIDcanary0001", "secret-key": "CANARYkey8"#,
    ] {
        let (status, body) = served.control("PUT", "world", "application/json", json);
        assert_eq!(status, 400, "{json}: {body}");
        assert!(!body.contains("CANARY"), "{json} quoted: {body}");
    }
    let stderr = served.finish();
    assert!(!stderr.contains("CANARY"), "{stderr}");
}

#[test]
fn a_broken_case_file_is_reported_without_quoting_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (index, variant) in BROKEN_ACCOUNTS.iter().enumerate() {
        let case = format!(
            "title = \"t\"\nsource = {{ doc = \"d\", quote = \"q\" }}\nlive = \"mock-only\"\n\n[[step]]\n\n\
             [[world.accounts]]\nsecret-id = \"AKIDcanary0001\"\n{variant}\n"
        );
        write(
            dir.path(),
            &format!("cases/tencent/terminate-instances/broken-{index}.toml"),
            &case,
        );
    }
    let run = terminus_within(
        dir.path(),
        &["run", "--cases", "cases", "--json", "r.json"],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("unreadable case file").count(),
        BROKEN_ACCOUNTS.len(),
        "{}",
        run.stdout
    );
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    for text in [&run.stdout, &run.stderr, &report] {
        assert!(!text.contains("CANARY"), "{text}");
    }
}

#[test]
fn verify_json_prints_derived_keys_only_with_trace() {
    let dir = tempfile::tempdir().unwrap();
    let request = crate::common::captured("tc3/tc3-py-post-1id").to_bytes();
    std::fs::write(dir.path().join("request.http"), request).unwrap();
    let key = crate::common::TENCENT_KEY;
    let args = [
        "verify",
        "--secret-key",
        key,
        "--format",
        "json",
        "request.http",
    ];
    let plain = terminus_within(dir.path(), &args, DEADLINE);
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    let json: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    assert!(json["trace"]["string-to-sign"].is_string(), "{json}");
    for step in ["k-date", "k-service", "k-signing"] {
        assert!(json["trace"].get(step).is_none(), "{step} printed: {json}");
    }
    let traced = terminus_within(dir.path(), &[&args[..], &["--trace"]].concat(), DEADLINE);
    let json: serde_json::Value = serde_json::from_str(&traced.stdout).unwrap();
    assert!(json["trace"]["k-signing"].is_string(), "{json}");
    // The same rule for sign's JSON.
    let sign = [
        "sign",
        "--secret-id",
        "AKIDx",
        "--secret-key",
        key,
        "--format",
        "json",
        "request.http",
    ];
    let signed = terminus_within(dir.path(), &sign, DEADLINE);
    let json: serde_json::Value = serde_json::from_str(&signed.stdout).unwrap();
    assert!(json["trace"].get("k-signing").is_none(), "{json}");
}

// ---- point 4: numeric flags

#[rstest::rstest]
#[case(&["bench", "--duration", "9223372036854775807s"], "--duration")]
#[case(&["bench", "--warmup", "9223372036854775807s"], "--warmup")]
#[case(&["bench", "--duration", "0s"], "--duration")]
#[case(&["bench", "--connections", "0"], "--connections")]
#[case(&["bench", "--connections", "1000000"], "--connections")]
#[case(&["bench", "--workers", "5000"], "--workers")]
#[case(&["bench", "--client-threads", "0"], "--client-threads")]
#[case(&["bench", "--fresh", "18446744073709551615"], "--fresh")]
#[case(&["serve", "--listen", "127.0.0.1:0", "--workers", "5000"], "--workers")]
#[case(&["serve", "--listen", "127.0.0.1:0", "--workers", "0"], "--workers")]
#[case(&["run", "--jobs", "2305843009213693952"], "--jobs")]
fn an_out_of_range_number_is_refused_naming_the_flag(#[case] args: &[&str], #[case] flag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let run = terminus_within(dir.path(), args, Duration::from_secs(10));
    assert_eq!(run.code, Some(2), "{args:?}: {}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(flag) && run.stderr.contains("range")
            || run.stderr.contains("24 hours")
            || run.stderr.contains("1ms"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_says_what_each_number_may_be() {
    let dir = tempfile::tempdir().unwrap();
    let bench = terminus_within(dir.path(), &["bench", "--help"], DEADLINE).stdout;
    for said in [
        "(1 to 4096)",
        "1ms to 24 hours",
        "0 to 24 hours",
        "(1 to 256)",
        "0 to 1000000",
    ] {
        assert!(
            bench.contains(said),
            "bench --help does not say {said:?}:\n{bench}"
        );
    }
    let serve = terminus_within(dir.path(), &["serve", "--help"], DEADLINE).stdout;
    assert!(serve.contains("(1 to 256)"), "{serve}");
    let run = terminus_within(dir.path(), &["run", "--help"], DEADLINE).stdout;
    assert!(run.contains("(1 to 256)"), "{run}");
}

// ---- point 10: clock arithmetic and fault specs

#[test]
fn the_control_clock_saturates_at_the_end_of_time_instead_of_wrapping() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[]);
    let max = i64::MAX;
    for (body, now) in [
        (format!(r#"{{"set": {max}}}"#), max),
        (r#"{"advance": 1}"#.to_owned(), max),
        (format!(r#"{{"advance": {max}}}"#), max),
        (r#"{"advance": -10}"#.to_owned(), max - 10),
        (
            format!(r#"{{"set": {}, "advance": -1}}"#, i64::MIN),
            i64::MIN,
        ),
    ] {
        let (status, answer) = served.control("POST", "clock", "application/json", &body);
        assert_eq!(status, 200, "{body}: {answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["now"].as_i64(), Some(now), "after {body}");
    }
}

#[rstest::rstest]
#[case("advance = \"18446744073709551615s\"", "advance")]
#[case("advance = \"101years\"", "advance")]
#[case("repeat = 1000000", "repeat")]
fn a_step_beyond_its_documented_bound_is_refused(#[case] field: &str, #[case] named: &str) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/bound.toml",
        &format!(
            "title = \"t\"\nsource = {{ doc = \"d\", quote = \"q\" }}\nlive = \"mock-only\"\n\n[[step]]\n{field}\n\
             params = {{ InstanceIds = [\"ins-none\"] }}\nexpect.error = \"InvalidInstanceId.NotFound\"\n"
        ),
    );
    let run = terminus_within(
        dir.path(),
        &["run", "--cases", "cases", "--json", "r.json"],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(
        report.contains("bound.toml") && report.contains(&format!("step 1: {named} = ")),
        "{report}"
    );
}

/// Faults the world-file shape allows but no run can mean, and the field an error must name.
const BROKEN_FAULTS: [(&str, &str); 8] = [
    ("kind = \"http\"\nstatus = 0", "status 0"),
    ("kind = \"http\"\nstatus = 1000", "status 1000"),
    ("kind = \"http\"\nstatus = 200", "status 200"),
    ("kind = \"error\"\nfraction = nan", "fraction NaN"),
    ("kind = \"error\"\nfraction = 1.5", "fraction 1.5"),
    ("kind = \"error\"\nfraction = -inf", "fraction -inf"),
    ("kind = \"error\"\ncount = 0", "count = 0"),
    (
        "kind = \"latency\"\nmillis = 18446744073709551615",
        "millis",
    ),
];

#[test]
fn a_world_file_with_a_fault_no_run_can_mean_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (fault, named) in BROKEN_FAULTS {
        std::fs::write(
            dir.path().join("world.toml"),
            format!("[[faults]]\n{fault}\n"),
        )
        .unwrap();
        let run = terminus_within(
            dir.path(),
            &["serve", "--listen", "127.0.0.1:0", "--world", "world.toml"],
            Duration::from_secs(10),
        );
        assert_eq!(run.code, Some(2), "{fault}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("world.toml: faults[0]: ") && run.stderr.contains(named),
            "{fault}: {}",
            run.stderr
        );
    }
}

#[test]
fn the_control_api_refuses_a_fault_no_run_can_mean_and_keeps_the_faults_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[]);
    for (fault, named) in BROKEN_FAULTS {
        let (status, body) = served.control("POST", "faults", "application/toml", fault);
        assert_eq!(status, 400, "{fault}: {body}");
        assert!(body.contains(named), "{fault}: {body}");
        let (status, body) = served.control(
            "PUT",
            "world",
            "application/toml",
            &format!("[[faults]]\n{fault}\n"),
        );
        assert_eq!(status, 400, "{fault}: {body}");
        assert!(
            body.contains("faults[0]") && body.contains(named),
            "{fault}: {body}"
        );
    }
    let (status, body) = served.control(
        "POST",
        "faults",
        "application/json",
        r#"{"kind": "http", "status": 1000}"#,
    );
    assert_eq!(
        (status, body.contains("status 1000")),
        (400, true),
        "{body}"
    );
    let (_, faults) = served.control("GET", "faults", "application/json", "");
    assert_eq!(faults, r#"{"faults":[]}"#);
}

// ---- point 11: what a case or snapshot tree can hold

/// A minimal case that passes against the mock.
const PASSING_CASE: &str = r#"title = "an unknown instance is not found"
source = { doc = "test", quote = "test" }
live = "mock-only"

[[step]]
params = { InstanceIds = ["ins-none0001"] }
expect.error = "InvalidInstanceId.NotFound"
"#;

#[cfg(unix)]
fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_case_or_snapshot_is_refused_by_name_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/ok.toml",
        PASSING_CASE,
    );
    mkfifo(
        &dir.path()
            .join("cases/tencent/terminate-instances/fifo.toml"),
    );
    let run = terminus_within(dir.path(), &["run", "--cases", "cases"], DEADLINE);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("1 passed, 0 failed, 1 error"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fifo.toml: not a regular file"),
        "{}",
        run.stdout
    );

    write(
        dir.path(),
        "old/tencent/terminate-instances/x@mock.snap",
        "same",
    );
    write(
        dir.path(),
        "new/tencent/terminate-instances/x@mock.snap",
        "same",
    );
    mkfifo(
        &dir.path()
            .join("new/tencent/terminate-instances/fifo@mock.snap"),
    );
    let diff = terminus_within(dir.path(), &["diff", "old", "new"], DEADLINE);
    assert_eq!(diff.code, Some(2), "{}{}", diff.stdout, diff.stderr);
    assert!(
        diff.stderr.contains("fifo@mock.snap: not a regular file"),
        "{}",
        diff.stderr
    );
}

#[cfg(unix)]
#[test]
fn diff_follows_no_link_to_a_directory_so_loops_end_and_nothing_counts_twice() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "old/tencent/terminate-instances/x@mock.snap",
        "same",
    );
    write(
        dir.path(),
        "new/tencent/terminate-instances/x@mock.snap",
        "same",
    );
    let same = terminus_within(dir.path(), &["diff", "old", "new"], DEADLINE);
    assert_eq!(
        (same.code, same.stdout.trim()),
        (
            Some(0),
            "0 of 1 cases changed, 0 added, 0 vanished; 0 distinct changes"
        )
    );
    // Two links to their own directory: followed, they loop.
    let actions = dir.path().join("new/tencent");
    symlink(".", actions.join("self-a")).unwrap();
    symlink(".", actions.join("self-b")).unwrap();
    let looped = terminus_within(dir.path(), &["diff", "old", "new"], DEADLINE);
    assert_eq!(looped.code, Some(2), "{}{}", looped.stdout, looped.stderr);
    assert!(
        looped.stderr.contains("symbolic link to a directory"),
        "{}",
        looped.stderr
    );
    // A `..` link: followed, it counts the same snapshot under many ids.
    std::fs::remove_file(actions.join("self-a")).unwrap();
    std::fs::remove_file(actions.join("self-b")).unwrap();
    symlink("..", dir.path().join("old/tencent/terminate-instances/up")).unwrap();
    let up = terminus_within(dir.path(), &["diff", "old", "new"], DEADLINE);
    assert_eq!(up.code, Some(2), "{}{}", up.stdout, up.stderr);
    assert!(
        up.stderr
            .contains("terminate-instances/up: a symbolic link to a directory"),
        "{}",
        up.stderr
    );
}

#[cfg(unix)]
#[test]
fn run_follows_no_link_to_a_directory_in_the_cases_tree() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/ok.toml",
        PASSING_CASE,
    );
    symlink(
        "..",
        dir.path().join("cases/tencent/terminate-instances/up"),
    )
    .unwrap();
    symlink(".", dir.path().join("cases/tencent/self")).unwrap();
    let run = terminus_within(dir.path(), &["run", "--cases", "cases"], DEADLINE);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("1 passed, 0 failed, 2 errors"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("symbolic link to a directory"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_case_file_at_the_wrong_depth_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/ok.toml",
        PASSING_CASE,
    );
    write(dir.path(), "cases/tencent/too-high.toml", PASSING_CASE);
    write(
        dir.path(),
        "cases/tencent/terminate-instances/extra/too-low.toml",
        PASSING_CASE,
    );
    // Files directly in the cases directory are not cases (`documented-codes.toml` lives there).
    write(dir.path(), "cases/catalog.toml", "not a case");
    let run = terminus_within(
        dir.path(),
        &["run", "--cases", "cases", "--json", "r.json"],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("1 passed, 0 failed, 2 errors"),
        "{}",
        run.stdout
    );
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    for name in ["too-high.toml", "too-low.toml"] {
        assert!(
            report.contains(&format!(
                "{name}: a case lives at cases/<provider>/<action>/<scenario>.toml"
            )),
            "{name}: {report}"
        );
    }
}

#[cfg(unix)]
#[test]
fn case_files_whose_names_are_not_utf8_are_refused_not_merged_into_one_id() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let action = dir.path().join("cases/tencent/terminate-instances");
    std::fs::create_dir_all(&action).unwrap();
    for name in [&b"caf\xe9.toml"[..], &b"caf\xe8.toml"[..]] {
        std::fs::write(action.join(OsStr::from_bytes(name)), PASSING_CASE).unwrap();
    }
    // One case that runs, so the run is not a usage error for selecting nothing.
    std::fs::write(action.join("ok.toml"), PASSING_CASE).unwrap();
    let run = terminus_within(
        dir.path(),
        &[
            "run", "--cases", "cases", "--record", "recorded", "--json", "r.json",
        ],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("1 passed, 0 failed, 2 errors"),
        "{}",
        run.stdout
    );
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert_eq!(
        report.matches("the path is not UTF-8").count(),
        2,
        "{report}"
    );
    let recorded: Vec<_> =
        std::fs::read_dir(dir.path().join("recorded/tencent/terminate-instances"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
    assert_eq!(recorded, ["ok@mock.snap"], "recorded a refused case");
}

#[test]
fn case_and_snapshot_files_are_read_up_to_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let padding = "#".repeat(1024 * 1024);
    write(
        dir.path(),
        "cases/tencent/terminate-instances/huge.toml",
        &format!("{PASSING_CASE}{padding}\n"),
    );
    write(
        dir.path(),
        "cases/tencent/terminate-instances/ok.toml",
        PASSING_CASE,
    );
    let run = terminus_within(
        dir.path(),
        &["run", "--cases", "cases", "--json", "r.json"],
        DEADLINE,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let report = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    assert!(
        report.contains("huge.toml: larger than 1048576 bytes"),
        "{report}"
    );

    write(
        dir.path(),
        "old/tencent/terminate-instances/x@mock.snap",
        "same",
    );
    write(
        dir.path(),
        "new/tencent/terminate-instances/x@mock.snap",
        &"x".repeat(16 * 1024 * 1024 + 1),
    );
    let diff = terminus_within(dir.path(), &["diff", "old", "new"], DEADLINE);
    assert_eq!(diff.code, Some(2), "{}", diff.stderr);
    assert!(
        diff.stderr.contains("larger than 16777216 bytes"),
        "{}",
        diff.stderr
    );
}

/// Under a memory limit the OS refuses threads and tokio panics while building the runtime: the process must say
/// so and exit 2, not stay up listening nowhere.
#[cfg(target_os = "linux")]
#[rstest::rstest]
#[case(&["serve", "--listen", "127.0.0.1:0", "--workers", "256"], "cannot start the mock")]
#[case(&["bench", "--workers", "256", "--fresh", "1", "--duration", "10ms"], "cannot start the mock")]
#[case(&["bench", "--client-threads", "256", "--fresh", "1", "--duration", "10ms"], "cannot start the client")]
fn threads_the_os_refuses_end_the_process_with_the_reason(
    #[case] args: &[&str],
    #[case] said: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    // 400 MB of address space: far less than 256 threads' stacks, more than terminus needs otherwise.
    let script = format!(
        "ulimit -v 400000 && exec {} {}",
        env!("CARGO_BIN_EXE_terminus"),
        args.join(" ")
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} stayed up under the memory limit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(said), "{stderr}");
}

/// The last line of defence, for a FIFO swapped in after the file type was checked: opening does not block.
#[cfg(unix)]
#[test]
fn reading_a_fifo_directly_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("swapped.toml");
    mkfifo(&fifo);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(terminus::case::read_bounded(&fifo, 1024).map_err(|e| e.to_string()));
    });
    let read = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("read_bounded returns without a writer on the FIFO");
    assert_eq!(
        read,
        Err("not a regular file (a FIFO, socket or device)".to_owned())
    );
}
