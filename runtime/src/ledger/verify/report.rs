//! What verification finds: anomalies with their class and place, and the report.

use std::collections::BTreeSet;
use std::fmt;

use crate::ledger::class;
use crate::ledger::format::{GENESIS, HASH_LEN};
use crate::metrics::{AnomalyLabels, Metrics};

/// The classes of anomaly.
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
    /// Every class.
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
    /// The ledger.
    Ledger,
    /// The checkpoint file.
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
    /// First.
    pub first: u64,
    /// Last.
    pub last: u64,
}

impl SeqRange {
    /// One seq.
    pub fn one(seq: u64) -> SeqRange {
        SeqRange { first: seq, last: seq }
    }

    /// How many seqs.
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

/// One anomaly: its class, where it is, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The class.
    pub class: AnomalyClass,
    /// The file it is in.
    pub file: FileKind,
    /// Byte offset in that file (for missing entries: where they should have been).
    pub offset: u64,
    /// The sequence number(s) concerned, when known.
    pub seq: Option<SeqRange>,
    /// What was seen, in words.
    pub detail: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {} at offset {}", self.class, self.file.as_str(), self.offset)?;
        if let Some(s) = self.seq {
            write!(f, " (seq {s})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl Anomaly {
    /// The anomaly as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "class": self.class.as_str(),
            "file": self.file.as_str(),
            "offset": self.offset,
            "seq": self.seq.map(|s| serde_json::json!({ "first": s.first, "last": s.last })),
            "detail": self.detail,
        })
    }
}

/// The last in-order authentic entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its seq.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; HASH_LEN],
    /// Its time.
    pub ts_millis: u64,
}

/// Where a ledger or slice starts: the first seq expected and the hash before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The seq of the first entry.
    pub next_seq: u64,
    /// The hash of the entry before it (all zeros before a ledger's first entry).
    pub prev: [u8; HASH_LEN],
    /// The time of the entry before it (entries may not be older).
    pub min_ts: u64,
}

impl Anchor {
    /// The start of a whole ledger.
    pub const GENESIS: Anchor = Anchor { next_seq: 1, prev: GENESIS, min_ts: 0 };
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

/// The result of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records read (well-formed, authentic or not).
    pub entries: u64,
    /// Records that verified.
    pub authentic: u64,
    /// The last in-order authentic entry.
    pub head: Option<Head>,
    /// Checkpoints whose MAC verified.
    pub checkpoints: usize,
    /// The highest seq a verified checkpoint covers.
    pub checkpointed_through: Option<u64>,
    /// Every anomaly, in file order.
    pub anomalies: Vec<Anomaly>,
}

impl Report {
    /// Whether no anomaly was found.
    pub fn is_clean(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// The distinct classes found.
    pub fn classes(&self) -> BTreeSet<AnomalyClass> {
        self.anomalies.iter().map(|a| a.class).collect()
    }

    /// How many anomalies of this class were found.
    pub fn count(&self, class: AnomalyClass) -> usize {
        self.anomalies.iter().filter(|a| a.class == class).count()
    }

    /// Adds the anomalies to the `pip_ledger_anomalies_total` counter of this ledger.
    pub fn record_metrics(&self, metrics: &Metrics, spec: &str, ledger: &str) {
        for a in &self.anomalies {
            metrics
                .ledger_anomalies
                .get_or_create(&AnomalyLabels { spec: spec.to_string(), ledger: ledger.to_string(), class: a.class.as_str().to_string() })
                .inc();
        }
    }
}
