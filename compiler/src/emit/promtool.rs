//! `prometheus` (tests): a promtool unit test file for each rules file,
//! `generated/prometheus/<spec>.test.yml`, made from the same [`plan`](super::plan) as the
//! rules.
//!
//! For every alert: a scenario just past its threshold (it fires at the computed time, with
//! every label and annotation; with a `for`, it is still pending one evaluation earlier), a
//! healthy scenario (silent), and the boundary: exactly at the threshold (silent for `>` and
//! `<`, firing for `>=` and `<=`). An alert that also fires on the absence of its input gets
//! "series vanish" scenarios too (`scenarios/vanish.rs`): it fires once the input has been gone for its
//! allowed silence, with its labels, and not one evaluation before. For every recording
//! rule: a `promql_expr_test` of its value.
//!
//! Scenarios are built so that PromQL computes the compared value *exactly* in binary
//! floating point (integer counter rates, ratios of integers), so the boundary tests are
//! decided by the threshold and nothing else. Which alerts of a construct fire at an
//! evaluation time is computed from the plan — warn and critical levels share an alert name
//! and input, so a scenario can fire both.
//!
//! This module writes the file; `promtool/scenarios.rs` makes each alert's scenarios (one
//! module per construct kind) and `promtool/records.rs` each recording rule's test.

use std::collections::BTreeMap;

use pip_conventions::label;
use serde::Serialize;

use super::plan::{AlertPlan, Plan, RulePlan, TEST_INTERVAL};
use super::promql::number;
use super::{EmitError, PROMETHEUS, yaml_header};
use crate::ir::Spec;

mod records;
mod scenarios;

use records::record_group;
pub use records::regex_example;
pub use scenarios::largest_ratio_sample_for;
use scenarios::{Scenario, alert_scenarios, fires, vanish};

/// Seconds between samples and between evaluations.
const STEP: u64 = TEST_INTERVAL.millis / 1000;
/// When a step scenario's bad event happens (a full 5m window after the start).
const T_EVENT: u64 = 300;
/// Seconds between the counter samples of rate scenarios (see the rate-limit scenarios).
const RATIO_INTERVAL: u64 = 60;
/// Seconds after the start at which a silence scenario's silence reaches its threshold,
/// whatever the threshold (the last append is placed `threshold - LEAD` before time 0).
const LEAD: u64 = 120;

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

#[derive(Serialize, Clone)]
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

/// `n` samples (one per [`STEP`]) starting at `start`, growing by `inc` each.
fn run(start: f64, inc: f64, n: u64) -> String {
    if inc == 0.0 {
        format!("{}x{}", number(start), n.saturating_sub(1))
    } else {
        format!("{}+{}x{}", number(start), number(inc), n.saturating_sub(1))
    }
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
    let extra: Vec<String> = [label::LEVEL, label::SUBSYSTEM, label::WITNESS, label::BURN_TIER]
        .iter()
        .filter_map(|k| alert.labels.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    if extra.is_empty() {
        format!("{} {}", alert.alert, alert.construct)
    } else {
        format!("{} {} ({})", alert.alert, alert.construct, extra.join(", "))
    }
}

/// The path of a spec's test file of SLO burn-rate tiers evaluated every `interval`.
pub fn slo_tests_path(spec: &Spec, interval: crate::units::Duration) -> String {
    format!("prometheus/{}.slo_{}.test.yml", spec.name, super::promql::duration(interval))
}

/// The paths of a spec's SLO test files (what [`slo_tests`] writes), sorted: one per
/// evaluation interval of its SLOs' tiers.
pub fn slo_tests_paths(spec: &Spec) -> Vec<String> {
    let intervals: std::collections::BTreeSet<u64> =
        spec.slos.iter().flat_map(|s| s.tiers.iter()).map(|t| scenarios::slo::tier_interval(t.long.millis, t.short.millis)).collect();
    intervals.into_iter().map(|i| slo_tests_path(spec, crate::units::Duration::from_millis(i))).collect()
}

/// The promtool tests of a plan's SLO burn-rate tiers and SLO recording rules: one file per
/// evaluation interval (see `scenarios/slo.rs`), as `(path, contents)`, sorted by interval.
pub fn slo_tests(spec: &Spec, plan: &Plan) -> Result<Vec<(String, String)>, EmitError> {
    let unrepresentable = |message: String| EmitError::Unrepresentable { emitter: PROMETHEUS, path: tests_path(spec), message };
    let burns: Vec<&AlertPlan> = plan
        .groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| if let RulePlan::Alert(a) = r { a.burn().map(|_| a) } else { None })
        .collect();
    let mut files: BTreeMap<u64, Vec<TestGroup>> = BTreeMap::new();
    let mut done: Vec<&str> = Vec::new();
    for a in &burns {
        let siblings: Vec<&AlertPlan> = burns.iter().copied().filter(|b| b.construct == a.construct).collect();
        let (interval, groups) = scenarios::slo::tier_groups(&siblings, a).map_err(unrepresentable)?;
        files.entry(interval).or_default().extend(groups);
        // The recording rules once per SLO, with its fastest tier.
        if !done.contains(&a.construct.as_str())
            && let Some((sig, _)) = a.burn()
        {
            done.push(&a.construct);
            let fastest = siblings
                .iter()
                .filter_map(|b| b.burn())
                .map(|(_, t)| scenarios::slo::tier_interval(t.long.millis, t.short.millis))
                .min()
                .unwrap_or(interval);
            files.entry(fastest).or_default().extend(scenarios::slo::record_groups(sig, fastest).map_err(unrepresentable)?);
        }
    }
    let mut out = Vec::new();
    for (interval, tests) in files {
        let every = crate::units::Duration::from_millis(interval);
        let path = slo_tests_path(spec, every);
        let file =
            TestFile { rule_files: vec![format!("{}.rules.yml", spec.name)], evaluation_interval: super::promql::duration(every), tests };
        let body = serde_norway::to_string(&file).map_err(|e| EmitError::Serialize {
            emitter: PROMETHEUS,
            path: path.clone(),
            message: e.to_string(),
        })?;
        let header = yaml_header(
            spec,
            &format!(
                "promtool unit tests of the SLO burn-rate tiers of spec {} evaluated every {}: `promtool test rules {}`",
                spec.name,
                super::promql::duration(every),
                path.trim_start_matches("prometheus/")
            ),
        );
        out.push((path, format!("{header}{body}")));
    }
    Ok(out)
}

/// Serializes the promtool tests of a plan.
pub fn tests_yaml(spec: &Spec, plan: &Plan) -> Result<String, EmitError> {
    let mut tests = Vec::new();
    let sibs = Siblings::new(plan);
    for r in plan.groups.iter().flat_map(|g| g.rules.iter()) {
        match r {
            RulePlan::Record(r) => tests.extend(record_group(r)),
            // In the SLO test files (`slo_tests`).
            RulePlan::Alert(a) if a.burn().is_some() => {}
            RulePlan::Alert(a) => {
                let scenarios = alert_scenarios(&sibs, a).map_err(|message| EmitError::Unrepresentable {
                    emitter: PROMETHEUS,
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
        emitter: PROMETHEUS,
        path: tests_path(spec),
        message: e.to_string(),
    })?;
    Ok(format!(
        "{}{body}",
        yaml_header(
            spec,
            &format!(
                "promtool unit tests of the rules of spec {}: `promtool test rules {}`",
                spec.name,
                tests_path(spec).trim_start_matches("prometheus/")
            )
        )
    ))
}
