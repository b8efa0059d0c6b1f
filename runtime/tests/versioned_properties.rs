//! Properties of diffs and of the versioned store on arbitrary states and changes:
//! `apply` and `revert` are exact inverses both ways, computed diffs reproduce their target,
//! and the digest a store maintains incrementally is the digest computed from scratch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::ops::Range;

use pip_runtime::metrics::Metrics;
use pip_runtime::versioned::digest::MAX_CHUNK;
use pip_runtime::versioned::{Diff, StoreConfig, VersionedStore, state_digest};
use proptest::prelude::*;

/// A span of a few KiB, for diffs (which know nothing of chunks).
const CHUNK: usize = 4096;

/// States from a small alphabet (so that diffs find common runs), up to a few KiB long.
fn state() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(0u8..4, 0..64),
        prop::collection::vec(0u8..4, 0..(3 * CHUNK + 100)),
        prop::collection::vec(any::<u8>(), 0..(2 * CHUNK)),
    ]
}

/// States of up to six of the digest's largest chunks (a dozen chunks on average, so two or
/// three levels of tree), of noise or of a small alphabet, or small ones.
fn store_state() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => state(),
        3 => (0..6 * MAX_CHUNK, any::<u64>(), prop_oneof![Just(3u64), Just(256u64)]).prop_map(|(len, seed, alphabet)| {
            let mut x = seed;
            (0..len)
                .map(|_| {
                    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    (((z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb) >> 32) % alphabet) as u8
                })
                .collect()
        }),
    ]
}

/// Changes as (where, how many bytes to replace, by what), made to fit a state of `len`.
fn changes() -> impl Strategy<Value = Vec<(f64, usize, Vec<u8>)>> {
    prop::collection::vec((0.0f64..=1.0, prop_oneof![Just(0usize), 0usize..8, 0usize..600], prop::collection::vec(0u8..4, 0..40)), 0..8)
}

/// Sorted, non-overlapping, non-empty changes for a state of `len` bytes.
fn fit(len: usize, raw: &[(f64, usize, Vec<u8>)]) -> Vec<(Range<usize>, Vec<u8>)> {
    let mut starts: Vec<_> = raw.iter().map(|(at, n, bytes)| (((len as f64) * at) as usize, *n, bytes.clone())).collect();
    starts.sort_by_key(|(at, _, _)| *at);
    let mut out: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    let mut end = 0;
    for (at, n, bytes) in starts {
        let start = at.max(end).min(len);
        let stop = (start + n).min(len);
        if stop == start && bytes.is_empty() {
            continue;
        }
        out.push((start..stop, bytes));
        end = stop;
    }
    out
}

fn diff_for(base: &[u8], raw: &[(f64, usize, Vec<u8>)]) -> Diff {
    let changes = fit(base.len(), raw);
    let borrowed: Vec<(Range<usize>, &[u8])> = changes.iter().map(|(r, b)| (r.clone(), b.as_slice())).collect();
    Diff::from_changes(base, &borrowed).unwrap()
}

