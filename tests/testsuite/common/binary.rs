//! Running the `terminus` binary from a test: once, with a deadline or with standard input, or as a server to talk
//! to. Every run drops `TERMINUS_SECRET_KEY` from the environment, so a key a developer has exported never reaches
//! a test by accident.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to say where it listens, to log a line or to answer a control call.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `terminus` with `stdin` as standard input, and waits for it.
pub(crate) fn terminus(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(args)
        .env_remove("TERMINUS_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the terminus binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The first line a child prints, if it prints one within 20 s. The rest is read and dropped in the background,
/// so the child never blocks on a full pipe.
pub(crate) fn first_line(stdout: ChildStdout) -> Option<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = sender.send(line);
        }
        for _ in lines {}
    });
    receiver.recv_timeout(Duration::from_secs(20)).ok()
}

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
    terminus_within_env(dir, args, &[], deadline)
}

/// [`terminus_within`] with these environment variables set (credentials that must not be flags).
pub(crate) fn terminus_within_env(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    deadline: Duration,
) -> Finished {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(args)
        .envs(env.iter().copied())
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

/// A running `terminus serve`, killed when dropped.
pub(crate) struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) uri: String,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Each line it logs to standard error, as it comes.
    log_lines: std::sync::mpsc::Receiver<String>,
    /// The `--control-token` it was given, sent with every control call.
    token: Option<String>,
}

impl Served {
    /// Starts `terminus serve --listen 127.0.0.1:0` plus `args` in `dir`, waiting (with a deadline) for the line
    /// that says where it listens.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("TERMINUS_SECRET_KEY")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the terminus binary runs");
        let mut stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        // Reads everything the server prints (so it never blocks on a full pipe), handing over the line that says
        // where it listens as soon as it is complete.
        let stdout = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            let mut announced = false;
            while stdout.read(&mut byte).is_ok_and(|read| read == 1) {
                seen.push(byte[0]);
                if !announced && byte[0] == b'\n' {
                    let text = String::from_utf8_lossy(&seen).into_owned();
                    if let Some(line) = text.lines().find(|line| line.contains("listening on ")) {
                        let _ = sender.send(line.to_owned());
                        announced = true;
                    }
                }
            }
            String::from_utf8_lossy(&seen).into_owned()
        });
        let (log_sender, log_lines) = std::sync::mpsc::channel();
        // Reads everything the server logs, handing over each line as it comes.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let mut stderr = BufReader::new(stderr);
            let mut line = Vec::new();
            while stderr
                .read_until(b'\n', &mut line)
                .is_ok_and(|read| read > 0)
            {
                let piece = String::from_utf8_lossy(&line);
                text.push_str(&piece);
                let _ = log_sender.send(piece.trim_end_matches(['\r', '\n']).to_owned());
                line.clear();
            }
            text
        });
        let Ok(line) = receiver.recv_timeout(DEADLINE) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "terminus serve {args:?} did not say where it listens: {}",
                stderr.join().unwrap_or_default()
            );
        };
        let uri = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        let token = args
            .windows(2)
            .find(|pair| pair[0] == "--control-token")
            .map(|pair| pair[1].to_owned());
        Self {
            child,
            uri,
            stdout: Some(stdout),
            stderr: Some(stderr),
            log_lines,
            token,
        }
    }

    /// The next line it logs to standard error; panics if none comes within the deadline.
    pub(crate) fn next_log_line(&self) -> String {
        self.log_lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|error| panic!("no log line within {DEADLINE:?}: {error}"))
    }

    /// Sends a control call; answers (status, body).
    pub(crate) fn control(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, String) {
        let client = crate::common::http_client()
            .timeout(DEADLINE)
            .build()
            .unwrap();
        let mut request = client
            .request(
                method.parse().unwrap(),
                format!("{}/__terminus/{path}", self.uri),
            )
            .header("content-type", content_type);
        if let Some(token) = &self.token {
            request = request.header(terminus::mock::TOKEN_HEADER, token);
        }
        let response = request
            .body(body.to_owned())
            .send()
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        (response.status().as_u16(), response.text().unwrap())
    }

    /// Stops the server and returns everything it wrote: standard output, then standard error.
    pub(crate) fn finish(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        [self.stdout.take(), self.stderr.take()]
            .into_iter()
            .flatten()
            .map(|handle| handle.join().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Served {
    /// Sends the server `signal` (`TERM`, `INT`) and waits (with a deadline) for it to end: its exit status and
    /// its standard error.
    #[cfg(unix)]
    pub(crate) fn stop_with(mut self, signal: &str) -> (Option<i32>, String) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {}", self.child.id());
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "terminus serve still running {DEADLINE:?} after signal {signal}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let stderr = self
            .stderr
            .take()
            .map(|handle| handle.join().unwrap_or_default());
        (status.code(), stderr.unwrap_or_default())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
