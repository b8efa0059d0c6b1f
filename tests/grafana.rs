//! The generated Grafana dashboards, checked against Grafana's own published dashboard types
//! (`@grafana/schema`, type-checked by the TypeScript compiler) and for the structure import
//! and provisioning rely on: datasource variables everywhere, unique ids and uids, panels
//! that do not overlap, units, thresholds and spec references on every panel; and for what
//! the panels show: the spec's alerts on every dashboard, a runbook link from every construct's
//! panels, each SLO's budget, burn rates and SLI, each subsystem's silence against its own
//! `expect`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use pip_compiler::emit::grafana;
use pip_tests::{compiled_specs, require_tool, root};
use serde_json::Value;

fn schema_dir() -> PathBuf {
    root().join("tests/grafana")
}

/// All dashboards of all compiled specs, as (file name, JSON).
fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for spec in compiled_specs() {
        for a in grafana::emit(&spec).unwrap() {
            out.push((
                format!("{}__{}", spec.name, a.path.trim_start_matches("grafana/").trim_end_matches(".json")),
                serde_json::from_slice(&a.contents).unwrap(),
            ));
        }
    }
    assert!(out.len() >= 5);
    out
}

/// A TypeScript module assigning the dashboard, and each panel, to Grafana's types.
fn typescript(d: &Value) -> String {
    let mut ts =
        String::from("import type { ExportedDashboard, TimeSeriesPanel, StatPanel, LogsPanel, StateTimelinePanel } from '../../types';\n");
    ts.push_str(&format!("export const dashboard: ExportedDashboard = {};\n", serde_json::to_string_pretty(d).unwrap()));
    for p in d["panels"].as_array().unwrap() {
        let ty = match p["type"].as_str().unwrap() {
            "timeseries" => "TimeSeriesPanel",
            "stat" => "StatPanel",
            "logs" => "LogsPanel",
            "state-timeline" => "StateTimelinePanel",
            "row" => continue,
            other => panic!("panel type {other} has no type check"),
        };
        ts.push_str(&format!("export const panel_{}: {ty} = {};\n", p["id"], serde_json::to_string(p).unwrap()));
    }
    ts
}

