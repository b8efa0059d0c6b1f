//! The limiter against `governor`'s keyed limiter (GCRA over a `DashMap`), same keys, same
//! quota, in the same run: one thread and two threads, 10k keys.
//!
//! `cargo bench -p pip-runtime --bench limiter`
//!
//! Before criterion runs, `main` also measures the two limiters in alternation (ours, then
//! governor, 41 rounds each of the same decisions) and prints the median of the per-round
//! throughput ratios: on a shared machine, load that comes and goes affects both sides of a
//! round alike, where criterion's one-after-the-other groups can each catch different load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use governor::{Quota, RateLimiter as Governor};
use pip_runtime::clock::{Clock, SystemClock, TscClock};
use pip_runtime::limiter::{LimitConfig, RateLimiter};
use pip_runtime::metrics::Metrics;

const KEYS: u64 = 10_000;
const BATCH: usize = 10_000;
/// 100 per second: at the rates measured (millions of decisions a second over 10k keys,
/// hundreds per key per second), keys cross the limit all the time, so both the admit and
/// the reject path are measured.
const LIMIT: u32 = 100;

#[path = "../tests/common/rng.rs"]
mod rng;

/// A fixed, uniformly random key sequence (splitmix64).
fn keys(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = rng::Rng(seed);
    (0..n).map(|_| rng.next() % KEYS).collect()
}

/// Ours, on the time-stamp counter (as governor's default clock, quanta) or on
/// `clock_gettime` (`SystemClock`).
fn ours(clock: Arc<dyn Clock>) -> Arc<RateLimiter<u64>> {
    let config = LimitConfig::new("bench", "per_key", u64::from(LIMIT), Duration::from_secs(1));
    Arc::new(RateLimiter::new(config, &Metrics::default(), clock).unwrap())
}

fn clocks() -> [(&'static str, Arc<dyn Clock>); 2] {
    [("pip sliding window, TSC clock", Arc::new(TscClock::new())), ("pip sliding window, clock_gettime", Arc::new(SystemClock::new()))]
}

fn theirs() -> Arc<governor::DefaultKeyedRateLimiter<u64>> {
    Arc::new(Governor::keyed(Quota::per_second(NonZeroU32::new(LIMIT).unwrap())))
}

fn single_thread(c: &mut Criterion) {
    let sequence = keys(BATCH, 1);
    let mut group = c.benchmark_group("limiter/1 thread, 10k keys");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, clock) in clocks() {
        let limiter = ours(clock);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut allowed = 0u32;
                for k in &sequence {
                    allowed += u32::from(limiter.check(k).is_allowed());
                }
                black_box(allowed)
            })
        });
    }
    let governor = theirs();
    group.bench_function("governor keyed GCRA", |b| {
        b.iter(|| {
            let mut allowed = 0u32;
            for k in &sequence {
                allowed += u32::from(governor.check_key(k).is_ok());
            }
            black_box(allowed)
        })
    });
    group.finish();
}

/// Runs `per_thread` decisions on each of two threads; returns the wall time.
fn two_threads(iters: u64, per_thread: &[Vec<u64>; 2], decide: &(dyn Fn(&u64) -> bool + Sync)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        std::thread::scope(|s| {
            for sequence in per_thread {
                s.spawn(move || black_box(sequence.iter().filter(|k| decide(k)).count()));
            }
        });
        total += started.elapsed();
    }
    total
}

fn contended(c: &mut Criterion) {
    let per_thread = [keys(100_000, 2), keys(100_000, 3)];
    let mut group = c.benchmark_group("limiter/2 threads, 10k keys");
    group.throughput(Throughput::Elements(200_000));
    for (name, clock) in clocks() {
        let limiter = ours(clock);
        group.bench_function(name, |b| b.iter_custom(|iters| two_threads(iters, &per_thread, &|k| limiter.check(k).is_allowed())));
    }
    let governor = theirs();
    group.bench_function("governor keyed GCRA", |b| {
        b.iter_custom(|iters| two_threads(iters, &per_thread, &|k| governor.check_key(k).is_ok()))
    });
    group.finish();
}

/// Median of the per-round ratios ours/governor of decisions per second.
fn paired(threads: usize) -> (f64, f64, f64) {
    let sequences: Vec<Vec<u64>> = (0..threads).map(|t| keys(200_000, 10 + t as u64)).collect();
    let limiter = ours(Arc::new(TscClock::new()));
    let governor = theirs();
    let run = |decide: &(dyn Fn(&u64) -> bool + Sync)| {
        let started = Instant::now();
        std::thread::scope(|s| {
            for sequence in &sequences {
                s.spawn(move || black_box(sequence.iter().filter(|k| decide(k)).count()));
            }
        });
        (threads * 200_000) as f64 / started.elapsed().as_secs_f64()
    };
    let (mut ratios, mut pip, mut gov) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..41 {
        // Alternate which goes first, so that neither always follows the other's cache state.
        let (a, b) = if round % 2 == 0 {
            let a = run(&|k| limiter.check(k).is_allowed());
            (a, run(&|k| governor.check_key(k).is_ok()))
        } else {
            let b = run(&|k| governor.check_key(k).is_ok());
            (run(&|k| limiter.check(k).is_allowed()), b)
        };
        ratios.push(a / b);
        pip.push(a);
        gov.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ratios), median(&mut pip), median(&mut gov))
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(30);
    targets = single_thread, contended
}

fn main() {
    for threads in [1, 2] {
        let (ratio, pip, gov) = paired(threads);
        println!(
            "paired, {threads} thread(s), 10k keys: pip {:.2} M decisions/s, governor {:.2} M/s, median ratio pip/governor {ratio:.2}",
            pip / 1e6,
            gov / 1e6
        );
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
