//! `docs/diagnostics.md` and [`Code`] stay in step: the page lists every code once, in the
//! enum's order, with the enum's explanation, and each code's example (or named fixture)
//! compiles to exactly that code. A code that no spec can trigger would fail here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};

use pip_compiler::diagnostics::Code;
use pip_compiler::source::{SourceFile, Sources};

/// Codes only a compiler bug can produce: documented, with no example.
const UNTRIGGERABLE: [Code; 1] = [Code::Internal];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One `## `pips::...`` section of the page.
#[derive(Debug, Default)]
struct Section {
    code: String,
    explanation: String,
    /// Each ```pips block, split into (file name, text) by `// file: NAME` lines.
    examples: Vec<Vec<(String, String)>>,
    /// Paths from `Fixture: `...`` lines.
    fixtures: Vec<String>,
}

fn sections() -> Vec<Section> {
    let text = std::fs::read_to_string(repo().join("docs/diagnostics.md")).unwrap();
    let mut out: Vec<Section> = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in text.lines() {
        if let Some(lines) = &mut block {
            if line == "```" {
                let lines = block.take().unwrap();
                out.last_mut().expect("an example before the first code").examples.push(split_files(&lines));
            } else {
                lines.push(line);
            }
            continue;
        }
        if let Some(code) = line.strip_prefix("## `").and_then(|l| l.strip_suffix('`')) {
            out.push(Section { code: code.to_string(), ..Section::default() });
        } else if line == "```pips" {
            block = Some(Vec::new());
        } else if let Some(s) = out.last_mut() {
            if let Some(path) = line.strip_prefix("Fixture: `").and_then(|l| l.split_once('`')).map(|(p, _)| p) {
                s.fixtures.push(path.to_string());
            } else if s.explanation.is_empty() && !line.trim().is_empty() {
                s.explanation = line.to_string();
            }
        }
    }
    assert!(block.is_none(), "an unclosed ```pips block in docs/diagnostics.md");
    out
}

fn split_files(lines: &[&str]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in lines {
        match line.strip_prefix("// file: ") {
            Some(name) => files.push((name.trim().to_string(), String::new())),
            None => {
                if files.is_empty() {
                    files.push(("demo.pips".to_string(), String::new()));
                }
                let (_, text) = files.last_mut().unwrap();
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    files
}

/// The codes of every diagnostic of a compilation, in order.
fn codes_of(sources: &Sources) -> Vec<&'static str> {
    pip_compiler::compile(sources).diagnostics.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn the_page_lists_every_code_once_in_order_with_its_explanation() {
    let page = sections();
    let listed: Vec<&str> = page.iter().map(|s| s.code.as_str()).collect();
    let declared: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, declared, "docs/diagnostics.md and diagnostics::Code list different codes");
    for (s, code) in page.iter().zip(Code::ALL) {
        assert_eq!(s.explanation, code.explanation(), "{}: the page's explanation differs from the enum's", s.code);
    }
}

#[test]
fn every_example_produces_exactly_its_code() {
    let mut wrong = String::new();
    for s in sections() {
        for files in &s.examples {
            let mut sources = Sources::new();
            for (name, text) in files {
                sources.add(SourceFile::new(name.clone(), text.as_str()));
            }
            let codes = codes_of(&sources);
            if codes.is_empty() || codes.iter().any(|c| *c != s.code) {
                let shown: String = files.iter().map(|(n, t)| format!("// file: {n}\n{t}")).collect();
                wrong.push_str(&format!("the example of {} produces {codes:?}:\n{shown}\n", s.code));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
}

#[test]
fn every_named_fixture_produces_its_code() {
    for s in sections() {
        for path in &s.fixtures {
            let full = repo().join(path);
            let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{}: fixture {path}: {e}", s.code));
            let mut sources = Sources::new();
            sources.add(SourceFile::from_bytes(path.clone(), full, bytes));
            let codes = codes_of(&sources);
            assert!(codes.contains(&s.code.as_str()), "{path} should produce {}, produces {codes:?}", s.code);
        }
    }
}

#[test]
fn every_code_but_the_untriggerable_has_an_example_or_fixture() {
    for s in sections() {
        let untriggerable = UNTRIGGERABLE.iter().any(|c| c.as_str() == s.code);
        let shown = !s.examples.is_empty() || !s.fixtures.is_empty();
        assert!(shown != untriggerable, "{}: {}", s.code, if shown { "shown but listed as untriggerable" } else { "has no example" });
    }
}
