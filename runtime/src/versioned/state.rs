//! A store's state as its content-defined chunks, each in a buffer of its own, with the
//! digest tree of [`super::digest`] kept up to date edit by edit.
//!
//! Keeping the chunks apart is what makes an insertion or a removal local: a contiguous
//! buffer moves everything after the edit (~0.6 ms per insert + remove on 16 MiB), and
//! re-hashes it if its tree's chunks are fixed-size. Here an edit re-cuts the chunks from the
//! start of the one it touches until a cut falls where an old cut was (after which cuts and
//! content agree again), re-hashes those chunks, and re-groups one or two nodes per level in
//! the same way. The index arrays (chunk offsets, group starts) are shifted in O(chunks),
//! which is microseconds for 16 MiB.

use std::io::Read;
use std::ops::Range;

use super::diff::{Bytes, between};
use super::digest::{Digest, Hash, Shape, leaf, node, root};

/// The chunks of a state and its digest tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunked {
    shape: Shape,
    len: usize,
    // INVARIANT: `chunks` are `shape.chunks(state)`: never empty (an empty state is one
    // empty chunk); `starts[i]` is the offset of `chunks[i]`.
    chunks: Vec<Box<[u8]>>,
    starts: Vec<usize>,
    // INVARIANT: `levels[0]` holds the leaf of each chunk; `levels[k + 1]` holds the nodes of
    // `levels[k]` cut into groups by `shape`, and `groups[k]` the index in `levels[k]` of
    // each group's first hash; the last level, and only it, holds one hash.
    levels: Vec<Vec<Hash>>,
    groups: Vec<Vec<usize>>,
}

impl Chunked {
    /// The chunks and tree of `state`, from scratch.
    #[cfg(test)]
    pub(super) fn new(shape: Shape, state: &[u8]) -> Chunked {
        Chunked::from_vec(shape, state.to_vec())
    }

    /// The chunks and tree of `state`, from scratch. The chunks are copied out from the
    /// back and the buffer is shrunk as it empties, so that the bytes are held about once
    /// while the chunks are made, not twice.
    pub(super) fn from_vec(shape: Shape, mut state: Vec<u8>) -> Chunked {
        let len = state.len();
        let average = shape.min_chunk + (1usize << shape.cut_mask.count_ones());
        let mut starts = Vec::with_capacity(len / average + 1);
        let mut at = 0;
        for c in shape.chunks(&state) {
            starts.push(at);
            at += c.len();
        }
        let mut chunks: Vec<Box<[u8]>> = Vec::with_capacity(starts.len());
        let mut held = len;
        for &start in starts.iter().rev() {
            chunks.push(Box::from(state.get(start..).unwrap_or_default()));
            state.truncate(start);
            if held - start >= 1 << 20 {
                state.shrink_to_fit();
                held = start;
            }
        }
        drop(state);
        chunks.reverse();
        let levels = vec![chunks.iter().map(|c| leaf(c)).collect()];
        let mut built = Chunked { shape, len, chunks, starts, levels, groups: Vec::new() };
        built.build_above(0);
        built
    }

    /// Length of the whole state in bytes (the sum of the chunks' lengths).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The version digest, from the kept tree: what [`state_digest`](super::digest::state_digest) computes from scratch.
    pub(super) fn digest(&self) -> Digest {
        root(self.len, &self.levels)
    }

