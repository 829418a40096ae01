//! One test per point of issue 20 that is not a leak (those are the fuzzer's, `record_fuzz`): recording with the
//! example keys, replay's world, `serve --cassette` as a CI service, hostile cassettes, the recorder's bounds. All
//! through the `terminus` binary, as a user runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use terminus::message::Request;
use terminus::mock::MockServer;
use terminus::signing::{self, Credentials, Scheme, SignOptions};

use crate::common::binary::{Served, terminus_within};

const DEADLINE: Duration = Duration::from_secs(30);
const FIXTURE: (&str, &str) = (
    "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
);
/// When the hand-made cassettes' requests were signed (replay sets the mock's clock to it).
const SIGNED_AT: i64 = 1_700_000_000;

/// A TC3 request signed with the fixture key at `timestamp`.
fn tc3(action: &str, region: &str, body: &str, timestamp: i64) -> Request {
    let text = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: {action}\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: {region}\r\n\
         X-TC-Timestamp: {timestamp}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    signing::sign(
        &Request::parse(text.as_bytes()).unwrap(),
        &Credentials::new(FIXTURE.0, FIXTURE.1),
        Scheme::Tc3,
        &SignOptions::default(),
    )
    .unwrap()
    .request
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Writes a cassette by hand: the index and each exchange's request and answer.
fn write_cassette(dir: &Path, exchanges: &[(&str, &Request, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut index = String::from(
        "{\"upstream\":\"https://<host>\",\"recorded_at\":\"2026-12-01T00:00:00Z\"}\n",
    );
    for (number, (action, request, answer)) in exchanges.iter().enumerate() {
        let name = format!("{:04}-{action}", number + 1);
        index.push_str(
            &serde_json::json!({
                "name": name, "provider": "tencent", "host": "cvm.tencentcloudapi.com", "via": "http",
                "action": action, "user_agent": null, "request_client": null,
                "sent_at": "2026-12-01T00:00:00Z", "elapsed_ms": 1, "status": 200, "no_answer": null,
            })
            .to_string(),
        );
        index.push('\n');
        std::fs::write(dir.join(format!("{name}.request")), request.to_bytes()).unwrap();
        std::fs::write(
            dir.join(format!("{name}.response")),
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            ),
        )
        .unwrap();
    }
    std::fs::write(dir.join("cassette.jsonl"), index).unwrap();
}

/// `terminus record` running, its lines read as they come.
struct Recording {
    child: Child,
    proxy: std::net::SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Recording {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
            .args(["record", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(DEADLINE)
            .expect("record says where it listens");
        let proxy = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .parse()
            .unwrap();
        Self {
            child,
            proxy,
            lines,
        }
    }

    /// Stops it with SIGTERM and returns the lines it printed after the first.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < DEADLINE, "record did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.lines.try_iter().collect()
    }
}

/// One request and its answer over a new connection, with a deadline.
fn exchange(address: std::net::SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let read = stream.read(&mut chunk).unwrap_or(0);
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, body.to_owned());
            }
        }
        assert!(read > 0, "closed early: {text:?}");
    }
}

fn absolute(request: &Request) -> Vec<u8> {
    let mut request = request.clone();
    request.target = format!("http://cvm.tencentcloudapi.com{}", request.target);
    request.to_bytes()
}

