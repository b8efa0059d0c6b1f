//! The scenarios of an alert's tests: what a scenario is, when the alert fires in one, and
//! which scenarios each alert gets.
//!
//! The scenarios with the alert's input present (fires, healthy, boundary) depend on what
//! the alert measures, so each construct kind makes its own ([`ledger`], [`invariant`],
//! [`rate_limit`], [`threshold`], [`versioned`], [`slo`]; [`alert_scenarios`] dispatches on the
//! kind). The restart and "series vanish" scenarios depend only on the alert's input and
//! its absence arm, whatever the kind ([`vanish`]).

use std::collections::BTreeMap;

use super::{InputSeries, STEP, Siblings, T_EVENT, describe, run};
use crate::emit::plan::AlertPlan;
use crate::emit::promql::series;
use crate::ir::{ConstructKind, MAX_FOR};

mod invariant;
mod ledger;
mod rate_limit;
pub(super) mod slo;
mod threshold;
pub(super) mod vanish;
mod versioned;

pub use rate_limit::largest_ratio_sample_for;

/// What a scenario makes the compared quantity be at each evaluation time (`None` when the
/// alert's expression has no value then).
pub(super) struct Scenario {
    pub(super) title: String,
    /// Seconds between input samples (evaluations are always [`STEP`] apart).
    pub(super) interval: u64,
    pub(super) inputs: Vec<InputSeries>,
    value: Box<dyn Fn(u64) -> Option<f64>>,
    /// From when (milliseconds) the alert's input has been absent for its allowed silence,
    /// so that its absence arm holds; `None` while the input is there.
    absent_from: Option<u64>,
    /// Times to check, in seconds.
    pub(super) evals: Vec<u64>,
}

/// Every scenario of one alert (with its input present: fires, healthy, boundary; after a
/// restart; with its input gone), or why the alert cannot be tested exactly.
pub(super) fn alert_scenarios(sibs: &Siblings<'_>, alert: &AlertPlan) -> Result<Vec<Scenario>, String> {
    if alert.for_ > MAX_FOR {
        return Err(format!("the `for` of {} ({}) is longer than {}", describe(alert), alert.for_, MAX_FOR));
    }
    let for_s = for_steps(alert);
    let name = describe(alert);
    let mut scenarios = match alert.kind {
        ConstructKind::Ledger => ledger::scenarios(alert, for_s, &name)?,
        ConstructKind::Invariant => invariant::scenarios(alert, for_s, &name)?,
        ConstructKind::RateLimit => rate_limit::scenarios(alert, for_s, &name)?,
        ConstructKind::Threshold => threshold::scenarios(sibs, alert, for_s, &name)?,
        ConstructKind::Versioned => versioned::scenarios(alert, for_s, &name)?,
        // `PipSloBucketMissing` here; the burn-rate tiers in files of their own (`slo.rs`).
        ConstructKind::Slo => slo::scenarios(alert, for_s, &name)?,
        // The plan gives these kinds no alerts.
        ConstructKind::Bundle | ConstructKind::Dashboard => return Err(unexpected(alert, &name)),
    };
    scenarios.extend(vanish::restart(alert, for_s, &name));
    if let Some(absence) = &alert.absence {
        scenarios.extend(vanish::scenarios(alert, absence, &name)?);
    }
    Ok(scenarios)
}

/// Why a kind's scenarios cannot drive `alert`: the plan gave it an input its kind does not
/// measure (a bug of the plan, never of a spec).
fn unexpected(alert: &AlertPlan, name: &str) -> String {
    format!("{name}: a `{}` alert on an input whose scenarios its kind does not make", alert.kind.keyword())
}

/// Whether the condition of `alert` holds at `t` in scenario `s`: its comparison, or its
/// absence arm.
fn holds(alert: &AlertPlan, s: &Scenario, t: u64) -> bool {
    let absent = alert.absence.is_some() && s.absent_from.is_some_and(|a| t.saturating_mul(1000) >= a);
    absent || (s.value)(t).is_some_and(|v| alert.op.holds(v, alert.threshold))
}

/// First evaluation time at which `alert` is active, if any, up to `until`.
// INVARIANT: `until` is at most a scenario's end, a few minutes past the alert's `for`
// (at most `ir::MAX_FOR`: `alert_scenarios` refuses longer ones) or its absence window (at
// most an hour: `vanish` shows longer ones without waiting them out), so this walks at most
// about 6,000 steps.
fn active_since(alert: &AlertPlan, s: &Scenario, until: u64) -> Option<u64> {
    (0..=until / STEP).map(|i| i * STEP).find(|&t| holds(alert, s, t))
}

/// Whether `alert` fires at `t` in scenario `s`. Scenario conditions hold continuously from
/// the first time they hold (values are monotone past it, and the absence arm takes over
/// exactly when a remembered value runs out).
pub(super) fn fires(alert: &AlertPlan, s: &Scenario, t: u64) -> bool {
    holds(alert, s, t) && active_since(alert, s, t).is_some_and(|a| t * 1000 >= a * 1000 + alert.for_.millis)
}

/// An alert's `for` rounded up to whole evaluation steps: when it can first fire after
/// becoming active.
fn for_steps(alert: &AlertPlan) -> u64 {
    alert.for_.millis.div_ceil(STEP * 1000) * STEP
}

/// Evaluation times around the moment an alert becomes active at `active`: just before, and
/// with a `for`, one step before it elapses and when it elapses.
fn evals_around(active: u64, for_s: u64) -> Vec<u64> {
    let mut v = Vec::new();
    if active >= STEP {
        v.push(active - STEP);
    }
    if for_s >= STEP {
        v.push(active + for_s - STEP);
    }
    v.push(active + for_s);
    v.dedup();
    v
}

/// The scenarios of an alert on one counter that steps up by one when something bad happens
/// (`increase(...) > 0`): the alerts of invariants and of versioned stores.
fn counter_step(metric: &str, labels: &BTreeMap<String, String>, for_s: u64, name: &str) -> Vec<Scenario> {
    let end = T_EVENT + for_s + 120;
    let n = end / STEP + 1;
    let before = T_EVENT / STEP;
    let step_series = |start: f64| InputSeries {
        series: series(metric, labels),
        values: format!("{} {}", run(start, 0.0, before), run(start + 1.0, 0.0, n - before)),
    };
    let step_value = move |t: u64| Some(if (T_EVENT..T_EVENT + 300).contains(&t) { 1.0 } else { 0.0 });
    vec![
        Scenario {
            title: format!("{name} fires when the counter steps up by one"),
            interval: STEP,
            inputs: vec![step_series(0.0)],
            value: Box::new(step_value),
            absent_from: None,
            evals: evals_around(T_EVENT, for_s),
        },
        Scenario {
            title: format!("{name} stays silent while the counter stays at zero"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(0.0, 0.0, n) }],
            value: Box::new(|_| Some(0.0)),
            absent_from: None,
            evals: vec![end],
        },
        Scenario {
            title: format!("{name} at the boundary: a counter that does not move is not a new event"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(7.0, 0.0, n) }],
            value: Box::new(|_| Some(0.0)),
            absent_from: None,
            evals: vec![end],
        },
    ]
}
