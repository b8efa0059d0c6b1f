//! `prometheus` (tests): a promtool unit test file for each rules file,
//! `generated/prometheus/<spec>.test.yml`.
//!
//! For every alert: a scenario just past its threshold (it fires at the computed time, with
//! every label and annotation; with a `for`, it is still pending one evaluation earlier), a
//! healthy scenario (silent), and the boundary: exactly at the threshold (silent for `>` and
//! `<`, firing for `>=` and `<=`). An alert that also fires on the absence of its input gets
//! "series vanish" scenarios too ([`vanish`]): it fires once the input has been gone for its
//! allowed silence, with its labels, and not one evaluation before. For every recording
//! rule: a `promql_expr_test` of its value.
//!
//! Scenarios are built so that PromQL computes the compared value *exactly* in binary
//! floating point (integer counter rates, ratios of integers), so the boundary tests are
//! decided by the threshold and nothing else. Which alerts of a construct fire at an
//! evaluation time is computed from the plan — warn and critical levels share an alert name
//! and input, so a scenario can fire both.

use std::collections::BTreeMap;

use serde::Serialize;

use super::prometheus::{AlertPlan, Plan, RulePlan, Signal, TEST_INTERVAL, decimal_fraction, escape, header, number};
use super::{EmitError, prometheus};
use crate::ir::Spec;

mod records;
mod vanish;

use records::record_group;
pub use records::regex_example;

/// Seconds between samples and between evaluations.
const STEP: u64 = TEST_INTERVAL.millis / 1000;
/// When a step scenario's bad event happens (a full 5m window after the start).
const T_EVENT: u64 = 300;
/// Seconds between the counter samples of rate scenarios (see the rate-limit scenarios).
const RATIO_INTERVAL: u64 = 60;
/// When silence scenarios reach their threshold.
const LEAD: u64 = 120;
/// 2^53: PromQL computes in f64, exact on integers up to here.
pub const MAX_EXACT: u64 = 1 << 53;

/// The path of a spec's test file, relative to the output directory.
pub fn tests_path(spec: &Spec) -> String {
    format!("prometheus/{}.test.yml", spec.name)
}

#[derive(Serialize)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup>,
}

#[derive(Serialize)]
struct TestGroup {
    name: String,
    interval: String,
    input_series: Vec<InputSeries>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alert_rule_test: Vec<AlertTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Serialize)]
