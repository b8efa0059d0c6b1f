//! The rules of `threshold` blocks: per threshold a recording rule of its PromQL, and an
//! alert per level (`warn`, `critical`) on the recorded value.

use pip_conventions::{alert, label, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal};
use crate::emit::promql::{map, number, selector};
use crate::ir::{Comparator, ConstructKind, Threshold, ThresholdCondition};

/// The last part of the rule group's name, `pip:<spec>:thresholds` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "thresholds";

/// The threshold rules of the spec: each threshold's recording rule, then its alerts.
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let s = cx.spec.name.as_str();
    let mut rules = Vec::new();
    for th in &cx.spec.thresholds {
        let name = th.record.clone().unwrap_or_else(|| record::threshold(s, &th.name));
        let out = map(&[(label::SPEC, s), (label::CONSTRUCT, &th.name)]);
        rules.push(RulePlan::Record(RecordPlan {
            record: name.clone(),
            expr: th.expr.trim().to_string(),
            labels: out.clone(),
            signal: Signal::Expression { selectors: th.selectors.clone() },
            construct: th.name.clone(),
        }));
        for c in &th.conditions {
            rules.push(RulePlan::Alert(crossed(cx, th, c, &name)));
        }
    }
    rules
}

/// The alert of one level of a threshold, on its recording rule `record`.
fn crossed(cx: &Ctx<'_>, th: &Threshold, c: &ThresholdCondition, record: &str) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let out = map(&[(label::SPEC, s), (label::CONSTRUCT, &th.name)]);
    let mut labels = cx.labels(ConstructKind::Threshold, &th.name, c.severity);
    labels.insert(label::LEVEL.into(), c.level.as_str().into());
    let mut description = th.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "Threshold `{}` is {} {} (its {} level) for {}; unit {}.",
        th.name,
        a_or_b(c.op),
        number(c.value),
        c.level.as_str(),
        c.for_,
        th.unit
    ));
    AlertPlan {
        alert: alert::THRESHOLD_CROSSED.into(),
        lhs: selector(record, &[(label::SPEC, s), (label::CONSTRUCT, &th.name)]),
        op: c.op,
        threshold: c.value,
        step: value_step(c.value),
        for_: c.for_,
        labels,
        annotations: cx.annotations(
            format!("{s}: {} crossed its {} level", th.name, c.level.as_str()),
            description,
            &th.runbook,
            &c.source,
            c.severity,
        ),
        signal: Signal::Gauge { metric: record.to_string(), labels: out.clone() },
        output_labels: out,
        absence: None,
        kind: ConstructKind::Threshold,
        construct: th.name.clone(),
    }
}

fn a_or_b(op: Comparator) -> &'static str {
    match op {
        Comparator::Gt => "above",
        Comparator::Ge => "at or above",
        Comparator::Lt => "below",
        Comparator::Le => "at or below",
    }
}

/// Step of a gauge threshold: a thousandth of its magnitude (at least 1e-6).
fn value_step(v: f64) -> f64 {
    (v.abs() * 1e-3).max(1e-6)
}
