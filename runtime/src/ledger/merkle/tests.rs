//! Properties of the tree against a naive, recursive transcription of RFC 6962 §2.1 (`MTH`)
//! and RFC 9162 §2.1.3.1/§2.1.4.1 (`PATH`, `SUBPROOF`), tamper detection, and the errors of
//! every out-of-range input.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;

use super::*;

/// RFC 6962 `MTH(D[n])`, recursively over the raw leaf bytes.
fn naive_root(leaves: &[Vec<u8>]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => leaf_hash(leaf),
        _ => {
            let k = naive_split(leaves.len());
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (`n > 1`).
fn naive_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 `PATH(m, D[n])`.
fn naive_path(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = naive_split(leaves.len());
    if m < k {
        let mut path = naive_path(m, &leaves[..k]);
        path.push(naive_root(&leaves[k..]));
        path
    } else {
        let mut path = naive_path(m - k, &leaves[k..]);
        path.push(naive_root(&leaves[..k]));
        path
    }
}

/// RFC 9162 `SUBPROOF(m, D[n], b)`.
fn naive_subproof(m: usize, leaves: &[Vec<u8>], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { Vec::new() } else { vec![naive_root(leaves)] };
    }
    let k = naive_split(n);
    if m <= k {
        let mut proof = naive_subproof(m, &leaves[..k], whole);
        proof.push(naive_root(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_subproof(m - k, &leaves[k..], false);
        proof.push(naive_root(&leaves[..k]));
        proof
    }
}

/// Distinct leaf contents for a tree of `n` leaves, varied by `seed`.
fn leaf_bytes(seed: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("entry {i} of tree {seed}").into_bytes()).collect()
}

/// Every single-bit variant of `hash`.
fn bit_flips(hash: &Hash) -> impl Iterator<Item = Hash> + '_ {
    (0..HASH_LEN * 8).map(move |bit| {
        let mut flipped = *hash;
        flipped[bit / 8] ^= 1 << (bit % 8);
        flipped
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn frontier_root_equals_the_naive_root_at_every_size(seed in any::<u64>(), n in 0usize..300) {
        let leaves = leaf_bytes(seed, n);
        let mut frontier = Frontier::new();
        prop_assert_eq!(frontier.root(), naive_root(&[]));
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.append(leaf_hash(leaf)).unwrap();
            prop_assert_eq!(frontier.size(), i as u64 + 1);
            prop_assert_eq!(frontier.nodes().len(), (i + 1).count_ones() as usize);
            prop_assert_eq!(frontier.root(), naive_root(&leaves[..=i]));
        }
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        prop_assert_eq!(&Frontier::from_leaf_hashes(hashes.iter().copied()), &frontier);
        prop_assert_eq!(root_of(&hashes), frontier.root());
        prop_assert_eq!(Frontier::from_bytes(&frontier.to_bytes()), Ok(frontier));
    }

    #[test]
    fn inclusion_proofs_match_the_rfc_verify_and_fail_when_anything_changes(
        seed in any::<u64>(), n in 1usize..300, index_pick in any::<u64>()
    ) {
        let leaves = leaf_bytes(seed, n);
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let size = n as u64;
        let index = index_pick % size;
        let root = root_of(&hashes);
        let leaf = hashes[index as usize];
        let proof = inclusion_proof(index, size, &hashes).unwrap();
        prop_assert_eq!(&proof, &naive_path(index as usize, &leaves));
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, size).unwrap());
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));

        for i in 0..proof.len() {
            for flipped in bit_flips(&proof[i]) {
                let mut bad = proof.clone();
                bad[i] = flipped;
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
            }
        }
        for flipped in bit_flips(&root) {
            prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &flipped), Err(ProofError::RootMismatch));
        }
        for flipped in bit_flips(&leaf) {
            prop_assert_eq!(verify_inclusion(&flipped, index, size, &proof, &root), Err(ProofError::RootMismatch));
        }
        // Another leaf's hash, or this one at a neighbouring index.
        for other in [index.wrapping_sub(1), index + 1] {
            prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
            if let Some(other_leaf) = hashes.get(other as usize) {
                prop_assert!(verify_inclusion(other_leaf, index, size, &proof, &root).is_err());
            }
        }
        // A neighbouring tree size, with that tree's true root: the proof of this tree must
        // not pass for it. (The size alone is bound only through the root: verifiers take
        // `(size, root)` together from a signed checkpoint.)
        for other in [size - 1, size + 1] {
            let mut grown = hashes.clone();
            grown.push(leaf_hash(b"one more"));
            let other_root = root_of(&grown[..other as usize]);
            prop_assert!(verify_inclusion(&leaf, index, other, &proof, &other_root).is_err());
        }
        let mut short = proof.clone();
        if short.pop().is_some() {
            prop_assert!(matches!(verify_inclusion(&leaf, index, size, &short, &root), Err(ProofError::WrongProofLength { .. })), "a proof of the wrong length was not reported as such");
        }
        let mut long = proof.clone();
        long.push(root);
        prop_assert!(matches!(verify_inclusion(&leaf, index, size, &long, &root), Err(ProofError::WrongProofLength { .. })), "a proof of the wrong length was not reported as such");
    }

    #[test]
    fn consistency_proofs_match_the_rfc_verify_and_fail_when_anything_changes(
        seed in any::<u64>(), n in 1usize..300, old_pick in any::<u64>()
    ) {
        let leaves = leaf_bytes(seed, n + 1);
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let new = n as u64;
        let old = old_pick % new + 1;
        let root = |size: u64| root_of(&hashes[..size as usize]);
        let (old_root, new_root) = (root(old), root(new));
        let proof = consistency_proof(old, new, &hashes).unwrap();
        prop_assert_eq!(&proof, &naive_subproof(old as usize, &leaves[..n], true));
        prop_assert_eq!(proof.len(), consistency_proof_len(old, new).unwrap());
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

        for i in 0..proof.len() {
            for flipped in bit_flips(&proof[i]) {
                let mut bad = proof.clone();
                bad[i] = flipped;
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
            }
        }
        for flipped in bit_flips(&old_root) {
            prop_assert!(verify_consistency(old, new, &flipped, &new_root, &proof).is_err());
        }
        for flipped in bit_flips(&new_root) {
            prop_assert!(verify_consistency(old, new, &old_root, &flipped, &proof).is_err());
        }
        // Neighbouring sizes with their true roots: this proof is not theirs.
        for (o, m) in [(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)] {
            if (o, m) == (old, new) || m as usize > hashes.len() {
                continue;
            }
            let (o_root, m_root) = (root(o), root(m));
            let result = verify_consistency(o, m, &o_root, &m_root, &proof);
            // Equal sizes with an empty proof are the one neighbour that rightly verifies.
            if !(o == m && proof.is_empty()) {
                prop_assert!(result.is_err(), "{} to {} accepted the proof of {} to {}", o, m, old, new);
            }
        }
        let mut long = proof.clone();
        long.push(new_root);
        prop_assert!(matches!(verify_consistency(old, new, &old_root, &new_root, &long), Err(ProofError::WrongProofLength { .. })), "a proof of the wrong length was not reported as such");
    }

    #[test]
    fn verification_never_panics_on_arbitrary_input(
        index in any::<u64>(), size in any::<u64>(), old in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        root in any::<[u8; 32]>(),
    ) {
        let _ = inclusion_proof_len(index, size);
        let _ = consistency_proof_len(old, size);
        let _ = verify_inclusion(&root, index, size, &proof, &root);
        let _ = verify_consistency(old, size, &root, &root, &proof);
        let _ = inclusion_proof(index, size % 40, &proof);
        let _ = consistency_proof(old % 40, size % 40, &proof);
    }

    #[test]
    fn frontier_bytes_are_read_back_or_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(frontier) = Frontier::from_bytes(&bytes) {
            prop_assert_eq!(frontier.to_bytes(), bytes);
        }
    }
}

