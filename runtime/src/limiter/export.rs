//! The limiters' metrics, summed from their shards when Prometheus scrapes.
//!
//! A decision is counted by the shard that takes it, in plain integers under the shard lock
//! the decision already holds: no atomic shared by every decision, no cache line bouncing
//! between cores. [`LimiterMetrics`] is a prometheus-client [`Collector`] that, at scrape
//! time, locks each shard in turn and sums its counts, so every scrape reports every
//! decision taken before it (no lag, no approximation). It exports exactly the series the
//! conventions name: [`metric::RATE_LIMIT_DECISIONS`] by outcome, [`metric::RATE_LIMIT_KEYS`]
//! and [`metric::RATE_LIMIT_KEY_CAP`], one series per limit (never per key), each at 0 from
//! the moment its limit is declared.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use pip_conventions::{Metric, metric, outcome};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::lock;
use crate::metrics::{DecisionLabels, LimitLabels};

/// What one limiter has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    /// Requests admitted.
    pub(super) allowed: u64,
    /// Requests refused, for the window or the key cap.
    pub(super) rejected: u64,
    /// Requests refused because the key was new and the limiter at its key cap.
    pub(super) key_cap: u64,
    /// Keys tracked now.
    pub(super) keys: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.allowed = self.allowed.saturating_add(other.allowed);
        self.rejected = self.rejected.saturating_add(other.rejected);
        self.key_cap = self.key_cap.saturating_add(other.key_cap);
        self.keys = self.keys.saturating_add(other.keys);
    }
}

/// A limiter's counts, read at scrape time.
pub(super) trait Source: Send + Sync {
    /// Its totals now.
    fn totals(&self) -> Totals;
}

/// The series of one limit (`spec`, `limit`): the limiters counting into it now, and what
/// limiters dropped before had counted, so that its counters never go back.
#[derive(Default)]
struct Series {
    retired: Totals,
    live: Vec<(u64, Weak<dyn Source>)>,
}

#[derive(Default)]
struct State {
    // Sorted, so that every scrape lists the limits in the same order.
    limits: BTreeMap<(String, String), Series>,
    next_id: u64,
}

/// The rate limiters' metrics: a [`Collector`] over every limiter built with the
/// [`crate::metrics::Metrics`] that holds it. Clones share the same limiters.
#[derive(Clone, Default)]
pub struct LimiterMetrics {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for LimiterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let limits: Vec<(String, String)> = lock(&self.state).limits.keys().cloned().collect();
        f.debug_struct("LimiterMetrics").field("limits", &limits).finish()
    }
}

impl LimiterMetrics {
    /// Creates the series of `spec`'s limit `limit` at 0 (if they do not exist yet), so that
    /// dashboards and `rate()` see the limit before its first request.
    pub(super) fn declare(&self, spec: &str, limit: &str) {
        lock(&self.state).limits.entry((spec.to_string(), limit.to_string())).or_default();
    }

    /// Counts `source` into the series of `spec`'s limit `limit` until the returned guard is
    /// dropped. Several limiters under one name add up.
    pub(super) fn attach(&self, spec: &str, limit: &str, source: Arc<dyn Source>) -> Attached {
        let mut state = lock(&self.state);
        let id = state.next_id;
        state.next_id += 1;
        let key = (spec.to_string(), limit.to_string());
        state.limits.entry(key.clone()).or_default().live.push((id, Arc::downgrade(&source)));
        Attached { state: Arc::clone(&self.state), key, id, source }
    }

    /// Every limit's totals now, in the order of (spec, limit).
    fn snapshot(&self) -> Vec<((String, String), Totals)> {
        let state = lock(&self.state);
        state
            .limits
            .iter()
            .map(|(key, series)| {
                let mut totals = series.retired;
                for source in series.live.iter().filter_map(|(_, s)| s.upgrade()) {
                    totals.add(source.totals());
                }
                (key.clone(), totals)
            })
            .collect()
    }
}

/// A limiter's place in [`LimiterMetrics`]. Dropping it (with the limiter) folds the
/// limiter's final counts into its series, under the same lock as scrapes take, so that no
/// scrape sees a counter go down.
pub(super) struct Attached {
    state: Arc<Mutex<State>>,
    key: (String, String),
    id: u64,
    // Held so that the limiter's shards outlive its series' last read of them.
    source: Arc<dyn Source>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if let Some(series) = state.limits.get_mut(&self.key) {
            let mut last = self.source.totals();
            // Keys die with their limiter; counters keep what it counted.
            last.keys = 0;
            series.retired.add(last);
            series.live.retain(|(id, _)| *id != self.id);
        }
    }
}

/// The registry appends a period to help texts; a collector writes its own, and writes it
/// the same way.
fn help(m: &Metric) -> String {
    format!("{}.", m.help)
}

impl Collector for LimiterMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let limits = self.snapshot();
        // Like a registered family with no series, nothing at all before a limit exists.
        if limits.is_empty() {
            return Ok(());
        }
        let labels = |(spec, limit): &(String, String)| LimitLabels { spec: spec.clone(), limit: limit.clone() };

        let d = &metric::RATE_LIMIT_DECISIONS;
        let mut family = encoder.encode_descriptor(d.base, &help(d), None, MetricType::Counter)?;
        for (key, totals) in &limits {
            for (outcome, count) in [(outcome::ALLOWED, totals.allowed), (outcome::REJECTED, totals.rejected)] {
                let series = DecisionLabels { spec: key.0.clone(), limit: key.1.clone(), outcome: outcome.to_string() };
                ConstCounter::new(count).encode(family.encode_family(&series)?)?;
            }
        }

        let k = &metric::RATE_LIMIT_KEYS;
        let mut family = encoder.encode_descriptor(k.base, &help(k), None, MetricType::Gauge)?;
        for (key, totals) in &limits {
            let keys = i64::try_from(totals.keys).unwrap_or(i64::MAX);
            ConstGauge::new(keys).encode(family.encode_family(&labels(key))?)?;
        }

        let c = &metric::RATE_LIMIT_KEY_CAP;
        let mut family = encoder.encode_descriptor(c.base, &help(c), None, MetricType::Counter)?;
        for (key, totals) in &limits {
            ConstCounter::new(totals.key_cap).encode(family.encode_family(&labels(key))?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
}
