//! What verification finds: anomalies with their class and place, and the report.

use std::collections::BTreeSet;
use std::fmt;

use crate::ledger::class;
use crate::ledger::format::HASH_LEN;
use crate::ledger::identity::Identity;
use crate::metrics::{AnomalyLabels, Metrics};

/// What kind of tampering or damage an [`Anomaly`] is; each has a fixed `class` label name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyClass {
    /// An entry's bytes are not what the key holder wrote.
    Modified,
    /// Entries are missing inside the ledger (a seq gap).
    Deleted,
    /// An entry the key holder never wrote, that nothing links to (forged).
    Inserted,
    /// An authentic entry out of its place.
    Reordered,
    /// A second copy of an authentic entry (duplicate seq).
    Replayed,
    /// Entries a checkpoint covers are missing from the end.
    Truncated,
    /// An entry is older than the entry before it.
    TimestampReversal,
    /// Nothing verifies with this key.
    WrongKey,
    /// The file ends in an unfinished, never acknowledged entry.
    TornTail,
}

impl AnomalyClass {
    /// Every class, in the order of [`class::ALL`], whose names they have.
    pub const ALL: [AnomalyClass; 9] = [
        AnomalyClass::Modified,
        AnomalyClass::Deleted,
        AnomalyClass::Inserted,
        AnomalyClass::Reordered,
        AnomalyClass::Replayed,
        AnomalyClass::Truncated,
        AnomalyClass::TimestampReversal,
        AnomalyClass::WrongKey,
        AnomalyClass::TornTail,
    ];

    /// The snake_case name (the `class` label value of the anomalies metric).
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyClass::Modified => class::MODIFIED,
            AnomalyClass::Deleted => class::DELETED,
            AnomalyClass::Inserted => class::INSERTED,
            AnomalyClass::Reordered => class::REORDERED,
            AnomalyClass::Replayed => class::REPLAYED,
            AnomalyClass::Truncated => class::TRUNCATED,
            AnomalyClass::TimestampReversal => class::TIMESTAMP_REVERSAL,
            AnomalyClass::WrongKey => class::WRONG_KEY,
            AnomalyClass::TornTail => class::TORN_TAIL,
        }
    }
}

impl fmt::Display for AnomalyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which file an anomaly is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// The ledger file, whose offsets count from its first byte (the header included).
    Ledger,
    /// The checkpoint file (`<ledger>.ckpt` by default), whose offsets count from its first byte.
    Checkpoints,
}

impl FileKind {
    /// `ledger` or `checkpoints`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Ledger => "ledger",
            FileKind::Checkpoints => "checkpoints",
        }
    }
}

/// An inclusive range of sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqRange {
    /// The lowest seq of the range.
    pub first: u64,
    /// The highest seq of the range, equal to `first` for a single seq.
    pub last: u64,
}

impl SeqRange {
    /// The range holding only `seq`.
    pub fn one(seq: u64) -> SeqRange {
        SeqRange { first: seq, last: seq }
    }

    /// Seqs in the range, both ends included: at least 1.
    pub fn len(&self) -> u64 {
        self.last.saturating_sub(self.first) + 1
    }

    /// Never empty; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last { write!(f, "{}", self.first) } else { write!(f, "{}..={}", self.first, self.last) }
    }
}

/// One anomaly: its class, where it is, and what was seen; or a run of alike ones (same
/// class, file and description but for the numbers in it), as the first, how many, and the
/// last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// What was found, which decides the `class` label it is counted under.
    pub class: AnomalyClass,
    /// Which of the two files `offset` is in.
    pub file: FileKind,
    /// Byte offset in that file (for missing entries: where they should have been).
    pub offset: u64,
    /// The sequence number(s) concerned, when known.
    pub seq: Option<SeqRange>,
    /// What was seen, in words (of the first of a run).
    pub detail: String,
    /// When this stands for a run of alike anomalies: how many, and where the last one is.
    pub repeats: Option<Repeats>,
}

/// A run of alike anomalies after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeats {
    /// How many anomalies the run has, the first included.
    pub count: u64,
    /// The last one's offset.
    pub last_offset: u64,
    /// The last one's seqs.
    pub last_seq: Option<SeqRange>,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {} at offset {}", self.class, self.file.as_str(), self.offset)?;
        if let Some(s) = self.seq {
            write!(f, " (seq {s})")?;
        }
        write!(f, ": {}", self.detail)?;
        if let Some(r) = &self.repeats {
            write!(f, "; {} alike in all, the last at offset {}", r.count, r.last_offset)?;
            if let Some(s) = r.last_seq {
                write!(f, " (seq {s})")?;
            }
        }
        Ok(())
    }
}

