//! `grafana`: one dashboard JSON per `dashboard` block (or one per spec without one),
//! `generated/grafana/<dashboard>.json`, importable in the UI and provisionable from files
//! unedited.
//!
//! Every panel and target reads the `datasource` template variable (log panels the `loki`
//! one). The variables' current values are the import inputs `${DS_PROMETHEUS}` and
//! `${DS_LOKI}`: the import dialog replaces them with the datasources the user picks, and a
//! provisioned dashboard, where nothing replaces them, falls back to the default datasource of
//! each type.

use pip_conventions::{dashboard_uid, grafana as g, label, loki, metric, record};
use serde::Serialize;
use serde_json::{Value, json};

use super::prometheus::{escape, number};
use super::{Artifact, EmitError, Emitter};
use crate::ir::{self, Comparator, ConstructKind, ConstructRef, Spec};

/// The emitter.
pub const EMITTER: Emitter = Emitter { name: "grafana", dir: "grafana", emit };

/// Grafana's grid is 24 columns wide.
const GRID_WIDTH: u32 = 24;
/// Height of a panel in grid units.
const PANEL_HEIGHT: u32 = 8;

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

/// One row per kind, in the order evidence, correctness, traffic.
fn default_rows(spec: &Spec) -> Vec<ir::Row> {
    fn refs(kind: ConstructKind, names: Vec<&str>) -> Vec<ConstructRef> {
        names.into_iter().map(|n| ConstructRef { kind, name: n.to_string() }).collect()
    }
    let rows: Vec<(&str, Vec<ConstructRef>)> = vec![
        ("Evidence", refs(ConstructKind::Ledger, spec.ledgers.iter().map(|c| c.name.as_str()).collect())),
        ("Invariants", refs(ConstructKind::Invariant, spec.invariants.iter().map(|c| c.name.as_str()).collect())),
        ("Rate limits", refs(ConstructKind::RateLimit, spec.rate_limits.iter().map(|c| c.name.as_str()).collect())),
        ("Thresholds", refs(ConstructKind::Threshold, spec.thresholds.iter().map(|c| c.name.as_str()).collect())),
        ("Versioned state", refs(ConstructKind::Versioned, spec.versioned.iter().map(|c| c.name.as_str()).collect())),
    ];
    rows.into_iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(title, members)| ir::Row { title: title.to_string(), members, source: spec.source.clone() })
        .collect()
}

/// The path of a dashboard's file, relative to the output directory.
pub fn path(d: &ir::Dashboard) -> String {
    format!("grafana/{}.json", d.name)
}

fn prometheus_ref() -> Value {
    json!({ "type": "prometheus", "uid": format!("${{{}}}", g::PROMETHEUS_VARIABLE) })
}

fn loki_ref() -> Value {
    json!({ "type": "loki", "uid": format!("${{{}}}", g::LOKI_VARIABLE) })
}

/// A panel before it is placed on the grid.
struct PanelSpec {
    kind: &'static str,
    title: String,
    description: String,
    targets: Vec<(String, String)>,
    unit: String,
    thresholds: Value,
    loki: bool,
    /// Grid columns.
    width: u32,
}

fn steps(base: &str, steps: &[(&str, f64)]) -> Value {
    let mut v = vec![json!({ "color": base, "value": null })];
    v.extend(steps.iter().map(|(c, x)| json!({ "color": c, "value": x })));
    json!({ "mode": "absolute", "steps": v })
}

