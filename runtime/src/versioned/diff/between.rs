//! Computing the diff between two states, in time and size proportional to what changed.
//!
//! 1. The common prefix and suffix are skipped (64 bytes at a time).
//! 2. The region between gets the cheapest to store of: the region whole; its changed runs
//!    (same length both sides); a byte-level Myers diff (regions up to 4 KiB); and a chunk
//!    alignment (regions over 512 bytes): both sides are cut into content-defined chunks (a
//!    gear hash picks the cuts, so an insertion moves no cut far from it), the chunk
//!    sequences are aligned with Myers, and each stretch of differing chunks goes through
//!    these steps again.
//! 3. (step 2 is skipped when the changed runs already cost at most 256 bytes.)
//! 4. Edits less than 16 bytes apart are merged (an edit costs more than a few bytes), and
//!    the result is checked to turn `old` into `new` before it is used; if it did not, the
//!    region is stored whole.

use std::ops::Range;
use std::time::{Duration, Instant};

use similar::DiffTag;
use similar::algorithms::{Capture, myers};

use super::Edit;
use crate::versioned::digest::gear;

/// Equal runs shorter than this between two changes are folded into one edit.
const MERGE_GAP: usize = 16;
/// Regions up to this size (old + new) are diffed byte by byte.
const BYTE_LEVEL_MAX: usize = 4 * 1024;
/// Time one Myers search over many chunks may take before it settles for a coarser (still
/// exact) result.
const MYERS_DEADLINE: Duration = Duration::from_millis(50);
/// Searches over at most this many elements (both sides) run to the end, whatever the
/// time: their cost is bounded by its square (Myers is O((N + M)·D)), and the diff of such
/// regions then depends on the bytes alone, never on how the thread was scheduled.
const UNTIMED_MAX: usize = 4 * 1024;

/// The deadline of a Myers search over `len` elements (both sides).
fn deadline(len: usize) -> Option<Instant> {
    (len > UNTIMED_MAX).then(|| Instant::now() + MYERS_DEADLINE)
}
/// Content-defined chunks: a cut where the gear hash has its low 6 bits clear (64 bytes on
/// average), never shorter than 16 nor longer than 256 bytes.
const CUT_MASK: u64 = 0x3f;
const MIN_CHUNK: usize = 16;
const MAX_CHUNK: usize = 256;

/// A changed stretch: a range of `old` replaced by a range of `new`.
type Pair = (Range<usize>, Range<usize>);

/// The edits from `old` to `new`.
pub(super) fn edits(old: &[u8], new: &[u8]) -> Vec<Edit> {
    let pairs = merge(changed(old, new, 0, 0));
    if !reproduces(&pairs, old, new) {
        // INVARIANT: unreachable unless the search misbehaves; storing the whole region is
        // always right.
        let p = common_prefix(old, new);
        let s = common_suffix(old.get(p..).unwrap_or_default(), new.get(p..).unwrap_or_default());
        return materialize(&[(p..old.len() - s, p..new.len() - s)], old, new);
    }
    materialize(&pairs, old, new)
}

/// The changed stretches of `old` against `new`, in coordinates offset by `ob` and `nb`.
fn changed(old: &[u8], new: &[u8], ob: usize, nb: usize) -> Vec<Pair> {
    let p = common_prefix(old, new);
    let s = common_suffix(old.get(p..).unwrap_or_default(), new.get(p..).unwrap_or_default());
    let (o, n) = (old.get(p..old.len() - s).unwrap_or_default(), new.get(p..new.len() - s).unwrap_or_default());
    if o.is_empty() && n.is_empty() {
        return Vec::new();
    }
    let (ob, nb) = (ob + p, nb + p);
    let mut best = vec![(ob..ob + o.len(), nb..nb + n.len())];
    fn keep_cheaper(best: &mut Vec<Pair>, candidate: Vec<Pair>) {
        if cost(&candidate) < cost(best) {
            *best = candidate;
        }
    }
    // Candidates are compared merged, as they will be stored: a shortest edit script on
    // random bytes matches stray single bytes inside a changed stretch, and unmerged its
    // many small edits would cost more in bookkeeping than the region whole.
    if o.len() == n.len() {
        keep_cheaper(&mut best, merge(runs(o, n, ob, nb)));
    }
    if o.len() != n.len() || cost(&best) > 256 {
        // Byte-level Myers is exact in edit count but on repetitive data it may scatter an
        // edit over a wide span; chunk alignment keeps edits where the content changed.
        if o.len() + n.len() <= BYTE_LEVEL_MAX {
            keep_cheaper(&mut best, merge(byte_myers(o, n, ob, nb)));
        }
        if o.len() + n.len() > 2 * MAX_CHUNK {
            keep_cheaper(&mut best, merge(chunk_aligned(o, n, ob, nb)));
        }
    }
    best
}