impl Anomaly {
    /// An anomaly standing for itself alone (no run), as verification reports it before runs are joined.
    pub fn new(class: AnomalyClass, file: FileKind, offset: u64, seq: Option<SeqRange>, detail: String) -> Anomaly {
        Anomaly { class, file, offset, seq, detail, repeats: None }
    }

    /// How many anomalies this stands for.
    pub fn count(&self) -> u64 {
        self.repeats.map_or(1, |r| r.count)
    }

    /// Whether `other` is alike: same class and file, and the same description once
    /// numbers are set aside.
    pub fn is_alike(&self, other: &Anomaly) -> bool {
        self.class == other.class && self.file == other.file && same_shape(&self.detail, &other.detail)
    }

    /// Adds `other` (which comes after it) to this run.
    pub fn absorb(&mut self, other: &Anomaly) {
        let last = other.repeats.map_or((other.offset, other.seq), |r| (r.last_offset, r.last_seq));
        self.repeats = Some(Repeats { count: self.count() + other.count(), last_offset: last.0, last_seq: last.1 });
    }

    /// The anomaly as a JSON object (`count` and `last` for a run).
    pub fn to_json(&self) -> serde_json::Value {
        let seq = |s: Option<SeqRange>| s.map(|s| serde_json::json!({ "first": s.first, "last": s.last }));
        let mut v = serde_json::json!({
            "class": self.class.as_str(),
            "file": self.file.as_str(),
            "offset": self.offset,
            "seq": seq(self.seq),
            "detail": self.detail,
            "count": self.count(),
        });
        if let (Some(r), Some(o)) = (&self.repeats, v.as_object_mut()) {
            o.insert("last".into(), serde_json::json!({ "offset": r.last_offset, "seq": seq(r.last_seq) }));
        }
        v
    }
}

/// Whether two descriptions are the same but for their numbers.
fn same_shape(a: &str, b: &str) -> bool {
    let shape = |s: &str| {
        let mut out = Vec::with_capacity(s.len());
        let mut digits = false;
        for c in s.bytes() {
            if c.is_ascii_digit() {
                if !digits {
                    out.push(b'#');
                }
                digits = true;
            } else {
                out.push(c);
                digits = false;
            }
        }
        out
    };
    a.len().abs_diff(b.len()) <= 24 && shape(a) == shape(b)
}

/// Most anomalies kept apart per file before every further one joins the last run of its
/// class, however it is described: the report stays small whatever the input.
pub(crate) const MAX_RUNS: usize = 256;

/// Anomalies collected as runs: an anomaly alike the one before joins its run.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    pub list: Vec<Anomaly>,
}

impl Runs {
    pub(crate) fn push(&mut self, a: Anomaly) {
        if let Some(last) = self.list.last_mut()
            && last.is_alike(&a)
        {
            last.absorb(&a);
            return;
        }
        if self.list.len() >= MAX_RUNS
            && let Some(same) = self.list.iter_mut().rev().find(|x| x.class == a.class && x.file == a.file)
        {
            same.absorb(&a);
            return;
        }
        self.list.push(a);
    }
}

/// Sorted anomalies with each run of alike neighbours joined, and, past [`MAX_RUNS`] runs,
/// every further anomaly counted in the last run of its class and file: a ledger damaged in
/// alternating ways gives a bounded report whose counts stay exact.
pub(crate) fn summarize(anomalies: Vec<Anomaly>) -> Vec<Anomaly> {
    let mut runs = Runs::default();
    for a in anomalies {
        runs.push(a);
    }
    runs.list
}

/// An entry the ledger wrote about itself (subsystem `pip`, see [`crate::ledger::notes`]):
/// a clock jump, a new checkpoint history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEvent {
    /// The entry's seq in the ledger.
    pub seq: u64,
    /// Byte offset of the entry's record in the ledger file.
    pub offset: u64,
    /// The entry's time as stored, Unix milliseconds.
    pub ts_millis: u64,
    /// The action (`clock_jump`, `new_checkpoint_history`).
    pub action: String,
    /// The payload's JSON text.
    pub payload: String,
}

