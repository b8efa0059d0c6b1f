//! `pipc build` of the same specs gives the same bytes whatever directory it runs in and
//! whatever path reaches the specs: every path an artifact holds is relative to the spec
//! root.
//!
//! The test changes the process's working directory, so this binary holds this one test
//! and nothing else runs beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pip_tests::root;

/// Every file below `dir`, by its path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// `pipc <args>` run in `cwd`; exit code and stderr.
fn pipc(cwd: &Path, args: &[&str]) -> (u8, String) {
    std::env::set_current_dir(cwd).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = pipc::run(std::iter::once("pipc").chain(args.iter().copied()), &mut out, &mut err);
    (code, format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() { copy_dir(&p, &target) } else { std::fs::copy(&p, &target).map(drop).unwrap() }
    }
}

#[test]
fn the_same_specs_build_the_same_bytes_from_any_directory_and_check_passes_from_each() {
    let tmp = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(tmp.path()).unwrap();
    copy_dir(&root().join("specs"), &base.join("ops/specs"));
    let nested = base.join("ops/deep/nested");
    std::fs::create_dir_all(&nested).unwrap();
    let abs = |p: &str| base.join(p).to_string_lossy().into_owned();

    // (working directory, path to the specs, output folder) — the parent of `ops`, a folder
    // nested beside the specs, the filesystem root, and a symbolic link to the specs.
    let mut runs: Vec<(PathBuf, String, String)> = vec![
        (base.clone(), "ops/specs".into(), "out-parent".into()),
        (nested.clone(), "../../specs".into(), "../../../out-nested".into()),
        (PathBuf::from("/"), abs("ops/specs"), abs("out-root")),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(base.join("ops/specs"), base.join("link")).unwrap();
        runs.push((base.clone(), "link".into(), "out-link".into()));
    }
    let start = std::env::current_dir().unwrap();
    let mut built = Vec::new();
    for (cwd, specs, out) in &runs {
        let (code, text) = pipc(cwd, &["build", specs, "--out", out]);
        assert_eq!(code, 0, "build {specs} from {}: {text}", cwd.display());
        built.push((cwd.display().to_string(), files(&cwd.join(out))));
    }
    let (first_cwd, first) = &built[0];
    assert!(first.keys().any(|k| k.starts_with("ir/")), "{:?}", first.keys());
    for (cwd, other) in &built[1..] {
        assert_eq!(first.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>(), "{first_cwd} vs {cwd}");
        for (path, bytes) in first {
            assert!(other[path] == *bytes, "{path} differs between a build from {first_cwd} and one from {cwd}");
        }
    }
    // Nothing generated names the folder the specs were reached through.
    for (path, bytes) in first {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("ops/specs") && !text.contains("../"), "{path} holds a working-directory path");
    }
    // And they are what the repository's generated/ holds (built from the repository root).
    let committed = files(&root().join("generated"));
    for (path, bytes) in first {
        assert!(committed.get(path) == Some(bytes), "generated/{path} is not what `pipc build` gives from another directory");
    }

    // `build --check` against one output passes from every directory.
    let out = abs("out-parent");
    for (cwd, specs, _) in &runs {
        let (code, text) = pipc(cwd, &["build", specs, "--out", &out, "--check"]);
        assert_eq!(code, 0, "--check of {specs} from {}: {text}", cwd.display());
    }
    std::env::set_current_dir(start).unwrap();
}
