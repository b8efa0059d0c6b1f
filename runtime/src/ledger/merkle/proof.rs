//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): producing them from the
//! leaf hashes, and checking them against roots with nothing but the hashes in the proof.
//!
//! Producing a proof here hashes every leaf of the tree once (the subtree roots it needs
//! cover all leaves); serving proofs from a stored tree is left to the ledger's integration.

use super::{Hash, node_hash, root_of};

/// Why a proof could not be produced or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size (every index is, for size 0).
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The older tree of a consistency proof is larger than the newer one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder {
        /// The older tree's size.
        old_size: u64,
        /// The newer tree's size.
        new_size: u64,
    },
    /// A consistency proof from the empty tree: every tree extends it, so the proof would
    /// prove nothing (RFC 9162 §2.1.4 defines proofs for `0 < old_size`).
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyOldTree,
    /// The proof does not have the one length the sizes and index allow.
    #[error("proof has {actual} hashes, expected {expected}")]
    WrongProofLength {
        /// The length these sizes (and index) require.
        expected: usize,
        /// The proof's length.
        actual: usize,
    },
    /// The inclusion proof leads to another root: the leaf, its index, the proof or the
    /// root was changed.
    #[error("inclusion proof does not lead to the given root")]
    RootMismatch,
    /// The consistency proof does not reproduce the older tree's root.
    #[error("consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the newer tree's root.
    #[error("consistency proof does not reproduce the new root")]
    NewRootMismatch,
    /// Fewer leaf hashes were given than the tree size names.
    #[error("tree of {size} leaves asked for, only {available} leaf hashes given")]
    LeavesMissing {
        /// The tree size asked for.
        size: u64,
        /// Number of leaf hashes given.
        available: usize,
    },
}

