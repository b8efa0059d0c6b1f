//! Verification: reads a ledger (a whole file, or a slice of entries with the hash before it)
//! and its checkpoints, and names every anomaly with its class and position.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::ledger::checkpoint::{CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN, Checkpoint};
use crate::ledger::classify::{Node, TornTail, classify, classify_chain};
use crate::ledger::format::{
    ENTRY_VERSION, Entry, FIXED_BODY_LEN, FRAME_OVERHEAD, HASH_LEN, HEADER_LEN, Header, MAC_LEN, MAX_BODY_LEN, RawBody, hash_body,
};
use crate::ledger::identity::Identity;
use crate::ledger::key::{LedgerKey, to_hex};
use crate::ledger::lock::held_by_writer;
use crate::ledger::notes::event_of;
use crate::ledger::scan::{Item, Scan, Span, scan};
use crate::ledger::sweep::{CHUNK_BYTES, Intact, MIN_RANGE_BYTES, Source, sweep};

pub(crate) mod checkpoints;

pub use crate::ledger::error::VerifyError;
use crate::ledger::report::summarize;
pub use crate::ledger::report::{
    Anchor, Anomaly, AnomalyClass, Authenticity, FileKind, Head, InFlight, LedgerEvent, MAX_EVENTS, Repeats, Report, SeqRange,
};
pub(crate) use checkpoints::CkptInput;
use checkpoints::{Checked, Checker};

/// Verifies a ledger file and, when given, its checkpoint file, hashing on `threads` threads.
/// The checkpoint file is read as it is checked, in bounded memory. When the ledger's lock is
/// held by a live writer (probed without waiting, before and after, on a descriptor opened
/// like every other read: a regular file only), an unfinished end that a live writer can
/// have unfinished is in flight ([`Report::in_flight`]), not a torn tail: at most one partial
/// entry with a plausible length prefix, or less than one checkpoint (the writer writes whole
/// batches, so every record before the last one it is writing is complete). Anything longer
/// stays a torn tail whoever holds the lock.
pub fn verify_files(ledger: &Path, checkpoints: Option<&Path>, key: &LedgerKey, threads: usize) -> Result<Report, VerifyError> {
    let io = |source| VerifyError::Io { path: ledger.to_path_buf(), source };
    let probe = crate::fsread::open(ledger).map_err(io)?;
    let live_before = held_by_writer(&probe);
    let ckpt = checkpoints.map(|path| CkptInput::File { path, len: None });
    let mut report = verify_file(ledger, None, ckpt, key, threads).map_err(|e| match (e, checkpoints) {
        (VerifyError::Checkpoints(source), Some(p)) => VerifyError::CheckpointFile { path: p.to_path_buf(), source },
        (e, _) => e,
    })?;
    if live_before || held_by_writer(&probe) {
        report.writer_live = true;
        let mut in_flight = InFlight::default();
        report.anomalies.retain(|a| {
            if a.class != AnomalyClass::TornTail {
                return true;
            }
            let bytes = torn_bytes(a);
            let unfinished = match a.file {
                FileKind::Ledger => partial_entry(&probe, a.offset, bytes),
                FileKind::Checkpoints => bytes < CHECKPOINT_LEN as u64,
            };
            if !unfinished {
                return true;
            }
            match a.file {
                FileKind::Ledger => in_flight.ledger_bytes = bytes,
                FileKind::Checkpoints => in_flight.checkpoint_bytes = bytes,
            }
            false
        });
        report.in_flight = (in_flight != InFlight::default()).then_some(in_flight);
    }
    Ok(report)
}

