//! `ledger` and `bundle`: where evidence lives and what an incident bundle carries.

use super::{Ctx, misplaced, split};
use crate::ast::{Block, StatementKind, Trigger, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::Diagnostic;
use crate::ir::{self, ConstructKind, Include, KeySource, Severity};
use crate::span::Span;
use crate::units::Duration;

/// Checkpoint policy when a ledger does not say: every 1000 entries or 10 seconds.
pub const DEFAULT_CHECKPOINT_ENTRIES: u64 = 1000;
/// See [`DEFAULT_CHECKPOINT_ENTRIES`].
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// How far a writer's clock may jump before the jump is recorded in the ledger, when a ledger
/// does not say (`clock_tolerance = 5m`).
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(300);
/// Default bundle size cap: 5 MiB.
pub const DEFAULT_BUNDLE_MAX_SIZE: u64 = 5 << 20;

pub(crate) fn ledger(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Ledger> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "ledger", span, &["doc", "key", "severity", "runbook", "clock_tolerance"], assigns);
    let doc = s.get("doc").and_then(|v| values::string_value(cx, v));
    let key = s.require(cx, "ledger", name, "key", "env(\"PIP_AUDIT_KEY\")").and_then(|v| key_source(cx, v));
    let severity = s.get("severity").map_or(Some(Severity::P0), |v| values::severity(cx, v));
    let runbook = ctx.runbook(cx, &s, name);
    let clock_tolerance =
        s.get("clock_tolerance").map_or(Some(DEFAULT_CLOCK_TOLERANCE), |v| values::positive_duration(cx, v, "the clock tolerance"));
    let mut checkpoint = None;
    let mut sync = None;
    let mut expects: Vec<ir::Expect> = Vec::new();
    let mut expect_spans: Vec<(String, Span)> = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Every { keyword, triggers } if keyword.name == "checkpoint" => {
                if checkpoint.is_some() {
                    cx.push(
                        Diagnostic::error("pips::duplicate-setting", st.span, "`checkpoint` is given twice")
                            .label("again")
                            .help("join the triggers with `or`"),
                    );
                    continue;
                }
                checkpoint = Some(checkpoint_policy(cx, triggers, st.span));
            }
            StatementKind::Every { triggers, .. } => {
                if sync.is_some() {
                    cx.push(
                        Diagnostic::error("pips::duplicate-setting", st.span, "`sync` is given twice")
                            .label("again")
                            .help("join the triggers with `or`"),
                    );
                    continue;
                }
                sync = Some(sync_policy(cx, triggers, st.span));
            }
            StatementKind::Expect { subsystem, every, severity: sev } => {
                let sub = values::string(cx, subsystem);
                let every = values::positive_duration(cx, every, "the expected interval");
                let sev = match sev {
                    Some(v) => values::severity(cx, v),
                    None => Some(Severity::P1),
                };
                if let Some(sub) = &sub {
                    if sub.trim().is_empty() {
                        cx.push(Diagnostic::error("pips::empty-string", subsystem.span, "the subsystem name is empty").label("empty"));
                        continue;
                    }
                    if let Some((_, first)) = expect_spans.iter().find(|(n, _)| n == sub) {
                        cx.push(
                            Diagnostic::error("pips::duplicate-setting", subsystem.span, format!("subsystem \"{sub}\" is expected twice"))
                                .label("again")
                                .also(*first, "first here"),
                        );
                        continue;
                    }
                    expect_spans.push((sub.clone(), subsystem.span));
                }
                if let (Some(subsystem), Some(every), Some(severity)) = (sub, every, sev) {
                    expects.push(ir::Expect { subsystem, every, severity, source: cx.src(st.span) });
                }
            }
            _ => misplaced(
                cx,
                "ledger",
                st,
                "`key`, `doc`, `severity`, `runbook`, `checkpoint every ...`, `sync every ...` and `expect subsystem ...`",
            ),
        }
    }
    let checkpoint = checkpoint
        .unwrap_or(Some(ir::Checkpoint { every_entries: Some(DEFAULT_CHECKPOINT_ENTRIES), every: Some(DEFAULT_CHECKPOINT_EVERY) }));
    let sync = sync.unwrap_or(Some(ir::Sync::EveryAppend));
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Ledger {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        key: key?,
        checkpoint: checkpoint?,
        sync: sync?,
        severity: severity?,
        expects,
        runbook,
        clock_tolerance: clock_tolerance?,
    })
}

fn key_source(cx: &mut Cx<'_>, v: &crate::ast::Value) -> Option<KeySource> {
    let bad = |cx: &mut Cx<'_>, span: Span| {
        cx.push(
            Diagnostic::error("pips::key-source", span, "a ledger key comes from `env(\"NAME\")` or `file(\"path\")`")
                .label("not a key source")
                .help("keys are never written in a spec: name the environment variable or file that holds it"),
        );
        None
    };
    let ValueKind::Call { name, args } = &v.kind else { return bad(cx, v.span) };
    let [arg] = args.as_slice() else { return bad(cx, v.span) };
    let value = values::nonempty_string(cx, arg, "the key source")?;
    match name.name.as_str() {
        "env" => {
            let valid = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                cx.push(
                    Diagnostic::error("pips::key-source", arg.span, format!("`{value}` is not an environment variable name"))
                        .label("invalid name")
                        .help("use letters, digits and `_`, e.g. PIP_AUDIT_KEY"),
                );
                return None;
            }
            Some(KeySource::Env(value))
        }
        "file" => Some(KeySource::File(value)),
        _ => bad(cx, name.span),
    }
}

