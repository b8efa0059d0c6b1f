//! The generated Alertmanager fragments, checked by Alertmanager itself: merged into an ops
//! configuration as docs/language.md says, every fragment passes `amtool check-config`, every
//! alert of the generated rules routes to the receiver its spec names, every inhibit rule
//! matches real alerts on both sides, and a real Alertmanager delivers a P0 alert to the
//! paging receiver's webhook while a threshold's warn is inhibited by its critical.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use pip_compiler::emit::{alertmanager, prometheus};
use pip_compiler::ir::{Severity, Spec};
use pip_tests::alertmanager::{Alertmanager, Webhook, config, eventually};
use pip_tests::{compiled_specs, load, require_tool};
use serde_norway::Value;

/// The bundled specs (`specs/`, as `pipc build` reads them).
fn bundled() -> Vec<Spec> {
    let c = pip_compiler::compile(&load("specs"));
    assert!(!c.has_errors(), "specs/ does not compile");
    assert!(!c.specs.is_empty());
    c.specs
}

/// The bundled specs and every valid fixture (every construct kind, SLOs with default tiers).
fn every_spec() -> Vec<Spec> {
    let specs = compiled_specs();
    assert!(specs.len() > bundled().len());
    specs
}

/// An alert of a generated rules file: its name and static labels (the spec's labels included).
#[derive(Debug, Clone)]
struct Alert {
    labels: BTreeMap<String, String>,
}

impl Alert {
    fn get(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// Every alert of a spec's generated rules file, read back from the file's YAML.
fn alerts(spec: &Spec) -> Vec<Alert> {
    let plan = pip_compiler::emit::plan::plan(spec);
    let text = prometheus::rules_yaml(spec, &plan).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let Some(name) = rule.get("alert").and_then(Value::as_str) else { continue };
            let mut labels: BTreeMap<String, String> = rule["labels"]
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().unwrap().to_string()))
                .collect();
            labels.insert("alertname".into(), name.into());
            out.push(Alert { labels });
        }
    }
    out
}

/// The spec's fragment as the file `pipc build` writes, parsed.
fn fragment(spec: &Spec) -> Value {
    serde_norway::from_str(&alertmanager::yaml(spec).unwrap()).unwrap()
}

/// Runs amtool: whether it succeeded, its standard output, and both outputs for messages.
fn amtool(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(require_tool("amtool")).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), stdout.clone(), format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

fn write_config(dir: &Path, specs: &[Spec]) -> String {
    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, config(specs, "http://127.0.0.1:9/hook")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn the_merged_configuration_passes_amtool_check_config() {
    let specs = every_spec();
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), &specs);
    let (ok, _, out) = amtool(&["check-config", &file]);
    assert!(ok, "amtool check-config failed:\n{out}\n{}", std::fs::read_to_string(&file).unwrap());
    // Each fragment alone, too: a fragment must not depend on another spec's.
    for spec in &specs {
        let file = write_config(dir.path(), std::slice::from_ref(spec));
        let (ok, _, out) = amtool(&["check-config", &file]);
        assert!(ok, "{}: amtool check-config failed:\n{out}", spec.name);
    }
}

/// The receiver each severity of the bundled specs goes to, as their headers say (written out
/// here, not computed by the compiler): `page_receiver` for paging severities, a severity's own
/// `receiver`, and the owner-derived defaults. `None` for a fixture.
fn bundled_receiver(spec: &str, priority: &str) -> Option<&'static str> {
    let bundled = ["payments", "evidence", "gateway"];
    bundled.contains(&spec).then(|| expected_receiver(spec, priority))
}

fn expected_receiver(spec: &str, priority: &str) -> &'static str {
    match (spec, priority) {
        // receiver = "payments-tickets", page_receiver = "payments-pager"; P0 and P1 page.
        ("payments", "P0" | "P1") => "payments-pager",
        ("payments", _) => "payments-tickets",
        // severity P0 { receiver = "trust-pager" }; no spec receiver: the owner, `team-trust`.
        ("evidence", "P0") => "trust-pager",
        ("evidence", _) => "team-trust",
        // Nothing named: the owner, and `<owner>-page` for P0 (the only paging default).
        ("gateway", "P0") => "team-edge-page",
        ("gateway", _) => "team-edge",
        _ => panic!("no expectation for spec `{spec}` {priority}: add the new bundled spec here"),
    }
}

