//! Verification's fast path: one pass over a ledger whose chain is intact, on several threads,
//! hashing each record's stored bytes where they lie and allocating nothing per entry.
//!
//! The records are cut into contiguous byte ranges, one per thread; each range after the
//! first starts at the first record past its nominal start that its MAC confirms. Each thread
//! walks its range record by record, hashes and MAC-checks two records at a time, and checks
//! every link inside the range (seq + 1, `prev` = the hash of the record before, time not
//! going back); the links between ranges are checked afterwards.
//!
//! The pass succeeds only when every record is well formed, authentic and linked from the
//! anchor on, and each range ends exactly where the next one starts. Then the scan
//! ([`crate::ledger::scan`]) would have split the file into the very same records (it reads
//! frame after frame from the header on, as the walks do), and the classifier would find
//! nothing but what the end of the ledger and the checkpoints say, which
//! [`classify_chain`](crate::ledger::classify::classify_chain) judges from what the pass
//! keeps: the last entry and the entries that checkpoints name. Anything else returns `None`
//! and verification takes the general path, which scans, hashes and classifies every record
//! (the threads stop early once one of them has found a fault).

use std::borrow::Cow;
#[cfg(unix)]
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::ledger::format::{FIXED_BODY_LEN, HASH_LEN, HEADER_LEN, MAC_LEN, MAX_BODY_LEN};
use crate::ledger::hashing::{sha256, sha256_pair};
use crate::ledger::key::LedgerKey;
use crate::ledger::notes::{SUBSYSTEM, event_of};
use crate::ledger::report::{Anchor, LedgerEvent, MAX_EVENTS};
use crate::ledger::scan::{Record, Tail, record_at, scan_region};

/// Bytes of records below which a range is not split further (a thread costs tens of
/// microseconds to start).
pub(crate) const MIN_RANGE_BYTES: usize = 256 << 10;

/// Ranges per thread. Threads take the next range when done with one, so that a thread
/// slowed down by other work on its core leaves more of the ledger to the others (the
/// machine may be shared).
const RANGES_PER_THREAD: usize = 8;

/// How far past a range's nominal start a confirmed record is looked for. A range whose
/// search fails is merged into the one before it.
const START_SEARCH_BYTES: usize = 64 << 10;

/// What the pass keeps of an entry a report needs (the last one, those a checkpoint names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Remembered {
    pub seq: u64,
    pub hash: [u8; HASH_LEN],
    pub ts: u64,
    pub offset: u64,
}

/// What the pass found in an intact ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intact {
    /// Records (all authentic).
    pub entries: u64,
    /// The file's last entry: the ledger's head.
    pub last: Option<Remembered>,
    /// The entries whose seq a checkpoint names, in seq order.
    pub named: Vec<Remembered>,
    /// The torn tail the file ends in, if any.
    pub tail: Option<Tail>,
    /// The ledger's own entries (the first [`MAX_EVENTS`]), in file order.
    pub events: Vec<LedgerEvent>,
    /// How many of the ledger's own entries there are in all; `events` holds at most [`MAX_EVENTS`].
    pub events_total: u64,
}

/// Where the pass reads the ledger from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// The ledger's bytes, already in memory.
    Bytes(&'a [u8]),
    /// The file's first `len` bytes, which each thread reads in chunks of `chunk` bytes into
    /// one buffer of its own: nothing is read twice and no memory grows with the file.
    #[cfg(unix)]
    File {
        /// The ledger file, read with positioned reads so that the threads share one descriptor.
        file: &'a File,
        /// How many of its bytes are the ledger.
        len: usize,
        /// Bytes read at once: more than the longest record, or the pass declines where one
        /// does not fit (then verification reads the file whole).
        chunk: usize,
    },
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Bytes(b) => b.len(),
            #[cfg(unix)]
            Source::File { len, .. } => *len,
        }
    }

    /// Bytes `from..to`; `None` when they cannot be read.
    fn read(&self, from: usize, to: usize) -> Option<Cow<'_, [u8]>> {
        match self {
            Source::Bytes(b) => b.get(from..to).map(Cow::Borrowed),
            #[cfg(unix)]
            Source::File { file, .. } => {
                let mut buf = vec![0u8; to.checked_sub(from)?];
                read_at(file, &mut buf, from).then_some(Cow::Owned(buf))
            }
        }
    }
}

