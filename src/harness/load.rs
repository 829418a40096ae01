//! The load driver behind `terminus bench`: signed `TerminateInstances` over keep-alive HTTP/1.1 connections.
//!
//! The client is deliberately raw ([`crate::harness::http1`]: a pre-built request written whole, one response read by its
//! `Content-Length`) so that what is measured is the server, not a client library. Every request is signed up
//! front ([`sign_pool`]); the server verifies each one as it would any client's.
//!
//! A run ([`run`]) opens one connection per [`Script`], sends requests back to back on each (one in flight per
//! connection), first for a warm-up that is not recorded, then for the measured duration. Each script sends its
//! `once` requests one time each, then cycles its `cycle` requests; the two are reported as separate classes, so
//! a bench can tell first terminations (the full path) from repeated calls on terminated instances. Latency is
//! the time from writing a request to reading the last byte of its answer, recorded exactly (nanoseconds, sorted
//! at the end).
//!
//! [`bench_world`] is the world the driver is meant for: rate limit off, a fixed clock, the documentation's
//! example account, a pool of fresh instances and a few destroyed ones for the warm-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::harness::http1::Connection;
use crate::message::Request;
use crate::signing::{self, Credentials, Scheme, SignOptions, Unusable};
use crate::world::clock::ClockSpec;
use crate::world::{Instance, InstanceState, RateLimitSpec, WorldSpec};

/// The documentation's example SecretId (the default world's first account).
pub const EXAMPLE_SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
/// The documentation's example SecretKey.
pub const EXAMPLE_SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
/// The bench world's fixed clock (2023-11-14T22:13:20Z), and so the requests' `X-TC-Timestamp`.
pub const BENCH_CLOCK: i64 = 1_700_000_000;
/// The region every bench request names.
pub const BENCH_REGION: &str = "ap-guangzhou";
/// How many destroyed instances the bench world holds for warm-up calls.
pub const TOMBSTONES: usize = 16;

/// The id of the `n`th fresh instance of the bench world: `ins-f` and 7 base-36 digits.
pub fn fresh_id(n: usize) -> String {
    instance_id('f', n)
}

/// The id of the `n`th destroyed instance of the bench world: `ins-t` and 7 base-36 digits.
pub fn tombstone_id(n: usize) -> String {
    instance_id('t', n)
}

fn instance_id(prefix: char, mut n: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 7];
    for slot in digits.iter_mut().rev() {
        *slot = DIGITS[n % 36];
        n /= 36;
    }
    format!("ins-{prefix}{}", String::from_utf8_lossy(&digits))
}

/// The bench world as a world file: `terminus serve --world` serves the same world `terminus bench` embeds.
///
/// Rate limit off, clock fixed at [`BENCH_CLOCK`], immediate lifecycle timings (a destroyed instance is gone at
/// once, so a repeat call meets `InstanceStateTerminated`), the example account, `fresh` running pay-as-you-go
/// instances ([`fresh_id`]) and [`TOMBSTONES`] destroyed ones ([`tombstone_id`]).
pub fn bench_world_toml(fresh: usize) -> String {
    let mut text = format!(
        "# The world of `terminus bench`: rate limit off, a fixed clock, the documentation's example account,\n\
         # {fresh} fresh instances (ins-f…) and {TOMBSTONES} destroyed ones (ins-t…).\n\
         region = \"{BENCH_REGION}\"\n\
         clock = {{ mode = \"fixed\", at = {BENCH_CLOCK} }}\n\
         rate-limit = {{ terminate-per-second = 0 }}\n\
         timings = \"immediate\"\n\n\
         [[accounts]]\n\
         secret-id = \"{EXAMPLE_SECRET_ID}\"\n\
         secret-key = \"{EXAMPLE_SECRET_KEY}\"\n\
         owner = \"100000000001\"\n"
    );
    text.reserve(32 * (fresh + TOMBSTONES));
    for n in 0..fresh {
        text.push_str(&format!("\n[[instances]]\nid = \"{}\"\n", fresh_id(n)));
    }
    for n in 0..TOMBSTONES {
        text.push_str(&format!(
            "\n[[instances]]\nid = \"{}\"\nstate = \"TERMINATED\"\n",
            tombstone_id(n)
        ));
    }
    text
}

