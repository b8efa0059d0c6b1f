//! `grafana`: one dashboard JSON per `dashboard` block (or one per spec without one),
//! `generated/grafana/<dashboard>.json`, importable in the UI and provisionable from files
//! unedited.
//!
//! Every panel and target reads the `datasource` template variable (log panels the `loki`
//! one). The variables' current values are the import inputs `${DS_PROMETHEUS}` and
//! `${DS_LOKI}`: the import dialog replaces them with the datasources the user picks, and a
//! provisioned dashboard, where nothing replaces them, falls back to the default datasource of
//! each type.
//!
//! Each construct kind makes its own panels (`grafana/<kind>.rs`), each linked to its
//! construct's runbook; this module lays them out in rows below a row of the spec's alerts
//! (`grafana/alerts.rs`, also an annotation of firing alerts) and writes the dashboard around
//! them (`grafana/panel.rs` writes each panel).

use pip_conventions::{dashboard_uid, grafana as g};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Artifact, EmitError, Emitter};
use crate::ir::{self, ConstructKind, ConstructRef, Spec};

mod alerts;
mod invariant;
mod ledger;
mod panel;
mod rate_limit;
mod slo;
mod threshold;
mod versioned;

use panel::{GRID_WIDTH, PANEL_HEIGHT, PanelSpec, panel_json, panel_name, runbook_link};

/// The emitter: the dashboards of each spec, in `grafana/`.
pub const EMITTER: Emitter = Emitter { name: "grafana", dir: "grafana", emit };

/// The dashboards of a spec: its `dashboard` blocks, or a default one named after the spec.
pub fn dashboards(spec: &Spec) -> Vec<ir::Dashboard> {
    if !spec.dashboards.is_empty() {
        return spec
            .dashboards
            .iter()
            .map(|d| if d.rows.is_empty() { ir::Dashboard { rows: default_rows(spec), ..d.clone() } } else { d.clone() })
            .collect();
    }
    vec![ir::Dashboard {
        name: spec.name.clone(),
        source: spec.source.clone(),
        title: format!("{} — invariants and evidence", spec.name),
        rows: default_rows(spec),
    }]
}

/// One row per construct kind that has panels and constructs, in the registry's order; one
/// row per SLO (its three panels fill the row).
fn default_rows(spec: &Spec) -> Vec<ir::Row> {
    let mut rows = Vec::new();
    let member = |kind, name: &str| ConstructRef { kind, name: name.to_string() };
    for kind in ConstructKind::ALL {
        let title = match kind {
            ConstructKind::Ledger => ledger::ROW,
            ConstructKind::Invariant => invariant::ROW,
            ConstructKind::RateLimit => rate_limit::ROW,
            ConstructKind::Threshold => threshold::ROW,
            ConstructKind::Versioned => versioned::ROW,
            ConstructKind::Slo => {
                rows.extend(spec.slos.iter().map(|s| ir::Row {
                    title: slo::row_title(&s.name),
                    members: vec![member(kind, &s.name)],
                    source: spec.source.clone(),
                }));
                continue;
            }
            // No panels to show.
            ConstructKind::Bundle | ConstructKind::Dashboard => continue,
        };
        let members: Vec<ConstructRef> = spec.names(kind).into_iter().map(|n| member(kind, n)).collect();
        if !members.is_empty() {
            rows.push(ir::Row { title: title.to_string(), members, source: spec.source.clone() });
        }
    }
    rows
}

/// The path of a dashboard's file, relative to the output directory.
pub fn path(d: &ir::Dashboard) -> String {
    format!("grafana/{}.json", d.name)
}

/// The panels of one construct, each linked to the construct's runbook (none for a name the
/// spec does not define: the checker refuses such rows).
fn panels_for(spec: &Spec, r: &ConstructRef) -> Vec<PanelSpec> {
    let n = r.name.as_str();
    let found = match r.kind {
        ConstructKind::Ledger => spec.ledgers.iter().find(|c| c.name == n).map(|c| (ledger::panels(spec, c), &c.runbook)),
        ConstructKind::Invariant => spec.invariants.iter().find(|c| c.name == n).map(|c| (invariant::panels(spec, c), &c.runbook)),
        ConstructKind::RateLimit => spec.rate_limits.iter().find(|c| c.name == n).map(|c| (rate_limit::panels(spec, c), &c.runbook)),
        ConstructKind::Threshold => spec.thresholds.iter().find(|c| c.name == n).map(|c| (threshold::panels(spec, c), &c.runbook)),
        ConstructKind::Versioned => spec.versioned.iter().find(|c| c.name == n).map(|c| (versioned::panels(spec, c), &c.runbook)),
        ConstructKind::Slo => spec.slos.iter().find(|c| c.name == n).map(|c| (slo::panels(spec, c), &c.runbook)),
        // A bundle is cut after the fact and a dashboard is the page itself: nothing to plot.
        ConstructKind::Bundle | ConstructKind::Dashboard => None,
    };
    let Some((mut panels, runbook)) = found else { return Vec::new() };
    for p in &mut panels {
        p.links.push(runbook_link(&format!("{} {n}", r.kind.keyword()), runbook));
    }
    panels
}