/// Whether bytes `from..to` of the file are all zero: holes are skipped (`SEEK_DATA`, where
/// the file system tells them), data is read a chunk at a time.
#[cfg(unix)]
fn zeros(file: &File, from: usize, to: usize) -> bool {
    use rustix::fs::{SeekFrom, seek};
    let mut buf = vec![0u8; ZERO_CHUNK.min(to - from)];
    let mut pos = from;
    while pos < to {
        match seek(file, SeekFrom::Data(pos as u64)) {
            // No data from here to the end of the file: a hole, zeros.
            Err(e) if e == rustix::io::Errno::NXIO => return true,
            Ok(data) => pos = usize::try_from(data).unwrap_or(to).max(pos),
            Err(_) => {}
        }
        if pos >= to {
            return true;
        }
        let n = buf.len().min(to - pos);
        let Some(part) = buf.get_mut(..n) else { return false };
        if !read_at(file, part, pos) || part.iter().any(|&b| b != 0) {
            return false;
        }
        pos += n;
    }
    true
}

/// Bytes [`zeros`] reads at once.
#[cfg(unix)]
const ZERO_CHUNK: usize = 1 << 20;

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: usize) -> bool {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset as u64).is_ok()
}

/// Verifies a whole ledger file on up to `threads` threads, ranges of at least `min_range`
/// bytes, when its chain is intact from `anchor`; `named_seqs` (sorted, no duplicates) are
/// the seqs whose entries to remember.
pub(crate) fn sweep(
    source: Source<'_>,
    key: &LedgerKey,
    anchor: &Anchor,
    named_seqs: &[u64],
    threads: usize,
    min_range: usize,
) -> Option<Intact> {
    let threads = threads.clamp(1, 64);
    let wanted = if threads == 1 { 1 } else { threads * RANGES_PER_THREAD };
    let starts = range_starts(source, key, wanted, min_range);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    // Each thread takes the next range until none is left (or a range was found not intact).
    let work = || {
        let mut buf = Vec::new();
        let mut walked = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&start) = starts.get(k) else { break };
            let mut walker = Walker { key, named_seqs, stop: &stop, w: Walked::default(), named_at: 0, rounds: 0, o: start };
            walked.push((k, walker.walk(source, starts.get(k + 1).copied(), &mut buf)));
        }
        walked
    };
    let mut ranges: Vec<Option<Walked>> = starts.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let work = &work;
        // A thread that cannot be started leaves its share to the others.
        let helpers: Vec<_> = (1..threads.min(starts.len()))
            .filter_map(|_| std::thread::Builder::new().name("pip-verify".into()).spawn_scoped(scope, work).ok())
            .collect();
        let mut walked = work();
        for helper in helpers {
            // A thread that failed leaves its ranges unwalked: not intact.
            walked.extend(helper.join().unwrap_or_default());
        }
        for (k, w) in walked {
            if let Some(slot) = ranges.get_mut(k) {
                *slot = w;
            }
        }
    });
    join(ranges, anchor)
}

/// Where each of (up to) `ranges` ranges starts: the first at the first record, each other
/// one at the first record at or past its nominal start whose MAC verifies.
fn range_starts(source: Source<'_>, key: &LedgerKey, ranges: usize, min_range: usize) -> Vec<usize> {
    let len = source.len();
    let region = len.saturating_sub(HEADER_LEN);
    let n = ranges.min(region / min_range.max(1)).max(1);
    let mut starts = vec![HEADER_LEN];
    for k in 1..n {
        let nominal = HEADER_LEN + region / n * k;
        let from = nominal.max(starts.last().map_or(0, |&s| s + 1));
        // Room for the search and a record of usual size after it; a longer record where
        // the search ends is not confirmed, and the range merges with the one before.
        let Some(window) = source.read(from, (from + 2 * START_SEARCH_BYTES).min(len)) else { continue };
        let confirmed = |q: &usize| record_at(&window, *q).is_some_and(|r| key.verify_entry(&sha256(r.body), r.mac));
        if let Some(q) = (0..START_SEARCH_BYTES.min(window.len())).find(confirmed) {
            starts.push(from + q);
        }
    }
    starts
}

