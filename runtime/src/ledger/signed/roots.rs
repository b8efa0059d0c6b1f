//! The Merkle roots of a ledger file at given tree sizes, on all cores. Each run of [`PART`]
//! records is an aligned perfect subtree (leaf `i` is the `i`-th record), so a part is hashed
//! as a whole — its leaves, its own subtree, and the part-local root at each wanted size inside
//! it — and the parts are then joined left to right with O(log n) hashes each.
//!
//! The work runs on a fixed set of threads (the calling one among them) that share one queue:
//! whichever thread is free reads the next chunk of the file into a recycled buffer and frames
//! its records into parts (records are framed in file order, so one thread reads at a time),
//! the others hash the parts read before; a thread with nothing else to do runs the caller's
//! side work (the signature checks) a small step at a time. No thread waits at a join while
//! another has work left, no more threads run than asked for, and memory stays bounded by the
//! few buffers in flight.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::ledger::format::{FRAME_OVERHEAD, HEADER_LEN, MAC_LEN, MAX_BODY_LEN};
use crate::ledger::merkle::{self, Hash, node_hash};

/// Records per part: a perfect subtree of height 8 (~50 µs of hashing for ~150-byte records).
const PART: usize = 1 << 8;
/// Bytes read at a time: small enough that a chunk is still in the core's cache when its parts
/// are hashed (on a 2-core EPYC the verification took 1.17–1.19× the HMAC one's time with 2 MiB
/// chunks, 1.13× with 1 MiB, 1.10–1.19× with 512 KiB; 256 KiB was no better).
const CHUNK: usize = 512 << 10;

/// What [`roots_at`] found.
pub(crate) struct Roots {
    /// Well-formed records (leaves) in the file.
    pub entries: u64,
    /// The root at each wanted size the file reaches, ascending.
    pub roots: Vec<(u64, Hash)>,
    /// Where the file stops being well framed: the seq of the record that could not be read, and why.
    pub unreadable: Option<(u64, String)>,
}

/// The left edge of the tree folded so far: perfect subtrees, heights decreasing.
#[derive(Default)]
struct Joined {
    size: u64,
    nodes: Vec<(Hash, u32)>,
}

impl Joined {
    fn push(&mut self, mut hash: Hash, mut height: u32) {
        while let Some(&(left, h)) = self.nodes.last()
            && h == height
        {
            self.nodes.pop();
            hash = node_hash(&left, &hash);
            height += 1;
        }
        self.nodes.push((hash, height));
    }

    /// The root of the tree of these nodes followed by a subtree whose root is `right`.
    fn root_with(&self, right: Option<Hash>) -> Hash {
        let mut nodes = self.nodes.iter().rev().map(|(h, _)| *h);
        let Some(mut acc) = right.or_else(|| nodes.next()) else { return merkle::empty_root() };
        for left in nodes {
            acc = node_hash(&left, &acc);
        }
        acc
    }
}

/// One part's result: its subtree nodes (one node, the part's root, unless it is the last and
/// partial), and the part-local root at each wanted size inside it.
struct PartResult {
    nodes: Vec<(Hash, u32)>,
    folds: Vec<(u64, Hash)>,
}

/// The perfect subtrees (root, height) that the first `k` leaves of a part decompose into,
/// left to right, read from the part's levels (`levels[j][i]`: the subtree of `2^j` leaves
/// starting at leaf `i * 2^j`).
fn prefix_nodes(levels: &[Vec<Hash>], k: u64) -> Vec<(Hash, u32)> {
    let mut out = Vec::new();
    let mut lo = 0u64;
    for j in (0..64u32).rev() {
        if k & (1u64 << j) != 0 {
            let node = levels.get(j as usize).and_then(|l| l.get(usize::try_from(lo >> j).unwrap_or(usize::MAX)));
            if let Some(h) = node {
                out.push((*h, j));
            }
            lo += 1u64 << j;
        }
    }
    out
}

