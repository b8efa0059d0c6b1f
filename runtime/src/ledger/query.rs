//! Reading a ledger back: entries by filter or time window (with the anchor a slice needs to
//! be verified on its own), activity summaries, and evidence gaps. Reading does not verify:
//! use [`crate::ledger::verify`] for that.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::ledger::checkpoint::{Checkpoint, CheckpointFile};
use crate::ledger::format::{Entry, FormatError, Header, RawBody, hash_body};
use crate::ledger::key::to_hex;
use crate::ledger::report::Anchor;
use crate::ledger::scan::{Item, Scan, Span, Tail, scan};
use crate::ledger::timefmt::format_millis;

/// Why a ledger could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The ledger file could not be opened or read, or is larger than the memory available.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The ledger file that could not be read.
        path: PathBuf,
        /// The operating system's error, or a [`Refused`](crate::fsread::Refused) inside one.
        source: std::io::Error,
    },
    /// The file's header does not decode as a ledger's.
    #[error("`{path}`: {source}")]
    Format {
        /// The file that is not a ledger.
        path: PathBuf,
        /// Why its header does not decode (wrong magic, too short, unknown version).
        source: FormatError,
    },
}

/// Which entries to keep. Every field given must match; times are Unix milliseconds,
/// `since` inclusive and `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only entries of this subsystem (exact match).
    pub subsystem: Option<String>,
    /// Keep only entries by this actor (exact match).
    pub actor: Option<String>,
    /// Keep only entries with this action (exact match).
    pub action: Option<String>,
    /// Keep only entries on this resource (exact match).
    pub resource: Option<String>,
    /// Start of the window, Unix milliseconds (inclusive).
    pub since: Option<u64>,
    /// End of the window (exclusive).
    pub until: Option<u64>,
}

impl Filter {
    /// Whether every field given matches `e` exactly and its time lies in `since..until`.
    pub fn matches(&self, e: &Entry) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.subsystem, &e.subsystem)
            && eq(&self.actor, &e.actor)
            && eq(&self.action, &e.action)
            && eq(&self.resource, &e.resource)
            && self.since.is_none_or(|s| e.ts_millis >= s)
            && self.until.is_none_or(|u| e.ts_millis < u)
    }
}

/// A ledger file read into memory and split into records.
#[derive(Debug, Clone)]
pub struct LedgerReader {
    bytes: Vec<u8>,
    scan: Scan,
    spans: Vec<usize>,
}

/// Entries of a time window, with what is needed to verify them on their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The seq of the first entry and the hash and time of the entry before it, computed
    /// from that entry's bytes (not taken from the first entry's `prev`).
    pub anchor: Anchor,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

impl LedgerReader {
    /// Reads a ledger file (into memory: one larger than the memory available is refused,
    /// not read until the process is killed).
    pub fn open(path: &Path) -> Result<LedgerReader, QueryError> {
        let max = crate::ledger::verify::available_memory().unwrap_or(u64::MAX);
        let bytes = crate::fsread::read(path, max, "a ledger that fits in the memory available")
            .map_err(|source| QueryError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(bytes).map_err(|source| QueryError::Format { path: path.to_path_buf(), source })
    }

    /// Splits a ledger's bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<LedgerReader, FormatError> {
        let scan = scan(&bytes, None)?;
        let spans = scan.items.iter().enumerate().filter_map(|(i, it)| matches!(it, Item::Record(_)).then_some(i)).collect();
        Ok(LedgerReader { bytes, scan, spans })
    }

    fn span(&self, k: usize) -> Option<&Span> {
        match self.spans.get(k).and_then(|&i| self.scan.items.get(i)) {
            Some(Item::Record(s)) => Some(s),
            _ => None,
        }
    }

    /// The header (read, not verified: [`Header::verifies`] checks it with the key).
    pub fn header(&self) -> &Header {
        &self.scan.header
    }

