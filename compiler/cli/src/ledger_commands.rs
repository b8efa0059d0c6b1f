//! `verify-log`, `log show|summary|gaps|dump` and `keygen`: the tamper-evident ledger from
//! the shell (`log append` is [`crate::log_append`]); the work is in [`pip_runtime::ledger`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pip_runtime::clock::{Clock, SystemClock};
use pip_runtime::hex::to_hex;
use pip_runtime::ledger::checkpoint::default_path;
use pip_runtime::ledger::key::generate_key_file;
use pip_runtime::ledger::query::{Filter, LedgerReader, entry_json, evidence_gaps, summarize};
use pip_runtime::ledger::timefmt::{format_millis, parse_millis};
use pip_runtime::ledger::{LedgerKey, Report, verify_files};

use crate::out::Out;
use crate::signed_commands::{SignedCheck, SignedOutcome};
use crate::spec_ledger::spec_ledger;
use crate::{EXIT_FAIL, EXIT_OK, EXIT_USAGE, FilterArgs, OptionalKeyArgs, ReportFormat, SignedCheckArgs};

fn time(text: Option<&String>) -> Result<Option<u64>, String> {
    text.map(|t| parse_millis(t).map_err(|e| e.to_string())).transpose()
}

/// `--since` and `--until` (named `from` and `to` in the message): both parsed, and the
/// range not empty.
fn range(since: Option<&String>, until: Option<&String>, names: (&str, &str)) -> Result<(Option<u64>, Option<u64>), String> {
    let (s, u) = (time(since)?, time(until)?);
    if let (Some(a), Some(b)) = (s, u)
        && a >= b
    {
        return Err(format!("the time range is empty: `--{}` must be before `--{}`", names.0, names.1));
    }
    Ok((s, u))
}

fn checkpoints_for(ledger: &Path, given: Option<&PathBuf>) -> Option<PathBuf> {
    given.cloned().or_else(|| Some(default_path(ledger)).filter(|p| p.exists()))
}

