//! Careless and hostile input to the command line (issue 9, points 4, 7, 8, 10, 11): every flag, file and case
//! that used to panic, hang, loop, leak a secret or pass silently gets a clear error, a documented bound or a
//! redaction. Each test runs the binary with a deadline, in a temporary directory of its own.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished `terminus` printed.
pub(crate) struct Finished {
    /// The exit status (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

/// Runs `terminus` in `dir` with `args`; panics (after killing it) if it has not finished within `deadline`.
pub(crate) fn terminus_within(dir: &Path, args: &[&str], deadline: Duration) -> Finished {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(args)
        .current_dir(dir)
        .env_remove("TERMINUS_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the terminus binary runs");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "terminus {args:?} still running after {deadline:?}; stderr so far: {}",
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Writes `text` to `dir/relative`, creating directories.
pub(crate) fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

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
