//! From spec files to checked specs a tool can use: read, compile, refuse a set of specs
//! with errors, and pick a spec or one of its constructs by name. Every tool that reads
//! specs (the CLI's commands, bundles, the proc-macro) takes this one path, so they refuse
//! and name things alike.
//!
//! ```text
//! load(paths) ─ Sources::load ─┐
//! check(sources) ──────────────┴─ compile ─ errors? ─ SpecsError::Invalid(Checked)
//!                                                   └─ Checked ─ spec(name) / pick(...)
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::Compilation;
use crate::ast_to_ir::did_you_mean;
use crate::diagnostics::Diagnostic;
use crate::ir::Spec;
use crate::source::{self, Sources};

/// Specs read and compiled: the files and what the compiler made of them. Out of [`load`]
/// or [`check`] the compilation has no errors (its diagnostics are warnings); inside
/// [`SpecsError::Invalid`] it has some.
#[derive(Debug)]
pub struct Checked {
    /// The files read, which the compilation's spans index into (to render its diagnostics).
    pub sources: Sources,
    /// The specs without errors, and every diagnostic.
    pub compilation: Compilation,
}

/// Why a set of paths gave no specs to use.
#[derive(Debug, thiserror::Error)]
pub enum SpecsError {
    /// The paths could not be read: a usage error, not a finding about a spec.
    #[error(transparent)]
    Read(#[from] source::LoadError),
    /// The specs were read and have errors: the diagnostics are in the compilation, for a
    /// tool that shows them (`pipc check`, `pipc build`, the proc-macro).
    #[error("the spec has errors; run `pipc check` to see them")]
    Invalid(Box<Checked>),
}

/// Reads every `.pips` file under `paths` (files as given, folders recursively, see
/// [`Sources::load`]) and checks them. No files is not an error here: the specs are then
/// empty, and each tool says what it was looking for.
pub fn load(paths: &[PathBuf]) -> Result<Checked, SpecsError> {
    check(Sources::load(paths)?)
}

/// Checks sources already read (a bundle's, a test's), refusing them when any has errors.
pub fn check(sources: Sources) -> Result<Checked, SpecsError> {
    let compilation = crate::compile(&sources);
    let checked = Checked { sources, compilation };
    if checked.compilation.has_errors() { Err(SpecsError::Invalid(Box::new(checked))) } else { Ok(checked) }
}

impl Checked {
    /// The checked specs, sorted by name.
    pub fn specs(&self) -> &[Spec] {
        &self.compilation.specs
    }

    /// The spec named `name`, or an error that lists the specs there are.
    pub fn spec(&self, name: &str) -> Result<&Spec, NoSuchSpec> {
        self.specs()
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| NoSuchSpec { name: name.to_string(), known: self.specs().iter().map(|s| s.name.clone()).collect() })
    }

    /// The errors among the diagnostics (none out of [`load`] or [`check`]).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.compilation.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Where a diagnostic starts, as `file:line:column` (the file by its display name), for
    /// renderings that do not show it on a line of its own (miette's narrated form).
    pub fn location(&self, diagnostic: &Diagnostic) -> Option<String> {
        let file = self.sources.get(diagnostic.span.file)?;
        let (line, column) = file.line_col(diagnostic.span.start);
        Some(format!("{}:{line}:{column}", file.name))
    }
}

/// No spec has the name asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchSpec {
    /// The spec name asked for, as given (e.g. by `--spec`).
    pub name: String,
    /// The specs there are, sorted by name.
    pub known: Vec<String>,
}

impl fmt::Display for NoSuchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no spec `{}` among the specs found ({})", self.name, self.known.join(", "))?;
        if let Some(hint) = did_you_mean(&self.name, self.known.iter().map(String::as_str)) {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NoSuchSpec {}

/// Why [`pick`] picked nothing. Each tool words it for its construct and option
/// (`--ledger`, `--bundle`); `all` lists every candidate as `` `spec.name` ``, comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpicked {
    /// No spec declares a construct of the kind wanted.
    NoneDeclared,
    /// None is called `name`.
    NotFound {
        /// The name asked for, bare or `spec.name`.
        name: String,
        /// The constructs of that kind there are (none is called `name`).
        all: String,
    },
    /// Several match (or there are several and no name was given).
    Several {
        /// The constructs that match (all of the kind when no name was given).
        all: String,
    },
}

/// One construct of the specs: the one `name` names (by its own name, `incident`, or
/// qualified, `payments.incident`), or the only one there is when `name` is `None`.
/// `of` gives a spec's constructs of the kind wanted, `name_of` a construct's name.
pub fn pick<'a, T>(
    specs: &'a [Spec],
    name: Option<&str>,
    of: impl Fn(&'a Spec) -> &'a [T],
    name_of: impl Fn(&T) -> &str,
) -> Result<(&'a Spec, &'a T), Unpicked> {
    let candidates: Vec<(&Spec, &T)> = specs.iter().flat_map(|s| of(s).iter().map(move |c| (s, c))).collect();
    let all = || candidates.iter().map(|(s, c)| format!("`{}.{}`", s.name, name_of(c))).collect::<Vec<_>>().join(", ");
    let picked: Vec<&(&Spec, &T)> = match name {
        Some(n) => candidates.iter().filter(|(s, c)| name_of(c) == n || format!("{}.{}", s.name, name_of(c)) == n).collect(),
        None => candidates.iter().collect(),
    };
    match picked.as_slice() {
        [(s, c)] => Ok((s, c)),
        [] if candidates.is_empty() => Err(Unpicked::NoneDeclared),
        [] => Err(Unpicked::NotFound { name: name.unwrap_or_default().to_string(), all: all() }),
        _ => Err(Unpicked::Several { all: all() }),
    }
}

#[cfg(test)]
#[path = "load/tests.rs"]
mod tests;
