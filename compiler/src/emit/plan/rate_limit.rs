//! The rules of `rate_limit` blocks: one recording rule of the rejected ratio of the spec's
//! limits, an alert for each limit that declares `alert when rejected_ratio ...`, and for
//! every limit an alert on failed decisions of its shared backend (`PipRateLimitBackendDown`).
//!
//! The backend alert is generated for every limit, whether or not the service runs it on a
//! shared backend: the spec does not know the deployment (the service picks the backend), and
//! the in-process limiter never fails, so there its counter has no series and the alert stays
//! silent. It has no absence arm for the same reason: no series is the normal state.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal, WINDOW};
use crate::emit::promql::{decimal_fraction, map, number, selector};
use crate::ir::{self, BackendFailure, Comparator, ConstructKind, RateLimit, RatioAlert, Severity};
use crate::units::Duration;

/// The last part of the rule group's name, `pip:<spec>:rate_limits` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "rate_limits";

/// The rate-limit rules of the spec, in evaluation order (the recording rule first).
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let spec = cx.spec;
    let s = spec.name.as_str();
    let mut rules = Vec::new();
    // One recording rule per kind and spec; alerts select their limit from it.
    if let Some(first) = spec.rate_limits.first() {
        let all = selector(metric::RATE_LIMIT_DECISIONS.exposed, &[(label::SPEC, s)]);
        let rejected =
            selector(metric::RATE_LIMIT_DECISIONS.exposed, &[(label::SPEC, s), (label::OUTCOME, pip_conventions::outcome::REJECTED)]);
        rules.push(RulePlan::Record(RecordPlan {
            record: record::RATE_LIMIT_REJECTED_RATIO.into(),
            expr: format!(
                "sum by ({sp}, {li}) (rate({rejected}[{WINDOW}])) / sum by ({sp}, {li}) (rate({all}[{WINDOW}]))",
                sp = label::SPEC,
                li = label::LIMIT
            ),
            labels: BTreeMap::new(),
            signal: signal(s, first),
            construct: first.name.clone(),
        }));
    }
    for rl in &spec.rate_limits {
        if let Some(a) = &rl.alert {
            rules.push(RulePlan::Alert(rejecting(cx, rl, a)));
        }
        rules.push(RulePlan::Alert(backend_down(cx, rl)));
    }
    rules
}

/// The severity of a limit's backend alert: refusing every request (fail closed) is an outage
/// of what the limit guards, so P1; a limit that does not hold (fail open) is a degraded
/// guarantee the service survives, so P2.
pub fn backend_down_severity(policy: BackendFailure) -> Severity {
    match policy {
        BackendFailure::Deny => Severity::P1,
        BackendFailure::Allow => Severity::P2,
    }
}

/// `PipRateLimitBackendDown`: a decision of the limit on its shared backend failed (no answer
/// within `backend_timeout`, no connection, an error reply) in the last [`WINDOW`], so the
/// limit's `on_backend_failure` decided it.
fn backend_down(cx: &Ctx<'_>, rl: &RateLimit) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let base = [(label::SPEC, s), (label::LIMIT, rl.name.as_str())];
    let severity = backend_down_severity(rl.on_backend_failure);
    let policy = rl.on_backend_failure.as_str();
    let (summary, consequence) = match rl.on_backend_failure {
        BackendFailure::Allow => {
            ("its limit is not holding", "admitted each of those requests (fail open): while the backend fails, the limit does not hold")
        }
        BackendFailure::Deny => (
            "it is refusing requests",
            "refused each of those requests (fail closed): while the backend fails, every request of the limit is refused",
        ),
    };
    let mut description = rl.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "Decisions of rate limit `{}` ({} per {} per {}) on its shared backend (Redis) failed in the last {WINDOW}: no answer within the backend timeout of {}, no connection, or an error reply (the `{}` label of {} says which). Its policy `on_backend_failure = {policy}` {consequence}.",
        rl.name,
        rl.limit,
        rl.window,
        rl.key,
        rl.backend_timeout,
        label::REASON,
        metric::RATE_LIMIT_BACKEND_ERRORS.exposed,
    ));
    AlertPlan {
        alert: alert::RATE_LIMIT_BACKEND_DOWN.into(),
        lhs: format!(
            "sum by ({}, {}) (increase({}[{WINDOW}]))",
            label::SPEC,
            label::LIMIT,
            selector(metric::RATE_LIMIT_BACKEND_ERRORS.exposed, &base)
        ),
        op: Comparator::Gt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: cx.labels(ConstructKind::RateLimit, &rl.name, severity),
        annotations: cx.annotations(
            format!("{s}: rate limit {} cannot reach its shared backend; {summary}", rl.name),
            description,
            &rl.runbook,
            &rl.source,
            severity,
        ),
        signal: Signal::CounterStep {
            metric: metric::RATE_LIMIT_BACKEND_ERRORS.exposed.into(),
            labels: map(&[(label::SPEC, s), (label::LIMIT, &rl.name), (label::REASON, pip_conventions::backend_error::TIMEOUT)]),
        },
        output_labels: map(&base),
        absence: None,
        kind: ConstructKind::RateLimit,
        construct: rl.name.clone(),
    }
}

