//! The exported names, labels, types and help texts against the conventions.
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
    m.rate_limit_backend_errors.get_or_create(&BackendErrorLabels { spec: s("a"), limit: s("l"), reason: s("timeout") }).inc();
    let ledger = LedgerLabels { spec: s("a"), ledger: s("audit") };
    m.ledger_head_seq.get_or_create(&ledger).set(1);
    m.ledger_checkpoint_seq.get_or_create(&ledger).set(1);
    let sub = SubsystemLabels { spec: s("a"), ledger: s("audit"), subsystem: s("billing") };
    m.ledger_appends.get_or_create(&sub).inc();
    m.ledger_last_append.get_or_create(&sub).set(1.5);
    m.ledger_anomalies.get_or_create(&AnomalyLabels { spec: s("a"), ledger: s("audit"), class: s("modified") }).inc();
    m.ledger_verification_errors.get_or_create(&VerificationErrorLabels { spec: s("a"), ledger: s("audit"), reason: s("format") }).inc();
    let witness = WitnessLabels { spec: s("a"), ledger: s("audit"), witness: s("w1.example") };
    m.ledger_witness_cosigned.get_or_create(&witness).set(1.5);
    m.ledger_witness_cosigned_size.get_or_create(&witness).set(3);
    m.ledger_witness_push_errors
        .get_or_create(&WitnessErrorLabels { spec: s("a"), ledger: s("audit"), witness: s("w1.example"), reason: s("timeout") })
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
