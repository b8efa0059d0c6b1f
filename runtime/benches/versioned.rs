//! Versioned store on a 16 MiB state: 10k apply/revert cycles, in place and changing the
//! state's length, time and peak memory.
//!
//! `cargo bench -p pip-runtime --bench versioned`
//!
//! Before criterion runs, `main` times whole runs of 10 000 cycles once and reads the
//! process's peak resident memory (`VmHWM` of `/proc/self/status`) around them, so the
//! figures are for this fresh process, not for criterion's repetitions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use pip_runtime::metrics::Metrics;
use pip_runtime::versioned::{Diff, StoreConfig, VersionedStore};

const STATE: usize = 16 << 20;
const CYCLES: usize = 10_000;
const EDIT: usize = 16;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb) ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn store(history: u64) -> VersionedStore {
    let mut rng = Rng(1);
    VersionedStore::new(StoreConfig::new("bench", "config_store", history), rng.bytes(STATE), &Metrics::default()).unwrap()
}

/// Peak resident set of this process, in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// One cycle: replace 16 bytes at a random offset (upgrade), then roll back (verified).
fn cycle(s: &mut VersionedStore, rng: &mut Rng) {
    let at = rng.below(STATE - EDIT);
    let bytes = rng.bytes(EDIT);
    let v = s.replace(at..at + EDIT, &bytes).unwrap();
    s.rollback_to(v - 1).unwrap();
}

/// One cycle that changes the state's length: insert 16 bytes at a random offset, or
/// remove 16 (every other cycle), then roll back (verified).
fn resizing_cycle(s: &mut VersionedStore, rng: &mut Rng, insert: bool) {
    let at = rng.below(STATE - EDIT);
    let v = if insert { s.replace(at..at, &rng.bytes(EDIT)) } else { s.replace(at..at + EDIT, &[]) }.unwrap();
    s.rollback_to(v - 1).unwrap();
}

fn report() {
    let baseline = peak_rss();
    let mut s = store(10_000);
    let original = s.digest();
    let built = peak_rss();
    let mut rng = Rng(2);
    let started = Instant::now();
    for _ in 0..CYCLES {
        cycle(&mut s, &mut rng);
    }
    let interleaved = started.elapsed();
    assert_eq!(s.digest(), original);
    let started = Instant::now();
    for i in 0..CYCLES {
        resizing_cycle(&mut s, &mut rng, i % 2 == 0);
    }
    let resizing = started.elapsed();
    assert_eq!(s.digest(), original);

    // 10 000 upgrades kept in history, then one verified rollback through all of them; in
    // place, then changing the length.
    let mut walk = |resize: bool| {
        let started = Instant::now();
        for i in 0..CYCLES {
            let at = rng.below(STATE - EDIT);
            let bytes = rng.bytes(EDIT);
            let range = if resize && i % 2 == 0 { at..at } else { at..at + EDIT };
            s.replace(range, if resize && i % 2 == 1 { &[] } else { &bytes }).unwrap();
        }
        let upgrades = started.elapsed();
        let held = s.memory_bytes();
        let diffs: usize = (1..=CYCLES as u64).filter_map(|v| s.diff_of(v)).map(Diff::stored_bytes).sum();
        let started = Instant::now();
        s.rollback_to(0).unwrap();
        let rollback = started.elapsed();
        assert_eq!(s.digest(), original);
        (upgrades, rollback, held, diffs)
    };
    let (upgrades, rollback, held, diffs) = walk(false);
    let (resizing_upgrades, resizing_rollback, resizing_held, resizing_diffs) = walk(true);
    let peak = peak_rss();

    println!("versioned store, {} MiB state, {CYCLES} cycles of a {EDIT}-byte replacement:", STATE >> 20);
    println!(
        "  interleaved upgrade + verified rollback, in place: {interleaved:.2?} ({:.1} µs per cycle)",
        interleaved.as_secs_f64() * 1e6 / CYCLES as f64
    );
    println!(
        "  interleaved upgrade + verified rollback, {EDIT} B inserted or removed: {resizing:.2?} ({:.1} µs per cycle)",
        resizing.as_secs_f64() * 1e6 / CYCLES as f64
    );
    println!("  {CYCLES} upgrades then one verified rollback of all: {upgrades:.2?} + {rollback:.2?} = {:.2?}", upgrades + rollback);
    println!(
        "  {CYCLES} length-changing upgrades then one verified rollback of all: {resizing_upgrades:.2?} + {resizing_rollback:.2?} = {:.2?}",
        resizing_upgrades + resizing_rollback
    );
    println!(
        "  memory: store holds {:.2} MiB with {CYCLES} diffs ({:.2} MiB of diffs; {:.2} MiB and {:.2} MiB with length-changing \
         ones); process peak RSS {:.2} MiB, of which {:.2} MiB above the {:.2} MiB before the state existed; \
         bound 2 × state + diffs = {:.2} MiB",
        mib(held),
        mib(diffs),
        mib(resizing_held),
        mib(resizing_diffs),
        mib(peak),
        mib(peak - baseline),
        mib(baseline),
        mib(2 * STATE + diffs.max(resizing_diffs)),
    );
    println!("  (peak after building the store: {:.2} MiB above baseline)", mib(built - baseline));
}

fn per_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("versioned/16 MiB");
    let mut s = store(16);
    let mut rng = Rng(3);
    group.bench_function("upgrade + verified rollback, 16 B in place", |b| b.iter(|| cycle(&mut s, &mut rng)));
    group.bench_function("upgrade + verified rollback, 16 B inserted", |b| b.iter(|| resizing_cycle(&mut s, &mut rng, true)));
    group.bench_function("upgrade + verified rollback, 16 B removed", |b| b.iter(|| resizing_cycle(&mut s, &mut rng, false)));
    let base = s.state().to_vec();
    group.bench_function("Diff::between, 1 byte changed", |b| {
        b.iter_batched(
            || {
                let mut next = base.clone();
                let at = rng.below(STATE);
                next[at] ^= 1;
                next
            },
            |next| black_box(Diff::between(&base, &next)),
            BatchSize::LargeInput,
        )
    });
    let mut raw = base.clone();
    group.bench_function("Diff::apply + revert on bytes, no digest", |b| {
        b.iter_batched(
            || {
                let at = rng.below(STATE - EDIT);
                let bytes = rng.bytes(EDIT);
                // `raw` is back to `base` after every apply + revert.
                Diff::from_changes(&base, &[(at..at + EDIT, bytes.as_slice())]).unwrap()
            },
            |d| {
                d.apply(&mut raw).unwrap();
                d.revert(&mut raw).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = per_cycle
}

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
