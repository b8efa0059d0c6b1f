//! At the bounds the checker accepts (durations, `for`, rejected-ratio decimal places, rate
//! limits; `tests/fixtures/valid/largest_accepted_values.pips` uses every maximum, and
//! `tests/fixtures/invalid/*_too_*.pips` go one past each), the generated promtool tests stay
//! exact; past them, the emitter refuses an IR rather than wrap, panic or hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pip_compiler::source::{SourceFile, Sources};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/valid/largest_accepted_values.pips")
}

fn load(path: &Path) -> Sources {
    let mut s = Sources::new();
    s.add(SourceFile::from_bytes("tests/fixtures/valid/largest_accepted_values.pips", path.to_path_buf(), std::fs::read(path).unwrap()));
    s
}

/// One `a+bxn` / `axn` / `a` promtool series expansion: its first and last sample (`_`, a
/// missing sample, has none).
fn samples(values: &str) -> Option<(f64, f64)> {
    if values == "_" || values == "stale" {
        return None;
    }
    let Some((head, count)) = values.rsplit_once('x') else {
        let v: f64 = values.parse().unwrap();
        return Some((v, v));
    };
    let count: f64 = count.parse().unwrap();
    Some(match head.split_once('+') {
        Some((start, inc)) => {
            let (start, inc): (f64, f64) = (start.parse().unwrap(), inc.parse().unwrap());
            (start, start + inc * count)
        }
        None => (head.parse().unwrap(), head.parse().unwrap()),
    })
}

/// The per-sample increment of the counter series of `outcome` in a promtool test group.
fn increment(group: &serde_json::Value, outcome: &str) -> f64 {
    let s = group["input_series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["series"].as_str().unwrap().contains(&format!("outcome=\"{outcome}\"")))
        .unwrap();
    let values = s["values"].as_str().unwrap();
    let (head, _) = values.rsplit_once('x').unwrap();
    head.split_once('+').map_or(0.0, |(_, inc)| inc.parse().unwrap())
}

/// At the largest accepted values the promtool tests are still exact: every sample is an
/// integer within 2^53, and the rejected ratio PromQL computes (one-minute samples, a 5m
/// `rate` extrapolated by 5/4) is exactly the threshold at the boundary, and on the right side
/// of it just past and just inside.
#[test]
fn the_largest_accepted_values_build_and_their_promtool_ratios_are_exact() {
    let path = fixture();
    let c = pip_compiler::compile(&load(&path));
    assert!(!c.has_errors());
    let spec = &c.specs[0];
    let artifacts = pip_compiler::emit::emit_all(&c.specs).unwrap();
    let rules = artifacts.iter().find(|a| a.path.ends_with(".rules.yml")).unwrap();
    let rules = String::from_utf8(rules.contents.clone()).unwrap();
    assert!(rules.contains("more than 0.000001% of requests (ratio > 0.00000001)"), "{rules}");
    assert!(rules.contains("more than 99.999999% of requests (ratio >= 0.99999999)"), "{rules}");
    let tests = artifacts.iter().find(|a| a.path.ends_with(".test.yml")).unwrap();
    let tests: serde_json::Value = serde_norway::from_slice(&tests.contents).unwrap();
    let groups = tests["tests"].as_array().unwrap();
    let exact = (1u64 << 53) as f64;
    for g in groups {
        for s in g["input_series"].as_array().unwrap() {
            let values = s["values"].as_str().unwrap();
            let counter = s["series"].as_str().unwrap().contains("outcome=");
            for part in values.split(' ') {
                let Some((first, last)) = samples(part) else { continue };
                for v in [first, last] {
                    assert!(v.abs() <= exact, "{}: sample {v} of {values}", g["name"]);
                    assert!(!counter || v.fract() == 0.0, "{}: sample {v} of {values}", g["name"]);
                }
            }
        }
    }
    let rate = |inc: f64| 4.0 * inc * 1.25 / 300.0;
    let mut checked = 0;
    for rl in &spec.rate_limits {
        let threshold = rl.alert.as_ref().unwrap().ratio;
        let by_title: BTreeMap<&str, &serde_json::Value> = groups
            .iter()
            .filter_map(|g| {
                let name = g["name"].as_str()?;
                name.strip_prefix(&format!("PipRateLimitRejecting {} ", rl.name)).map(|rest| (rest, g))
            })
            .collect();
        let ratio = |title: &str| {
            let g = by_title[title];
            let (allowed, rejected) = (increment(g, "allowed"), increment(g, "rejected"));
            rate(rejected) / (rate(allowed) + rate(rejected))
        };
        assert_eq!(ratio("at the boundary: exactly at its ratio"), threshold, "{}", rl.name);
        assert!(ratio("fires just past its ratio") > threshold, "{}", rl.name);
        assert!(ratio("at the boundary: just inside its ratio") < threshold, "{}", rl.name);
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// The emitter does not trust the checker: an IR built past its bounds (a tool, a future
/// checker bug) is an error, never a wrapped counter, a panic or a hang.
#[test]
fn an_ir_past_the_checkers_bounds_is_an_emit_error_not_a_panic_or_a_hang() {
    let path = fixture();
    let c = pip_compiler::compile(&load(&path));
    let spec = &c.specs[0];
    let emit = pip_compiler::emit::prometheus::EMITTER.emit;
    let mut too_fine = spec.clone();
    too_fine.rate_limits[0].alert.as_mut().unwrap().ratio = 0.000_000_000_000_001;
    let mut too_long = spec.clone();
    too_long.thresholds[0].conditions[0].for_ = pip_compiler::units::Duration::from_millis(100_000 * 365 * 86_400_000);
    let mut too_long_ratio = spec.clone();
    too_long_ratio.rate_limits[0].alert.as_mut().unwrap().for_ = pip_compiler::units::Duration::from_millis(u64::MAX);
    for (what, spec) in [("ratio", too_fine), ("for", too_long), ("ratio for", too_long_ratio)] {
        match emit(&spec) {
            Err(e @ pip_compiler::emit::EmitError::Unrepresentable { .. }) => assert!(e.to_string().contains(".test.yml"), "{e}"),
            other => panic!("{what}: expected an unrepresentable-value error, got {:?}", other.map(|a| a.len())),
        }
    }
}