    /// Number of well-formed records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the file holds no well-formed record (damaged regions and a torn tail aside).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Regions that are not records (offset, length), in file order.
    pub fn damaged(&self) -> Vec<(u64, u64)> {
        self.scan
            .items
            .iter()
            .filter_map(|i| if let Item::Damaged { offset, len } = i { Some((*offset as u64, *len as u64)) } else { None })
            .collect()
    }

    /// The torn tail, if any.
    pub fn torn_tail(&self) -> Option<Tail> {
        self.scan.tail
    }

    /// Decodes record `k` (in file order).
    pub fn entry(&self, k: usize) -> Option<Result<Entry, FormatError>> {
        let s = self.span(k)?;
        Some(Entry::decode(s.body(&self.bytes), &s.mac(&self.bytes), s.offset as u64))
    }

    /// Every entry in file order (an entry whose text is not UTF-8 is an error item).
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry, FormatError>> + '_ {
        (0..self.len()).filter_map(|k| self.entry(k))
    }

    /// Every record's raw fields in file order, without decoding text.
    pub fn raw(&self) -> impl Iterator<Item = RawBody<'_>> + '_ {
        (0..self.len()).filter_map(|k| self.span(k).and_then(|s| RawBody::parse(s.body(&self.bytes))))
    }

    /// The entries passing `filter`, in file order.
    pub fn select(&self, filter: &Filter) -> Result<Vec<Entry>, FormatError> {
        let (from, to) = self.window_bounds(filter.since, filter.until);
        (from..to).filter_map(|k| self.entry(k)).filter(|e| e.as_ref().map_or(true, |e| filter.matches(e))).collect()
    }

    /// Record indices `[from, to)` whose times fall in the window, by binary search (times
    /// never decrease along an intact ledger).
    fn window_bounds(&self, since: Option<u64>, until: Option<u64>) -> (usize, usize) {
        let ts = |k: usize| self.span(k).map_or(0, |s| s.ts_millis);
        let from = since.map_or(0, |s| partition_point(self.len(), |k| ts(k) < s));
        let to = until.map_or(self.len(), |u| partition_point(self.len(), |k| ts(k) < u));
        (from, to.max(from))
    }

    /// The entries with `since <= time < until`, and the anchor to verify them from.
    pub fn window(&self, since: u64, until: u64) -> Result<Slice, FormatError> {
        let (from, to) = self.window_bounds(Some(since), Some(until));
        let anchor = match from.checked_sub(1).and_then(|k| self.span(k)) {
            Some(before) => Anchor { next_seq: before.seq + 1, prev: hash_body(before.body(&self.bytes)), min_ts: before.ts_millis },
            None => Anchor { next_seq: self.span(from).map_or(1, |s| s.seq), prev: self.scan.header.identity.digest(), min_ts: 0 },
        };
        let entries = (from..to).filter_map(|k| self.entry(k)).collect::<Result<Vec<_>, _>>()?;
        Ok(Slice { anchor, entries })
    }
}

/// The first `k` in `0..n` for which `pred` is false (`pred` true then false).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The checkpoints of a checkpoint file that cover a seq in `first..` (the ones a slice
/// starting at `first` can be checked against), MACs not checked.
pub fn checkpoints_from(file: &CheckpointFile, first: u64) -> Vec<Checkpoint> {
    file.checkpoints.iter().filter(|c| c.seq >= first).copied().collect()
}

/// An entry as one JSON object (the shape `pipc log show` and `pipc log dump` print).
pub fn entry_json(e: &Entry) -> serde_json::Value {
    let payload = e.payload_json().unwrap_or_else(|_| serde_json::Value::String(e.payload.clone()));
    serde_json::json!({
        "seq": e.seq,
        "ts": e.ts_millis,
        "time": format_millis(e.ts_millis),
        "subsystem": e.subsystem,
        "actor": e.actor,
        "action": e.action,
        "resource": e.resource,
        "result": e.result,
        "payload": payload,
        "prev": to_hex(&e.prev),
        "hash": to_hex(&e.hash),
        "mac": to_hex(&e.mac),
        "offset": e.offset,
    })
}

