//! What the checks of several kinds share: splitting a block into settings and statements,
//! reporting a statement in the wrong block, `doc` and `evidence` settings, and the parts of
//! alert conditions (comparators, `for` durations).

use super::Ctx;
use crate::ast::{Assign, Block, Statement, StatementKind, Value};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{Comparator, ConstructKind, MAX_FOR};
use crate::units::Duration;

/// The setting that names the ledger receiving a construct's events.
pub(crate) const EVIDENCE: &str = "evidence";

/// The kinds `evidence` may name.
pub(crate) const EVIDENCE_KINDS: [ConstructKind; 1] = [ConstructKind::Ledger];

/// The `evidence` setting: the ledger that receives the construct's events, if any.
pub(super) fn evidence(cx: &mut Cx<'_>, ctx: &Ctx<'_>, s: &Settings<'_>) -> Option<Option<String>> {
    match s.get(EVIDENCE) {
        None => Some(None),
        Some(v) => {
            let (target, span) = values::reference(cx, v, "the evidence ledger")?;
            ctx.names.resolve(cx, target, span, &EVIDENCE_KINDS, "`evidence`").map(|r| Some(r.name))
        }
    }
}

/// The `doc` setting's text, checked to be a string.
pub(super) fn doc(cx: &mut Cx<'_>, s: &Settings<'_>) -> Option<String> {
    s.get("doc").and_then(|v| values::string_value(cx, v))
}

/// The comparison of an alert condition; only orderings bound a value.
pub(super) fn comparator(cx: &mut Cx<'_>, op: &crate::ast::Ident) -> Option<Comparator> {
    let c = match op.name.as_str() {
        ">" => Comparator::Gt,
        ">=" => Comparator::Ge,
        "<" => Comparator::Lt,
        "<=" => Comparator::Le,
        other => {
            cx.push(
                Diagnostic::error(Code::Comparator, op.span, format!("`{other}` cannot bound a threshold"))
                    .label("not an ordering")
                    .help("use `>`, `>=`, `<` or `<=`"),
            );
            return None;
        }
    };
    Some(c)
}

/// The `for` of an alert condition: none is zero, at most [`MAX_FOR`].
pub(super) fn for_duration(cx: &mut Cx<'_>, v: Option<&Value>) -> Option<Duration> {
    match v {
        None => Some(Duration::default()),
        Some(v) => {
            let why = format!(
                "an alert's `for` is at most {MAX_FOR}: the generated promtool tests evaluate the alert through its whole pending period"
            );
            values::duration_at_most(cx, v, "the `for` duration", MAX_FOR, &why)
        }
    }
}

/// Reports a statement that does not belong in this kind of block.
pub(crate) fn misplaced(cx: &mut Cx<'_>, kind: &str, s: &Statement, accepted: &str) {
    cx.push(
        Diagnostic::error(Code::MisplacedStatement, s.span, format!("{} does not belong in a `{kind}`", values::describe_statement(s)))
            .label(format!("not part of `{kind}`"))
            .help(format!("a `{kind}` takes {accepted}")),
    );
}

/// The assignments of a block, and the other statements in order.
pub(crate) fn split(block: &Block) -> (Vec<&Assign>, Vec<&Statement>) {
    let mut assigns = Vec::new();
    let mut others = Vec::new();
    for s in &block.statements {
        match &s.kind {
            StatementKind::Assign(a) => assigns.push(a),
            _ => others.push(s),
        }
    }
    (assigns, others)
}