#[test]
fn proofs_of_out_of_range_leaves_and_sizes_are_errors() {
    let hashes: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
    assert_eq!(inclusion_proof(5, 5, &hashes), Err(ProofError::IndexOutOfRange { index: 5, size: 5 }));
    assert_eq!(inclusion_proof(0, 0, &hashes), Err(ProofError::IndexOutOfRange { index: 0, size: 0 }));
    assert_eq!(inclusion_proof(0, 6, &hashes), Err(ProofError::LeavesMissing { size: 6, available: 5 }));
    assert_eq!(inclusion_proof(0, u64::MAX, &hashes), Err(ProofError::LeavesMissing { size: u64::MAX, available: 5 }));
    assert_eq!(consistency_proof(0, 3, &hashes), Err(ProofError::EmptyOldTree));
    assert_eq!(consistency_proof(4, 3, &hashes), Err(ProofError::SizesOutOfOrder { old_size: 4, new_size: 3 }));
    assert_eq!(consistency_proof(2, 6, &hashes), Err(ProofError::LeavesMissing { size: 6, available: 5 }));
    assert_eq!(consistency_proof(3, 3, &hashes), Ok(Vec::new()));

    let root = root_of(&hashes);
    assert_eq!(verify_inclusion(&root, 0, 0, &[], &root), Err(ProofError::IndexOutOfRange { index: 0, size: 0 }));
    assert_eq!(verify_inclusion(&root, 7, 5, &[], &root), Err(ProofError::IndexOutOfRange { index: 7, size: 5 }));
}

