//! `ledger`: the key source, checkpoint and sync policies, the subsystems expected to
//! write evidence, and signed, witnessed checkpoints (`signing`).

mod signing;
mod verifier_key;

use super::Ctx;
use super::shared::{misplaced, split};
use crate::ast::{Block, StatementKind, Trigger, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, KeySource, Severity};
use crate::span::Span;
use crate::units::Duration;

/// Checkpoint policy when a ledger does not say: every 1000 entries or 10 seconds.
pub const DEFAULT_CHECKPOINT_ENTRIES: u64 = 1000;
/// See [`DEFAULT_CHECKPOINT_ENTRIES`].
pub const DEFAULT_CHECKPOINT_EVERY: Duration = Duration::from_secs(10);
/// How far a writer's clock may jump before the jump is recorded in the ledger, when a ledger
/// does not say (`clock_tolerance = 5m`).
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// Every setting of a `ledger` block: its own, then those of signed checkpoints (`signing`).
pub(super) const SETTINGS: [&str; 9] = {
    let [s1, s2, s3, s4] = signing::SETTINGS;
    ["doc", "key", "severity", "runbook", "clock_tolerance", s1, s2, s3, s4]
};

/// Checks a `ledger` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Ledger> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let mut settings = Vec::with_capacity(assigns.len());
    for a in assigns {
        if a.key.name != "witness" {
            settings.push(a);
            continue;
        }
        // `witness` is a statement; as an unknown setting it would get "did you mean
        // `witness_quorum`?", which is not what its author meant.
        cx.push(
            Diagnostic::error(Code::UnknownSetting, a.key.span, "`witness` is not a setting of `ledger`")
                .label("a statement, written without `=`")
                .help("write `witness \"https://witness.example.com/\" key \"<name>+<key id>+<key>\"`"),
        );
    }
    let s = Settings::collect(cx, "ledger", span, &SETTINGS, settings);
    let doc = s.get("doc").and_then(|v| values::string_value(cx, v));
    let key =
        s.require(cx, "ledger", name, "key", "env(\"PIP_AUDIT_KEY\")").and_then(|v| key_source(cx, v, "a ledger key", "PIP_AUDIT_KEY"));
    let severity = s.get("severity").map_or(Some(Severity::P0), |v| values::severity(cx, v));
    let runbook = ctx.runbook(cx, &s, name);
    let clock_tolerance =
        s.get("clock_tolerance").map_or(Some(DEFAULT_CLOCK_TOLERANCE), |v| values::positive_duration(cx, v, "the clock tolerance"));
    let mut checkpoint = None;
    let mut sync = None;
    let mut expects: Vec<ir::Expect> = Vec::new();
    let mut expect_spans: Vec<(String, Span)> = Vec::new();
    let mut witnesses: Vec<signing::WitnessLine<'_>> = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Every { keyword, triggers } if keyword.name == "checkpoint" => {
                if first_every(cx, checkpoint.is_none(), "checkpoint", st.span) {
                    checkpoint = Some(checkpoint_policy(cx, triggers, st.span));
                }
            }
            StatementKind::Every { triggers, .. } => {
                if first_every(cx, sync.is_none(), "sync", st.span) {
                    sync = Some(sync_policy(cx, triggers, st.span));
                }
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
                        cx.push(Diagnostic::error(Code::EmptyString, subsystem.span, "the subsystem name is empty").label("empty"));
                        continue;
                    }
                    if let Some((_, first)) = expect_spans.iter().find(|(n, _)| n == sub) {
                        cx.push(
                            Diagnostic::error(Code::DuplicateSetting, subsystem.span, format!("subsystem \"{sub}\" is expected twice"))
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
            StatementKind::Witness { url, key } => witnesses.push(signing::WitnessLine { url, key, span: st.span }),
            _ => misplaced(
                cx,
                "ledger",
                st,
                "settings such as `key = ...`, `checkpoint every ...`, `sync every ...`, `expect subsystem ...` and `witness ... key ...`",
            ),
        }
    }
    let signing = signing::check(cx, &s, &witnesses, &signing::Owner { spec: ctx.spec, ledger: name, span });
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
        signing: signing?,
    })
}

