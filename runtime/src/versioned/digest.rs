//! Version digests: SHA-256 over a state, computed as a Merkle tree whose shape follows the
//! content, so that any change — in place, an insertion or a removal — is re-hashed in
//! O(size of the change + chunk · log n) rather than O(state).
//!
//! # Definition
//! The state `s` is cut into content-defined chunks `c₀ … cₙ₋₁` (an empty state is one empty
//! chunk): a chunk starting at `p` ends at the first `q ≥ p + MIN_CHUNK` where the gear hash
//! of the bytes `s[p + MIN_CHUNK .. q]` (`h ← (h << 1) + GEAR[b]`, from `h = 0`; each step
//! shifts a byte's contribution further out, so `h` depends on the last 64 bytes only) has
//! its top [`CUT_BITS`] bits clear, or at `p + MAX_CHUNK`, or at the end of the state. Then
//!
//! ```text
//! level 0        = leaf(c₀) … leaf(cₙ₋₁),        leaf(c) = SHA-256(0x00 ‖ c)
//! level k + 1    = the nodes of level k's hashes cut into groups: a group ends after a hash
//!                  whose first 4 bytes (little-endian) are 0 modulo FANOUT, once it holds
//!                  at least 2 hashes; or when it holds MAX_FANOUT; or at the level's end
//!                  node(h₁ … hₘ) = SHA-256(0x01 ‖ h₁ ‖ … ‖ hₘ)
//! top            = the only hash of the first level that has one
//! digest(s)      = SHA-256(0x02 ‖ len(s) as u64 little-endian ‖ top)
//! ```
//!
//! Cuts and groups depend only on the content near them, so an edit moves only the cuts and
//! groups around it: a store that keeps the tree re-hashes the chunks the edit touches and
//! one or two nodes per level (see `state`), and reaches the digest [`state_digest`]
//! computes from scratch. The prefixes keep leaves, nodes and roots apart, a node's length
//! fixes how many hashes it holds, and the length fixes the state's; so two states have the
//! same digest only if SHA-256 collides.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// No chunk is shorter than this (but the last).
pub const MIN_CHUNK: usize = 512;
/// No chunk is longer than this.
pub const MAX_CHUNK: usize = 8 * 1024;
/// A cut needs this many top bits of the gear hash clear: chunks average about
/// `MIN_CHUNK + 2^CUT_BITS` bytes (2.5 KiB). Smaller chunks make an edit cheaper to re-hash
/// (and the chunk an edit lands in is a large one more often than not); larger ones cost
/// less per byte held (about 80 bytes per chunk: buffer, offset, leaf, allocator). Measured
/// on 16 MiB, a 16-byte edit and its verified rollback take ~18 µs with 2.5 KiB chunks,
/// ~28 µs with 5 KiB chunks, and a few µs less with 1.25 KiB chunks, which hold twice the
/// overhead (~6 % of the state).
pub const CUT_BITS: u32 = 11;
/// A group of hashes ends after about one hash in this many.
pub const FANOUT: u32 = 16;
/// No group holds more hashes than this.
pub const MAX_FANOUT: usize = 64;

/// A version's SHA-256 digest (see the module docs for what it covers); `Display` gives lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// The digest of `state`, computed from scratch (what an auditor recomputes).
pub fn state_digest(state: &[u8]) -> Digest {
    let shape = Shape::STATE;
    let leaves: Vec<Hash> = shape.chunks(state).map(leaf).collect();
    root(state.len(), &shape.levels_above(leaves))
}

pub(super) type Hash = [u8; 32];

pub(super) fn leaf(chunk: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(chunk).finalize().into()
}

pub(super) fn node(children: &[Hash]) -> Hash {
    Sha256::new().chain_update([0x01]).chain_update(children.as_flattened()).finalize().into()
}

/// The digest of a state of `len` bytes whose tree has these levels (the last one is the
/// top, one hash).
pub(super) fn root(len: usize, levels: &[Vec<Hash>]) -> Digest {
    let top = levels.last().and_then(|l| l.first()).copied().unwrap_or_default();
    Digest(Sha256::new().chain_update([0x02]).chain_update((len as u64).to_le_bytes()).chain_update(top).finalize().into())
}

