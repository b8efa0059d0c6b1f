//! `dashboard`: which constructs are shown, in which rows.

use super::{Ctx, misplaced, split};
use crate::ast::{Block, StatementKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::Diagnostic;
use crate::ir::{self, ConstructKind};
use crate::span::Span;

/// The kinds a dashboard can show.
pub const SHOWABLE: [ConstructKind; 5] =
    [ConstructKind::Ledger, ConstructKind::Invariant, ConstructKind::RateLimit, ConstructKind::Threshold, ConstructKind::Versioned];

pub(crate) fn dashboard(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Dashboard> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "dashboard", span, &["title", "doc"], assigns);
    let title = s.require(cx, "dashboard", name, "title", "\"Payments\"").and_then(|v| values::nonempty_string(cx, v, "the title"));
    if let Some(v) = s.get("doc") {
        values::string_value(cx, v);
    }
    let mut rows = Vec::new();
    let mut shown: Vec<(String, Span)> = Vec::new();
    for st in others {
        let StatementKind::Row { title, members } = &st.kind else {
            misplaced(cx, "dashboard", st, "`title`, `doc` and `row \"...\" { ... }`");
            continue;
        };
        let row_title = values::string(cx, title);
        if row_title.as_ref().is_some_and(|t| t.trim().is_empty()) {
            cx.push(Diagnostic::error("pips::empty-string", title.span, "the row title is empty").label("empty"));
        }
        if members.is_empty() {
            cx.push(
                Diagnostic::warning("pips::empty-row", st.span, "this row shows nothing")
                    .label("empty row")
                    .help("list constructs in the braces, or remove the row"),
            );
        }
        let mut refs = Vec::new();
        for m in members {
            let Some(r) = ctx.names.resolve(cx, &m.name, m.span, &SHOWABLE, "a dashboard row member") else { continue };
            if let Some((_, first)) = shown.iter().find(|(n, _)| *n == m.name) {
                cx.push(
                    Diagnostic::warning("pips::duplicate-panel", m.span, format!("`{}` is shown twice on this dashboard", m.name))
                        .label("shown again")
                        .also(*first, "first shown here"),
                );
            }
            shown.push((m.name.clone(), m.span));
            refs.push(r);
        }
        if let Some(t) = row_title {
            rows.push(ir::Row { title: t, members: refs, source: cx.src(st.span) });
        }
    }
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Dashboard { name: name.to_string(), source: cx.src(span), title: title?, rows })
}
