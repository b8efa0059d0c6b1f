//! `invariant`: Rust checks on a function's arguments and result, with the violation policy
//! and the ledger that keeps the evidence.

use super::Ctx;
use super::shared::{doc, evidence, misplaced, split};
use crate::ast::{Block, StatementKind};
use crate::ast_to_ir::rust_expr::{self, Clause};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, OnViolation};
use crate::span::Span;

/// The settings (`key = value` lines) an `invariant` block accepts.
pub(super) const SETTINGS: [&str; 6] = ["doc", "severity", "on_violation", "evidence", "evidence_values", "runbook"];

/// Checks an `invariant` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Invariant> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "invariant", span, &SETTINGS, assigns);
    let doc = doc(cx, &s);
    let severity = s.require(cx, "invariant", name, "severity", "P1").and_then(|v| values::severity(cx, v));
    let on_violation = match s.get("on_violation") {
        None => Some(OnViolation::Deny),
        Some(v) => values::choice(cx, v, "violation policy", &["deny", "record"])
            .map(|c| if c == "deny" { OnViolation::Deny } else { OnViolation::Record }),
    };
    let evidence = evidence(cx, ctx, &s);
    let evidence_values = match s.get("evidence_values") {
        None => Some(ctx.evidence_values),
        Some(v) => values::evidence_values(cx, v),
    };
    let runbook = ctx.runbook(cx, &s, name);
    let mut requires = Vec::new();
    let mut ensures = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Requires(e) => requires.extend(rust_expr::check(cx, e, Clause::Requires)),
            StatementKind::Ensures(e) => ensures.extend(rust_expr::check(cx, e, Clause::Ensures)),
            _ => misplaced(
                cx,
                "invariant",
                st,
                "`requires`, `ensures`, `severity`, `on_violation`, `evidence`, `evidence_values`, `doc` and `runbook`",
            ),
        }
    }
    if block.statements.iter().all(|st| !matches!(st.kind, StatementKind::Requires(_) | StatementKind::Ensures(_))) {
        cx.push(
            Diagnostic::error(Code::MissingSetting, span, format!("invariant `{name}` checks nothing"))
                .label("no `requires` or `ensures`")
                .help("add `requires <expr>` (checked on entry) or `ensures <expr>` (checked on every return)"),
        );
    }
    if cx.error_count() > before {
        return None;
    }
    if matches!(evidence, Some(None)) {
        cx.push(
            Diagnostic::warning(Code::NoEvidence, span, format!("violations of `{name}` leave no evidence"))
                .label("no `evidence` ledger")
                .help("add `evidence = <ledger>` so that each violation is appended to a tamper-evident ledger"),
        );
    }
    Some(ir::Invariant {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        severity: severity?,
        requires,
        ensures,
        on_violation: on_violation?,
        evidence: evidence?,
        evidence_values: evidence_values?,
        runbook,
    })
}