    /// The state's bytes, chunk by chunk.
    pub(super) fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(|c| &c[..])
    }

    /// Heap bytes held: the chunks, their offsets and the tree.
    pub(super) fn heap_bytes(&self) -> usize {
        let hashes: usize = self.levels.iter().map(|l| l.capacity() * size_of::<Hash>() + size_of::<Vec<Hash>>()).sum();
        let groups: usize = self.groups.iter().map(|g| g.capacity() * size_of::<usize>() + size_of::<Vec<usize>>()).sum();
        self.len + self.chunks.capacity() * size_of::<Box<[u8]>>() + self.starts.capacity() * size_of::<usize>() + hashes + groups
    }

    /// The chunk that holds byte `at` (the last chunk for `at >= len`).
    fn chunk_at(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s <= at).saturating_sub(1)
    }

    /// The bytes of `range`, `None` when it is not inside the state.
    pub(super) fn read(&self, range: Range<usize>) -> Option<Vec<u8>> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        let mut out = Vec::with_capacity(range.len());
        let mut i = self.chunk_at(range.start);
        while out.len() < range.len() {
            let (chunk, start) = (self.chunks.get(i)?, self.starts.get(i)?);
            let from = (range.start + out.len()).saturating_sub(*start);
            let take = (chunk.len() - from.min(chunk.len())).min(range.len() - out.len());
            out.extend_from_slice(chunk.get(from..from + take)?);
            i += 1;
        }
        Some(out)
    }

    /// The diff from this state to `new`: the common prefix and suffix are found chunk by
    /// chunk, and only the bytes between are copied out to be diffed.
    pub(super) fn diff_to(&self, new: &[u8]) -> super::Diff {
        let mut prefix = 0;
        for chunk in self.chunks() {
            let same = between::common_prefix(chunk, new.get(prefix..).unwrap_or_default());
            prefix += same;
            if same < chunk.len() {
                break;
            }
        }
        let room = self.len.min(new.len()) - prefix;
        let mut suffix = 0;
        for chunk in self.chunks.iter().rev() {
            let same = between::common_suffix(chunk, new.get(..new.len() - suffix).unwrap_or_default());
            suffix += same;
            if same < chunk.len() || suffix >= room {
                break;
            }
        }
        let suffix = suffix.min(room);
        let old = self.read(prefix..self.len - suffix).unwrap_or_default();
        super::Diff::between_at(&old, new.get(prefix..new.len() - suffix).unwrap_or_default(), prefix)
    }

    /// Replaces the `remove` bytes at `at` (inside the state) by `insert`, then re-cuts,
    /// re-hashes and re-groups what that moved.
    pub(super) fn splice(&mut self, at: usize, remove: usize, insert: &[u8]) {
        let old_len = self.len;
        let i = self.chunk_at(at);
        let region = self.starts.get(i).copied().unwrap_or(0);
        // The new bytes from `region` on: chunk `i` up to the edit, the insertion, then the
        // old bytes after the edit, read in as the cutter needs them.
        let mut buf = Vec::with_capacity(2 * self.shape.max_chunk + insert.len());
        buf.extend_from_slice(self.chunks.get(i).and_then(|c| c.get(..at - region)).unwrap_or_default());
        buf.extend_from_slice(insert);
        let (mut next_old, mut pos) = (at + remove, 0);
        let mut fresh: Vec<Box<[u8]>> = Vec::new();
        let mut emitted = region;
        let mut old = i;
        let old_end = |c: usize| self.starts.get(c + 1).copied().unwrap_or(old_len);
        let last = loop {
            if buf.len() - pos < self.shape.max_chunk && next_old < old_len {
                buf.drain(..pos);
                pos = 0;
                while buf.len() < self.shape.max_chunk && next_old < old_len {
                    let c = self.chunk_at(next_old);
                    let start = self.starts.get(c).copied().unwrap_or(0);
                    let rest = self.chunks.get(c).and_then(|b| b.get(next_old - start..)).unwrap_or_default();
                    buf.extend_from_slice(rest);
                    next_old += rest.len().max(1);
                }
            }
            let data = buf.get(pos..).unwrap_or_default();
            // With `max_chunk` bytes in hand there is a cut; with fewer, the state ends. The
            // first chunk has no cut before the edit: its bytes there did not change.
            let known = if fresh.is_empty() { at - region } else { 0 };
            let n = self.shape.cut_after(data, known).unwrap_or(data.len());
            if n == 0 {
                // Nothing left to cut: the edit removed the tail from a chunk's start.
                break self.chunks.len() - 1;
            }
            fresh.push(Box::from(data.get(..n).unwrap_or_default()));
            pos += n;
            emitted += n;
            if emitted >= at + insert.len() {
                // Past the edit, a cut where the old state had one puts both cutters in the
                // same place on the same bytes: every later cut agrees.
                let was = emitted - insert.len() + remove;
                while old + 1 < self.chunks.len() && old_end(old) < was {
                    old += 1;
                }
                if old_end(old) == was {
                    break old;
                }
            }
        };
        if fresh.is_empty() && i == 0 {
            fresh.push(Box::from(&[][..]));
        }
        self.len = old_len - remove + insert.len();
        let mut at_start = region;
        let starts: Vec<usize> = fresh
            .iter()
            .map(|c| {
                let s = at_start;
                at_start += c.len();
                s
            })
            .collect();
        let leaves: Vec<Hash> = fresh.iter().map(|c| leaf(c)).collect();
        let (removed, added) = (last + 1 - i, fresh.len());
        self.chunks.splice(i..=last, fresh);
        self.starts.splice(i..=last, starts);
        if remove != insert.len() {
            for s in self.starts.iter_mut().skip(i + added) {
                *s = *s - remove + insert.len();
            }
        }
        if let Some(level) = self.levels.first_mut() {
            level.splice(i..=last, leaves);
        }
        self.update(i, removed, added);
    }

    /// Brings the levels above 0 up to date after `removed` hashes of level 0 from `at` on
    /// were replaced by `added` new ones.
    fn update(&mut self, mut at: usize, mut removed: usize, mut added: usize) {
        let mut level = 0;
        loop {
            if self.levels.get(level).is_none_or(|l| l.len() <= 1) {
                // This level is the top now.
                self.levels.truncate(level + 1);
                self.groups.truncate(level);
                return;
            }
            if self.groups.len() == level {
                // It was the top (one hash) before: the levels above are new.
                self.build_above(level);
                return;
            }
            (at, removed, added) = self.regroup(level, at, removed, added);
            level += 1;
        }
    }

    /// Builds the levels above `level` from scratch.
    fn build_above(&mut self, level: usize) {
        self.levels.truncate(level + 1);
        self.groups.truncate(level);
        while let Some(below) = self.levels.last().filter(|l| l.len() > 1) {
            let starts = self.shape.groups(below);
            let nodes = super::digest::nodes(below, &starts);
            self.levels.push(nodes);
            self.groups.push(starts);
        }
    }

    /// Re-groups level `level` after `removed` of its hashes from `at` on were replaced by
    /// `added`, from the start of the group that holds `at` until a group ends where an old
    /// one did. Returns the same triple for the level above.
    fn regroup(&mut self, level: usize, at: usize, removed: usize, added: usize) -> (usize, usize, usize) {
        let (below, above) = self.levels.split_at_mut(level + 1);
        let (Some(children), Some(nodes), Some(starts)) = (below.last(), above.first_mut(), self.groups.get_mut(level)) else {
            return (0, 0, 0);
        };
        let old_children = children.len() - added + removed;
        let old_end = |starts: &[usize], g: usize| starts.get(g + 1).copied().unwrap_or(old_children);
        let first = starts.partition_point(|&s| s <= at).saturating_sub(1);
        let mut start = starts.get(first).copied().unwrap_or(0);
        let (mut fresh_starts, mut fresh_nodes) = (Vec::new(), Vec::new());
        let mut old = first;
        let mut last = starts.len().saturating_sub(1);
        for (c, h) in children.iter().enumerate().skip(start) {
            let end = c + 1;
            if end < children.len() && !self.shape.ends_group(end - start, h) {
                continue;
            }
            fresh_starts.push(start);
            fresh_nodes.push(node(children.get(start..end).unwrap_or_default()));
            start = end;
            if end >= at + added {
                let was = end - added + removed;
                while old + 1 < starts.len() && old_end(starts, old) < was {
                    old += 1;
                }
                if old_end(starts, old) == was {
                    last = old;
                    break;
                }
            }
        }
        let fresh = fresh_nodes.len();
        nodes.splice(first..=last, fresh_nodes);
        starts.splice(first..=last, fresh_starts);
        if removed != added {
            for s in starts.iter_mut().skip(first + fresh) {
                *s = *s - removed + added;
            }
        }
        (first, last + 1 - first, fresh)
    }
}

