//! The limiter against an exact sliding-window oracle: random sequences (proptest) and a
//! chaos replay of a bursty, skewed 30k req/s load over 10k keys on a simulated clock.
//!
//! The window is the one `pip_runtime::limiter` documents: a request at `t` is admitted iff
//! fewer than `R` admissions of its key lie in `(t − τ, t]`.
//!
//! Heavier soak: `cargo test -p pip-runtime --release --test limiter_exactness -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pip_runtime::clock::ManualClock;
use pip_runtime::limiter::{LimitConfig, Outcome, RateLimiter};
use pip_runtime::metrics::Metrics;
use proptest::prelude::*;

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// Keeps every admission of every key and counts them the slow, obvious way.
#[derive(Default)]
struct Oracle {
    admitted: HashMap<u64, Vec<u64>>,
}

impl Oracle {
    /// Admissions of `key` in `(t − τ, t]`.
    fn in_window(&self, key: u64, t: u64, window: u64) -> usize {
        let times = self.admitted.get(&key).map_or(&[][..], Vec::as_slice);
        // Times are sorted; those with `t − a ≥ τ` are out of the window and come first.
        times.len() - times.partition_point(|&a| t - a >= window)
    }

    fn would_admit(&self, key: u64, t: u64, limit: usize, window: u64) -> bool {
        self.in_window(key, t, window) < limit
    }

    fn record(&mut self, key: u64, t: u64) {
        self.admitted.entry(key).or_default().push(t);
    }
}

/// For every key, no `R + 1` admissions within less than `τ`: `a[i + R] − a[i] ≥ τ`.
fn windows_over_limit(admitted: &HashMap<u64, Vec<u64>>, limit: usize, window: u64) -> usize {
    admitted.values().map(|times| times.windows(limit + 1).filter(|w| w[limit] - w[0] < window).count()).sum()
}

fn limiter(limit: u64, window: u64, max_keys: u64) -> (RateLimiter<u64>, ManualClock) {
    let clock = ManualClock::new(0);
    let config = LimitConfig::new("chaos", "per_key", limit, Duration::from_nanos(window)).with_max_keys(max_keys);
    (RateLimiter::new(config, &Metrics::default(), Arc::new(clock.clone())).unwrap(), clock)
}

/// Replays `(time, key)` arrivals; compares each decision with an oracle that has seen the
/// limiter's own admissions (so one disagreement cannot snowball into many) and with an
/// independent oracle that makes its own decisions.
#[derive(Debug, Default, PartialEq)]
struct Report {
    requests: usize,
    admitted: usize,
    rejected: usize,
    /// Admitted although the window already held `R` admissions.
    false_negatives: usize,
    /// Rejected although the window held fewer than `R` admissions.
    false_positives: usize,
    /// Decisions that differ from an oracle deciding on its own.
    independent_disagreements: usize,
    /// Windows of the limiter's admissions that hold more than `R`.
    windows_over_limit: usize,
}

fn replay(arrivals: &[(u64, u64)], limit: u64, window: u64, max_keys: u64) -> Report {
    let (l, clock) = limiter(limit, window, max_keys);
    let r = usize::try_from(limit).unwrap();
    let (mut same_history, mut independent) = (Oracle::default(), Oracle::default());
    let mut report = Report { requests: arrivals.len(), ..Report::default() };
    for &(t, key) in arrivals {
        clock.set_nanos(t);
        let d = l.check(&key);
        assert_eq!(d.at_nanos, t, "the limiter decides at the clock's time");
        let should = same_history.would_admit(key, t, r, window);
        let independent_says = independent.would_admit(key, t, r, window);
        if independent_says {
            independent.record(key, t);
        }
        if d.is_allowed() != independent_says {
            report.independent_disagreements += 1;
        }
        match (d.is_allowed(), should) {
            (true, false) => report.false_negatives += 1,
            (false, true) => report.false_positives += 1,
            _ => {}
        }
        if d.is_allowed() {
            report.admitted += 1;
            same_history.record(key, t);
        } else {
            report.rejected += 1;
        }
    }
    report.windows_over_limit = windows_over_limit(&same_history.admitted, r, window);
    report
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random R, τ and arrivals (bursts at one instant, gaps around τ): the limiter decides
    /// exactly as the oracle, request by request.
    #[test]
    fn the_limiter_decides_exactly_as_the_sliding_window_oracle(
        limit in 1u64..8,
        window in 1u64..60,
        steps in prop::collection::vec((0u64..4, prop_oneof![Just(0u64), 0u64..20, 0u64..200]), 1..400),
    ) {
        let mut t = 0;
        let arrivals: Vec<(u64, u64)> = steps.iter().map(|&(key, gap)| { t += gap; (t, key) }).collect();
        let report = replay(&arrivals, limit, window, 1_000);
        prop_assert_eq!(report.false_negatives, 0);
        prop_assert_eq!(report.false_positives, 0);
        prop_assert_eq!(report.independent_disagreements, 0);
        prop_assert_eq!(report.windows_over_limit, 0);
    }

    /// With a small key cap, admissions still never exceed R in any window, and every request
    /// the window would have admitted but the limiter refused was a new key at the cap.
    #[test]
    fn a_key_cap_refuses_new_keys_but_never_admits_too_many(
        limit in 1u64..5,
        window in 1u64..60,
        max_keys in 1u64..4,
        steps in prop::collection::vec((0u64..8, 0u64..30), 1..300),
    ) {
        let (l, clock) = limiter(limit, window, max_keys);
        let r = usize::try_from(limit).unwrap();
        let mut oracle = Oracle::default();
        let mut t = 0;
        for (key, gap) in steps {
            t += gap;
            clock.set_nanos(t);
            let d = l.check(&key);
            let should = oracle.would_admit(key, t, r, window);
            match d.outcome {
                Outcome::Allowed => { prop_assert!(should, "admitted key {} at {}", key, t); oracle.record(key, t) }
                Outcome::Rejected { .. } => prop_assert!(!should, "window-rejected key {} at {}", key, t),
                Outcome::KeyCapReached => {
                    // Only a key with no admission in the window can be new to the limiter.
                    prop_assert_eq!(oracle.in_window(key, t, window), 0);
                }
            }
            prop_assert!(l.tracked_keys() <= usize::try_from(max_keys).unwrap());
        }
        prop_assert_eq!(windows_over_limit(&oracle.admitted, r, window), 0);
    }
}