/// Aligns content-defined chunks, then diffs each differing stretch again.
fn chunk_aligned(old: &[u8], new: &[u8], ob: usize, nb: usize) -> Vec<Pair> {
    let (oc, nc) = (chunks(old), chunks(new));
    let mut capture = Capture::new();
    let _ = myers::diff_deadline_raw(&mut capture, &oc[..], 0..oc.len(), &nc[..], 0..nc.len(), deadline(oc.len() + nc.len()));
    let (ocuts, ncuts) = (cuts(&oc), cuts(&nc));
    let mut stretches: Vec<Pair> = Vec::new();
    for op in capture.into_ops() {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let (o, n) = (span(&ocuts, old.len(), o), span(&ncuts, new.len(), n));
        match stretches.last_mut() {
            Some((lo, ln)) if o.start <= lo.end && n.start <= ln.end => {
                lo.end = lo.end.max(o.end);
                ln.end = ln.end.max(n.end);
            }
            _ => stretches.push((o, n)),
        }
    }
    if stretches.len() == 1 && stretches.first().is_some_and(|(o, n)| o.len() == old.len() && n.len() == new.len()) {
        // No progress at chunk level (everything differs, or the search ran out of time).
        return vec![(ob..ob + old.len(), nb..nb + new.len())];
    }
    stretches
        .into_iter()
        .flat_map(|(o, n)| {
            let (os, ns) = (old.get(o.clone()).unwrap_or_default(), new.get(n.clone()).unwrap_or_default());
            changed(os, ns, ob + o.start, nb + n.start)
        })
        .collect()
}

/// Cuts `data` into content-defined chunks.
fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(data.len() / 48 + 1);
    let (mut start, mut hash) = (0usize, 0u64);
    for (i, &b) in data.iter().enumerate() {
        hash = (hash << 1).wrapping_add(gear(b));
        let len = i + 1 - start;
        if (len >= MIN_CHUNK && hash & CUT_MASK == 0) || len >= MAX_CHUNK {
            out.push(data.get(start..=i).unwrap_or_default());
            start = i + 1;
            hash = 0;
        }
    }
    if start < data.len() {
        out.push(data.get(start..).unwrap_or_default());
    }
    out
}

/// The byte ranges of consecutive chunks.
fn cuts(chunks: &[&[u8]]) -> Vec<Range<usize>> {
    let mut at = 0;
    chunks
        .iter()
        .map(|c| {
            let r = at..at + c.len();
            at = r.end;
            r
        })
        .collect()
}

/// The bytes of a range of chunks (chunks are consecutive: the range runs from the start of
/// its first chunk to the start of the chunk after it).
fn span(cuts: &[Range<usize>], total: usize, r: Range<usize>) -> Range<usize> {
    let at = |i: usize| cuts.get(i).map_or(total, |c| c.start);
    at(r.start)..at(r.end)
}

/// A byte-level Myers diff of a small region.
fn byte_myers(old: &[u8], new: &[u8], ob: usize, nb: usize) -> Vec<Pair> {
    let mut capture = Capture::new();
    // The raw search finds a shortest edit script; the default one trades that for speed
    // with heuristics that can blur distant changes into one large edit.
    let _ = myers::diff_deadline_raw(&mut capture, old, 0..old.len(), new, 0..new.len(), deadline(old.len() + new.len()));
    let mut pairs: Vec<Pair> = Vec::new();
    for op in capture.into_ops() {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let (o, n) = (ob + o.start..ob + o.end, nb + n.start..nb + n.end);
        match pairs.last_mut() {
            // An insertion may be reported at the start of the deletion before it (a
            // replacement): only ever widen.
            Some((lo, ln)) if o.start <= lo.end && n.start <= ln.end => {
                lo.end = lo.end.max(o.end);
                ln.end = ln.end.max(n.end);
            }
            _ => pairs.push((o, n)),
        }
    }
    pairs
}

/// For two regions of equal length: one stretch per run of changed bytes (`ob` and `nb`:
/// where the regions start in each state; they differ after an earlier insertion).
fn runs(old: &[u8], new: &[u8], ob: usize, nb: usize) -> Vec<Pair> {
    let n = old.len();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < n {
        i += common_prefix(old.get(i..).unwrap_or_default(), new.get(i..).unwrap_or_default());
        if i >= n {
            break;
        }
        let start = i;
        while i < n && old.get(i) != new.get(i) {
            i += 1;
        }
        pairs.push((ob + start..ob + i, nb + start..nb + i));
    }
    pairs
}

/// Merges stretches whose gap is shorter than [`MERGE_GAP`] on both sides.
fn merge(pairs: Vec<Pair>) -> Vec<Pair> {
    let mut out: Vec<Pair> = Vec::with_capacity(pairs.len());
    for (o, n) in pairs {
        match out.last_mut() {
            Some((lo, ln)) if o.start < lo.end + MERGE_GAP && n.start < ln.end + MERGE_GAP => {
                lo.end = lo.end.max(o.end);
                ln.end = ln.end.max(n.end);
            }
            _ => out.push((o, n)),
        }
    }
    out
}

/// Bytes the stretches take to store as edits, bookkeeping included.
fn cost(pairs: &[Pair]) -> usize {
    pairs.iter().map(|(o, n)| o.len() + n.len() + size_of::<Edit>()).sum()
}

