//! Range proofs: a contiguous run of entries (a bundle's slice) proved to sit at its
//! positions in the tree of a signed checkpoint.
//!
//! The proof of leaves `start..end` in the tree of `size` leaves (RFC 6962 `MTH(D[size])`) is
//! the hashes of the maximal subtrees disjoint from `start..end` that the recursion of `MTH`
//! meets (it splits `n` leaves at the largest power of two below `n`), in recursion order
//! (left to right). The verifier runs the same recursion: a subtree inside the range hashes
//! from the given leaves, one disjoint from it takes the next proof hash, and the root it
//! arrives at must be the signed root. At most two hashes per level: `O(log size)` hashes.
//!
//! Unlike a set of inclusion proofs, one proof binds every leaf of the run *and* their
//! contiguity: no leaf can be left out, added, moved or changed without changing the root.
//! As for any Merkle proof, the tree size comes from the signed checkpoint together with its
//! root ([`RangeProof::verify`] takes both from the note): two sizes whose trees share the
//! range's subtrees can give the same root for the same hashes.
//!
//! A bundle's slice does not keep the entries' bytes, but its decoder rebuilds each entry's
//! canonical body exactly (fields, payload text byte for byte, and the chain's `prev`), so the
//! leaf hashes are `leaf_hash(entry.body())` of the decoded entries.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::ledger::merkle::{self, Hash, node_hash};
use crate::ledger::note::{self, NoteError, NoteVerifiers};
use crate::ledger::tree::{TreeError, TreeReader};

/// The `kind` of a range proof document.
pub const RANGE_KIND: &str = "pip.range-proof.v1";

/// Why a range proof cannot be made or does not verify (the hashes alone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The range is empty or does not lie inside the tree.
    #[error("leaves {start}..{end} are not a non-empty range inside a tree of {size} leaves")]
    BadRange {
        /// First leaf.
        start: u64,
        /// One past the last leaf.
        end: u64,
        /// The tree size.
        size: u64,
    },
    /// Not one leaf hash per leaf of the range.
    #[error("{given} leaf hashes given for a range of {expected} leaves")]
    LeafCount {
        /// Leaves in the range.
        expected: u64,
        /// Leaf hashes given.
        given: usize,
    },
    /// The proof does not have the one length the range and size allow.
    #[error("the range proof has {actual} hashes, expected {expected}")]
    WrongProofLength {
        /// The length the range and size require.
        expected: usize,
        /// The proof's length.
        actual: usize,
    },
    /// The leaves and the proof lead to another root: a leaf, the range, the size or the
    /// proof was changed.
    #[error("the leaves and the range proof do not lead to the signed root")]
    RootMismatch,
}

