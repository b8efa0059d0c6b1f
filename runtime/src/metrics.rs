//! Every metric the runtime exports, registered under the names of
//! [`pip_conventions::metric`] with the label names of [`pip_conventions::label`].
//!
//! One [`Metrics`] is shared (behind an `Arc`) by every ledger, limiter, store and check of a
//! process. Label structs spell their fields as the conventions' label names; a test renders
//! the registry and compares every name with the conventions, so a drift fails the build.
//!
//! The rate limiters' metrics are not families the limiters write into but a collector,
//! [`LimiterMetrics`], that sums the limiters' per-shard counts at scrape time: a decision
//! takes a few tens of nanoseconds, and one counter shared by every decision of every thread
//! would cost as much again once two cores take turns owning its cache line.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use pip_conventions::metric;

pub use crate::limiter::LimiterMetrics;

/// Labels of invariant checks and violations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct InvariantLabels {
    /// Spec id.
    pub spec: String,
    /// Invariant name.
    pub invariant: String,
    /// `requires` or `ensures`.
    pub check: String,
    /// Severity level label value (`critical`, ...).
    pub severity: String,
}

/// Labels of rate-limit decisions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DecisionLabels {
    /// Spec id.
    pub spec: String,
    /// Rate limit name.
    pub limit: String,
    /// `allowed` or `rejected`.
    pub outcome: String,
}

/// Labels of per-limit gauges and counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LimitLabels {
    /// Spec id.
    pub spec: String,
    /// Rate limit name.
    pub limit: String,
}

/// Labels of per-ledger metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LedgerLabels {
    /// Spec id.
    pub spec: String,
    /// Ledger name.
    pub ledger: String,
}

/// Labels of per-subsystem ledger metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SubsystemLabels {
    /// Spec id.
    pub spec: String,
    /// Ledger name.
    pub ledger: String,
    /// Subsystem that wrote the entry.
    pub subsystem: String,
}

/// Labels of ledger anomalies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AnomalyLabels {
    /// Spec id.
    pub spec: String,
    /// Ledger name.
    pub ledger: String,
    /// Anomaly class (`modified`, `deleted`, ...).
    pub class: String,
}

/// Labels of ledger verification errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct VerificationErrorLabels {
    /// Spec id.
    pub spec: String,
    /// Ledger name.
    pub ledger: String,
    /// Why verification could not run (one of [`pip_conventions::reason::ALL`]).
    pub reason: String,
}

/// Labels of versioned-store metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StoreLabels {
    /// Spec id.
    pub spec: String,
    /// Store name.
    pub store: String,
}

/// A gauge holding a float (timestamps).
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// The runtime's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// [`metric::INVARIANT_CHECKS`].
    pub invariant_checks: Family<InvariantLabels, Counter>,
    /// [`metric::INVARIANT_VIOLATIONS`].
    pub invariant_violations: Family<InvariantLabels, Counter>,
    /// [`metric::RATE_LIMIT_DECISIONS`], [`metric::RATE_LIMIT_KEYS`] and
    /// [`metric::RATE_LIMIT_KEY_CAP`] of every limiter built with these metrics.
    pub rate_limits: LimiterMetrics,
    /// [`metric::LEDGER_HEAD_SEQ`].
    pub ledger_head_seq: Family<LedgerLabels, Gauge>,
    /// [`metric::LEDGER_APPENDS`].
    pub ledger_appends: Family<SubsystemLabels, Counter>,
    /// [`metric::LEDGER_LAST_APPEND`].
    pub ledger_last_append: Family<SubsystemLabels, FloatGauge>,
    /// [`metric::LEDGER_CHECKPOINT_SEQ`].
    pub ledger_checkpoint_seq: Family<LedgerLabels, Gauge>,
    /// [`metric::LEDGER_ANOMALIES`].
    pub ledger_anomalies: Family<AnomalyLabels, Counter>,
    /// [`metric::LEDGER_VERIFICATION_ERRORS`].
    pub ledger_verification_errors: Family<VerificationErrorLabels, Counter>,
    /// [`metric::VERSIONED_VERSION`].
    pub versioned_version: Family<StoreLabels, Gauge>,
    /// [`metric::VERSIONED_UPGRADES`].
    pub versioned_upgrades: Family<StoreLabels, Counter>,
    /// [`metric::VERSIONED_ROLLBACKS`].
    pub versioned_rollbacks: Family<StoreLabels, Counter>,
    /// [`metric::VERSIONED_ROLLBACK_MISMATCHES`].
    pub versioned_rollback_mismatches: Family<StoreLabels, Counter>,
}