/// The largest power of two strictly below `n`; `n` must be at least 2 (RFC 9162 §2.1.1 `k`).
fn split_point(n: u64) -> u64 {
    // For n >= 2, n - 1 >= 1 so its highest set bit is the answer.
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaf hashes `leaves[lo..hi]`.
fn range(leaves: &[Hash], lo: u64, hi: u64) -> Result<&[Hash], ProofError> {
    let missing = || ProofError::LeavesMissing { size: hi, available: leaves.len() };
    let lo = usize::try_from(lo).map_err(|_| missing())?;
    let hi = usize::try_from(hi).map_err(|_| missing())?;
    leaves.get(lo..hi).ok_or_else(missing)
}

/// `MTH(leaves[lo..hi])`.
fn subtree_root(leaves: &[Hash], lo: u64, hi: u64) -> Result<Hash, ProofError> {
    range(leaves, lo, hi).map(root_of)
}

/// The audit path of leaf `index` in the tree of the first `size` of `leaves` (RFC 9162
/// §2.1.3.1 `PATH`), leaf-side sibling first.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] unless `index < size`; [`ProofError::LeavesMissing`] when
/// `leaves` has fewer than `size` hashes.
pub fn inclusion_proof(index: u64, size: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    range(leaves, 0, size)?;
    inclusion_proof_from(index, size, |lo, hi| subtree_root(leaves, lo, hi))
}

/// [`inclusion_proof`] over any source of subtree roots: `subtree_root(lo, hi)` returns
/// `MTH` of leaves `lo..hi` (one call per proof hash, each range within `0..size`), so a
/// store of interior nodes answers without reading every leaf. The source's errors come
/// back unchanged.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] unless `index < size`, or the source's error.
pub fn inclusion_proof_from<E: From<ProofError>>(
    index: u64,
    size: u64,
    mut subtree_root: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    // Walk down from the root; each level contributes the sibling subtree's root.
    let (mut lo, mut hi, mut m) = (0, size, index);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            path.push(subtree_root(lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(subtree_root(lo, lo + k)?);
            lo += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The proof that the tree of the first `old_size` of `leaves` is a prefix of the tree of
/// the first `new_size` (RFC 9162 §2.1.4.1 `PROOF`); empty when the sizes are equal.
///
/// # Errors
/// [`ProofError::EmptyOldTree`] when `old_size` is 0, [`ProofError::SizesOutOfOrder`] when
/// it exceeds `new_size`, [`ProofError::LeavesMissing`] when `leaves` is shorter than
/// `new_size`.
pub fn consistency_proof(old_size: u64, new_size: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    check_sizes(old_size, new_size)?;
    range(leaves, 0, new_size)?;
    consistency_proof_from(old_size, new_size, |lo, hi| subtree_root(leaves, lo, hi))
}

/// [`consistency_proof`] over any source of subtree roots, as for [`inclusion_proof_from`]
/// (ranges within `0..new_size`).
///
/// # Errors
/// [`ProofError::EmptyOldTree`] or [`ProofError::SizesOutOfOrder`] as for
/// [`consistency_proof`], or the source's error.
pub fn consistency_proof_from<E: From<ProofError>>(
    old_size: u64,
    new_size: u64,
    mut subtree_root: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    check_sizes(old_size, new_size)?;
    // SUBPROOF(m, D[lo..hi], b), unrolled: each level appends one subtree root after the
    // deeper part, so collect them top-down and reverse.
    let (mut lo, mut hi, mut m) = (0, new_size, old_size);
    let mut whole_old_tree = true;
    let mut upper = Vec::new();
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            upper.push(subtree_root(lo + k, hi)?);
            hi = lo + k;
        } else {
            upper.push(subtree_root(lo, lo + k)?);
            lo += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    // The verifier knows the old root, so the node equal to it is left out; any other
    // complete subtree of the old tree must be given.
    let base = if whole_old_tree { None } else { Some(subtree_root(lo, hi)?) };
    Ok(base.into_iter().chain(upper.into_iter().rev()).collect())
}

/// The one length of an inclusion proof of leaf `index` in a tree of `size` leaves.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] unless `index < size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Bits where the index and the last index differ are levels with a sibling below the
    // split; above them the path follows the right border, one sibling per set bit left.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    Ok((inner + border) as usize)
}

/// The one length of a consistency proof between trees of `old_size` and `new_size` leaves.
///
/// # Errors
/// [`ProofError::EmptyOldTree`] or [`ProofError::SizesOutOfOrder`] as for
/// [`consistency_proof`].
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> Result<usize, ProofError> {
    check_sizes(old_size, new_size)?;
    if old_size == new_size {
        return Ok(0);
    }
    // The old tree's last complete subtree is a node at `level`; the proof is that node's
    // inclusion proof in the new tree seen at that level, plus the node itself unless it is
    // the whole old tree (the verifier has the old root).
    let level = old_size.trailing_zeros();
    let node = (old_size - 1) >> level;
    let level_size = ((new_size - 1) >> level) + 1;
    let path = inclusion_proof_len(node, level_size)?;
    Ok(path + usize::from(!old_size.is_power_of_two()))
}

/// Rejects the size pairs no consistency proof exists for.
fn check_sizes(old_size: u64, new_size: u64) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    Ok(())
}

/// Checks that `proof` shows the leaf hashing to `leaf_hash` at `index` in the tree of
/// `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::WrongProofLength`] or
/// [`ProofError::RootMismatch`].
pub fn verify_inclusion(leaf_hash: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength { expected, actual: proof.len() });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongProofLength { expected, actual: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongProofLength { expected, actual: proof.len() });
    }
    if r == *root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// Checks that `proof` shows the tree of `old_size` leaves with root `old_root` to be a
/// prefix of the tree of `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2). Equal
/// sizes need an empty proof and equal roots.
///
/// # Errors
/// [`ProofError::EmptyOldTree`], [`ProofError::SizesOutOfOrder`],
/// [`ProofError::WrongProofLength`], [`ProofError::OldRootMismatch`] or
/// [`ProofError::NewRootMismatch`].
pub fn verify_consistency(old_size: u64, new_size: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> Result<(), ProofError> {
    let expected = consistency_proof_len(old_size, new_size)?;
    let wrong_length = ProofError::WrongProofLength { expected, actual: proof.len() };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if old_size == new_size {
        return if old_root == new_root { Ok(()) } else { Err(ProofError::NewRootMismatch) };
    }
    // Step 2: a power-of-two old tree is itself the first node of the path.
    let (first, rest) = if old_size.is_power_of_two() { (old_root, proof) } else { proof.split_first().ok_or(wrong_length.clone())? };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return Err(wrong_length);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(wrong_length);
    }
    if f_r != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if s_r != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}