/// Why a range proof could not be made from a ledger's tree.
#[derive(Debug, thiserror::Error)]
pub enum RangeProveError {
    /// The range is not inside the tree.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// Reading the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// Why a range proof document does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeCheckError {
    /// Not a range proof document, or a field does not decode.
    #[error("not a valid range proof: {0}")]
    Malformed(String),
    /// The checkpoint note does not verify with the verifier keys, or is not a checkpoint.
    #[error("the signed checkpoint does not verify: {0}")]
    Checkpoint(#[from] NoteError),
    /// The leaves, the range or the hashes do not lead to the signed root.
    #[error(transparent)]
    Range(#[from] RangeError),
}

fn check_range(start: u64, end: u64, size: u64) -> Result<(), RangeError> {
    if start < end && end <= size { Ok(()) } else { Err(RangeError::BadRange { start, end, size }) }
}

/// The largest power of two below `n` (`n > 1`).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Calls `each(lo, hi)` for the maximal subtrees of `MTH(lo..hi)` disjoint from `start..end`,
/// in recursion order.
fn disjoint<E>(lo: u64, hi: u64, start: u64, end: u64, each: &mut impl FnMut(u64, u64) -> Result<(), E>) -> Result<(), E> {
    if hi <= start || lo >= end {
        return each(lo, hi);
    }
    if start <= lo && hi <= end {
        return Ok(());
    }
    // Neither disjoint nor inside: at least two leaves, so a split exists.
    let k = split(hi - lo);
    disjoint(lo, lo + k, start, end, each)?;
    disjoint(lo + k, hi, start, end, each)
}

/// The number of hashes in the range proof of leaves `start..end` in a tree of `size` leaves.
pub fn range_proof_len(start: u64, end: u64, size: u64) -> Result<usize, RangeError> {
    check_range(start, end, size)?;
    let mut n = 0usize;
    disjoint::<()>(0, size, start, end, &mut |_, _| {
        n += 1;
        Ok(())
    })
    .ok();
    Ok(n)
}

/// The range proof of leaves `start..end` in the tree of `size` leaves, with `subtree(lo, hi)`
/// giving `MTH` of leaves `lo..hi`.
pub fn range_proof_from(
    start: u64,
    end: u64,
    size: u64,
    mut subtree: impl FnMut(u64, u64) -> Result<Hash, TreeError>,
) -> Result<Vec<Hash>, RangeProveError> {
    check_range(start, end, size)?;
    let mut out = Vec::new();
    disjoint(0, size, start, end, &mut |lo, hi| {
        out.push(subtree(lo, hi)?);
        Ok::<(), TreeError>(())
    })?;
    Ok(out)
}

/// The range proof of leaves `start..end` in the tree of `size` leaves of a ledger, read from
/// its tree (`O(log size)` subtree reads).
pub fn range_proof(tree: &mut TreeReader, start: u64, end: u64, size: u64) -> Result<Vec<Hash>, RangeProveError> {
    range_proof_from(start, end, size, |lo, hi| tree.subtree(lo, hi))
}

/// Opens the tree of the ledger at `ledger` (its tree file `<ledger>.tree` when it belongs to
/// it, otherwise every subtree is computed from the entries).
pub fn open_tree(ledger: &Path) -> Result<TreeReader, TreeError> {
    use crate::ledger::{HEADER_LEN, Header};
    use std::io::Read as _;
    let io = |source| TreeError::Io { path: ledger.to_path_buf(), source };
    let mut header = Vec::with_capacity(HEADER_LEN);
    crate::fsread::open(ledger).and_then(|f| f.take(HEADER_LEN as u64).read_to_end(&mut header)).map_err(io)?;
    let h = Header::decode(&header).map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())))?;
    TreeReader::open(ledger, HEADER_LEN as u64, &h.identity.digest(), &crate::ledger::tree::default_path(ledger))
}

/// The root that leaves `start..start + leaves.len()` (their leaf hashes) and their range proof
/// lead to in a tree of `size` leaves.
pub fn root_from_range(start: u64, size: u64, leaves: &[Hash], proof: &[Hash]) -> Result<Hash, RangeError> {
    let end = start.checked_add(leaves.len() as u64).ok_or(RangeError::BadRange { start, end: u64::MAX, size })?;
    check_range(start, end, size)?;
    let expected = range_proof_len(start, end, size)?;
    if proof.len() != expected {
        return Err(RangeError::WrongProofLength { expected, actual: proof.len() });
    }
    let mut next = proof.iter();
    fold(0, size, start, end, leaves, &mut next)
}

fn fold(lo: u64, hi: u64, start: u64, end: u64, leaves: &[Hash], proof: &mut std::slice::Iter<'_, Hash>) -> Result<Hash, RangeError> {
    if hi <= start || lo >= end {
        // The length was checked: there is one hash per disjoint subtree.
        return proof.next().copied().ok_or(RangeError::RootMismatch);
    }
    if start <= lo && hi <= end {
        let (a, b) = (usize::try_from(lo - start), usize::try_from(hi - start));
        let inside = match (a, b) {
            (Ok(a), Ok(b)) => leaves.get(a..b),
            _ => None,
        };
        return inside.map(merkle::root_of).ok_or(RangeError::LeafCount { expected: end - start, given: leaves.len() });
    }
    let k = split(hi - lo);
    let left = fold(lo, lo + k, start, end, leaves, proof)?;
    let right = fold(lo + k, hi, start, end, leaves, proof)?;
    Ok(node_hash(&left, &right))
}

