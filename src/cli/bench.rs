//! `terminus bench`: drive signed `TerminateInstances` at the mock over keep-alive connections and report
//! requests per second and latency percentiles.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::{Format, MAX_THREADS, count_in, starting, unusable, write_stdout};
use crate::harness::load::{self, Plan, Report, Script};
use crate::mock::MockServer;
use crate::signing::{Credentials, Secret};

/// Load-test the mock: signed TerminateInstances over keep-alive loopback connections, verification on.
///
/// Without --target, the mock runs in this process with the bench world (rate limit off, a fixed clock, the
/// documentation's example account, --fresh running instances and a few destroyed ones); `--print-world`
/// prints that world for `terminus serve --world`. Each connection terminates its share of the fresh
/// instances once each (the full path: verification, every rule, the state change, the success envelope),
/// then repeats calls on them, which answer `UnsupportedOperation.InstanceStateTerminated` after verification
/// and every rule up to the state check. The two are reported separately.
///
/// Exit status: 0 when every measured request got HTTP 200; 1 when any did not or failed in transport.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Keep-alive connections, one request in flight on each (1 to 4096).
    #[arg(long, default_value_t = 32, value_parser = count_in(1, MAX_CONNECTIONS))]
    connections: usize,
    /// Measured time (`5s`, `500ms`, `1m`; a bare number is seconds), from 1ms to 24 hours.
    #[arg(long, default_value = "5s", value_parser = measured_duration)]
    duration: Duration,
    /// Warm-up before measuring, not recorded (0 to 24 hours).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// A running mock (`http://HOST:PORT`) instead of the embedded one. Serve the bench world there
    /// (`terminus bench --print-world > bench.toml; terminus serve --world bench.toml`) for fresh terminations.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Worker threads of the embedded mock (1 to 256).
    #[arg(long, default_value_t = 2, value_parser = count_in(1, MAX_THREADS))]
    workers: usize,
    /// Threads of the client (1: one thread drives every connection; up to 256).
    #[arg(long, default_value_t = 1, value_parser = count_in(1, MAX_THREADS))]
    client_threads: usize,
    /// Fresh instances in the bench world, shared out between the connections (each costs ~1.7 KB: its signed
    /// request and its place in the world; 0 to 1000000).
    #[arg(long, default_value_t = 100_000, value_parser = count_in(0, MAX_FRESH))]
    fresh: usize,
    /// With --target: the SecretId to sign with.
    #[arg(long, default_value = load::EXAMPLE_SECRET_ID)]
    secret_id: String,
    /// With --target: the SecretKey to sign with [default: the documentation's example key].
    #[arg(long, env = "TERMINUS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<Secret>,
    /// Print the bench world as a world file and exit.
    #[arg(long)]
    print_world: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(super) fn run(args: Args) -> ExitCode {
    if args.print_world {
        write_stdout(load::bench_world_toml(args.fresh).as_bytes());
        return ExitCode::SUCCESS;
    }
    // The embedded server lives until the end of the run.
    let mut _server = None;
    let (address, host, timestamp, credentials, target) = match &args.target {
        None => {
            let server = match starting("the mock", || {
                MockServer::builder()
                    .world(load::bench_world(args.fresh))
                    .workers(args.workers)
                    .start()
            }) {
                Ok(server) => server,
                Err(error) => return unusable(format!("cannot start the mock: {error}")),
            };
            let address = server.address();
            let timestamp = server.with_world(|world| world.clock.now());
            let target = format!(
                "embedded mock at {} ({} workers; bench world: {} fresh instances, rate limit off, clock fixed at {})",
                server.uri(),
                args.workers,
                args.fresh,
                load::BENCH_CLOCK
            );
            _server = Some(server);
            let credentials = Credentials::new(load::EXAMPLE_SECRET_ID, load::EXAMPLE_SECRET_KEY);
            (address, address.to_string(), timestamp, credentials, target)
        }
        Some(url) => {
            let (address, authority) = match resolve(url) {
                Ok(resolved) => resolved,
                Err(message) => return unusable(message),
            };
            let (timestamp, clock) = match world_clock(address, &authority) {
                Some(now) => (now, "its clock"),
                None => (unix_now(), "this machine's clock (no /__terminus/clock)"),
            };
            let key = args
                .secret_key
                .clone()
                .unwrap_or_else(|| Secret::from(load::EXAMPLE_SECRET_KEY));
            let credentials = Credentials::new(args.secret_id.clone(), key);
            let target = format!("{url} (signed at {timestamp}, {clock})");
            (address, authority, timestamp, credentials, target)
        }
    };

    let fresh_ids: Vec<String> = (0..args.fresh).map(load::fresh_id).collect();
    let tombstone_ids: Vec<String> = (0..load::TOMBSTONES).map(load::tombstone_id).collect();
    let (fresh, warmup_requests) = match (
        load::sign_pool(&host, timestamp, &credentials, &fresh_ids),
        load::sign_pool(&host, timestamp, &credentials, &tombstone_ids),
    ) {
        (Ok(fresh), Ok(warmup)) => (fresh, warmup),
        (Err(error), _) | (_, Err(error)) => return unusable(format!("cannot sign: {error}")),
    };
    let mut scripts = vec![Script::default(); args.connections];
    for (index, request) in fresh.into_iter().enumerate() {
        scripts[index % args.connections].once.push(request);
    }
    for script in &mut scripts {
        script.cycle = script.once.clone();
    }
    let plan = Plan {
        address,
        warmup: args.warmup,
        duration: args.duration,
        client_threads: args.client_threads,
        warmup_requests,
        scripts,
        class_names: ["fresh terminations".to_owned(), "repeat calls".to_owned()],
    };
    let runtime = match starting("the client", || load::client_runtime(args.client_threads)) {
        Ok(runtime) => runtime,
        Err(error) => return unusable(format!("cannot start the client: {error}")),
    };
    let report = load::run_on(&runtime, plan);
    let mix = format!(
        "TerminateInstances, one instance per call, TC3-HMAC-SHA256 (content-type;host, as the SDKs sign), \
         Python SDK headers, Host {host}, X-TC-Timestamp {timestamp}; each connection first terminates its \
         share of {fresh} fresh instances (ins-f…) once each, then repeats calls on them \
         (UnsupportedOperation.InstanceStateTerminated, or on destroyed ins-t… instances when it has no share); \
         warm-up: repeat calls on destroyed instances",
        fresh = args.fresh
    );
    match args.format {
        Format::Json => {
            let document = json!({
                "target": target,
                "client_threads": args.client_threads,
                "mix": mix,
                "report": report,
            });
            write_stdout(format!("{document:#}\n").as_bytes());
        }
        Format::Text => write_stdout(text(&report, &target, &mix, &args).as_bytes()),
    }
    if report.errors == 0 && report.requests > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn text(report: &Report, target: &str, mix: &str, args: &Args) -> String {
    let mut out = format!(
        "terminus bench: {target}\n\
         client: {} keep-alive connections on {} thread(s), {:.1} s warm-up, {:.2} s measured\n\
         requests: {mix}\n\n",
        report.connections, args.client_threads, report.warmup_seconds, report.seconds
    );
    out.push_str(&format!(
        "{:<20} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9}\n",
        "", "requests", "errors", "req/s", "p50 µs", "p90 µs", "p99 µs", "max µs"
    ));
    let mut row = |name: &str, requests: u64, errors: u64, rate: f64, l: &load::Latency| {
        out.push_str(&format!(
            "{name:<20} {requests:>9} {errors:>7} {rate:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0}\n",
            l.p50_us, l.p90_us, l.p99_us, l.max_us
        ));
    };
    for class in report.classes.iter().filter(|class| class.requests > 0) {
        row(
            &class.name,
            class.requests,
            class.errors,
            class.requests_per_second,
            &class.latency,
        );
    }
    row(
        "all",
        report.requests,
        report.errors,
        report.requests_per_second,
        &report.latency,
    );
    out.push_str("\nanswers:\n");
    for class in report.classes.iter().filter(|class| class.requests > 0) {
        let answers: Vec<String> = class
            .answers
            .iter()
            .map(|(answer, count)| format!("{answer} {count}"))
            .collect();
        out.push_str(&format!("  {}: {}\n", class.name, answers.join(", ")));
    }
    let fresh = &report.classes[load::ONCE];
    let succeeded = fresh.answers.get("ok").copied().unwrap_or(0);
    if succeeded < fresh.requests {
        out.push_str(&format!(
            "note: {} of {} fresh terminations did not succeed (answers above); for fresh terminations against \
             --target, serve the bench world on a fresh server (terminus bench --print-world > bench.toml; \
             terminus serve --world bench.toml)\n",
            fresh.requests - succeeded,
            fresh.requests
        ));
    }
    out
}

/// Reads `http://HOST:PORT[/]` into an address to connect to and the authority to send as `Host`.
fn resolve(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--target {url:?}: expected http://HOST:PORT"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("--target {url:?}: no host"));
    }
    let address = socket_address(authority).map_err(|why| format!("--target {url:?}: {why}"))?;
    Ok((address, authority.to_owned()))
}

