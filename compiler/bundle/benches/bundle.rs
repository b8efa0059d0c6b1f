//! Building and verifying an incident bundle of a day of 100,000 realistic events (the
//! `bundle_workload` example's generator), with `specs/payments.pips`'s `bundle incident`.
//!
//! ```sh
//! cargo bench -p pip-bundle --bench bundle
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pip_bundle::archive::Limits;
use pip_bundle::{BuildOptions, Silent, build, timeline, verify};
use pip_runtime::ledger::LedgerKey;

#[path = "../examples/workload/events.rs"]
mod events;

const EVENTS: u64 = 100_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("audit.ledger");
    let key = LedgerKey::from_hex(&"5a".repeat(32), "the benchmark").unwrap();
    events::write_ledger(&ledger, &key, EVENTS).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let opts = BuildOptions {
        specs: vec![root.join("specs/payments.pips")],
        bundle: Some("payments.incident".into()),
        ledgers: vec![(None, ledger)],
        checkpoints: None,
        key: key.clone(),
        window_ms: None,
        from_ms: Some(events::ORIGIN_MS),
        to_ms: Some(events::ORIGIN_MS + 86_400_000),
        timeline_max_rows: timeline::DEFAULT_MAX_ROWS,
        threads: 2,
        allow_anomalies: false,
        signing_key: None,
        signed_file: None,
        prometheus: None,
    };
    let zip = build(&opts, &Silent).unwrap().zip;
    let mut g = c.benchmark_group("bundle");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("build_100k_events", |b| b.iter(|| build(&opts, &Silent).unwrap()));
    g.bench_function("verify_100k_events", |b| b.iter(|| verify(&zip, &key, &Limits::default()).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