impl LedgerEvent {
    /// The event as `pipc verify-log --format json` lists it: action, seq, offset, `ts` and the parsed payload.
    pub fn to_json(&self) -> serde_json::Value {
        let payload = serde_json::from_str(&self.payload).unwrap_or_else(|_| serde_json::Value::String(self.payload.clone()));
        serde_json::json!({ "action": self.action, "seq": self.seq, "offset": self.offset, "ts": self.ts_millis, "payload": payload })
    }
}

impl fmt::Display for LedgerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at seq {} (offset {}): {}", self.action, self.seq, self.offset, self.payload)
    }
}

/// Bytes at the end of the files that a live writer has not finished writing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InFlight {
    /// Unwritten bytes at the end of the ledger file.
    pub ledger_bytes: u64,
    /// Unwritten bytes at the end of the checkpoint file (part of one checkpoint).
    pub checkpoint_bytes: u64,
}

/// The last in-order authentic entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The entry's seq: the ledger's head.
    pub seq: u64,
    /// SHA-256 of the entry's body: the `prev` the next entry must carry.
    pub hash: [u8; HASH_LEN],
    /// The entry's time as stored, Unix milliseconds.
    pub ts_millis: u64,
}

/// Where a ledger or slice starts: the first seq expected and the hash before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The seq the first entry must carry: 1 for a whole ledger, the slice's first otherwise.
    pub next_seq: u64,
    /// The hash of the entry before it (the ledger's identity digest before its first entry).
    pub prev: [u8; HASH_LEN],
    /// The time of the entry before it (entries may not be older).
    pub min_ts: u64,
}

impl Anchor {
    /// The start of the ledger with this identity digest.
    pub fn genesis(ledger: &[u8; HASH_LEN]) -> Anchor {
        Anchor { next_seq: 1, prev: *ledger, min_ts: 0 }
    }
}

/// How a slice's entries are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticity {
    /// Each entry carries its own MAC.
    PerEntryMac,
    /// Entries carry no MAC (compact bundles): an entry is authentic when the hash chain
    /// leads from it to a checkpoint whose MAC verifies.
    ChainToCheckpoint,
}

/// What verifying a ledger or a slice found, for `pipc verify-log`, bundles and the anomalies metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records read (well-formed, authentic or not).
    pub entries: u64,
    /// Records whose MAC (or, in a compact slice, chain to a verified checkpoint) verified with the key.
    pub authentic: u64,
    /// The last in-order authentic entry.
    pub head: Option<Head>,
    /// Checkpoints whose MAC verified.
    pub checkpoints: usize,
    /// The highest seq a verified checkpoint covers.
    pub checkpointed_through: Option<u64>,
    /// Every anomaly, in file order, runs of alike ones joined.
    pub anomalies: Vec<Anomaly>,
    /// The identity of the ledger (from its header, or its checkpoint file's when only that
    /// one verifies); `None` for slices.
    pub identity: Option<Identity>,
    /// Whether the ledger's lock was held by a live writer while it was verified; an
    /// unfinished end is then in flight, not torn.
    pub writer_live: bool,
    /// Bytes a live writer had not finished writing (`None` when nothing was in flight).
    pub in_flight: Option<InFlight>,
    /// The entries the ledger wrote about itself, in file order (at most [`MAX_EVENTS`]).
    pub events: Vec<LedgerEvent>,
    /// How many such entries there are in all.
    pub events_total: u64,
}

/// Most ledger events a report lists.
pub const MAX_EVENTS: usize = 1000;

impl Report {
    /// Whether no anomaly was found.
    pub fn is_clean(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// How many anomalies were found (a run counts each of its members).
    pub fn anomaly_count(&self) -> u64 {
        self.anomalies.iter().map(Anomaly::count).sum()
    }

    /// The classes found at least once, in [`AnomalyClass`] order.
    pub fn classes(&self) -> BTreeSet<AnomalyClass> {
        self.anomalies.iter().map(|a| a.class).collect()
    }

    /// How many anomalies of this class were found.
    pub fn count(&self, class: AnomalyClass) -> usize {
        usize::try_from(self.anomalies.iter().filter(|a| a.class == class).map(Anomaly::count).sum::<u64>()).unwrap_or(usize::MAX)
    }

    /// Adds the anomalies to the `pip_ledger_anomalies_total` counter of this ledger.
    pub fn record_metrics(&self, metrics: &Metrics, spec: &str, ledger: &str) {
        for a in &self.anomalies {
            metrics
                .ledger_anomalies
                .get_or_create(&AnomalyLabels { spec: spec.to_string(), ledger: ledger.to_string(), class: a.class.as_str().to_string() })
                .inc_by(a.count());
        }
    }
}
