//! `requires`/`ensures` expressions, parsed with syn at compile time so that a typo is a
//! spec error with a position, not a compile error in generated code.

use std::collections::BTreeSet;

use syn::visit::Visit;

use super::values::Cx;
use crate::ast::RustExpr;
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::Check;
use crate::source::{ceil_char_boundary, floor_char_boundary};
use crate::span::Span;

/// The name the return value has inside `ensures`.
pub const RESULT: &str = "result";

/// The name of the `Ok` value of a function returning `Result`, inside `ensures`: a check
/// reading it runs only when the function returns `Ok` (it is a reference to the value).
pub const OK: &str = "ok";

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
        Err(_) if let Some((op, at)) = trailing_operator(&e.text) => {
            // `requires amount > 0 &&`: the check stops at its operator; point there.
            let span = Span::new(e.span.file, e.span.start + at, e.span.start + at + op.len());
            cx.push(
                Diagnostic::error(Code::RustExpr, span, format!("the check ends with `{op}`, which needs an operand after it"))
                    .label("nothing follows this")
                    .help(format!("a check is one Rust expression on one line: complete it after `{op}`, or remove `{op}`")),
            );
            return None;
        }
        Err(err) => {
            let span = error_span(e, &err);
            cx.push(
                Diagnostic::error(Code::RustExpr, span, format!("invalid Rust expression: {err}"))
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
            Diagnostic::error(Code::AssignmentInCheck, offset_span(e, assign_at), "a check assigns instead of comparing")
                .label("assignment")
                .help("use `==` to compare"),
        );
    }
    for returned in [RESULT, OK] {
        if clause == Clause::Requires && finder.reads.contains(returned) {
            ok = false;
            let at = find_word(&e.text, returned).unwrap_or(0);
            cx.push(
                Diagnostic::error(
                    Code::ResultInRequires,
                    Span::new(e.span.file, e.span.start + at, e.span.start + at + returned.len()),
                    format!("`{returned}` is only available in `ensures`"),
                )
                .label("the function has not returned yet")
                .help("move this check to `ensures`"),
            );
        }
    }
    ok.then(|| Check { expr: e.text.clone(), reads: finder.reads.into_iter().collect(), source: cx.src(e.span) })
}

/// Free single-segment paths an expression reads, and the first assignment in it. Names
/// bound inside the expression (closure parameters, `match` arms, `if let`/`while let`,
/// `let` in blocks, `for` patterns) are not reads while they are in scope.
#[derive(Default)]
struct Finder {
    reads: BTreeSet<String>,
    assignment: Option<(usize, usize)>,
    /// Names bound by the enclosing scopes, innermost last.
    scopes: Vec<BTreeSet<String>>,
}

/// The names a pattern binds.
#[derive(Default)]
struct Bindings(BTreeSet<String>);

impl<'ast> Visit<'ast> for Bindings {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.0.insert(p.ident.to_string());
        syn::visit::visit_pat_ident(self, p);
    }

    fn visit_pat_guard(&mut self, g: &'ast syn::PatGuard) {
        // The guard binds nothing; the reader visits it in the arm's scope.
        self.visit_pat(&g.pat);
    }
}

fn bindings(pat: &syn::Pat) -> BTreeSet<String> {
    let mut b = Bindings::default();
    b.visit_pat(pat);
    b.0
}

