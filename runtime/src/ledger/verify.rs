//! Verification: reads a ledger (a whole file, or a slice of entries with the hash before it)
//! and its checkpoints, and names every anomaly with its class and position.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::ledger::checkpoint::{CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN, Checkpoint, CheckpointFile};
use crate::ledger::class;
use crate::ledger::classify::{Node, TornTail, classify};
use crate::ledger::format::{Entry, FormatError, GENESIS, HASH_LEN, hash_body};
use crate::ledger::key::{LedgerKey, to_hex};
use crate::ledger::scan::{Item, Span, scan};
use crate::metrics::{AnomalyLabels, Metrics};

/// Why verification could not run at all (anomalies are not errors: they are the result).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The ledger file is not a ledger.
    #[error("{0}")]
    Format(#[from] FormatError),
    /// The checkpoint file is not a checkpoint file.
    #[error("the checkpoint file is unusable: {0}")]
    Checkpoints(FormatError),
}

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

/// Verifies a ledger file and, when given, its checkpoint file, hashing on `threads` threads.
pub fn verify_files(ledger: &Path, checkpoints: Option<&Path>, key: &LedgerKey, threads: usize) -> Result<Report, VerifyError> {
    let bytes = std::fs::read(ledger).map_err(|source| VerifyError::Io { path: ledger.to_path_buf(), source })?;
    let ckpt = match checkpoints {
        Some(p) => Some(std::fs::read(p).map_err(|source| VerifyError::Io { path: p.to_path_buf(), source })?),
        None => None,
    };
    verify_bytes(&bytes, ckpt.as_deref(), key, threads)
}

/// Verifies a ledger's bytes and, when given, its checkpoint file's bytes.
pub fn verify_bytes(ledger: &[u8], checkpoints: Option<&[u8]>, key: &LedgerKey, threads: usize) -> Result<Report, VerifyError> {
    let scanned = scan(ledger, Some(key))?;
    let ckpt_file = checkpoints.map(CheckpointFile::parse).transpose().map_err(VerifyError::Checkpoints)?;
    let spans: Vec<&Span> = scanned.items.iter().filter_map(|i| if let Item::Record(s) = i { Some(s) } else { None }).collect();
    let hashed = hash_spans(ledger, &spans, key, threads);

    let mut anomalies = Vec::new();
    let (valid_cps, any_cp_ok) = check_checkpoints(ckpt_file.as_ref(), key, &mut anomalies);
    let header_ok = scanned.header.key_id == key.id();
    let any_entry_ok = hashed.iter().any(|&(_, ok)| ok);
    let torn = scanned.tail.map(|t| TornTail { offset: t.offset as u64, len: t.len as u64 });
    let mut report = Report {
        entries: spans.len() as u64,
        authentic: hashed.iter().filter(|&&(_, ok)| ok).count() as u64,
        checkpoints: valid_cps.len(),
        checkpointed_through: valid_cps.iter().map(|c| c.seq).max(),
        ..Report::default()
    };
    if !header_ok && !any_entry_ok && !any_cp_ok {
        report.anomalies.push(Anomaly {
            class: AnomalyClass::WrongKey,
            file: FileKind::Ledger,
            offset: 0,
            seq: None,
            detail: format!(
                "nothing verifies: the ledger was written with key id {}, not with this key (id {})",
                to_hex(&scanned.header.key_id),
                key.id_hex()
            ),
        });
        if let Some(t) = torn {
            report.anomalies.push(Anomaly {
                class: AnomalyClass::TornTail,
                file: FileKind::Ledger,
                offset: t.offset,
                seq: None,
                detail: format!("the last {} bytes are an unfinished entry", t.len),
            });
        }
        return Ok(report);
    }
    if !header_ok {
        anomalies.push(Anomaly {
            class: AnomalyClass::Modified,
            file: FileKind::Ledger,
            offset: 0,
            seq: None,
            detail: format!(
                "the header names key id {}, but the entries verify with key id {}",
                to_hex(&scanned.header.key_id),
                key.id_hex()
            ),
        });
    }
    if let Some(f) = &ckpt_file
        && f.key_id != key.id()
        && any_cp_ok
    {
        anomalies.push(Anomaly {
            class: AnomalyClass::Modified,
            file: FileKind::Checkpoints,
            offset: 0,
            seq: None,
            detail: format!("the header names key id {}, but the checkpoints verify with key id {}", to_hex(&f.key_id), key.id_hex()),
        });
    }

    let mut nodes = Vec::with_capacity(scanned.items.len());
    let mut h = hashed.iter();
    for item in &scanned.items {
        match item {
            Item::Record(s) => {
                let (hash, ok) = h.next().copied().unwrap_or(([0; HASH_LEN], false));
                if s.frame_damaged {
                    anomalies.push(Anomaly {
                        class: AnomalyClass::Modified,
                        file: FileKind::Ledger,
                        offset: s.offset as u64,
                        seq: Some(SeqRange::one(s.seq)),
                        detail: format!("the length prefix of entry seq {} was altered", s.seq),
                    });
                }
                nodes.push(Node { offset: s.offset as u64, seq: Some(s.seq), ts: s.ts_millis, prev: s.prev, hash, authentic: ok });
            }
            Item::Damaged { offset, .. } => {
                nodes.push(Node { offset: *offset as u64, seq: None, ts: 0, prev: [0; HASH_LEN], hash: [0; HASH_LEN], authentic: false })
            }
        }
    }
    let end = torn.map_or(ledger.len() as u64, |t| t.offset);
    let outcome = classify(&nodes, &Anchor::GENESIS, &valid_cps, torn, end, "fails its MAC");
    anomalies.extend(outcome.anomalies);
    report.head = outcome.head;
    sort(&mut anomalies);
    report.anomalies = anomalies;
    Ok(report)
}