impl Bytes for Chunked {
    fn len(&self) -> usize {
        self.len
    }

    fn holds(&self, at: usize, expected: &[u8]) -> Option<bool> {
        if at.checked_add(expected.len())? > self.len {
            return None;
        }
        let mut i = self.chunk_at(at);
        let mut rest = expected;
        let mut pos = at;
        while !rest.is_empty() {
            let (chunk, start) = (self.chunks.get(i)?, self.starts.get(i)?);
            let have = chunk.get(pos - start..)?;
            let take = have.len().min(rest.len());
            if have.get(..take) != rest.get(..take) {
                return Some(false);
            }
            rest = rest.get(take..)?;
            pos += take;
            i += 1;
        }
        Some(true)
    }

    fn replace(&mut self, ops: &[(usize, &[u8], &[u8])]) {
        // From the back, so that earlier positions stay valid.
        for &(at, expected, with) in ops.iter().rev() {
            self.splice(at, expected.len(), with);
        }
    }
}

/// A store's current state: its bytes, held in content-defined chunks (so not as one
/// slice). Compares equal to byte slices and vectors of the same bytes.
#[derive(Clone, Copy)]
pub struct State<'a> {
    chunked: &'a Chunked,
}

impl<'a> State<'a> {
    pub(super) fn new(chunked: &'a Chunked) -> State<'a> {
        State { chunked }
    }

    /// Length of the whole state in bytes, across all its chunks.
    pub fn len(&self) -> usize {
        self.chunked.len
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.chunked.len == 0
    }

    /// The bytes, in consecutive chunks.
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.chunked.chunks()
    }

