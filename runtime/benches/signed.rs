//! Signed checkpoints against their targets (issue 15), each comparison measured paired in one
//! process: the two sides alternate, round after round, so that load and frequency changes
//! hit both alike.
//!
//! `cargo bench -p pip-runtime --features signing --bench signed`
//!
//! - `signed_append`: `Ledger::append` from one thread, group commit (4096 entries or 10 ms),
//!   checkpoints every 1000 entries, on tmpfs — without a signing key (today's path) and with
//!   one (Merkle tree, tiles, a signed note per checkpoint). Target: signed ≥ 0.8× the rate.
//! - `signed_verify`: a 1,000,000-entry ledger file with a checkpoint every 1000 — the HMAC
//!   verification on both cores (`verify_files`, today's) and the verifier-key check
//!   (`verify_signed`: every entry into the Merkle tree, each signed root compared). Target:
//!   verifier key ≤ 1.2× the HMAC time.
//! - `signed_prove`: an inclusion proof for a random entry of a 10,000,000-entry ledger, from
//!   the files (opening the tree and signed checkpoint files included), and checking it.
//!   Target: under 1 ms.
//!
//! The summary at the end prints the paired ratios, the CPU model and the load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use pip_runtime::clock::SystemClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::note::{NoteSigner, NoteVerifiers, SignatureType};
use pip_runtime::ledger::signed::Signing;
use pip_runtime::ledger::signed::proof::{Prover, verify_inclusion};
use pip_runtime::ledger::signed::verify::verify_signed;
use pip_runtime::ledger::{CheckpointPolicy, Durability, Ledger, LedgerConfig, LedgerKey, verify_files};

const KEY: [u8; 32] = [7u8; 32];
const SEED: [u8; 32] = [9u8; 32];
const ORIGIN: &str = "pip.example/bench/audit";

static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn note(line: String) {
    println!("{line}");
    NOTES.lock().unwrap().push(line);
}

fn event(i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc:payments-api".into(),
        action: "transfer".into(),
        resource: format!("account/{}", i % 10_000),
        payload: serde_json::json!({ "amount": 1250, "currency": "EUR" }),
        result: "ok".into(),
    }
}

fn signing() -> Signing {
    Signing::new(NoteSigner::from_seed(ORIGIN, SignatureType::Ed25519, &SEED).unwrap(), ORIGIN).unwrap()
}

fn verifiers() -> NoteVerifiers {
    NoteVerifiers::new([signing().verifier()]).unwrap()
}

fn config(path: PathBuf) -> LedgerConfig {
    let mut cfg = LedgerConfig::new("bench", "audit", path);
    cfg.durability = Durability::Group { entries: Some(4096), interval: Some(Duration::from_millis(10)) };
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(1000), every: Some(Duration::from_secs(10)) };
    cfg
}

fn remove(cfg: &LedgerConfig) {
    for p in [cfg.path.clone(), cfg.checkpoint_path(), cfg.signed_path(), cfg.tree_path()] {
        let _ = std::fs::remove_file(p);
    }
}

/// Appends `n` events to a new ledger in `dir`; returns the time from the first append to
/// the last one synced.
fn append_run(dir: &Path, signed: bool, n: u64) -> Duration {
    let cfg = config(dir.join(format!("append-{}-{signed}.ledger", std::process::id())));
    remove(&cfg);
    let key = LedgerKey::from_bytes(&KEY).unwrap();
    let clock = Arc::new(SystemClock::new());
    let (ledger, _) = if signed {
        Ledger::open_signed(cfg.clone(), key, signing(), clock, None).unwrap()
    } else {
        Ledger::open(cfg.clone(), key, clock, None).unwrap()
    };
    let ev = event(1);
    let start = Instant::now();
    for _ in 0..n {
        black_box(ledger.append(&ev).unwrap());
    }
    ledger.sync().unwrap();
    let elapsed = start.elapsed();
    ledger.close().unwrap();
    remove(&cfg);
    elapsed
}

/// Writes a ledger of `n` entries with a signing key in `dir` (as a service would).
fn write_ledger(dir: &Path, n: u64) -> LedgerConfig {
    let cfg = config(dir.join(format!("{n}.ledger")));
    remove(&cfg);
    let (ledger, _) =
        Ledger::open_signed(cfg.clone(), LedgerKey::from_bytes(&KEY).unwrap(), signing(), Arc::new(SystemClock::new()), None).unwrap();
    let mut batch = Vec::with_capacity(4096);
    let mut i = 0;
    while i < n {
        batch.clear();
        let k = (n - i).min(4096);
        batch.extend((i..i + k).map(event));
        ledger.append_batch(&batch).unwrap();
        i += k;
    }
    ledger.close().unwrap();
    cfg
}

