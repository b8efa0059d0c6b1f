//! The generated Grafana dashboards, checked against Grafana's own published dashboard types
//! (`@grafana/schema`, type-checked by the TypeScript compiler) and for the structure import
//! and provisioning rely on: datasource variables everywhere, unique ids and uids, panels
//! that do not overlap, units, thresholds and spec references on every panel.
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
    let mut ts = String::from("import type { ExportedDashboard, TimeSeriesPanel, StatPanel, LogsPanel } from '../../types';\n");
    ts.push_str(&format!("export const dashboard: ExportedDashboard = {};\n", serde_json::to_string_pretty(d).unwrap()));
    for p in d["panels"].as_array().unwrap() {
        let ty = match p["type"].as_str().unwrap() {
            "timeseries" => "TimeSeriesPanel",
            "stat" => "StatPanel",
            "logs" => "LogsPanel",
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
    // and a required stat option missing.
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
