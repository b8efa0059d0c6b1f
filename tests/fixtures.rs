//! Spec fixtures: every `valid/*.pips` compiles with zero errors and pins its IR; every
//! `invalid/*.pips` gives at least one error, the errors its `// expect:` lines name (code and
//! underlined text), and pins its rendered diagnostics. Every diagnostic code the compiler
//! can emit ([`Code::ALL`]) is exercised by some fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pip_compiler::diagnostics::{self, Code, Diagnostic, Style};
use pip_compiler::source::{SourceFile, Sources};
use pip_tests::root;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures").join(kind);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "pips")).collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// A fixture, shown in diagnostics by its path from the repository root (as typed there) and
/// named in the IR by its file name (its spec root is its folder, as `pipc check FILE` has it).
fn load(path: &Path) -> Sources {
    let name = format!("tests/fixtures/{}", path.strip_prefix(root().join("tests/fixtures")).unwrap().display());
    let mut s = Sources::new();
    s.add(SourceFile::from_bytes(name, path.to_path_buf(), std::fs::read(path).unwrap()).with_spec_path(file_name(path)));
    s
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("tests/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    // The compiler version changes with every release; the snapshots pin the content.
    s.add_filter(r"pipc \d+\.\d+\.\d+", "pipc [version]");
    s.add_filter(r#""compiler": "\d+\.\d+\.\d+""#, r#""compiler": "[version]""#);
    s
}

fn render(sources: &Sources, diags: &[Diagnostic]) -> String {
    diagnostics::render_human(sources, diags, Style { color: false, unicode: true, width: 100 })
}

/// `// expect: pips::code "underlined text"` lines at the top of a fixture.
fn expectations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .take_while(|l| l.starts_with("// expect:"))
        .map(|l| {
            let rest = l.trim_start_matches("// expect:").trim();
            let (code, quoted) = rest.split_once(' ').expect("expect line: code then quoted text");
            let inner = quoted.trim().strip_prefix('"').and_then(|q| q.strip_suffix('"')).expect("quoted underline text");
            (code.to_string(), inner.replace("\\\"", "\"").replace("\\\\", "\\"))
        })
        .collect()
}

#[test]
fn valid_fixtures_compile_without_errors_and_pin_their_ir() {
    for path in fixtures("valid") {
        let sources = load(&path);
        let c = pip_compiler::compile(&sources);
        let errors: Vec<&Diagnostic> = c.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{} has errors:\n{}", path.display(), render(&sources, &c.diagnostics));
        assert_eq!(c.specs.len(), 1, "{}", path.display());
        let ir = pip_compiler::emit::ir_json::emit(&c.specs[0]).unwrap();
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let ast = pip_compiler::text_to_ast::parse(pip_compiler::span::FileId(0), &text).unwrap();
        let formatted = pip_compiler::fmt::format(&text, &ast);
        pip_compiler::fmt::verify(&text, &ast, &formatted).unwrap();
        settings().bind(|| {
            insta::assert_snapshot!(format!("ir@{name}"), String::from_utf8(ir[0].contents.clone()).unwrap());
            insta::assert_snapshot!(format!("fmt@{name}"), formatted);
            if !c.diagnostics.is_empty() {
                insta::assert_snapshot!(format!("diagnostics@{name}"), render(&sources, &c.diagnostics));
            }
        });
    }
}

#[test]
fn invalid_fixtures_report_the_expected_errors_on_the_expected_text() {
    for path in fixtures("invalid") {
        let sources = load(&path);
        let c = pip_compiler::compile(&sources);
        let name = file_name(&path);
        assert!(c.has_errors(), "{name} compiled without errors");
        assert!(c.specs.is_empty(), "{name}: a spec with errors produced IR");
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let mut expected = expectations(&text);
        if name == "empty.pips" {
            expected.push(("pips::spec-header".into(), String::new()));
        }
        assert!(!expected.is_empty(), "{name} has no `// expect:` line");
        for (code, underlined) in &expected {
            let file = sources.get(c.diagnostics[0].span.file).unwrap();
            let found = c.diagnostics.iter().any(|d| d.code.as_str() == code && d.is_error() && file.slice(d.span) == underlined);
            assert!(
                found,
                "{name}: expected {code} on {underlined:?}, got:\n{}",
                c.diagnostics.iter().map(|d| format!("{} on {:?}: {}\n", d.code, file.slice(d.span), d.message)).collect::<String>()
            );
        }
        settings().bind(|| insta::assert_snapshot!(format!("diagnostics@{name}"), render(&sources, &c.diagnostics)));
    }
}

/// Every diagnostic code ([`Code::ALL`]) is produced by at least one fixture.
#[test]
fn every_diagnostic_code_has_a_fixture() {
    let mut emitted = HashSet::new();
    for kind in ["valid", "invalid"] {
        for path in fixtures(kind) {
            let c = pip_compiler::compile(&load(&path));
            emitted.extend(c.diagnostics.iter().map(|d| d.code));
        }
    }
    // Codes a single fixture file cannot show. `docs/diagnostics.md` has an example of each,
    // compiled by `compiler/tests/diagnostics_doc.rs`.
    let elsewhere = [
        // Only a compiler bug produces it.
        Code::Internal,
        // About several files at once (also covered by `compiler/cli/tests/cli.rs`).
        Code::SpecDirectory,
        Code::DuplicateDashboard,
    ];
    let missing: Vec<&str> = Code::ALL.iter().filter(|c| !emitted.contains(*c) && !elsewhere.contains(*c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "diagnostic codes without a fixture: {missing:?}");
    let covered: Vec<&str> = elsewhere.iter().filter(|c| emitted.contains(*c)).map(|c| c.as_str()).collect();
    assert!(covered.is_empty(), "now produced by a fixture, drop them from `elsewhere`: {covered:?}");
}

/// The artifacts of the bundled specs, pinned to their spec sources.
#[test]
fn generated_artifacts_of_the_bundled_specs_are_pinned() {
    let c = pip_compiler::compile(&pip_tests::load("specs"));
    assert!(!c.has_errors());
    let settings = settings();
    for spec in &c.specs {
        let artifacts = pip_compiler::emit::emit_all(std::slice::from_ref(spec)).unwrap();
        for a in artifacts {
            let text = String::from_utf8(a.contents.clone()).unwrap();
            let name = if a.path.ends_with(".rules.yml") {
                format!("prometheus@{}", spec.name)
            } else if let Some(file) = a.path.strip_suffix(".test.yml") {
                // `<spec>`, or `<spec>.slo_<interval>` for an SLO test file.
                format!("promtool-test@{}", file.trim_start_matches("prometheus/"))
            } else if let Some(d) = a.path.strip_prefix("grafana/") {
                format!("grafana@{}", d.trim_end_matches(".json"))
            } else if a.path.ends_with(".manifest.json") {
                format!("bundles@{}", spec.name)
            } else if a.path.starts_with("alertmanager/") {
                format!("alertmanager@{}", spec.name)
            } else {
                continue;
            };
            settings.bind(|| insta::assert_snapshot!(name, text));
        }
    }
}
