//! A dashboard panel: what each construct kind says about it ([`PanelSpec`]) and its JSON
//! once placed on the grid.

use pip_conventions::grafana as g;
use serde_json::{Value, json};

use crate::ir::Spec;

/// Grafana's grid is 24 columns wide.
pub(super) const GRID_WIDTH: u32 = 24;
/// Height of a panel in grid units.
pub(super) const PANEL_HEIGHT: u32 = 8;

/// A panel before it is placed on the grid.
pub(super) struct PanelSpec {
    /// Grafana's panel type: `timeseries`, `stat`, `logs` or `state-timeline`.
    pub(super) kind: &'static str,
    pub(super) title: String,
    pub(super) description: String,
    /// `(expr, legend)` per query, `refId` `A`, `B`, … in order; a Loki panel ignores the legend.
    pub(super) targets: Vec<(String, String)>,
    pub(super) unit: String,
    pub(super) thresholds: Value,
    /// Whether it reads Loki (otherwise Prometheus).
    pub(super) loki: bool,
    /// Width in grid columns, at most [`GRID_WIDTH`]; a panel that does not fit on the row
    /// starts the next one.
    pub(super) width: u32,
    /// Field overrides (`fieldConfig.overrides`), e.g. thresholds of one series.
    pub(super) overrides: Vec<Value>,
    /// Value mappings (`fieldConfig.defaults.mappings`), e.g. a state's name for a number.
    pub(super) mappings: Vec<Value>,
    /// Panel links (to the runbook of what the panel shows).
    pub(super) links: Vec<Link>,
}

/// A panel link: the icon in the panel's header opens `url` in a new tab.
pub(super) struct Link {
    pub(super) title: String,
    pub(super) tooltip: String,
    pub(super) url: String,
}

impl Link {
    /// The link as Grafana's JSON has it, for a panel or a dashboard.
    pub(super) fn json(&self) -> Value {
        json!({
            "asDropdown": false,
            "icon": "doc",
            "includeVars": false,
            "keepTime": false,
            "tags": [],
            "targetBlank": true,
            "title": self.title,
            "tooltip": self.tooltip,
            "type": "link",
            "url": self.url,
        })
    }
}

/// The link of a panel to the runbook section of the construct (or spec) it shows.
pub(super) fn runbook_link(what: &str, url: &str) -> Link {
    Link { title: "Runbook".into(), tooltip: format!("Runbook of {what}"), url: url.into() }
}

/// A field override giving the series displayed as `name` its own threshold steps.
pub(super) fn thresholds_of_series(name: &str, thresholds: Value) -> Value {
    json!({
        "matcher": { "id": "byName", "options": name },
        "properties": [{ "id": "thresholds", "value": thresholds }],
    })
}

/// Threshold steps: `base` below the first step, then each colour from its value on.
pub(super) fn steps(base: &str, steps: &[(&str, f64)]) -> Value {
    let mut v = vec![json!({ "color": base, "value": null })];
    v.extend(steps.iter().map(|(c, x)| json!({ "color": c, "value": x })));
    json!({ "mode": "absolute", "steps": v })
}

/// A panel's description: the construct's `doc`, and where the spec defines it.
pub(super) fn where_(spec: &Spec, source: &crate::span::SourceRef, doc: Option<&String>) -> String {
    let mut d = doc.map(|d| format!("{d}\n\n")).unwrap_or_default();
    d.push_str(&format!(
        "Defined in {}:{} (spec {} {}, sha256 {}).",
        source.file, source.line, spec.name, spec.version, spec.provenance.sha256
    ));
    d
}

fn prometheus_ref() -> Value {
    json!({ "type": "prometheus", "uid": format!("${{{}}}", g::PROMETHEUS_VARIABLE) })
}

fn loki_ref() -> Value {
    json!({ "type": "loki", "uid": format!("${{{}}}", g::LOKI_VARIABLE) })
}

/// The name Grafana's `__requires` gives a panel type.
pub(super) fn panel_name(kind: &str) -> &'static str {
    match kind {
        "timeseries" => "Time series",
        "stat" => "Stat",
        "logs" => "Logs",
        "state-timeline" => "State timeline",
        _ => "Panel",
    }
}

/// The panel's JSON, with id `id`, at column `x` and row `y` of the grid.
pub(super) fn panel_json(id: u32, p: &PanelSpec, x: u32, y: u32) -> Value {
    let ds = if p.loki { loki_ref() } else { prometheus_ref() };
    let targets: Vec<Value> = p
        .targets
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            let ref_id = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0)).to_string();
            if p.loki {
                json!({ "datasource": ds, "editorMode": "code", "expr": expr, "queryType": "range", "refId": ref_id })
            } else {
                json!({ "datasource": ds, "editorMode": "code", "expr": expr, "legendFormat": legend, "range": true, "refId": ref_id })
            }
        })
        .collect();
    let options = match p.kind {
        "timeseries" => json!({
            "legend": { "calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "none" },
        }),
        "stat" => json!({
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "percentChangeColorMode": "standard",
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
            "showPercentChange": false,
            "textMode": "auto",
            "wideLayout": true,
        }),
        "state-timeline" => json!({
            "alignValue": "left",
            "legend": { "calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true },
            "mergeValues": true,
            "rowHeight": 0.9,
            "showValue": "auto",
            "tooltip": { "mode": "single", "sort": "none" },
        }),
        _ => json!({
            "dedupStrategy": "none",
            "enableLogDetails": true,
            "prettifyLogMessage": false,
            "showCommonLabels": false,
            "showLabels": false,
            "showLogContextToggle": false,
            "showTime": true,
            "sortOrder": "Descending",
            "wrapLogMessage": true,
        }),
    };
    let custom = match p.kind {
        "timeseries" => json!({ "thresholdsStyle": { "mode": "line" } }),
        "state-timeline" => json!({ "fillOpacity": 80, "lineWidth": 0 }),
        _ => json!({}),
    };
    let defaults = if p.mappings.is_empty() {
        json!({ "custom": custom, "thresholds": p.thresholds, "unit": p.unit })
    } else {
        // The mapped states are coloured by their mappings; the thresholds colour the rest.
        json!({ "color": { "mode": "thresholds" }, "custom": custom, "mappings": p.mappings, "thresholds": p.thresholds, "unit": p.unit })
    };
    let links: Vec<Value> = p.links.iter().map(Link::json).collect();
    json!({
        "type": p.kind,
        "id": id,
        "title": p.title,
        "description": p.description,
        "datasource": ds,
        "gridPos": { "h": PANEL_HEIGHT, "w": p.width, "x": x, "y": y },
        "fieldConfig": { "defaults": defaults, "overrides": p.overrides },
        "links": links,
        "options": options,
        "targets": targets,
    })
}