/// Whether the stretches are in order, leave equal bytes between them, and turn `old` into
/// `new`.
fn reproduces(pairs: &[Pair], old: &[u8], new: &[u8]) -> bool {
    let (mut oc, mut nc) = (0, 0);
    for (o, n) in pairs {
        if o.start < oc || n.start < nc || o.start - oc != n.start - nc || (o.is_empty() && n.is_empty()) {
            return false;
        }
        if old.get(oc..o.start) != new.get(nc..n.start) || old.get(o.clone()).is_none() || new.get(n.clone()).is_none() {
            return false;
        }
        (oc, nc) = (o.end, n.end);
    }
    old.get(oc..) == new.get(nc..)
}

fn materialize(pairs: &[Pair], old: &[u8], new: &[u8]) -> Vec<Edit> {
    pairs
        .iter()
        .filter(|(o, n)| !(o.is_empty() && n.is_empty()))
        .map(|(o, n)| Edit {
            offset: o.start,
            old: old.get(o.clone()).unwrap_or_default().to_vec(),
            new: new.get(n.clone()).unwrap_or_default().to_vec(),
        })
        .collect()
}

/// Length of the common prefix, compared 64 bytes at a time.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let blocks = a.chunks_exact(64).zip(b.chunks_exact(64)).take_while(|(x, y)| x == y).count() * 64;
    blocks + a.iter().skip(blocks).zip(b.iter().skip(blocks)).take_while(|(x, y)| x == y).count()
}

/// Length of the common suffix, compared 64 bytes at a time.
pub(crate) fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let blocks = a.rchunks_exact(64).zip(b.rchunks_exact(64)).take_while(|(x, y)| x == y).count() * 64;
    blocks + a.iter().rev().skip(blocks).zip(b.iter().rev().skip(blocks)).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// Bytes from splitmix64.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                ((z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb) >> 56) as u8
            })
            .collect()
    }

    /// The stretches `edits` stores for `old` → `new`, as (old range, new length).
    fn stored(old: &[u8], new: &[u8]) -> Vec<(Range<usize>, usize)> {
        let pairs = merge(changed(old, new, 0, 0));
        assert!(reproduces(&pairs, old, new), "{pairs:?}");
        pairs.into_iter().map(|(o, n)| (o, n.len())).collect()
    }

    #[test]
    fn same_length_changes_after_an_insertion_keep_their_own_place_in_the_new_state() {
        // Found by the versioned properties: after chunk alignment, an equal-length stretch
        // behind an insertion got the old state's offset on the new side too; the check
        // caught it and the whole 3.8 kB region was stored instead of 29 bytes.
        assert_eq!(runs(b"abcdef", b"abXdeY", 10, 29), [(12..13, 31..32), (15..16, 34..35)]);
        let old = noise(5886, 7);
        let mut new = old.clone();
        new[4766..4770].copy_from_slice(&[1, 2, 3, 4]);
        new[4708..4714].copy_from_slice(&[9, 8, 7, 6, 5, 4]);
        new.splice(959..959, noise(19, 8));
        assert_eq!(stored(&old, &new), [(959..959, 19), (4708..4714, 6), (4766..4770, 4)]);
    }

    #[test]
    fn stray_matching_bytes_inside_removed_stretches_do_not_blur_them_into_one() {
        // A shortest edit script on random bytes matches stray single bytes inside removed
        // stretches: unmerged, its many small edits looked dearer than the region whole.
        let old = noise(5968, 11);
        let mut new = old.clone();
        new.splice(1002..1369, noise(38, 12));
        new.splice(501..648, noise(24, 13));
        new.splice(404..404, noise(14, 14));
        let got = stored(&old, &new);
        assert_eq!(got.len(), 3, "{got:?}");
        let bytes: usize = got.iter().map(|(o, n)| o.len() + n).sum();
        assert!(bytes <= 2 * (14 + 147 + 24 + 367 + 38), "{got:?}");
    }

    #[test]
    fn an_insertion_and_a_removal_far_apart_in_16_mib_store_only_what_changed() {
        let old = noise(16 << 20, 1);
        let mut new = old.clone();
        new.splice(1_000..1_000, *b"a few inserted bytes");
        new.drain(15_000_000..15_000_100);
        let e = edits(&old, &new);
        let stored: usize = e.iter().map(|e| e.old.len() + e.new.len()).sum();
        assert!(stored <= 200, "{stored} bytes in {} edits", e.len());
        let mut s = old.clone();
        super::super::Diff::new(e).unwrap().apply(&mut s).unwrap();
        assert!(s == new);
    }

    #[test]
    fn content_defined_cuts_resynchronize_after_an_insertion() {
        let old = noise(100_000, 2);
        let mut new = old.clone();
        new.splice(50_000..50_000, [9u8; 7]);
        let (a, b) = (chunks(&old), chunks(&new));
        let shared = a.iter().filter(|c| b.contains(c)).count();
        assert!(shared + 5 >= a.len(), "{shared} of {} chunks survive", a.len());
        assert!(a.iter().all(|c| c.len() <= MAX_CHUNK));
    }
}
