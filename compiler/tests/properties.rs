//! Properties: the parser never panics, whatever the input; `fmt` is idempotent, keeps every
//! comment and never changes the IR.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};

use pip_compiler::source::{SourceFile, Sources};
use pip_compiler::span::FileId;
use proptest::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every valid spec the repository holds: the bundled specs and the valid fixtures.
fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root().join("specs"), root().join("tests/fixtures/valid")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pips") {
                out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 8);
    out
}

/// Compiles one file on its own, for specs that are complete in one file. Multi-file specs
/// (`spec gateway` continuation files) are compiled with their directory.
fn compile(name: &str, text: &str) -> pip_compiler::Compilation {
    let mut sources = Sources::new();
    sources.add(SourceFile::new(name, text));
    pip_compiler::compile(&sources)
}

fn single_file_specs() -> Vec<(String, String)> {
    corpus().into_iter().filter(|(n, _)| !n.contains("/gateway/")).collect()
}

fn format(text: &str) -> String {
    let ast = pip_compiler::text_to_ast::parse(FileId(0), text).unwrap();
    pip_compiler::fmt::format(text, &ast)
}

fn comments(text: &str) -> Vec<String> {
    let ast = pip_compiler::text_to_ast::parse(FileId(0), text).unwrap();
    let mut c: Vec<String> = ast.comments.into_iter().map(|c| c.text).collect();
    c.sort();
    c
}

/// Tokens that make mutations likely to reach deep into the grammar.
const VOCABULARY: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "=",
    ",",
    "\"",
    "`",
    "'",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "spec",
    "ledger",
    "invariant",
    "rate_limit",
    "threshold",
    "versioned",
    "bundle",
    "dashboard",
    "requires",
    "ensures",
    "every",
    "or",
    "entries",
    "when",
    "for",
    "severity",
    "P0",
    "P9",
    "per",
    "0s",
    "-1m",
    "5MiB",
    "1e309",
    "\\u{D800}",
    "\\",
    "r#\"",
    "#",
    "é",
    "\u{0}",
    "include",
    "row",
    "labels",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutate(text: &str, muts: &[Mutation]) -> String {
    let mut s = text.to_string();
    for m in muts {
        let at = |i: usize, s: &str| {
            let mut i = i % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match *m {
            Mutation::Delete(i, n) => {
                let a = at(i, &s);
                let b = at(a + n % 40, &s).max(a);
                s.replace_range(a..b, "");
            }
            Mutation::Insert(i, t) => {
                let a = at(i, &s);
                s.insert_str(a, VOCABULARY[t % VOCABULARY.len()]);
            }
            Mutation::Duplicate(i, n) => {
                let a = at(i, &s);
                let b = at(a + n % 200, &s).max(a);
                let piece = s[a..b].to_string();
                s.insert_str(b, &piece);
            }
            Mutation::Truncate(i) => {
                let a = at(i, &s);
                s.truncate(a);
            }
        }
    }
    s
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Layout changes that must not change meaning: indentation, spacing around `=`, blank lines,
/// and comments on their own lines or at line ends (outside multi-line expressions).
#[derive(Debug, Clone)]
struct Relayout {
    indent: Vec<u8>,
    trailing_comment: Vec<bool>,
    own_line_comment: Vec<bool>,
    blank: Vec<bool>,
    squeeze_equals: bool,
}

fn relayout() -> impl Strategy<Value = Relayout> {
    (
        proptest::collection::vec(0u8..7, 200),
        proptest::collection::vec(proptest::bool::weighted(0.2), 200),
        proptest::collection::vec(proptest::bool::weighted(0.15), 200),
        proptest::collection::vec(proptest::bool::weighted(0.2), 200),
        any::<bool>(),
    )
        .prop_map(|(indent, trailing_comment, own_line_comment, blank, squeeze_equals)| Relayout {
            indent,
            trailing_comment,
            own_line_comment,
            blank,
            squeeze_equals,
        })
}

fn apply(text: &str, r: &Relayout) -> String {
    let mut out = String::new();
    let mut depth = 0i32; // open parens: lines inside a multi-line Rust expression are left alone
    for (i, line) in text.lines().enumerate() {
        let k = i % 200;
        let trimmed = line.trim_start();
        let inside = depth > 0;
        let opens = line.matches('(').count() as i32 - line.matches(')').count() as i32;
        depth += opens;
        if inside || opens != 0 || trimmed.starts_with("/*") || trimmed.starts_with('*') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if r.blank[k] && !trimmed.is_empty() {
            out.push('\n');
        }
        if r.own_line_comment[k] {
            out.push_str(&format!("// own line {i}\n"));
        }
        let mut l = format!("{}{}", " ".repeat(r.indent[k] as usize), trimmed);
        if r.squeeze_equals && !l.contains('"') && !l.contains('`') {
            l = l.replace(" = ", "=");
        }
        if r.trailing_comment[k] && !trimmed.is_empty() && !trimmed.contains("//") {
            l.push_str(&format!("   /* trailing {i} */"));
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = compile("t.pips", &text);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut sources = Sources::new();
        sources.add(SourceFile::from_bytes("t.pips", PathBuf::new(), bytes));
        let c = pip_compiler::compile(&sources);
        let _ = pip_compiler::diagnostics::render_human(&sources, &c.diagnostics, Default::default());
    }

    #[test]
    fn the_compiler_never_panics_on_mutated_valid_specs(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let corpus = corpus();
        let (name, text) = &corpus[pick % corpus.len()];
        let mutated = mutate(text, &muts);
        let mut sources = Sources::new();
        sources.add(SourceFile::new(name.clone(), mutated.clone()));
        let c = pip_compiler::compile(&sources);
        // Rendering must not panic either, and must name a position for every diagnostic.
        let json = pip_compiler::diagnostics::render_json(&sources, &c.diagnostics);
        prop_assert_eq!(json.lines().count(), c.diagnostics.len());
        // Whatever parses, formats; what formats verifies (or fmt refuses to write).
        if let Ok(ast) = pip_compiler::text_to_ast::parse(FileId(0), &mutated) {
            let formatted = pip_compiler::fmt::format(&mutated, &ast);
            prop_assert!(pip_compiler::fmt::verify(&mutated, &ast, &formatted).is_ok(), "fmt output fails verification:\n{}", formatted);
        }
    }

    #[test]
    fn fmt_is_idempotent_keeps_comments_and_preserves_the_ir(pick in any::<usize>(), layout in relayout()) {
        let specs = single_file_specs();
        let (name, text) = &specs[pick % specs.len()];
        let original = compile(name, text);
        prop_assert!(!original.has_errors());
        let shuffled = apply(text, &layout);
        let before = compile(name, &shuffled);
        prop_assert!(!before.has_errors(), "relayout broke the spec:\n{}", shuffled);
        prop_assert_eq!(&before.specs, &original.specs);
        let once = format(&shuffled);
        let twice = format(&once);
        prop_assert_eq!(&once, &twice, "fmt is not idempotent");
        prop_assert_eq!(comments(&once), comments(&shuffled), "comments changed");
        let after = compile(name, &once);
        prop_assert!(!after.has_errors());
        prop_assert_eq!(&after.specs, &original.specs, "fmt changed the IR");
    }
}

#[test]
fn every_bundled_spec_is_formatted() {
    for (name, text) in corpus().into_iter().filter(|(n, _)| n.contains("/specs/")) {
        assert_eq!(format(&text), text, "{name} is not in canonical format; run `pipc fmt`");
    }
}