/// The root of perfect subtrees laid side by side, folded from the right.
fn fold(nodes: &[(Hash, u32)]) -> Hash {
    let mut it = nodes.iter().rev();
    let Some(&(mut acc, _)) = it.next() else { return merkle::empty_root() };
    for (left, _) in it {
        acc = node_hash(left, &acc);
    }
    acc
}

/// Hashes one part whose first leaf is `start`; `want` are the wanted sizes (ascending). The
/// leaves, then each level of the part's subtree, are hashed two at a time (their compressions
/// interleave in the CPU).
fn hash_part(bytes: &[u8], records: &[(usize, usize)], start: u64, want: &[u64]) -> PartResult {
    // Each body with the byte before it, the length prefix's high byte: 0x00, the leaf prefix
    // (the leaf hashes read the records where they lie).
    let body = |&(a, z): &(usize, usize)| bytes.get(a.saturating_sub(1)..z).unwrap_or_default();
    let mut leaves = Vec::with_capacity(records.len());
    let (pairs, odd) = records.as_chunks::<2>();
    for [x, y] in pairs {
        let (lx, ly) = merkle::leaf_hash_pair_in_place(body(x), body(y));
        leaves.push(lx);
        leaves.push(ly);
    }
    leaves.extend(odd.iter().map(|r| merkle::leaf_hash_in_place(body(r))));
    let mut levels = vec![leaves];
    while let Some(top) = levels.last().filter(|t| t.len() >= 2) {
        let (children, _) = top.as_chunks::<2>();
        let (quads, rest) = children.as_chunks::<2>();
        let mut next = Vec::with_capacity(children.len());
        for [[a, b], [c, d]] in quads {
            let (x, y) = merkle::node_hash_pair(a, b, c, d);
            next.push(x);
            next.push(y);
        }
        next.extend(rest.iter().map(|[a, b]| node_hash(a, b)));
        levels.push(next);
    }
    let end = start + records.len() as u64;
    let lo = want.partition_point(|&s| s <= start);
    let hi = want.partition_point(|&s| s <= end);
    let folds = want.get(lo..hi).unwrap_or_default().iter().map(|&s| (s, fold(&prefix_nodes(&levels, s - start)))).collect();
    PartResult { nodes: prefix_nodes(&levels, records.len() as u64), folds }
}

/// A buffer of the file's bytes and the records framed in it (body ranges).
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    records: Vec<(usize, usize)>,
}

/// One part to hash: `records[from..to]` of a chunk, whose first leaf is `start`; `index`
/// orders the results.
struct Job {
    chunk: Arc<Chunk>,
    from: usize,
    to: usize,
    start: u64,
    index: usize,
}

/// What the threads share under the lock.
#[derive(Default)]
struct Queue {
    /// Parts read and framed, not taken yet.
    ready: VecDeque<Job>,
    /// Buffers whose parts are all hashed.
    free: Vec<Chunk>,
    /// Buffers allocated so far.
    buffers: usize,
    /// A thread is reading (only one reads at a time: records are framed in order).
    reading: bool,
    /// The last part is queued (or reading failed): nothing more to read.
    finished: bool,
    /// The side work is done.
    side_done: bool,
    /// A thread failed: the others stop.
    failed: bool,
    /// The results by part index, from the first not joined yet (`joined_parts`) on.
    results: Vec<Option<PartResult>>,
    joined_parts: usize,
    /// The parts joined so far, in order, and the roots found in them.
    joined: Joined,
    roots: Vec<(u64, Hash)>,
    /// Why reading failed.
    error: Option<std::io::Error>,
}

/// The reading position and what framing has found, used by one thread at a time.
struct Reader<'a> {
    file: &'a File,
    /// The file's length and the bytes of it read so far (the header included).
    len: u64,
    pos: u64,
    chunk: usize,
    part: usize,
    last_wanted: u64,
    /// Leaves queued for hashing, and parts queued.
    hashed: u64,
    parts: usize,
    /// The last chunk read, where in it the bytes to carry over start, and its length in use.
    prev: Option<(Arc<Chunk>, usize, usize)>,
    /// Set on the last read: all well-formed records, and where framing stopped.
    entries: u64,
    unreadable: Option<(u64, String)>,
}

