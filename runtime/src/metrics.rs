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

pub mod exposition;
mod limiters;

pub use exposition::{Exposition, Format};
pub use limiters::LimiterMetrics;
pub(crate) use limiters::{Attached, Source, Totals};

/// Labels of invariant checks and violations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct InvariantLabels {
    /// The spec id (`spec payments`), as [`SpecDecl::name`](crate::declared::SpecDecl::name) and the conventions' `spec` label.
    pub spec: String,
    /// The `invariant` construct's name in the spec.
    pub invariant: String,
    /// `requires` or `ensures`.
    pub check: String,
    /// Severity level label value (`critical`, ...).
    pub severity: String,
}

/// Labels of rate-limit decisions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DecisionLabels {
    /// The spec id (`spec payments`), as [`SpecDecl::name`](crate::declared::SpecDecl::name) and the conventions' `spec` label.
    pub spec: String,
    /// The `rate_limit` construct's name in the spec; never the key, so the series stay few.
    pub limit: String,
    /// `allowed` or `rejected`.
    pub outcome: String,
}

/// Labels of per-limit gauges and counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LimitLabels {
    /// The spec id (`spec payments`), as [`SpecDecl::name`](crate::declared::SpecDecl::name) and the conventions' `spec` label.
    pub spec: String,
    /// The `rate_limit` construct's name in the spec.
    pub limit: String,
}

/// Labels of per-ledger metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LedgerLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
}

/// Labels of per-subsystem ledger metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SubsystemLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
    /// Subsystem that wrote the entry.
    pub subsystem: String,
}

/// Labels of ledger anomalies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AnomalyLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
    /// Anomaly class (`modified`, `deleted`, ...).
    pub class: String,
}

/// Labels of ledger verification errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct VerificationErrorLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
    /// Why verification could not run (one of [`pip_conventions::reason::ALL`]).
    pub reason: String,
}

/// Labels of a rate limit's backend errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BackendErrorLabels {
    /// The spec id of the `rate_limit`.
    pub spec: String,
    /// The `rate_limit` construct's name.
    pub limit: String,
    /// Why the backend gave no decision (one of [`pip_conventions::backend_error::ALL`]).
    pub reason: String,
}

/// Labels of per-witness ledger metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct WitnessLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
    /// The witness: the name of its cosignature verifier key.
    pub witness: String,
}

/// Labels of failed pushes to a witness.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct WitnessErrorLabels {
    /// The spec id, as [`LedgerConfig::spec`](crate::ledger::LedgerConfig::spec).
    pub spec: String,
    /// The `ledger` construct's name, as [`LedgerConfig::name`](crate::ledger::LedgerConfig::name).
    pub ledger: String,
    /// The witness: the name of its cosignature verifier key.
    pub witness: String,
    /// Why the push failed (one of [`pip_conventions::witness_error::ALL`]).
    pub reason: String,
}

/// Labels of versioned-store metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StoreLabels {
    /// The spec id of the store's `versioned` construct.
    pub spec: String,
    /// The `versioned` construct's name in the spec, as [`StoreConfig::name`](crate::versioned::StoreConfig::name).
    pub store: String,
}

