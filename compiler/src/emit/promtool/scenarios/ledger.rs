//! The scenarios of a `ledger`'s alerts, one shape per alert:
//!
//! - **evidence gap** and **witness silent** (a silence): the subsystem's last append time
//!   (the witness's last cosignature time) stops moving and the silence passes the
//!   expectation (fires), it keeps moving (silent), or it is silent for exactly the expected
//!   time (boundary). The last write is placed so that the silence
//!   reaches the expectation after [`LEAD`] seconds whatever the expectation: a day-long one
//!   is tested in minutes.
//! - **verification failed** (anomaly and error counters summed): each counter in turn steps
//!   up by one (fires), all stay at zero (silent), or all stay at a value reached before
//!   (boundary: no new event).
//! - **truncated** (the head sequence): it goes down by one (fires), grows (silent), or does
//!   not move (boundary).

use std::collections::BTreeMap;

use pip_conventions::label;

use super::{Scenario, evals_around, unexpected};
use crate::emit::plan::{AlertPlan, Signal};
use crate::emit::promql::series;
use crate::emit::promtool::{InputSeries, LEAD, STEP, T_EVENT, run};

/// The scenarios of the alert with its input present.
pub(super) fn scenarios(alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    match &alert.signal {
        Signal::Silence { metric, labels } => Ok(silence(alert, metric, labels, for_s, name)),
        Signal::CounterSteps { counters } => Ok(counter_steps(counters, for_s, name)),
        Signal::Decrease { metric, labels } => Ok(decrease(metric, labels, for_s, name)),
        _ => Err(unexpected(alert, name)),
    }
}

fn silence(alert: &AlertPlan, metric: &str, labels: &BTreeMap<String, String>, for_s: u64, name: &str) -> Vec<Scenario> {
    let (who, active) =
        if labels.contains_key(label::WITNESS) { ("witness", "cosigns checkpoints") } else { ("subsystem", "writes evidence") };
    // The subsystem last wrote `threshold - LEAD` seconds before time 0, so the silence
    // reaches the threshold at LEAD seconds whatever the threshold.
    let threshold = alert.threshold;
    let last = LEAD as f64 - threshold;
    let first_past = LEAD + STEP;
    let end = first_past + for_s + 120;
    let n = end / STEP + 1;
    vec![
        Scenario {
            title: format!("{name} fires once the {who} is silent for longer than expected"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(last, 0.0, n) }],
            value: Box::new(move |t| Some(t as f64 - last)),
            absent_from: None,
            evals: evals_around(first_past, for_s),
        },
        Scenario {
            title: format!("{name} stays silent while the {who} {active}"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(0.0, STEP as f64, n) }],
            value: Box::new(|_| Some(0.0)),
            absent_from: None,
            evals: vec![end],
        },
        Scenario {
            title: format!("{name} at the boundary: silent for exactly the expected time"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(last, 0.0, LEAD / STEP + 1) }],
            value: Box::new(move |t| Some(t as f64 - last)),
            absent_from: None,
            evals: vec![LEAD],
        },
    ]
}

fn counter_steps(counters: &[(String, BTreeMap<String, String>)], for_s: u64, name: &str) -> Vec<Scenario> {
    let end = T_EVENT + for_s + 120;
    let n = end / STEP + 1;
    let before = T_EVENT / STEP;
    // Every counter is there in every scenario (the absence arm reads one of them).
    let flat = |start: f64| -> Vec<InputSeries> {
        counters.iter().map(|(m, l)| InputSeries { series: series(m, l), values: run(start, 0.0, n) }).collect()
    };
    let mut out = Vec::new();
    for (i, (metric, _)) in counters.iter().enumerate() {
        let mut inputs = flat(0.0);
        if let Some(stepped) = inputs.get_mut(i) {
            stepped.values = format!("{} {}", run(0.0, 0.0, before), run(1.0, 0.0, n - before));
        }
        out.push(Scenario {
            title: format!("{name} fires when {metric} steps up by one"),
            interval: STEP,
            inputs,
            value: Box::new(move |t| Some(if (T_EVENT..T_EVENT + 300).contains(&t) { 1.0 } else { 0.0 })),
            absent_from: None,
            evals: evals_around(T_EVENT, for_s),
        });
    }
    out.push(Scenario {
        title: format!("{name} stays silent while every counter stays at zero"),
        interval: STEP,
        inputs: flat(0.0),
        value: Box::new(|_| Some(0.0)),
        absent_from: None,
        evals: vec![end],
    });
    out.push(Scenario {
        title: format!("{name} at the boundary: counters that do not move are not new events"),
        interval: STEP,
        inputs: flat(7.0),
        value: Box::new(|_| Some(0.0)),
        absent_from: None,
        evals: vec![end],
    });
    out
}

fn decrease(metric: &str, labels: &BTreeMap<String, String>, for_s: u64, name: &str) -> Vec<Scenario> {
    let end = T_EVENT + for_s + 120;
    let n = end / STEP + 1;
    let before = T_EVENT / STEP;
    vec![
        Scenario {
            title: format!("{name} fires when the head sequence goes down by one"),
            interval: STEP,
            inputs: vec![InputSeries {
                series: series(metric, labels),
                values: format!("{} {}", run(100.0, 0.0, before), run(99.0, 0.0, n - before)),
            }],
            value: Box::new(|t| Some(if t >= T_EVENT { -1.0 } else { 0.0 })),
            absent_from: None,
            evals: evals_around(T_EVENT, for_s),
        },
        Scenario {
            title: format!("{name} stays silent while the ledger grows"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(100.0, 10.0, n) }],
            value: Box::new(|_| Some(0.0)),
            absent_from: None,
            evals: vec![end],
        },
        Scenario {
            title: format!("{name} at the boundary: a head that does not move"),
            interval: STEP,
            inputs: vec![InputSeries { series: series(metric, labels), values: run(100.0, 0.0, n) }],
            value: Box::new(|_| Some(0.0)),
            absent_from: None,
            evals: vec![end],
        },
    ]
}