/// One range's walk.
#[derive(Default)]
struct Walked {
    first: Option<(u64, [u8; HASH_LEN], u64)>,
    last: Option<Remembered>,
    entries: u64,
    named: Vec<Remembered>,
    tail: Option<Tail>,
    events: Vec<LedgerEvent>,
    events_total: u64,
}

/// Why a walk through a window of bytes stopped.
enum Stop {
    /// It reached the range's end.
    End,
    /// The record at the offset reached may end past the window.
    Short,
    /// There is no well-formed record at the offset reached.
    NotRecord,
    /// A record is not authentic or not linked (or another range found one).
    Fault,
}

/// Bytes a file-backed walk reads at once (and holds): more than the longest record.
pub(crate) const CHUNK_BYTES: usize = 4 << 20;
const _: () = assert!(CHUNK_BYTES > 4 + MAX_BODY_LEN + MAC_LEN);

struct Walker<'a> {
    key: &'a LedgerKey,
    named_seqs: &'a [u64],
    stop: &'a AtomicBool,
    w: Walked,
    named_at: usize,
    rounds: u32,
    /// The offset of the next record (in the file).
    o: usize,
}

impl Walker<'_> {
    /// Walks the records of its range up to exactly `end` (`None`: the end of the file,
    /// where a torn tail may follow the last record).
    fn walk(&mut self, source: Source<'_>, end: Option<usize>, buf: &mut Vec<u8>) -> Option<Walked> {
        let limit = end.unwrap_or(source.len());
        match source {
            Source::Bytes(bytes) => {
                if matches!(self.window(bytes, 0, limit), Stop::Fault) {
                    return self.fault();
                }
            }
            #[cfg(unix)]
            Source::File { file, chunk, .. } => {
                if !self.chunks(file, limit, chunk, buf) {
                    return self.fault();
                }
            }
        }
        match end {
            Some(end) if self.o != end => return self.fault(),
            Some(_) => {}
            #[cfg(unix)]
            None if self.o < limit && limit - self.o >= 4 + MAX_BODY_LEN + MAC_LEN => {
                // Longer than any record: only zeros (a file extended and never written, or
                // made sparse) end a ledger in a tail this long, and the scan would see
                // damage in anything else. Checked in chunks, never loaded.
                let Source::File { file, .. } = source else { return self.fault() };
                if !zeros(file, self.o, limit) {
                    return self.fault();
                }
                self.w.tail = Some(Tail { offset: self.o, len: limit - self.o });
            }
            None if self.o < limit => {
                // What follows the last record must be a torn tail and nothing else, exactly
                // as the scan would find from here (it never looks back).
                let Some(rest) = source.read(self.o, limit) else { return self.fault() };
                let (items, tail) = scan_region(&rest, 0, Some(self.key));
                if !items.is_empty() {
                    return self.fault();
                }
                self.w.tail = tail.map(|t| Tail { offset: t.offset + self.o, len: t.len });
            }
            None => {}
        }
        Some(std::mem::take(&mut self.w))
    }

    fn fault(&self) -> Option<Walked> {
        self.stop.store(true, Ordering::Relaxed);
        None
    }

    /// Reads the range chunk by chunk into one buffer and walks each; false on a fault or a
    /// failed read.
    #[cfg(unix)]
    fn chunks(&mut self, file: &File, limit: usize, chunk: usize, buf: &mut Vec<u8>) -> bool {
        let size = chunk.min(limit.saturating_sub(self.o));
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let Some(buf) = buf.get_mut(..size) else { return false };
        // `buf[..filled]` holds the file's bytes from `base`.
        let (mut base, mut filled) = (self.o, 0);
        loop {
            let n = (buf.len() - filled).min(limit - (base + filled));
            if !buf.get_mut(filled..filled + n).is_some_and(|dst| read_at(file, dst, base + filled)) {
                return false;
            }
            filled += n;
            match self.window(buf.get(..filled).unwrap_or_default(), base, limit) {
                Stop::Fault => return false,
                Stop::End | Stop::NotRecord => return true,
                Stop::Short => {
                    let kept = base + filled - self.o;
                    if base + filled >= limit || kept == buf.len() {
                        // The file (or range) ends inside this record.
                        return true;
                    }
                    buf.copy_within(self.o - base..filled, 0);
                    (base, filled) = (self.o, kept);
                }
            }
        }
    }

    /// Walks the records wholly inside `window` (the file's bytes from `base`), from `self.o`
    /// up to `limit`, two at a time.
    fn window(&mut self, window: &[u8], base: usize, limit: usize) -> Stop {
        let end = limit - base;
        let mut o = self.o - base;
        let stopped = loop {
            if o >= end {
                break Stop::End;
            }
            let Some(a) = record_at(window, o) else { break why_not(window, o) };
            let b = if a.end < end { record_at(window, a.end) } else { None };
            let linked = match b {
                Some(b) => {
                    let (ha, hb) = sha256_pair(a.body, b.body);
                    let (ok_a, ok_b) = self.key.verify_entry_pair((&ha, a.mac), (&hb, b.mac));
                    let linked = ok_a && ok_b && self.accept(base + o, &a, ha) && self.accept(base + a.end, &b, hb);
                    o = b.end;
                    linked
                }
                None => {
                    let ha = sha256(a.body);
                    let linked = self.key.verify_entry(&ha, a.mac) && self.accept(base + o, &a, ha);
                    o = a.end;
                    linked
                }
            };
            self.rounds = self.rounds.wrapping_add(1);
            if !linked || (self.rounds.is_multiple_of(64) && self.stop.load(Ordering::Relaxed)) {
                break Stop::Fault;
            }
        };
        self.o = base + o;
        stopped
    }
}

