//! `check`, `fmt` and `build`.

use std::path::{Path, PathBuf};

use pip_compiler::diagnostics;
use pip_compiler::load::{self, Checked, SpecsError};
use pip_compiler::source::Sources;
use pip_compiler::{build as out_dir, emit, fmt as formatter, text_to_ast};

use crate::out::{Out, write_atomic};
use crate::{DEFAULT_SPECS, EXIT_FAIL, EXIT_OK, EXIT_USAGE, ErrorFormat};

/// `paths`, or [`DEFAULT_SPECS`] when none were given: every spec command defaults alike.
fn or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() { vec![PathBuf::from(DEFAULT_SPECS)] } else { paths.to_vec() }
}

/// Refuses a set of paths that holds no spec file.
fn none_found(out: &mut Out<'_>, paths: &[PathBuf]) -> u8 {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    out.err(format!("no .pips files in {}", shown.join(", ")));
    EXIT_USAGE
}

/// The spec files, read (for `fmt`, which does not compile them).
fn read(out: &mut Out<'_>, paths: &[PathBuf]) -> Result<Sources, u8> {
    let paths = or_default(paths);
    match Sources::load(&paths) {
        Ok(s) if s.is_empty() => Err(none_found(out, &paths)),
        Ok(s) => Ok(s),
        Err(e) => {
            out.err(e);
            Err(EXIT_USAGE)
        }
    }
}

/// The spec files, read and compiled ([`load::load`]); specs with errors come back too, for
/// `check` and `build` to print their diagnostics.
fn compiled(out: &mut Out<'_>, paths: &[PathBuf]) -> Result<Checked, u8> {
    let paths = or_default(paths);
    let c = match load::load(&paths) {
        Ok(c) => c,
        Err(SpecsError::Invalid(c)) => *c,
        Err(SpecsError::Read(e)) => {
            out.err(e);
            return Err(EXIT_USAGE);
        }
    };
    if c.sources.is_empty() {
        return Err(none_found(out, &paths));
    }
    Ok(c)
}

pub(crate) fn check(out: &mut Out<'_>, paths: &[PathBuf], format: ErrorFormat) -> u8 {
    let Checked { sources, compilation: c } = match compiled(out, paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    out.diagnostics(&sources, &c.diagnostics, format);
    if format == ErrorFormat::Human {
        let _ = writeln!(
            out.stderr,
            "checked {} spec(s) in {} file(s): {}",
            c.specs.len(),
            sources.len(),
            diagnostics::summary(&c.diagnostics)
        );
    }
    if c.has_errors() { EXIT_FAIL } else { EXIT_OK }
}

pub(crate) fn fmt(out: &mut Out<'_>, paths: &[PathBuf], check: bool, format: ErrorFormat) -> u8 {
    let sources = match read(out, paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut code = EXIT_OK;
    let mut changed = 0usize;
    for (id, file) in sources.iter() {
        if file.invalid_utf8_at.is_some() {
            out.err(format!("{}: not valid UTF-8; not formatted", file.name));
            code = EXIT_FAIL;
            continue;
        }
        let ast = match text_to_ast::parse(id, &file.text) {
            Ok(ast) => ast,
            Err(errors) => {
                out.diagnostics(&sources, &errors, format);
                out.err(format!("{}: has syntax errors; not formatted", file.name));
                code = EXIT_FAIL;
                continue;
            }
        };
        let formatted = formatter::format(&file.text, &ast);
        if formatted.as_str() == &*file.text {
            continue;
        }
        if let Err(why) = formatter::verify(&file.text, &ast, &formatted) {
            out.err(format!("{}: internal formatter error ({why}); file left unchanged, please report it", file.name));
            code = EXIT_FAIL;
            continue;
        }
        changed += 1;
        if check {
            let _ = writeln!(out.stdout, "{}", file.name);
            code = EXIT_FAIL;
        } else if let Err(e) = write_atomic(&file.path, &file.path.with_extension("pips-fmt-tmp"), formatted.as_bytes()) {
            out.err(format!("{}: {e}", file.name));
            return EXIT_USAGE;
        }
    }
    if check && changed > 0 {
        out.err(format!("{changed} file(s) are not formatted; run `pipc fmt`"));
    } else if !check && changed > 0 {
        out.err(format!("formatted {changed} file(s)"));
    }
    code
}

pub(crate) fn build(out: &mut Out<'_>, paths: &[PathBuf], dir: &Path, check: bool, others: out_dir::Others, format: ErrorFormat) -> u8 {
    let Checked { sources, compilation: c } = match compiled(out, paths) {
        Ok(c) => c,
        Err(code) => return code,
    };
    out.diagnostics(&sources, &c.diagnostics, format);
    if c.has_errors() {
        out.err(format!("{}; nothing generated", diagnostics::summary(&c.diagnostics)));
        return EXIT_FAIL;
    }
    let artifacts = match emit::emit_all(&c.specs) {
        Ok(a) => a,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let shown = dir.display();
    if check {
        match out_dir::check(dir, &artifacts, others) {
            Ok(stale) if stale.is_empty() => {
                let _ = writeln!(out.stderr, "{shown}/ is up to date ({} files from {} spec(s))", artifacts.len(), c.specs.len());
                EXIT_OK
            }
            Ok(stale) => {
                for (path, why) in &stale {
                    let _ = writeln!(out.stdout, "{shown}/{path}: {why}");
                }
                out.err(format!("{} file(s) in {shown}/ are out of date; run `pipc build` and commit the result", stale.len()));
                EXIT_FAIL
            }
            Err(e) => {
                out.err(e);
                EXIT_USAGE
            }
        }
    } else {
        match out_dir::write(dir, &artifacts, others) {
            Ok(changes) => {
                let count = |k: out_dir::Change| changes.iter().filter(|(_, c)| *c == k).count();
                let _ = writeln!(
                    out.stderr,
                    "built {} spec(s) into {shown}/: {} created, {} updated, {} unchanged, {} removed",
                    c.specs.len(),
                    count(out_dir::Change::Created),
                    count(out_dir::Change::Updated),
                    count(out_dir::Change::Unchanged),
                    count(out_dir::Change::Removed)
                );
                let kept = count(out_dir::Change::Kept);
                if kept > 0 {
                    let _ = writeln!(
                        out.stderr,
                        "{kept} file(s) in {shown}/ are not produced by the specs built and were left in place (`--prune` removes them; a build without PATHS does)"
                    );
                }
                EXIT_OK
            }
            Err(e) => {
                out.err(e);
                EXIT_USAGE
            }
        }
    }
}