/// The bench world ([`bench_world_toml`]), built without parsing it.
pub fn bench_world(fresh: usize) -> WorldSpec {
    let header = bench_world_toml(0)
        .split("\n[[instances]]")
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut spec =
        WorldSpec::from_toml(&header, "the bench world").expect("the bench world is valid");
    debug_assert_eq!(
        spec.rate_limit,
        RateLimitSpec {
            terminate_per_second: 0
        }
    );
    debug_assert_eq!(spec.clock, ClockSpec::Fixed { at: BENCH_CLOCK });
    spec.instances.reserve(fresh + TOMBSTONES);
    spec.instances
        .extend((0..fresh).map(|n| Instance::new(fresh_id(n))));
    spec.instances.extend((0..TOMBSTONES).map(|n| Instance {
        state: InstanceState::Terminated,
        ..Instance::new(tombstone_id(n))
    }));
    spec
}

/// An unsigned API 3.0 `TerminateInstances` request for one instance, with the Python SDK's headers.
pub fn terminate_request(host: &str, timestamp: i64, instance_id: &str) -> Request {
    let body = format!("{{\"InstanceIds\": [\"{instance_id}\"]}}").into_bytes();
    let headers = [
        ("User-Agent", "python-requests/2.34.2"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
        ("Content-Type", "application/json"),
        ("Host", host),
        ("X-TC-Action", "TerminateInstances"),
        ("X-TC-RequestClient", "SDK_PYTHON_3.1.195"),
        ("X-TC-Timestamp", &timestamp.to_string()),
        ("X-TC-Version", "2017-03-12"),
        ("X-TC-Region", BENCH_REGION),
        ("X-TC-Language", "zh-CN"),
        ("Content-Length", &body.len().to_string()),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()));
    Request {
        method: "POST".to_owned(),
        target: "/".to_owned(),
        headers: headers.into(),
        body,
    }
}

/// Signs one `TerminateInstances` request per id (TC3, scope service `cvm`, signed headers
/// `content-type;host` as the SDKs sign), on every core, and serialises each for the wire.
pub fn sign_pool(
    host: &str,
    timestamp: i64,
    credentials: &Credentials,
    ids: &[String],
) -> Result<Vec<Bytes>, Unusable> {
    let options = SignOptions {
        signed_headers: None,
        service: Some("cvm".to_owned()),
    };
    let sign_one = |id: &String| {
        let request = terminate_request(host, timestamp, id);
        signing::sign(&request, credentials, Scheme::Tc3, &options)
            .map(|signed| Bytes::from(signed.request.to_bytes()))
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = ids.len().div_ceil(threads).max(256);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .chunks(chunk)
            .map(|chunk| scope.spawn(move || chunk.iter().map(sign_one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("signing does not panic"))
            .collect()
    })
}

/// What one connection sends once measuring starts.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Sent one time each, in order: the class [`ONCE`].
    pub once: Vec<Bytes>,
    /// Then cycled until the end: the class [`CYCLE`]. When empty, the warm-up requests are cycled instead.
    pub cycle: Vec<Bytes>,
}

/// Index of the class of requests sent once (in [`Report::classes`]).
pub const ONCE: usize = 0;
/// Index of the class of requests cycled (in [`Report::classes`]).
pub const CYCLE: usize = 1;