/// The gear hash's value of a byte (the chunker and the diff's anchors use the same table).
#[inline]
pub(in crate::versioned) fn gear(b: u8) -> u64 {
    #[expect(clippy::indexing_slicing, reason = "a u8 indexes a 256-entry table")]
    GEAR[usize::from(b)]
}

/// Fixed pseudo-random values per byte value (splitmix64 of the byte), for the gear hash.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut z = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        #[expect(clippy::indexing_slicing, reason = "i < 256, the table's length; `get_mut` is not const")]
        let slot = &mut table[i];
        *slot = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// How states are cut into chunks and hashes grouped into nodes. The digest's is
/// [`Shape::STATE`]; tests use tiny shapes, so that a few hundred bytes make a tall tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) min_chunk: usize,
    pub(super) max_chunk: usize,
    /// A cut where `hash & cut_mask == 0`.
    pub(super) cut_mask: u64,
    /// A group ends after a hash whose first 4 bytes are 0 modulo `fanout` (a power of 2).
    pub(super) fanout: u32,
    pub(super) max_fanout: usize,
}

impl Shape {
    /// The shape of [`state_digest`] (see the module docs).
    pub(super) const STATE: Shape =
        Shape { min_chunk: MIN_CHUNK, max_chunk: MAX_CHUNK, cut_mask: !(u64::MAX >> CUT_BITS), fanout: FANOUT, max_fanout: MAX_FANOUT };

    /// Where the chunk that starts at `data[0]` ends, if `data` holds its end; `None` when
    /// the chunk runs past `data` (at the end of the state, the end of `data` is the cut).
    pub(super) fn cut(&self, data: &[u8]) -> Option<usize> {
        self.cut_after(data, 0)
    }

    /// [`Shape::cut`] for a chunk known to have no cut ending before `known`: the hash is
    /// rebuilt from the 64 bytes before `known` (it holds nothing older) and only positions
    /// from there on are tested.
    pub(super) fn cut_after(&self, data: &[u8], known: usize) -> Option<usize> {
        let from = known.saturating_sub(1).max(self.min_chunk);
        let mut hash = 0u64;
        for &b in data.get(from.saturating_sub(64).max(self.min_chunk)..from).unwrap_or_default() {
            hash = (hash << 1).wrapping_add(gear(b));
        }
        for (i, &b) in data.iter().enumerate().take(self.max_chunk).skip(from) {
            hash = (hash << 1).wrapping_add(gear(b));
            if hash & self.cut_mask == 0 {
                return Some(i + 1);
            }
        }
        (data.len() >= self.max_chunk).then_some(self.max_chunk)
    }

    /// The content-defined chunks of `state` from its start, as [`state_digest`] hashes them; never none.
    pub(super) fn chunks<'a>(&self, state: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        let shape = *self;
        let mut rest = Some(state);
        std::iter::from_fn(move || {
            let data = rest?;
            let n = shape.cut(data).unwrap_or(data.len());
            let (chunk, after) = data.split_at(n.min(data.len()));
            rest = (!after.is_empty()).then_some(after);
            Some(chunk)
        })
    }

    /// Whether a group that holds `count` hashes, the last one `last`, ends there.
    pub(super) fn ends_group(&self, count: usize, last: &Hash) -> bool {
        let [a, b, c, d, ..] = *last;
        count >= self.max_fanout || (count >= 2 && u32::from_le_bytes([a, b, c, d]) & (self.fanout - 1) == 0)
    }

    /// The starts of the groups of `hashes` (in index order; the first is 0).
    pub(super) fn groups(&self, hashes: &[Hash]) -> Vec<usize> {
        let mut starts = Vec::with_capacity(hashes.len() / (self.fanout as usize) + 1);
        let mut start = 0;
        for (i, h) in hashes.iter().enumerate() {
            if i == start {
                starts.push(start);
            }
            if self.ends_group(i + 1 - start, h) {
                start = i + 1;
            }
        }
        starts
    }

    /// The levels of a tree whose leaves are `leaves` (at least one): leaves first, top last.
    pub(super) fn levels_above(&self, leaves: Vec<Hash>) -> Vec<Vec<Hash>> {
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let starts = self.groups(below);
            levels.push(nodes(below, &starts));
        }
        levels
    }
}