/// Verifies a slice of entries that continues from `anchor`, against `checkpoints`.
/// The entries' canonical bytes are rebuilt from their fields and hashed again: stored
/// `hash` fields are not trusted. With [`Authenticity::ChainToCheckpoint`] the entries'
/// `mac` fields are ignored, and a broken link leaves every entry before it (back to the
/// previous checkpoint) unauthenticated: each of them is reported.
pub fn verify_slice(entries: &[Entry], anchor: &Anchor, checkpoints: &[Checkpoint], key: &LedgerKey, mode: Authenticity) -> Report {
    let mut anomalies = Vec::new();
    let file = CheckpointFile { key_id: key.id(), checkpoints: checkpoints.to_vec(), torn_bytes: 0 };
    let (valid_cps, any_cp_ok) = check_checkpoints(Some(&file), key, &mut anomalies);
    let hashes: Vec<[u8; HASH_LEN]> = entries.iter().map(|e| hash_body(&e.body())).collect();
    let authentic: Vec<bool> = match mode {
        Authenticity::PerEntryMac => entries.iter().zip(&hashes).map(|(e, h)| key.verify_entry(h, &e.mac)).collect(),
        Authenticity::ChainToCheckpoint => bound_by_checkpoints(entries, &hashes, anchor, &valid_cps),
    };
    let any_entry_ok = mode == Authenticity::PerEntryMac && authentic.iter().any(|&a| a);
    let mut report = Report {
        entries: entries.len() as u64,
        authentic: authentic.iter().filter(|&&a| a).count() as u64,
        checkpoints: valid_cps.len(),
        checkpointed_through: valid_cps.iter().map(|c| c.seq).max(),
        ..Report::default()
    };
    if !any_cp_ok && !any_entry_ok && (!entries.is_empty() || !checkpoints.is_empty()) {
        report.anomalies.push(Anomaly {
            class: AnomalyClass::WrongKey,
            file: FileKind::Ledger,
            offset: entries.first().map_or(0, |e| e.offset),
            seq: None,
            detail: format!("nothing verifies with this key (id {})", key.id_hex()),
        });
        return report;
    }
    let nodes: Vec<Node> = entries
        .iter()
        .zip(&hashes)
        .zip(&authentic)
        .map(|((e, h), &a)| Node { offset: e.offset, seq: Some(e.seq), ts: e.ts_millis, prev: e.prev, hash: *h, authentic: a })
        .collect();
    let end = entries.last().map_or(0, |e| e.offset);
    // A slice ends where its window ends: checkpoints past its last entry say nothing about
    // truncation (they may still have bound entries through the chain above).
    let last_seq = entries.iter().map(|e| e.seq).max().unwrap_or(0);
    let inside: Vec<Checkpoint> = valid_cps.iter().filter(|c| c.seq <= last_seq).copied().collect();
    let unauthentic = match mode {
        Authenticity::PerEntryMac => "fails its MAC",
        Authenticity::ChainToCheckpoint => "is not tied to a checkpoint by the hash chain",
    };
    let outcome = classify(&nodes, anchor, &inside, None, end, unauthentic);
    anomalies.extend(outcome.anomalies);
    report.head = outcome.head;
    sort(&mut anomalies);
    report.anomalies = anomalies;
    report
}

