//! The alerts of a spec on every dashboard: a state timeline of its firing and pending alerts
//! and an annotation query that marks each firing alert on every time axis.
//!
//! Both read Prometheus' own `ALERTS` series (one per active alert, with the alert's labels
//! and `alertstate`), so they show exactly what the generated rules decided, also on a
//! dashboard that shows only some of the spec's constructs.

use pip_conventions::label;
use serde_json::{Value, json};

use super::panel::{GRID_WIDTH, PanelSpec, runbook_link, steps, where_};
use crate::emit::promql::selector as sel;
use crate::ir::Spec;

/// Prometheus' series of active alerts.
const ALERTS: &str = "ALERTS";
/// Its label holding `firing` or `pending`.
const ALERTSTATE: &str = "alertstate";
/// Its label holding the alert's name.
const ALERTNAME: &str = "alertname";

/// The title of the row holding the alert timeline.
pub(super) const ROW: &str = "Alerts";

/// The labels an alert's line in the timeline is kept apart by.
fn by() -> String {
    [ALERTNAME, label::CONSTRUCT, label::SEVERITY].join(", ")
}

/// A full-width state timeline: one line per alert name, construct and severity, `firing`
/// (red) or `pending` (orange) while the alert is, empty while it is inactive.
pub(super) fn panel(spec: &Spec) -> PanelSpec {
    let s = spec.name.as_str();
    let firing = sel(ALERTS, &[(label::SPEC, s), (ALERTSTATE, "firing")]);
    let pending = sel(ALERTS, &[(label::SPEC, s), (ALERTSTATE, "pending")]);
    // 2 for firing, 1 for pending: `or` keeps both (they differ in `alertstate`), `max` shows
    // the worst state of the alert's series (e.g. of several subsystems).
    let expr = format!("max by ({}) (2 * {firing} or {pending})", by());
    PanelSpec {
        kind: "state-timeline",
        title: format!("{s}: alerts firing and pending"),
        description: where_(
            spec,
            &spec.source,
            Some(&format!(
                "The alerts of the rules generated from spec {s}, from Prometheus' `ALERTS` series: one line per alert name, construct \
                 and severity, red while firing, orange while pending (its `for` not yet over). The annotation \"{ANNOTATION}\" marks \
                 firing alerts on every time axis."
            )),
        ),
        targets: vec![(expr, format!("{{{{{}}}}}: {{{{{ALERTNAME}}}}} ({{{{{}}}}})", label::CONSTRUCT, label::SEVERITY))],
        unit: "none".into(),
        thresholds: steps("green", &[("orange", 1.0), ("red", 2.0)]),
        loki: false,
        width: GRID_WIDTH,
        overrides: Vec::new(),
        mappings: vec![json!({
            "type": "value",
            "options": {
                "1": { "color": "orange", "index": 0, "text": "pending" },
                "2": { "color": "red", "index": 1, "text": "firing" },
            },
        })],
        links: vec![runbook_link(&format!("spec {s}"), &spec.runbook)],
    }
}

/// The name of the annotation query of firing alerts.
const ANNOTATION: &str = "Firing alerts";

/// An annotation query marking each firing alert of the spec on every time axis, titled by
/// the alert's name, tagged with its construct and severity.
///
/// Written with `expr` and `step` beside the common fields, the form Grafana's Prometheus
/// data source reads (it moves them into its query on load, from Grafana 7 to 12).
pub(super) fn annotation(spec: &Spec) -> Value {
    let s = spec.name.as_str();
    json!({
        "datasource": { "type": "prometheus", "uid": format!("${{{}}}", pip_conventions::grafana::PROMETHEUS_VARIABLE) },
        "enable": true,
        "expr": sel(ALERTS, &[(label::SPEC, s), (ALERTSTATE, "firing")]),
        "hide": false,
        "iconColor": "red",
        "name": ANNOTATION,
        "step": "60s",
        "tagKeys": format!("{},{}", label::CONSTRUCT, label::SEVERITY),
        "textFormat": format!("{{{{{}}}}} ({{{{{}}}}}) — spec {s}", label::CONSTRUCT, label::SEVERITY),
        "titleFormat": format!("{{{{{ALERTNAME}}}}}"),
        "useValueForTime": false,
    })
}
