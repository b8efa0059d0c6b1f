//! The VS Code grammar (`editors/vscode/syntaxes/pips.tmLanguage.json`) against the compiler:
//! its construct keywords and settings are the registry's and the front end's tables, and the
//! real TextMate engine (vscode-textmate + Oniguruma, run by
//! `editors/vscode/tests/grammar.test.js`) tokenizes every bundled spec as the language reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pip_frontend::ast_to_ir::{SPEC_SETTINGS, settings};
use pip_frontend::ir::ConstructKind;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn grammar() -> serde_json::Value {
    let path = root().join("editors/vscode/syntaxes/pips.tmLanguage.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The words of the first `(a|b|c)` group of a pattern.
fn alternatives(pattern: &str) -> Vec<String> {
    let open = pattern.find("\\b(").unwrap() + 3;
    let close = open + pattern[open..].find(')').unwrap();
    pattern[open..close].split('|').map(str::to_string).collect()
}

fn keywords() -> Vec<String> {
    std::iter::once("spec").chain(ConstructKind::ALL.map(ConstructKind::keyword)).map(str::to_string).collect()
}

#[test]
fn the_grammars_keywords_are_the_registrys() {
    let g = grammar();
    let pattern = g["repository"]["construct"]["match"].as_str().unwrap();
    assert_eq!(alternatives(pattern), keywords(), "update the `construct` pattern of pips.tmLanguage.json from ConstructKind::ALL");
}

#[test]
fn the_grammars_settings_are_the_front_ends() {
    let g = grammar();
    let pattern = g["repository"]["settings"]["match"].as_str().unwrap();
    let got: BTreeSet<String> = alternatives(pattern).into_iter().collect();
    let expected: BTreeSet<String> =
        ConstructKind::ALL.into_iter().flat_map(settings).chain(SPEC_SETTINGS.iter()).map(|s| s.to_string()).collect();
    assert_eq!(got, expected, "update the `settings` pattern of pips.tmLanguage.json from pip_frontend::ast_to_ir::settings");
}

#[test]
fn the_textmate_engine_tokenizes_every_bundled_spec() {
    let dir = root().join("editors/vscode");
    assert!(
        Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()),
        "`node` is not installed: the grammar is checked with Node.js (`apt-get install nodejs npm`; tests/run-all.sh installs it)"
    );
    assert!(
        dir.join("node_modules/vscode-textmate").is_dir() && dir.join("node_modules/vscode-oniguruma").is_dir(),
        "vscode-textmate is not installed in editors/vscode; run `npm ci` there (tests/run-all.sh does)"
    );
    let out = Command::new("node")
        .arg("tests/grammar.test.js")
        .arg(root())
        .env("PIPS_KEYWORDS", keywords().join(","))
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("grammar ok"), "{text}");
}