#[test]
fn proof_lengths_of_the_largest_trees_are_computed_without_overflow() {
    assert_eq!(inclusion_proof_len(0, u64::MAX), Ok(64));
    assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), Ok(63));
    // The index and the last index differ in the top bit: the whole path is below the split.
    assert_eq!(inclusion_proof_len(0, (1 << 63) + 1), Ok(64));
    assert_eq!(consistency_proof_len(1, u64::MAX), Ok(64));
    // The old tree's last subtree is the leaf pair at node 2^63 - 2 of level 1 (63 hashes to
    // the root of the 2^63 level-1 nodes), plus that pair itself.
    assert_eq!(consistency_proof_len(u64::MAX - 1, u64::MAX), Ok(64));
    let leaf = leaf_hash(b"x");
    assert_eq!(verify_inclusion(&leaf, 0, u64::MAX, &[leaf; 3], &leaf), Err(ProofError::WrongProofLength { expected: 64, actual: 3 }));
}

#[test]
fn frontier_bytes_of_the_wrong_length_are_rejected() {
    let frontier = Frontier::from_leaf_hashes((0u8..7).map(|i| leaf_hash(&[i])));
    let bytes = frontier.to_bytes();
    assert_eq!(bytes.len(), 8 + 3 * 32);
    assert_eq!(Frontier::from_bytes(&bytes[..5]), Err(FrontierError::Truncated { len: 5 }));
    assert_eq!(Frontier::from_bytes(&bytes[..bytes.len() - 32]), Err(FrontierError::WrongLength { size: 7, expected: 104, actual: 72 }));
    let mut extra = bytes.clone();
    extra.push(0);
    assert_eq!(Frontier::from_bytes(&extra), Err(FrontierError::WrongLength { size: 7, expected: 104, actual: 105 }));
    assert_eq!(Frontier::from_bytes(&0u64.to_be_bytes()), Ok(Frontier::new()));
}

#[test]
fn a_full_frontier_refuses_another_leaf() {
    let mut bytes = u64::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[7; 64 * HASH_LEN]);
    let mut full = Frontier::from_bytes(&bytes).unwrap();
    assert_eq!(full.append(leaf_hash(b"x")), Err(FrontierError::Full { size: u64::MAX }));
    assert_eq!(full.size(), u64::MAX);
}

/// A subtree source's own error, as an integration reading nodes from a file has one.
#[derive(Debug, PartialEq)]
enum SourceError {
    Proof(ProofError),
    Unreadable { lo: u64, hi: u64 },
}

impl From<ProofError> for SourceError {
    fn from(error: ProofError) -> Self {
        Self::Proof(error)
    }
}

#[test]
fn proofs_from_a_subtree_source_ask_once_per_hash_and_pass_its_errors_on() {
    let hashes: Vec<Hash> = (0u8..13).map(|i| leaf_hash(&[i])).collect();
    let mut calls = 0;
    let mut source = |lo: u64, hi: u64| {
        calls += 1;
        Ok::<_, SourceError>(root_of(&hashes[lo as usize..hi as usize]))
    };
    let proof = inclusion_proof_from(5, 13, &mut source).unwrap();
    assert_eq!(proof, inclusion_proof(5, 13, &hashes).unwrap());
    let proof = consistency_proof_from(6, 13, &mut source).unwrap();
    assert_eq!(proof, consistency_proof(6, 13, &hashes).unwrap());
    assert_eq!(calls, inclusion_proof_len(5, 13).unwrap() + consistency_proof_len(6, 13).unwrap());

    let unreadable = |lo, hi| Err::<Hash, _>(SourceError::Unreadable { lo, hi });
    assert_eq!(inclusion_proof_from(12, 13, unreadable), Err(SourceError::Unreadable { lo: 0, hi: 8 }));
    assert_eq!(consistency_proof_from(0, 13, unreadable), Err(SourceError::Proof(ProofError::EmptyOldTree)));
    assert_eq!(inclusion_proof_from(13, 13, unreadable), Err(SourceError::Proof(ProofError::IndexOutOfRange { index: 13, size: 13 })));
}

#[test]
#[cfg(feature = "signing")]
fn leaves_hashed_in_place_equal_leaves_hashed_with_the_prefix() {
    // Lengths around the block boundaries, with the byte before each leaf 0x00 (in place)
    // or not (hashed the ordinary way after it).
    for len_a in [0usize, 1, 54, 55, 56, 63, 64, 65, 119, 120, 200] {
        for len_b in [0usize, 55, 64, 130] {
            let a: Vec<u8> = (0..len_a).map(|i| (i * 7 + 1) as u8).collect();
            let b: Vec<u8> = (0..len_b).map(|i| (i * 13 + 5) as u8).collect();
            let want = (leaf_hash(&a), leaf_hash(&b));
            let framed = |before: u8, leaf: &[u8]| [&[before][..], leaf].concat();
            assert_eq!(leaf_hash_pair_in_place(&framed(0, &a), &framed(0, &b)), want, "{len_a} {len_b}");
            assert_eq!(leaf_hash_pair_in_place(&framed(9, &a), &framed(0, &b)), want, "{len_a} {len_b}");
            assert_eq!(leaf_hash_in_place(&framed(0, &a)), want.0);
            assert_eq!(leaf_hash_in_place(&framed(0xff, &a)), want.0);
        }
    }
}
