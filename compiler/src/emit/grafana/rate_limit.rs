//! The panels of a `rate_limit`: allowed and rejected requests per second, and the rejected
//! ratio against the alert's threshold.

use pip_conventions::{label, metric, record};

use super::panel::{PanelSpec, steps, where_};
use crate::emit::promql::selector as sel;
use crate::ir::{RateLimit, Spec};

/// The title of the default dashboard's row of rate limits.
pub(super) const ROW: &str = "Rate limits";

/// Two half-width time series: decisions per second by `outcome`, and the recorded rejected
/// ratio, red from the `alert when rejected_ratio` threshold when the limit has one.
pub(super) fn panels(spec: &Spec, l: &RateLimit) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let base = [(label::SPEC, s), (label::LIMIT, l.name.as_str())];
    let desc = format!("{}\n\nLimit {} per {} per {}.", where_(spec, &l.source, l.doc.as_ref()), l.limit, l.window, l.key);
    let ratio_steps = match &l.alert {
        Some(a) => steps("green", &[("red", a.ratio)]),
        None => steps("green", &[]),
    };
    vec![
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: allowed and rejected per second", l.name),
            description: desc.clone(),
            targets: vec![(
                format!("sum by ({}) (rate({}[5m]))", label::OUTCOME, sel(metric::RATE_LIMIT_DECISIONS.exposed, &base)),
                "{{outcome}}".into(),
            )],
            unit: "reqps".into(),
            thresholds: steps("green", &[]),
            loki: false,
            width: 12,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: rejected ratio", l.name),
            description: desc,
            targets: vec![(sel(record::RATE_LIMIT_REJECTED_RATIO, &base), "rejected".into())],
            unit: "percentunit".into(),
            thresholds: ratio_steps,
            loki: false,
            width: 12,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
    ]
}
