//! `pip_spec!` on `tests/macro-specs/checks.pips`: what the spec declares reaches the process
//! before any annotated function runs. A process of its own, so that nothing else has
//! created a series first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::Path;
use std::time::Duration;

use pip_runtime::declared::SpecDecl;
use pip_runtime::ledger::Durability;
use pip_runtime::{pip_spec, runtime};

static CHECKS: SpecDecl = pip_spec!("checks");

/// The series of `metric` in the process's exposition, as `label="value"` lists with values.
fn series(metric: &str) -> Vec<String> {
    runtime().render().lines().filter(|l| l.starts_with(&format!("{metric}{{"))).map(str::to_string).collect()
}

#[test]
fn declaring_the_spec_exports_every_series_at_zero_before_any_call() {
    assert!(series("pip_invariant_violations_total").is_empty(), "nothing is declared yet");
    assert!(series("pip_rate_limit_decisions_total").is_empty());
    CHECKS.declare().unwrap();
    CHECKS.declare().unwrap(); // again: nothing changes, no error

    // Both clauses' series of every invariant, as an annotated function exports them, each
    // at zero, in both families (severity levels are the spec's defaults: P0 critical, P1
    // high, P2 medium, P3 low).
    let mut want = Vec::new();
    for (inv, severity) in [
        ("positive_amount", "critical"),
        ("non_empty_name", "medium"),
        ("bounded_total", "low"),
        ("counter_grows", "high"),
        ("parsed_even", "high"),
        ("async_positive", "high"),
        ("generic_len", "medium"),
        ("routed_to_the_sender", "high"),
        ("no_evidence_record", "low"),
    ] {
        for c in ["requires", "ensures"] {
            want.push(format!("{{spec=\"checks\",invariant=\"{inv}\",check=\"{c}\",severity=\"{severity}\"}} 0"));
        }
    }
    want.sort();
    for family in ["pip_invariant_violations_total", "pip_invariant_checks_total"] {
        let mut got: Vec<String> = series(family).iter().map(|l| l.trim_start_matches(family).to_string()).collect();
        got.sort();
        assert_eq!(got, want, "{family}");
    }
    // The rate limit is registered with the spec's figures; its decisions start at zero.
    let decisions = series("pip_rate_limit_decisions_total");
    assert!(!decisions.is_empty() && decisions.iter().all(|l| l.contains("limit=\"per_tenant\"") && l.ends_with(" 0")), "{decisions:?}");
    let limiter = runtime().limiters().get::<u64>("checks", "per_tenant").unwrap();
    assert_eq!(limiter.config().limit, 3);
    assert_eq!(limiter.config().window, Duration::from_secs(1));
}

#[test]
fn a_ledger_opens_with_the_specs_figures() {
    let c = CHECKS.ledger_config("audit", "/data/audit.ledger").unwrap();
    assert_eq!((c.spec.as_str(), c.name.as_str(), c.path.as_path()), ("checks", "audit", Path::new("/data/audit.ledger")));
    assert_eq!(c.expected_subsystems, ["billing"]);
    // The spec sets neither: the language's defaults, as the compiler's IR has them.
    let sources = pip_compiler::source::Sources::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("macro-specs")]).unwrap();
    let compiled = pip_compiler::compile(&sources);
    let ledger = &compiled.specs[0].ledgers[0];
    assert_eq!(c.checkpoint.every_entries, ledger.checkpoint.every_entries);
    assert_eq!(c.checkpoint.every, ledger.checkpoint.every.map(|d| Duration::from_millis(d.millis)));
    assert!(c.checkpoint.every_entries.is_some() || c.checkpoint.every.is_some());
    assert_eq!(c.clock_tolerance, Duration::from_millis(ledger.clock_tolerance.millis));
    assert_eq!(c.clock_tolerance, Duration::from_secs(300), "the default `clock_tolerance`");
    assert_eq!(matches!(c.durability, Durability::EveryAppend), ledger.sync == pip_compiler::ir::Sync::EveryAppend);
    assert!(CHECKS.ledger_config("nope", "/x").is_none());
    assert_eq!(CHECKS.invariants.len(), 9);
    assert_eq!(CHECKS.invariants[0].level, "critical");
}