/// Whether the `len` bytes at `offset` of the ledger can be the start of the one entry a live
/// writer is writing: shorter than the frame their length prefix declares, which is in range,
/// and (once there) the body starts with the entry version. Reads at most 5 bytes.
fn partial_entry(file: &File, offset: u64, len: u64) -> bool {
    if len >= (FRAME_OVERHEAD + MAX_BODY_LEN) as u64 {
        return false;
    }
    let mut head = Vec::with_capacity(5);
    let mut f = file;
    if f.seek(SeekFrom::Start(offset)).is_err() || f.take(len.min(5)).read_to_end(&mut head).is_err() {
        return false;
    }
    let Some(prefix) = head.first_chunk::<4>() else { return len < 4 };
    let body_len = u32::from_le_bytes(*prefix) as usize;
    (FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&body_len)
        && len < (4 + body_len + MAC_LEN) as u64
        && head.get(4).is_none_or(|&v| v == ENTRY_VERSION)
}

/// The byte count of a torn tail anomaly.
fn torn_bytes(a: &Anomaly) -> u64 {
    a.detail.split_whitespace().find_map(|w| w.parse().ok()).unwrap_or(0)
}

/// The memory available to this process, in bytes, when the system says (`MemAvailable` of
/// `/proc/meminfo` on Linux).
pub(crate) fn available_memory() -> Option<u64> {
    // A fixed kernel file whose size reads as 0: read directly, bounded.
    let mut info = Vec::new();
    File::open("/proc/meminfo").ok()?.take(1 << 16).read_to_end(&mut info).ok()?;
    let text = String::from_utf8_lossy(&info);
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// How a ledger file is read while it is verified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streaming {
    /// Files at least this long are read in chunks while they are hashed (on Unix), not into
    /// memory first.
    pub min_file: u64,
    /// Bytes each thread reads at once.
    pub chunk: usize,
    /// The least bytes of records per thread.
    pub min_range: usize,
}

/// What [`verify_files`] uses.
pub(crate) const STREAMING: Streaming = Streaming { min_file: 4 << 20, chunk: CHUNK_BYTES, min_range: MIN_RANGE_BYTES };

/// Verifies the first `len` bytes of a ledger file (all of it when `None`) against the
/// checkpoints. A long file is verified as it is read, each thread reading its range in
/// chunks ([`Source::File`]); only when it is not intact is it read whole and verified record
/// by record. The checkpoints are read before the ledger's length is taken, so that a live
/// writer's newer checkpoints never vouch for entries past the end read.
pub(crate) fn verify_file(
    path: &Path,
    len: Option<u64>,
    checkpoints: Option<CkptInput<'_>>,
    key: &LedgerKey,
    threads: usize,
) -> Result<Report, VerifyError> {
    verify_file_with(path, len, checkpoints, key, threads, STREAMING)
}

/// [`verify_file`], streaming as `streaming` says.
pub(crate) fn verify_file_with(
    path: &Path,
    len: Option<u64>,
    checkpoints: Option<CkptInput<'_>>,
    key: &LedgerKey,
    threads: usize,
    streaming: Streaming,
) -> Result<Report, VerifyError> {
    let io = |source| VerifyError::Io { path: path.to_path_buf(), source };
    let mut file = crate::fsread::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut file).take((HEADER_LEN as u64).min(len.unwrap_or(u64::MAX))).read_to_end(&mut head).map_err(io)?;
    let header = Header::decode(&head)?;
    let (checked, identity) = check_checkpoints(&header, checkpoints, key)?;
    let file_len = file.metadata().map_err(io)?.len();
    let len = len.map_or(file_len, |l| l.min(file_len));
    let read_all = |file: &File| -> Result<Vec<u8>, VerifyError> {
        // Record by record needs the ledger in memory: a ledger larger than the memory there
        // is (a sparse file of any size, say) is refused rather than read until the process
        // is killed.
        let too_large = |available| VerifyError::TooLarge { path: path.to_path_buf(), len, available };
        let available = available_memory();
        if available.is_some_and(|a| len > a) {
            return Err(too_large(available.unwrap_or(0)));
        }
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(usize::try_from(len).unwrap_or(usize::MAX)).map_err(|_| too_large(available.unwrap_or(0)))?;
        let mut f = file;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        f.take(len).read_to_end(&mut bytes).map_err(io)?;
        Ok(bytes)
    };
    #[cfg(unix)]
    if let Ok(stream_len) = usize::try_from(len)
        && len >= streaming.min_file.max(HEADER_LEN as u64)
    {
        let source = Source::File { file: &file, len: stream_len, chunk: streaming.chunk };
        let anchor = Anchor::genesis(&identity.digest());
        if let Some(intact) = sweep(source, key, &anchor, &checked.named_seqs(), threads, streaming.min_range) {
            return Ok(judge(&header, identity, len, checked, &Records::Intact(intact), key));
        }
        // Not intact: the pass would decline on the bytes in memory too.
        return verify_checked(&read_all(&file)?, header, checked, identity, key, threads, Pass::General);
    }
    verify_checked(&read_all(&file)?, header, checked, identity, key, threads, Pass::Fast(streaming.min_range))
}