#[test]
fn recording_with_the_example_keys_writes_every_exchange_and_prints_a_line_for_each() {
    let mock = MockServer::builder().start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recording = Recording::start(&["--out", out.to_str().unwrap(), "--upstream", &mock.uri()]);
    for request in [
        tc3("DescribeInstances", "ap-guangzhou", "{}", now()),
        tc3(
            "TerminateInstances",
            "ap-guangzhou",
            r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
            now(),
        ),
        tc3(
            "TerminateInstances",
            "ap-guangzhou",
            r#"{"InstanceIds":["ins-nosuch00"]}"#,
            now(),
        ),
    ] {
        let (status, body) = exchange(recording.proxy, &absolute(&request));
        assert_eq!(status, 200, "{body}");
    }
    let lines = recording.stop();
    let index = std::fs::read_to_string(out.join("cassette.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 4, "{index}\n{lines:?}");
    let per_exchange: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with('0') && l.contains(" written"))
        .collect();
    assert_eq!(per_exchange.len(), 3, "{lines:?}");
    assert!(
        per_exchange[2].contains("0003-TerminateInstances 200 InvalidInstanceId.NotFound"),
        "{lines:?}"
    );
    assert!(
        lines.last().unwrap().contains("3 written, 0 refused"),
        "{lines:?}"
    );
}

#[test]
fn replay_with_a_given_world_adds_the_fixture_account() {
    let dir = tempfile::tempdir().unwrap();
    let terminate = tc3(
        "TerminateInstances",
        "ap-guangzhou",
        r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
        SIGNED_AT,
    );
    write_cassette(
        &dir.path().join("c"),
        &[(
            "TerminateInstances",
            &terminate,
            r#"{"Response":{"RequestId":"6e2d4a40-0001-4f2b-9d65-1a2b3c4d5e6f"}}"#,
        )],
    );
    // The recording-time world: its instance, and an account of its own (not the fixture's).
    std::fs::write(
        dir.path().join("world.toml"),
        "region = \"ap-guangzhou\"\n\n[[accounts]]\nsecret-id = \"AKIDsomeoneELSE0000000000000000000001\"\n\
         secret-key = \"someoneELSEsomeoneELSEsomeone001\"\n\n[[instances]]\nid = \"ins-r8hr2upy\"\n",
    )
    .unwrap();
    let finished = terminus_within(
        dir.path(),
        &["replay", "c", "--world", "world.toml"],
        DEADLINE,
    );
    assert_eq!(
        finished.code,
        Some(0),
        "{}{}",
        finished.stdout,
        finished.stderr
    );
    assert!(
        finished.stdout.contains("0 of 1 exchanges differ"),
        "{}",
        finished.stdout
    );
}

#[test]
fn replay_derives_termination_protection_from_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let describe = tc3("DescribeInstances", "ap-guangzhou", "{}", SIGNED_AT);
    let terminate = tc3(
        "TerminateInstances",
        "ap-guangzhou",
        r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
        SIGNED_AT,
    );
    write_cassette(
        &dir.path().join("c"),
        &[
            (
                "DescribeInstances",
                &describe,
                r#"{"Response":{"TotalCount":1,"InstanceSet":[{"InstanceId":"ins-r8hr2upy","InstanceState":"RUNNING","DisableApiTermination":true}],"RequestId":"r1"}}"#,
            ),
            (
                "TerminateInstances",
                &terminate,
                r#"{"Response":{"Error":{"Code":"UnsupportedOperation.InstancesProtected","Message":"protected"},"RequestId":"r2"}}"#,
            ),
        ],
    );
    let finished = terminus_within(dir.path(), &["replay", "c"], DEADLINE);
    let report = format!("{}{}", finished.stdout, finished.stderr);
    assert!(
        report.contains("same     0002-TerminateInstances"),
        "{report}"
    );
}

/// A cassette of three exchanges for `serve --cassette`: a DescribeInstances, then two TerminateInstances.
fn playable(dir: &Path) -> (Request, Request, Request) {
    let describe = tc3("DescribeInstances", "ap-guangzhou", "{}", SIGNED_AT);
    let first = tc3(
        "TerminateInstances",
        "ap-guangzhou",
        r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
        SIGNED_AT,
    );
    let second = tc3(
        "TerminateInstances",
        "ap-guangzhou",
        r#"{"InstanceIds":["ins-09dx96dg"]}"#,
        SIGNED_AT,
    );
    write_cassette(
        &dir.join("c"),
        &[
            (
                "DescribeInstances",
                &describe,
                r#"{"Response":{"TotalCount":0,"InstanceSet":[],"RequestId":"d"}}"#,
            ),
            (
                "TerminateInstances",
                &first,
                r#"{"Response":{"RequestId":"t1"}}"#,
            ),
            (
                "TerminateInstances",
                &second,
                r#"{"Response":{"RequestId":"t2"}}"#,
            ),
        ],
    );
    (describe, first, second)
}

fn address_of(uri: &str) -> std::net::SocketAddr {
    uri.trim_start_matches("http://").parse().unwrap()
}

