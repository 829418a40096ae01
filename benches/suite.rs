//! The whole conformance suite (`cases/`) against the embedded mock, as `terminus run` runs it: load every case
//! file, start a fresh mock per case, send every step, check every expectation.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use terminus::case;
use terminus::harness::{self, Outcome, Target};

fn suite(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("suite");
    group.sample_size(10);
    group.bench_function("terminus run (all cases, embedded mock)", |b| {
        b.iter(|| {
            let cases: Vec<_> = case::discover(&root)
                .iter()
                .map(|path| case::load(&root, path).expect("valid cases"))
                .collect();
            let runs = runtime.block_on(harness::run_cases(cases, &Target::Mock, 8, |_| {}));
            assert!(
                runs.iter().all(|run| run.outcome == Outcome::Passed),
                "the suite passes"
            );
            runs.len()
        })
    });
    group.finish();
}

criterion_group!(benches, suite);
criterion_main!(benches);
