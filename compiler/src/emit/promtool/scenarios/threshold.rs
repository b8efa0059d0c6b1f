//! The scenarios of a `threshold`'s alerts: its recorded value held just past the level
//! (fires), well on the healthy side of every level of the threshold (silent), and exactly
//! at and just inside the level (the boundary).

use super::{Scenario, evals_around, unexpected};
use crate::emit::plan::{AlertPlan, Signal};
use crate::emit::promql::{number, series};
use crate::emit::promtool::{InputSeries, STEP, Siblings, run};

/// The scenarios of the alert with its input present.
pub(super) fn scenarios(sibs: &Siblings<'_>, alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    let Signal::Gauge { metric, labels } = &alert.signal else { return Err(unexpected(alert, name)) };
    let sibs = sibs.of(alert);
    let end = for_s + 300;
    let n = end / STEP + 1;
    let gauge = |title: String, v: f64, evals: Vec<u64>| Scenario {
        title,
        interval: STEP,
        inputs: vec![InputSeries { series: series(metric, labels), values: run(v, 0.0, n) }],
        value: Box::new(move |_| Some(v)),
        absent_from: None,
        evals,
    };
    Ok(vec![
        gauge(format!("{name} fires just past {}", number(alert.threshold)), past(alert), evals_around(0, for_s)),
        gauge(format!("{name} stays silent on the healthy side"), healthy(&sibs, alert), vec![end]),
        gauge(format!("{name} at the boundary: exactly {}", number(alert.threshold)), alert.threshold, vec![end]),
        gauge(format!("{name} at the boundary: just inside {}", number(alert.threshold)), inside(alert), vec![end]),
    ])
}

/// The value just past the threshold, on the firing side.
fn past(alert: &AlertPlan) -> f64 {
    if alert.op.is_upper_bound() { alert.threshold + alert.step } else { alert.threshold - alert.step }
}

/// The value just inside the threshold, on the healthy side.
fn inside(alert: &AlertPlan) -> f64 {
    if alert.op.is_upper_bound() { alert.threshold - alert.step } else { alert.threshold + alert.step }
}

/// A value well on the healthy side of every sibling's threshold.
fn healthy(sibs: &[&AlertPlan], alert: &AlertPlan) -> f64 {
    let margin = 100.0 * alert.step;
    if alert.op.is_upper_bound() {
        sibs.iter().map(|a| a.threshold).fold(alert.threshold, f64::min) - margin
    } else {
        sibs.iter().map(|a| a.threshold).fold(alert.threshold, f64::max) + margin
    }
}
