//! Helpers shared by the end-to-end tests.
#![warn(missing_docs)]
// Test support: failing loudly (a panic) is how a test reports a missing tool.
#![allow(clippy::panic)]

use std::path::PathBuf;

#[path = "support/alertmanager.rs"]
pub mod alertmanager;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// The path of an external tool the tests need, or a panic that says how to install it.
/// Tests never skip because a tool is missing: `tests/run-all.sh` installs them.
pub fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    match found {
        Some(p) => p,
        None => panic!("`{name}` is not installed; run tests/run-all.sh, which installs what the tests need"),
    }
}

/// Loads the `.pips` files of `rel` (a folder or a file, relative to the repository root) as
/// `pipc` does: artifacts embed each file's path below its spec root (`rel`, or the folder
/// of a file), so they do not depend on where the checkout is or where the tests run.
pub fn load(rel: &str) -> pip_compiler::source::Sources {
    match pip_compiler::source::Sources::load(&[root().join(rel)]) {
        Ok(sources) => sources,
        Err(e) => panic!("cannot load `{rel}`: {e}"),
    }
}

/// Every spec the repository holds that compiles: `specs/` (as one set) and each valid fixture.
pub fn compiled_specs() -> Vec<pip_compiler::ir::Spec> {
    let mut out = pip_compiler::compile(&load("specs")).specs;
    let dir = root().join("tests/fixtures/valid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.sort();
    for f in files {
        let rel = f.strip_prefix(root()).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
        out.extend(pip_compiler::compile(&load(&rel)).specs);
    }
    out
}

/// A throwaway cargo package depending on `pip-runtime` by path, built into the workspace's
/// target folder (so `pip-runtime` and its dependencies are reused, not rebuilt).
pub struct ScratchCrate {
    /// Its folder.
    pub dir: PathBuf,
    /// Its package name.
    pub name: String,
}

impl ScratchCrate {
    /// Writes `Cargo.toml` (with `extra` appended) and `src/lib.rs` or `src/main.rs`.
    pub fn new(name: &str, extra: &str, file: &str, source: &str) -> std::io::Result<ScratchCrate> {
        let dir = root().join("target").join("pip-scratch").join(name);
        std::fs::create_dir_all(dir.join("src"))?;
        let runtime = root().join("runtime");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\npip-runtime = {{ path = \"{}\" }}\n\n# The workspace's profiles, so that its compiled dependencies are reused.\n[profile.dev]\nopt-level = 1\n\n[profile.dev.package.\"*\"]\nopt-level = 2\n\n[workspace]\n{extra}\n",
                runtime.display()
            ),
        )?;
        std::fs::write(dir.join("src").join(file), source)?;
        Ok(ScratchCrate { dir, name: name.to_string() })
    }

    /// `cargo <args>` in the package, with the workspace's target folder and lock file.
    pub fn cargo(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        let lock = root().join("Cargo.lock");
        if lock.exists() && !self.dir.join("Cargo.lock").exists() {
            std::fs::copy(&lock, self.dir.join("Cargo.lock"))?;
        }
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(args)
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", root().join("target"))
            .output()
    }
}
