//! The `promql_expr_test` of each recording rule: synthetic inputs for what it reads (a
//! counter step, a rejected ratio, a silence, or a threshold's own selectors) and the value
//! it must record.

use std::collections::BTreeMap;

use super::{ExpSample, ExprTest, InputSeries, RATIO_INTERVAL, STEP, T_EVENT, TestGroup, run, secs};
use crate::emit::plan::{RecordPlan, Signal};
use crate::emit::promql::series;

/// The test group of a recording rule, if its input can be synthesized.
pub(super) fn record_group(r: &RecordPlan) -> Option<TestGroup> {
    let t = T_EVENT;
    let n = (t + 120) / STEP + 1;
    let (inputs, expr, samples) = match &r.signal {
        Signal::CounterStep { metric, labels } => {
            let before = t / STEP;
            let input =
                InputSeries { series: series(metric, labels), values: format!("{} {}", run(0.0, 0.0, before), run(1.0, 0.0, n - before)) };
            let out = project(labels, &r.expr);
            (vec![input], r.record.clone(), vec![ExpSample { labels: series(&r.record, &out), value: 1.0 }])
        }
        Signal::RejectedRatio { metric, labels } => {
            let (total, rejected) = (400u64, 20u64);
            let n = (t + 120) / RATIO_INTERVAL + 1;
            let mut allowed = labels.clone();
            allowed.insert("outcome".into(), pip_conventions::outcome::ALLOWED.into());
            let mut refused = labels.clone();
            refused.insert("outcome".into(), pip_conventions::outcome::REJECTED.into());
            let inputs = vec![
                InputSeries { series: series(metric, &allowed), values: run(0.0, ((total - rejected) * RATIO_INTERVAL) as f64, n) },
                InputSeries { series: series(metric, &refused), values: run(0.0, (rejected * RATIO_INTERVAL) as f64, n) },
            ];
            let ratio = ExpSample { labels: series(&r.record, labels), value: rejected as f64 / total as f64 };
            return Some(TestGroup {
                name: format!("recording rule {} of {}", r.record, r.construct),
                interval: secs(RATIO_INTERVAL),
                input_series: inputs,
                alert_rule_test: Vec::new(),
                promql_expr_test: vec![ExprTest { expr: r.record.clone(), eval_time: secs(t), exp_samples: vec![ratio] }],
            });
        }
        Signal::Silence { metric, labels } => {
            let input = InputSeries { series: series(metric, labels), values: run(0.0, 0.0, n) };
            (vec![input], r.record.clone(), vec![ExpSample { labels: series(&r.record, labels), value: t as f64 }])
        }
        Signal::Expression { selectors } => {
            let inputs = synthetic_inputs(selectors);
            if inputs.is_empty() {
                return None;
            }
            let sel = series(&r.record, &r.labels);
            (inputs, format!("count({sel}) > bool 0"), vec![ExpSample { labels: "{}".into(), value: 1.0 }])
        }
        // An SLO's recording rules are tested in its own files (`scenarios/slo.rs`).
        Signal::Gauge { .. } | Signal::Decrease { .. } | Signal::CounterSteps { .. } | Signal::Slo(_) => return None,
    };
    Some(TestGroup {
        name: format!("recording rule {} of {}", r.record, r.construct),
        interval: secs(STEP),
        input_series: inputs,
        alert_rule_test: Vec::new(),
        promql_expr_test: vec![ExprTest { expr, eval_time: secs(t), exp_samples: samples }],
    })
}

/// The labels of an input series that survive the recording rule's `sum by (...)`.
fn project(labels: &BTreeMap<String, String>, expr: &str) -> BTreeMap<String, String> {
    let by = expr.split_once("by (").and_then(|(_, rest)| rest.split_once(')')).map(|(inner, _)| inner).unwrap_or("");
    let keep: Vec<&str> = by.split(',').map(str::trim).collect();
    labels.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// One growing series per selector of a threshold expression, labelled so that the selector
/// matches it (an example string for regular expressions, `le="+Inf"` for histogram buckets).
fn synthetic_inputs(selectors: &[crate::ir::Selector]) -> Vec<InputSeries> {
    let mut out: Vec<InputSeries> = Vec::new();
    for sel in selectors {
        let Some(metric) = &sel.metric else { continue };
        let mut labels = BTreeMap::new();
        for m in &sel.matchers {
            let value = match m.op.as_str() {
                "=" => m.value.clone(),
                "=~" => match regex_example(&m.value) {
                    Some(v) => v,
                    None => continue,
                },
                _ => format!("pip_synthetic_{}", m.name),
            };
            labels.insert(m.name.clone(), value);
        }
        if metric.ends_with("_bucket") && !labels.contains_key("le") {
            labels.insert("le".into(), "+Inf".into());
        }
        let s = series(metric, &labels);
        if !out.iter().any(|i| i.series == s) {
            out.push(InputSeries { series: s, values: run(1.0, 1.0, (T_EVENT + 120) / STEP + 1) });
        }
    }
    out
}

/// A string the (fully anchored) regular expression matches, preferring plain characters.
pub fn regex_example(re: &str) -> Option<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn walk(h: &Hir, out: &mut String) -> Option<()> {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(std::str::from_utf8(&l.0).ok()?),
            HirKind::Class(Class::Unicode(c)) => {
                let nice = ['0', 'a', 'A', '_', '-', 'x', '1']
                    .into_iter()
                    .find(|ch| c.ranges().iter().any(|r| r.start() <= *ch && *ch <= r.end()));
                out.push(nice.or_else(|| c.ranges().first().map(|r| r.start()))?);
            }
            HirKind::Class(Class::Bytes(c)) => out.push(char::from(c.ranges().first()?.start())),
            HirKind::Repetition(r) => {
                for _ in 0..r.min {
                    walk(&r.sub, out)?;
                }
            }
            HirKind::Capture(c) => walk(&c.sub, out)?,
            HirKind::Concat(parts) => {
                for p in parts {
                    walk(p, out)?;
                }
            }
            HirKind::Alternation(alts) => walk(alts.first()?, out)?,
        }
        Some(())
    }
    let hir = regex_syntax::Parser::new().parse(re).ok()?;
    let mut s = String::new();
    walk(&hir, &mut s)?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_examples_match_what_they_were_made_from() {
        assert_eq!(regex_example("5..").as_deref(), Some("500"));
        assert_eq!(regex_example("GET|POST").as_deref(), Some("GET"));
        assert_eq!(regex_example("api/v[0-9]+").as_deref(), Some("api/v0"));
        assert_eq!(regex_example(".*").as_deref(), Some(""));
    }
}
