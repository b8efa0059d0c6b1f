//! A service's build compiles pip's front end and nothing heavier: `pip-runtime` (which every
//! service depends on) and the proc-macro it re-exports reach the compiler only through
//! `pip-frontend` with its default features off, so neither the emitters, nor the PromQL
//! parser, nor miette's graphical renderer is built into a service; nor the Ed25519 curve
//! arithmetic of signed checkpoints unless the service turns on the runtime's `signing`.
//!
//! The dependency graph is asked of cargo itself (`cargo tree`, offline, with the lock file
//! as committed), so a new dependency path to a heavy crate fails here whichever crate adds it.
#![allow(missing_docs, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

/// Crates a service must not compile, and why each is heavy.
const FORBIDDEN: &[(&str, &str)] = &[
    ("pip-compiler", "the emitters (Prometheus, promtool, Grafana)"),
    ("pip-bundle", "incident bundles (archives, timelines)"),
    ("promql-parser", "the PromQL parser (the front end's `promql` feature)"),
    ("serde_norway", "YAML output of the emitters"),
    ("regex-syntax", "the emitters' regex checks"),
    ("handlebars", "the bundle timeline's templates"),
    ("zip", "bundle archives"),
    ("textwrap", "miette's graphical renderer (the front end's `fancy` feature)"),
    ("owo-colors", "miette's graphical renderer (the front end's `fancy` feature)"),
    ("supports-color", "miette's graphical renderer (the front end's `fancy` feature)"),
    ("terminal_size", "miette's graphical renderer (the front end's `fancy` feature)"),
    ("ed25519-dalek", "signed checkpoints (the runtime's `signing` feature, which `pipc` turns on)"),
    ("curve25519-dalek", "signed checkpoints (the runtime's `signing` feature, which `pipc` turns on)"),
];

/// The names of the crates `package`'s build compiles (normal and build dependencies, with
/// the features building `package` alone turns on).
fn build_dependencies(package: &str) -> BTreeSet<String> {
    let manifest = pip_tests::root().join("Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .arg("tree")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", package, "-e", "normal,build", "--offline", "--locked", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cargo tree -p {package} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    // Each line is `name vX.Y.Z [(path)] [(proc-macro)] [(*)]`.
    let names: BTreeSet<String> = stdout.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    assert!(names.contains(package), "`{package}` is not in its own tree:\n{stdout}");
    names
}

fn assert_slim(package: &str) {
    let names = build_dependencies(package);
    assert!(names.contains("pip-frontend"), "`{package}` no longer builds `pip-frontend`: {names:?}");
    let heavy: Vec<String> =
        FORBIDDEN.iter().filter(|(name, _)| names.contains(*name)).map(|(name, why)| format!("`{name}` ({why})")).collect();
    assert!(heavy.is_empty(), "`{package}`'s build compiles {}; see `cargo tree -p {package} -i <crate>`", heavy.join(", "));
}

#[test]
fn the_runtime_builds_the_front_end_but_no_emitter_or_renderer() {
    assert_slim("pip-runtime");
}

#[test]
fn the_proc_macro_builds_the_front_end_but_no_emitter_or_renderer() {
    assert_slim("pip-macros");
}

/// The list above names crates that exist: the CLI's build, which needs everything, has them
/// all, so a renamed crate cannot leave a check that passes for nothing.
#[test]
fn every_forbidden_crate_is_one_the_cli_builds() {
    let names = build_dependencies("pipc");
    let unknown: Vec<&str> = FORBIDDEN.iter().map(|(name, _)| *name).filter(|name| !names.contains(*name)).collect();
    assert!(unknown.is_empty(), "not in `pipc`'s build, so not worth forbidding (renamed?): {unknown:?}");
}
