//! The generated Prometheus rules and promtool tests, checked by promtool itself: every rules
//! file lints clean, every test file passes, every alert has tests, and every alert's tests
//! fail when its threshold or `for` is changed in a copy of the rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::Path;
use std::process::Command;

use pip_compiler::emit::plan::{RulePlan, plan};
use pip_compiler::emit::{prometheus, promtool};
use pip_compiler::ir::Spec;
use pip_tests::{compiled_specs, require_tool};

/// Writes a spec's rules and tests into `dir`.
fn write(spec: &Spec, dir: &Path) {
    for a in prometheus::emit(spec).unwrap() {
        let name = a.path.trim_start_matches("prometheus/");
        std::fs::write(dir.join(name), &a.contents).unwrap();
    }
}

/// The names of a spec's promtool test files: `<spec>.test.yml`, then its SLO files.
fn test_files(spec: &Spec) -> Vec<String> {
    prometheus::emit(spec)
        .unwrap()
        .into_iter()
        .map(|a| a.path.trim_start_matches("prometheus/").to_string())
        .filter(|p| p.ends_with(".test.yml"))
        .collect()
}

fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(require_tool("promtool")).args(args).current_dir(dir).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_rules_file_passes_promtool_check_with_every_lint() {
    for spec in compiled_specs() {
        let dir = tempfile::tempdir().unwrap();
        write(&spec, dir.path());
        let file = format!("{}.rules.yml", spec.name);
        let (ok, out) = promtool(dir.path(), &["check", "rules", "--lint=all", "--lint-fatal", &file]);
        assert!(ok, "{}: promtool check rules failed:\n{out}", spec.name);
        let findings: Vec<&str> =
            out.lines().filter(|l| !l.starts_with("Checking") && !l.contains("SUCCESS") && !l.trim().is_empty()).collect();
        assert!(findings.is_empty(), "{}: promtool reported:\n{out}", spec.name);
    }
}

/// The fixture at the largest accepted values: its alerts hold `for: 1d`, so each of its test
/// groups makes promtool evaluate every rule 5,760 times (a day at the 15 s evaluation
/// interval); running its tests and their mutations takes most of an hour on two cores. The
/// default suite checks its rules with promtool and its samples' exactness (compiler/tests/
/// bounds.rs); its tests and mutations run with
/// `cargo test -p pip-tests --test prometheus -- --ignored`.
const DAY_LONG: &str = "largest_accepted_values";

fn quick(spec: &Spec) -> bool {
    spec.name != DAY_LONG
}

fn day_long(spec: &Spec) -> bool {
    spec.name == DAY_LONG
}

#[test]
fn every_generated_test_file_passes_promtool_test_rules() {
    generated_tests_pass(quick);
}

#[test]
#[ignore = "a day of evaluations per group: run with --ignored (see DAY_LONG)"]
fn the_day_long_fixtures_generated_tests_pass() {
    generated_tests_pass(day_long);
}

fn generated_tests_pass(which: fn(&Spec) -> bool) {
    let specs: Vec<Spec> = compiled_specs().into_iter().filter(which).collect();
    assert!(!specs.is_empty());
    for spec in specs {
        let dir = tempfile::tempdir().unwrap();
        write(&spec, dir.path());
        for file in test_files(&spec) {
            let (ok, out) = promtool(dir.path(), &["test", "rules", &file]);
            assert!(ok, "{}: promtool test rules {file} failed:\n{out}", spec.name);
        }
    }
}

