//! Ledger benchmarks, with the raw HMAC-SHA256 rate on a message the size of an entry's
//! canonical bytes measured in the same run (the targets are stated against it).
//!
//! `CARGO_TARGET_DIR=... cargo bench -p pip-runtime --bench ledger`
//!
//! - `ledger_mac/raw_hmac_sha256`: HMAC-SHA256 of one body-sized message (keyed state
//!   precomputed, as the ledger does).
//! - `ledger_append/group_commit_{tmpfs,disk}`: `Ledger::append` from one thread, group
//!   commit (4096 entries or 10 ms), including the final sync; tmpfs isolates the CPU cost
//!   from the disk's bandwidth.
//! - `ledger_append/every_append_8_threads`: every append synced, 8 appenders sharing syncs.
//! - `ledger_verify/*_1m`: verifying a 1,000,000-entry ledger and its checkpoints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use pip_runtime::clock::SystemClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::checkpoint::{self, Checkpoint};
use pip_runtime::ledger::format::{self, GENESIS, Header, PreparedEvent};
use pip_runtime::ledger::{Durability, Ledger, LedgerConfig, LedgerKey, verify_bytes, verify_files};

fn event() -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc:payments-api".into(),
        action: "transfer".into(),
        resource: "account/4711".into(),
        payload: serde_json::json!({ "amount": 1250, "currency": "EUR" }),
        result: "ok".into(),
    }
}

fn body_len() -> usize {
    let ev = event();
    let mut body = Vec::new();
    format::write_body(&mut body, 1, 1, &GENESIS, &PreparedEvent::new(&ev).unwrap());
    body.len()
}

fn mac(c: &mut Criterion) {
    let n = body_len();
    let msg = vec![0x5au8; n];
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
    let mut g = c.benchmark_group("ledger_mac");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("raw_hmac_sha256_{n}B"), |b| {
        b.iter(|| {
            let mut m = keyed.clone();
            m.update(black_box(&msg));
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function(format!("raw_sha256_{n}B"), |b| b.iter(|| black_box(Sha256::digest(black_box(&msg)))));
    let key = LedgerKey::from_bytes(&[7u8; 32]).unwrap();
    let ev = event();
    let prepared = PreparedEvent::new(&ev).unwrap();
    let mut buf = Vec::with_capacity(1 << 20);
    g.bench_function("encode_record", |b| {
        b.iter(|| {
            if buf.len() > (1 << 20) - 512 {
                buf.clear();
            }
            black_box(format::encode_record(&mut buf, &key, 1, 2, &GENESIS, &prepared))
        })
    });
    g.finish();
}

fn append_run(dir: &Path, durability: Durability, threads: u64, iters: u64) -> Duration {
    let mut cfg = LedgerConfig::new("bench", "audit", dir.join(format!("append-{}.ledger", std::process::id())));
    cfg.durability = durability;
    let _ = std::fs::remove_file(&cfg.path);
    let _ = std::fs::remove_file(cfg.checkpoint_path());
    let key = LedgerKey::from_bytes(&[7u8; 32]).unwrap();
    let (ledger, _) = Ledger::open(cfg.clone(), key, Arc::new(SystemClock::new()), None).unwrap();
    let ev = event();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let ledger = ledger.clone();
            let ev = &ev;
            let n = iters / threads + u64::from(t < iters % threads);
            s.spawn(move || {
                for _ in 0..n {
                    black_box(ledger.append(ev).unwrap());
                }
            });
        }
    });
    ledger.sync().unwrap();
    let elapsed = start.elapsed();
    ledger.close().unwrap();
    drop(ledger);
    let _ = std::fs::remove_file(&cfg.path);
    let _ = std::fs::remove_file(cfg.checkpoint_path());
    elapsed
}

fn append(c: &mut Criterion) {
    let group_commit = Durability::Group { entries: Some(4096), interval: Some(Duration::from_millis(10)) };
    let disk = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let shm = Path::new("/dev/shm");
    let mut g = c.benchmark_group("ledger_append");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    if shm.is_dir() {
        let tmpfs = tempfile::tempdir_in(shm).unwrap();
        g.bench_function("group_commit_tmpfs", |b| b.iter_custom(|iters| append_run(tmpfs.path(), group_commit, 1, iters)));
    }
    g.bench_function("group_commit_disk", |b| b.iter_custom(|iters| append_run(disk.path(), group_commit, 1, iters)));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("every_append_8_threads_disk", |b| b.iter_custom(|iters| append_run(disk.path(), Durability::EveryAppend, 8, iters)));
    g.finish();
}

/// A ledger of `n` entries with a checkpoint every 1000, built in memory.
fn build(n: u64) -> (Vec<u8>, Vec<u8>, LedgerKey) {
    let key = LedgerKey::from_bytes(&[7u8; 32]).unwrap();
    let ev = event();
    let prepared = PreparedEvent::new(&ev).unwrap();
    let mut bytes = Header { key_id: key.id() }.encode().to_vec();
    bytes.reserve(n as usize * 170);
    let mut cps = checkpoint::encode_header(key.id()).to_vec();
    let mut prev = GENESIS;
    for seq in 1..=n {
        prev = format::encode_record(&mut bytes, &key, seq, 1_767_225_600_000 + seq, &prev, &prepared);
        if seq.is_multiple_of(1000) || seq == n {
            cps.extend_from_slice(&Checkpoint::new(&key, seq, 1_767_225_600_000 + seq, prev).encode());
        }
    }
    (bytes, cps, key)
}

fn verify(c: &mut Criterion) {
    let (bytes, cps, key) = build(1_000_000);
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (lp, cp) = (dir.path().join("1m.ledger"), dir.path().join("1m.ledger.ckpt"));
    std::fs::write(&lp, &bytes).unwrap();
    std::fs::write(&cp, &cps).unwrap();
    assert!(verify_bytes(&bytes, Some(&cps), &key, 2).unwrap().is_clean());
    let mut g = c.benchmark_group("ledger_verify");
    g.throughput(Throughput::Elements(1_000_000));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("file_1m_2_threads", |b| b.iter(|| black_box(verify_files(&lp, Some(&cp), &key, 2).unwrap())));
    g.bench_function("in_memory_1m_2_threads", |b| b.iter(|| black_box(verify_bytes(&bytes, Some(&cps), &key, 2).unwrap())));
    g.bench_function("in_memory_1m_1_thread", |b| b.iter(|| black_box(verify_bytes(&bytes, Some(&cps), &key, 1).unwrap())));
    g.finish();
}

criterion_group!(benches, mac, append, verify);
criterion_main!(benches);
