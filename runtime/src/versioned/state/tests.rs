#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use proptest::prelude::*;

use super::*;
use crate::versioned::digest::{self, MAX_CHUNK};

/// Chunks of 4 to 32 bytes (about 12) and groups of 2 to 6 hashes (about 4): a few hundred
/// bytes make a tree of four or five levels, so that edits move cuts and groups on every
/// level.
const TINY: Shape = Shape { min_chunk: 4, max_chunk: 32, cut_mask: !(u64::MAX >> 3), fanout: 4, max_fanout: 6 };

/// Splices `bytes` the slow way, to compare with.
fn spliced(base: &[u8], at: usize, remove: usize, insert: &[u8]) -> Vec<u8> {
    let mut out = base[..at].to_vec();
    out.extend_from_slice(insert);
    out.extend_from_slice(&base[at + remove..]);
    out
}

fn bytes(c: &Chunked) -> Vec<u8> {
    State::new(c).to_vec()
}

/// States from a small alphabet (repetitive content, where cuts and groups are most
/// fragile) or of any bytes.
fn content(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(0u8..3, 0..max), prop::collection::vec(any::<u8>(), 0..max)]
}

/// An edit as (where, how many bytes to remove, what to insert), fitted to the state.
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, usize, Vec<u8>)>> {
    prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![Just(0usize), 0usize..4, 0usize..200], content(80)), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// After every edit, the chunks, offsets, levels and groups kept incrementally are
    /// exactly those built from scratch for the same bytes — so is the digest.
    #[test]
    fn edits_keep_the_chunks_and_the_tree_equal_to_those_built_from_scratch(base in content(600), edits in edits()) {
        let mut chunked = Chunked::new(TINY, &base);
        let mut expected = base;
        for (at, remove, insert) in edits {
            let at = at.index(expected.len() + 1);
            let remove = remove.min(expected.len() - at);
            chunked.splice(at, remove, &insert);
            expected = spliced(&expected, at, remove, &insert);
            let scratch = Chunked::new(TINY, &expected);
            prop_assert_eq!(&chunked, &scratch, "after splicing {} bytes for {} at {}", insert.len(), remove, at);
            // ... and the digest is the one `state_digest` defines, for this shape.
            let leaves: Vec<digest::Hash> = TINY.chunks(&expected).map(leaf).collect();
            prop_assert_eq!(chunked.digest(), root(expected.len(), &TINY.levels_above(leaves)));
        }
        prop_assert_eq!(bytes(&chunked), expected);
    }
}

#[test]
fn the_digest_of_the_state_shape_is_the_digest_from_scratch() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut chunked = Chunked::new(Shape::STATE, &data);
    assert_eq!(chunked.digest(), digest::state_digest(&data));
    assert!(chunked.levels.len() >= 2, "{} levels", chunked.levels.len());
    chunked.splice(100_000, 10, b"an insertion longer than what it replaces");
    let expected = spliced(&data, 100_000, 10, b"an insertion longer than what it replaces");
    assert_eq!(chunked.digest(), digest::state_digest(&expected));
    assert_eq!(chunked, Chunked::new(Shape::STATE, &expected));
}

#[test]
fn emptying_a_state_and_filling_it_again_keeps_one_empty_chunk_in_between() {
    let data = vec![5u8; 3 * MAX_CHUNK];
    let mut chunked = Chunked::new(Shape::STATE, &data);
    chunked.splice(0, data.len(), b"");
    assert_eq!(chunked, Chunked::new(Shape::STATE, b""));
    assert_eq!(chunked.chunks().collect::<Vec<_>>(), [&b""[..]]);
    chunked.splice(0, 0, b"again");
    assert_eq!(chunked, Chunked::new(Shape::STATE, b"again"));
}

#[test]
fn an_edit_copies_and_hashes_a_few_chunks_not_the_state() {
    // 4 MiB of noise: about 1600 chunks; an insertion replaces one or two of them.
    let mut x = 1u64;
    let data: Vec<u8> = (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut chunked = Chunked::new(Shape::STATE, &data);
    let before: Vec<*const u8> = chunked.chunks.iter().map(|c| c.as_ptr()).collect();
    chunked.splice(2_000_000, 0, b"sixteen bytes!!!");
    let kept = chunked.chunks.iter().filter(|c| before.contains(&c.as_ptr())).count();
    assert!(kept + 3 >= before.len(), "{} of {} chunk buffers kept", kept, before.len());
}

#[test]
fn reads_and_comparisons_cross_chunk_boundaries() {
    let data: Vec<u8> = (0..1_000u32).map(|i| (i % 7) as u8 + (i / 97) as u8).collect();
    let chunked = Chunked::new(TINY, &data);
    assert!(chunked.chunks.len() > 20);
    let state = State::new(&chunked);
    assert_eq!(state, data);
    assert_eq!(state.read(3..900).unwrap(), &data[3..900]);
    assert_eq!(state.read(1_000..1_000).unwrap(), b"");
    assert_eq!(state.read(999..1_001), None);
    assert_eq!(chunked.holds(500, &data[500..700]), Some(true));
    let mut wrong = data[500..700].to_vec();
    wrong[150] ^= 1;
    assert_eq!(chunked.holds(500, &wrong), Some(false));
    assert_eq!(chunked.holds(900, &[0; 101]), None);
    let mut read = Vec::new();
    state.reader().read_to_end(&mut read).unwrap();
    assert_eq!(read, data);
    let mut other = data.clone();
    other[999] ^= 1;
    assert_ne!(state, other);
    assert_ne!(state, &data[..999]);
}

#[test]
fn the_diff_to_a_new_state_is_the_diff_between_whole_states() {
    let old: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let chunked = Chunked::new(Shape::STATE, &old);
    let mut new = old.clone();
    new.splice(70_000..70_000, *b"inserted");
    new.drain(250_000..250_100);
    new[10] ^= 1;
    assert_eq!(chunked.diff_to(&new), crate::versioned::Diff::between(&old, &new));
    assert_eq!(chunked.diff_to(&old), crate::versioned::Diff::default());
    assert_eq!(chunked.diff_to(b""), crate::versioned::Diff::between(&old, b""));
    let same_ends = [&old[..5_000], &old[..5_000]].concat();
    assert_eq!(Chunked::new(Shape::STATE, &old[..5_000]).diff_to(&same_ends), crate::versioned::Diff::between(&old[..5_000], &same_ends));
}
