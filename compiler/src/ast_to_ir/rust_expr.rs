//! `requires`/`ensures` expressions, parsed with syn at compile time so that a typo is a
//! spec error with a position, not a compile error in generated code.

use std::collections::BTreeSet;

use syn::visit::Visit;

use super::values::Cx;
use crate::ast::RustExpr;
use crate::diagnostics::Diagnostic;
use crate::ir::Check;
use crate::source::{ceil_char_boundary, floor_char_boundary};
use crate::span::Span;

/// The name the return value has inside `ensures`.
pub const RESULT: &str = "result";

/// Which clause an expression belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clause {
    Requires,
    Ensures,
}

/// Parses and checks one expression.
pub(crate) fn check(cx: &mut Cx<'_>, e: &RustExpr, clause: Clause) -> Option<Check> {
    let expr = match syn::parse_str::<syn::Expr>(&e.text) {
        Ok(expr) => expr,
        Err(err) => {
            let span = error_span(e, &err);
            cx.push(
                Diagnostic::error("pips::rust-expr", span, format!("invalid Rust expression: {err}"))
                    .label("here")
                    .help("`requires` and `ensures` take one Rust boolean expression over the function's arguments"),
            );
            return None;
        }
    };
    let mut ok = true;
    let mut finder = Finder::default();
    finder.visit_expr(&expr);
    if let Some(assign_at) = finder.assignment {
        ok = false;
        cx.push(
            Diagnostic::error("pips::assignment-in-check", offset_span(e, assign_at), "a check assigns instead of comparing")
                .label("assignment")
                .help("use `==` to compare"),
        );
    }
    if clause == Clause::Requires && finder.reads.contains(RESULT) {
        ok = false;
        let at = find_word(&e.text, RESULT).unwrap_or(0);
        cx.push(
            Diagnostic::error(
                "pips::result-in-requires",
                Span::new(e.span.file, e.span.start + at, e.span.start + at + RESULT.len()),
                "`result` is only available in `ensures`",
            )
            .label("the function has not returned yet")
            .help("move this check to `ensures`"),
        );
    }
    ok.then(|| Check { expr: e.text.clone(), reads: finder.reads.into_iter().collect(), source: cx.src(e.span) })
}

/// Free single-segment paths an expression reads, and the first assignment in it.
#[derive(Default)]
struct Finder {
    reads: BTreeSet<String>,
    assignment: Option<(usize, usize)>,
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if p.qself.is_none()
            && p.path.leading_colon.is_none()
            && p.path.segments.len() == 1
            && let Some(seg) = p.path.segments.first()
        {
            let name = seg.ident.to_string();
            // Lowercase first letter: a variable (or `self`), not a constant, type or variant.
            if name.starts_with(|c: char| c.is_lowercase() || c == '_') {
                self.reads.insert(name);
            }
        }
        syn::visit::visit_expr_path(self, p);
    }

    fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
        if self.assignment.is_none() {
            self.assignment = Some(position(&a.eq_token.span));
        }
        syn::visit::visit_expr_assign(self, a);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        // `is_valid(x)`: the function's name is not a value the check reads; its arguments are.
        match c.func.as_ref() {
            syn::Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {}
            other => self.visit_expr(other),
        }
        for a in &c.args {
            self.visit_expr(a);
        }
    }

    fn visit_expr_closure(&mut self, _c: &'ast syn::ExprClosure) {
        // Closure parameters are not reads of the function's arguments; the body's free
        // variables are rare enough in checks that skipping closures is the honest choice.
    }
}

/// 1-based line and 0-based char column of a span start, as proc-macro2 reports it.
fn position(span: &proc_macro2::Span) -> (usize, usize) {
    let lc = span.start();
    (lc.line, lc.column)
}

fn error_span(e: &RustExpr, err: &syn::Error) -> Span {
    let start = err.span().start();
    let end = err.span().end();
    let s = offset_span(e, (start.line, start.column));
    let t = offset_span(e, (end.line, end.column));
    if t.start > s.start { Span::new(s.file, s.start, t.start) } else { s }
}

/// Byte span (one character) in the spec of a (line, column) position inside the expression.
fn offset_span(e: &RustExpr, (line, column): (usize, usize)) -> Span {
    if line == 0 {
        return e.span;
    }
    let mut offset = 0usize;
    for (i, l) in e.text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += l.char_indices().nth(column).map_or(l.trim_end_matches('\n').len(), |(b, _)| b);
            break;
        }
        offset += l.len();
    }
    let offset = floor_char_boundary(&e.text, offset.min(e.text.len()));
    let end = ceil_char_boundary(&e.text, offset + 1);
    Span::new(e.span.file, e.span.start + offset, e.span.start + end.max(offset))
}

/// Byte offset of `word` as a whole identifier in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).map(|(i, _)| i).find(|&i| {
        !text.get(..i).and_then(|s| s.chars().next_back()).is_some_and(is_ident)
            && !text.get(i + word.len()..).and_then(|s| s.chars().next()).is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reads(text: &str) -> Vec<String> {
        let expr = syn::parse_str::<syn::Expr>(text).unwrap();
        let mut f = Finder::default();
        f.visit_expr(&expr);
        f.reads.into_iter().collect()
    }

    #[test]
    fn reads_are_the_variables_not_functions_constants_or_closure_parameters() {
        assert_eq!(reads("is_valid(amount) && account.balance >= LIMIT"), ["account", "amount"]);
        assert_eq!(reads("items.iter().all(|i| i.qty > min)"), ["items"]);
        assert_eq!(reads("self.count() >= before"), ["before", "self"]);
    }

    #[test]
    fn finds_words_not_substrings() {
        assert_eq!(find_word("results + result", "result"), Some(10));
        assert_eq!(find_word("x", "result"), None);
    }
}