/// Reads the artifacts back (not the plan): every alert of the rules file is expected to fire
/// in at least one test, and every recording rule has an expression test.
#[test]
fn every_alert_and_recording_rule_has_a_test() {
    for spec in compiled_specs() {
        let artifacts = prometheus::emit(&spec).unwrap();
        let rules: serde_norway::Value = serde_norway::from_slice(&artifacts[0].contents).unwrap();
        let test_files: Vec<serde_norway::Value> = artifacts[1..].iter().map(|a| serde_norway::from_slice(&a.contents).unwrap()).collect();
        let mut fired = Vec::new();
        let mut expr_tested = String::new();
        for t in test_files.iter().flat_map(|f| f["tests"].as_sequence().unwrap()) {
            for a in t["alert_rule_test"].as_sequence().into_iter().flatten() {
                for e in a["exp_alerts"].as_sequence().unwrap() {
                    fired.push((a["alertname"].as_str().unwrap().to_string(), serde_norway::to_string(&e["exp_labels"]).unwrap()));
                }
            }
            for e in t["promql_expr_test"].as_sequence().into_iter().flatten() {
                expr_tested.push_str(e["expr"].as_str().unwrap());
                expr_tested.push('\n');
            }
        }
        for g in rules["groups"].as_sequence().unwrap() {
            for r in g["rules"].as_sequence().unwrap() {
                if let Some(alert) = r["alert"].as_str() {
                    let labels = &r["labels"];
                    let covered = fired.iter().any(|(name, exp)| {
                        let exp: serde_norway::Value = serde_norway::from_str(exp).unwrap();
                        name == alert && labels.as_mapping().unwrap().iter().all(|(k, v)| exp[k.as_str().unwrap()] == *v)
                    });
                    assert!(covered, "{}: alert {alert} {:?} never fires in the generated tests", spec.name, labels["construct"]);
                }
                if let Some(record) = r["record"].as_str() {
                    assert!(expr_tested.contains(record), "{}: recording rule {record} has no promql_expr_test", spec.name);
                }
            }
        }
    }
}

#[test]
fn every_alerts_tests_fail_when_its_threshold_or_for_is_changed() {
    mutations_are_caught(quick, 50);
}

#[test]
#[ignore = "a day of evaluations per group: run with --ignored (see DAY_LONG)"]
fn the_day_long_fixtures_alert_tests_fail_when_mutated() {
    mutations_are_caught(day_long, 5);
}

fn mutations_are_caught(which: fn(&Spec) -> bool, at_least: usize) {
    let specs: Vec<Spec> = compiled_specs().into_iter().filter(which).collect();
    let mut cases = Vec::new();
    for spec in &specs {
        let plan = plan(spec);
        for (gi, g) in plan.groups.iter().enumerate() {
            for (ri, r) in g.rules.iter().enumerate() {
                if let RulePlan::Alert(a) = r {
                    for m in a.mutations() {
                        cases.push((spec.clone(), gi, ri, a.alert.clone(), promtool::describe(a), m));
                    }
                }
            }
        }
    }
    assert!(cases.len() > at_least, "only {} mutations", cases.len());
    // promtool runs are independent: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = cases.len().div_ceil(threads);
    let survivors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut survived = Vec::new();
                    for (spec, gi, ri, alert, prefix, m) in part {
                        let dir = tempfile::tempdir().unwrap();
                        write(spec, dir.path());
                        let rules_file = dir.path().join(format!("{}.rules.yml", spec.name));
                        let mut rules: serde_norway::Value = serde_norway::from_slice(&std::fs::read(&rules_file).unwrap()).unwrap();
                        let rule = &mut rules["groups"][*gi]["rules"][*ri];
                        assert_eq!(rule["alert"].as_str(), Some(alert.as_str()));
                        rule["expr"] = serde_norway::Value::String(m.expr.clone());
                        rule["for"] = serde_norway::Value::String(m.for_.to_string());
                        std::fs::write(&rules_file, serde_norway::to_string(&rules).unwrap()).unwrap();
                        // Only this alert's own test groups (in whichever test files hold them):
                        // they are the ones that must notice.
                        let prefix = format!("{} ", prefix);
                        let mut outputs = Vec::new();
                        let mut ok = true;
                        for file in test_files(spec) {
                            let tests_file = dir.path().join(&file);
                            let mut tests: serde_norway::Value = serde_norway::from_slice(&std::fs::read(&tests_file).unwrap()).unwrap();
                            tests["tests"]
                                .as_sequence_mut()
                                .unwrap()
                                .retain(|t| t["name"].as_str().is_some_and(|n| n.starts_with(&prefix)));
                            if tests["tests"].as_sequence().unwrap().is_empty() {
                                continue;
                            }
                            std::fs::write(&tests_file, serde_norway::to_string(&tests).unwrap()).unwrap();
                            let (passed, out) = promtool(dir.path(), &["test", "rules", &file]);
                            ok &= passed;
                            outputs.push(out);
                        }
                        assert!(!outputs.is_empty(), "no test groups named {prefix}");
                        let out = outputs.join("\n");
                        if ok || !out.contains(alert.as_str()) {
                            survived.push(format!(
                                "{}: {prefix}: {} ({}):\n{out}",
                                spec.name,
                                m.what,
                                if ok { "its tests still pass" } else { "the failure does not name the alert" }
                            ));
                        }
                    }
                    survived
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(survivors.is_empty(), "mutations the generated tests did not catch:\n{}", survivors.join("\n"));
}