/// What one read queues.
struct Step {
    jobs: Vec<Job>,
    finished: bool,
    recycled: Option<Chunk>,
}

impl Reader<'_> {
    /// Reads the next chunk into `c` after the bytes carried over from the chunk before (the
    /// records not hashed with it and its unframed tail), frames it, and makes its whole parts
    /// (on the last read, the partial one too) into jobs.
    fn step(&mut self, mut c: Chunk) -> std::io::Result<Step> {
        let mut recycled = None;
        let mut carry = 0;
        if let Some((prev, from, valid)) = self.prev.take() {
            let kept = prev.bytes.get(from..valid).unwrap_or_default();
            carry = kept.len();
            if c.bytes.len() < carry {
                c.bytes.resize(carry, 0);
            }
            if let Some(dst) = c.bytes.get_mut(..carry) {
                dst.copy_from_slice(kept);
            }
            recycled = Arc::into_inner(prev);
        }
        let n = usize::try_from((self.chunk as u64).min(self.len.saturating_sub(self.pos))).unwrap_or(self.chunk);
        let valid = carry + n;
        if c.bytes.len() < valid {
            c.bytes.resize(valid, 0);
        }
        if let Some(dst) = c.bytes.get_mut(carry..valid) {
            let mut file = self.file;
            file.read_exact(dst).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the ledger file shrank while it was read")
                }
                _ => e,
            })?;
        }
        self.pos += n as u64;
        let eof = self.pos >= self.len;
        // Frame whole records.
        let bytes = c.bytes.get(..valid).unwrap_or_default();
        c.records.clear();
        let mut at = 0usize;
        let mut unreadable = None;
        while let Some(l) = bytes.get(at..at + 4) {
            let body_len = u32::from_le_bytes(l.try_into().unwrap_or([0; 4])) as usize;
            if body_len > MAX_BODY_LEN {
                let seq = self.hashed + c.records.len() as u64 + 1;
                unreadable = Some((seq, "a record's length is beyond the format's limit".to_string()));
                break;
            }
            if at + body_len + FRAME_OVERHEAD > valid {
                break;
            }
            c.records.push((at + 4, at + 4 + body_len));
            at += body_len + FRAME_OVERHEAD;
        }
        let framed_end = at;
        if unreadable.is_none() && eof && framed_end < valid {
            unreadable = Some((self.hashed + c.records.len() as u64 + 1, "the file ends inside a record".to_string()));
        }
        let done = eof || unreadable.is_some();
        // The whole parts (and on the last read the partial one) that matter.
        let needed = usize::try_from(self.last_wanted.saturating_sub(self.hashed)).unwrap_or(usize::MAX);
        let records = c.records.len();
        let usable = if done {
            records.min(needed)
        } else {
            (records - records % self.part).min(needed.div_ceil(self.part).saturating_mul(self.part))
        };
        let finished = done || self.hashed + usable as u64 >= self.last_wanted;
        if finished {
            self.entries = self.hashed + records as u64;
            self.unreadable = unreadable;
            if !done {
                // Nothing more is wanted: count the remaining records without hashing them.
                self.entries += count_rest(self.file, bytes.get(framed_end..).unwrap_or_default(), self.len - self.pos)?;
            }
        }
        // What stays for the next read: the records not hashed now and the unframed tail.
        let keep_from = c.records.get(usable).map_or(framed_end, |r| r.0 - 4);
        let chunk = Arc::new(c);
        let mut jobs = Vec::with_capacity(usable.div_ceil(self.part));
        let mut from = 0;
        while from < usable {
            let to = (from + self.part).min(usable);
            jobs.push(Job { chunk: Arc::clone(&chunk), from, to, start: self.hashed + from as u64, index: self.parts });
            self.parts += 1;
            from = to;
        }
        self.hashed += usable as u64;
        if finished {
            if let Some(c) = Arc::into_inner(chunk) {
                recycled = recycled.or(Some(c));
            }
        } else {
            self.prev = Some((chunk, keep_from, valid));
        }
        Ok(Step { jobs, finished, recycled })
    }
}

