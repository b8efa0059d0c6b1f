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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use pip_conventions::{Metric, metric, outcome};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::metrics::{DecisionLabels, LimitLabels};

/// What one limiter has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Requests admitted, exported as `outcome="allowed"`.
    pub(crate) allowed: u64,
    /// Requests refused, for the window or the key cap.
    pub(crate) rejected: u64,
    /// Requests refused because the key was new and the limiter at its key cap.
    pub(crate) key_cap: u64,
    /// Keys the limiter tracks at the time of reading (the `pip_rate_limit_keys` gauge), not a count.
    pub(crate) keys: u64,
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
pub(crate) trait Source: Send + Sync {
    /// The limiter's counts at the time of the call, read when Prometheus scrapes.
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
    pub(crate) fn declare(&self, spec: &str, limit: &str) {
        lock(&self.state).limits.entry((spec.to_string(), limit.to_string())).or_default();
    }

    /// Counts `source` into the series of `spec`'s limit `limit` until the returned guard is
    /// dropped. Several limiters under one name add up.
    pub(crate) fn attach(&self, spec: &str, limit: &str, source: Arc<dyn Source>) -> Attached {
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
pub(crate) struct Attached {
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

/// Locks the limits' state. A panic under this lock leaves whole counts behind (each update
/// is one statement), so a poisoned lock still holds consistent data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
mod tests;
