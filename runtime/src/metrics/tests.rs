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

/// A registry with one series of every family (and a limiter, whose collector exports the
/// limiter metrics; kept alive with it).
fn every_family() -> (Registry, Metrics, RateLimiter<u64>) {
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
    (registry, m, limiter)
}

/// The rendered names, labels, types and help texts are exactly the conventions'.
#[test]
fn exported_names_and_labels_are_the_conventions() {
    let (registry, _m, _limiter) = every_family();
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

/// `promtool check metrics` on `text`: whether it passed, and what it said.
fn promtool_check_metrics(text: &str) -> (bool, String) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let spawned =
        Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let Ok(mut child) = spawned else { panic!("promtool is not installed; run tests/run-all.sh, which installs what the tests need") };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && report.trim().is_empty(), report)
}

/// What a `/metrics` endpoint serves a client that is not Prometheus passes Prometheus's own
/// linter (`promtool check metrics`, installed by tests/run-all.sh): help text and type for every
/// family, names as the text format wants them.
#[test]
fn the_prometheus_text_format_passes_promtool_check_metrics() {
    let (registry, _m, _limiter) = every_family();
    let exposition = exposition::encode(&registry, Format::Prometheus);
    assert_eq!(exposition.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let (clean, report) = promtool_check_metrics(&exposition.body);
    assert!(clean, "promtool check metrics:\n{report}\non:\n{}", exposition.body);
    // The check's own check: the OpenMetrics rendering of the same registry is what a
    // Prometheus-format reader rejects.
    let (clean, report) = promtool_check_metrics(&render(&registry));
    assert!(!clean && report.contains("no help text"), "{report}");
    assert_eq!(exposition::encode(&registry, Format::OpenMetrics).body, render(&registry));
}

/// A service's own registry given pip's metrics exports the very counters pip counts in.
#[test]
fn metrics_registered_into_a_service_registry_are_shared_not_copied() {
    let mut ours = Registry::default();
    let m = Metrics::register(&mut ours);
    let mut service = Registry::default();
    service.register("http_requests", "HTTP requests", Counter::<u64>::default());
    m.register_into(&mut service);
    let inv = InvariantLabels { spec: s("a"), invariant: s("b"), check: s("requires"), severity: s("critical") };
    m.invariant_checks.get_or_create(&inv).inc_by(3);
    let line = "pip_invariant_checks_total{spec=\"a\",invariant=\"b\",check=\"requires\",severity=\"critical\"} 3";
    for text in [render(&ours), render(&service)] {
        assert!(text.lines().any(|l| l == line), "{text}");
    }
    assert!(render(&service).contains("# TYPE http_requests counter"));
}
