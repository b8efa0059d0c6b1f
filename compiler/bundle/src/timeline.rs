//! `timeline.html`: what happened in the window, for people, rendered with handlebars into one
//! self-contained page (inline SVG, style and script, a policy that forbids loading anything):
//! a picture of the window ([`svg`]: lanes per ledger and subsystem with event density,
//! violations, denials, version changes, evidence gaps and checkpoints; hover for the entry,
//! click for its row, drag across it to select a time range), then the events in time order,
//! violations and anomalies highlighted, filterable by subsystem and by the selected range.
//!
//! It is a view, not evidence: it is re-rendered from the slice and the manifest when a
//! bundle is verified and must come out byte for byte the same. A long window lists every
//! violation and then the latest events up to the manifest's `timeline_max_rows`, and says
//! how many it leaves out (they are all in the slice).
//!
//! A violation's row shows what its evidence kept of the values the check read, as the
//! spec's `evidence_values` had it: the `Debug` text, a keyed hash (shown by its first hex
//! digits, the whole hash on hover: equal values have equal hashes), or that it was omitted.

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde::Serialize;

use pip_runtime::evidence::HASH_PREFIX;
use pip_runtime::hex::to_hex;
use pip_runtime::ledger::Entry;
use pip_runtime::ledger::timefmt::format_millis;

use crate::alerts::AlertHistory;
use crate::manifest::Manifest;

pub mod svg;

const TEMPLATE: &str = include_str!("timeline/page.hbs");

/// Most events the timeline lists per ledger by default.
pub const DEFAULT_MAX_ROWS: usize = 2_000;

/// Whether an entry records an invariant violation.
pub fn is_violation(e: &Entry) -> bool {
    e.action == "violation" || e.result == "violated"
}

#[derive(Serialize)]
struct Page<'a> {
    spec: &'a str,
    spec_version: &'a str,
    spec_sha256: &'a str,
    bundle: &'a str,
    from: String,
    to: String,
    /// The picture of the window (markup this module writes, every text in it escaped).
    svg: String,
    ledgers: Vec<LedgerView<'a>>,
}

#[derive(Serialize)]
struct LedgerView<'a> {
    name: &'a str,
    path: &'a str,
    entries: usize,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    checkpoints: usize,
    violations: usize,
    shown: usize,
    omitted: usize,
    anomalies: Vec<AnomalyView<'a>>,
    gaps: Vec<GapView<'a>>,
    subsystems: Vec<Count<'a>>,
    rows: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct AnomalyView<'a> {
    class: &'a str,
    file: &'a str,
    seq: Option<u64>,
    detail: &'a str,
}

#[derive(Serialize)]
struct GapView<'a> {
    subsystem: &'a str,
    severity: &'a str,
    from: String,
    to: String,
    ongoing: bool,
}

#[derive(Serialize)]
struct Count<'a> {
    name: &'a str,
    count: usize,
}

#[derive(Serialize)]
struct Row<'a> {
    seq: u64,
    /// Unix ms, for the picture's time-range filter.
    t: u64,
    time: String,
    subsystem: &'a str,
    actor: &'a str,
    action: &'a str,
    resource: &'a str,
    result: &'a str,
    hash: String,
    violation: bool,
    details: Option<Details>,
}

/// What a violation's payload says about its check.
#[derive(Serialize)]
struct Details {
    check: String,
    expr: String,
    source: String,
    values: Vec<ValueView>,
}

#[derive(Serialize)]
struct ValueView {
    name: String,
    /// The kept text: `Debug` text or the whole `hmac-sha256:<hex>` (empty when omitted).
    text: String,
    /// The first 16 hex digits of a hash.
    short: String,
    hashed: bool,
    omitted: bool,
}

/// Hex digits of a hash shown in the row (64 bits: enough to tell values apart by eye).
const SHORT_HASH: usize = 16;