/// The node hashes of the groups of `children` that start at `starts`.
pub(super) fn nodes(children: &[Hash], starts: &[usize]) -> Vec<Hash> {
    starts
        .iter()
        .enumerate()
        .map(|(g, &s)| node(children.get(s..starts.get(g + 1).copied().unwrap_or(children.len())).unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

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

    #[test]
    fn the_digest_of_an_empty_state_is_fixed_and_differs_from_one_zero_byte() {
        assert_eq!(state_digest(b""), state_digest(b""));
        assert_ne!(state_digest(b""), state_digest(&[0]));
        assert_eq!(state_digest(b"").to_string().len(), 64);
    }

    #[test]
    fn the_length_is_part_of_the_digest_even_when_chunks_agree() {
        let a = vec![7u8; MAX_CHUNK];
        let mut b = a.clone();
        b.extend_from_slice(&[7u8; MAX_CHUNK]);
        assert_ne!(state_digest(&a), state_digest(&b));
    }

    #[test]
    fn chunks_stay_within_their_bounds_and_average_about_two_and_a_half_kib() {
        let data = noise(4 << 20, 1);
        let chunks: Vec<&[u8]> = Shape::STATE.chunks(&data).collect();
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), data.len());
        let (last, rest) = chunks.split_last().unwrap();
        assert!(rest.iter().all(|c| (MIN_CHUNK..=MAX_CHUNK).contains(&c.len())));
        assert!(last.len() <= MAX_CHUNK);
        let average = data.len() / chunks.len();
        assert!((2_000..3_200).contains(&average), "{average} bytes on average");
        // Runs of one byte value have no content to cut on: they are cut at the maximum.
        let zeros = vec![0u8; 3 * MAX_CHUNK + 5];
        let lens: Vec<usize> = Shape::STATE.chunks(&zeros).map(<[u8]>::len).collect();
        assert!(lens[..lens.len() - 1].iter().all(|&l| l == lens[0]), "{lens:?}");
    }

    #[test]
    fn an_insertion_moves_only_the_cuts_next_to_it() {
        let old = noise(1 << 20, 2);
        let mut new = old.clone();
        new.splice(500_000..500_000, *b"seven b");
        let (a, b): (Vec<&[u8]>, Vec<&[u8]>) = (Shape::STATE.chunks(&old).collect(), Shape::STATE.chunks(&new).collect());
        let shared = a.iter().filter(|c| b.contains(c)).count();
        assert!(shared + 2 >= a.len(), "{shared} of {} chunks survive", a.len());
    }

    #[test]
    fn a_cut_searched_from_a_known_point_is_the_cut_searched_from_the_start() {
        for seed in 0..200 {
            let data = noise(MAX_CHUNK + 100, seed);
            let cut = Shape::STATE.cut(&data).unwrap();
            for known in [0, 1, MIN_CHUNK - 1, MIN_CHUNK, MIN_CHUNK + 1, MIN_CHUNK + 63, MIN_CHUNK + 64, MIN_CHUNK + 65, cut - 1, cut] {
                if known <= cut {
                    assert_eq!(Shape::STATE.cut_after(&data, known), Some(cut), "seed {seed}, known {known}");
                }
            }
        }
    }

    #[test]
    fn groups_end_on_content_and_respect_their_bounds() {
        let hashes: Vec<Hash> = (0..10_000u32).map(|i| leaf(&i.to_le_bytes())).collect();
        let starts = Shape::STATE.groups(&hashes);
        assert_eq!(starts.first(), Some(&0));
        let sizes: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(sizes.iter().all(|&s| (2..=MAX_FANOUT).contains(&s)), "{sizes:?}");
        let average = hashes.len() / starts.len();
        assert!((12..24).contains(&average), "{average} hashes per group");
        // Every level is smaller than the one below, so the tree always has a top.
        let levels = Shape::STATE.levels_above(hashes);
        assert!(levels.windows(2).all(|w| w[1].len() < w[0].len()));
        assert_eq!(levels.last().map(Vec::len), Some(1));
    }
}