/// Marks the entries from which the chain of `prev` hashes leads to a verified checkpoint.
fn bound_by_checkpoints(entries: &[Entry], hashes: &[[u8; HASH_LEN]], anchor: &Anchor, checkpoints: &[Checkpoint]) -> Vec<bool> {
    let mut by_hash: std::collections::HashMap<[u8; HASH_LEN], Vec<usize>> = std::collections::HashMap::new();
    for (i, h) in hashes.iter().enumerate() {
        by_hash.entry(*h).or_default().push(i);
    }
    let mut bound = vec![false; entries.len()];
    let mut work: Vec<[u8; HASH_LEN]> = checkpoints.iter().map(|c| c.head).collect();
    while let Some(h) = work.pop() {
        if h == anchor.prev {
            continue;
        }
        for &i in by_hash.get(&h).map(Vec::as_slice).unwrap_or_default() {
            if let (Some(b), Some(e)) = (bound.get_mut(i), entries.get(i))
                && !*b
            {
                *b = true;
                work.push(e.prev);
            }
        }
    }
    bound
}

/// Checks every checkpoint's MAC and order; returns the verified ones and whether any did.
fn check_checkpoints(file: Option<&CheckpointFile>, key: &LedgerKey, anomalies: &mut Vec<Anomaly>) -> (Vec<Checkpoint>, bool) {
    let Some(file) = file else { return (Vec::new(), false) };
    let mut valid: Vec<Checkpoint> = Vec::with_capacity(file.checkpoints.len());
    let mut bad = Vec::new();
    for (i, cp) in file.checkpoints.iter().enumerate() {
        let offset = (CHECKPOINT_HEADER_LEN + i * CHECKPOINT_LEN) as u64;
        if !cp.verify(key) {
            bad.push(Anomaly {
                class: AnomalyClass::Modified,
                file: FileKind::Checkpoints,
                offset,
                seq: Some(SeqRange::one(cp.seq)),
                detail: format!("checkpoint {} fails its MAC", i + 1),
            });
            continue;
        }
        if let Some(last) = valid.last() {
            let (class, what) =
                if cp.seq == last.seq { (AnomalyClass::Replayed, "repeats") } else { (AnomalyClass::Reordered, "goes back from") };
            if cp.seq <= last.seq {
                anomalies.push(Anomaly {
                    class,
                    file: FileKind::Checkpoints,
                    offset,
                    seq: Some(SeqRange::one(cp.seq)),
                    detail: format!("checkpoint {} (seq {}) {what} the one before it (seq {})", i + 1, cp.seq, last.seq),
                });
            }
        }
        valid.push(*cp);
    }
    let any_ok = !valid.is_empty();
    if any_ok || file.key_id == key.id() {
        anomalies.extend(bad);
    } else {
        // Nothing in the file verifies and its header names another key. When the ledger
        // verifies, the caller keeps this; when nothing does, it reports one wrong key.
        anomalies.push(Anomaly {
            class: AnomalyClass::WrongKey,
            file: FileKind::Checkpoints,
            offset: 0,
            seq: None,
            detail: format!("the checkpoints were written with key id {}, not with this key (id {})", to_hex(&file.key_id), key.id_hex()),
        });
    }
    if file.torn_bytes > 0 {
        anomalies.push(Anomaly {
            class: AnomalyClass::TornTail,
            file: FileKind::Checkpoints,
            offset: (CHECKPOINT_HEADER_LEN + file.checkpoints.len() * CHECKPOINT_LEN) as u64,
            seq: None,
            detail: format!("the last {} bytes are an unfinished checkpoint", file.torn_bytes),
        });
    }
    (valid, any_ok)
}

fn sort(anomalies: &mut [Anomaly]) {
    anomalies.sort_by_key(|a| (a.file, a.offset, a.class, a.seq));
}

/// Hashes every record's body and checks its MAC, on up to `threads` threads.
fn hash_spans(bytes: &[u8], spans: &[&Span], key: &LedgerKey, threads: usize) -> Vec<([u8; HASH_LEN], bool)> {
    let one = |s: &Span| {
        let h = hash_body(s.body(bytes));
        let ok = key.verify_entry(&h, &s.mac(bytes));
        (h, ok)
    };
    let threads = threads.clamp(1, 64);
    if threads == 1 || spans.len() < 4096 {
        return spans.iter().map(|s| one(s)).collect();
    }
    let mut out = vec![([0u8; HASH_LEN], false); spans.len()];
    let chunk = spans.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (input, output) in spans.chunks(chunk).zip(out.chunks_mut(chunk)) {
            scope.spawn(move || {
                for (s, o) in input.iter().zip(output.iter_mut()) {
                    *o = one(s);
                }
            });
        }
    });
    out
}