/// Verifies a ledger's bytes and, when given, its checkpoint file's bytes, hashing on
/// `threads` threads.
///
/// An intact ledger is verified in one parallel pass (the ledger's `sweep` module);
/// anything else is scanned, hashed and classified record by record, which names every
/// anomaly. Both give the same report for the same bytes.
pub fn verify_bytes(ledger: &[u8], checkpoints: Option<&[u8]>, key: &LedgerKey, threads: usize) -> Result<Report, VerifyError> {
    verify_ledger(ledger, checkpoints.map(CkptInput::Bytes), key, threads, Pass::Fast(MIN_RANGE_BYTES))
}

/// How [`verify_ledger`] looks at the records.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pass {
    /// The parallel pass first (ranges of at least this many bytes), then record by record
    /// if the ledger is not intact.
    Fast(usize),
    /// Record by record only (when the pass declined already; tests compare the two).
    General,
}

/// What was learnt about the records, by one pass or the other.
enum Records {
    Intact(Intact),
    Scanned { scanned: Box<Scan>, hashed: Vec<([u8; HASH_LEN], bool)>, events: Vec<LedgerEvent> },
}

/// Reads and checks the checkpoints against the ledger whose header is `header`; returns
/// them and the identity the ledger is judged by: the ledger header's when its MAC verifies,
/// else the checkpoint file header's when that one's does (a changed ledger header is then
/// one anomaly, not a broken chain), else the ledger header's.
fn check_checkpoints(header: &Header, input: Option<CkptInput<'_>>, key: &LedgerKey) -> Result<(Checked, Identity), VerifyError> {
    let Some(input) = input else { return Ok((Checked::default(), header.identity.clone())) };
    let path = match input {
        CkptInput::File { path, .. } => Some(path),
        CkptInput::Bytes(_) => None,
    };
    let opened = checkpoints::open(input)?;
    let identity =
        if header.verifies(key) || !opened.header.verifies(key) { header.identity.clone() } else { opened.header.identity.clone() };
    let checked = checkpoints::check_stream(opened, key, identity.digest(), path)?;
    Ok((checked, identity))
}

pub(crate) fn verify_ledger(
    ledger: &[u8],
    checkpoints: Option<CkptInput<'_>>,
    key: &LedgerKey,
    threads: usize,
    pass: Pass,
) -> Result<Report, VerifyError> {
    let header = Header::decode(ledger)?;
    let (checked, identity) = check_checkpoints(&header, checkpoints, key)?;
    verify_checked(ledger, header, checked, identity, key, threads, pass)
}

fn verify_checked(
    ledger: &[u8],
    header: Header,
    checked: Checked,
    identity: Identity,
    key: &LedgerKey,
    threads: usize,
    pass: Pass,
) -> Result<Report, VerifyError> {
    let anchor = Anchor::genesis(&identity.digest());
    let intact = match pass {
        Pass::Fast(min_range) => sweep(Source::Bytes(ledger), key, &anchor, &checked.named_seqs(), threads, min_range),
        Pass::General => None,
    };
    let records = match intact {
        Some(intact) => Records::Intact(intact),
        None => {
            let scanned = scan(ledger, Some(key))?;
            let spans: Vec<&Span> = scanned.items.iter().filter_map(|i| if let Item::Record(s) = i { Some(s) } else { None }).collect();
            let hashed = hash_spans(ledger, &spans, key, threads);
            let events = events_of(ledger, &spans, &hashed);
            Records::Scanned { scanned: Box::new(scanned), hashed, events }
        }
    };
    Ok(judge(&header, identity, ledger.len() as u64, checked, &records, key))
}