#[test]
fn amtool_routes_every_generated_alert_to_the_receiver_its_spec_names() {
    let specs = every_spec();
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), &specs);
    let config_arg = format!("--config.file={file}");
    let mut bundled_tested = 0;
    let mut tested = 0;
    for spec in &specs {
        for alert in alerts(spec) {
            let priority = alert.get("priority");
            let severity = Severity::parse(priority).unwrap_or_else(|| panic!("{alert:?} has no priority"));
            // A fixture's receivers are its IR's (the bundled specs pin how the IR resolves them).
            let policy = spec.severity(severity);
            let from_ir = spec.routing.receiver_of(&policy);
            let expected = bundled_receiver(&spec.name, priority).unwrap_or(from_ir);
            assert_eq!(from_ir, expected, "{}: the IR disagrees", spec.name);
            bundled_tested += usize::from(bundled_receiver(&spec.name, priority).is_some());
            let mut args = vec!["config".to_string(), "routes".into(), "test".into(), config_arg.clone()];
            args.extend(alert.labels.iter().map(|(k, v)| format!("{k}={v}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, stdout, out) = amtool(&args);
            assert!(ok, "amtool config routes test failed for {alert:?}:\n{out}");
            let got: Vec<&str> = stdout.trim().split(',').map(str::trim).collect();
            assert_eq!(got, [expected], "{}: {alert:?} is routed to {got:?}, not `{expected}`", spec.name);
            tested += 1;
        }
    }
    assert!(tested > 50 && bundled_tested > 20, "only {tested} alerts were routed ({bundled_tested} of the bundled specs)");
}

/// Whether an alert matches Alertmanager matchers of the two shapes the emitter writes
/// (`name="value"` and `name=~"a|b"` over escaped exact values).
fn matches(alert: &Alert, matchers: &Value) -> bool {
    matchers.as_sequence().unwrap().iter().all(|m| {
        let m = m.as_str().unwrap();
        if let Some((name, rest)) = m.split_once("=~\"") {
            let alternatives: Vec<String> = rest
                .strip_suffix('"')
                .unwrap()
                .split('|')
                .map(|a| a.replace("\\\\", "\u{0}").replace('\\', "").replace('\u{0}', "\\"))
                .collect();
            alternatives.iter().any(|a| a == alert.get(name))
        } else {
            let (name, rest) = m.split_once("=\"").unwrap();
            rest.strip_suffix('"').unwrap() == alert.get(name)
        }
    })
}

#[test]
fn every_inhibit_rule_matches_generated_alerts_on_both_sides_and_never_silences_a_more_severe_one() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut tiered = false;
    for spec in every_spec() {
        let alerts = alerts(&spec);
        let f = fragment(&spec);
        for rule in f["inhibit_rules"].as_sequence().unwrap() {
            let sources: Vec<&Alert> = alerts.iter().filter(|a| matches(a, &rule["source_matchers"])).collect();
            let targets: Vec<&Alert> = alerts.iter().filter(|a| matches(a, &rule["target_matchers"])).collect();
            assert!(!sources.is_empty() && !targets.is_empty(), "{}: {rule:?} matches no alert on one side", spec.name);
            for s in &sources {
                assert!(!targets.iter().any(|t| std::ptr::eq(*s, *t)), "{}: {rule:?} would inhibit its own source", spec.name);
                for t in &targets {
                    assert!(t.get("priority") >= s.get("priority"), "{}: {s:?} would inhibit the more severe {t:?}", spec.name);
                    // `spec` and `construct` are static labels of both; others (an SLO's `by`
                    // labels) come from the expression.
                    for l in ["spec", "construct"] {
                        assert!(
                            rule["equal"].as_sequence().unwrap().iter().any(|e| e.as_str() == Some(l)),
                            "{}: {rule:?} lacks `{l}`",
                            spec.name
                        );
                        assert!(s.labels.contains_key(l) && t.labels.contains_key(l), "{}: `{l}` is not a static label", spec.name);
                    }
                }
            }
            kinds.insert(sources[0].get("alertname").to_string());
        }
        // An SLO with a slower tier at most as severe as a faster one gets its rules.
        tiered |= spec.slos.iter().any(|slo| {
            slo.tiers.iter().enumerate().any(|(i, fast)| slo.tiers.iter().skip(i + 1).any(|slow| slow.severity >= fast.severity))
        });
    }
    // The specs exercise every kind of rule.
    assert!(kinds.contains("PipThresholdCrossed"), "{kinds:?}");
    assert!(kinds.contains("PipLedgerVerificationFailed"), "{kinds:?}");
    assert!(tiered, "no spec has an SLO whose tiers inhibit each other");
    assert!(kinds.contains("PipSloBurnRate"), "{kinds:?}");
}

/// Waits until Alertmanager reports `target` suppressed, inhibited by `source` alone, while
/// `source` itself is active (`GET /api/v2/alerts`: an outcome, not the absence of a delivery).
fn assert_inhibits(am: &Alertmanager, source: &Alert, target: &Alert, what: &str) {
    let find = |all: &[serde_json::Value], a: &Alert| all.iter().find(|x| x["labels"] == serde_json::json!(a.labels)).cloned();
    eventually(what, || {
        let all = am.alerts();
        let (Some(s), Some(t)) = (find(&all, source), find(&all, target)) else { return false };
        let inhibited_by: Vec<&str> =
            t["status"]["inhibitedBy"].as_array().map(|v| v.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
        t["status"]["state"] == "suppressed"
            && s["status"]["state"] == "active"
            && inhibited_by == [s["fingerprint"].as_str().unwrap_or("?")]
    });
}

#[test]
fn a_real_alertmanager_pages_a_p0_alert_and_inhibits_as_the_fragment_says() {
    let spec = bundled().into_iter().find(|s| s.name == "payments").unwrap();
    let slo_spec = every_spec().into_iter().find(|s| s.slos.iter().any(|slo| slo.tiers.len() == 4)).expect("a fixture with an SLO");
    let alerts = alerts(&spec);
    let hook = Webhook::start();
    let am = Alertmanager::start(&config(&[spec.clone(), slo_spec.clone()], &format!("http://127.0.0.1:{}", hook.port)));

    // A P0 alert reaches the paging receiver's webhook.
    let page = alerts.iter().find(|a| a.get("alertname") == "PipInvariantViolated" && a.get("priority") == "P0").unwrap();
    am.post(&[&page.labels]);
    let path = format!("/{}", expected_receiver("payments", "P0"));
    eventually("the P0 alert reaches the paging webhook", || {
        hook.bodies_at(&path).iter().any(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            v["receiver"] == "payments-pager"
                && v["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["labels"]["alertname"] == "PipInvariantViolated" && a["labels"]["construct"] == page.get("construct"))
        })
    });

    // A threshold's warn while its critical fires: inhibited by it.
    let level = |l: &str| {
        alerts
            .iter()
            .find(|a| a.get("alertname") == "PipThresholdCrossed" && a.get("construct") == "error_ratio" && a.get("level") == l)
            .unwrap()
    };
    let (critical, warn) = (level("critical"), level("warn"));
    am.post(&[&critical.labels, &warn.labels]);
    assert_inhibits(&am, critical, warn, "a threshold's warn under its critical");

    // A ledger's evidence gap while the ledger is reported truncated.
    let find = |name: &str, construct: &str| {
        alerts
            .iter()
            .find(|a| a.get("alertname") == name && a.get("construct") == construct)
            .unwrap_or_else(|| panic!("no {name} of {construct}"))
    };
    let (truncated, gap) = (find("PipLedgerTruncated", "audit"), find("PipEvidenceGap", "audit"));
    am.post(&[&truncated.labels, &gap.labels]);
    assert_inhibits(&am, truncated, gap, "an evidence gap under its ledger's truncation");

    // An SLO's slow burn tier under its fast one (a fixture with the default four tiers).
    let slo_alerts = self::alerts(&slo_spec);
    let tier = |t: &str| slo_alerts.iter().find(|a| a.get("alertname") == "PipSloBurnRate" && a.get("burn_tier") == t).unwrap();
    let (fast, slow) = (tier("1"), tier("3"));
    am.post(&[&fast.labels, &slow.labels]);
    assert_inhibits(&am, fast, slow, "an SLO's slow burn under its fast burn");

    // The critical itself is delivered to the pager (P0), so the inhibition is not a dead route.
    eventually("the critical reaches the paging webhook", || {
        hook.bodies_at(&path).iter().any(|b| b.contains("\"level\":\"critical\"") && b.contains("error_ratio"))
    });
}
