//! The rules of `invariant` blocks: one recording rule of the violations of the spec's
//! invariants, and per invariant an alert on its new violations.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal, WINDOW};
use crate::emit::promql::{map, selector};
use crate::ir::{self, Comparator, ConstructKind, Spec};
use crate::units::Duration;

/// The last part of the rule group's name, `pip:<spec>:invariants` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "invariants";

/// The invariant rules of the spec, in evaluation order (the recording rule first).
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let spec = cx.spec;
    let s = spec.name.as_str();
    let mut rules = Vec::new();
    // One recording rule per kind and spec (the same record name with the same labels twice
    // would be a duplicate rule); alerts select their construct from it.
    if let Some(first) = spec.invariants.first() {
        rules.push(RulePlan::Record(RecordPlan {
            record: record::INVARIANT_VIOLATIONS.into(),
            expr: format!(
                "sum by ({}, {}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::INVARIANT,
                label::CHECK,
                selector(metric::INVARIANT_VIOLATIONS.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: signal(spec, first),
            construct: first.name.clone(),
        }));
    }
    for inv in &spec.invariants {
        rules.push(RulePlan::Alert(violated(cx, inv)));
    }
    rules
}

fn violated(cx: &Ctx<'_>, inv: &ir::Invariant) -> AlertPlan {
    let spec = cx.spec;
    let s = spec.name.as_str();
    let checks: Vec<String> = inv
        .requires
        .iter()
        .map(|c| format!("requires `{}`", c.expr))
        .chain(inv.ensures.iter().map(|c| format!("ensures `{}`", c.expr)))
        .collect();
    let mut description = inv.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "A check of invariant `{}` failed in the last {WINDOW}: {}. Policy: {}.",
        inv.name,
        checks.join("; "),
        match inv.on_violation {
            ir::OnViolation::Deny => "deny (the call was refused)",
            ir::OnViolation::Record => "record (the call went ahead)",
        }
    ));
    if let Some(l) = &inv.evidence {
        description.push_str(&format!(" Each violation is in ledger `{l}`."));
    }
    AlertPlan {
        alert: alert::INVARIANT_VIOLATED.into(),
        lhs: format!(
            "sum by ({}, {}) ({})",
            label::SPEC,
            label::INVARIANT,
            selector(record::INVARIANT_VIOLATIONS, &[(label::SPEC, s), (label::INVARIANT, &inv.name)])
        ),
        op: Comparator::Gt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: cx.labels(ConstructKind::Invariant, &inv.name, inv.severity),
        annotations: cx.annotations(format!("{s}: invariant {} violated", inv.name), description, &inv.runbook, &inv.source, inv.severity),
        signal: signal(spec, inv),
        output_labels: map(&[(label::SPEC, s), (label::INVARIANT, &inv.name)]),
        absence: None,
        kind: ConstructKind::Invariant,
        construct: inv.name.clone(),
    }
}

/// The violations counter series of the invariant's first check, as the tests drive it.
fn signal(spec: &Spec, inv: &ir::Invariant) -> Signal {
    let check = if inv.requires.is_empty() { pip_conventions::check::ENSURES } else { pip_conventions::check::REQUIRES };
    Signal::CounterStep {
        metric: metric::INVARIANT_VIOLATIONS.exposed.into(),
        labels: map(&[
            (label::SPEC, &spec.name),
            (label::INVARIANT, &inv.name),
            (label::CHECK, check),
            (label::SEVERITY, &spec.severity(inv.severity).level),
        ]),
    }
}
