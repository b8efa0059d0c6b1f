//! The panel of a `threshold`: its recorded value, with its warn and critical levels as
//! threshold steps.

use pip_conventions::{label, record};
use serde_json::Value;

use super::panel::{PanelSpec, steps, where_};
use crate::emit::promql::{number, selector as sel};
use crate::ir::{self, Comparator, Spec, Threshold};

/// The title of the default dashboard's row of thresholds.
pub(super) const ROW: &str = "Thresholds";

/// One half-width time series of the threshold's recording rule, in the threshold's `unit`,
/// coloured at its `warn` and `critical` values.
pub(super) fn panels(spec: &Spec, t: &Threshold) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let record = t.record.clone().unwrap_or_else(|| record::threshold(s, &t.name));
    let conditions: Vec<String> =
        t.conditions.iter().map(|c| format!("{} when {} {} for {}", c.level.as_str(), c.op.as_str(), number(c.value), c.for_)).collect();
    vec![PanelSpec {
        kind: "timeseries",
        title: t.name.clone(),
        description: format!("{}\n\n{}\n\n`{}`", where_(spec, &t.source, t.doc.as_ref()), conditions.join("; "), t.expr.trim()),
        targets: vec![(sel(&record, &[(label::SPEC, s), (label::CONSTRUCT, &t.name)]), "{{construct}}".into())],
        unit: t.unit.clone(),
        thresholds: threshold_steps(&t.conditions),
        loki: false,
        width: 12,
        overrides: Vec::new(),
        mappings: Vec::new(),
        links: Vec::new(),
    }]
}

/// Threshold steps from warn/critical conditions: ascending values, coloured by which side is
/// bad.
fn threshold_steps(conditions: &[ir::ThresholdCondition]) -> Value {
    let color = |c: &ir::ThresholdCondition| if c.level == ir::Level::Critical { "red" } else { "orange" };
    let mut cs: Vec<&ir::ThresholdCondition> = conditions.iter().collect();
    cs.sort_by(|a, b| a.value.total_cmp(&b.value));
    let upper = cs.first().is_none_or(|c| matches!(c.op, Comparator::Gt | Comparator::Ge));
    if upper {
        let s: Vec<(&str, f64)> = cs.iter().map(|c| (color(c), c.value)).collect();
        steps("green", &s)
    } else {
        // Lower bounds: red below the lowest, the next colour from there, green above the highest.
        let base = cs.first().map_or("green", |c| color(c));
        let mut s: Vec<(&str, f64)> = Vec::new();
        for (i, c) in cs.iter().enumerate() {
            let next = cs.get(i + 1).map_or("green", |n| color(n));
            s.push((next, c.value));
        }
        steps(base, &s)
    }
}