/// The threads' shared state.
struct Shared<'a> {
    queue: Mutex<Queue>,
    wake: Condvar,
    reader: Mutex<Reader<'a>>,
    want: &'a [u64],
    max_buffers: usize,
}

impl Queue {
    /// Keeps a part's result and joins the parts that are next in order (a few hashes each).
    fn store(&mut self, index: usize, result: PartResult) {
        if self.results.len() <= index {
            self.results.resize_with(index + 1, || None);
        }
        if let Some(slot) = self.results.get_mut(index) {
            *slot = Some(result);
        }
        while let Some(r) = self.results.get_mut(self.joined_parts).and_then(Option::take) {
            for (size, local) in r.folds {
                self.roots.push((size, self.joined.root_with(Some(local))));
            }
            for (hash, height) in r.nodes {
                self.joined.size += 1 << height;
                self.joined.push(hash, height);
            }
            self.joined_parts += 1;
        }
    }
}

impl Shared<'_> {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One thread's loop: read when a buffer is free and nobody reads, else hash a queued
    /// part, else do a step of the side work, else wait; until everything is taken.
    fn work(&self, side: &(dyn Fn() -> bool + Sync)) {
        let _guard = StopOthersIfPanicking(self);
        let mut q = self.lock();
        loop {
            if q.failed {
                return;
            }
            if !q.reading && !q.finished && (!q.free.is_empty() || q.buffers < self.max_buffers) {
                let c = q.free.pop().unwrap_or_else(|| {
                    q.buffers += 1;
                    Chunk::default()
                });
                q.reading = true;
                drop(q);
                let step = self.reader.lock().unwrap_or_else(PoisonError::into_inner).step(c);
                q = self.lock();
                q.reading = false;
                match step {
                    Ok(step) => {
                        q.ready.extend(step.jobs);
                        q.finished = step.finished;
                        q.free.extend(step.recycled);
                    }
                    Err(e) => {
                        q.error = Some(e);
                        (q.finished, q.failed) = (true, true);
                    }
                }
                self.wake.notify_all();
                continue;
            }
            if let Some(job) = q.ready.pop_front() {
                drop(q);
                let records = job.chunk.records.get(job.from..job.to).unwrap_or_default();
                let result = hash_part(&job.chunk.bytes, records, job.start, self.want);
                let recycled = Arc::into_inner(job.chunk);
                q = self.lock();
                q.store(job.index, result);
                if let Some(c) = recycled {
                    q.free.push(c);
                    self.wake.notify_all();
                }
                continue;
            }
            if !q.side_done {
                drop(q);
                let more = side();
                q = self.lock();
                q.side_done |= !more;
                continue;
            }
            if q.finished {
                return;
            }
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Stops the other threads when the thread holding it unwinds (none should: every index is
/// checked), so that none waits for a read or a part that will not come.
struct StopOthersIfPanicking<'a, 'b>(&'a Shared<'b>);

impl Drop for StopOthersIfPanicking<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut q = self.0.lock();
            (q.finished, q.failed) = (true, true);
            self.0.wake.notify_all();
        }
    }
}

/// The roots of the ledger file `file` (of `len` bytes, its header read already) at each of
/// `want` (ascending, deduplicated) that it reaches, on `threads` threads, which also run
/// `side` whenever they have nothing else to do, until it returns `false` (it does one small
/// step of other work per call, and must be done before this returns).
pub(crate) fn roots_at(
    file: &mut File,
    len: u64,
    want: &[u64],
    threads: usize,
    side: &(dyn Fn() -> bool + Sync),
) -> std::io::Result<Roots> {
    roots_in_parts(file, len, want, threads, PART, CHUNK, side)
}

