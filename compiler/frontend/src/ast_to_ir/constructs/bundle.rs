//! `bundle`: the window, size cap and parts of an incident bundle.

use super::Ctx;
use super::shared::{misplaced, split};
use crate::ast::{Block, StatementKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, ConstructKind, Include};
use crate::span::Span;

/// Default bundle size cap: 5 MiB.
pub const DEFAULT_BUNDLE_MAX_SIZE: u64 = 5 << 20;

/// Bundle parts that take no name.
const PARTS: [(&str, Include); 4] =
    [("specs", Include::Specs), ("rules", Include::Rules), ("dashboards", Include::Dashboards), ("timeline", Include::Timeline)];

/// The settings (`key = value` lines) a `bundle` block accepts.
pub(super) const SETTINGS: [&str; 3] = ["doc", "window", "max_size"];

/// Checks a `bundle` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Bundle> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "bundle", span, &SETTINGS, assigns);
    if let Some(v) = s.get("doc") {
        values::string_value(cx, v);
    }
    let window = s.require(cx, "bundle", name, "window", "24h").and_then(|v| values::positive_duration(cx, v, "the bundle window"));
    let max_size = s.get("max_size").map_or(Some(DEFAULT_BUNDLE_MAX_SIZE), |v| values::size(cx, v, "the bundle size cap"));
    let mut include: Option<Vec<Include>> = None;
    for st in others {
        match &st.kind {
            StatementKind::Include(items) => {
                if include.is_some() {
                    cx.push(
                        Diagnostic::error(Code::DuplicateSetting, st.span, "`include` is given twice")
                            .label("again")
                            .help("list every part in one `include`"),
                    );
                    continue;
                }
                let mut parts: Vec<(Include, Span)> = Vec::new();
                for it in items {
                    let part = match &it.kind {
                        Some(k) if k.name == "ledger" => ctx
                            .names
                            .resolve(cx, &it.name.name, it.name.span, &[ConstructKind::Ledger], "an included ledger")
                            .map(|r| Include::Ledger(r.name)),
                        Some(k) => {
                            cx.push(
                                Diagnostic::error(
                                    Code::UnknownPart,
                                    k.span,
                                    format!("`{}` is not a bundle part that takes a name", k.name),
                                )
                                .label("unknown")
                                .help("only `ledger <name>` takes a name"),
                            );
                            None
                        }
                        None => match PARTS.iter().find(|(p, _)| *p == it.name.name) {
                            Some((_, p)) => Some(p.clone()),
                            None => {
                                let mut d =
                                    Diagnostic::error(Code::UnknownPart, it.name.span, format!("`{}` is not a bundle part", it.name.name))
                                        .label("unknown part");
                                d = if ctx.names.0.get(&it.name.name).is_some_and(|(k, _)| *k == ConstructKind::Ledger) {
                                    d.help(format!("write `ledger {}` to include a ledger", it.name.name))
                                } else {
                                    match values::did_you_mean(&it.name.name, PARTS.iter().map(|(p, _)| *p)) {
                                        Some(h) => d.help(h),
                                        None => d.help("parts are `ledger <name>`, `specs`, `rules`, `dashboards` and `timeline`"),
                                    }
                                };
                                cx.push(d);
                                None
                            }
                        },
                    };
                    if let Some(p) = part {
                        if let Some((_, first)) = parts.iter().find(|(q, _)| *q == p) {
                            cx.push(
                                Diagnostic::error(Code::DuplicateSetting, it.span, "this part is included twice")
                                    .label("again")
                                    .also(*first, "first here"),
                            );
                            continue;
                        }
                        parts.push((p, it.span));
                    }
                }
                include = Some(parts.into_iter().map(|(p, _)| p).collect());
            }
            _ => misplaced(cx, "bundle", st, "`window`, `max_size`, `doc` and `include ...`"),
        }
    }
    if include.is_none() {
        cx.push(
            Diagnostic::error(Code::MissingSetting, span, format!("bundle `{name}` includes nothing"))
                .label("needs `include`")
                .help("add e.g. `include ledger audit, specs, rules, dashboards, timeline`"),
        );
    }
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Bundle { name: name.to_string(), source: cx.src(span), window: window?, max_size: max_size?, include: include? })
}
