//! The panel of an `invariant`: its violations in the last 5 minutes, by check.

use pip_conventions::{label, record};

use super::panel::{PanelSpec, steps, where_};
use crate::emit::promql::selector as sel;
use crate::ir::{Invariant, Spec};

/// The title of the default dashboard's row of invariants.
pub(super) const ROW: &str = "Invariants";

/// One half-width time series of the invariant's recorded violations, by `check`; red from 1.
pub(super) fn panels(spec: &Spec, i: &Invariant) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let checks: Vec<String> =
        i.requires.iter().map(|c| format!("requires {}", c.expr)).chain(i.ensures.iter().map(|c| format!("ensures {}", c.expr))).collect();
    vec![PanelSpec {
        kind: "timeseries",
        title: format!("{}: violations (5m)", i.name),
        description: format!("{}\n\nChecks: {}. Severity {}.", where_(spec, &i.source, i.doc.as_ref()), checks.join("; "), i.severity),
        targets: vec![(
            format!("sum by ({}) ({})", label::CHECK, sel(record::INVARIANT_VIOLATIONS, &[(label::SPEC, s), (label::INVARIANT, &i.name)])),
            "{{check}}".into(),
        )],
        unit: "none".into(),
        thresholds: steps("green", &[("red", 1.0)]),
        loki: false,
        width: 12,
        overrides: Vec::new(),
        mappings: Vec::new(),
        links: Vec::new(),
    }]
}
