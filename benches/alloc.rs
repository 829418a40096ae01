//! Heap allocations per signed `TerminateInstances`, counted (dhat's heap statistics: every block allocated,
//! exact, not sampled) over the whole path in one process: the mock server (hyper, the provider, the world) and the
//! raw keep-alive client that sends the pre-signed bytes (`terminus::harness::http1`, which reuses its buffer and
//! allocates nothing per exchange once warm).
//!
//! Three kinds of request, each on the bench world of `terminus bench` (1,000 fresh instances): a first
//! termination (the full path: verification, every rule, the state change, the success envelope), a repeated
//! call on a terminated instance (everything up to the state check: `ID=terminated` of `ceiling.sh`), and an id
//! the world does not hold (`ID=unknown`).
//!
//!     cargo bench --bench alloc
//!
//! Prints `allocations per request` for each. A benchmark, not a test: the README quotes its figures.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use terminus::harness::http1::Connection;
use terminus::harness::load::{
    BENCH_CLOCK, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY, bench_world, fresh_id, sign_pool,
    tombstone_id,
};
use terminus::mock::MockServer;
use terminus::signing::Credentials;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Requests measured per kind (after as many unmeasured ones to warm the connection, the server's buffers and
/// the allocator).
const MEASURED: usize = 500;
const FRESH: usize = 1_000;

#[allow(clippy::print_stdout)]
fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let server = MockServer::builder()
        .world(bench_world(FRESH))
        .start()
        .expect("the mock starts");
    let host = server.address().to_string();
    let credentials = Credentials::new(EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY);
    let sign = |ids: Vec<String>| {
        sign_pool(&host, BENCH_CLOCK, &credentials, &ids).expect("the bench requests sign")
    };
    let first: Vec<Bytes> = sign((0..2 * MEASURED).map(fresh_id).collect());
    let terminated: Vec<Bytes> = sign(vec![tombstone_id(0)]);
    let unknown: Vec<Bytes> = sign(vec!["ins-zzzzzzzz".to_owned()]);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut connection = Connection::open(server.address())
            .await
            .expect("the mock accepts");
        let kinds: [(&str, &[Bytes]); 3] = [
            ("first termination (full path)", &first),
            ("repeated call on a terminated instance", &terminated),
            ("unknown instance id", &unknown),
        ];
        for (name, requests) in kinds {
            let at = |n: usize| &requests[n % requests.len()];
            // Warm-up: the first half of the pool for a first termination, as many repeats otherwise.
            for n in 0..MEASURED {
                exchange(&mut connection, at(n), server.address()).await;
            }
            let before = dhat::HeapStats::get();
            for n in MEASURED..2 * MEASURED {
                exchange(&mut connection, at(n), server.address()).await;
            }
            let after = dhat::HeapStats::get();
            let blocks = after.total_blocks - before.total_blocks;
            let bytes = after.total_bytes - before.total_bytes;
            println!(
                "{name}: {:.1} allocations per request ({:.0} bytes)",
                blocks as f64 / MEASURED as f64,
                bytes as f64 / MEASURED as f64
            );
        }
    });
}

async fn exchange(connection: &mut Connection, request: &[u8], address: SocketAddr) {
    let status = tokio::time::timeout(Duration::from_secs(20), connection.exchange(request))
        .await
        .unwrap_or_else(|_| panic!("{address} answers within 20 s"))
        .expect("an answer");
    assert_eq!(
        status,
        200,
        "{}",
        String::from_utf8_lossy(connection.body())
    );
}
