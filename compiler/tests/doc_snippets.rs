//! Every spec snippet of the README and the language reference is what a user can copy: it
//! passes `pipc check` and is already in `pipc fmt`'s layout. A snippet is a fenced block tagged
//! `pips` (a whole spec file) or `pips fragment` (constructs without their `spec` block, checked
//! under a stand-in header; a name it uses but does not define, such as a ledger shown in
//! another snippet, is not an error there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use pip_compiler::diagnostics::Code;

const FILES: [&str; 2] = ["README.md", "docs/language.md"];

/// A stand-in `spec` block for fragments.
const HEADER: &str = "spec docs version \"1.0.0\" {\n  owner   = \"team-docs\"\n  runbook = \"https://runbooks.example.com/docs\"\n}\n\n";

struct Snippet {
    file: &'static str,
    line: usize,
    fragment: bool,
    text: String,
}

/// The `pips` blocks of `file`, and the number of untagged blocks that look like spec text.
fn snippets(file: &'static str) -> (Vec<Snippet>, Vec<usize>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let keywords: Vec<&str> = pip_compiler::ir::ConstructKind::ALL.iter().map(|k| k.keyword()).chain(["spec"]).collect();
    let (mut out, mut untagged) = (Vec::new(), Vec::new());
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else { continue };
        let indent = line.len() - line.trim_start().len();
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            body.push_str(l.get(indent..).unwrap_or(l.trim_start()));
            body.push('\n');
        }
        match info.trim() {
            "pips" => out.push(Snippet { file, line: n + 1, fragment: false, text: body }),
            "pips fragment" => out.push(Snippet { file, line: n + 1, fragment: true, text: body }),
            "" if keywords.iter().any(|k| body.trim_start().starts_with(&format!("{k} "))) => untagged.push(n + 1),
            _ => {}
        }
    }
    (out, untagged)
}

#[test]
fn every_spec_snippet_of_the_docs_checks_and_is_formatted() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in FILES {
        let (snippets, untagged) = snippets(file);
        for line in untagged {
            failures.push(format!("{file}:{line}: a spec snippet without the `pips` tag (tag it `pips` or `pips fragment`)"));
        }
        for s in snippets {
            count += 1;
            let at = format!("{}:{}", s.file, s.line);
            let whole = if s.fragment { format!("{HEADER}{}", s.text) } else { s.text.clone() };
            let (sources, c) = pip_compiler::compile_str("snippet.pips", &whole);
            let errors: Vec<String> = c
                .diagnostics
                .iter()
                .filter(|d| d.is_error() && !(s.fragment && d.code == Code::Unresolved))
                .map(|d| format!("{}: {}", d.code.as_str(), d.message))
                .collect();
            if !errors.is_empty() {
                failures.push(format!(
                    "{at}: `pipc check` reports\n  {}\n{}",
                    errors.join("\n  "),
                    pip_compiler::diagnostics::render_human(&sources, &c.diagnostics, pip_compiler::diagnostics::Style::default())
                ));
                continue;
            }
            let ast = pip_compiler::text_to_ast::parse(pip_compiler::span::FileId(0), &s.text).unwrap();
            let formatted = pip_compiler::fmt::format(&s.text, &ast);
            if formatted != s.text {
                failures.push(format!("{at}: not in `pipc fmt`'s layout; formatted it reads:\n{formatted}"));
            }
        }
    }
    assert!(count >= 12, "only {count} snippets found");
    assert!(failures.is_empty(), "{} snippet(s) to fix:\n\n{}", failures.len(), failures.join("\n\n"));
}