#[test]
fn serve_cassette_keeps_serves_contract_and_repeats_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first, _) = playable(dir.path());
    let served = Served::start(
        dir.path(),
        &[
            "--cassette",
            "c",
            "--playback",
            "repeat",
            "--ready-file",
            "ready",
            "--log",
            "journal.jsonl",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ready"))
            .unwrap()
            .trim(),
        served.uri
    );
    let address = address_of(&served.uri);
    let (status, _) = exchange(
        address,
        b"GET /__terminus/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, body) = exchange(address, &first.to_bytes());
        assert_eq!((status, body.contains("\"t1\"")), (200, true), "{body}");
    }
    // Another region: the documented error, naming the nearest exchange and the field that differs.
    let elsewhere = tc3(
        "TerminateInstances",
        "ap-shanghai",
        r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
        SIGNED_AT,
    );
    let (status, body) = exchange(address, &elsewhere.to_bytes());
    assert_eq!(status, 501, "{body}");
    assert!(
        body.contains("0002-TerminateInstances") && body.contains("region"),
        "{body}"
    );
    drop(served);
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{journal}");
    assert_eq!(lines[0]["exchange"], "0002-TerminateInstances", "{journal}");
    assert!(
        lines[2]["unmatched"].as_str().unwrap().contains("region"),
        "{journal}"
    );
}

#[test]
fn serve_cassette_in_strict_order_names_the_exchange_it_expected() {
    let dir = tempfile::tempdir().unwrap();
    let (describe, first, _) = playable(dir.path());
    let served = Served::start(
        dir.path(),
        &["--cassette", "c", "--playback", "strict-order"],
    );
    let address = address_of(&served.uri);
    let (status, body) = exchange(address, &first.to_bytes());
    assert_eq!(status, 501, "{body}");
    assert!(body.contains("0001-DescribeInstances"), "{body}");
    let (status, _) = exchange(address, &describe.to_bytes());
    assert_eq!(status, 200);
    let (status, body) = exchange(address, &first.to_bytes());
    assert_eq!((status, body.contains("\"t1\"")), (200, true), "{body}");
}

#[cfg(unix)]
#[test]
fn a_cassette_file_that_is_a_fifo_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    playable(dir.path());
    let request = dir.path().join("c/0002-TerminateInstances.request");
    std::fs::remove_file(&request).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&request)
            .status()
            .unwrap()
            .success()
    );
    let finished = terminus_within(dir.path(), &["replay", "c"], DEADLINE);
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("0002-TerminateInstances.request")
            && finished.stderr.contains("not a regular file"),
        "{}",
        finished.stderr
    );
}

#[test]
fn the_recorder_refuses_a_foreign_host_before_reading_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recording = Recording::start(&["--out", out.to_str().unwrap()]);
    // A declared body the client never sends: the answer must not wait for it.
    let mut stream = TcpStream::connect(recording.proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"POST http://example.com/ HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1000000\r\n\r\n",
        )
        .unwrap();
    let mut answer = [0u8; 12];
    let read = stream.read(&mut answer).unwrap_or(0);
    assert_eq!(
        &answer[..read],
        b"HTTP/1.1 403",
        "{:?}",
        String::from_utf8_lossy(&answer[..read])
    );
    recording.stop();
}

#[test]
fn a_client_that_trickles_its_request_is_cut_off_at_the_whole_request_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recording = Recording::start(&["--out", out.to_str().unwrap(), "--request-deadline", "2"]);
    let mut stream = TcpStream::connect(recording.proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let head =
        b"POST http://cvm.tencentcloudapi.com/ HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\n";
    let started = Instant::now();
    let mut answered = Vec::new();
    // One byte every 300 ms: each read is quick, the whole request never is.
    for byte in head.iter().cycle() {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        let mut buffer = [0u8; 256];
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answered.extend_from_slice(&buffer[..read]),
            Err(_) => {}
        }
        if !answered.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still connected after 10 s"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        answered.is_empty() || answered.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&answered)
    );
    recording.stop();
}

