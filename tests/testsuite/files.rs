//! Every file the command line reads or writes (issue 21, points 6 and 7): a source that is a FIFO or
//! `/dev/zero` is refused by name at once, and a symbolic link planted at a destination is refused by name and
//! never written through. Each run has a deadline and an address-space limit, so a reader that waits on a FIFO or
//! swallows `/dev/zero` fails the test instead of the machine.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::binary::write;

/// What a run that had to end by itself ended with.
struct Ended {
    /// The exit status; `None` when it was still running at the deadline (and was killed) or died of a signal.
    code: Option<i32>,
    stderr: String,
}

/// Runs `terminus args` in `dir` under a 2 GB address-space limit, killing it after `deadline`.
fn run_bounded(dir: &Path, args: &[&str], deadline: Duration) -> Ended {
    let script = format!(
        "ulimit -v 2000000 && exec {} \"$@\"",
        env!("CARGO_BIN_EXE_terminus")
    );
    let mut child = Command::new("sh")
        .args(["-c", &script, "terminus"])
        .args(args)
        .current_dir(dir)
        .env_remove("TERMINUS_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ended {
        code,
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

const CASE: &str = r#"title = "an unknown instance is not found"
source = { doc = "test", quote = "test" }
live = "mock-only"

[[step]]
params = { InstanceIds = ["ins-none0001"] }
expect.error = "InvalidInstanceId.NotFound"
"#;

/// Each command that reads a named file, with `SOURCE` standing for that file.
const READERS: [&[&str]; 5] = [
    &["serve", "--listen", "127.0.0.1:0", "--world", "SOURCE"],
    &["coverage", "--cases", "catalog"],
    &[
        "sign",
        "SOURCE",
        "--secret-id",
        "AKIDx",
        "--secret-key",
        "x",
    ],
    &[
        "verify",
        "request.http",
        "--secret-key",
        "x",
        "--expect",
        "SOURCE",
    ],
    &["record", "--out", "cassette-new", "--ca-cert", "SOURCE"],
];

#[cfg(unix)]
#[rstest::rstest]
fn a_fifo_or_a_device_given_as_a_source_is_refused_by_name_at_once(
    #[values(0, 1, 2, 3, 4)] reader: usize,
    #[values("fifo", "/dev/zero")] source: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    write(
        dir.path(),
        "request.http",
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         Authorization: TC3-HMAC-SHA256 Credential=AKIDx/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=00\r\n\
         X-TC-Timestamp: 1551113065\r\nX-TC-Action: TerminateInstances\r\nX-TC-Version: 2017-03-12\r\n\r\n{}",
    );
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::os::unix::fs::symlink(
        if source == "fifo" {
            fifo.as_path()
        } else {
            Path::new(source)
        },
        dir.path().join("catalog/documented-codes.toml"),
    )
    .unwrap();
    let args: Vec<&str> = READERS[reader]
        .iter()
        .map(|arg| if *arg == "SOURCE" { source } else { arg })
        .collect();
    let ended = run_bounded(dir.path(), &args, Duration::from_secs(10));
    assert_eq!(
        ended.code,
        Some(2),
        "{args:?} did not refuse at once: {}",
        ended.stderr
    );
    assert!(
        ended.stderr.contains("not a regular file"),
        "{args:?}: {}",
        ended.stderr
    );
    let named = if reader == 1 {
        "documented-codes.toml"
    } else {
        source
    };
    assert!(ended.stderr.contains(named), "{args:?}: {}", ended.stderr);
}

/// Each command that writes a named file, with `DEST` standing for it; `DEST` is then a link planted to a file
/// that must keep its content.
const WRITERS: [&[&str]; 7] = [
    &["run", "--cases", "cases", "--junit", "DEST"],
    &["run", "--cases", "cases", "--json", "DEST"],
    &["run", "--cases", "cases", "--record", "recorded"],
    &[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--ca-out",
        "DEST",
    ],
    &["serve", "--listen", "127.0.0.1:0", "--ready-file", "DEST"],
    &["serve", "--listen", "127.0.0.1:0", "--log", "DEST"],
    &[
        "record",
        "--listen",
        "127.0.0.1:0",
        "--out",
        "cassette-new",
        "--ca-out",
        "DEST",
    ],
];

#[cfg(unix)]
#[rstest::rstest]
fn a_link_planted_at_a_destination_is_refused_by_name_and_never_written_through(
    #[values(0, 1, 2, 3, 4, 5, 6)] writer: usize,
) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cases/tencent/terminate-instances/gone.toml",
        CASE,
    );
    write(dir.path(), "precious", "keep me");
    let destination = if writer == 2 {
        "recorded/tencent/terminate-instances/gone@mock.snap"
    } else {
        "planted"
    };
    std::fs::create_dir_all(dir.path().join(destination).parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(dir.path().join("precious"), dir.path().join(destination)).unwrap();
    let args: Vec<&str> = WRITERS[writer]
        .iter()
        .map(|arg| if *arg == "DEST" { destination } else { arg })
        .collect();
    let ended = run_bounded(dir.path(), &args, Duration::from_secs(10));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious")).unwrap(),
        "keep me",
        "{args:?} wrote through the link"
    );
    assert_eq!(ended.code, Some(2), "{args:?}: {}", ended.stderr);
    assert!(
        ended.stderr.contains("symbolic link") && ended.stderr.contains(destination),
        "{args:?}: {}",
        ended.stderr
    );
}