#[derive(Serialize)]
struct Input {
    name: &'static str,
    label: &'static str,
    description: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "pluginId")]
    plugin_id: &'static str,
    #[serde(rename = "pluginName")]
    plugin_name: &'static str,
}

/// One dashboard as Grafana's import JSON: a row per [`ir::Row`], panels laid on the grid, and
/// the `__inputs` that ask the importer for its Prometheus and Loki data sources.
pub fn dashboard_json(spec: &Spec, d: &ir::Dashboard) -> Value {
    let mut panels = Vec::new();
    let mut id = 0u32;
    let mut y = 0u32;
    let mut kinds: Vec<&str> = Vec::new();
    // The spec's alerts first, then the dashboard's rows.
    let alert_row = vec![alerts::panel(spec)];
    let rows = std::iter::once((alerts::ROW, alert_row))
        .chain(d.rows.iter().map(|row| (row.title.as_str(), row.members.iter().flat_map(|m| panels_for(spec, m)).collect())));
    for (title, row_panels) in rows {
        id += 1;
        panels.push(json!({
            "type": "row",
            "id": id,
            "title": title,
            "collapsed": false,
            "panels": [],
            "gridPos": { "h": 1, "w": GRID_WIDTH, "x": 0, "y": y },
        }));
        y += 1;
        let mut x = 0u32;
        for p in row_panels {
            if x + p.width > GRID_WIDTH {
                x = 0;
                y += PANEL_HEIGHT;
            }
            id += 1;
            if !kinds.contains(&p.kind) {
                kinds.push(p.kind);
            }
            panels.push(panel_json(id, &p, x, y));
            x += p.width;
        }
        if x > 0 {
            y += PANEL_HEIGHT;
        }
    }
    kinds.sort_unstable();
    let mut requires = vec![
        json!({ "type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.0.0" }),
        json!({ "type": "datasource", "id": "loki", "name": "Loki", "version": "1.0.0" }),
        json!({ "type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0" }),
    ];
    requires.extend(kinds.iter().map(|k| json!({ "type": "panel", "id": k, "name": panel_name(k), "version": "" })));
    let inputs = [
        Input {
            name: g::LOKI_INPUT,
            label: "Loki",
            description: "Loki holding the ledger events",
            kind: "datasource",
            plugin_id: "loki",
            plugin_name: "Loki",
        },
        Input {
            name: g::PROMETHEUS_INPUT,
            label: "Prometheus",
            description: "Prometheus scraping the service and evaluating the pip rules",
            kind: "datasource",
            plugin_id: "prometheus",
            plugin_name: "Prometheus",
        },
    ];
    let files: Vec<&str> = spec.provenance.files.iter().map(|f| f.file.as_str()).collect();
    json!({
        "__inputs": inputs,
        "__requires": requires,
        "annotations": { "list": [{
            "builtIn": 1,
            "datasource": { "type": "grafana", "uid": "-- Grafana --" },
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }, alerts::annotation(spec)] },
        "description": format!(
            "Generated by pipc {} from {} (spec {} {}, sha256 {}; dashboard at {}:{}) — do not edit: change the spec and run `pipc build`.",
            crate::VERSION,
            files.join(", "),
            spec.name,
            spec.version,
            spec.provenance.sha256,
            d.source.file,
            d.source.line
        ),
        "editable": true,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": [panel::runbook_link(&format!("spec {}", spec.name), &spec.runbook).json()],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": g::SCHEMA_VERSION,
        "tags": ["pip", spec.name],
        "templating": { "list": [
            variable(g::PROMETHEUS_VARIABLE, "Prometheus", "prometheus", g::PROMETHEUS_INPUT),
            variable(g::LOKI_VARIABLE, "Loki", "loki", g::LOKI_INPUT),
        ] },
        "time": { "from": "now-6h", "to": "now" },
        "timepicker": {},
        "timezone": "utc",
        "title": d.title,
        "uid": dashboard_uid(&d.name),
        "version": 1,
        "weekStart": "",
    })
}

fn variable(name: &str, label: &str, plugin: &str, input: &str) -> Value {
    json!({
        "current": { "text": format!("${{{input}}}"), "value": format!("${{{input}}}") },
        "hide": 0,
        "includeAll": false,
        "label": label,
        "multi": false,
        "name": name,
        "options": [],
        "query": plugin,
        "refresh": 1,
        "regex": "",
        "skipUrlSync": false,
        "type": "datasource",
    })
}

/// Emits `grafana/<dashboard>.json` for each dashboard of the spec.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    dashboards(spec).iter().map(|d| super::json_artifact(EMITTER.name, path(d), &dashboard_json(spec, d))).collect()
}