struct ExpAlert {
    exp_labels: BTreeMap<String, String>,
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ExprTest {
    expr: String,
    eval_time: String,
    exp_samples: Vec<ExpSample>,
}

#[derive(Serialize)]
struct ExpSample {
    labels: String,
    value: f64,
}

fn secs(s: u64) -> String {
    crate::units::Duration::from_secs(s).to_string()
}

fn series(metric: &str, labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// `n` samples (one per [`STEP`]) starting at `start`, growing by `inc` each.
fn run(start: f64, inc: f64, n: u64) -> String {
    if inc == 0.0 {
        format!("{}x{}", number(start), n.saturating_sub(1))
    } else {
        format!("{}+{}x{}", number(start), number(inc), n.saturating_sub(1))
    }
}

/// What a scenario makes the compared quantity be at each evaluation time (`None` when the
/// alert's expression has no value then).
struct Scenario {
    title: String,
    /// Seconds between input samples (evaluations are always [`STEP`] apart).
    interval: u64,
    inputs: Vec<InputSeries>,
    value: Box<dyn Fn(u64) -> Option<f64>>,
    /// From when (milliseconds) the alert's input has been absent for its allowed silence,
    /// so that its absence arm holds; `None` while the input is there.
    absent_from: Option<u64>,
    /// Times to check, in seconds.
    evals: Vec<u64>,
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
fn fires(alert: &AlertPlan, s: &Scenario, t: u64) -> bool {
    holds(alert, s, t) && active_since(alert, s, t).is_some_and(|a| t * 1000 >= a * 1000 + alert.for_.millis)
}

/// An alert's `for` rounded up to whole evaluation steps: when it can first fire after
/// becoming active.
fn for_steps(alert: &AlertPlan) -> u64 {
    alert.for_.millis.div_ceil(STEP * 1000) * STEP
}

fn expected(alert: &AlertPlan) -> ExpAlert {
    let mut labels = alert.output_labels.clone();
    labels.extend(alert.labels.clone());
    ExpAlert { exp_labels: labels, exp_annotations: alert.annotations.clone() }
}

/// The alerts that a scenario driving an alert's inputs can fire: same name, same construct,
/// same output labels (warn and critical of one threshold); and every alert of the same name,
/// whose absence arms a scenario must keep quiet. Indexed once per plan.
struct Siblings<'p> {
    by_construct: std::collections::HashMap<(&'p str, &'p str), Vec<&'p AlertPlan>>,
    by_name: std::collections::HashMap<&'p str, Vec<&'p AlertPlan>>,
}

impl<'p> Siblings<'p> {
    fn new(plan: &'p Plan) -> Self {
        let mut sibs = Siblings { by_construct: std::collections::HashMap::new(), by_name: std::collections::HashMap::new() };
        for r in plan.groups.iter().flat_map(|g| g.rules.iter()) {
            if let RulePlan::Alert(a) = r {
                sibs.by_construct.entry((a.alert.as_str(), a.construct.as_str())).or_default().push(a);
                sibs.by_name.entry(a.alert.as_str()).or_default().push(a);
            }
        }
        sibs
    }

    fn of(&self, alert: &AlertPlan) -> Vec<&'p AlertPlan> {
        self.by_construct
            .get(&(alert.alert.as_str(), alert.construct.as_str()))
            .map(|v| v.iter().copied().filter(|a| a.output_labels == alert.output_labels).collect())
            .unwrap_or_default()
    }

    /// Healthy inputs, `interval` seconds apart until `end`, for every other alert of the
    /// same name that fires on the absence of its input: a test of one alert checks every
    /// alert of its name, and those would fire on inputs the scenario does not write.
    fn background(&self, alert: &AlertPlan, interval: u64, end: u64, written: &[InputSeries]) -> Vec<InputSeries> {
        let n = end / interval.max(1) + 1;
        let mut out: Vec<InputSeries> = Vec::new();
        for other in self.by_name.get(alert.alert.as_str()).into_iter().flatten() {
            if other.absence.is_none() || other.output_labels == alert.output_labels {
                continue;
            }
            for i in vanish::healthy(other, interval, n) {
                if !written.iter().chain(out.iter()).any(|w| w.series == i.series) {
                    out.push(i);
                }
            }
        }
        out
    }
}

fn group_for(sibs: &Siblings<'_>, alert: &AlertPlan, mut s: Scenario) -> TestGroup {
    let end = s.evals.iter().copied().max().unwrap_or(0);
    let mut inputs = std::mem::take(&mut s.inputs);
    inputs.extend(sibs.background(alert, s.interval, end, &inputs));
    let sibs = sibs.of(alert);
    let alert_rule_test = s
        .evals
        .iter()
        .map(|&t| AlertTest {
            eval_time: secs(t),
            alertname: alert.alert.clone(),
            exp_alerts: sibs.iter().filter(|a| fires(a, &s, t)).map(|a| expected(a)).collect(),
        })
        .collect();
    TestGroup { name: s.title, interval: secs(s.interval), input_series: inputs, alert_rule_test, promql_expr_test: Vec::new() }
}

/// How an alert's test groups are named: their names start with this and a space.
pub fn describe(alert: &AlertPlan) -> String {
    let extra: Vec<String> = ["level", "subsystem"].iter().filter_map(|k| alert.labels.get(*k).map(|v| format!("{k}={v}"))).collect();
    if extra.is_empty() {
        format!("{} {}", alert.alert, alert.construct)
    } else {
        format!("{} {} ({})", alert.alert, alert.construct, extra.join(", "))
    }
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

/// When the rejected-ratio scenarios of an alert whose `for` is `for_s` seconds end.
fn ratio_end(for_s: u64) -> Option<u64> {
    RATIO_INTERVAL.checked_add(for_s)?.checked_add(300)
}

/// The largest sample the rejected-ratio scenarios write when `total` requests arrive per
/// second for `end` seconds: the counter of allowed requests when none is rejected, at the
/// last sample (`None` past `u64`).
fn largest_ratio_sample(total: u64, end: u64) -> Option<u64> {
    total.checked_mul(RATIO_INTERVAL)?.checked_mul(end / RATIO_INTERVAL)
}

/// The largest sample the rejected-ratio scenarios of a threshold with `places` decimal
/// places and a `for` of `for_` write: what bounds [`crate::ir::MAX_RATIO_DECIMAL_PLACES`].
pub fn largest_ratio_sample_for(places: u32, for_: crate::units::Duration) -> Option<u64> {
    let total = 10u64.checked_pow(places.checked_add(3)?)?;
    largest_ratio_sample(total, ratio_end(for_.millis.div_ceil(STEP * 1000).checked_mul(STEP)?)?)
}

/// Requests per second of the rejected-ratio scenarios: `total`, of which `exact` rejected
/// puts the ratio exactly at `threshold`. `None` when the threshold is not in (0, 1) or a
/// counter would pass [`MAX_EXACT`] within `end` seconds, where the test would be inexact.
fn ratio_counts(threshold: f64, end: u64) -> Option<(u64, u64)> {
    let (num, den) = decimal_fraction(threshold)?;
    let total = den.checked_mul(1000)?;
    let exact = num.checked_mul(1000)?;
    // The firing scenario rejects `exact + 1` of `total`.
    let fits = exact.checked_add(1)? <= total && largest_ratio_sample(total, end)? <= MAX_EXACT;
    fits.then_some((total, exact))
}

/// The three scenarios (fires, healthy, boundary) of one alert, or why the alert cannot be
/// tested exactly.
fn alert_scenarios(sibs: &Siblings<'_>, alert: &AlertPlan) -> Result<Vec<Scenario>, String> {
    if alert.for_ > crate::ir::MAX_FOR {
        return Err(format!("the `for` of {} ({}) is longer than {}", describe(alert), alert.for_, crate::ir::MAX_FOR));
    }
    let for_s = for_steps(alert);
    let name = describe(alert);
    let mut scenarios = present_scenarios(sibs, alert, for_s, &name)?;
    scenarios.extend(vanish::restart(alert, for_s, &name));
    if let Some(absence) = &alert.absence {
        scenarios.extend(vanish::scenarios(alert, absence, &name)?);
    }
    Ok(scenarios)
}

/// The scenarios of an alert whose input is there throughout.
fn present_scenarios(sibs: &Siblings<'_>, alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    Ok(match &alert.signal {
        Signal::CounterStep { metric, labels } => {
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
        Signal::CounterSteps { counters } => {
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
        Signal::RejectedRatio { metric, labels } => {
            // N requests per second of which R are rejected, sampled once a minute: with 1m
            // samples every rate PromQL computes over a full 5m window is an integer (its
            // extrapolation factor is 1 or 5/4), so the ratio is exactly R/N — as long as every
            // counter stays below 2^53, which `ratio_counts` checks.
            let input = RATIO_INTERVAL;
            let end = ratio_end(for_s).ok_or("the `for` overflows")?;
            let (total, exact) = ratio_counts(alert.threshold, end).ok_or_else(|| {
                format!(
                    "the rejected ratio {} of {} needs counters past 2^53 to be tested exactly (at most {} decimal places)",
                    number(alert.threshold),
                    describe(alert),
                    crate::ir::MAX_RATIO_DECIMAL_PLACES
                )
            })?;
            let n = end / input + 1;
            let ratio_scenario = |title: String, rejected: u64, evals: Vec<u64>| -> Result<Scenario, String> {
                let mut allowed = labels.clone();
                allowed.insert("outcome".into(), pip_conventions::outcome::ALLOWED.into());
                let mut refused = labels.clone();
                refused.insert("outcome".into(), pip_conventions::outcome::REJECTED.into());
                let ratio = rejected as f64 / total as f64;
                // INVARIANT: `rejected <= total` and `total * input` is below 2^53 (`ratio_counts`),
                // so both increments convert to f64 exactly.
                let (Some(allowed_inc), Some(rejected_inc)) =
                    (total.checked_sub(rejected).and_then(|a| a.checked_mul(input)), rejected.checked_mul(input))
                else {
                    return Err(format!("{rejected} of {total} requests cannot be rejected"));
                };
                Ok(Scenario {
                    title,
                    interval: input,
                    inputs: vec![
                        InputSeries { series: series(metric, &allowed), values: run(0.0, allowed_inc as f64, n) },
                        InputSeries { series: series(metric, &refused), values: run(0.0, rejected_inc as f64, n) },
                    ],
                    value: Box::new(move |t| (t >= input).then_some(ratio)),
                    absent_from: None,
                    evals,
                })
            };
            vec![
                ratio_scenario(format!("{name} fires just past its ratio"), exact.saturating_add(1), evals_around(input, for_s))?,
                ratio_scenario(format!("{name} stays silent when nothing is rejected"), 0, vec![end])?,
                ratio_scenario(format!("{name} at the boundary: exactly at its ratio"), exact, vec![end])?,
                ratio_scenario(format!("{name} at the boundary: just inside its ratio"), exact.saturating_sub(1), vec![end])?,
            ]
        }
        Signal::Gauge { metric, labels } => {
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
            vec![
                gauge(format!("{name} fires just past {}", number(alert.threshold)), past(alert), evals_around(0, for_s)),
                gauge(format!("{name} stays silent on the healthy side"), healthy(&sibs, alert), vec![end]),
                gauge(format!("{name} at the boundary: exactly {}", number(alert.threshold)), alert.threshold, vec![end]),
                gauge(format!("{name} at the boundary: just inside {}", number(alert.threshold)), inside(alert), vec![end]),
            ]
        }
        Signal::Silence { metric, labels } => {
            // The subsystem last wrote `threshold - LEAD` seconds before time 0, so the silence
            // reaches the threshold at LEAD seconds whatever the threshold: a day-long
            // expectation is tested in minutes.
            let threshold = alert.threshold;
            let last = LEAD as f64 - threshold;
            let first_past = LEAD + STEP;
            let end = first_past + for_s + 120;
            let n = end / STEP + 1;
            vec![
                Scenario {
                    title: format!("{name} fires once the subsystem is silent for longer than expected"),
                    interval: STEP,
                    inputs: vec![InputSeries { series: series(metric, labels), values: run(last, 0.0, n) }],
                    value: Box::new(move |t| Some(t as f64 - last)),
                    absent_from: None,
                    evals: evals_around(first_past, for_s),
                },
                Scenario {
                    title: format!("{name} stays silent while the subsystem writes evidence"),
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
        Signal::Decrease { metric, labels } => {
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
        Signal::Expression { .. } => Vec::new(),
    })
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

/// Serializes the promtool tests of a plan.
pub fn tests_yaml(spec: &Spec, plan: &Plan) -> Result<String, EmitError> {
    let mut tests = Vec::new();
    let sibs = Siblings::new(plan);
    for r in plan.groups.iter().flat_map(|g| g.rules.iter()) {
        match r {
            RulePlan::Record(r) => tests.extend(record_group(r)),
            RulePlan::Alert(a) => {
                let scenarios = alert_scenarios(&sibs, a).map_err(|message| EmitError::Unrepresentable {
                    emitter: prometheus::EMITTER.name,
                    path: tests_path(spec),
                    message,
                })?;
                for s in scenarios {
                    tests.push(group_for(&sibs, a, s));
                }
            }
        }
    }
    let file = TestFile { rule_files: vec![format!("{}.rules.yml", spec.name)], evaluation_interval: secs(STEP), tests };
    let body = serde_norway::to_string(&file).map_err(|e| EmitError::Serialize {
        emitter: prometheus::EMITTER.name,
        path: tests_path(spec),
        message: e.to_string(),
    })?;
    Ok(format!(
        "{}{body}",
        header(
            spec,
            &format!(
                "promtool unit tests of the rules of spec {}: `promtool test rules {}`",
                spec.name,
                tests_path(spec).trim_start_matches("prometheus/")
            )
        )
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn regex_examples_match_what_they_were_made_from() {
        assert_eq!(regex_example("5..").as_deref(), Some("500"));
        assert_eq!(regex_example("GET|POST").as_deref(), Some("GET"));
        assert_eq!(regex_example("api/v[0-9]+").as_deref(), Some("api/v0"));
        assert_eq!(regex_example(".*").as_deref(), Some(""));
    }

    #[test]
    fn exact_ratios_come_from_the_decimal_form() {
        assert_eq!(decimal_fraction(0.05), Some((5, 100)));
        assert_eq!(decimal_fraction(0.1), Some((1, 10)));
        assert_eq!(decimal_fraction(0.0137), Some((137, 10000)));
        let (num, den) = decimal_fraction(0.05).unwrap();
        let (total, exact) = (20 * den * 1000, 20 * num * 1000);
        assert_eq!(exact as f64 / total as f64, 0.05);
    }

    #[test]
    fn ratios_too_fine_for_a_u64_are_refused_not_wrapped() {
        assert_eq!(decimal_fraction(1e-19), Some((1, 10_000_000_000_000_000_000)));
        assert_eq!(decimal_fraction(1e-20), None);
        assert_eq!(decimal_fraction(-0.5), None);
        // 15 decimal places fit a u64, but the scenarios' counters of them do not.
        assert_eq!(ratio_counts(0.000_000_000_000_001, ratio_end(0).unwrap()), None);
        assert_eq!(ratio_counts(1.5, ratio_end(0).unwrap()), None);
        assert!(prometheus::ratio_step(1e-20).is_finite());
        assert!(prometheus::ratio_step(f64::MIN_POSITIVE).is_finite());
    }

    #[test]
    fn the_decimal_places_bound_is_the_largest_that_keeps_ratio_tests_exact() {
        use crate::ir::{MAX_FOR, MAX_RATIO_DECIMAL_PLACES};
        let places = u32::try_from(MAX_RATIO_DECIMAL_PLACES).unwrap();
        let at = largest_ratio_sample_for(places, MAX_FOR).unwrap();
        let past = largest_ratio_sample_for(places + 1, MAX_FOR).unwrap();
        assert!(at <= MAX_EXACT, "{at}");
        assert!(past > MAX_EXACT, "{past}");
        let smallest = 10f64.powi(-i32::try_from(places).unwrap());
        let end = ratio_end(MAX_FOR.millis / 1000).unwrap();
        let (total, exact) = ratio_counts(smallest, end).unwrap();
        assert_eq!(exact as f64 / total as f64, smallest);
    }
}