/// The check, expression, spec line and values of a violation's payload, when it has them.
fn details(e: &Entry) -> Option<Details> {
    let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
    let text = |k: &str| payload.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    // Events written before `evidence_values` existed kept the `Debug` text.
    let mode = payload.get("evidence_values").and_then(serde_json::Value::as_str).unwrap_or("debug");
    let values = payload
        .get("values")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(name, v)| {
                    let kept = match v {
                        serde_json::Value::String(s) => Some(s.clone()),
                        serde_json::Value::Null => None,
                        other => Some(other.to_string()),
                    };
                    let omitted = mode == "omit" || kept.is_none();
                    let text = if omitted { String::new() } else { kept.unwrap_or_default() };
                    let hashed = mode == "hash" && text.starts_with(HASH_PREFIX);
                    let short = if hashed { text.chars().skip(HASH_PREFIX.len()).take(SHORT_HASH).collect() } else { String::new() };
                    ValueView { name: name.clone(), text, short, hashed, omitted }
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Details { check: text("check"), expr: text("expr"), source: text("spec_source"), values })
}

/// The entries the timeline lists: every violation, then the latest others, up to
/// `max_rows`, in seq order.
fn chosen(entries: &[Entry], max_rows: usize) -> Vec<&Entry> {
    if entries.len() <= max_rows {
        return entries.iter().collect();
    }
    let mut keep = vec![false; entries.len()];
    let mut left = max_rows;
    for (k, e) in keep.iter_mut().zip(entries) {
        if left > 0 && is_violation(e) {
            *k = true;
            left -= 1;
        }
    }
    for k in keep.iter_mut().rev() {
        if left == 0 {
            break;
        }
        if !*k {
            *k = true;
            left -= 1;
        }
    }
    entries.iter().zip(keep).filter_map(|(e, k)| k.then_some(e)).collect()
}

/// Renders the page for a manifest, the entries of each of its ledgers (in its order) and the
/// alert history when the bundle has one.
pub fn render(manifest: &Manifest, slices: &[&[Entry]], alerts: Option<&AlertHistory>) -> Result<String, handlebars::RenderError> {
    let mut ledgers = Vec::new();
    for (info, entries) in manifest.ledgers.iter().zip(slices) {
        let mut by_subsystem: BTreeMap<&str, usize> = BTreeMap::new();
        for e in entries.iter() {
            *by_subsystem.entry(e.subsystem.as_str()).or_default() += 1;
        }
        let rows: Vec<Row<'_>> = chosen(entries, manifest.timeline_max_rows)
            .into_iter()
            .map(|e| Row {
                seq: e.seq,
                t: e.ts_millis,
                time: format_millis(e.ts_millis),
                subsystem: &e.subsystem,
                actor: &e.actor,
                action: &e.action,
                resource: &e.resource,
                result: &e.result,
                hash: to_hex(&e.hash),
                violation: is_violation(e),
                details: if is_violation(e) { details(e) } else { None },
            })
            .collect();
        ledgers.push(LedgerView {
            name: &info.name,
            path: &info.path,
            entries: entries.len(),
            first_seq: entries.first().map(|e| e.seq),
            last_seq: entries.last().map(|e| e.seq),
            checkpoints: info.checkpoints.len(),
            violations: entries.iter().filter(|e| is_violation(e)).count(),
            shown: rows.len(),
            omitted: entries.len() - rows.len(),
            anomalies: info
                .anomalies
                .iter()
                .map(|a| AnomalyView { class: &a.class, file: &a.file, seq: a.seq, detail: &a.detail })
                .collect(),
            gaps: info
                .gaps
                .iter()
                .map(|g| GapView {
                    subsystem: &g.subsystem,
                    severity: &g.severity,
                    from: format_millis(g.from_ms),
                    to: format_millis(g.to_ms),
                    ongoing: g.ongoing,
                })
                .collect(),
            subsystems: by_subsystem.into_iter().map(|(name, count)| Count { name, count }).collect(),
            rows,
        });
    }
    let page = Page {
        spec: &manifest.spec.name,
        spec_version: &manifest.spec.version,
        spec_sha256: &manifest.spec.sha256,
        bundle: &manifest.bundle,
        from: format_millis(manifest.window.from_ms),
        to: format_millis(manifest.window.to_ms),
        svg: svg::draw(
            manifest.window.from_ms,
            manifest.window.to_ms,
            &manifest
                .ledgers
                .iter()
                .zip(slices)
                .map(|(l, entries)| svg::LedgerPicture { name: &l.name, checkpoints: &l.checkpoints, gaps: &l.gaps, entries })
                .collect::<Vec<_>>(),
            alerts,
        ),
        ledgers,
    };
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.render_template(TEMPLATE, &page)
}