/// A load run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Where to connect.
    pub address: SocketAddr,
    /// Not recorded: connections warm up, the server's allocator and caches too.
    pub warmup: Duration,
    /// Recorded.
    pub duration: Duration,
    /// Threads of the client's runtime (1: a current-thread runtime).
    pub client_threads: usize,
    /// Cycled by every connection during the warm-up.
    pub warmup_requests: Vec<Bytes>,
    /// One per connection.
    pub scripts: Vec<Script>,
    /// Names of the two classes, for the report: requests sent once, requests cycled.
    pub class_names: [String; 2],
}

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Connections, one request in flight on each.
    pub connections: usize,
    /// Seconds of warm-up, not recorded.
    pub warmup_seconds: f64,
    /// Seconds from the end of the warm-up to the last recorded answer.
    pub seconds: f64,
    /// Requests answered (or failed) in the measured time.
    pub requests: u64,
    /// Requests that got a status other than 200 or failed in transport.
    pub errors: u64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// Latency of every measured request that got an answer.
    pub latency: Latency,
    /// Answers by kind: `ok` (no `Error` in the envelope), the error code, `HTTP <status>`, `transport error`.
    pub answers: BTreeMap<String, u64>,
    /// The requests sent once and the requests cycled, each on its own.
    pub classes: Vec<ClassReport>,
}

/// One class of requests.
#[derive(Clone, Debug, Serialize)]
pub struct ClassReport {
    /// What the requests were.
    pub name: String,
    /// Requests of this class in the measured time.
    pub requests: u64,
    /// Of them, errors (non-200 or transport).
    pub errors: u64,
    /// Seconds from the first request of this class to its last answer (across connections).
    pub seconds: f64,
    /// `requests / seconds`.
    pub requests_per_second: f64,
    /// Latency of these requests.
    pub latency: Latency,
    /// Answers by kind, as in [`Report::answers`].
    pub answers: BTreeMap<String, u64>,
}

/// Latency percentiles (nearest rank), in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

impl Latency {
    /// Percentiles of latencies in nanoseconds, which it sorts.
    pub fn of(nanos: &mut [u64]) -> Self {
        if nanos.is_empty() {
            return Self::default();
        }
        nanos.sort_unstable();
        let rank = |q: f64| {
            let index = ((q * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len()) - 1;
            nanos[index] as f64 / 1000.0
        };
        let sum: u128 = nanos.iter().map(|&n| u128::from(n)).sum();
        Self {
            p50_us: rank(0.50),
            p90_us: rank(0.90),
            p99_us: rank(0.99),
            max_us: nanos[nanos.len() - 1] as f64 / 1000.0,
            mean_us: sum as f64 / nanos.len() as f64 / 1000.0,
        }
    }
}

/// Runs a plan on its own runtime and reports. Fails only when the runtime cannot be built.
pub fn run(plan: Plan) -> std::io::Result<Report> {
    let runtime = client_runtime(plan.client_threads)?;
    Ok(run_on(&runtime, plan))
}

/// The client's runtime: one thread drives every connection, or `threads` workers.
pub fn client_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("terminus-bench")
            .enable_all()
            .build()
    }
}

/// Runs a plan on a runtime from [`client_runtime`] and reports.
pub fn run_on(runtime: &tokio::runtime::Runtime, plan: Plan) -> Report {
    runtime.block_on(run_async(plan))
}

/// When the phases end.
#[derive(Clone, Copy, Debug)]
struct Deadlines {
    measure: Instant,
    end: Instant,
}

async fn run_async(plan: Plan) -> Report {
    let start = Instant::now();
    let deadlines = Deadlines {
        measure: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let warmup = Arc::new(plan.warmup_requests);
    let tasks: Vec<_> = plan
        .scripts
        .into_iter()
        .map(|script| tokio::spawn(drive(plan.address, deadlines, Arc::clone(&warmup), script)))
        .collect();
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(tally) = task.await {
            tallies.push(tally);
        }
    }
    report(&plan.class_names, plan.warmup, deadlines.measure, tallies)
}

/// What one connection saw, per class.
#[derive(Debug, Default)]
struct Tally {
    classes: [ClassTally; 2],
}

#[derive(Debug, Default)]
struct ClassTally {
    nanos: Vec<u64>,
    errors: u64,
    answers: Vec<(String, u64)>,
    first_start: Option<Instant>,
    last_end: Option<Instant>,
}

impl ClassTally {
    fn count(&mut self, answer: &str) {
        match self.answers.iter_mut().find(|(known, _)| known == answer) {
            Some((_, count)) => *count += 1,
            None => self.answers.push((answer.to_owned(), 1)),
        }
    }
}

