//! The front end of the `.pips` compiler: `source → pest pairs → AST (spans) → checked IR`.
//!
//! Everything that reads a spec needs this and nothing more: the proc-macro
//! `#[pip_invariant]` (built into every service), the emitters of `pip-compiler`, the CLI.
//! It holds no emitter, so a service's build does not compile them.
//!
//! Features (both on by default):
//! - `promql` checks threshold expressions with the PromQL parser and fills
//!   [`ir::Threshold::expr_normalized`], [`ir::Threshold::metrics`] and
//!   [`ir::Threshold::selectors`]. Without it (as the proc-macro builds the front end, which
//!   never reads thresholds) expressions are only required to be non-empty and those fields
//!   stay empty; `pip-compiler` always enables it, so every artifact and `pipc check` see
//!   checked PromQL.
//! - `fancy` renders diagnostics with miette's graphical handler; without it they are
//!   rendered in miette's plain narrated form.

pub mod ast;
pub mod ast_to_ir;
pub mod diagnostics;
pub mod fmt;
pub mod ir;
pub mod load;
pub mod source;
pub mod span;
pub mod text_to_ast;
pub mod units;

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::diagnostics::Diagnostic;
use crate::source::Sources;
use crate::span::Span;

/// The compiler's version, written into every artifact (the workspace's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The result of checking a set of sources.
#[derive(Debug, Default)]
pub struct Compilation {
    /// Specs without errors, sorted by name.
    pub specs: Vec<ir::Spec>,
    /// Every error and warning, sorted (errors first).
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks every file of `sources`.
pub fn compile(sources: &Sources) -> Compilation {
    let mut diagnostics = Vec::new();
    // Stage 1: text → AST, per file.
    let mut parsed = Vec::new();
    let mut partial = Vec::new();
    let mut tainted = BTreeSet::new();
    for (id, file) in sources.iter() {
        if let Some(at) = file.invalid_utf8_at {
            // The invalid bytes became U+FFFD in the text: underline that character.
            let end = source::ceil_char_boundary(&file.text, at + 1);
            diagnostics.push(
                Diagnostic::error(diagnostics::Code::Encoding, Span::new(id, at, end), "the file is not valid UTF-8")
                    .label("invalid byte here")
                    .help("spec files are UTF-8 text"),
            );
            tainted.extend(spec_name_of(&file.text));
            continue;
        }
        match text_to_ast::parse_recovering(id, &file.text) {
            Ok(ast) => parsed.push((id, ast)),
            Err((errors, constructs)) => {
                diagnostics.extend(errors);
                tainted.extend(spec_name_of(&file.text));
                partial.push((id, constructs));
            }
        }
    }
    // Stage 2: AST → IR, per spec. A spec with a file that did not parse is not checked:
    // its other files would report names the broken file defines as missing.
    let files: Vec<ast_to_ir::ParsedFile<'_>> = parsed
        .iter()
        .filter(|(_, ast)| !ast.items.first().is_some_and(|i| i.kind.name == "spec" && tainted.contains(&i.name.name)))
        .map(|(id, ast)| ast_to_ir::ParsedFile { id: *id, ast })
        .collect();
    let (specs, diags) = ast_to_ir::check(sources, &files);
    diagnostics.extend(diags);
    diagnostics.extend(check_around_syntax_errors(sources, &parsed, &partial, &tainted));
    diagnostics::sort(&mut diagnostics);
    Compilation { specs, diagnostics }
}

/// The mistakes of the constructs that parsed in specs with syntax errors, so that one syntax
/// error does not hide the rest of its file. Such a spec is checked from its whole files and
/// the constructs of its broken files that parsed (when a broken file's `spec` line did), and
/// only what cannot come from the constructs that did not parse is kept: never an unresolved
/// name (the broken construct may define it), never a spec-level complaint. The spec itself
/// is not compiled.
fn check_around_syntax_errors(
    sources: &Sources,
    parsed: &[(span::FileId, ast::File)],
    partial: &[(span::FileId, ast::File)],
    tainted: &BTreeSet<String>,
) -> Vec<Diagnostic> {
    let spec_of = |ast: &ast::File| ast.items.first().filter(|i| i.kind.name == "spec").map(|i| i.name.name.clone());
    let mut out = Vec::new();
    for name in tainted {
        // A broken file whose `spec` line did not parse leaves the spec's shape unknown.
        let headless = partial.iter().any(|(id, ast)| {
            spec_of(ast).is_none() && sources.get(*id).is_some_and(|f| spec_name_of(&f.text).as_deref() == Some(name.as_str()))
        });
        if headless {
            continue;
        }
        let files: Vec<ast_to_ir::ParsedFile<'_>> = parsed
            .iter()
            .chain(partial)
            .filter(|(_, ast)| spec_of(ast).as_deref() == Some(name.as_str()))
            .map(|(id, ast)| ast_to_ir::ParsedFile { id: *id, ast })
            .collect();
        let (_, diags) = ast_to_ir::check(sources, &files);
        let constructs: Vec<Span> = partial.iter().flat_map(|(_, ast)| ast.items.iter().map(|i| i.span)).collect();
        out.extend(diags.into_iter().filter(|d| {
            !matches!(d.code, diagnostics::Code::Unresolved | diagnostics::Code::SpecHeader | diagnostics::Code::WrongKind)
                // In a broken file, only what lies inside a construct that parsed.
                && (!partial.iter().any(|(id, _)| *id == d.span.file) || constructs.iter().any(|c| c.file == d.span.file && c.start <= d.span.start && d.span.end <= c.end))
        }));
    }
    out
}

/// Compiles one in-memory file (tests, the proc-macro, tools).
pub fn compile_str(name: &str, text: &str) -> (Sources, Compilation) {
    let mut sources = Sources::new();
    sources.add(source::SourceFile::new(name, text));
    let c = compile(&sources);
    (sources, c)
}

/// The spec name a file declares on its first line, read without parsing (for files that
/// do not parse).
fn spec_name_of(text: &str) -> Option<String> {
    let mut rest = text.trim_start_matches('\u{FEFF}');
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let r = rest.strip_prefix("spec")?;
    if !r.starts_with(char::is_whitespace) {
        return None;
    }
    let name: String = r.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect();
    (!name.is_empty()).then_some(name)
}

/// Threads to use for the parallel parts of a compilation (large files are parsed in chunks,
/// large specs checked in parts): the machine's parallelism, or `PIPC_THREADS` when set.
pub fn parallelism() -> usize {
    std::env::var("PIPC_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
        .clamp(1, 64)
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The spec hash: SHA-256 over the spec's files sorted by name, each framed as
/// `name "\n" length "\n" bytes`, so that renaming, moving bytes between files or
/// reordering files all change it. The names are the files' paths below their spec root
/// ([`source::SourceFile::spec_path`]), so the hash does not depend on the working
/// directory. Artifacts carry it; `pipc verify-bundle` recomputes it.
pub fn spec_hash(files: &[(&str, &[u8])]) -> String {
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, bytes) in sorted {
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(bytes.len().to_string().as_bytes());
        h.update(b"\n");
        h.update(bytes);
    }
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_name_is_read_past_comments() {
        assert_eq!(spec_name_of("// x\n/* y */ spec pay { garbage"), Some("pay".into()));
        assert_eq!(spec_name_of("ledger x {}"), None);
    }

    #[test]
    fn spec_hash_depends_on_names_and_framing() {
        let a = spec_hash(&[("a.pips", b"xy"), ("b.pips", b"z")]);
        let b = spec_hash(&[("a.pips", b"x"), ("b.pips", b"yz")]);
        let c = spec_hash(&[("b.pips", b"z"), ("a.pips", b"xy")]);
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