/// Why there is no whole record at `o` in `window`.
fn why_not(window: &[u8], o: usize) -> Stop {
    let rest = window.get(o..).unwrap_or_default();
    let Some(len) = rest.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)) else { return Stop::Short };
    match usize::try_from(len) {
        Ok(body) if (FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&body) && rest.len() < 4 + body + MAC_LEN => Stop::Short,
        _ => Stop::NotRecord,
    }
}

impl Walker<'_> {
    /// Takes an authentic record if it links to the one before it in the range.
    fn accept(&mut self, offset: usize, r: &Record<'_>, hash: [u8; HASH_LEN]) -> bool {
        let (seq, ts) = (r.raw.seq, r.raw.ts_millis);
        let w = &mut self.w;
        match &w.last {
            None => {
                w.first = Some((seq, *r.raw.prev, ts));
                self.named_at = self.named_seqs.partition_point(|&s| s < seq);
            }
            Some(l) => {
                if l.seq.checked_add(1) != Some(seq) || r.raw.prev != &l.hash || ts < l.ts {
                    return false;
                }
            }
        }
        let me = Remembered { seq, hash, ts, offset: offset as u64 };
        // INVARIANT: seqs go up by one along the range and `named_seqs` is sorted without
        // duplicates, so the next seq to remember is always at `named_at`.
        if self.named_seqs.get(self.named_at) == Some(&seq) {
            w.named.push(me);
            self.named_at += 1;
        }
        if r.raw.subsystem == SUBSYSTEM.as_bytes()
            && let Some(e) = event_of(&r.raw, offset as u64)
        {
            w.events_total += 1;
            if w.events.len() < MAX_EVENTS {
                w.events.push(e);
            }
        }
        w.last = Some(me);
        w.entries += 1;
        true
    }
}

/// Joins the ranges' walks: each must link to the one before (the first to the anchor).
fn join(ranges: Vec<Option<Walked>>, anchor: &Anchor) -> Option<Intact> {
    let mut intact = Intact { entries: 0, last: None, named: Vec::new(), tail: None, events: Vec::new(), events_total: 0 };
    let count = ranges.len();
    for (k, range) in ranges.into_iter().enumerate() {
        let w = range?;
        if let Some((seq, prev, ts)) = w.first {
            let (want_seq, want_prev, min_ts) = match &intact.last {
                Some(l) => (l.seq.checked_add(1)?, l.hash, l.ts),
                None => (anchor.next_seq, anchor.prev, anchor.min_ts),
            };
            if seq != want_seq || prev != want_prev || ts < min_ts {
                return None;
            }
        } else if k + 1 < count {
            // Only the last range may hold no record (a file of a torn tail alone).
            return None;
        }
        intact.entries += w.entries;
        intact.last = w.last.or(intact.last);
        intact.named.extend(w.named);
        intact.tail = w.tail;
        intact.events_total += w.events_total;
        let room = MAX_EVENTS.saturating_sub(intact.events.len());
        intact.events.extend(w.events.into_iter().take(room));
    }
    Some(intact)
}

#[cfg(test)]
mod tests;