/// A bursty, skewed trace: Zipf(1.1) key popularity over `keys` keys, the hot keys
/// reshuffled every 500 ms cycle; in each cycle a 100 ms burst at 3× the mean rate and 400 ms
/// at half of it (mean `rate` req/s); 5% of arrivals come in batches of up to 20 at the same
/// nanosecond.
fn chaos_trace(seed: u64, rate: f64, keys: u64, seconds: u64) -> Vec<(u64, u64)> {
    let mut rng = Rng(seed);
    let weights: Vec<f64> = (1..=keys).map(|k| 1.0 / (k as f64).powf(1.1)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut permutation: Vec<u64> = (0..keys).collect();
    let (cycle, burst) = (500_000_000u64, 100_000_000u64);
    let end = seconds * 1_000_000_000;
    let mut trace = Vec::with_capacity((rate * seconds as f64 * 1.1) as usize);
    let (mut t, mut current_cycle) = (0u64, u64::MAX);
    while t < end {
        if t / cycle != current_cycle {
            current_cycle = t / cycle;
            for i in (1..permutation.len()).rev() {
                let j = usize::try_from(rng.below(i as u64 + 1)).unwrap();
                permutation.swap(i, j);
            }
        }
        // Arrival events come at `rate / 1.475` so that requests, batches included
        // (1 + 0.05 × 9.5 on average), come at `rate`.
        let rate_now = (if t % cycle < burst { rate * 3.0 } else { rate * 0.5 }) / 1.475;
        let gap = -(1.0 - rng.unit()).ln() / rate_now * 1e9;
        t += gap as u64;
        let batch = if rng.unit() < 0.05 { 1 + rng.below(20) } else { 1 };
        for _ in 0..batch {
            let u = rng.unit();
            let rank = cdf.partition_point(|&c| c < u).min(permutation.len() - 1);
            trace.push((t, permutation[rank]));
        }
    }
    trace
}

fn run_chaos(seed: u64, rate: f64, keys: u64, seconds: u64, limits: &[(u64, Duration)]) {
    let trace = chaos_trace(seed, rate, keys, seconds);
    let distinct = trace.iter().map(|&(_, k)| k).collect::<std::collections::HashSet<_>>().len();
    println!("chaos: {} requests over {} s simulated, {distinct} distinct keys of {keys}", trace.len(), seconds);
    for &(limit, window) in limits {
        let started = std::time::Instant::now();
        let window_nanos = u64::try_from(window.as_nanos()).unwrap();
        let report = replay(&trace, limit, window_nanos, 100_000);
        let fp_ratio = report.false_positives as f64 / report.requests as f64;
        println!(
            "  {limit} per {window:?}: {} admitted, {} rejected ({:.2}%), false negatives {}, false positives {} ({:.4}%), \
             independent-oracle disagreements {}, windows over the limit {} [{:?}]",
            report.admitted,
            report.rejected,
            100.0 * report.rejected as f64 / report.requests as f64,
            report.false_negatives,
            report.false_positives,
            100.0 * fp_ratio,
            report.independent_disagreements,
            report.windows_over_limit,
            started.elapsed(),
        );
        assert_eq!(report.false_negatives, 0, "{report:?}");
        assert_eq!(report.windows_over_limit, 0, "{report:?}");
        assert!(fp_ratio <= 0.001, "{report:?}");
        assert!(report.rejected * 100 >= report.requests, "the trace must actually push keys over their limit: {report:?}");
    }
}

#[test]
fn a_bursty_skewed_30k_per_second_replay_over_10k_keys_has_no_false_negatives() {
    run_chaos(
        0x5eed,
        30_000.0,
        10_000,
        10,
        &[(100, Duration::from_secs(1)), (10, Duration::from_millis(100)), (3, Duration::from_millis(20))],
    );
}

#[test]
#[ignore = "soak: two simulated minutes over 100k keys; run with --ignored --release"]
fn a_two_minute_soak_over_100k_keys_has_no_false_negatives() {
    for seed in 1..=3 {
        run_chaos(
            seed,
            30_000.0,
            100_000,
            120,
            &[(100, Duration::from_secs(1)), (50, Duration::from_secs(10)), (2, Duration::from_millis(5))],
        );
    }
}
