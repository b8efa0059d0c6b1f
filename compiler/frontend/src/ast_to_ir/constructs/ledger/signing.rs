//! A ledger's signed checkpoints: `signing_key`, `origin`, the `witness` lines,
//! `witness_quorum` and `witness_silence`. They are checked together because every one but
//! `signing_key` means nothing without it (witnesses cosign signed checkpoints only).

use super::verifier_key;
use crate::ast::{Value, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, DEFAULT_WITNESS_SILENCE, MAX_ORIGIN_BYTES};
use crate::span::Span;

/// The settings of a `ledger` block this module reads.
pub(super) const SETTINGS: [&str; 4] = ["signing_key", "origin", "witness_quorum", "witness_silence"];

/// A `witness <url> key <key>` statement of the block.
pub(super) struct WitnessLine<'a> {
    /// The value after `witness`.
    pub url: &'a Value,
    /// The value after `key`.
    pub key: &'a Value,
    /// The whole statement.
    pub span: Span,
}

/// Who the ledger is, for the default origin `pip/<spec>/<ledger>`.
pub(super) struct Owner<'a> {
    /// The spec's name.
    pub spec: &'a str,
    /// The ledger's name.
    pub ledger: &'a str,
    /// Where the ledger's name is written (a default origin that is too long is reported there).
    pub span: Span,
}

