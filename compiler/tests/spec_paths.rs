//! Spec files are named below their spec root, so the spec hash and every `file:line` an
//! artifact holds are the same however the specs were reached: through a folder written
//! with `..` or `.`, an absolute path, a symbolic link, or file by file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};

use pip_compiler::source::{LoadError, Sources};

const HEADER: &str = "spec shop version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/shop\"\n}\n\nledger audit {\n  key = env(\"K\")\n}\n";
const CHECKS: &str = "spec shop\n\ninvariant positive {\n  severity = P1\n  requires amount > 0\n  evidence = audit\n}\n";

/// `ops/specs/shop/{main,checks}.pips` and `ops/specs/top.pips` in a temp folder.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("ops/specs/shop");
    std::fs::create_dir_all(&shop).unwrap();
    std::fs::write(shop.join("main.pips"), HEADER).unwrap();
    std::fs::write(shop.join("checks.pips"), CHECKS).unwrap();
    std::fs::write(dir.path().join("ops/specs/top.pips"), HEADER.replace("spec shop", "spec top").replace("/shop", "/top")).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere/deep")).unwrap();
    dir
}

fn names(sources: &Sources) -> Vec<String> {
    sources.iter().map(|(_, f)| f.spec_path.clone()).collect()
}

/// The spec hash and the `file:line` of every invariant, per spec.
fn fingerprint(sources: &Sources) -> Vec<(String, String, Vec<String>)> {
    let c = pip_compiler::compile(sources);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c.specs
        .iter()
        .map(|s| {
            let sources = s.invariants.iter().map(|i| format!("{}:{}", i.source.file, i.source.line)).collect();
            (s.name.clone(), s.provenance.sha256.clone(), sources)
        })
        .collect()
}

#[test]
fn a_folder_names_its_files_from_itself_with_slashes() {
    let dir = tree();
    let sources = Sources::load(&[dir.path().join("ops/specs")]).unwrap();
    assert_eq!(names(&sources), ["shop/checks.pips", "shop/main.pips", "top.pips"]);
    assert_eq!(fingerprint(&sources)[0].2, ["shop/checks.pips:3"]);
}

#[test]
fn the_same_folder_reached_four_ways_gives_the_same_hash_and_sources() {
    let dir = tree();
    let root = dir.path();
    let plain = fingerprint(&Sources::load(&[root.join("ops/specs")]).unwrap());
    let dotted = fingerprint(&Sources::load(&[root.join("elsewhere/deep/../../ops/./specs/")]).unwrap());
    let canonical = fingerprint(&Sources::load(&[std::fs::canonicalize(root.join("ops/specs")).unwrap()]).unwrap());
    assert_eq!(plain, dotted);
    assert_eq!(plain, canonical);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("ops/specs"), root.join("link")).unwrap();
        assert_eq!(plain, fingerprint(&Sources::load(&[root.join("link")]).unwrap()));
    }
}

#[test]
fn a_file_given_directly_is_named_by_its_file_name() {
    let dir = tree();
    let shop = dir.path().join("ops/specs/shop");
    let sources = Sources::load(&[shop.join("main.pips"), shop.join("checks.pips")]).unwrap();
    assert_eq!(names(&sources), ["checks.pips", "main.pips"]);
    // The same as giving their folder.
    assert_eq!(fingerprint(&sources), fingerprint(&Sources::load(&[shop]).unwrap()));
}

#[test]
fn a_file_reached_twice_is_loaded_once_under_the_first_name() {
    let dir = tree();
    let specs = dir.path().join("ops/specs");
    let sources = Sources::load(&[specs.clone(), specs.join("shop/main.pips")]).unwrap();
    assert_eq!(names(&sources), ["shop/checks.pips", "shop/main.pips", "top.pips"]);
}

#[test]
fn two_files_with_one_name_are_refused_with_advice() {
    let dir = tree();
    let other = dir.path().join("elsewhere/main.pips");
    std::fs::write(&other, HEADER.replace("spec shop", "spec other")).unwrap();
    let err = Sources::load(&[dir.path().join("ops/specs/shop/main.pips"), other]).unwrap_err();
    assert!(matches!(&err, LoadError::SameName { spec_path, .. } if spec_path == "main.pips"), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("both named `main.pips`") && text.contains("give the folder that holds both"), "{text}");
}

#[test]
fn diagnostics_keep_the_path_as_given_while_artifacts_use_the_spec_path() {
    let dir = tree();
    let given: PathBuf = dir.path().join("ops/specs");
    let sources = Sources::load(std::slice::from_ref(&given)).unwrap();
    let (_, top) = sources.iter().find(|(_, f)| f.spec_path == "top.pips").unwrap();
    assert!(Path::new(&top.name).ends_with("ops/specs/top.pips"), "{}", top.name);
    let c = pip_compiler::compile(&sources);
    let top = c.specs.iter().find(|s| s.name == "top").unwrap();
    let ir = String::from_utf8(pip_compiler::emit::ir_json::emit(top).unwrap()[0].contents.clone()).unwrap();
    assert!(ir.contains("\"top.pips\""), "{ir}");
    assert!(!ir.contains(&given.display().to_string()), "the IR holds the path given: {ir}");
}
