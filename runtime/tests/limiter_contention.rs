//! The limiter under real contention: eight threads on the system clock hammer a few shared
//! keys, and the decisions they record match the exact sliding window: never more than the
//! limit admitted in any window, and no rejection the window would have admitted; and the
//! decisions its metrics report, summed from the shards at scrape time, are exactly the
//! decisions taken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pip_runtime::clock::SystemClock;
use pip_runtime::limiter::{LimitConfig, RateLimiter};
use pip_runtime::metrics::{Metrics, render};
use prometheus_client::registry::Registry;

const THREADS: usize = 8;
const KEYS: u64 = 16;
const LIMIT: usize = 20;
const WINDOW: Duration = Duration::from_millis(5);
const RUN: Duration = Duration::from_millis(400);

#[test]
fn eight_threads_on_shared_keys_get_exactly_the_sliding_windows_decisions() {
    let config = LimitConfig::new("contention", "per_key", LIMIT as u64, WINDOW);
    let limiter: Arc<RateLimiter<u64>> = Arc::new(RateLimiter::new(config, &Metrics::default(), Arc::new(SystemClock::new())).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (limiter, barrier) = (Arc::clone(&limiter), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut admitted: Vec<(u64, u64)> = Vec::new();
                let mut rejected: Vec<(u64, u64)> = Vec::new();
                let mut x = thread as u64 + 1;
                barrier.wait();
                let started = Instant::now();
                while started.elapsed() < RUN {
                    // xorshift: each thread walks the keys in its own order.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % KEYS;
                    let d = limiter.check(&key);
                    if d.is_allowed() {
                        admitted.push((key, d.at_nanos));
                    } else {
                        rejected.push((key, d.at_nanos));
                    }
                }
                (admitted, rejected)
            })
        })
        .collect();

    let mut admitted_at: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut rejections = Vec::new();
    for h in handles {
        let (admitted, rejected) = h.join().unwrap();
        for (key, t) in admitted {
            admitted_at.entry(key).or_default().push(t);
        }
        rejections.extend(rejected);
    }
    let window = u64::try_from(WINDOW.as_nanos()).unwrap();
    let mut admitted = 0;
    for (key, times) in &mut admitted_at {
        times.sort_unstable();
        admitted += times.len();
        // No false negative: never more than LIMIT admissions in any window.
        for w in times.windows(LIMIT + 1) {
            assert!(w[LIMIT] - w[0] >= window, "key {key}: {} admissions within {} ns", LIMIT + 1, w[LIMIT] - w[0]);
        }
    }
    // No false positive: a shard decides a key's requests one at a time, at non-decreasing
    // times, so a rejection at `t` is right exactly when LIMIT admissions of its key lie in
    // `(t - window, t]` (an admission at `t` itself cannot follow a rejection at `t`: nothing
    // changed in between). This is the exact oracle, independent of how the threads were
    // scheduled on a loaded machine.
    let mut false_positives = 0usize;
    for &(key, t) in &rejections {
        let times = admitted_at.get(&key).map(Vec::as_slice).unwrap_or_default();
        let inside = times.partition_point(|&a| a <= t) - times.partition_point(|&a| a + window <= t);
        if inside < LIMIT {
            false_positives += 1;
        }
    }
    println!(
        "{} requests from {THREADS} threads: {admitted} admitted, {} rejected, {false_positives} wrongly",
        admitted + rejections.len(),
        rejections.len()
    );
    assert_eq!(false_positives, 0, "rejections the exact sliding window would have admitted");
    assert!(rejections.len() > admitted, "the keys were not under pressure: {} rejections, {admitted} admissions", rejections.len());
}

/// `(allowed, rejected)` as a scrape reports them.
fn scraped(registry: &Registry) -> (u64, u64) {
    let text = render(registry);
    let value = |outcome: &str| {
        let series = format!(r#"pip_rate_limit_decisions_total{{spec="contention",limit="scraped",outcome="{outcome}"}} "#);
        text.lines().find_map(|l| l.strip_prefix(series.as_str())?.parse().ok()).unwrap_or_else(|| panic!("no {outcome}:\n{text}"))
    };
    (value("allowed"), value("rejected"))
}

#[test]
fn scrapes_during_contention_never_go_back_and_the_last_one_counts_every_decision() {
    const DECIDERS: usize = 4;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let config = LimitConfig::new("contention", "scraped", LIMIT as u64, WINDOW).with_max_keys(KEYS / 2);
    let limiter: Arc<RateLimiter<u64>> = Arc::new(RateLimiter::new(config, &metrics, Arc::new(SystemClock::new())).unwrap());
    assert_eq!(scraped(&registry), (0, 0), "the series exist at 0 before the first request");
    let done = AtomicBool::new(false);
    let (taken, scrapes) = std::thread::scope(|s| {
        let deciders: Vec<_> = (0..DECIDERS)
            .map(|thread| {
                let limiter = Arc::clone(&limiter);
                s.spawn(move || {
                    let (mut allowed, mut rejected) = (0u64, 0u64);
                    let mut x = thread as u64 + 11;
                    for _ in 0..200_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Twice as many keys as the cap: window rejections and key-cap
                        // refusals both happen.
                        if limiter.check(&(x % KEYS)).is_allowed() {
                            allowed += 1;
                        } else {
                            rejected += 1;
                        }
                    }
                    (allowed, rejected)
                })
            })
            .collect();
        let scraper = s.spawn(|| {
            let mut last = (0, 0);
            let mut scrapes = 0;
            while !done.load(Ordering::Acquire) {
                let now = scraped(&registry);
                assert!(now.0 >= last.0 && now.1 >= last.1, "a counter went back: {last:?} then {now:?}");
                last = now;
                scrapes += 1;
            }
            scrapes
        });
        let taken = deciders.into_iter().map(|h| h.join().unwrap()).fold((0, 0), |t, d| (t.0 + d.0, t.1 + d.1));
        done.store(true, Ordering::Release);
        (taken, scraper.join().unwrap())
    });
    assert!(scrapes > 0);
    assert!(taken.0 > 0 && taken.1 > 0, "{taken:?}");
    assert_eq!(scraped(&registry), taken, "after {scrapes} scrapes during the run");
}
