//! `versioned`: how much history a versioned store keeps and where rollbacks are recorded.

use super::Ctx;
use super::shared::{doc, evidence, misplaced, split};
use crate::ast::Block;
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::ir;
use crate::span::Span;

/// The settings (`key = value` lines) a `versioned` block accepts.
pub(super) const SETTINGS: [&str; 5] = ["doc", "history", "severity", "evidence", "runbook"];

/// Checks a `versioned` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Versioned> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "versioned", span, &SETTINGS, assigns);
    let doc = doc(cx, &s);
    let history = s.require(cx, "versioned", name, "history", "1000").and_then(|v| values::count(cx, v, "`history`"));
    let severity = s.require(cx, "versioned", name, "severity", "P1").and_then(|v| values::severity(cx, v));
    let evidence = evidence(cx, ctx, &s);
    let runbook = ctx.runbook(cx, &s, name);
    for st in others {
        misplaced(cx, "versioned", st, "`history`, `severity`, `evidence`, `doc` and `runbook`");
    }
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Versioned {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        history: history?,
        severity: severity?,
        evidence: evidence?,
        runbook,
    })
}