/// `pipc verify-log`: the whole-file verification report with the HMAC key, and/or the
/// check against the signed checkpoints with the verifier key; as text (untrusted parts
/// escaped) or one JSON document. Exit 1 on any anomaly or problem or an `--expect-id`
/// mismatch, 2 when the files or the keys cannot be read.
#[expect(clippy::too_many_arguments, reason = "one per flag of the command")]
pub(crate) fn verify_log(
    out: &mut Out<'_>,
    ledger: &Path,
    key: &OptionalKeyArgs,
    signed: &SignedCheckArgs,
    checkpoints: Option<&PathBuf>,
    format: ReportFormat,
    threads: Option<usize>,
    expect_id: Option<&str>,
) -> u8 {
    let expect_id = match expect_id.map(parse_ledger_id).transpose() {
        Ok(x) => x,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let key = match key.given() {
        Some(k) => match k.load(out) {
            Ok(k) => Some(k),
            Err(e) => {
                out.err(e);
                return EXIT_USAGE;
            }
        },
        None if expect_id.is_some() => {
            out.err("`--expect-id` needs the ledger key (`--key-file` or `--key-env`): only it authenticates the ledger's id");
            return EXIT_USAGE;
        }
        None => None,
    };
    let signed_check = match SignedCheck::load(signed) {
        Ok(c) => c,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let ckpt = checkpoints_for(ledger, checkpoints);
    let hmac = match key.map(|key| hmac_check(ledger, ckpt.as_deref(), &key, threads, expect_id)).transpose() {
        Ok(x) => x,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let signed_outcome = match signed_check.map(|c| c.run(ledger)).transpose() {
        Ok(x) => x,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let hmac_clean = hmac.as_ref().is_none_or(|(r, m)| r.is_clean() && m.is_none());
    let signed_clean = signed_outcome.as_ref().is_none_or(SignedOutcome::is_clean);
    match format {
        ReportFormat::Human => {
            if let Some((report, mismatch)) = &hmac {
                print_human(out, ledger, ckpt.as_deref(), report, mismatch.as_ref());
            }
            if let Some(s) = &signed_outcome {
                s.print_human(out, ledger, hmac.is_some());
            }
        }
        ReportFormat::Json => {
            let mut doc = match &hmac {
                Some((report, mismatch)) => report_json(ledger, ckpt.as_deref(), report, mismatch.as_ref()),
                None => serde_json::json!({ "ledger": ledger.display().to_string() }),
            };
            if let (Some(s), Some(obj)) = (&signed_outcome, doc.as_object_mut()) {
                obj.insert("clean".into(), serde_json::Value::Bool(hmac_clean && signed_clean));
                obj.insert("signed".into(), s.to_json());
            }
            let _ = writeln!(out.stdout, "{doc}");
        }
    }
    if !(hmac_clean && signed_clean) {
        EXIT_FAIL
    } else if signed_outcome.as_ref().is_some_and(SignedOutcome::save_failed) {
        EXIT_USAGE
    } else {
        EXIT_OK
    }
}

/// The HMAC verification and the `--expect-id` comparison.
fn hmac_check(
    ledger: &Path,
    ckpt: Option<&Path>,
    key: &LedgerKey,
    threads: Option<usize>,
    expect_id: Option<String>,
) -> Result<(Report, Option<IdentityMismatch>), String> {
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let report = verify_files(ledger, ckpt, key, threads).map_err(|e| e.to_string())?;
    // `--expect-id`: another ledger written with the same key verifies as well as this one;
    // only its identity tells them apart.
    let mismatch = expect_id.and_then(|want| {
        let have = report.identity.as_ref().map(|i| i.id_hex());
        (have.as_deref() != Some(want.as_str())).then_some(IdentityMismatch { expected: want, found: have })
    });
    Ok((report, mismatch))
}

/// The HMAC verification report as one JSON document.
fn report_json(ledger: &Path, ckpt: Option<&Path>, report: &Report, mismatch: Option<&IdentityMismatch>) -> serde_json::Value {
    let in_flight = report.in_flight.map(|f| serde_json::json!({ "ledger_bytes": f.ledger_bytes, "checkpoint_bytes": f.checkpoint_bytes }));
    serde_json::json!({
        "ledger": ledger.display().to_string(),
        "checkpoints_file": ckpt.map(|p| p.display().to_string()),
        "clean": report.is_clean() && mismatch.is_none(),
        "identity": report.identity.as_ref().map(|i| serde_json::json!({ "spec": i.spec, "ledger": i.ledger, "id": i.id_hex() })),
        "identity_mismatch": mismatch.map(|m| serde_json::json!({ "expected": m.expected, "found": m.found })),
        "entries": report.entries,
        "authentic": report.authentic,
        "head": report.head.map(|h| serde_json::json!({ "seq": h.seq, "hash": to_hex(&h.hash), "time": format_millis(h.ts_millis) })),
        "checkpoints": report.checkpoints,
        "checkpointed_through": report.checkpointed_through,
        "writer_live": report.writer_live,
        "in_flight": in_flight,
        "anomaly_count": report.anomaly_count(),
        "anomalies": report.anomalies.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
        "events_total": report.events_total,
        "events": report.events.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
    })
}

/// The ledger is not the one `--expect-id` names.
struct IdentityMismatch {
    expected: String,
    found: Option<String>,
}

/// A ledger id as `--expect-id` takes it: 32 hex digits, either case.
fn parse_ledger_id(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.len() != 2 * pip_runtime::ledger::identity::LEDGER_ID_LEN || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`--expect-id {text}` is not a ledger id (32 hex digits, as `pipc verify-log` prints it)"));
    }
    Ok(t.to_ascii_lowercase())
}

fn print_human(out: &mut Out<'_>, ledger: &Path, ckpt: Option<&Path>, report: &Report, mismatch: Option<&IdentityMismatch>) {
    // Anomalies, events and the identity can quote the files' own bytes (a header's names,
    // an entry's payload): their control characters are escaped before the terminal sees them.
    let shown = |s: String| pip_runtime::untrusted::shown(s.as_bytes());
    for a in &report.anomalies {
        let _ = writeln!(out.stdout, "{}", shown(a.to_string()));
    }
    if let Some(m) = mismatch {
        let found = m.found.as_deref().map_or_else(|| "cannot be established".to_string(), |f| format!("is {f}"));
        let _ = writeln!(out.stdout, "other_ledger: the ledger's id {found}, not {} (`--expect-id`)", m.expected);
    }
    for e in &report.events {
        let _ = writeln!(out.stdout, "event: {}", shown(e.to_string()));
    }
    if report.events_total > report.events.len() as u64 {
        let _ = writeln!(out.stdout, "event: {} more not listed", report.events_total - report.events.len() as u64);
    }
    let identity = report.identity.as_ref().map(|i| format!("{}; ", shown(i.to_string()))).unwrap_or_default();
    let head = report.head.map_or_else(|| "no entries".to_string(), |h| format!("head seq {} at {}", h.seq, format_millis(h.ts_millis)));
    let cps = match ckpt {
        Some(p) => format!(
            "{} checkpoint(s) from `{}`{}",
            report.checkpoints,
            p.display(),
            report.checkpointed_through.map(|s| format!(" through seq {s}")).unwrap_or_default()
        ),
        None => "no checkpoint file (a cut-off end cannot be detected)".to_string(),
    };
    let live = match (report.writer_live, report.in_flight) {
        (true, Some(f)) => format!(
            "; a live writer holds the ledger: {} bytes of the ledger and {} of the checkpoint file in flight",
            f.ledger_bytes, f.checkpoint_bytes
        ),
        (true, None) => "; a live writer holds the ledger".to_string(),
        (false, _) => String::new(),
    };
    let verdict = if report.is_clean() {
        "clean".to_string()
    } else {
        let mut by: BTreeMap<&str, u64> = BTreeMap::new();
        for a in &report.anomalies {
            *by.entry(a.class.as_str()).or_default() += a.count();
        }
        let parts: Vec<String> = by.iter().map(|(c, n)| format!("{n} {c}")).collect();
        let n = report.anomaly_count();
        format!("{n} anomal{}: {}", if n == 1 { "y" } else { "ies" }, parts.join(", "))
    };
    let events = if report.events_total > 0 { format!("; {} ledger event(s)", report.events_total) } else { String::new() };
    let _ = writeln!(
        out.stdout,
        "{}: {identity}{} entries ({} authentic), {head}; {cps}{live}{events}; {verdict}",
        ledger.display(),
        report.entries,
        report.authentic
    );
}

fn open_reader(out: &mut Out<'_>, ledger: &Path) -> Result<LedgerReader, u8> {
    LedgerReader::open(ledger).map_err(|e| {
        out.err(e);
        EXIT_USAGE
    })
}

/// Warns about parts that could not be read; returns whether there were any.
fn warn_damage(out: &mut Out<'_>, ledger: &Path, reader: &LedgerReader) -> bool {
    let damaged = reader.damaged();
    for (offset, len) in &damaged {
        out.err(format!("warning: {len} bytes at offset {offset} of `{}` are not an entry; skipped", ledger.display()));
    }
    if let Some(t) = reader.torn_tail() {
        out.err(format!("warning: `{}` ends in an unfinished entry ({} bytes at offset {})", ledger.display(), t.len, t.offset));
    }
    if !damaged.is_empty() || reader.torn_tail().is_some() {
        out.err("reading does not verify: run `pipc verify-log` to name every anomaly");
        return true;
    }
    false
}

/// `pipc log show` and `pipc log dump`: entries as JSON lines.
pub(crate) fn show(out: &mut Out<'_>, ledger: &Path, f: &FilterArgs) -> u8 {
    let (since, until) = match range(f.since.as_ref(), f.until.as_ref(), ("since", "until")) {
        Ok(r) => r,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let reader = match open_reader(out, ledger) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let filter = Filter {
        subsystem: f.subsystem.clone(),
        actor: f.actor.clone(),
        action: f.action.clone(),
        resource: f.resource.clone(),
        since,
        until,
    };
    let mut unreadable = false;
    for e in reader.entries() {
        match e {
            Ok(e) if filter.matches(&e) => {
                let _ = writeln!(out.stdout, "{}", entry_json(&e));
            }
            Ok(_) => {}
            Err(x) => {
                out.err(format!("warning: {x}; skipped"));
                unreadable = true;
            }
        }
    }
    let damaged = warn_damage(out, ledger, &reader);
    if damaged || unreadable { EXIT_FAIL } else { EXIT_OK }
}

/// `pipc log summary`: entries counted per subsystem, actor and action, with the first and
/// last time of each, as a table or JSON lines; exit 1 when parts of the file are damaged.
pub(crate) fn summary(out: &mut Out<'_>, ledger: &Path, since: Option<&String>, until: Option<&String>, format: ReportFormat) -> u8 {
    let (since, until) = match range(since, until, ("since", "until")) {
        Ok(r) => r,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let reader = match open_reader(out, ledger) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let filter = Filter { since, until, ..Filter::default() };
    let entries: Vec<_> = reader.entries().filter_map(Result::ok).filter(|e| filter.matches(e)).collect();
    let rows = summarize(&entries);
    match format {
        ReportFormat::Json => {
            for r in &rows {
                let line = serde_json::json!({
                    "subsystem": r.subsystem, "actor": r.actor, "action": r.action, "count": r.count,
                    "first": format_millis(r.first_ms), "last": format_millis(r.last_ms),
                });
                let _ = writeln!(out.stdout, "{line}");
            }
        }
        ReportFormat::Human => {
            let header = ["SUBSYSTEM", "ACTOR", "ACTION", "COUNT", "FIRST", "LAST"];
            let cells: Vec<[String; 6]> = rows
                .iter()
                .map(|r| {
                    [
                        r.subsystem.clone(),
                        r.actor.clone(),
                        r.action.clone(),
                        r.count.to_string(),
                        format_millis(r.first_ms),
                        format_millis(r.last_ms),
                    ]
                })
                .collect();
            let mut width = header.map(str::len);
            for row in &cells {
                for (w, c) in width.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cols: Vec<&str>| -> String {
                cols.iter().zip(width).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
            };
            let _ = writeln!(out.stdout, "{}", line(header.to_vec()));
            for row in &cells {
                let _ = writeln!(out.stdout, "{}", line(row.iter().map(String::as_str).collect()));
            }
            let _ = writeln!(out.stdout, "{} entries", entries.len());
        }
    }
    let damaged = warn_damage(out, ledger, &reader);
    if damaged { EXIT_FAIL } else { EXIT_OK }
}

/// `pipc log gaps`: silences longer than the spec's `expect subsystem` lines allow.
pub(crate) fn gaps(
    out: &mut Out<'_>,
    ledger: &Path,
    specs: &[PathBuf],
    name: Option<&str>,
    now: Option<&String>,
    since: Option<&String>,
    format: ReportFormat,
) -> u8 {
    let expectations = match spec_ledger(specs, name).map(|(_, l)| pip_bundle::expectations(&l)) {
        Ok(x) => x,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let (now, since) = match range(since, now, ("since", "now")) {
        Ok((s, n)) => (n.unwrap_or_else(|| SystemClock::new().unix_millis()), s),
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let reader = match open_reader(out, ledger) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let first = reader.raw().next().map(|b| b.ts_millis);
    let start = since.or(first).unwrap_or(now);
    let found = evidence_gaps(reader.raw().map(|b| (b.subsystem, b.ts_millis, b.seq)), &expectations, start, now);
    for g in &found {
        match format {
            ReportFormat::Json => {
                let line = serde_json::json!({
                    "subsystem": g.subsystem, "from": format_millis(g.from_ms), "to": format_millis(g.to_ms),
                    "silent_ms": g.to_ms - g.from_ms, "expected_every_ms": g.every_ms, "severity": g.severity,
                    "ongoing": g.ongoing, "ended_by_seq": g.ended_by,
                });
                let _ = writeln!(out.stdout, "{line}");
            }
            ReportFormat::Human => {
                let end = if g.ongoing { format!("now ({})", format_millis(g.to_ms)) } else { format_millis(g.to_ms) };
                let _ = writeln!(
                    out.stdout,
                    "{} {}: silent from {} to {end}, {} (expected every {})",
                    g.severity,
                    g.subsystem,
                    format_millis(g.from_ms),
                    human_duration(g.to_ms - g.from_ms),
                    human_duration(g.every_ms)
                );
            }
        }
    }
    if format == ReportFormat::Human {
        let _ =
            writeln!(out.stderr, "{} gap(s) for {} expected subsystem(s) since {}", found.len(), expectations.len(), format_millis(start));
    }
    if found.is_empty() { EXIT_OK } else { EXIT_FAIL }
}

fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=119 => format!("{s}s"),
        120..=7199 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `pipc keygen`: writes a new random ledger key to `output` (owner-only, never over an
/// existing file) and prints its key id on stderr, never the key.
pub(crate) fn keygen(out: &mut Out<'_>, output: &Path) -> u8 {
    match generate_key_file(output) {
        Ok(key) => {
            let _ = writeln!(out.stderr, "wrote a new key to `{}` (key id {}); keep it secret", output.display(), key.id_hex());
            EXIT_OK
        }
        Err(e) => {
            out.err(e);
            EXIT_USAGE
        }
    }
}
