//! The rules of `versioned` blocks: one recording rule of the spec's rollback mismatches, and
//! per store an alert on a rollback whose state did not match its recorded version.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal, WINDOW};
use crate::emit::promql::{map, selector};
use crate::ir::{Comparator, ConstructKind, Versioned};
use crate::units::Duration;

/// The last part of the rule group's name, `pip:<spec>:versioned` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "versioned";

/// The versioned-store rules of the spec, in evaluation order (the recording rule first).
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let s = cx.spec.name.as_str();
    let mut rules = Vec::new();
    // One recording rule per kind and spec; alerts select their store from it.
    if let Some(first) = cx.spec.versioned.first() {
        rules.push(RulePlan::Record(RecordPlan {
            record: record::ROLLBACK_MISMATCHES.into(),
            expr: format!(
                "sum by ({}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::STORE,
                selector(metric::VERSIONED_ROLLBACK_MISMATCHES.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: signal(s, &first.name),
            construct: first.name.clone(),
        }));
    }
    for v in &cx.spec.versioned {
        rules.push(RulePlan::Alert(mismatch(cx, v)));
    }
    rules
}

fn mismatch(cx: &Ctx<'_>, v: &Versioned) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let mut description = v.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "A rollback of versioned store `{}` produced a state whose SHA-256 differs from the recorded version; the store stayed at its last verified version.",
        v.name
    ));
    AlertPlan {
        alert: alert::ROLLBACK_MISMATCH.into(),
        lhs: selector(record::ROLLBACK_MISMATCHES, &[(label::SPEC, s), (label::STORE, &v.name)]),
        op: Comparator::Gt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: cx.labels(ConstructKind::Versioned, &v.name, v.severity),
        annotations: cx.annotations(
            format!("{s}: rollback of {} did not match its recorded version", v.name),
            description,
            &v.runbook,
            &v.source,
            v.severity,
        ),
        signal: signal(s, &v.name),
        output_labels: map(&[(label::SPEC, s), (label::STORE, &v.name)]),
        absence: None,
        kind: ConstructKind::Versioned,
        construct: v.name.clone(),
    }
}

/// The rollback-mismatch counter series of the store, as the tests drive it.
fn signal(spec: &str, store: &str) -> Signal {
    Signal::CounterStep {
        metric: metric::VERSIONED_ROLLBACK_MISMATCHES.exposed.into(),
        labels: map(&[(label::SPEC, spec), (label::STORE, store)]),
    }
}