fn sel(name: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn where_(spec: &Spec, source: &crate::span::SourceRef, doc: Option<&String>) -> String {
    let mut d = doc.map(|d| format!("{d}\n\n")).unwrap_or_default();
    d.push_str(&format!(
        "Defined in {}:{} (spec {} {}, sha256 {}).",
        source.file, source.line, spec.name, spec.version, spec.provenance.sha256
    ));
    d
}

fn panels_for(spec: &Spec, r: &ConstructRef) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    match r.kind {
        ConstructKind::Ledger => {
            let Some(l) = spec.ledgers.iter().find(|c| c.name == r.name) else { return Vec::new() };
            let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str())];
            let longest = l.expects.iter().map(|e| e.every.as_secs_f64()).fold(0.0, f64::max);
            let shortest = l.expects.iter().map(|e| e.every.as_secs_f64()).fold(f64::INFINITY, f64::min);
            let silence_steps =
                if l.expects.is_empty() { steps("green", &[]) } else { steps("green", &[("orange", shortest), ("red", longest)]) };
            let desc = where_(spec, &l.source, l.doc.as_ref());
            vec![
                PanelSpec {
                    kind: "timeseries",
                    title: format!("{}: appends per second by subsystem", l.name),
                    description: desc.clone(),
                    targets: vec![(
                        format!("sum by ({}) (rate({}[5m]))", label::SUBSYSTEM, sel(metric::LEDGER_APPENDS.exposed, &base)),
                        "{{subsystem}}".into(),
                    )],
                    unit: "ops".into(),
                    thresholds: steps("green", &[]),
                    loki: false,
                    width: 12,
                },
                PanelSpec {
                    kind: "stat",
                    title: format!("{}: seconds since last evidence", l.name),
                    description: format!(
                        "{desc}\n\nExpected: {}.",
                        l.expects.iter().map(|e| format!("\"{}\" every {}", e.subsystem, e.every)).collect::<Vec<_>>().join(", ")
                    ),
                    targets: vec![(sel(record::LEDGER_SILENCE, &base), "{{subsystem}}".into())],
                    unit: "s".into(),
                    thresholds: silence_steps,
                    loki: false,
                    width: 6,
                },
                PanelSpec {
                    kind: "stat",
                    title: format!("{}: head sequence and anomalies", l.name),
                    description: format!(
                        "{desc}\n\nThe head sequence must never go down; any anomaly found by verification is shown by class."
                    ),
                    targets: vec![
                        (format!("max({})", sel(metric::LEDGER_HEAD_SEQ.exposed, &base)), "head seq".into()),
                        (format!("sum by ({}) ({})", label::CLASS, sel(record::LEDGER_ANOMALIES, &base)), "anomalies {{class}}".into()),
                    ],
                    unit: "none".into(),
                    thresholds: steps("green", &[]),
                    loki: false,
                    width: 6,
                },
                PanelSpec {
                    kind: "logs",
                    title: format!("{}: ledger events", l.name),
                    description: format!(
                        "{desc}\n\nThe events the service ships to Loki as JSON lines (stream {})",
                        loki::selector(s, &l.name)
                    ),
                    targets: vec![(format!("{} | json", loki::selector(s, &l.name)), String::new())],
                    unit: "none".into(),
                    thresholds: steps("green", &[]),
                    loki: true,
                    width: GRID_WIDTH,
                },
            ]
        }
        ConstructKind::Invariant => {
            let Some(i) = spec.invariants.iter().find(|c| c.name == r.name) else { return Vec::new() };
            let checks: Vec<String> = i
                .requires
                .iter()
                .map(|c| format!("requires {}", c.expr))
                .chain(i.ensures.iter().map(|c| format!("ensures {}", c.expr)))
                .collect();
            vec![PanelSpec {
                kind: "timeseries",
                title: format!("{}: violations (5m)", i.name),
                description: format!(
                    "{}\n\nChecks: {}. Severity {}.",
                    where_(spec, &i.source, i.doc.as_ref()),
                    checks.join("; "),
                    i.severity
                ),
                targets: vec![(
                    format!(
                        "sum by ({}) ({})",
                        label::CHECK,
                        sel(record::INVARIANT_VIOLATIONS, &[(label::SPEC, s), (label::INVARIANT, &i.name)])
                    ),
                    "{{check}}".into(),
                )],
                unit: "none".into(),
                thresholds: steps("green", &[("red", 1.0)]),
                loki: false,
                width: 12,
            }]
        }
        ConstructKind::RateLimit => {
            let Some(l) = spec.rate_limits.iter().find(|c| c.name == r.name) else { return Vec::new() };
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
                },
            ]
        }
        ConstructKind::Threshold => {
            let Some(t) = spec.thresholds.iter().find(|c| c.name == r.name) else { return Vec::new() };
            let record = t.record.clone().unwrap_or_else(|| record::threshold(s, &t.name));
            let conditions: Vec<String> = t
                .conditions
                .iter()
                .map(|c| format!("{} when {} {} for {}", c.level.as_str(), c.op.as_str(), number(c.value), c.for_))
                .collect();
            vec![PanelSpec {
                kind: "timeseries",
                title: t.name.clone(),
                description: format!("{}\n\n{}\n\n`{}`", where_(spec, &t.source, t.doc.as_ref()), conditions.join("; "), t.expr.trim()),
                targets: vec![(sel(&record, &[(label::SPEC, s), (label::CONSTRUCT, &t.name)]), "{{construct}}".into())],
                unit: t.unit.clone(),
                thresholds: threshold_steps(&t.conditions),
                loki: false,
                width: 12,
            }]
        }
        ConstructKind::Versioned => {
            let Some(v) = spec.versioned.iter().find(|c| c.name == r.name) else { return Vec::new() };
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
            }]
        }
        ConstructKind::Bundle | ConstructKind::Dashboard => Vec::new(),
    }
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

/// Builds one dashboard's JSON.
pub fn dashboard_json(spec: &Spec, d: &ir::Dashboard) -> Value {
    let mut panels = Vec::new();
    let mut id = 0u32;
    let mut y = 0u32;
    let mut kinds: Vec<&str> = Vec::new();
    for row in &d.rows {
        id += 1;
        panels.push(json!({
            "type": "row",
            "id": id,
            "title": row.title,
            "collapsed": false,
            "panels": [],
            "gridPos": { "h": 1, "w": GRID_WIDTH, "x": 0, "y": y },
        }));
        y += 1;
        let mut x = 0u32;
        for member in &row.members {
            for p in panels_for(spec, member) {
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
        }] },
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
        "links": [{
            "asDropdown": false,
            "icon": "doc",
            "includeVars": false,
            "keepTime": false,
            "tags": [],
            "targetBlank": true,
            "title": "Runbook",
            "tooltip": format!("Runbook of spec {}", spec.name),
            "type": "link",
            "url": spec.runbook,
        }],
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

fn panel_name(kind: &str) -> &'static str {
    match kind {
        "timeseries" => "Time series",
        "stat" => "Stat",
        "logs" => "Logs",
        _ => "Panel",
    }
}

fn panel_json(id: u32, p: &PanelSpec, x: u32, y: u32) -> Value {
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
    let custom = if p.kind == "timeseries" { json!({ "thresholdsStyle": { "mode": "line" } }) } else { json!({}) };
    json!({
        "type": p.kind,
        "id": id,
        "title": p.title,
        "description": p.description,
        "datasource": ds,
        "gridPos": { "h": PANEL_HEIGHT, "w": p.width, "x": x, "y": y },
        "fieldConfig": {
            "defaults": { "custom": custom, "thresholds": p.thresholds, "unit": p.unit },
            "overrides": [],
        },
        "options": options,
        "targets": targets,
    })
}

/// Emits `grafana/<dashboard>.json` for each dashboard of the spec.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    dashboards(spec).iter().map(|d| super::json_artifact(EMITTER.name, path(d), &dashboard_json(spec, d))).collect()
}