/// Checks that the leaves hashing to `leaves` are leaves `start..start + leaves.len()` of the
/// tree of `size` leaves whose root is `root`.
pub fn verify_range(start: u64, size: u64, leaves: &[Hash], proof: &[Hash], root: &Hash) -> Result<(), RangeError> {
    if root_from_range(start, size, leaves, proof)? == *root { Ok(()) } else { Err(RangeError::RootMismatch) }
}

/// A range proof as a JSON document: the leaves `first_leaf..end_leaf` of the tree of the
/// signed checkpoint `checkpoint` (whose size is `tree_size`). The leaves themselves are not
/// in it: they are the entries' body bytes the reader has (a bundle's slice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeProof {
    /// [`RANGE_KIND`].
    pub kind: String,
    /// The first leaf's index (the first entry's seq minus 1).
    pub first_leaf: u64,
    /// One past the last leaf's index (the last entry's seq).
    pub end_leaf: u64,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// The proof hashes, base64, in recursion order.
    pub proof: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// What a verified range proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRange {
    /// The checkpoint's origin.
    pub origin: String,
    /// The checkpoint, verified.
    pub checkpoint: note::Checkpoint,
    /// First leaf.
    pub first_leaf: u64,
    /// One past the last leaf.
    pub end_leaf: u64,
}

impl RangeProof {
    /// The document for leaves `start..end` against the signed checkpoint note `message` of
    /// `checkpoint`, from a ledger's tree; the proof is checked against the checkpoint's root
    /// before it is returned (a damaged tree file never yields a proof that does not verify).
    pub fn make(
        tree: &mut TreeReader,
        start: u64,
        end: u64,
        checkpoint: &note::Checkpoint,
        message: &str,
    ) -> Result<RangeProof, RangeProveError> {
        let proof = range_proof(tree, start, end, checkpoint.size)?;
        let leaves = tree.leaves(start, end - start)?;
        verify_range(start, checkpoint.size, &leaves, &proof, &checkpoint.root)?;
        Ok(RangeProof {
            kind: RANGE_KIND.to_string(),
            first_leaf: start,
            end_leaf: end,
            tree_size: checkpoint.size,
            proof: proof.iter().map(|h| base64::engine::general_purpose::STANDARD.encode(h)).collect(),
            checkpoint: message.to_string(),
        })
    }

    /// Checks the document with the verifier keys alone, for the leaves hashing to `leaves`
    /// (one per leaf of `first_leaf..end_leaf`).
    pub fn verify(&self, leaves: &[Hash], verifiers: &NoteVerifiers) -> Result<VerifiedRange, RangeCheckError> {
        if self.kind != RANGE_KIND {
            return Err(RangeCheckError::Malformed(format!("`kind` is `{}`, not `{RANGE_KIND}`", self.kind)));
        }
        let (cp, _) = note::Checkpoint::open(self.checkpoint.as_bytes(), verifiers)?;
        if self.tree_size != cp.size {
            return Err(RangeCheckError::Malformed(format!("`tree_size` is {} but the checkpoint's is {}", self.tree_size, cp.size)));
        }
        let expected = self.end_leaf.saturating_sub(self.first_leaf);
        if leaves.len() as u64 != expected || expected == 0 {
            return Err(RangeError::LeafCount { expected, given: leaves.len() }.into());
        }
        let proof = self.hashes()?;
        verify_range(self.first_leaf, cp.size, leaves, &proof, &cp.root)?;
        Ok(VerifiedRange { origin: cp.origin.clone(), checkpoint: cp, first_leaf: self.first_leaf, end_leaf: self.end_leaf })
    }

