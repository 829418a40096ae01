//! Hostile load against one `terminus serve` process (the binary, as other people's CI runs it), bounded in count
//! and time, on loopback only: crashing inputs, slow clients, a connection flood, parallel large bodies and the
//! world replaced during a flood of terminates; afterwards it still answers a signed terminate correctly and its
//! resident memory (`VmRSS`) is back under [`RSS_BOUND_KIB`] and
//! peaked under [`PEAK_BOUND_KIB`]. And: a process out of file descriptors backs off
//! instead of spinning in its accept loop.
//!
//! Linux only (`/proc`, `ulimit`).

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use terminus::provider::SignForm;
use terminus::provider::{Call, ProviderId};
use terminus::signing::Credentials;

use crate::common::binary::first_line;
use crate::common::raw::{Answer, read_answer};
use crate::common::{SIGNED_AT, TENCENT_ID, TENCENT_KEY, signed_terminate};

/// Resident memory the server must be back under after the load: a debug build serving an idle world uses ~14 MiB;
/// the load's bodies are capped at 32 MiB in flight (`--max-body-bytes-in-flight`), and what the allocator keeps of
/// them must not add up (before the caps, 40 parallel 10 MB bodies left 197 MB allocated). Measured: 16 to 31 MiB.
const RSS_BOUND_KIB: u64 = 64 * 1024;
/// The peak (`VmHWM`) during the load: the 32 MiB of bodies plus what serving takes (before the caps, 458 MB).
/// Measured: 54 to 78 MiB.
const PEAK_BOUND_KIB: u64 = 128 * 1024;
/// How long any one answer may take.
const ANSWER: Duration = Duration::from_secs(20);