/// Activity of one (subsystem, actor, action).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The subsystem the entries were written by.
    pub subsystem: String,
    /// The actor shared by the entries.
    pub actor: String,
    /// The action shared by the entries.
    pub action: String,
    /// How many entries share this subsystem, actor and action.
    pub count: u64,
    /// The earliest entry's time, Unix milliseconds.
    pub first_ms: u64,
    /// The latest entry's time, Unix milliseconds.
    pub last_ms: u64,
}

/// Activity per subsystem, actor and action, sorted by them.
pub fn summarize<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<Activity> {
    let mut by: BTreeMap<(&str, &str, &str), (u64, u64, u64)> = BTreeMap::new();
    for e in entries {
        let slot = by.entry((&e.subsystem, &e.actor, &e.action)).or_insert((0, e.ts_millis, e.ts_millis));
        slot.0 += 1;
        slot.1 = slot.1.min(e.ts_millis);
        slot.2 = slot.2.max(e.ts_millis);
    }
    by.into_iter()
        .map(|((s, a, x), (count, first_ms, last_ms))| Activity {
            subsystem: s.to_string(),
            actor: a.to_string(),
            action: x.to_string(),
            count,
            first_ms,
            last_ms,
        })
        .collect()
}

/// A spec's `expect subsystem "..." every ... severity ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The subsystem the spec expects entries from, as in `expect subsystem "billing"`.
    pub subsystem: String,
    /// Longest allowed silence, milliseconds.
    pub every_ms: u64,
    /// The severity of the gap (`P1`, ...).
    pub severity: String,
}

/// A time a subsystem was silent for longer than expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The silent subsystem, as its [`Expectation`] names it.
    pub subsystem: String,
    /// Start of the silence: its previous entry, or the start of the window.
    pub from_ms: u64,
    /// End of the silence: its next entry, or now.
    pub to_ms: u64,
    /// Whether the silence lasts until now.
    pub ongoing: bool,
    /// The [`Expectation::every_ms`] the silence exceeded, milliseconds.
    pub every_ms: u64,
    /// The expectation's severity (`P1`, ...), for the gap's report.
    pub severity: String,
    /// Seq of the entry that ended it (`None` when ongoing).
    pub ended_by: Option<u64>,
}

/// Silences longer than expected, for each expectation, between `start_ms` and `now_ms`,
/// from `(subsystem, time, seq)` in ledger order.
pub fn evidence_gaps<'a>(
    records: impl IntoIterator<Item = (&'a [u8], u64, u64)>,
    expectations: &[Expectation],
    start_ms: u64,
    now_ms: u64,
) -> Vec<Gap> {
    let mut last: HashMap<&str, u64> = expectations.iter().map(|x| (x.subsystem.as_str(), start_ms)).collect();
    let limits: HashMap<&str, &Expectation> = expectations.iter().map(|x| (x.subsystem.as_str(), x)).collect();
    let mut gaps = Vec::new();
    for (subsystem, ts, seq) in records {
        let Ok(name) = std::str::from_utf8(subsystem) else { continue };
        let (Some(x), Some(prev)) = (limits.get(name), last.get_mut(name)) else { continue };
        if ts < start_ms || ts > now_ms {
            continue;
        }
        if ts.saturating_sub(*prev) > x.every_ms {
            gaps.push(Gap {
                subsystem: x.subsystem.clone(),
                from_ms: *prev,
                to_ms: ts,
                ongoing: false,
                every_ms: x.every_ms,
                severity: x.severity.clone(),
                ended_by: Some(seq),
            });
        }
        *prev = (*prev).max(ts);
    }
    for x in expectations {
        let prev = last.get(x.subsystem.as_str()).copied().unwrap_or(start_ms);
        if now_ms.saturating_sub(prev) > x.every_ms {
            gaps.push(Gap {
                subsystem: x.subsystem.clone(),
                from_ms: prev,
                to_ms: now_ms,
                ongoing: true,
                every_ms: x.every_ms,
                severity: x.severity.clone(),
                ended_by: None,
            });
        }
    }
    gaps.sort_by(|a, b| (a.from_ms, &a.subsystem).cmp(&(b.from_ms, &b.subsystem)));
    gaps
}