/// What the changes should produce, built the slow way.
fn expected_after(base: &[u8], raw: &[(f64, usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cursor = 0;
    for (range, bytes) in fit(base.len(), raw) {
        out.extend_from_slice(&base[cursor..range.start]);
        out.extend_from_slice(&bytes);
        cursor = range.end;
    }
    out.extend_from_slice(&base[cursor..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn revert_after_apply_gives_back_the_original_state(base in state(), raw in changes()) {
        let diff = diff_for(&base, &raw);
        let mut s = base.clone();
        diff.apply(&mut s).unwrap();
        prop_assert_eq!(&s, &expected_after(&base, &raw));
        diff.revert(&mut s).unwrap();
        prop_assert_eq!(s, base);
    }

    #[test]
    fn apply_after_revert_gives_back_the_new_state(base in state(), raw in changes()) {
        let diff = diff_for(&base, &raw);
        let mut new = base.clone();
        diff.apply(&mut new).unwrap();
        let mut s = new.clone();
        diff.revert(&mut s).unwrap();
        prop_assert_eq!(&s, &base);
        diff.apply(&mut s).unwrap();
        prop_assert_eq!(s, new);
    }

    #[test]
    fn a_computed_diff_turns_one_state_into_the_other_and_back(old in state(), new in state()) {
        let diff = Diff::between(&old, &new);
        let mut s = old.clone();
        diff.apply(&mut s).unwrap();
        prop_assert_eq!(&s, &new);
        diff.revert(&mut s).unwrap();
        prop_assert_eq!(s, old);
    }

    /// On data of ordinary entropy. On low-entropy data (a handful of distinct bytes) with
    /// dense changes, a shortest edit script may scatter over a wider span; the diff is then
    /// at most the changed span whole.
    #[test]
    fn a_computed_diff_stores_no_more_than_twice_the_changes_that_made_it(
        base in prop::collection::vec(any::<u8>(), 0..(3 * CHUNK)),
        raw in prop::collection::vec((0.0f64..=1.0, prop_oneof![Just(0usize), 0usize..8, 0usize..600], prop::collection::vec(any::<u8>(), 0..40)), 0..8),
    ) {
        let made = diff_for(&base, &raw);
        let new = expected_after(&base, &raw);
        let computed = Diff::between(&base, &new);
        prop_assert!(
            computed.stored_bytes() <= 2 * made.stored_bytes(),
            "computed {} bytes for changes of {}", computed.stored_bytes(), made.stored_bytes()
        );
    }

    #[test]
    fn a_computed_diff_is_never_larger_than_the_changed_span(base in state(), raw in changes()) {
        let new = expected_after(&base, &raw);
        let computed = Diff::between(&base, &new);
        let first = base.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let last = base.iter().rev().zip(new.iter().rev()).take_while(|(a, b)| a == b).count().min(base.len().min(new.len()) - first);
        let span = (base.len() - first - last) + (new.len() - first - last);
        let stored: usize = computed.edits().iter().map(|e| e.old.len() + e.new.len()).sum();
        prop_assert!(stored <= span, "stored {} of a {}-byte span", stored, span);
    }

    #[test]
    fn a_diff_never_applies_to_a_state_that_lacks_its_bytes(base in state(), raw in changes(), flip in any::<prop::sample::Index>()) {
        let diff = diff_for(&base, &raw);
        prop_assume!(diff.edits().iter().any(|e| !e.old.is_empty()));
        let edit = diff.edits().iter().find(|e| !e.old.is_empty()).unwrap();
        let mut damaged = base.clone();
        damaged[edit.offset + flip.index(edit.old.len())] ^= 0x80;
        let before = damaged.clone();
        prop_assert!(diff.apply(&mut damaged).is_err());
        prop_assert_eq!(damaged, before);
    }

    #[test]
    fn the_store_keeps_its_digest_equal_to_the_digest_from_scratch_and_rolls_back_exactly(
        base in store_state(),
        steps in prop::collection::vec(
            prop_oneof![3 => changes().prop_map(Step::Upgrade), 3 => changes().prop_map(Step::Apply), 2 => (0u64..6).prop_map(Step::Back)],
            1..24,
        ),
    ) {
        let mut store = VersionedStore::new(StoreConfig::new("p", "s", 8), base.clone(), &Metrics::default()).unwrap();
        let mut versions = vec![base];
        for step in steps {
            let current = versions[usize::try_from(store.version()).unwrap()].clone();
            match step {
                Step::Upgrade(raw) => {
                    let next = expected_after(&current, &raw);
                    store.upgrade(&next).unwrap();
                    versions.push(next);
                }
                Step::Apply(raw) => {
                    // Several edits in one diff, insertions and removals among them.
                    let diff = diff_for(&current, &raw);
                    if diff.is_empty() {
                        continue;
                    }
                    store.apply(diff).unwrap();
                    versions.push(expected_after(&current, &raw));
                }
                Step::Back(back) => {
                    let target = store.version().saturating_sub(back).max(store.oldest_version());
                    store.rollback_to(target).unwrap();
                    versions.truncate(usize::try_from(target).unwrap() + 1);
                }
            }
            let v = usize::try_from(store.version()).unwrap();
            prop_assert_eq!(store.state(), versions[v].as_slice());
            prop_assert_eq!(store.digest(), state_digest(&versions[v]));
            prop_assert_eq!(store.digest_of(store.version()), Some(state_digest(&versions[v])));
        }
        let oldest = store.oldest_version();
        store.rollback_to(oldest).unwrap();
        prop_assert_eq!(store.state(), versions[usize::try_from(oldest).unwrap()].as_slice());
        prop_assert_eq!(store.digest(), state_digest(&versions[usize::try_from(oldest).unwrap()]));
    }
}

#[derive(Debug, Clone)]
enum Step {
    Upgrade(Vec<(f64, usize, Vec<u8>)>),
    Apply(Vec<(f64, usize, Vec<u8>)>),
    Back(u64),
}