/// A `terminus serve` child, killed when dropped.
struct Serve {
    child: Child,
    address: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `terminus serve --listen 127.0.0.1:0 ARGS…`, under `ulimit -n` when `fd_limit` is given, and reads
    /// its address from the first line it prints.
    fn start(args: &[&str], fd_limit: Option<u32>) -> Serve {
        let binary = env!("CARGO_BIN_EXE_terminus");
        let mut command = match fd_limit {
            Some(limit) => {
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("terminus serve starts");
        let line = first_line(child.stdout.take().expect("stdout is piped"))
            .expect("terminus serve says where it listens");
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Serve { child, address }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmRSS`, in KiB.
    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// A size field of `/proc/PID/status` (`VmRSS:`, `VmHWM:` the peak), in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS is in /proc/PID/status")
    }

    /// User plus system CPU time so far, in clock ticks (`/proc/PID/stat` fields 14 and 15).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("the server is running");
        // The command name (field 2) is in parentheses and may hold spaces: count from after it.
        let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // `after` starts at field 3, so field N is fields[N - 3].
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }

    fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("the server accepts connections");
    let _ = stream.set_nodelay(true);
    stream
}

/// One request on a new connection; its status and JSON body.
fn once(address: SocketAddr, bytes: &[u8]) -> (u16, Value) {
    let mut stream = connect(address);
    stream.write_all(bytes).expect("sent");
    match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
        Answer::Response(response) => (
            response.status,
            serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        ),
        other => panic!("no answer: {other:?}"),
    }
}

fn control(method: &str, path: &str, media_type: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn world_toml(instances: usize) -> String {
    let mut text = format!(
        "clock = {{ mode = \"fixed\", at = {SIGNED_AT} }}\nrate-limit = {{ terminate-per-second = 0 }}\n\
         [[accounts]]\nsecret-id = \"{TENCENT_ID}\"\nsecret-key = \"{TENCENT_KEY}\"\n"
    );
    for i in 0..instances {
        text.push_str(&format!("[[instances]]\nid = \"ins-{i:08}\"\n"));
    }
    text
}

/// An API 3.0 request in the `Signature`-parameter form with these parameters, signed with the example key.
fn signature_form(method: &str, params: Value, nonce: u64) -> Vec<u8> {
    let params: Map<String, Value> = serde_json::from_value(params).expect("an object");
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action: "TerminateInstances",
        params: &params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp: SIGNED_AT,
        nonce,
        sign: SignForm::HmacSha1,
        method,
        headers: &[],
    };
    let (request, _) = ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    request.to_bytes()
}

fn error_code(body: &Value) -> Option<&str> {
    body.pointer("/Response/Error/Code").and_then(Value::as_str)
}

/// Reads whatever comes until the server closes or `deadline`.
fn drain(stream: &mut TcpStream, deadline: Instant) -> usize {
    let mut total = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => total += read,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    total
}

#[test]
fn one_serve_survives_hostile_load_and_still_terminates_correctly_within_its_memory_bound() {
    let started = Instant::now();
    let mut serve = Serve::start(
        &[
            "--max-connections",
            "64",
            "--max-body-bytes-in-flight",
            "33554432",
        ],
        None,
    );
    let address = serve.address;
    let world = world_toml(500);
    let (status, _) = once(
        address,
        &control("PUT", "/__terminus/world", "application/toml", &world),
    );
    assert_eq!(status, 200);
    let idle_rss = serve.rss_kib();

    // Slow clients: half a request head each, held for the whole test (20 of the 64 places).
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = connect(address);
            stream
                .write_all(b"POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Le")
                .expect("sent");
            stream
        })
        .collect();

    // Crashing inputs. 30,000 nested CONNECTs on one connection (~1.1 MB).
    let mut tunnel = connect(address);
    let connect_line =
        b"CONNECT cvm.tencentcloudapi.com:443 HTTP/1.1\r\nHost: cvm.tencentcloudapi.com:443\r\n\r\n";
    tunnel
        .write_all(&connect_line.repeat(30_000))
        .expect("sent");
    tunnel.shutdown(Shutdown::Write).expect("half-closed");
    assert!(drain(&mut tunnel, Instant::now() + ANSWER) > 0);
    // One flattened name of 30,000 levels in a signed form POST, 7,000 levels of 999 in a signed GET.
    let deep = format!("InstanceIds{}", ".0".repeat(30_000));
    let (_, body) = once(
        address,
        &signature_form("POST", json!({ deep: "ins-00000000" }), 1),
    );
    assert_eq!(error_code(&body), Some("UnknownParameter"));
    let wide = format!("InstanceIds{}", ".999".repeat(7_000));
    let (_, body) = once(
        address,
        &signature_form("GET", json!({ wide: "ins-00000000" }), 2),
    );
    assert_eq!(error_code(&body), Some("UnknownParameter"));
    assert!(serve.still_running(), "the crashing inputs crashed it");

    // A connection flood: 200 connections at once, each asking the clock; each gets 200 or 503 (or, when the
    // kernel's backlog overflows, a refused connection), and none hangs.
    let flood: Vec<std::thread::JoinHandle<Option<u16>>> = (0..200)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).ok()?;
                stream
                    .write_all(b"GET /__terminus/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .ok()?;
                match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
                    Answer::Response(response) => Some(response.status),
                    Answer::Silent(_) => panic!("a flooding connection hung"),
                    _ => None,
                }
            })
        })
        .collect();
    let statuses: Vec<u16> = flood
        .into_iter()
        .filter_map(|thread| thread.join().expect("a flooding client finishes"))
        .collect();
    assert!(
        statuses.iter().all(|status| [200, 503].contains(status)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");

    // 40 parallel 10 MB bodies (unsigned: refused after reading, or 503 when the 32 MiB are taken).
    let bodies: Vec<std::thread::JoinHandle<Option<u16>>> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).ok()?;
                let length = 10_000_000;
                let head = format!(
                    "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
                     Content-Length: {length}\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).ok()?;
                // A refused body is answered before it is read: stop writing when the server has closed.
                let _ = stream.write_all(&vec![b' '; length]);
                match read_answer(&mut stream, &mut Vec::new(), Instant::now() + ANSWER, false) {
                    Answer::Response(response) => Some(response.status),
                    Answer::Silent(_) => panic!("a large body hung"),
                    _ => None,
                }
            })
        })
        .collect();
    let mut body_statuses = std::collections::BTreeMap::<u16, usize>::new();
    for thread in bodies {
        if let Some(status) = thread.join().expect("a body client finishes") {
            *body_statuses.entry(status).or_default() += 1;
        }
    }
    assert!(
        body_statuses
            .keys()
            .all(|status| [200, 503].contains(status)),
        "{body_statuses:?}"
    );

    // The world replaced during a flood of terminates: every terminate is answered.
    std::thread::scope(|scope| {
        let replacer = scope.spawn(|| {
            for _ in 0..30 {
                let (status, _) = once(
                    address,
                    &control("PUT", "/__terminus/world", "application/toml", &world),
                );
                assert_eq!(status, 200);
            }
        });
        for client in 0..2 {
            scope.spawn(move || {
                let mut stream = connect(address);
                let mut buffer = Vec::new();
                for n in 0..150 {
                    let id = format!("ins-{:08}", client * 150 + n);
                    stream
                        .write_all(&signed_terminate(&[&id], false, false, SIGNED_AT))
                        .expect("sent");
                    match read_answer(&mut stream, &mut buffer, Instant::now() + ANSWER, false) {
                        Answer::Response(response) => assert_eq!(response.status, 200),
                        other => panic!("terminate {n} of client {client}: {other:?}"),
                    }
                }
            });
        }
        replacer.join().expect("the replacer finishes");
    });
    drop(slow);
    assert!(serve.still_running(), "the load crashed it");

    // Still correct: a signed terminate of an instance no call above named, and the world says so.
    let (status, body) = once(
        address,
        &signed_terminate(&["ins-00000499"], false, false, SIGNED_AT),
    );
    assert_eq!((status, error_code(&body)), (200, None), "{body}");
    let (_, instance) = once(
        address,
        &control(
            "GET",
            "/__terminus/instances/ins-00000499",
            "application/json",
            "",
        ),
    );
    assert_eq!(instance["state"], "TERMINATED", "{instance}");

    // Memory back under the bound (the allocator may hand pages back a little later: poll, bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rss = serve.rss_kib();
    while rss > RSS_BOUND_KIB && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        rss = serve.rss_kib();
    }
    eprintln!(
        "hostile load: idle RSS {idle_rss} KiB, peak {} KiB, after the load {rss} KiB (bound {RSS_BOUND_KIB} KiB); \
         10 MB bodies answered {body_statuses:?}; {:.1} s",
        serve.status_kib("VmHWM:"),
        started.elapsed().as_secs_f64()
    );
    assert!(
        rss <= RSS_BOUND_KIB,
        "RSS {rss} KiB after the load, over {RSS_BOUND_KIB} KiB"
    );
    let peak = serve.status_kib("VmHWM:");
    assert!(
        peak <= PEAK_BOUND_KIB,
        "peak RSS {peak} KiB, over {PEAK_BOUND_KIB} KiB"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn out_of_file_descriptors_the_accept_loop_backs_off_instead_of_spinning() {
    // 64 descriptors: a few for the runtime, the rest soon taken by the connections below.
    let serve = Serve::start(&["--max-connections", "1000"], Some(64));
    let address = serve.address;
    let held: Vec<TcpStream> = (0..100).map(|_| connect(address)).collect();
    // Let the server take what it can and run out.
    std::thread::sleep(Duration::from_millis(500));
    let before = serve.cpu_ticks();
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let spent = serve.cpu_ticks() - before;
    let elapsed = window.elapsed().as_secs_f64();
    // Clock ticks are 1/100 s on Linux (USER_HZ). A spinning loop burns ~one core: ~200 ticks in 2 s.
    assert!(
        spent <= 40,
        "the server used {spent} ticks of CPU in {elapsed:.1} s with no descriptor left (spinning)"
    );
    // Descriptors freed: it accepts and answers again, within its longest backoff and a margin.
    drop(held);
    let deadline = Instant::now() + ANSWER;
    loop {
        let mut stream = connect(address);
        stream
            .write_all(b"GET /__terminus/clock HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("sent");
        match read_answer(
            &mut stream,
            &mut Vec::new(),
            Instant::now() + Duration::from_secs(3),
            false,
        ) {
            Answer::Response(response) => {
                assert_eq!(response.status, 200);
                break;
            }
            other if Instant::now() > deadline => panic!("it does not answer again: {other:?}"),
            _ => {}
        }
    }
}

/// An API 3.0 `Signature`-form POST of `action`, signed with the example key at `timestamp`.
fn signed_action(action: &str, params: Value, timestamp: i64, nonce: u64) -> Vec<u8> {
    let params: Map<String, Value> = serde_json::from_value(params).expect("an object");
    let credentials = Credentials::new(TENCENT_ID, TENCENT_KEY);
    let call = Call {
        action,
        params: &params,
        region: Some("ap-guangzhou"),
        version: None,
        credentials: &credentials,
        token: None,
        timestamp,
        nonce,
        sign: SignForm::HmacSha256,
        method: "POST",
        headers: &[],
    };
    let (request, _) = ProviderId::Tencent
        .build_request(&call)
        .expect("the request builds");
    request.to_bytes()
}

/// Issue 21, points 3, 4 and 5, against one `terminus serve --log`: unauthenticated requests with 300 KB heads
/// cannot make the journal hold more than its bytes (RSS ≤ 128 MiB after a read and a `DELETE`); 20 loops of
/// create and terminate leave the world under its cap (5,500, where 5,000 + 20 × 100 would pass it); while a 10 MB request is handled against 5,000 instances,
/// no other client waits more than 50 ms (99 in 100 waits: a debug build on a shared machine has scheduler
/// outliers, bounded at 200 ms).
#[test]
fn one_serve_bounds_its_journal_its_world_and_its_lock_under_attack() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let serve = Serve::start(
        &["--log", log.to_str().unwrap(), "--max-instances", "5500"],
        None,
    );
    let address = serve.address;
    let (status, _) = once(
        address,
        &control(
            "PUT",
            "/__terminus/world",
            "application/toml",
            &world_toml(5_000),
        ),
    );
    assert_eq!(status, 200);

    // Point 3: 4 clients × 40 requests with 50 headers of 6 KB each (48 MB of heads in all; 12 MB kept).
    let mut head = String::from(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: DescribeInstances\r\nContent-Length: 2\r\n",
    );
    for n in 0..50 {
        head.push_str(&format!("X-Padding-{n}: {}\r\n", "p".repeat(6 * 1024)));
    }
    head.push_str("\r\n{}");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let head = head.as_bytes();
            scope.spawn(move || {
                let mut stream = connect(address);
                let mut buffer = Vec::new();
                for _ in 0..40 {
                    stream.write_all(head).expect("sent");
                    let answer =
                        read_answer(&mut stream, &mut buffer, Instant::now() + ANSWER, false);
                    assert!(matches!(answer, Answer::Response(_)), "{answer:?}");
                }
            });
        }
    });
    let (status, journal) = once(
        address,
        &control("GET", "/__terminus/requests", "application/json", ""),
    );
    assert_eq!(status, 200);
    assert!(
        journal["requests"]
            .as_array()
            .is_some_and(|entries| !entries.is_empty())
    );
    let (status, _) = once(
        address,
        &control("DELETE", "/__terminus/requests", "application/json", ""),
    );
    assert_eq!(status, 200);
    let journal_rss = serve.rss_kib();
    assert!(
        journal_rss <= 128 * 1024,
        "RSS {journal_rss} KiB after the journal attack, a read and a DELETE"
    );

    // Point 5: a 10 MB unauthenticated request whose words are all existing ids, and a client beside it.
    let mut body = Vec::with_capacity(10_000_000);
    while body.len() + 13 <= 10_000_000 {
        body.extend_from_slice(b"ins-00000001,");
    }
    let large_head = format!(
        "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\n\
         X-TC-Action: DescribeInstances\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut large = connect(address);
    let mut small = connect(address);
    let small_request = signed_terminate(&["ins-notthere"], false, false, SIGNED_AT);
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut waits = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            large.write_all(large_head.as_bytes()).expect("sent");
            large.write_all(&body).expect("sent");
            let answer = read_answer(
                &mut large,
                &mut Vec::new(),
                Instant::now() + Duration::from_secs(60),
                false,
            );
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(matches!(answer, Answer::Response(_)), "{answer:?}");
        });
        let mut buffer = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let sent = Instant::now();
            small.write_all(&small_request).expect("sent");
            let answer = read_answer(&mut small, &mut buffer, Instant::now() + ANSWER, false);
            waits.push(sent.elapsed());
            assert!(matches!(answer, Answer::Response(_)), "{answer:?}");
        }
    });
    waits.sort_unstable();
    let p99 = waits[waits.len() * 99 / 100];
    let longest = waits[waits.len() - 1];
    assert!(
        waits.len() > 1
            && p99 <= Duration::from_millis(50)
            && longest <= Duration::from_millis(200),
        "beside the 10 MB request: {} waits, 99th percentile {p99:?}, longest {longest:?}",
        waits.len()
    );

    // Point 4: 20 loops of RunInstances 100 + TerminateInstances, a second apart, immediate timings.
    let (status, _) = once(
        address,
        &control(
            "PUT",
            "/__terminus/timings",
            "application/json",
            r#"{"timings": "immediate"}"#,
        ),
    );
    assert_eq!(status, 200);
    let mut nonce = 1;
    let mut refused = 0;
    for _ in 0..20 {
        let (_, clock) = once(
            address,
            &control("GET", "/__terminus/clock", "application/json", ""),
        );
        let now = clock["now"].as_i64().expect("the clock");
        nonce += 2;
        let (_, created) = once(
            address,
            &signed_action(
                "RunInstances",
                json!({ "Placement": { "Zone": "ap-guangzhou-3" }, "ImageId": "img-eb30mz89", "InstanceCount": 100 }),
                now,
                nonce,
            ),
        );
        match created.pointer("/Response/InstanceIdSet") {
            Some(ids) => {
                let (_, terminated) = once(
                    address,
                    &signed_action(
                        "TerminateInstances",
                        json!({ "InstanceIds": ids }),
                        now,
                        nonce + 1,
                    ),
                );
                assert_eq!(error_code(&terminated), None, "{terminated}");
            }
            None => {
                assert_eq!(
                    error_code(&created),
                    Some("LimitExceeded.InstanceQuota"),
                    "{created}"
                );
                refused += 1;
            }
        }
        once(
            address,
            &control(
                "POST",
                "/__terminus/clock",
                "application/json",
                r#"{"advance": 1}"#,
            ),
        );
    }
    let (_, world) = once(
        address,
        &control("GET", "/__terminus/world", "application/json", ""),
    );
    let held = world["instances"].as_array().map_or(0, Vec::len);
    // 5,000 + 20 × 100 would pass the cap of 5,500: the destroyed ones left, so none was refused.
    assert_eq!(
        refused, 0,
        "{refused} loops refused at the cap: the destroyed instances stayed"
    );
    assert!(held <= 5_500, "{held} instances after 20 loops");
    eprintln!(
        "journal attack: RSS {journal_rss} KiB after DELETE; beside 10 MB: {} waits, p99 {p99:?}, longest \
         {longest:?}; world {held} instances after 20 loops ({refused} refused at the cap); {:.1} s",
        waits.len(),
        started.elapsed().as_secs_f64()
    );
}
