//! What a large world costs to load: `terminus serve --world FILE` with the bench world of 1,000,000 instances
//! (`terminus bench --print-world --fresh 1000000`), read from its TOML text into a running mock, timed, and its
//! resident memory measured (`VmRSS` of `/proc/self/status`, Linux) before and after, with the text dropped.
//!
//!     cargo bench --bench world [-- INSTANCES]
//!
//! Prints the load time (wall and CPU) and the bytes of RSS per instance, serving and (to show where they go) once
//! parsed. A benchmark, not a test: the README quotes its figures.

use std::time::Instant;

use terminus::harness::load::{TOMBSTONES, bench_world_toml};
use terminus::mock::MockServer;
use terminus::world::WorldSpec;

/// CPU time this process has used (user and system), seconds: on a machine shared with other work the wall time
/// of a load measures the machine's load too, its CPU time much less.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux: /proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces): utime and stime are the 12th
    // and 13th, in clock ticks (100 per second on Linux).
    let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks = |at: usize| fields[at].parse::<f64>().expect("a tick count");
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux: /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS in kB")
        * 1024
}

#[allow(clippy::print_stdout)]
fn main() {
    let fresh: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1_000_000);
    let text = bench_world_toml(fresh);
    let before = rss();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let spec = WorldSpec::from_toml(&text, "the bench world").expect("the bench world is valid");
    let parsed = started.elapsed();
    // The spec alone, with the text still held: what the parsed instances cost before the server keeps its own
    // copy for `POST /__terminus/reset` beside the running world.
    let parsed_rss = rss().saturating_sub(before);
    let server = MockServer::builder()
        .world(spec)
        .start()
        .expect("the mock starts");
    let loaded = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    drop(text);
    let instances = fresh + TOMBSTONES;
    let after = rss();
    println!(
        "{instances} instances: parsed in {:.2} s, serving in {:.2} s ({cpu:.2} s of CPU); RSS {} MB more, {:.0} bytes per instance ({:.0} once parsed, before the server's reset copy)",
        parsed.as_secs_f64(),
        loaded.as_secs_f64(),
        after.saturating_sub(before) / 1_000_000,
        after.saturating_sub(before) as f64 / instances as f64,
        parsed_rss as f64 / instances as f64
    );
    drop(server);
}
