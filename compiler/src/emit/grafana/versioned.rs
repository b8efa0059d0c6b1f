//! The panel of a `versioned` store: its version, rollbacks and rollback mismatches.

use pip_conventions::{label, metric, record};

use super::panel::{PanelSpec, steps, where_};
use crate::emit::promql::selector as sel;
use crate::ir::{Spec, Versioned};

/// The title of the default dashboard's row of versioned stores.
pub(super) const ROW: &str = "Versioned state";

/// One half-width time series of the store's version, rollbacks and rollback mismatches
/// (the last two over 5 minutes).
pub(super) fn panels(spec: &Spec, v: &Versioned) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let base = [(label::SPEC, s), (label::STORE, v.name.as_str())];
    vec![PanelSpec {
        kind: "timeseries",
        title: format!("{}: version, rollbacks and mismatches", v.name),
        description: format!(
            "{}\n\nHistory of {} versions; a rollback mismatch is severity {}.",
            where_(spec, &v.source, v.doc.as_ref()),
            v.history,
            v.severity
        ),
        targets: vec![
            (format!("max({})", sel(metric::VERSIONED_VERSION.exposed, &base)), "version".into()),
            (format!("sum(increase({}[5m]))", sel(metric::VERSIONED_ROLLBACKS.exposed, &base)), "rollbacks (5m)".into()),
            (format!("sum({})", sel(record::ROLLBACK_MISMATCHES, &base)), "mismatches (5m)".into()),
        ],
        unit: "none".into(),
        thresholds: steps("green", &[]),
        loki: false,
        width: 12,
        overrides: Vec::new(),
        mappings: Vec::new(),
        links: Vec::new(),
    }]
}
