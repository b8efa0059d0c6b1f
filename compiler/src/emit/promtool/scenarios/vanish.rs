//! "Series vanish" scenarios: the input of an evidence or integrity alert stops, as it does
//! when the service dies or is no longer scraped (Prometheus writes a staleness marker, then
//! nothing), and the alert must fire once the input has been gone for its allowed silence —
//! with its labels, which only the equality matchers of its absence arm can give it — and
//! not one evaluation before.
//!
//! - **gone**: the input vanishes mid-scenario. The instant its allowed silence runs out is
//!   put *between* two evaluations (samples are [`INTERVAL`] apart, not a multiple of the
//!   evaluation step), so the expected firing does not depend on whether a Prometheus
//!   version closes range windows on the left (3.x) or not (2.x). Evaluated just before
//!   and at the first firing, and just before and at the moment the absence arm alone
//!   holds (a dropped or resized absence arm changes one of those).
//! - **remembered** (evidence gap only): the subsystem last wrote long ago and the series
//!   vanishes a minute before its deadline; the alert still fires exactly at the deadline,
//!   from the remembered last append time (an alert reading only the latest sample would
//!   stay silent).
//! - **restart** (counter alerts): the service stops (a staleness marker, then nothing for
//!   30 s) and comes back with every counter at zero; the drop is a reset, not an event, and
//!   the first event after it fires the alert as usual.
//! - **never seen**: when the allowed silence is longer than [`WAIT_OUT_MAX`] it is not
//!   waited out; the absence arm is shown instead on an input Prometheus never saw, where it
//!   fires at once (with its labels). The deadline itself is still shown by *remembered*.

use std::collections::BTreeMap;

use super::{Scenario, active_since, evals_around, for_steps};
use crate::emit::plan::{Absence, AlertPlan, Signal};
use crate::emit::promql::series;
use crate::emit::promtool::{InputSeries, LEAD, STEP, T_EVENT, run};
use crate::units::Duration;

/// What a scenario's compared quantity is at each time (see [`Scenario`]).
type Value = Box<dyn Fn(u64) -> Option<f64>>;

/// Seconds between the input samples of the "gone" scenarios.
const INTERVAL: u64 = 10;
/// The longest allowed silence a "gone" scenario waits out: promtool evaluates every rule
/// of the file at every step, about 5 ms a step for a spec of twenty rules, so a day-long
/// window would cost half a minute per scenario (and the mutation check runs each several
/// times). Longer ones are shown on an input never seen.
const WAIT_OUT_MAX: Duration = Duration::from_secs(3600);
/// The input is there for at least this long before it vanishes.
const FIRST_VANISH: u64 = 60;

/// The vanish scenarios of an alert with an absence arm.
pub(super) fn scenarios(alert: &AlertPlan, absence: &Absence, name: &str) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    if let Signal::Silence { metric, labels } = &alert.signal {
        out.push(remembered(alert, absence, metric, labels, name));
    }
    if absence.window > WAIT_OUT_MAX {
        out.push(never_seen(alert, absence, name));
    } else {
        out.push(gone(alert, absence, name)?);
    }
    Ok(out)
}

/// When the service of the restart scenario stops, and how long it stays down.
const RESTART_STOP: u64 = 120;
const RESTART_DOWN: u64 = 30;

/// The restart scenario of an alert on counters (see the module's docs); none for others.
pub(super) fn restart(alert: &AlertPlan, for_s: u64, name: &str) -> Option<Scenario> {
    let counters: Vec<(&str, &BTreeMap<String, String>)> = match &alert.signal {
        Signal::CounterStep { metric, labels } => vec![(metric.as_str(), labels)],
        Signal::CounterSteps { counters } => counters.iter().map(|(m, l)| (m.as_str(), l)).collect(),
        Signal::RejectedRatio { .. }
        | Signal::Gauge { .. }
        | Signal::Silence { .. }
        | Signal::Decrease { .. }
        | Signal::Slo(_)
        | Signal::Expression { .. } => return None,
    };
    let end = T_EVENT + for_s + 120;
    // Before: 5 until RESTART_STOP, then a staleness marker and nothing while down.
    let before = format!("{} stale {}", run(5.0, 0.0, RESTART_STOP / STEP + 1), run_blank(RESTART_DOWN / STEP - 1));
    let back = RESTART_STOP + RESTART_DOWN + STEP;
    let values = |i: usize| {
        let stepped = if i == 0 { 1.0 } else { 0.0 };
        format!("{before} {} {}", run(0.0, 0.0, (T_EVENT - back) / STEP), run(stepped, 0.0, (end - T_EVENT) / STEP + 1))
    };
    Some(Scenario {
        title: format!("{name} after a restart: the counters' drop to zero is no event, the next step up is"),
        interval: STEP,
        inputs: counters.iter().enumerate().map(|(i, (m, l))| InputSeries { series: series(m, l), values: values(i) }).collect(),
        value: Box::new(|t| Some(if (T_EVENT..T_EVENT + 300).contains(&t) { 1.0 } else { 0.0 })),
        absent_from: None,
        evals: {
            let mut e = vec![back, T_EVENT - STEP];
            e.extend(evals_around(T_EVENT, for_s));
            e.dedup();
            e
        },
    })
}

/// `n` missing samples in promtool's series notation (`_ _ …`), where the input is gone.
fn run_blank(n: u64) -> String {
    vec!["_"; usize::try_from(n).unwrap_or(0)].join(" ")
}