/// One connection: warm-up, then its script, until the end.
async fn drive(
    address: SocketAddr,
    deadlines: Deadlines,
    warmup: Arc<Vec<Bytes>>,
    script: Script,
) -> Tally {
    let mut tally = Tally::default();
    for class in &mut tally.classes {
        class.nanos.reserve(1 << 14);
    }
    let mut connection: Option<Connection> = None;
    let (mut warm, mut once, mut cycle) = (0usize, 0usize, 0usize);
    let cycled = if script.cycle.is_empty() {
        warmup.as_slice()
    } else {
        script.cycle.as_slice()
    };
    loop {
        let now = Instant::now();
        if now >= deadlines.end {
            break;
        }
        let measuring = now >= deadlines.measure;
        let (request, class) = if !measuring {
            warm += 1;
            (&warmup[(warm - 1) % warmup.len()], CYCLE)
        } else if once < script.once.len() {
            once += 1;
            (&script.once[once - 1], ONCE)
        } else {
            cycle += 1;
            (&cycled[(cycle - 1) % cycled.len()], CYCLE)
        };
        let open = match &mut connection {
            Some(open) => open,
            None => match Connection::open(address).await {
                Ok(open) => connection.insert(open),
                Err(_) => {
                    if measuring {
                        let class = &mut tally.classes[class];
                        class.errors += 1;
                        class.count("transport error");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        let outcome = open.exchange(request).await;
        let ended = Instant::now();
        if !measuring {
            if outcome.is_err() {
                connection = None;
            }
            continue;
        }
        let class = &mut tally.classes[class];
        class.first_start.get_or_insert(started);
        class.last_end = Some(ended);
        match outcome {
            Ok(status) => {
                class
                    .nanos
                    .push(u64::try_from((ended - started).as_nanos()).unwrap_or(u64::MAX));
                if status != 200 {
                    class.errors += 1;
                    class.count(&format!("HTTP {status}"));
                } else {
                    let open = connection.as_ref().expect("it just answered");
                    class.count(answer_code(open.body()).unwrap_or("ok"));
                }
            }
            Err(_) => {
                class.errors += 1;
                class.count("transport error");
                connection = None;
            }
        }
    }
    tally
}

/// The `Code` of an API 3.0 error envelope, read without parsing the JSON.
fn answer_code(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"Code\"";
    let at = body.windows(KEY.len()).position(|window| window == KEY)? + KEY.len();
    let rest = &body[at..];
    let rest = &rest[rest.iter().position(|&b| b == b'"')? + 1..];
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn report(names: &[String; 2], warmup: Duration, measure: Instant, tallies: Vec<Tally>) -> Report {
    let connections = tallies.len();
    let mut all_nanos = Vec::new();
    let mut answers = BTreeMap::new();
    let (mut requests, mut errors) = (0, 0);
    let mut last_end = measure;
    let mut classes = Vec::with_capacity(2);
    let mut per_class: [Vec<ClassTally>; 2] = Default::default();
    for tally in tallies {
        let [once, cycle] = tally.classes;
        per_class[ONCE].push(once);
        per_class[CYCLE].push(cycle);
    }
    for (index, tallies) in per_class.into_iter().enumerate() {
        let mut nanos = Vec::new();
        let mut class_answers = BTreeMap::new();
        let mut class_errors = 0;
        let mut first = None::<Instant>;
        let mut last = None::<Instant>;
        for tally in tallies {
            nanos.extend_from_slice(&tally.nanos);
            class_errors += tally.errors;
            for (answer, count) in tally.answers {
                *class_answers.entry(answer).or_insert(0) += count;
            }
            first = match (first, tally.first_start) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = last.max(tally.last_end);
        }
        let class_requests: u64 = class_answers.values().sum();
        let seconds = match (first, last) {
            (Some(first), Some(last)) => (last - first).as_secs_f64(),
            _ => 0.0,
        };
        if let Some(last) = last {
            last_end = last_end.max(last);
        }
        requests += class_requests;
        errors += class_errors;
        for (answer, count) in &class_answers {
            *answers.entry(answer.clone()).or_insert(0) += count;
        }
        all_nanos.extend_from_slice(&nanos);
        classes.push(ClassReport {
            name: names[index].clone(),
            requests: class_requests,
            errors: class_errors,
            seconds,
            requests_per_second: rate(class_requests, seconds),
            latency: Latency::of(&mut nanos),
            answers: class_answers,
        });
    }
    let seconds = (last_end - measure).as_secs_f64();
    Report {
        connections,
        warmup_seconds: warmup.as_secs_f64(),
        seconds,
        requests,
        errors,
        requests_per_second: rate(requests, seconds),
        latency: Latency::of(&mut all_nanos),
        answers,
        classes,
    }
}

fn rate(requests: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_ids_are_instance_ids() {
        for id in [fresh_id(0), fresh_id(123_456), tombstone_id(15)] {
            assert_eq!(crate::world::rules::check_instance_id(&id), Ok(()), "{id}");
        }
        assert_eq!(fresh_id(37), "ins-f0000011");
    }

    #[test]
    fn the_built_world_is_the_printed_world() {
        let printed = WorldSpec::from_toml(&bench_world_toml(5), "printed").unwrap();
        assert_eq!(printed, bench_world(5));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut nanos: Vec<u64> = (1..=100).rev().map(|n| n * 1000).collect();
        let latency = Latency::of(&mut nanos);
        assert_eq!(
            (
                latency.p50_us,
                latency.p90_us,
                latency.p99_us,
                latency.max_us
            ),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(latency.mean_us, 50.5);
    }

    #[test]
    fn the_code_is_read_from_an_error_envelope() {
        let body = br#"{"Response":{"Error":{"Code":"UnsupportedOperation.InstanceStateTerminated","Message":"x"},"RequestId":"r"}}"#;
        assert_eq!(
            answer_code(body),
            Some("UnsupportedOperation.InstanceStateTerminated")
        );
        assert_eq!(answer_code(br#"{"Response":{"RequestId":"r"}}"#), None);
    }

    #[test]
    fn a_short_run_terminates_each_fresh_instance_once_then_repeats() {
        let server = crate::mock::MockServer::builder()
            .world(bench_world(40))
            .start()
            .unwrap();
        let host = server.address().to_string();
        let credentials = Credentials::new(EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY);
        let ids: Vec<String> = (0..40).map(fresh_id).collect();
        let fresh = sign_pool(&host, BENCH_CLOCK, &credentials, &ids).unwrap();
        let tombstones: Vec<String> = (0..TOMBSTONES).map(tombstone_id).collect();
        let warmup_requests = sign_pool(&host, BENCH_CLOCK, &credentials, &tombstones).unwrap();
        let scripts = fresh
            .chunks(20)
            .map(|chunk| Script {
                once: chunk.to_vec(),
                cycle: chunk.to_vec(),
            })
            .collect();
        let report = run(Plan {
            address: server.address(),
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(300),
            client_threads: 1,
            warmup_requests,
            scripts,
            class_names: ["fresh".into(), "repeat".into()],
        })
        .unwrap();
        assert_eq!((report.connections, report.errors), (2, 0));
        let [fresh, repeat] = &report.classes[..] else {
            panic!("two classes")
        };
        assert_eq!(fresh.answers, BTreeMap::from([("ok".to_owned(), 40)]));
        assert_eq!(
            repeat.answers.keys().collect::<Vec<_>>(),
            ["UnsupportedOperation.InstanceStateTerminated"]
        );
        assert_eq!(report.requests, fresh.requests + repeat.requests);
        assert!(report.latency.p50_us > 0.0 && report.latency.p99_us <= report.latency.max_us);
        let terminated = server.with_world(|world| {
            world
                .spec()
                .instances
                .iter()
                .filter(|instance| instance.state == InstanceState::Terminated)
                .count()
        });
        assert_eq!(terminated, 40 + TOMBSTONES);
    }
}
