//! The waits that production needs and tests must not sit through: the live-mode pacer and the mock's body
//! timeout are settable, and their defaults stay what production needs.

use std::process::Command;
use std::time::{Duration, Instant};

use terminus::live::runner::{PACE, Pacer};
use terminus::mock::{Limits, MockServer};

#[test]
fn the_pacer_lets_one_request_go_per_interval() {
    let interval = Duration::from_millis(40);
    let pacer = Pacer::new(interval);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        // The first goes at once; each of the next three waits an interval after the one before.
        for _ in 0..4 {
            pacer.wait().await;
        }
    });
    assert!(started.elapsed() >= 3 * interval, "{:?}", started.elapsed());
}

#[test]
fn live_mode_paces_eight_requests_a_second_unless_told_otherwise() {
    assert_eq!(PACE, Duration::from_millis(125));
    let help = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let pace = help
        .split("--pace <PACE>")
        .nth(1)
        .and_then(|rest| rest.split("[default: ").nth(1))
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no --pace default in `terminus run --help`: {help}"));
    assert_eq!(humantime::parse_duration(pace), Ok(PACE));
}

/// The production pace keeps a live run under the rate limit TerminateInstances documents (the tests against a
/// stand-in run unpaced, with its limit off).
#[test]
fn the_default_pace_is_under_the_documented_rate_limit() {
    let seed = terminus::file::read_text(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/seeds/001_708a1ee6f76f4ff2.txt"),
        1 << 20,
    )
    .unwrap();
    let per_second: u32 = seed
        .split("A maximum of ")
        .nth(1)
        .and_then(|rest| rest.split(" requests can be initiated per second").next())
        .and_then(|count| count.parse().ok())
        .expect("seed 001 states its rate limit");
    assert_eq!(per_second, 10);
    assert!(PACE * per_second >= Duration::from_secs(1), "{PACE:?}");
}

#[test]
fn the_body_timeout_is_10_s_unless_set_and_kept_within_bounds() {
    let start = |limits: Limits| {
        MockServer::builder()
            .limits(limits)
            .start()
            .expect("the mock starts")
    };
    assert_eq!(
        start(Limits::default()).limits().body_timeout,
        Duration::from_secs(10)
    );
    let quick = Limits {
        body_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    assert_eq!(
        start(quick).limits().body_timeout,
        Duration::from_millis(200)
    );
    // None would answer every body as late; a day would let a silent client hold a connection for one.
    for (asked, kept) in [
        (Duration::ZERO, Duration::from_millis(1)),
        (Duration::from_secs(86_400), Limits::LONGEST_BODY_TIMEOUT),
    ] {
        let limits = Limits {
            body_timeout: asked,
            ..Limits::default()
        };
        assert_eq!(start(limits).limits().body_timeout, kept);
    }
}