/// The ledger's own entries among the authentic records.
fn events_of(bytes: &[u8], spans: &[&Span], hashed: &[([u8; HASH_LEN], bool)]) -> Vec<LedgerEvent> {
    spans
        .iter()
        .zip(hashed)
        .filter(|(_, (_, ok))| *ok)
        .filter_map(|(s, _)| RawBody::parse(s.body(bytes)).and_then(|raw| event_of(&raw, s.offset as u64)))
        .collect()
}

/// The report on a ledger of `ledger_len` bytes with this header, checkpoints and records,
/// judged as the ledger with `identity`.
fn judge(header: &Header, identity: Identity, ledger_len: u64, checked: Checked, records: &Records, key: &LedgerKey) -> Report {
    let Checked { header: ckpt_header, valid: valid_cps, any_ok: any_cp_ok, mut anomalies } = checked;
    let (entries, authentic, tail, events) = match records {
        Records::Intact(i) => (i.entries, i.entries, i.tail, (&i.events, i.events_total)),
        Records::Scanned { scanned, hashed, events } => {
            (hashed.len() as u64, hashed.iter().filter(|&&(_, ok)| ok).count() as u64, scanned.tail, (events, events.len() as u64))
        }
    };
    let torn = tail.map(|t| TornTail { offset: t.offset as u64, len: t.len as u64 });
    let mut report = Report {
        entries,
        authentic,
        checkpoints: valid_cps.len(),
        checkpointed_through: valid_cps.iter().map(|c| c.seq).max(),
        events: events.0.iter().take(MAX_EVENTS).cloned().collect(),
        events_total: events.1,
        ..Report::default()
    };
    let ledger_anomaly = |class, detail: String| Anomaly::new(class, FileKind::Ledger, 0, None, detail);
    if header.key_id != key.id() && authentic == 0 && !any_cp_ok {
        report.anomalies.push(ledger_anomaly(
            AnomalyClass::WrongKey,
            format!(
                "nothing verifies: the ledger was written with key id {}, not with this key (id {})",
                to_hex(&header.key_id),
                key.id_hex()
            ),
        ));
        if let Some(t) = torn {
            report.anomalies.push(Anomaly::new(
                AnomalyClass::TornTail,
                FileKind::Ledger,
                t.offset,
                None,
                format!("the last {} bytes are an unfinished entry", t.len),
            ));
        }
        return report;
    }
    report.identity = Some(identity.clone());
    if header.key_id != key.id() {
        anomalies.push(ledger_anomaly(
            AnomalyClass::Modified,
            format!("the header names key id {}, but the entries verify with key id {}", to_hex(&header.key_id), key.id_hex()),
        ));
    } else if !header.verifies(key) {
        anomalies.push(ledger_anomaly(AnomalyClass::Modified, "the header fails its MAC: a byte of it was changed".to_string()));
    }
    if let Some(h) = &ckpt_header {
        let anomaly = |detail: String| Anomaly::new(AnomalyClass::Modified, FileKind::Checkpoints, 0, None, detail);
        if h.key_id != key.id() {
            if any_cp_ok {
                anomalies.push(anomaly(format!(
                    "the header names key id {}, but the checkpoints verify with key id {}",
                    to_hex(&h.key_id),
                    key.id_hex()
                )));
            }
        } else if !h.verifies(key) {
            anomalies.push(anomaly("the header fails its MAC: a byte of it was changed".to_string()));
        } else if h.identity != identity {
            anomalies
                .push(anomaly(format!("the checkpoint file belongs to another ledger ({}), not to this one ({identity})", h.identity)));
        }
    }

    let anchor = Anchor::genesis(&identity.digest());
    let end = torn.map_or(ledger_len, |t| t.offset);
    let outcome = match records {
        Records::Intact(i) => classify_chain(i.last.as_ref(), &i.named, &anchor, &valid_cps, torn, end, "fails its MAC"),
        Records::Scanned { scanned, hashed, .. } => {
            let nodes = nodes_of(scanned, hashed, &mut anomalies);
            classify(&nodes, &anchor, &valid_cps, torn, end, "fails its MAC")
        }
    };
    anomalies.extend(outcome.anomalies);
    report.head = outcome.head;
    sort(&mut anomalies);
    report.anomalies = summarize(anomalies);
    report
}

