//! `prometheus`: recording and alerting rules, `generated/prometheus/<spec>.rules.yml`, and
//! their promtool unit tests, `generated/prometheus/<spec>.test.yml` (and
//! `<spec>.slo_<interval>.test.yml` for SLO burn-rate tiers).
//!
//! Both files are made from the spec's one [`plan`](super::plan): the rules file is the plan
//! serialized; the tests ([`super::promtool`]) drive each rule of the same plan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{Plan, RulePlan, plan};
use super::{Artifact, EmitError, Emitter, PROMETHEUS, promtool, yaml_header};
use crate::ir::Spec;

/// The emitter: the rules of each spec and their promtool tests, in `prometheus/`.
pub const EMITTER: Emitter = Emitter { name: PROMETHEUS, dir: "prometheus", emit };

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// The path of a spec's rules file, relative to the output directory.
pub fn rules_path(spec: &Spec) -> String {
    format!("prometheus/{}.rules.yml", spec.name)
}

/// Serializes a plan as a Prometheus rules file.
pub fn rules_yaml(spec: &Spec, plan: &Plan) -> Result<String, EmitError> {
    let file = RuleFile {
        groups: plan
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                rules: g
                    .rules
                    .iter()
                    .map(|r| match r {
                        RulePlan::Record(r) => Rule {
                            record: Some(r.record.clone()),
                            alert: None,
                            expr: r.expr.clone(),
                            for_: None,
                            labels: r.labels.clone(),
                            annotations: BTreeMap::new(),
                        },
                        RulePlan::Alert(a) => Rule {
                            record: None,
                            alert: Some(a.alert.clone()),
                            expr: a.expr(),
                            for_: Some(a.for_.to_string()),
                            labels: a.labels.clone(),
                            annotations: a.annotations.clone(),
                        },
                    })
                    .collect(),
            })
            .collect(),
    };
    let body = serde_norway::to_string(&file).map_err(|e| EmitError::Serialize {
        emitter: EMITTER.name,
        path: rules_path(spec),
        message: e.to_string(),
    })?;
    Ok(format!("{}{body}", yaml_header(spec, &format!("Prometheus rules of spec {}", spec.name))))
}

/// Emits `prometheus/<spec>.rules.yml`, `prometheus/<spec>.test.yml`, and for a spec with SLOs
/// their tests by evaluation interval, `prometheus/<spec>.slo_<interval>.test.yml`.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    let plan = plan(spec);
    let rules = rules_yaml(spec, &plan)?;
    let tests = promtool::tests_yaml(spec, &plan)?;
    let mut out = vec![
        Artifact { path: rules_path(spec), contents: rules.into_bytes() },
        Artifact { path: promtool::tests_path(spec), contents: tests.into_bytes() },
    ];
    for (path, contents) in promtool::slo_tests(spec, &plan)? {
        out.push(Artifact { path, contents: contents.into_bytes() });
    }
    Ok(out)
}
