//! The Merkle roots of a ledger file at given tree sizes, on all cores: records are read in
//! large chunks and framed in order; each run of [`PART`] records is an aligned perfect
//! subtree (leaf `i` is the `i`-th record), so threads hash whole parts at once — the leaves
//! and the part's own subtree, and the part-local root at each wanted size inside it — and
//! the parts are then joined left to right with O(log n) hashes each.

use std::fs::File;
use std::io::Read;

use crate::ledger::format::{FRAME_OVERHEAD, HEADER_LEN, MAC_LEN, MAX_BODY_LEN};
use crate::ledger::merkle::{self, Hash, node_hash};

/// Records per part: a perfect subtree of height 12.
const PART: usize = 1 << 12;
/// Bytes read at a time.
const CHUNK: usize = 8 << 20;

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

/// Hashes `parts` (each a slice of records into `bytes`, the first starting at leaf `start`)
/// on up to `threads` threads while the calling thread runs `meanwhile`; results in order.
fn hash_parts<R>(
    bytes: &[u8],
    parts: &[&[(usize, usize)]],
    start: u64,
    want: &[u64],
    threads: usize,
    meanwhile: impl FnOnce() -> R,
) -> (Vec<PartResult>, R) {
    let starts: Vec<u64> = parts
        .iter()
        .scan(start, |s, p| {
            let here = *s;
            *s += p.len() as u64;
            Some(here)
        })
        .collect();
    let per = parts.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .chunks(per)
            .zip(starts.chunks(per))
            .map(|(ps, ss)| scope.spawn(move || ps.iter().zip(ss).map(|(p, s)| hash_part(bytes, p, *s, want)).collect::<Vec<_>>()))
            .collect();
        let r = meanwhile();
        // A worker cannot panic on these inputs (every index is checked); if one did, its
        // parts would be missing and the roots wrong, so hash them here instead.
        let mut out = Vec::with_capacity(parts.len());
        for (h, (ps, ss)) in handles.into_iter().zip(parts.chunks(per).zip(starts.chunks(per))) {
            match h.join() {
                Ok(res) => out.extend(res),
                Err(_) => out.extend(ps.iter().zip(ss).map(|(p, s)| hash_part(bytes, p, *s, want))),
            }
        }
        (out, r)
    })
}

/// The roots of the ledger file `file` (of `len` bytes, its header read already) at each of
/// `want` (ascending, deduplicated) that it reaches, on `threads` threads.
pub(crate) fn roots_at(file: &mut File, len: u64, want: &[u64], threads: usize) -> std::io::Result<Roots> {
    roots_in_parts(file, len, want, threads, PART, CHUNK)
}

/// Reads up to `chunk` more bytes of the file (of which `read` are read) onto `into`.
fn read_more(file: &mut File, into: &mut Vec<u8>, chunk: usize, len: u64, read: &mut u64) -> std::io::Result<()> {
    let n = (chunk as u64).min(len - *read);
    let got = file.take(n).read_to_end(into)?;
    if (got as u64) < n {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the ledger file shrank while it was read"));
    }
    *read += n;
    Ok(())
}

/// [`roots_at`] with parts of `part` records (a power of two) and reads of `chunk` bytes. The
/// next chunk is read while the current one's parts are hashed.
fn roots_in_parts(file: &mut File, len: u64, want: &[u64], threads: usize, part: usize, chunk: usize) -> std::io::Result<Roots> {
    let mut joined = Joined::default();
    let mut roots: Vec<(u64, Hash)> = want.iter().take_while(|&&s| s == 0).map(|_| (0, merkle::empty_root())).collect();
    let last_wanted = want.last().copied().unwrap_or(0);
    let mut read_total = HEADER_LEN as u64;
    let mut buf: Vec<u8> = Vec::with_capacity(chunk + part * 256);
    read_more(file, &mut buf, chunk, len, &mut read_total)?;
    let mut framed_end = 0usize; // bytes of `buf` framed into `records`
    let mut records: Vec<(usize, usize)> = Vec::new();
    let mut entries = 0u64; // records framed (hashed or pending)
    let mut unreadable = None;
    loop {
        let eof = read_total >= len;
        // Frame whole records.
        let mut at = framed_end;
        while let Some(l) = buf.get(at..at + 4) {
            let body_len = u32::from_le_bytes(l.try_into().unwrap_or([0; 4])) as usize;
            let whole = body_len + FRAME_OVERHEAD;
            if body_len > MAX_BODY_LEN {
                unreadable = Some((entries + 1, "a record's length is beyond the format's limit".to_string()));
                break;
            }
            if at + whole > buf.len() {
                break;
            }
            records.push((at + 4, at + 4 + body_len));
            entries += 1;
            at += whole;
        }
        framed_end = at;
        if unreadable.is_none() && eof && framed_end < buf.len() {
            unreadable = Some((entries + 1, "the file ends inside a record".to_string()));
        }
        let done = eof || unreadable.is_some();
        // The whole parts (and on the last round the partial one) that matter.
        let hashed = joined.size;
        let needed = usize::try_from(last_wanted.saturating_sub(hashed)).unwrap_or(usize::MAX);
        let usable = if done {
            records.len().min(needed)
        } else {
            (records.len() - records.len() % part).min(needed.div_ceil(part).saturating_mul(part))
        };
        let finished = done || hashed + usable as u64 >= last_wanted;
        // What stays for the next round: the records not hashed now and the unframed tail.
        let keep_from = records.get(usable).map_or(framed_end, |r| r.0 - 4);
        let parts: Vec<&[(usize, usize)]> = records.get(..usable).unwrap_or_default().chunks(part).collect();
        let (results, next) = hash_parts(&buf, &parts, hashed, want, threads, || -> std::io::Result<Option<Vec<u8>>> {
            if finished {
                return Ok(None);
            }
            let kept = buf.get(keep_from..).unwrap_or_default();
            let mut next = Vec::with_capacity(kept.len() + chunk);
            next.extend_from_slice(kept);
            read_more(file, &mut next, chunk, len, &mut read_total)?;
            Ok(Some(next))
        });
        for r in results {
            for (size, local) in r.folds {
                roots.push((size, joined.root_with(Some(local))));
            }
            for (hash, height) in r.nodes {
                joined.size += 1 << height;
                joined.push(hash, height);
            }
        }
        let Some(next) = next? else {
            if !done {
                // Nothing more is wanted: count the remaining records without hashing them.
                entries += count_rest(file, &buf, framed_end, len - read_total)?;
            }
            return Ok(Roots { entries, roots, unreadable });
        };
        buf = next;
        records.drain(..usable);
        for r in &mut records {
            r.0 -= keep_from;
            r.1 -= keep_from;
        }
        framed_end -= keep_from;
    }
}

/// Counts the whole records in `buf[from..]` and the `rest` bytes of the file after it.
fn count_rest(file: &mut File, buf: &[u8], from: usize, rest: u64) -> std::io::Result<u64> {
    let mut tail = buf.get(from..).unwrap_or_default().to_vec();
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
        roots_in_parts(&mut file, len, want, threads, part, chunk).unwrap()
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