/// A fake upstream that answers each request by its `X-Answer` header: `chunked` (after a `100 Continue`, in
/// chunks), `twice` (two equal `Content-Length` headers), `conflicting` (two different ones).
fn odd_upstream() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut seen = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    while !seen.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        seen.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    let mut body = vec![0u8; length];
                    stream.read_exact(&mut body).unwrap();
                    let body = r#"{"Response":{"RequestId":"chunked-0001"}}"#;
                    let answer = if head.contains("x-answer: chunked") {
                        let (a, b) = body.split_at(10);
                        format!(
                            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                            a.len(),
                            b.len()
                        )
                    } else if head.contains("x-answer: twice") {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {0}\r\nContent-Length: {0}\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Length: 5\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    seen.clear();
                }
            });
        }
    });
    address
}

#[test]
fn the_upstream_may_answer_chunked_after_a_100_and_a_doubled_content_length_is_refused() {
    let upstream = odd_upstream();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recording = Recording::start(&[
        "--out",
        out.to_str().unwrap(),
        "--upstream",
        &format!("http://{upstream}"),
    ]);
    let request = |answer: &str| {
        let mut request = tc3("DescribeInstances", "ap-guangzhou", "{}", now());
        request.headers.push(("X-Answer".into(), answer.into()));
        absolute(&request)
    };
    let (status, body) = exchange(recording.proxy, &request("chunked"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("chunked-0001"), "{body}");
    for doubled in ["twice", "conflicting"] {
        let (status, body) = exchange(recording.proxy, &request(doubled));
        assert_eq!(status, 502, "{doubled}: {body}");
    }
    let lines = recording.stop();
    let index = std::fs::read_to_string(out.join("cassette.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 4, "{index}\n{lines:?}");
    let stored = std::fs::read_to_string(out.join("0001-DescribeInstances.response")).unwrap();
    assert!(
        stored.starts_with("HTTP/1.1 200") && stored.contains("chunked-0001"),
        "{stored}"
    );
}

/// A stand-in for a running `terminus serve`: its control calls answered `{}`, every other request answered
/// chunked with a success.
fn chunked_target() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut seen = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    while !seen.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        seen.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    let mut body = vec![0u8; length];
                    stream.read_exact(&mut body).unwrap();
                    let answer = if head.contains(" /__terminus/") {
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_owned()
                    } else {
                        let body = r#"{"Response":{"RequestId":"chunked-0002"}}"#;
                        let (a, b) = body.split_at(7);
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
                             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                            a.len(),
                            b.len()
                        )
                    };
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    seen.clear();
                }
            });
        }
    });
    address
}

#[test]
fn replay_to_a_target_reads_a_chunked_answer() {
    let dir = tempfile::tempdir().unwrap();
    let terminate = tc3(
        "TerminateInstances",
        "ap-guangzhou",
        r#"{"InstanceIds":["ins-r8hr2upy"]}"#,
        SIGNED_AT,
    );
    write_cassette(
        &dir.path().join("c"),
        &[(
            "TerminateInstances",
            &terminate,
            r#"{"Response":{"RequestId":"6e2d4a40-0001-4f2b-9d65-1a2b3c4d5e6f"}}"#,
        )],
    );
    let target = format!("http://{}", chunked_target());
    let finished = terminus_within(dir.path(), &["replay", "c", "--target", &target], DEADLINE);
    assert_eq!(
        finished.code,
        Some(0),
        "{}{}",
        finished.stdout,
        finished.stderr
    );
}

#[test]
fn the_recorder_answers_a_connection_over_its_cap_503() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recording = Recording::start(&["--out", out.to_str().unwrap()]);
    // 512 connections held open (each has sent one byte, so the recorder is reading a request on each).
    let held: Vec<TcpStream> = (0..512)
        .map(|_| {
            let mut stream = TcpStream::connect(recording.proxy).unwrap();
            stream.write_all(b"P").unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    let answer = loop {
        let mut one_more = TcpStream::connect(recording.proxy).unwrap();
        one_more
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = [0u8; 12];
        let read = one_more.read(&mut answer).unwrap_or(0);
        // The recorder may not have taken every held connection in yet: the next one over the cap is answered.
        if read > 0 || started.elapsed() > Duration::from_secs(10) {
            break answer[..read].to_vec();
        }
    };
    assert_eq!(
        answer,
        b"HTTP/1.1 503",
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    drop(held);
    recording.stop();
}