#[test]
fn the_committed_test_files_name_their_rules_file() {
    for spec in compiled_specs() {
        let artifacts = prometheus::emit(&spec).unwrap();
        assert_eq!(artifacts[1].path, promtool::tests_path(&spec));
        for a in &artifacts[1..] {
            let tests = String::from_utf8(a.contents.clone()).unwrap();
            assert!(tests.contains(&format!("- {}.rules.yml", spec.name)), "{}: {tests}", a.path);
        }
    }
}

/// The evidence, integrity and witness-silence alerts — and only they — also fire when their
/// input is gone, through an absence arm whose equality matchers carry every label the alert
/// routes on; and each has a generated "series vanish" test group in which it fires.
#[test]
fn evidence_and_integrity_alerts_fire_when_their_series_vanish() {
    use pip_conventions::alert;
    let mut seen = 0;
    for spec in compiled_specs() {
        let plan = plan(&spec);
        let artifacts = prometheus::emit(&spec).unwrap();
        let tests: serde_norway::Value = serde_norway::from_slice(&artifacts[1].contents).unwrap();
        for r in plan.groups.iter().flat_map(|g| g.rules.iter()) {
            let RulePlan::Alert(a) = r else { continue };
            let evidence = [alert::EVIDENCE_GAP, alert::LEDGER_VERIFICATION_FAILED, alert::LEDGER_TRUNCATED, alert::LEDGER_WITNESS_SILENT]
                .contains(&a.alert.as_str());
            assert_eq!(a.absence.is_some(), evidence, "{}: {}", spec.name, a.alert);
            let Some(absence) = &a.absence else { continue };
            seen += 1;
            let expr = a.expr();
            let (_, arm) = expr.split_once(" or absent_over_time(").unwrap_or_else(|| panic!("{expr}"));
            for (k, v) in &a.output_labels {
                assert!(arm.contains(&format!("{k}=\"{v}\"")), "{expr}: the absence arm does not keep {k}");
            }
            assert!(!arm.contains("=~") && !arm.contains("!="), "{expr}");
            assert_eq!(absence.labels, a.output_labels);
            let prefix = format!("{} ", promtool::describe(a));
            let vanish: Vec<&serde_norway::Value> = tests["tests"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter(|t| {
                    t["name"].as_str().is_some_and(|n| n.starts_with(&prefix) && (n.contains("input is gone") || n.contains("never saw")))
                })
                .collect();
            assert_eq!(vanish.len(), 1, "{}: {prefix}: one vanish scenario", spec.name);
            let fires = vanish[0]["alert_rule_test"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|t| t["exp_alerts"].as_sequence().is_some_and(|e| !e.is_empty()));
            assert!(fires, "{}: {prefix}: the vanish scenario never expects the alert", spec.name);
        }
    }
    assert!(seen >= 9, "only {seen} absence-aware alerts");
}

/// The mutation check covers what makes a burn-rate tier: its factor (the threshold) and both
/// its windows, each doubled and halved; and each tier's test groups live in one SLO test file.
#[test]
fn every_burn_tier_is_mutated_in_its_factor_and_both_windows() {
    let mut tiers = 0;
    for spec in compiled_specs() {
        let artifacts = prometheus::emit(&spec).unwrap();
        for r in plan(&spec).groups.iter().flat_map(|g| g.rules.iter()) {
            let RulePlan::Alert(a) = r else { continue };
            if a.burn().is_none() {
                continue;
            }
            tiers += 1;
            let what: Vec<String> = a.mutations().into_iter().map(|m| m.what).collect();
            for kind in ["threshold", "long window", "short window"] {
                assert_eq!(what.iter().filter(|w| w.starts_with(kind)).count(), 2, "{}: {}: {what:?}", spec.name, promtool::describe(a));
            }
            let prefix = format!("{} ", promtool::describe(a));
            let holding: Vec<&str> = artifacts
                .iter()
                .filter(|f| String::from_utf8_lossy(&f.contents).contains(&format!("name: {prefix}")))
                .map(|f| f.path.as_str())
                .collect();
            assert_eq!(holding.len(), 1, "{}: {prefix}: {holding:?}", spec.name);
            assert!(holding[0].contains(".slo_"), "{holding:?}");
        }
    }
    assert!(tiers >= 10, "only {tiers} burn-rate tiers");
}