impl Finder {
    fn bound(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.contains(name))
    }

    /// Runs `f` with `names` in scope.
    fn scoped(&mut self, names: BTreeSet<String>, f: impl FnOnce(&mut Self)) {
        self.scopes.push(names);
        f(self);
        self.scopes.pop();
    }

    /// Binds the patterns of the `let`s of an `if`/`while` condition in the innermost scope,
    /// visiting their expressions first.
    fn condition(&mut self, cond: &syn::Expr) {
        match cond {
            syn::Expr::Let(l) => {
                self.visit_expr(&l.expr);
                let names = bindings(&l.pat);
                if let Some(scope) = self.scopes.last_mut() {
                    scope.extend(names);
                }
            }
            syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_)) => {
                self.condition(&b.left);
                self.condition(&b.right);
            }
            other => self.visit_expr(other),
        }
    }
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
            if name.starts_with(|c: char| c.is_lowercase() || c == '_') && !self.bound(&name) {
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

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        // The parameters are the closure's own; what else the body names is read.
        let names = c.inputs.iter().flat_map(bindings).collect();
        self.scoped(names, |f| f.visit_expr(&c.body));
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.visit_expr(&m.expr);
        for arm in &m.arms {
            self.scoped(bindings(&arm.pat), |f| {
                if let syn::Pat::Guard(g) = &arm.pat {
                    f.visit_expr(&g.guard);
                }
                f.visit_expr(&arm.body);
            });
        }
    }

    fn visit_expr_if(&mut self, i: &'ast syn::ExprIf) {
        self.scoped(BTreeSet::new(), |f| {
            f.condition(&i.cond);
            f.visit_block(&i.then_branch);
        });
        if let Some((_, e)) = &i.else_branch {
            self.visit_expr(e);
        }
    }

    fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
        self.scoped(BTreeSet::new(), |f| {
            f.condition(&w.cond);
            f.visit_block(&w.body);
        });
    }

    fn visit_expr_for_loop(&mut self, l: &'ast syn::ExprForLoop) {
        self.visit_expr(&l.expr);
        self.scoped(bindings(&l.pat), |f| f.visit_block(&l.body));
    }

    fn visit_block(&mut self, b: &'ast syn::Block) {
        // A `let` binds from the next statement to the end of the block.
        self.scoped(BTreeSet::new(), |f| {
            for stmt in &b.stmts {
                match stmt {
                    syn::Stmt::Local(l) => {
                        if let Some(init) = &l.init {
                            f.visit_expr(&init.expr);
                            if let Some((_, diverge)) = &init.diverge {
                                f.visit_expr(diverge);
                            }
                        }
                        let names = bindings(&l.pat);
                        if let Some(scope) = f.scopes.last_mut() {
                            scope.extend(names);
                        }
                    }
                    other => f.visit_stmt(other),
                }
            }
        });
    }
}

/// 1-based line and 0-based char column of a span start, as proc-macro2 reports it.
fn position(span: &proc_macro2::Span) -> (usize, usize) {
    let lc = span.start();
    (lc.line, lc.column)
}

/// The binary operator a check's text ends with (`&&`, `||`, `==`, `+`, ...), and its byte
/// offset in the text.
fn trailing_operator(text: &str) -> Option<(&'static str, usize)> {
    const OPERATORS: [&str; 18] = ["&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^"];
    let trimmed = text.trim_end();
    OPERATORS.into_iter().find(|op| trimmed.ends_with(op)).map(|op| (op, trimmed.len() - op.len()))
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
        assert_eq!(reads("items.iter().all(|i| i.qty > min)"), ["items", "min"]);
        assert_eq!(reads("self.count() >= before"), ["before", "self"]);
        assert_eq!(reads("result.as_ref().map_or(true, |t| t.debited == t.credited)"), ["result"]);
    }

    #[test]
    fn names_bound_inside_the_check_are_not_reads_while_in_scope() {
        assert_eq!(reads("match &result { Ok(v) => *v >= floor, Err(e) => e.is_retryable() }"), ["floor", "result"]);
        assert_eq!(reads("match x { Some(n) if n > cap => false, _ => true }"), ["cap", "x"]);
        assert_eq!(reads("if let Some(v) = opt && v > 0 { v < max } else { v_default }"), ["max", "opt", "v_default"]);
        // After its arm, a name bound there is a read again.
        assert_eq!(reads("(match a { v => v > 0 }) && v"), ["a", "v"]);
        assert_eq!(reads("{ let total = a + b; total <= limit }"), ["a", "b", "limit"]);
        assert_eq!(reads("{ let t = t + 1; t > 0 }"), ["t"]);
        assert_eq!(reads("items.iter().any(|(k, v)| k == key && *v > 0)"), ["items", "key"]);
        let mut nested = reads("xs.iter().all(|x| ys.iter().any(|y| x == y && z))");
        nested.sort();
        assert_eq!(nested, ["xs", "ys", "z"]);
        assert_eq!(reads("{ for i in 0..n { if i > lim { return false; } } true }"), ["lim", "n"]);
    }

    #[test]
    fn finds_words_not_substrings() {
        assert_eq!(find_word("results + result", "result"), Some(10));
        assert_eq!(find_word("x", "result"), None);
    }
}