/// The address of `HOST[:PORT]` (port 80 when none is given), for the commands that reach a server over plain
/// HTTP themselves (`bench --target`, `health`).
pub(super) fn socket_address(authority: &str) -> Result<SocketAddr, String> {
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))
}

/// The target world's clock, from the mock's control API; `None` when it has none.
fn world_clock(address: SocketAddr, authority: &str) -> Option<i64> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // The control token, when the target needs one (`terminus serve` off loopback).
    let token = std::env::var("TERMINUS_CONTROL_TOKEN")
        .map(|token| format!("{}: {token}\r\n", crate::mock::TOKEN_HEADER))
        .unwrap_or_default();
    let request = format!(
        "GET /__terminus/clock HTTP/1.1\r\nHost: {authority}\r\n{token}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let at = answer.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
    let body: serde_json::Value = serde_json::from_slice(&answer[at..]).ok()?;
    body.get("now")?.as_i64()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `5s`, `500ms`, `1.5s`, `2m`; a bare number is seconds.
/// The most keep-alive connections: each is a socket on both ends of loopback.
const MAX_CONNECTIONS: usize = 4096;
/// The most fresh instances (~1.7 GB of signed requests and world).
const MAX_FRESH: usize = 1_000_000;
/// The longest warm-up or measured time: a day is already more than a benchmark needs, and keeps every deadline
/// (`now + warmup + duration`) far from the end of `Instant`'s range.
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// A measured time: a duration of at least a millisecond (a rate over nothing is no rate).
fn measured_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(1) {
        return Err(format!("{text:?} is shorter than 1ms"));
    }
    Ok(duration)
}

/// A duration such as `5s`, `500ms` or `1m`, at most 24 hours.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 5s or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        other => return Err(format!("unknown unit {other:?}; use ms, s or m")),
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        Ok(_) => Err(format!("{text:?} is longer than 24 hours")),
        Err(error) => Err(format!("{text:?}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_and_without_units() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("86400s").is_ok());
        assert!(parse_duration("86401s").is_err());
        assert!(parse_duration("9223372036854775807s").is_err());
        assert!(measured_duration("0s").is_err());
    }

    #[test]
    fn targets_resolve_with_and_without_ports() {
        let (address, authority) = resolve("http://127.0.0.1:18080/").unwrap();
        assert_eq!(
            (address.port(), authority.as_str()),
            (18080, "127.0.0.1:18080")
        );
        assert_eq!(resolve("http://127.0.0.1").unwrap().0.port(), 80);
        assert!(resolve("https://127.0.0.1:1").is_err());
    }
}