/// The classifier's view of scanned records; altered length prefixes are reported on the way.
fn nodes_of(scanned: &Scan, hashed: &[([u8; HASH_LEN], bool)], anomalies: &mut Vec<Anomaly>) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(scanned.items.len());
    let mut h = hashed.iter();
    for item in &scanned.items {
        match item {
            Item::Record(s) => {
                let (hash, ok) = h.next().copied().unwrap_or(([0; HASH_LEN], false));
                if s.frame_damaged {
                    anomalies.push(Anomaly::new(
                        AnomalyClass::Modified,
                        FileKind::Ledger,
                        s.offset as u64,
                        Some(SeqRange::one(s.seq)),
                        format!("the length prefix of entry seq {} was altered", s.seq),
                    ));
                }
                nodes.push(Node { offset: s.offset as u64, seq: Some(s.seq), ts: s.ts_millis, prev: s.prev, hash, authentic: ok });
            }
            Item::Damaged { offset, .. } => {
                nodes.push(Node { offset: *offset as u64, seq: None, ts: 0, prev: [0; HASH_LEN], hash: [0; HASH_LEN], authentic: false })
            }
        }
    }
    nodes
}

/// Verifies a slice of entries of the ledger with identity digest `ledger` that continues
/// from `anchor`, against `checkpoints`.
/// The entries' canonical bytes are rebuilt from their fields and hashed again: stored
/// `hash` fields are not trusted. With [`Authenticity::ChainToCheckpoint`] the entries'
/// `mac` fields are ignored, and a broken link leaves every entry before it (back to the
/// previous checkpoint) unauthenticated: each of them is reported.
pub fn verify_slice(
    entries: &[Entry],
    anchor: &Anchor,
    checkpoints: &[Checkpoint],
    key: &LedgerKey,
    ledger: [u8; HASH_LEN],
    mode: Authenticity,
) -> Report {
    let mut checker = Checker::new(key, ledger);
    for (i, cp) in checkpoints.iter().enumerate() {
        checker.add(i as u64, (CHECKPOINT_HEADER_LEN + i * CHECKPOINT_LEN) as u64, *cp);
    }
    let Checked { valid: valid_cps, any_ok: any_cp_ok, mut anomalies, .. } = checker.finish(None, None);
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
        report.anomalies.push(Anomaly::new(
            AnomalyClass::WrongKey,
            FileKind::Ledger,
            entries.first().map_or(0, |e| e.offset),
            None,
            format!("nothing verifies with this key (id {})", key.id_hex()),
        ));
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
    report.anomalies = summarize(anomalies);
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
    let mut out = vec![None; spans.len()];
    let chunk = spans.len().div_ceil(threads);
    let fill = |input: &[&Span], output: &mut [Option<([u8; HASH_LEN], bool)>]| {
        for (s, o) in input.iter().zip(output.iter_mut()) {
            *o = Some(one(s));
        }
    };
    std::thread::scope(|scope| {
        let mut chunks = spans.chunks(chunk).zip(out.chunks_mut(chunk));
        let first = chunks.next();
        for (input, output) in chunks {
            // A chunk whose thread cannot be started is hashed below.
            let _ = std::thread::Builder::new().name("pip-verify".into()).spawn_scoped(scope, move || fill(input, output));
        }
        if let Some((input, output)) = first {
            fill(input, output);
        }
    });
    out.into_iter().zip(spans).map(|(o, s)| o.unwrap_or_else(|| one(s))).collect()
}