/// [`roots_at`] with parts of `part` records (a power of two) and reads of `chunk` bytes.
fn roots_in_parts(
    file: &mut File,
    len: u64,
    want: &[u64],
    threads: usize,
    part: usize,
    chunk: usize,
    side: &(dyn Fn() -> bool + Sync),
) -> std::io::Result<Roots> {
    let threads = threads.clamp(1, 64);
    let reader = Reader {
        file,
        len,
        pos: HEADER_LEN as u64,
        chunk: chunk.max(1),
        part: part.max(1),
        last_wanted: want.last().copied().unwrap_or(0),
        hashed: 0,
        parts: 0,
        prev: None,
        entries: 0,
        unreadable: None,
    };
    // One buffer being read, one carried over from, and one per other thread being hashed.
    let shared =
        Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new(), reader: Mutex::new(reader), want, max_buffers: threads + 1 };
    let work = || shared.work(side);
    let work = &work;
    std::thread::scope(|scope| {
        // A thread that cannot be started leaves its share to the others.
        let helpers: Vec<_> =
            (1..threads).filter_map(|_| std::thread::Builder::new().name("pip-roots".into()).spawn_scoped(scope, work).ok()).collect();
        work();
        for h in helpers {
            // A failed thread has marked the queue failed: the error below says so.
            let _ = h.join();
        }
    });
    let queue = shared.queue.into_inner().unwrap_or_else(PoisonError::into_inner);
    let reader = shared.reader.into_inner().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = queue.error {
        return Err(e);
    }
    if queue.failed || queue.joined_parts != reader.parts {
        return Err(std::io::Error::other("a thread hashing the ledger failed"));
    }
    let mut roots: Vec<(u64, Hash)> = want.iter().take_while(|&&s| s == 0).map(|_| (0, merkle::empty_root())).collect();
    roots.extend(queue.roots);
    Ok(Roots { entries: reader.entries, roots, unreadable: reader.unreadable })
}