/// Inputs that keep `alert` healthy and present: `n` samples `interval` seconds apart.
pub(in crate::emit::promtool) fn healthy(alert: &AlertPlan, interval: u64, n: u64) -> Vec<InputSeries> {
    match &alert.signal {
        // Each sample says the subsystem last wrote at the next sample's time: never silent.
        Signal::Silence { metric, labels } => {
            vec![InputSeries { series: series(metric, labels), values: run(interval as f64, interval as f64, n) }]
        }
        Signal::CounterStep { metric, labels } => vec![InputSeries { series: series(metric, labels), values: run(0.0, 0.0, n) }],
        Signal::CounterSteps { counters } => {
            counters.iter().map(|(m, l)| InputSeries { series: series(m, l), values: run(0.0, 0.0, n) }).collect()
        }
        Signal::Decrease { metric, labels } => vec![InputSeries { series: series(metric, labels), values: run(100.0, 1.0, n) }],
        Signal::RejectedRatio { .. } | Signal::Gauge { .. } | Signal::Expression { .. } | Signal::Slo(_) => Vec::new(),
    }
}

/// Milliseconds of the alert's threshold, for a silence (whose threshold is the expectation).
fn threshold_millis(alert: &AlertPlan) -> u64 {
    // INVARIANT: a silence threshold is a spec duration in seconds, at most 100 years: its
    // milliseconds are exact in an f64 and fit a u64.
    (alert.threshold * 1000.0).round() as u64
}

fn remembered(alert: &AlertPlan, absence: &Absence, metric: &str, labels: &BTreeMap<String, String>, name: &str) -> Scenario {
    // Last written `every` before LEAD; vanishes a minute before LEAD, well inside the
    // window (at least `ABSENCE_FLOOR`) for which the last value is remembered.
    let last = LEAD as f64 - alert.threshold;
    let vanish = LEAD - 60;
    let remembered_until = (vanish * 1000).saturating_add(absence.window.millis);
    Scenario {
        title: format!("{name} fires at its deadline although the series vanished a minute before it"),
        interval: STEP,
        inputs: vec![InputSeries { series: series(metric, labels), values: format!("{} stale", run(last, 0.0, vanish / STEP + 1)) }],
        value: Box::new(move |t| (t.saturating_mul(1000) <= remembered_until).then_some(t as f64 - last)),
        absent_from: Some(remembered_until + 1),
        evals: evals_around(LEAD + STEP, for_steps(alert)),
    }
}

fn never_seen(alert: &AlertPlan, absence: &Absence, name: &str) -> Scenario {
    Scenario {
        title: format!(
            "{name} fires at once on an input Prometheus never saw (its allowed silence of {} is not waited out)",
            absence.window
        ),
        interval: STEP,
        inputs: Vec::new(),
        value: Box::new(|_| None),
        absent_from: Some(0),
        evals: evals_around(0, for_steps(alert)),
    }
}

fn gone(alert: &AlertPlan, absence: &Absence, name: &str) -> Result<Scenario, String> {
    let w = absence.window.millis;
    let step_ms = STEP * 1000;
    let silence = matches!(alert.signal, Signal::Silence { .. }).then(|| threshold_millis(alert));
    // The first sample time from FIRST_VANISH on after which neither the allowed silence nor
    // the expectation ends on an evaluation: one of any three consecutive ones.
    let vanish = (FIRST_VANISH / INTERVAL..)
        .map(|k| k * INTERVAL)
        .take(3)
        .find(|&v| !(v * 1000 + w).is_multiple_of(step_ms) && silence.is_none_or(|e| !(v * 1000 + e).is_multiple_of(step_ms)))
        .ok_or_else(|| format!("{name}: no vanishing time puts its deadlines between evaluations"))?;
    let n = vanish / INTERVAL + 1;
    let stopped = |values: String| format!("{values} stale");
    let remembered_until = vanish * 1000 + w;
    let (inputs, value): (Vec<InputSeries>, Value) = match &alert.signal {
        // The subsystem wrote at the moment the series vanished (its last append time is the
        // vanishing time), so the expectation and the allowed silence both count from there.
        Signal::Silence { metric, labels } => (
            vec![InputSeries { series: series(metric, labels), values: stopped(run(vanish as f64, 0.0, n)) }],
            Box::new(move |t| (t * 1000 <= remembered_until).then_some(t as f64 - vanish as f64)),
        ),
        Signal::CounterStep { metric, labels } => (
            vec![InputSeries { series: series(metric, labels), values: stopped(run(0.0, 0.0, n)) }],
            Box::new(move |t| (t <= vanish).then_some(0.0)),
        ),
        Signal::CounterSteps { counters } => (
            counters.iter().map(|(m, l)| InputSeries { series: series(m, l), values: stopped(run(0.0, 0.0, n)) }).collect(),
            Box::new(move |t| (t <= vanish).then_some(0.0)),
        ),
        Signal::Decrease { metric, labels } => (
            vec![InputSeries { series: series(metric, labels), values: stopped(run(100.0, 1.0, n)) }],
            Box::new(move |t| (t <= vanish).then_some(0.0)),
        ),
        Signal::RejectedRatio { .. } | Signal::Gauge { .. } | Signal::Expression { .. } | Signal::Slo(_) => {
            return Err(format!("{name}: an absence arm on an input that has no vanish scenario"));
        }
    };
    let mut s = Scenario {
        title: format!("{name} fires once its input is gone for {}", absence.window),
        interval: INTERVAL,
        inputs,
        value,
        absent_from: Some(remembered_until + 1),
        evals: Vec::new(),
    };
    // The first evaluation after the allowed silence ran out: the absence arm alone holds.
    let absent = (remembered_until / step_ms + 1) * STEP;
    let first = active_since(alert, &s, absent).ok_or_else(|| format!("{name}: its vanish scenario never fires"))?;
    let mut evals = evals_around(first, for_steps(alert));
    evals.extend(evals_around(absent, for_steps(alert)));
    evals.sort_unstable();
    evals.dedup();
    s.evals = evals;
    Ok(s)
}
