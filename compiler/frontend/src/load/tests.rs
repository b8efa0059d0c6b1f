#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::source::SourceFile;

fn spec(name: &str, body: &str) -> String {
    format!("spec {name} version \"1.0.0\" {{\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/{name}\"\n}}\n{body}")
}

fn sources(files: &[(&str, String)]) -> Sources {
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(SourceFile::new(*name, text.as_str()));
    }
    sources
}

const LEDGERS: &str = "ledger audit {\n  key = env(\"K\")\n}\nledger trail {\n  key = env(\"K\")\n}\n";

#[test]
fn a_folder_of_good_specs_loads_with_its_warnings_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let warned = spec("warned", "invariant i {\n  severity = P2\n  requires n < 10\n}\n");
    std::fs::write(dir.path().join("warned.pips"), &warned).unwrap();
    std::fs::write(dir.path().join("plain.pips"), spec("plain", "")).unwrap();
    let checked = load(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<&str> = checked.specs().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["plain", "warned"]);
    assert_eq!(checked.sources.len(), 2);
    assert!(!checked.compilation.diagnostics.is_empty(), "the invariant without evidence is warned about");
    assert!(checked.compilation.diagnostics.iter().all(|d| !d.is_error()));
    assert_eq!(checked.errors().count(), 0, "warnings are not errors");
}

#[test]
fn a_missing_path_is_a_read_error_not_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let err = load(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(err, SpecsError::Read(source::LoadError::Missing(_))), "{err:?}");
    assert_eq!(err.to_string(), format!("`{}` does not exist", missing.display()));
}

#[test]
fn an_empty_folder_loads_as_no_specs() {
    let dir = tempfile::tempdir().unwrap();
    let checked = load(&[dir.path().to_path_buf()]).unwrap();
    assert!(checked.sources.is_empty());
    assert!(checked.specs().is_empty());
}

#[test]
fn specs_with_errors_are_refused_with_the_compilation_to_show() {
    let broken = spec("broken", "invariant i {\n  severity = P9\n  requires n < 10\n}\n");
    let err = check(sources(&[("broken.pips", broken), ("fine.pips", spec("fine", ""))])).unwrap_err();
    assert_eq!(err.to_string(), "the spec has errors; run `pipc check` to see them");
    let SpecsError::Invalid(checked) = err else { panic!("not refused as invalid: {err:?}") };
    assert!(checked.compilation.has_errors());
    let errors: Vec<&Diagnostic> = checked.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].message, "`P9` is not a severity");
    assert_eq!(checked.location(errors[0]).as_deref(), Some("broken.pips:6:14"), "where `P9` is");
}

#[test]
fn a_spec_is_picked_by_name_and_a_near_miss_is_suggested() {
    let checked = check(sources(&[("a.pips", spec("payments", "")), ("b.pips", spec("gateway", ""))])).unwrap();
    assert_eq!(checked.spec("payments").unwrap().name, "payments");
    let err = checked.spec("paymnts").unwrap_err();
    assert_eq!(err.to_string(), "no spec `paymnts` among the specs found (gateway, payments); did you mean `payments`?");
    let err = checked.spec("zz").unwrap_err();
    assert_eq!(err.to_string(), "no spec `zz` among the specs found (gateway, payments)");
}

#[test]
fn a_construct_is_picked_by_its_name_or_qualified_or_as_the_only_one() {
    let checked =
        check(sources(&[("a.pips", spec("pay", LEDGERS)), ("b.pips", spec("gate", "ledger solo {\n  key = env(\"K\")\n}\n"))])).unwrap();
    fn ledgers(s: &Spec) -> &[crate::ir::Ledger] {
        &s.ledgers
    }
    let pick_ledger =
        |n: Option<&str>| pick(checked.specs(), n, ledgers, |l| l.name.as_str()).map(|(s, l)| format!("{}.{}", s.name, l.name));
    assert_eq!(pick_ledger(Some("trail")), Ok("pay.trail".to_string()));
    assert_eq!(pick_ledger(Some("gate.solo")), Ok("gate.solo".to_string()));
    let all = "`gate.solo`, `pay.audit`, `pay.trail`".to_string();
    assert_eq!(pick_ledger(Some("nope")), Err(Unpicked::NotFound { name: "nope".into(), all: all.clone() }));
    assert_eq!(pick_ledger(None), Err(Unpicked::Several { all }));

    let one = check(sources(&[("b.pips", spec("gate", "ledger solo {\n  key = env(\"K\")\n}\n"))])).unwrap();
    assert_eq!(pick(one.specs(), None, ledgers, |l| l.name.as_str()).map(|(_, l)| l.name.as_str()), Ok("solo"));
    assert_eq!(pick(one.specs(), None, |s| &s.bundles, |b| b.name.as_str()).map(|_| ()), Err(Unpicked::NoneDeclared));
}

/// The proc-macro's fixture whose only error is a threshold's PromQL: the front end as
/// pip-compiler builds it (`promql` on, so `pipc check`) refuses it; as the proc-macro
/// builds it (`promql` off) it checks, and the macro expands (macros/tests/spec_errors.rs).
#[test]
fn a_thresholds_bad_promql_is_an_error_exactly_when_promql_is_checked() {
    let text = include_str!("../../../../macros/tests/ui/promql_unchecked/specs/shop.pips");
    let result = check(sources(&[("shop.pips", text.to_string())]));
    if cfg!(feature = "promql") {
        let Err(SpecsError::Invalid(checked)) = result else { panic!("bad PromQL was accepted: {result:?}") };
        let errors: Vec<(&str, &str)> = checked.errors().map(|d| (d.code.as_str(), d.message.as_str())).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "pips::promql", "{errors:?}");
    } else {
        let checked = result.unwrap();
        assert_eq!(checked.spec("shop").unwrap().invariants.len(), 1);
    }
}