impl Metrics {
    /// Creates the families and registers each under its conventions name, and the rate
    /// limiters' collector, which exports under theirs.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics::default();
        let r = registry;
        r.register(metric::INVARIANT_CHECKS.base, metric::INVARIANT_CHECKS.help, m.invariant_checks.clone());
        r.register(metric::INVARIANT_VIOLATIONS.base, metric::INVARIANT_VIOLATIONS.help, m.invariant_violations.clone());
        r.register_collector(Box::new(m.rate_limits.clone()));
        r.register(metric::LEDGER_HEAD_SEQ.base, metric::LEDGER_HEAD_SEQ.help, m.ledger_head_seq.clone());
        r.register(metric::LEDGER_APPENDS.base, metric::LEDGER_APPENDS.help, m.ledger_appends.clone());
        r.register(metric::LEDGER_LAST_APPEND.base, metric::LEDGER_LAST_APPEND.help, m.ledger_last_append.clone());
        r.register(metric::LEDGER_CHECKPOINT_SEQ.base, metric::LEDGER_CHECKPOINT_SEQ.help, m.ledger_checkpoint_seq.clone());
        r.register(metric::LEDGER_ANOMALIES.base, metric::LEDGER_ANOMALIES.help, m.ledger_anomalies.clone());
        r.register(metric::LEDGER_VERIFICATION_ERRORS.base, metric::LEDGER_VERIFICATION_ERRORS.help, m.ledger_verification_errors.clone());
        r.register(metric::VERSIONED_VERSION.base, metric::VERSIONED_VERSION.help, m.versioned_version.clone());
        r.register(metric::VERSIONED_UPGRADES.base, metric::VERSIONED_UPGRADES.help, m.versioned_upgrades.clone());
        r.register(metric::VERSIONED_ROLLBACKS.base, metric::VERSIONED_ROLLBACKS.help, m.versioned_rollbacks.clone());
        r.register(
            metric::VERSIONED_ROLLBACK_MISMATCHES.base,
            metric::VERSIONED_ROLLBACK_MISMATCHES.help,
            m.versioned_rollback_mismatches.clone(),
        );
        m
    }
}

/// Renders a registry in the Prometheus text format (what `/metrics` serves).
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::clock::ManualClock;
    use crate::limiter::{LimitConfig, RateLimiter};
    use std::sync::Arc;
    use std::time::Duration;

    fn s(v: &str) -> String {
        v.to_string()
    }

    /// Touches one series of every family (and builds a limiter, whose collector exports the
    /// limiter metrics) and checks that the rendered names, labels, types and help texts are
    /// exactly the conventions'.
    #[test]
    fn exported_names_and_labels_are_the_conventions() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        let inv = InvariantLabels { spec: s("a"), invariant: s("b"), check: s("requires"), severity: s("critical") };
        m.invariant_checks.get_or_create(&inv).inc();
        m.invariant_violations.get_or_create(&inv).inc();
        let limiter: RateLimiter<u64> =
            RateLimiter::new(LimitConfig::new("a", "l", 1, Duration::from_secs(1)), &m, Arc::new(ManualClock::new(0))).unwrap();
        limiter.check(&1);
        let ledger = LedgerLabels { spec: s("a"), ledger: s("audit") };
        m.ledger_head_seq.get_or_create(&ledger).set(1);
        m.ledger_checkpoint_seq.get_or_create(&ledger).set(1);
        let sub = SubsystemLabels { spec: s("a"), ledger: s("audit"), subsystem: s("billing") };
        m.ledger_appends.get_or_create(&sub).inc();
        m.ledger_last_append.get_or_create(&sub).set(1.5);
        m.ledger_anomalies.get_or_create(&AnomalyLabels { spec: s("a"), ledger: s("audit"), class: s("modified") }).inc();
        m.ledger_verification_errors
            .get_or_create(&VerificationErrorLabels { spec: s("a"), ledger: s("audit"), reason: s("format") })
            .inc();
        let store = StoreLabels { spec: s("a"), store: s("cfg") };
        m.versioned_version.get_or_create(&store).set(1);
        m.versioned_upgrades.get_or_create(&store).inc();
        m.versioned_rollbacks.get_or_create(&store).inc();
        m.versioned_rollback_mismatches.get_or_create(&store).inc();

        let text = render(&registry);
        for metric in pip_conventions::metric::ALL {
            let line = text
                .lines()
                .find(|l| !l.starts_with('#') && l.split('{').next() == Some(metric.exposed))
                .unwrap_or_else(|| panic!("{} not exported:\n{text}", metric.exposed));
            let labels: Vec<&str> =
                line.split('{').nth(1).unwrap().split('}').next().unwrap().split(',').map(|kv| kv.split('=').next().unwrap()).collect();
            assert_eq!(labels, metric.labels, "labels of {}", metric.exposed);
            let kind = match metric.kind {
                pip_conventions::MetricKind::Counter => "counter",
                pip_conventions::MetricKind::Gauge => "gauge",
            };
            let has = |wanted: String| text.lines().any(|l| l == wanted);
            assert!(has(format!("# TYPE {} {kind}", metric.base)), "type of {}:\n{text}", metric.base);
            // The registry ends help texts with a period; the limiters' collector does too.
            assert!(has(format!("# HELP {} {}.", metric.base, metric.help)), "help of {}:\n{text}", metric.base);
        }
    }
}