    /// A copy of the bytes of `range`, `None` when it is not inside the state.
    pub fn read(&self, range: Range<usize>) -> Option<Vec<u8>> {
        self.chunked.read(range)
    }

    /// A copy of all the bytes (O(state)).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.chunks().for_each(|c| out.extend_from_slice(c));
        out
    }

    /// Reads the bytes in order, without copying the state.
    pub fn reader(&self) -> StateReader<'a> {
        StateReader { chunks: self.chunked.chunks.iter(), current: &[] }
    }

    fn equals(&self, other: &[u8]) -> bool {
        other.len() == self.len() && self.chunks().zip(self.chunked.starts.iter()).all(|(c, &s)| other.get(s..s + c.len()) == Some(c))
    }
}

/// Reads a [`State`]'s bytes in order (see [`State::reader`]).
#[derive(Debug)]
pub struct StateReader<'a> {
    chunks: std::slice::Iter<'a, Box<[u8]>>,
    current: &'a [u8],
}

impl Read for StateReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(c) => self.current = c,
                None => return Ok(0),
            }
        }
        self.current.read(buf)
    }
}

impl PartialEq<[u8]> for State<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.equals(other)
    }
}

impl PartialEq<&[u8]> for State<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.equals(other)
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for State<'_> {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.equals(&other[..])
    }
}

impl PartialEq<Vec<u8>> for State<'_> {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.equals(other)
    }
}

impl std::fmt::Debug for State<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = self.read(0..self.len().min(64)).unwrap_or_default();
        f.debug_struct("State")
            .field("len", &self.len())
            .field("chunks", &self.chunked.chunks.len())
            .field("head", &String::from_utf8_lossy(&head))
            .finish()
    }
}

#[cfg(test)]
mod tests;