/// Checks the signing settings: `Some(None)` when the ledger does not sign (and sets nothing
/// that needs signing), `Some(Some(..))` when it does, `None` after reporting errors.
pub(super) fn check(cx: &mut Cx<'_>, s: &Settings<'_>, lines: &[WitnessLine<'_>], owner: &Owner<'_>) -> Option<Option<ir::Signing>> {
    let before = cx.error_count();
    let key = s.get("signing_key").map(|v| super::key_source(cx, v, "a signing key", "PIP_AUDIT_SIGNING_KEY"));
    let origin = s.get("origin").map(|v| origin(cx, v));
    let witnesses = witnesses(cx, lines);
    let quorum = s.get("witness_quorum").map(|v| values::count(cx, v, "the witness quorum"));
    let silence = s.get("witness_silence").map(|v| values::positive_duration(cx, v, "the witness silence"));
    if key.is_none() {
        for setting in ["origin", "witness_quorum", "witness_silence"] {
            if let Some(a) = s.assign(setting) {
                needs_signing_key(cx, a.key.span, setting);
            }
        }
        for line in lines {
            needs_signing_key(cx, line.span, "witness");
        }
    }
    if lines.is_empty() {
        for setting in ["witness_quorum", "witness_silence"] {
            if let Some(a) = s.assign(setting) {
                cx.push(
                    Diagnostic::error(Code::MissingSetting, a.key.span, format!("`{setting}` is set, but the ledger names no witness"))
                        .label("no `witness` in this ledger")
                        .help(format!("add `witness \"https://...\" key \"...\"` lines, or remove `{setting}`")),
                );
            }
        }
    } else if let (Some(Some(q)), Some(v)) = (quorum, s.get("witness_quorum"))
        && q > lines.len() as u64
    {
        let n = lines.len();
        let witnesses = if n == 1 { "1 witness".to_string() } else { format!("{n} witnesses") };
        cx.push(
            Diagnostic::error(Code::WitnessQuorum, v.span, format!("the witness quorum {q} is more than the ledger's {witnesses}"))
                .label(format!("at most {n}"))
                .help("a checkpoint can gather at most one cosignature per `witness`; the default quorum is all of them"),
        );
    }
    if cx.error_count() > before {
        return None;
    }
    let Some(key) = key else { return Some(None) };
    let origin = match origin {
        Some(o) => o?,
        None => default_origin(cx, owner)?,
    };
    let witnesses = witnesses?;
    let all = u32::try_from(witnesses.len()).unwrap_or(u32::MAX);
    let quorum = match quorum {
        Some(q) => u32::try_from(q?).unwrap_or(u32::MAX),
        None => all,
    };
    Some(Some(ir::Signing { key: key?, origin, witnesses, quorum, silence: silence.unwrap_or(Some(DEFAULT_WITNESS_SILENCE))? }))
}

fn needs_signing_key(cx: &mut Cx<'_>, span: Span, setting: &str) {
    cx.push(
        Diagnostic::error(Code::MissingSetting, span, format!("`{setting}` needs `signing_key`"))
            .label("needs `signing_key`")
            .help("add `signing_key = env(\"PIP_AUDIT_SIGNING_KEY\")`: origins and witnesses are for signed checkpoints"),
    );
}

/// `origin = "..."`: a non-empty, schema-less URL-like name (c2sp.org/tlog-checkpoint).
fn origin(cx: &mut Cx<'_>, v: &Value) -> Option<String> {
    let o = values::nonempty_string(cx, v, "the origin")?;
    let Some(problem) = origin_problem(&o) else { return Some(o) };
    cx.push(
        Diagnostic::error(Code::InvalidOrigin, v.span, problem).label("not a checkpoint origin").help(format!(
            "an origin names the log like a URL without its scheme, e.g. \"payments.example.com/audit\": at most {MAX_ORIGIN_BYTES} bytes, no spaces, no `+`"
        )),
    );
    None
}

/// What is wrong with an origin (the message), or `None` when it is valid.
fn origin_problem(o: &str) -> Option<String> {
    if o.is_empty() {
        Some("the origin is empty".into())
    } else if o.len() > MAX_ORIGIN_BYTES {
        Some(format!("the origin is {} bytes long, more than {MAX_ORIGIN_BYTES}", o.len()))
    } else if o.contains(char::is_whitespace) {
        Some("the origin holds whitespace".into())
    } else if o.contains('+') {
        Some("the origin holds a `+`".into())
    } else if o.contains(char::is_control) {
        Some("the origin holds a control character".into())
    } else if o.contains("://") {
        Some("the origin has a URL scheme".into())
    } else {
        None
    }
}

/// `pip/<spec>/<ledger>`, which only names too long to fit can make invalid.
fn default_origin(cx: &mut Cx<'_>, owner: &Owner<'_>) -> Option<String> {
    let o = format!("pip/{}/{}", owner.spec, owner.ledger);
    if let Some(problem) = origin_problem(&o) {
        cx.push(
            Diagnostic::error(Code::InvalidOrigin, owner.span, format!("the default {}", problem.trim_start_matches("the ")))
                .label("the default origin is `pip/<spec>/<ledger>`")
                .help("set a shorter `origin = \"...\"` in the ledger"),
        );
        return None;
    }
    Some(o)
}

/// The `witness` lines, each checked, with no URL or key name twice.
fn witnesses(cx: &mut Cx<'_>, lines: &[WitnessLine<'_>]) -> Option<Vec<ir::Witness>> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut urls: Vec<(String, Span)> = Vec::new();
    let mut names: Vec<(String, Span)> = Vec::new();
    for line in lines {
        let url = witness_url(cx, line.url);
        let key = witness_key(cx, line.key);
        if let Some(url) = &url {
            if let Some((_, first)) = urls.iter().find(|(u, _)| u == url) {
                cx.push(
                    Diagnostic::error(Code::DuplicateSetting, line.url.span, format!("witness `{url}` is named twice"))
                        .label("again")
                        .also(*first, "first here")
                        .help("name each witness once"),
                );
                ok = false;
            } else {
                urls.push((url.clone(), line.url.span));
            }
        }
        if let Some((_, name)) = &key {
            if let Some((_, first)) = names.iter().find(|(n, _)| n == name) {
                cx.push(
                    Diagnostic::error(Code::DuplicateSetting, line.key.span, format!("two witnesses use the key name `{name}`"))
                        .label("again")
                        .also(*first, "first here")
                        .help("cosignatures are told apart by their key name: each witness has its own"),
                );
                ok = false;
            } else {
                names.push((name.clone(), line.key.span));
            }
        }
        match (url, key) {
            (Some(url), Some((key, name))) => out.push(ir::Witness { url, key, name, source: cx.src(line.span) }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A witness URL: an absolute `http://` or `https://` URL with a host, without whitespace.
fn witness_url(cx: &mut Cx<'_>, v: &Value) -> Option<String> {
    let u = values::nonempty_string(cx, v, "the witness URL")?;
    let host =
        u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")).map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if host.is_some_and(|h| !h.is_empty()) && !u.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Some(u);
    }
    cx.push(
        Diagnostic::error(Code::InvalidUrl, v.span, "the witness URL is not an absolute http(s) URL")
            .label("not an http(s) URL")
            .help("the ledger sends its checkpoints to the witness there, e.g. \"https://witness.example.com/\""),
    );
    None
}

/// A witness's verifier key and its name; a key is public, so it is written in the spec.
fn witness_key(cx: &mut Cx<'_>, v: &Value) -> Option<(String, String)> {
    let text = match &v.kind {
        ValueKind::Str(s) => values::string(cx, s)?,
        other => {
            cx.push(
                Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a string, found {}", other.describe()))
                    .label(format!("this is {}", other.describe()))
                    .help("a witness key is public: write the verifier key itself, \"<name>+<key id>+<key>\""),
            );
            return None;
        }
    };
    match verifier_key::parse(&text) {
        Ok(name) => {
            let name = name.to_string();
            Some((text, name))
        }
        Err(e) => {
            let (message, help) = e.explain();
            cx.push(Diagnostic::error(Code::VerifierKey, v.span, message).label("not a witness key").help(help));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::origin_problem;

    #[test]
    fn origins_follow_the_checkpoint_rules() {
        assert_eq!(origin_problem("payments.example.com/audit"), None);
        assert_eq!(origin_problem("pip/payments/audit"), None);
        assert_eq!(origin_problem("zahlungen.example/prüfung"), None, "UTF-8 is allowed");
        assert_eq!(origin_problem(&"a".repeat(255)), None);
        assert!(origin_problem(&"a".repeat(256)).is_some());
        assert!(origin_problem("").is_some());
        for bad in ["a b", "a\u{a0}b", "a+b", "a\u{7f}b", "https://a.example/log"] {
            assert!(origin_problem(bad).is_some(), "{bad:?}");
        }
    }
}
