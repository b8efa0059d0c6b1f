//! Keeps docs/ARCHITECTURE.md and the README's folder table true: every path the map names
//! exists, the "adding a construct kind" checklist holds for every kind of the registry
//! (`ConstructKind::ALL`), and every workspace crate and top-level folder is in the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::PathBuf;

use pip_compiler::ir::ConstructKind;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The backticked spans of a text.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Whether a backticked span is a repository path: it has a `/` and names a file type or a folder.
fn is_repo_path(s: &str) -> bool {
    let top = ["compiler/", "macros/", "runtime/", "tests/", "examples/", "docs/", "specs/", "generated/"];
    top.iter().any(|t| s.starts_with(t)) && !s.contains(' ')
}

#[test]
fn every_path_the_map_names_exists() {
    let doc = read("docs/ARCHITECTURE.md");
    let mut checked = 0;
    for span in backticked(&doc) {
        if !is_repo_path(span) || span.contains('<') || span.contains('*') {
            continue;
        }
        let path = span.split(':').next().unwrap_or(span);
        assert!(root().join(path).exists(), "docs/ARCHITECTURE.md names `{path}`, which does not exist");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} paths found in docs/ARCHITECTURE.md: did its format change?");
}

/// One row of the checklist: a per-kind path pattern and the kinds that have no module there.
struct Row {
    pattern: String,
    without: Vec<String>,
}

fn checklist() -> Vec<Row> {
    let doc = read("docs/ARCHITECTURE.md");
    let section = doc.split("## Adding a construct kind").nth(1).expect("the checklist section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [_, place, without] = cells[..] else { continue };
        let Some(pattern) = backticked(place).into_iter().find(|p| p.contains("<kind>") && is_repo_path(p)) else { continue };
        let without = backticked(without).into_iter().map(str::to_string).collect();
        rows.push(Row { pattern: pattern.to_string(), without });
    }
    rows
}

#[test]
fn the_checklist_holds_for_every_kind_of_the_registry() {
    let rows = checklist();
    assert!(
        rows.len() >= 5,
        "the checklist of docs/ARCHITECTURE.md has {} per-kind rows; expected the IR, check, plan, scenarios and panels",
        rows.len()
    );
    let keywords: Vec<&str> = ConstructKind::ALL.iter().map(|k| k.keyword()).collect();
    for row in &rows {
        for w in &row.without {
            assert!(keywords.contains(&w.as_str()), "the checklist row `{}` names `{w}`, which is not a construct kind", row.pattern);
        }
        for kind in &keywords {
            let path = row.pattern.replace("<kind>", kind);
            let exists = root().join(&path).exists();
            let exempt = row.without.iter().any(|w| w == kind);
            assert!(exists || exempt, "construct kind `{kind}` has no `{path}` (docs/ARCHITECTURE.md, adding a construct kind)");
            assert!(!(exists && exempt), "`{path}` exists, but the checklist says `{kind}` has none there");
        }
    }
    let language = read("docs/language.md");
    for kind in &keywords {
        assert!(language.contains(&format!("\n## `{kind}`")), "docs/language.md has no `## `{kind}`` section");
    }
}

#[test]
fn the_readme_lists_every_crate_and_top_level_folder() {
    let readme = read("README.md");
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    let listed = |folder: &str| table.iter().any(|l| l.starts_with(&format!("| `{folder}/`")) || l.starts_with(&format!("| `{folder}` ")));
    let manifest = read("Cargo.toml");
    let members = manifest.split("members = [").nth(1).and_then(|m| m.split(']').next()).expect("workspace members");
    let mut n = 0;
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        assert!(listed(member), "the README's folder table does not list the workspace member `{member}/`");
        n += 1;
    }
    assert!(n >= 8, "{n} workspace members");
    for entry in std::fs::read_dir(root()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() && !name.starts_with('.') && name != "target" {
            assert!(
                listed(&name) || table.iter().any(|l| l.starts_with(&format!("| `{name}/"))),
                "the README's folder table does not list `{name}/`"
            );
        }
    }
}