fn checkpoint_policy(cx: &mut Cx<'_>, triggers: &[Trigger], span: Span) -> Option<ir::Checkpoint> {
    let mut policy = ir::Checkpoint { every_entries: None, every: None };
    let mut ok = true;
    for t in triggers {
        match t {
            Trigger::Entries { count, span } => {
                let n = entries(cx, count, *span);
                ok &= n.is_some();
                if policy.every_entries.replace(n.unwrap_or(1)).is_some() {
                    ok = false;
                    cx.push(
                        Diagnostic::error("pips::duplicate-setting", *span, "two entry counts in one `checkpoint`").label("second count"),
                    );
                }
            }
            Trigger::Value(v) => {
                let d = values::positive_duration(cx, v, "the checkpoint interval");
                ok &= d.is_some();
                if policy.every.replace(d.unwrap_or_default()).is_some() {
                    ok = false;
                    cx.push(
                        Diagnostic::error("pips::duplicate-setting", v.span, "two intervals in one `checkpoint`").label("second interval"),
                    );
                }
            }
            Trigger::Append(s) => {
                ok = false;
                cx.push(
                    Diagnostic::error("pips::misplaced-statement", *s, "`append` is a `sync` trigger")
                        .label("not a checkpoint trigger")
                        .help("checkpoints are written `every <n> entries or <duration>`"),
                );
            }
        }
    }
    if policy.every.is_none() && policy.every_entries.is_none() {
        cx.push(Diagnostic::error("pips::missing-setting", span, "`checkpoint` has no trigger").label("here"));
        return None;
    }
    ok.then_some(policy)
}

fn sync_policy(cx: &mut Cx<'_>, triggers: &[Trigger], span: Span) -> Option<ir::Sync> {
    if triggers.iter().any(|t| matches!(t, Trigger::Append(_))) {
        if triggers.len() > 1 {
            cx.push(
                Diagnostic::error("pips::sync-policy", span, "`sync every append` cannot be combined with other triggers")
                    .label("here")
                    .help("`append` already syncs as often as possible"),
            );
            return None;
        }
        return Some(ir::Sync::EveryAppend);
    }
    let mut entries_n = None;
    let mut interval = None;
    let mut ok = true;
    for t in triggers {
        match t {
            Trigger::Entries { count, span } => {
                let n = entries(cx, count, *span);
                ok &= n.is_some();
                if entries_n.replace(n.unwrap_or(1)).is_some() {
                    ok = false;
                    cx.push(Diagnostic::error("pips::duplicate-setting", *span, "two entry counts in one `sync`").label("second count"));
                }
            }
            Trigger::Value(v) => {
                let d = values::positive_duration(cx, v, "the sync interval");
                ok &= d.is_some();
                if interval.replace(d.unwrap_or_default()).is_some() {
                    ok = false;
                    cx.push(Diagnostic::error("pips::duplicate-setting", v.span, "two intervals in one `sync`").label("second interval"));
                }
            }
            Trigger::Append(_) => {}
        }
    }
    ok.then_some(ir::Sync::Group { entries: entries_n, interval })
}

fn entries(cx: &mut Cx<'_>, count: &str, span: Span) -> Option<u64> {
    let clean: String = count.chars().filter(|c| *c != '_').collect();
    match clean.parse::<u64>() {
        Ok(0) => {
            cx.push(Diagnostic::error("pips::zero-count", span, "the entry count is zero").label("zero").help("count at least 1 entry"));
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            cx.push(Diagnostic::error("pips::number", span, format!("`{count}` is too large")).label("here"));
            None
        }
    }
}

/// Bundle parts that take no name.
const PARTS: [(&str, Include); 4] =
    [("specs", Include::Specs), ("rules", Include::Rules), ("dashboards", Include::Dashboards), ("timeline", Include::Timeline)];

pub(crate) fn bundle(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Bundle> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "bundle", span, &["doc", "window", "max_size"], assigns);
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
                        Diagnostic::error("pips::duplicate-setting", st.span, "`include` is given twice")
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
                                    "pips::unknown-part",
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
                                let mut d = Diagnostic::error(
                                    "pips::unknown-part",
                                    it.name.span,
                                    format!("`{}` is not a bundle part", it.name.name),
                                )
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
                                Diagnostic::error("pips::duplicate-setting", it.span, "this part is included twice")
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
            Diagnostic::error("pips::missing-setting", span, format!("bundle `{name}` includes nothing"))
                .label("needs `include`")
                .help("add e.g. `include ledger audit, specs, rules, dashboards, timeline`"),
        );
    }
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Bundle { name: name.to_string(), source: cx.src(span), window: window?, max_size: max_size?, include: include? })
}