/// Whether the command line's filter (if any) selects `group`; the paired runs and the
/// ledgers they need are set up only then.
fn selected(group: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| group.contains(f.as_str()) || f.contains(group))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn conditions() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let load =
        std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "n/a".into(), |l| l.split(' ').take(3).collect::<Vec<_>>().join(" "));
    format!("CPU {cpu}, {} cores, load {load}", std::thread::available_parallelism().map_or(1, usize::from))
}

fn shm() -> tempfile::TempDir {
    let base = Path::new("/dev/shm");
    if base.is_dir() { tempfile::tempdir_in(base).unwrap() } else { tempfile::tempdir().unwrap() }
}

fn append(c: &mut Criterion) {
    if !selected("signed_append") {
        return;
    }
    let dir = shm();
    note(format!("signed_append: {}", conditions()));
    // Paired: 1M entries each way, alternating, 7 rounds.
    let n = 1_000_000;
    let (mut plain, mut signed) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        plain.push(append_run(dir.path(), false, n).as_secs_f64());
        signed.push(append_run(dir.path(), true, n).as_secs_f64());
    }
    let (p, s) = (median(plain), median(signed));
    note(format!(
        "signed_append paired (7 alternating rounds of 1M appends, medians): HMAC only {:.2} M/s, signed {:.2} M/s, ratio {:.3} (target >= 0.8)",
        n as f64 / p / 1e6,
        n as f64 / s / 1e6,
        p / s
    ));
    let mut g = c.benchmark_group("signed_append");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for signed in [false, true] {
        g.bench_function(if signed { "signed_tmpfs" } else { "hmac_only_tmpfs" }, |b| {
            b.iter_custom(|iters| append_run(dir.path(), signed, iters))
        });
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    if !selected("signed_verify") {
        return;
    }
    let dir = shm();
    let cfg = write_ledger(dir.path(), 1_000_000);
    let key = LedgerKey::from_bytes(&KEY).unwrap();
    let v = verifiers();
    let hmac = || assert!(verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 2).unwrap().is_clean());
    let public = || {
        let r = verify_signed(&cfg.path, &cfg.signed_path(), &v, Some(ORIGIN), None).unwrap();
        assert!(r.is_clean() && r.covered == 1_000_000);
    };
    note(format!("signed_verify: {}", conditions()));
    let (mut h, mut p) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        hmac();
        h.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        public();
        p.push(t.elapsed().as_secs_f64());
    }
    let (h, p) = (median(h), median(p));
    note(format!(
        "signed_verify paired (9 alternating rounds on a 1M-entry file, medians): HMAC (2 threads) {:.1} ms, verifier key {:.1} ms, ratio {:.3} (target <= 1.2)",
        h * 1e3,
        p * 1e3,
        p / h
    ));
    let mut g = c.benchmark_group("signed_verify");
    g.throughput(Throughput::Elements(1_000_000));
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.bench_function("hmac_2_threads_file_1m", |b| b.iter(hmac));
    g.bench_function("verifier_key_file_1m", |b| b.iter(public));
    g.finish();
}

fn prove(c: &mut Criterion) {
    if !selected("signed_prove") {
        return;
    }
    let dir = shm();
    let n = 10_000_000u64;
    let t = Instant::now();
    let cfg = write_ledger(dir.path(), n);
    note(format!("signed_prove: wrote a {n}-entry ledger in {:.1} s; {}", t.elapsed().as_secs_f64(), conditions()));
    let v = verifiers();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_seq = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n + 1
    };
    let mut g = c.benchmark_group("signed_prove");
    g.sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.bench_function("inclusion_10m_from_files", |b| {
        b.iter(|| {
            let mut p = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
            black_box(p.inclusion(next_seq(), None).unwrap())
        })
    });
    let mut p = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
    g.bench_function("inclusion_10m_open_prover", |b| b.iter(|| black_box(p.inclusion(next_seq(), None).unwrap())));
    let proof = p.inclusion(n / 3, None).unwrap();
    g.bench_function("verify_inclusion", |b| b.iter(|| black_box(verify_inclusion(&proof, &v).unwrap())));
    g.finish();
    remove(&cfg);
}

fn summary(_: &mut Criterion) {
    println!("\nsigned checkpoint benchmark summary");
    for line in NOTES.lock().unwrap().iter() {
        println!("  {line}");
    }
}

criterion_group!(benches, append, verify, prove, summary);
criterion_main!(benches);
