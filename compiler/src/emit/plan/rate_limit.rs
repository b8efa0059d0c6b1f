//! The rules of `rate_limit` blocks: one recording rule of the rejected ratio of the spec's
//! limits, and an alert for each limit that declares `alert when rejected_ratio ...`.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal, WINDOW};
use crate::emit::promql::{decimal_fraction, map, number, selector};
use crate::ir::{self, ConstructKind, RateLimit, RatioAlert};

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
    }
    rules
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
    use super::*;

    #[test]
    fn steps_of_ratios_too_fine_for_a_u64_stay_finite() {
        assert!(ratio_step(1e-20).is_finite());
        assert!(ratio_step(f64::MIN_POSITIVE).is_finite());
    }
}