/// Type-checks the modules; returns tsc's output on failure.
fn tsc(files: &[(String, String)], dir_name: &str) -> Result<(), String> {
    require_tool("node");
    let tsc = schema_dir().join("node_modules/.bin/tsc");
    assert!(tsc.exists(), "TypeScript is not installed in tests/grafana; run tests/run-all.sh (it runs `npm ci` there)");
    let dir = schema_dir().join("check").join(dir_name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, ts) in files {
        std::fs::write(dir.join(format!("{name}.ts")), ts).unwrap();
    }
    let config = r#"{ "extends": "../../tsconfig.json", "include": ["./*.ts"] }"#;
    std::fs::write(dir.join("tsconfig.json"), config).unwrap();
    let out = Command::new(&tsc).arg("-p").arg(dir.join("tsconfig.json")).current_dir(schema_dir()).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
fn every_dashboard_type_checks_against_grafanas_published_schema() {
    let files: Vec<(String, String)> = dashboards().iter().map(|(n, d)| (n.clone(), typescript(d))).collect();
    if let Err(out) = tsc(&files, "all") {
        panic!("generated dashboards do not match @grafana/schema:\n{out}");
    }
}

#[test]
fn the_schema_check_rejects_a_broken_dashboard() {
    let (_, d) = dashboards().into_iter().next().unwrap();
    let mut cases = Vec::new();
    // A misspelled dashboard field, a panel field of the wrong type, an unknown threshold mode,
    // and a field of the alerts' annotation query of the wrong type.
    let mut a = d.clone();
    a["schemaversion"] = a["schemaVersion"].take();
    a.as_object_mut().unwrap().remove("schemaVersion");
    cases.push(("misspelled", a, "schemaversion"));
    let mut b = d.clone();
    b["panels"][1]["gridPos"]["w"] = Value::String("wide".into());
    cases.push(("wrong_type", b, "Type 'string' is not assignable to type 'number'"));
    let mut c = d.clone();
    c["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["mode"] = Value::String("absolutely".into());
    cases.push(("threshold_mode", c, "\"absolutely\""));
    let mut e = d.clone();
    e["annotations"]["list"][1]["useValueForTime"] = Value::String("no".into());
    cases.push(("annotation_field", e, "Type 'string' is not assignable to type 'boolean'"));
    // The unbroken dashboard passes, so each failure below is the breakage's.
    assert!(tsc(&[("intact".to_string(), typescript(&d))], "intact").is_ok());
    for (name, broken, culprit) in cases {
        match tsc(&[(name.to_string(), typescript(&broken))], &format!("broken_{name}")) {
            Ok(()) => panic!("the schema check accepted a broken dashboard ({name})"),
            Err(out) => assert!(out.contains(culprit), "{name}: tsc failed for another reason:\n{out}"),
        }
    }
}

#[test]
fn every_panel_and_target_reads_the_datasource_variables() {
    for (name, d) in dashboards() {
        let vars: Vec<(&str, &str)> = d["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["name"].as_str().unwrap(), v["query"].as_str().unwrap()))
            .collect();
        assert!(vars.contains(&("datasource", "prometheus")), "{name}: {vars:?}");
        assert!(vars.contains(&("loki", "loki")), "{name}: {vars:?}");
        for v in d["templating"]["list"].as_array().unwrap() {
            assert_eq!(v["type"], "datasource");
        }
        for p in d["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
            let expected = if p["type"] == "logs" {
                serde_json::json!({ "type": "loki", "uid": "${loki}" })
            } else {
                serde_json::json!({ "type": "prometheus", "uid": "${datasource}" })
            };
            assert_eq!(p["datasource"], expected, "{name}: panel {}", p["title"]);
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: panel {} has no target", p["title"]);
            for t in targets {
                assert_eq!(t["datasource"], expected, "{name}: a target of {}", p["title"]);
                assert!(!t["expr"].as_str().unwrap().is_empty());
            }
        }
    }
}

#[test]
fn ids_and_uids_are_unique_and_import_metadata_is_complete() {
    let mut uids = BTreeSet::new();
    for (name, d) in dashboards() {
        assert!(d["id"].is_null(), "{name}: id must be null");
        assert_eq!(d["schemaVersion"], pip_conventions::grafana::SCHEMA_VERSION);
        let uid = d["uid"].as_str().unwrap().to_string();
        assert!(uid.len() <= 40 && !uid.is_empty(), "{name}: uid {uid}");
        assert!(uids.insert(uid.clone()), "{name}: uid {uid} is used twice");
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{name}: panel id {} twice", p["id"]);
        }
        let inputs: Vec<&str> = d["__inputs"].as_array().unwrap().iter().map(|i| i["pluginId"].as_str().unwrap()).collect();
        assert_eq!(inputs, ["loki", "prometheus"], "{name}");
        let required: BTreeSet<&str> =
            d["__requires"].as_array().unwrap().iter().filter(|r| r["type"] == "panel").map(|r| r["id"].as_str().unwrap()).collect();
        let used: BTreeSet<&str> =
            d["panels"].as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).filter(|t| *t != "row").collect();
        assert_eq!(required, used, "{name}: __requires does not list exactly the panel types used");
        // The import inputs are what the variables default to, so the import dialog wires them.
        let text = d.to_string();
        assert!(text.contains("${DS_PROMETHEUS}") && text.contains("${DS_LOKI}"), "{name}");
    }
}

#[test]
fn panels_do_not_overlap_and_fit_the_grid() {
    for (name, d) in dashboards() {
        let mut boxes: Vec<(u64, u64, u64, u64, String)> = Vec::new();
        for p in d["panels"].as_array().unwrap() {
            let g = &p["gridPos"];
            let (x, y, w, h) = (g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap(), g["w"].as_u64().unwrap(), g["h"].as_u64().unwrap());
            assert!(x + w <= 24 && w > 0 && h > 0, "{name}: {} out of the grid", p["title"]);
            for (ox, oy, ow, oh, other) in &boxes {
                let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
                assert!(!overlap, "{name}: {} overlaps {other}", p["title"]);
            }
            boxes.push((x, y, w, h, p["title"].to_string()));
        }
    }
}

#[test]
fn every_panel_has_a_unit_thresholds_and_a_description_naming_the_spec_line() {
    for (name, d) in dashboards() {
        for p in d["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
            let defaults = &p["fieldConfig"]["defaults"];
            assert!(defaults["unit"].as_str().is_some_and(|u| !u.is_empty()), "{name}: {} has no unit", p["title"]);
            assert!(defaults["thresholds"]["steps"].as_array().is_some_and(|s| !s.is_empty()), "{name}: {} has no thresholds", p["title"]);
            let desc = p["description"].as_str().unwrap();
            assert!(
                desc.contains(".pips:") && desc.contains("sha256"),
                "{name}: {} description lacks the spec reference: {desc}",
                p["title"]
            );
        }
    }
}

#[test]
fn a_threshold_panel_draws_the_specs_levels() {
    let spec = compiled_specs().into_iter().find(|s| s.name == "payments").unwrap();
    let d = &grafana::emit(&spec).unwrap()[0];
    let d: Value = serde_json::from_slice(&d.contents).unwrap();
    let panel = d["panels"].as_array().unwrap().iter().find(|p| p["title"] == "error_ratio").unwrap();
    let steps: Vec<(Value, Value)> = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["color"].clone(), s["value"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![(Value::from("green"), Value::Null), (Value::from("orange"), Value::from(0.01)), (Value::from("red"), Value::from(0.05)),]
    );
    assert_eq!(panel["fieldConfig"]["defaults"]["unit"], "percentunit");
}

/// Every dashboard of every compiled spec, with its spec.
fn dashboards_with_specs() -> Vec<(pip_compiler::ir::Spec, String, Value)> {
    let mut out = Vec::new();
    for spec in compiled_specs() {
        for a in grafana::emit(&spec).unwrap() {
            let d = serde_json::from_slice(&a.contents).unwrap();
            out.push((spec.clone(), a.path.clone(), d));
        }
    }
    out
}

fn panels(d: &Value) -> impl Iterator<Item = &Value> {
    d["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row")
}

fn exprs(p: &Value) -> Vec<&str> {
    p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect()
}

fn step_values(thresholds: &Value) -> Vec<(String, Value)> {
    thresholds["steps"].as_array().unwrap().iter().map(|s| (s["color"].as_str().unwrap().to_string(), s["value"].clone())).collect()
}

#[test]
fn every_dashboard_shows_the_specs_alerts_and_marks_firing_ones_on_the_time_axis() {
    for (spec, name, d) in dashboards_with_specs() {
        let s = &spec.name;
        let firing = format!("ALERTS{{spec=\"{s}\",alertstate=\"firing\"}}");
        let pending = format!("ALERTS{{spec=\"{s}\",alertstate=\"pending\"}}");
        // The first row is the alerts' row, its one panel the state timeline.
        let all = d["panels"].as_array().unwrap();
        assert_eq!((all[0]["type"].as_str(), all[0]["title"].as_str()), (Some("row"), Some("Alerts")), "{name}");
        let p = &all[1];
        assert_eq!(p["type"], "state-timeline", "{name}");
        let e = exprs(p);
        assert_eq!(e.len(), 1, "{name}");
        assert!(e[0].contains(&firing) && e[0].contains(&pending), "{name}: {}", e[0]);
        assert!(e[0].starts_with("max by (alertname, construct, severity)"), "{name}: {}", e[0]);
        let legend = p["targets"][0]["legendFormat"].as_str().unwrap();
        assert!(["{{alertname}}", "{{construct}}", "{{severity}}"].iter().all(|l| legend.contains(l)), "{name}: {legend}");
        let states = &p["fieldConfig"]["defaults"]["mappings"][0]["options"];
        assert_eq!((states["1"]["text"].as_str(), states["2"]["text"].as_str()), (Some("pending"), Some("firing")), "{name}");
        assert_eq!((states["1"]["color"].as_str(), states["2"]["color"].as_str()), (Some("orange"), Some("red")), "{name}");
        // The annotation of firing alerts, on the Prometheus datasource variable.
        let list = d["annotations"]["list"].as_array().unwrap();
        let a = list.iter().find(|a| a["expr"] == firing.as_str()).unwrap_or_else(|| panic!("{name}: no annotation of {firing}"));
        assert_eq!(a["datasource"], serde_json::json!({ "type": "prometheus", "uid": "${datasource}" }), "{name}");
        assert_eq!((a["enable"].as_bool(), a["titleFormat"].as_str()), (Some(true), Some("{{alertname}}")), "{name}");
    }
}

/// `(kind keyword, name)` → runbook URL of every construct of the spec, read from its IR.
fn runbooks(spec: &pip_compiler::ir::Spec) -> Vec<(String, String, String)> {
    let ir = serde_json::to_value(spec).unwrap();
    let mut out = Vec::new();
    for kind in pip_compiler::ir::ConstructKind::ALL {
        for n in spec.names(kind) {
            let found =
                ir.as_object().unwrap().values().filter_map(Value::as_array).flatten().find(|c| c["name"] == n && c["runbook"].is_string());
            if let Some(c) = found {
                out.push((kind.keyword().to_string(), n.to_string(), c["runbook"].as_str().unwrap().to_string()));
            }
        }
    }
    out
}

#[test]
fn every_panel_links_to_the_runbook_of_what_it_shows() {
    let mut shown = 0;
    for (spec, name, d) in dashboards_with_specs() {
        let known = runbooks(&spec);
        let dashboard = grafana::dashboards(&spec).into_iter().find(|x| name == grafana::path(x)).unwrap();
        let links: Vec<(String, String)> = panels(&d)
            .map(|p| {
                let l = p["links"].as_array().unwrap();
                assert_eq!(l.len(), 1, "{name}: {} has no runbook link", p["title"]);
                assert_eq!((l[0]["type"].as_str(), l[0]["targetBlank"].as_bool()), (Some("link"), Some(true)), "{name}");
                (l[0]["tooltip"].as_str().unwrap().to_string(), l[0]["url"].as_str().unwrap().to_string())
            })
            .collect();
        assert!(links.contains(&(format!("Runbook of spec {}", spec.name), spec.runbook.clone())), "{name}: the alerts panel: {links:?}");
        for member in dashboard.rows.iter().flat_map(|r| &r.members) {
            let (kind, n, url) = known.iter().find(|(k, n, _)| k == member.kind.keyword() && *n == member.name).unwrap();
            assert!(links.contains(&(format!("Runbook of {kind} {n}"), url.clone())), "{name}: no panel links {kind} {n} to {url}");
            shown += 1;
        }
        // Every link goes to the spec's runbook or to that of a construct of the spec.
        for (tooltip, url) in &links {
            assert!(*url == spec.runbook || known.iter().any(|(_, _, u)| u == url), "{name}: {tooltip} → {url}");
        }
    }
    assert!(shown > 10, "the dashboards show too few constructs to tell");
}

#[test]
fn each_subsystems_silence_is_coloured_by_its_own_expect() {
    let mut checked = 0;
    for (spec, name, d) in dashboards_with_specs() {
        for l in &spec.ledgers {
            let Some(p) = panels(&d).find(|p| p["title"] == format!("{}: seconds since last evidence", l.name)) else { continue };
            let overrides = p["fieldConfig"]["overrides"].as_array().unwrap();
            assert_eq!(overrides.len(), l.expects.len(), "{name}: {}", l.name);
            for e in &l.expects {
                let o = overrides.iter().find(|o| o["matcher"] == serde_json::json!({ "id": "byName", "options": e.subsystem })).unwrap();
                assert_eq!(o["properties"][0]["id"], "thresholds");
                let every = e.every.as_secs_f64();
                assert_eq!(
                    step_values(&o["properties"][0]["value"]),
                    [("green".into(), Value::Null), ("orange".into(), Value::from(every / 2.0)), ("red".into(), Value::from(every))],
                    "{name}: {} {}",
                    l.name,
                    e.subsystem
                );
                checked += 1;
            }
            // A subsystem the spec expects nothing of is never amber or red.
            assert_eq!(step_values(&p["fieldConfig"]["defaults"]["thresholds"]), [("green".into(), Value::Null)], "{name}");
        }
    }
    assert!(checked >= 2, "no ledger with expected subsystems on a dashboard");
}

#[test]
fn each_slo_shows_its_budget_burn_rates_and_sli_from_its_recording_rules() {
    use pip_compiler::emit::promql::duration;
    use pip_conventions::record;
    let mut checked = 0;
    for (spec, name, d) in dashboards_with_specs() {
        // The names of the recording rules generated for the spec.
        let rules: String =
            pip_compiler::emit::prometheus::emit(&spec).unwrap().iter().map(|a| String::from_utf8(a.contents.clone()).unwrap()).collect();
        let recorded: BTreeSet<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- record: ")).collect();
        for slo in &spec.slos {
            let title = |what: &str| format!("{}: {what}", slo.name);
            let find = |what: &str| panels(&d).find(|p| p["title"] == title(what));
            let Some(budget) = find("error budget remaining") else { continue };
            let sel = format!("{{spec=\"{}\",slo=\"{}\"}}", spec.name, slo.name);
            let legend_prefix: String = slo.group_by.iter().map(|l| format!("{{{{{l}}}}} ")).collect();

            assert_eq!(budget["type"], "stat", "{name}");
            assert_eq!(exprs(budget), [format!("{}{sel}", record::SLO_BUDGET_REMAINING)], "{name}");
            assert_eq!(
                step_values(&budget["fieldConfig"]["defaults"]["thresholds"]),
                [("red".into(), Value::Null), ("orange".into(), Value::from(0.0)), ("green".into(), Value::from(0.25))],
                "{name}"
            );

            let burn = find("burn rate").unwrap_or_else(|| panic!("{name}: {} has no burn-rate panel", slo.name));
            assert_eq!(burn["type"], "timeseries", "{name}");
            let mut windows: Vec<_> = slo.tiers.iter().flat_map(|t| [t.long, t.short]).collect();
            windows.sort();
            windows.dedup();
            let expected: Vec<String> = windows.iter().map(|w| format!("{}{sel}", record::slo_burn_rate(&duration(*w)))).collect();
            assert_eq!(exprs(burn), expected, "{name}");
            for (t, w) in burn["targets"].as_array().unwrap().iter().zip(&windows) {
                assert_eq!(t["legendFormat"], format!("{legend_prefix}{}", duration(*w)), "{name}");
            }
            let mut lines: Vec<f64> =
                step_values(&burn["fieldConfig"]["defaults"]["thresholds"]).iter().filter_map(|(_, v)| v.as_f64()).collect();
            let mut factors: Vec<f64> = slo.tiers.iter().map(|t| t.factor).collect();
            factors.sort_by(f64::total_cmp);
            factors.dedup();
            lines.sort_by(f64::total_cmp);
            // serde_json reads floats back to within an ulp or two, not always exactly.
            let close = lines.len() == factors.len() && lines.iter().zip(&factors).all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs());
            assert!(close, "{name}: the burn-rate lines {lines:?} are not the tiers' factors {factors:?}");
            assert_eq!(burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line", "{name}");

            let sli = find("SLI vs objective").unwrap_or_else(|| panic!("{name}: {} has no SLI panel", slo.name));
            assert_eq!(sli["type"], "timeseries", "{name}");
            let fastest = slo.tiers.iter().map(|t| t.long).min().unwrap();
            let mut sli_windows = vec![fastest, slo.period];
            sli_windows.dedup();
            let expected: Vec<String> =
                sli_windows.iter().map(|w| format!("1 - {}{sel}", record::slo_error_ratio(&duration(*w)))).collect();
            assert_eq!(exprs(sli), expected, "{name}");

            // Every series the three panels query is a recording rule of the spec.
            for e in [budget, burn, sli].into_iter().flat_map(exprs) {
                let metric = e.trim_start_matches("1 - ").split('{').next().unwrap();
                assert!(recorded.contains(metric), "{name}: {} queries {metric}, which no rule records", slo.name);
            }
            let steps = step_values(&sli["fieldConfig"]["defaults"]["thresholds"]);
            let colors: Vec<&str> = steps.iter().map(|(c, _)| c.as_str()).collect();
            assert_eq!(colors, ["red", "green"], "{name}");
            assert!((steps[1].1.as_f64().unwrap() - slo.objective).abs() <= 1e-12, "{name}: {steps:?}");
            assert_eq!(sli["fieldConfig"]["defaults"]["unit"], "percentunit", "{name}");

            // The three fill one line of the grid, side by side.
            let y: BTreeSet<u64> = [budget, burn, sli].iter().map(|p| p["gridPos"]["y"].as_u64().unwrap()).collect();
            let w: u64 = [budget, burn, sli].iter().map(|p| p["gridPos"]["w"].as_u64().unwrap()).sum();
            assert_eq!((y.len(), w), (1, 24), "{name}: {}", slo.name);
            checked += 1;
        }
    }
    assert!(checked >= 1, "no compiled spec shows an SLO on a dashboard");
}

#[test]
fn the_alert_timeline_shows_the_worst_state_of_each_alert() {
    // The timeline's query of a generated dashboard, evaluated by promtool over hand-made
    // `ALERTS` series: an alert firing for one subsystem and pending for another is firing (2),
    // an alert only pending is pending (1), another spec's alerts are not shown.
    let (spec, name, d) = dashboards_with_specs().into_iter().find(|(s, _, _)| s.name == "payments").unwrap();
    let expr = exprs(&d["panels"][1])[0].to_string();
    let s = &spec.name;
    let rules = format!("groups:\n- name: timeline\n  rules:\n  - record: alert_state\n    expr: '{}'\n", expr.replace('\'', "''"));
    let series = |labels: &str| format!("  - series: 'ALERTS{{{labels}}}'\n    values: '1 1 1'\n");
    let test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n{}{}{}{}  promql_expr_test:\n  - expr: alert_state\n    eval_time: 1m\n    exp_samples:\n    - labels: 'alert_state{{alertname=\"A\",construct=\"c\",severity=\"high\"}}'\n      value: 2\n    - labels: 'alert_state{{alertname=\"B\",construct=\"d\",severity=\"low\"}}'\n      value: 1\n",
        series(&format!("spec=\"{s}\",alertstate=\"firing\",alertname=\"A\",construct=\"c\",severity=\"high\",subsystem=\"x\"")),
        series(&format!("spec=\"{s}\",alertstate=\"pending\",alertname=\"A\",construct=\"c\",severity=\"high\",subsystem=\"y\"")),
        series(&format!("spec=\"{s}\",alertstate=\"pending\",alertname=\"B\",construct=\"d\",severity=\"low\"")),
        series("spec=\"other\",alertstate=\"firing\",alertname=\"C\",construct=\"e\",severity=\"low\""),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    std::fs::write(dir.path().join("test.yml"), test).unwrap();
    let out = Command::new(require_tool("promtool")).args(["test", "rules", "test.yml"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{name}: {expr}\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