/// A gauge holding a float (timestamps).
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric family of the runtime, shared by a process's checks, ledgers, limiters and stores.
#[derive(Debug, Default)]
pub struct Metrics {
    /// [`metric::INVARIANT_CHECKS`].
    pub invariant_checks: Family<InvariantLabels, Counter>,
    /// [`metric::INVARIANT_VIOLATIONS`].
    pub invariant_violations: Family<InvariantLabels, Counter>,
    /// [`metric::RATE_LIMIT_DECISIONS`], [`metric::RATE_LIMIT_KEYS`] and
    /// [`metric::RATE_LIMIT_KEY_CAP`] of every limiter built with these metrics.
    pub rate_limits: LimiterMetrics,
    /// [`metric::RATE_LIMIT_BACKEND_ERRORS`].
    pub rate_limit_backend_errors: Family<BackendErrorLabels, Counter>,
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
    /// [`metric::LEDGER_WITNESS_COSIGNED`].
    pub ledger_witness_cosigned: Family<WitnessLabels, FloatGauge>,
    /// [`metric::LEDGER_WITNESS_COSIGNED_SIZE`].
    pub ledger_witness_cosigned_size: Family<WitnessLabels, Gauge>,
    /// [`metric::LEDGER_WITNESS_PUSH_ERRORS`].
    pub ledger_witness_push_errors: Family<WitnessErrorLabels, Counter>,
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
        m.register_into(registry);
        m
    }

    /// Registers these families (shared, not copied: the registry reads the same counters) and
    /// the rate limiters' collector in `registry`, e.g. a service's own `prometheus-client`
    /// registry that it already serves.
    pub fn register_into(&self, registry: &mut Registry) {
        let (m, r) = (self, registry);
        r.register(metric::INVARIANT_CHECKS.base, metric::INVARIANT_CHECKS.help, m.invariant_checks.clone());
        r.register(metric::INVARIANT_VIOLATIONS.base, metric::INVARIANT_VIOLATIONS.help, m.invariant_violations.clone());
        r.register_collector(Box::new(m.rate_limits.clone()));
        r.register(metric::RATE_LIMIT_BACKEND_ERRORS.base, metric::RATE_LIMIT_BACKEND_ERRORS.help, m.rate_limit_backend_errors.clone());
        r.register(metric::LEDGER_HEAD_SEQ.base, metric::LEDGER_HEAD_SEQ.help, m.ledger_head_seq.clone());
        r.register(metric::LEDGER_APPENDS.base, metric::LEDGER_APPENDS.help, m.ledger_appends.clone());
        r.register(metric::LEDGER_LAST_APPEND.base, metric::LEDGER_LAST_APPEND.help, m.ledger_last_append.clone());
        r.register(metric::LEDGER_CHECKPOINT_SEQ.base, metric::LEDGER_CHECKPOINT_SEQ.help, m.ledger_checkpoint_seq.clone());
        r.register(metric::LEDGER_ANOMALIES.base, metric::LEDGER_ANOMALIES.help, m.ledger_anomalies.clone());
        r.register(metric::LEDGER_VERIFICATION_ERRORS.base, metric::LEDGER_VERIFICATION_ERRORS.help, m.ledger_verification_errors.clone());
        r.register(metric::LEDGER_WITNESS_COSIGNED.base, metric::LEDGER_WITNESS_COSIGNED.help, m.ledger_witness_cosigned.clone());
        r.register(
            metric::LEDGER_WITNESS_COSIGNED_SIZE.base,
            metric::LEDGER_WITNESS_COSIGNED_SIZE.help,
            m.ledger_witness_cosigned_size.clone(),
        );
        r.register(metric::LEDGER_WITNESS_PUSH_ERRORS.base, metric::LEDGER_WITNESS_PUSH_ERRORS.help, m.ledger_witness_push_errors.clone());
        r.register(metric::VERSIONED_VERSION.base, metric::VERSIONED_VERSION.help, m.versioned_version.clone());
        r.register(metric::VERSIONED_UPGRADES.base, metric::VERSIONED_UPGRADES.help, m.versioned_upgrades.clone());
        r.register(metric::VERSIONED_ROLLBACKS.base, metric::VERSIONED_ROLLBACKS.help, m.versioned_rollbacks.clone());
        r.register(
            metric::VERSIONED_ROLLBACK_MISMATCHES.base,
            metric::VERSIONED_ROLLBACK_MISMATCHES.help,
            m.versioned_rollback_mismatches.clone(),
        );
    }
}

/// Renders a registry in OpenMetrics text 1.0.0, as `prometheus-client` encodes it; for what a
/// `/metrics` endpoint answers each client, see [`exposition`].
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests;
