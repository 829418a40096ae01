//! TC3 signing and verification, on the request the Python SDK sends for `TerminateInstances`
//! (`tests/vectors/tc3/tc3-py-post-1id`). `verify` is what the mock does per request: parse the raw bytes,
//! read the claim, recompute and compare.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use terminus::message::Request;
use terminus::signing::{self, Credentials, Policy, Scheme, Secret, SignOptions};

const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

fn tc3(c: &mut Criterion) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/tc3/tc3-py-post-1id/request.http"
    ))
    .expect("the vector is in the repository");
    let signed = Request::parse(&raw).expect("the vector is HTTP");
    let mut unsigned = signed.clone();
    unsigned.remove_header("authorization");
    let credentials = Credentials::new("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", KEY);
    let options = SignOptions::default();
    let policy = Policy::default();

    c.bench_function("tc3/sign", |b| {
        b.iter(|| {
            signing::sign(black_box(&unsigned), &credentials, Scheme::Tc3, &options).expect("signs")
        })
    });
    c.bench_function("tc3/verify (parse + inspect + verify)", |b| {
        b.iter(|| {
            let request = Request::parse(black_box(&raw)).expect("parses");
            let claim = signing::inspect(&request).expect("usable");
            claim
                .verify(
                    &request,
                    &Secret::from(KEY),
                    Some(1_700_000_000),
                    &policy,
                    None,
                )
                .expect("verifies")
        })
    });
}

criterion_group!(benches, tc3);
criterion_main!(benches);
