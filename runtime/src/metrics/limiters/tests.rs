//! The limiters' collector against the families it replaced, with real limiters counting into it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::*;
use crate::clock::ManualClock;
use crate::limiter::{LimitConfig, RateLimiter};
use crate::metrics::{Metrics, render};

fn scrape(m: &LimiterMetrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(m.clone()));
    render(&registry)
}

/// The value of the sample line that starts with `series`.
fn value(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn limiter(metrics: &Metrics, name: &str, limit: u64) -> RateLimiter<u64> {
    let config = LimitConfig::new("payments", name, limit, Duration::from_secs(1)).with_max_keys(2);
    RateLimiter::new(config, metrics, Arc::new(ManualClock::new(0))).unwrap()
}

/// The collector must be indistinguishable from the families it replaced: the same HELP
/// and TYPE lines and the same samples as families registered under the conventions'
/// names and holding the same values.
#[test]
fn the_collector_renders_what_registered_families_would() {
    let metrics = Metrics::default();
    let (a, b) = (limiter(&metrics, "per_tenant", 2), limiter(&metrics, "per_ip", 1));
    for key in [1, 1, 1, 2, 3, 3] {
        a.check(&key);
    }
    b.check(&7);
    metrics.rate_limits.declare("gateway", "per_route");

    let mut reference = Registry::default();
    let decisions = Family::<DecisionLabels, Counter>::default();
    let keys = Family::<LimitLabels, Gauge>::default();
    let key_cap = Family::<LimitLabels, Counter>::default();
    reference.register(metric::RATE_LIMIT_DECISIONS.base, metric::RATE_LIMIT_DECISIONS.help, decisions.clone());
    reference.register(metric::RATE_LIMIT_KEYS.base, metric::RATE_LIMIT_KEYS.help, keys.clone());
    reference.register(metric::RATE_LIMIT_KEY_CAP.base, metric::RATE_LIMIT_KEY_CAP.help, key_cap.clone());
    // per_tenant: 1 allowed twice then rejected, 2 allowed, 3 refused twice at the cap
    // of two keys; per_ip: one admission; per_route: declared, never used.
    for (spec, limit, allowed, rejected, cap, tracked) in
        [("payments", "per_tenant", 3, 3, 2, 2), ("payments", "per_ip", 1, 0, 0, 1), ("gateway", "per_route", 0, 0, 0, 0)]
    {
        let d = |o: &str| DecisionLabels { spec: spec.into(), limit: limit.into(), outcome: o.into() };
        decisions.get_or_create(&d(outcome::ALLOWED)).inc_by(allowed);
        decisions.get_or_create(&d(outcome::REJECTED)).inc_by(rejected);
        let l = LimitLabels { spec: spec.into(), limit: limit.into() };
        keys.get_or_create(&l).set(tracked);
        key_cap.get_or_create(&l).inc_by(cap);
    }

    // Families list their series in hash order, the collector in name order: compare
    // each metric's block as a set of lines.
    let blocks = |text: &str| {
        let mut lines: Vec<String> = text.lines().filter(|l| *l != "# EOF").map(str::to_string).collect();
        lines.sort();
        lines
    };
    let (ours, theirs) = (scrape(&metrics.rate_limits), render(&reference));
    assert_eq!(blocks(&ours), blocks(&theirs), "ours:\n{ours}\ntheirs:\n{theirs}");
    // ... and each metric's lines are contiguous, HELP and TYPE first.
    let names: Vec<&str> = ours.lines().filter_map(|l| l.strip_prefix("# HELP ")?.split(' ').next()).collect();
    assert_eq!(names, [metric::RATE_LIMIT_DECISIONS.base, metric::RATE_LIMIT_KEYS.base, metric::RATE_LIMIT_KEY_CAP.base]);
    let owner = |l: &str| names.iter().rposition(|n| l.trim_start_matches("# HELP ").trim_start_matches("# TYPE ").starts_with(n));
    let order: Vec<usize> = ours.lines().filter(|l| *l != "# EOF").map(|l| owner(l).unwrap()).collect();
    assert!(order.is_sorted(), "{ours}");
}

#[test]
fn nothing_is_exported_before_a_limit_exists() {
    let text = scrape(&LimiterMetrics::default());
    assert!(!text.contains("pip_rate_limit"), "{text}");
}

#[test]
fn a_dropped_limiter_keeps_its_counts_and_releases_its_keys() {
    let metrics = Metrics::default();
    let series = r#"pip_rate_limit_decisions_total{spec="payments",limit="per_tenant",outcome="allowed"}"#;
    let keys = r#"pip_rate_limit_keys{spec="payments",limit="per_tenant"}"#;
    let first = limiter(&metrics, "per_tenant", 5);
    for key in [1, 2, 1] {
        first.check(&key);
    }
    assert_eq!((value(&scrape(&metrics.rate_limits), series), value(&scrape(&metrics.rate_limits), keys)), (Some(3), Some(2)));
    drop(first);
    let text = scrape(&metrics.rate_limits);
    assert_eq!((value(&text, series), value(&text, keys)), (Some(3), Some(0)), "{text}");
    // A new limiter under the same name counts on from there, and two live ones add up.
    let (second, third) = (limiter(&metrics, "per_tenant", 5), limiter(&metrics, "per_tenant", 5));
    second.check(&1);
    third.check(&1);
    third.check(&2);
    let text = scrape(&metrics.rate_limits);
    assert_eq!((value(&text, series), value(&text, keys)), (Some(6), Some(3)), "{text}");
    assert_eq!(lock(&metrics.rate_limits.state).limits.values().map(|s| s.live.len()).sum::<usize>(), 2);
}