/// Counts the whole records in `buf` and the `rest` bytes of the file after it.
fn count_rest(file: &File, buf: &[u8], rest: u64) -> std::io::Result<u64> {
    let mut tail = buf.to_vec();
    let mut r = std::io::BufReader::with_capacity(1 << 16, file.take(rest));
    let mut count = 0;
    loop {
        while tail.len() < 4 {
            let mut b = [0u8; 1];
            if r.read(&mut b)? == 0 {
                return Ok(count);
            }
            let [byte] = b;
            tail.push(byte);
        }
        let body_len = u32::from_le_bytes(tail.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0; 4])) as usize;
        if body_len > MAX_BODY_LEN {
            return Ok(count);
        }
        let skip = (body_len + MAC_LEN + 4) as u64;
        let have = tail.len() as u64;
        if have >= skip {
            tail.drain(..skip as usize);
        } else {
            let need = skip - have;
            let got = std::io::copy(&mut (&mut r).take(need), &mut std::io::sink())?;
            if got < need {
                return Ok(count);
            }
            tail.clear();
        }
        count += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use std::io::{Seek, SeekFrom};

    use super::*;
    use crate::ledger::format::{PreparedEvent, encode_record, ledger_header};
    use crate::ledger::identity::Identity;
    use crate::ledger::key::LedgerKey;
    use crate::ledger::merkle::{leaf_hash, root_of};

    fn ledger(n: u64, tail: &[u8]) -> (tempfile::NamedTempFile, Vec<Hash>) {
        let key = LedgerKey::generate().unwrap();
        let identity = Identity::generate("p", "l").unwrap();
        let mut bytes = ledger_header(&key, &identity).to_vec();
        let mut prev = identity.digest();
        let mut leaves = Vec::new();
        for seq in 1..=n {
            let at = bytes.len();
            let resource = "r".repeat((seq % 50) as usize + 1);
            let ev = PreparedEvent::with_raw_payload("s", "a", "x", &resource, "ok", b"{}".to_vec()).unwrap();
            prev = encode_record(&mut bytes, &key, seq, seq, &prev, &ev);
            leaves.push(leaf_hash(&bytes[at + 4..bytes.len() - MAC_LEN]));
        }
        bytes.extend_from_slice(tail);
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &bytes).unwrap();
        (f, leaves)
    }

    fn run(f: &tempfile::NamedTempFile, want: &[u64], threads: usize, part: usize, chunk: usize) -> Roots {
        let mut file = File::open(f.path()).unwrap();
        let len = file.metadata().unwrap().len();
        file.seek(SeekFrom::Start(HEADER_LEN as u64)).unwrap();
        roots_in_parts(&mut file, len, want, threads, part, chunk, &|| false).unwrap()
    }

    #[test]
    fn roots_in_parts_and_chunks_equal_the_roots_of_the_leaves() {
        let n = 1000;
        let (f, leaves) = ledger(n, &[]);
        let want: Vec<u64> = [0, 1, 2, 15, 16, 17, 63, 64, 65, 300, 511, 512, 999, 1000].to_vec();
        for (threads, part, chunk) in [(1, 16, 1 << 20), (2, 16, 700), (3, 64, 4096), (2, 1 << 14, 1 << 20), (2, 1, 333)] {
            let r = run(&f, &want, threads, part, chunk);
            assert_eq!(r.entries, n);
            assert!(r.unreadable.is_none());
            let expect: Vec<(u64, Hash)> = want.iter().map(|&s| (s, root_of(&leaves[..s as usize]))).collect();
            assert_eq!(r.roots, expect, "threads {threads} part {part} chunk {chunk}");
        }
        // Only an early size wanted: the rest is counted, not hashed.
        let r = run(&f, &[10], 2, 16, 500);
        assert_eq!((r.entries, r.roots.clone()), (n, vec![(10, root_of(&leaves[..10]))]));
        // Sizes beyond the file are not reached.
        let r = run(&f, &[5, 1001], 2, 16, 500);
        assert_eq!(r.roots, vec![(5, root_of(&leaves[..5]))]);
    }

    #[test]
    fn the_side_work_runs_to_its_end_on_the_hashing_threads() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (f, leaves) = ledger(300, &[]);
        for (threads, chunk) in [(1, 1 << 20), (2, 500), (3, 4096)] {
            let steps = AtomicUsize::new(0);
            let side = || steps.fetch_add(1, Ordering::Relaxed) < 40;
            let mut file = File::open(f.path()).unwrap();
            let len = file.metadata().unwrap().len();
            file.seek(SeekFrom::Start(HEADER_LEN as u64)).unwrap();
            let r = roots_in_parts(&mut file, len, &[7, 300], threads, 16, chunk, &side).unwrap();
            assert_eq!(r.roots, vec![(7, root_of(&leaves[..7])), (300, root_of(&leaves))]);
            // 40 steps that did work, then the one that said none was left (later callers
            // may ask once more each before they see that).
            assert!(steps.load(Ordering::Relaxed) >= 41, "threads {threads}");
        }
    }

    #[test]
    fn a_file_that_shrinks_is_an_error_not_a_wrong_root() {
        let (f, _) = ledger(100, &[]);
        let mut file = File::open(f.path()).unwrap();
        let len = file.metadata().unwrap().len();
        file.seek(SeekFrom::Start(HEADER_LEN as u64)).unwrap();
        let err = roots_in_parts(&mut file, len + 1000, &[100], 2, 16, 512, &|| false).err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_torn_end_is_named_and_the_whole_records_before_it_count() {
        let (f, leaves) = ledger(100, &[9, 0, 0, 0, 1]);
        for chunk in [64, 1 << 20] {
            let r = run(&f, &[50, 100], 2, 16, chunk);
            assert_eq!(r.entries, 100);
            assert_eq!(r.unreadable.as_ref().map(|u| u.0), Some(101));
            assert_eq!(r.roots, vec![(50, root_of(&leaves[..50])), (100, root_of(&leaves))]);
        }
    }
}