/// A key's source, `env("NAME")` or `file("path")`; `what` names the key in messages ("a
/// ledger key") and `example` is an environment variable name to suggest.
fn key_source(cx: &mut Cx<'_>, v: &crate::ast::Value, what: &str, example: &str) -> Option<KeySource> {
    let bad = |cx: &mut Cx<'_>, span: Span| {
        cx.push(
            Diagnostic::error(Code::KeySource, span, format!("{what} comes from `env(\"NAME\")` or `file(\"path\")`"))
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
                    Diagnostic::error(Code::KeySource, arg.span, format!("`{value}` is not an environment variable name"))
                        .label("invalid name")
                        .help(format!("use letters, digits and `_`, e.g. {example}")),
                );
                return None;
            }
            Some(KeySource::Env(value))
        }
        "file" => Some(KeySource::File(value)),
        _ => bad(cx, name.span),
    }
}

/// Whether an `every` statement (`checkpoint every ...`, `sync every ...`) is the first of its
/// keyword in the block; a second one is reported and ignored.
fn first_every(cx: &mut Cx<'_>, first: bool, keyword: &str, span: Span) -> bool {
    if !first {
        cx.push(
            Diagnostic::error(Code::DuplicateSetting, span, format!("`{keyword}` is given twice"))
                .label("again")
                .help("join the triggers with `or`"),
        );
    }
    first
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
                    cx.push(Diagnostic::error(Code::DuplicateSetting, *span, "two entry counts in one `checkpoint`").label("second count"));
                }
            }
            Trigger::Value(v) => {
                let d = values::positive_duration(cx, v, "the checkpoint interval");
                ok &= d.is_some();
                if policy.every.replace(d.unwrap_or_default()).is_some() {
                    ok = false;
                    cx.push(
                        Diagnostic::error(Code::DuplicateSetting, v.span, "two intervals in one `checkpoint`").label("second interval"),
                    );
                }
            }
            Trigger::Append(s) => {
                ok = false;
                cx.push(
                    Diagnostic::error(Code::MisplacedStatement, *s, "`append` is a `sync` trigger")
                        .label("not a checkpoint trigger")
                        .help("checkpoints are written `every <n> entries or <duration>`"),
                );
            }
        }
    }
    if policy.every.is_none() && policy.every_entries.is_none() {
        cx.push(Diagnostic::error(Code::MissingSetting, span, "`checkpoint` has no trigger").label("here"));
        return None;
    }
    ok.then_some(policy)
}

fn sync_policy(cx: &mut Cx<'_>, triggers: &[Trigger], span: Span) -> Option<ir::Sync> {
    if triggers.iter().any(|t| matches!(t, Trigger::Append(_))) {
        if triggers.len() > 1 {
            cx.push(
                Diagnostic::error(Code::SyncPolicy, span, "`sync every append` cannot be combined with other triggers")
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
                    cx.push(Diagnostic::error(Code::DuplicateSetting, *span, "two entry counts in one `sync`").label("second count"));
                }
            }
            Trigger::Value(v) => {
                let d = values::positive_duration(cx, v, "the sync interval");
                ok &= d.is_some();
                if interval.replace(d.unwrap_or_default()).is_some() {
                    ok = false;
                    cx.push(Diagnostic::error(Code::DuplicateSetting, v.span, "two intervals in one `sync`").label("second interval"));
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
            cx.push(Diagnostic::error(Code::ZeroCount, span, "the entry count is zero").label("zero").help("count at least 1 entry"));
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            cx.push(Diagnostic::error(Code::Number, span, format!("`{count}` is too large")).label("here"));
            None
        }
    }
}
