//! `dashboard`: which constructs are shown, in which rows.

use super::Ctx;
use super::shared::{misplaced, split};
use crate::ast::{Block, StatementKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, ConstructKind};
use crate::span::Span;

/// The settings (`key = value` lines) a `dashboard` block accepts.
pub(super) const SETTINGS: [&str; 2] = ["title", "doc"];

/// Checks a `dashboard` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Dashboard> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "dashboard", span, &SETTINGS, assigns);
    let title = s.require(cx, "dashboard", name, "title", "\"Payments\"").and_then(|v| values::nonempty_string(cx, v, "the title"));
    if let Some(v) = s.get("doc") {
        values::string_value(cx, v);
    }
    let showable: Vec<ConstructKind> = ConstructKind::ALL.into_iter().filter(|k| k.showable()).collect();
    let mut rows = Vec::new();
    let mut shown: Vec<(String, Span)> = Vec::new();
    for st in others {
        let StatementKind::Row { title, members } = &st.kind else {
            misplaced(cx, "dashboard", st, "`title`, `doc` and `row \"...\" { ... }`");
            continue;
        };
        let row_title = values::string(cx, title);
        if row_title.as_ref().is_some_and(|t| t.trim().is_empty()) {
            cx.push(Diagnostic::error(Code::EmptyString, title.span, "the row title is empty").label("empty"));
        }
        if members.is_empty() {
            cx.push(
                Diagnostic::warning(Code::EmptyRow, st.span, "this row shows nothing")
                    .label("empty row")
                    .help("list constructs in the braces, or remove the row"),
            );
        }
        let mut refs = Vec::new();
        for m in members {
            let Some(r) = ctx.names.resolve(cx, &m.name, m.span, &showable, "a dashboard row member") else { continue };
            if let Some((_, first)) = shown.iter().find(|(n, _)| *n == m.name) {
                cx.push(
                    Diagnostic::warning(Code::DuplicatePanel, m.span, format!("`{}` is shown twice on this dashboard", m.name))
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