fn rejecting(cx: &Ctx<'_>, rl: &RateLimit, a: &RatioAlert) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let mut description = rl.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "Rate limit `{}` ({} per {} per {}) rejected more than {} of requests (ratio {} {}) for {}.",
        rl.name,
        rl.limit,
        rl.window,
        rl.key,
        percent(a.ratio),
        a.op.as_str(),
        number(a.ratio),
        a.for_
    ));
    AlertPlan {
        alert: alert::RATE_LIMIT_REJECTING.into(),
        lhs: selector(record::RATE_LIMIT_REJECTED_RATIO, &[(label::SPEC, s), (label::LIMIT, &rl.name)]),
        op: a.op,
        threshold: a.ratio,
        step: ratio_step(a.ratio),
        for_: a.for_,
        labels: cx.labels(ConstructKind::RateLimit, &rl.name, a.severity),
        annotations: cx.annotations(
            format!("{s}: rate limit {} is rejecting requests", rl.name),
            description,
            &rl.runbook,
            &a.source,
            a.severity,
        ),
        signal: signal(s, rl),
        output_labels: map(&[(label::SPEC, s), (label::LIMIT, &rl.name)]),
        absence: None,
        kind: ConstructKind::RateLimit,
        construct: rl.name.clone(),
    }
}

/// The decisions counter of the limit, split by `outcome` in the tests.
fn signal(spec: &str, rl: &RateLimit) -> Signal {
    Signal::RejectedRatio {
        metric: metric::RATE_LIMIT_DECISIONS.exposed.into(),
        labels: map(&[(label::SPEC, spec), (label::LIMIT, &rl.name)]),
    }
}

/// A ratio as a percentage, to the 8 decimal places of the ratio (`ir::MAX_RATIO_DECIMAL_PLACES`):
/// `1e-8` is `0.000001%`, not `0%`.
fn percent(ratio: f64) -> String {
    format!("{}%", number((ratio * 1e8).round() / 1e6))
}

/// Step of a ratio threshold: a thousandth of the decimal resolution it is written with (the
/// promtool tests count requests in units of that size).
pub fn ratio_step(ratio: f64) -> f64 {
    let denominator = match decimal_fraction(ratio) {
        Some((_, d)) => d as f64,
        // Past 19 decimal places (the checker allows far fewer): the same power of ten in f64.
        None => 10f64.powi(i32::try_from(ir::decimal_places(ratio)).unwrap_or(i32::MAX)),
    };
    1.0 / (denominator * 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    /// The alerts of a spec with two limits, one failing closed and one by default.
    fn backend_alerts() -> Vec<AlertPlan> {
        let text = r#"spec shop version "1.0.0" {
  owner   = "team"
  runbook = "https://runbooks.example.com/shop"
}

rate_limit closed {
  key                = tenant
  limit              = 10 per 1s
  on_backend_failure = deny
  backend_timeout    = 20ms
  severity           = P3
}

rate_limit open {
  key      = ip
  limit    = 5 per 1m
  severity = P3
}
"#;
        let mut sources = crate::source::Sources::new();
        sources.add(crate::source::SourceFile::new("shop.pips", text));
        let compiled = crate::compile(&sources);
        assert!(compiled.diagnostics.iter().all(|d| !d.is_error()), "{:?}", compiled.diagnostics);
        let spec = compiled.specs.first().expect("one spec");
        rules(&Ctx { spec })
            .into_iter()
            .filter_map(|r| match r {
                RulePlan::Alert(a) if a.alert == alert::RATE_LIMIT_BACKEND_DOWN => Some(a),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_limit_gets_a_backend_alert_whose_severity_follows_its_policy() {
        let alerts = backend_alerts();
        let by_limit: Vec<(&str, &str, &str)> =
            alerts.iter().map(|a| (a.construct.as_str(), a.labels[label::PRIORITY].as_str(), a.annotations["summary"].as_str())).collect();
        assert_eq!(
            by_limit,
            [
                ("closed", "P1", "shop: rate limit closed cannot reach its shared backend; it is refusing requests"),
                ("open", "P2", "shop: rate limit open cannot reach its shared backend; its limit is not holding"),
            ]
        );
        let closed = &alerts[0];
        assert_eq!(
            closed.expr(),
            r#"sum by (spec, limit) (increase(pip_rate_limit_backend_errors_total{spec="shop",limit="closed"}[5m])) > 0"#
        );
        let description = &closed.annotations["description"];
        assert!(description.contains("`on_backend_failure = deny` refused") && description.contains("20ms"), "{description}");
        assert!(alerts[1].annotations["description"].contains("`on_backend_failure = allow` admitted"));
        assert!(alerts.iter().all(|a| a.absence.is_none()), "no series is the normal state of an in-process limit");
    }

    #[test]
    fn steps_of_ratios_too_fine_for_a_u64_stay_finite() {
        assert!(ratio_step(1e-20).is_finite());
        assert!(ratio_step(f64::MIN_POSITIVE).is_finite());
    }
}