    fn hashes(&self) -> Result<Vec<Hash>, RangeCheckError> {
        self.proof
            .iter()
            .map(|t| {
                base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .ok()
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or_else(|| RangeCheckError::Malformed("a proof hash is not the base64 of 32 bytes".into()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use proptest::prelude::*;

    use super::*;
    use crate::ledger::merkle::leaf_hash;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    /// `MTH` of `hs` by the definition, recursively.
    fn naive(hs: &[Hash]) -> Hash {
        match hs {
            [] => merkle::empty_root(),
            [h] => *h,
            _ => {
                let k = split(hs.len() as u64) as usize;
                node_hash(&naive(&hs[..k]), &naive(&hs[k..]))
            }
        }
    }

    fn prove(all: &[Hash], start: u64, end: u64) -> Vec<Hash> {
        range_proof_from(start, end, all.len() as u64, |lo, hi| Ok(naive(&all[lo as usize..hi as usize]))).unwrap()
    }

    #[test]
    fn every_range_of_every_tree_up_to_40_leaves_verifies_and_no_neighbour_does() {
        for n in 1..=40u64 {
            let all = leaves(n);
            let root = naive(&all);
            for a in 0..n {
                for b in a + 1..=n {
                    let proof = prove(&all, a, b);
                    assert_eq!(proof.len(), range_proof_len(a, b, n).unwrap());
                    assert!(proof.len() <= 2 * 64);
                    let range = &all[a as usize..b as usize];
                    verify_range(a, n, range, &proof, &root).unwrap();
                    // The same leaves one position later: another root, or refused.
                    if b < n {
                        assert!(verify_range(a + 1, n, range, &proof, &root).is_err(), "n={n} a={a} b={b} shifted");
                    }
                    // The checkpoint of another tree size (its size and root go together).
                    for m in [n + 1, n - 1] {
                        if m >= b && m != n {
                            let other = naive(&leaves(m));
                            assert!(verify_range(a, m, range, &proof, &other).is_err(), "n={n} a={a} b={b} size {m}");
                        }
                    }
                    // Each leaf changed in turn.
                    for i in 0..range.len() {
                        let mut bad = range.to_vec();
                        bad[i][0] ^= 1;
                        assert_eq!(verify_range(a, n, &bad, &proof, &root), Err(RangeError::RootMismatch));
                    }
                }
            }
        }
    }

    #[test]
    fn a_proof_of_another_length_or_an_empty_range_is_refused() {
        let all = leaves(13);
        let root = naive(&all);
        let mut proof = prove(&all, 3, 7);
        proof.push(root);
        assert!(matches!(verify_range(3, 13, &all[3..7], &proof, &root), Err(RangeError::WrongProofLength { .. })));
        assert!(matches!(verify_range(3, 13, &[], &[], &root), Err(RangeError::BadRange { .. })));
        assert!(matches!(range_proof_len(5, 5, 13), Err(RangeError::BadRange { .. })));
        assert!(matches!(range_proof_len(5, 14, 13), Err(RangeError::BadRange { .. })));
        assert!(matches!(verify_range(u64::MAX, u64::MAX, &all[..2], &[], &root), Err(RangeError::BadRange { .. })));
    }

    #[test]
    fn the_whole_tree_needs_no_hash_and_one_leaf_needs_its_audit_path() {
        let all = leaves(21);
        assert!(prove(&all, 0, 21).is_empty());
        for i in 0..21u64 {
            let path = crate::ledger::merkle::inclusion_proof(i, 21, &all).unwrap();
            assert_eq!(prove(&all, i, i + 1).len(), path.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_ranges_of_large_trees_verify_and_a_changed_hash_does_not(
            size in 1u64..3000,
            a in 0u64..3000,
            len in 1u64..200,
            flip in any::<prop::sample::Index>(),
        ) {
            let a = a % size;
            let b = (a + len).min(size);
            let all = leaves(size);
            let root = naive(&all);
            let proof = prove(&all, a, b);
            prop_assert!(proof.len() <= 2 * 64);
            let range = &all[a as usize..b as usize];
            prop_assert!(verify_range(a, size, range, &proof, &root).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip.index(bad.len());
                bad[i][31] ^= 0x80;
                prop_assert!(verify_range(a, size, range, &bad, &root).is_err());
            }
            let mut bad = range.to_vec();
            let i = flip.index(bad.len());
            bad[i][7] ^= 0x10;
            prop_assert!(verify_range(a, size, &bad, &proof, &root).is_err());
        }

        #[test]
        fn verification_never_panics_on_any_input(
            start in any::<u64>(),
            size in any::<u64>(),
            n_leaves in 0usize..5,
            n_proof in 0usize..70,
        ) {
            let hs = leaves(n_leaves as u64);
            let proof = vec![[7u8; 32]; n_proof];
            let _ = verify_range(start, size, &hs, &proof, &[0u8; 32]);
        }
    }
}
