//! The RFC 6962 Merkle tree over a ledger's entries: leaf and node hashing, the frontier that
//! keeps the tree head up to date in O(log n) memory as entries are appended, and inclusion and
//! consistency proofs with their verification (RFC 9162 §2.1.3–2.1.4), so that a checkpoint
//! can name one root that a third party checks without the ledger's key.
//!
//! The hashing is exactly RFC 6962 §2.1, as Certificate Transparency and C2SP
//! tlog-checkpoint use it: a leaf hashes as `SHA-256(0x00 || leaf bytes)`, an interior node
//! as `SHA-256(0x01 || left || right)`, and the empty tree's root is `SHA-256("")`. The
//! distinct prefixes keep a leaf from ever passing for an interior node (second preimages).
//!
//! The leaf bytes of a pip ledger entry are its canonical body bytes (the same bytes whose
//! SHA-256 is the entry's chain hash), so leaf `i` of the tree is the entry with seq `i + 1`.
//! The module itself only sees leaf hashes; which bytes feed [`leaf_hash`] is the caller's
//! decision.
//!
//! Nothing here panics on any input: bad indexes, sizes, proof lengths and frontier bytes
//! come back as [`ProofError`] or [`FrontierError`].

mod frontier;
mod proof;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use sha2::{Digest as _, Sha256};

pub use frontier::{Frontier, FrontierError};
pub use proof::{
    ProofError, consistency_proof, consistency_proof_from, consistency_proof_len, inclusion_proof, inclusion_proof_from,
    inclusion_proof_len, verify_consistency, verify_inclusion,
};

/// Length in bytes of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A leaf hash, an interior node hash or a root.
pub type Hash = [u8; HASH_LEN];

/// Domain-separation prefix of a leaf hash (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash of one leaf: `SHA-256(0x00 || leaf)`.
#[must_use]
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    crate::ledger::hashing::sha256_prefixed(LEAF_PREFIX, leaf)
}

/// The hashes of two leaves, computed together (their compressions interleave in the CPU).
#[must_use]
pub fn leaf_hash_pair(a: &[u8], b: &[u8]) -> (Hash, Hash) {
    crate::ledger::hashing::sha256_prefixed_pair(LEAF_PREFIX, a, b)
}

/// [`leaf_hash_pair`] of two leaves each given *with the byte before it*, which is the leaf
/// prefix `0x00` where the leaves lie in a ledger record: the byte before a body is the high
/// byte of its little-endian length, and no body reaches 2^24 bytes. The hashes then read the
/// bytes where they lie, whole blocks at a time, instead of assembling blocks shifted by one
/// byte. A slice that does not start with `0x00` (or is empty) is hashed as its leaf after
/// that first byte, the ordinary way.
#[must_use]
#[cfg(feature = "signing")]
pub(crate) fn leaf_hash_pair_in_place(a: &[u8], b: &[u8]) -> (Hash, Hash) {
    match (a.split_first(), b.split_first()) {
        (Some((&LEAF_PREFIX, _)), Some((&LEAF_PREFIX, _))) => crate::ledger::hashing::sha256_pair(a, b),
        _ => leaf_hash_pair(a.get(1..).unwrap_or_default(), b.get(1..).unwrap_or_default()),
    }
}

/// [`leaf_hash`] of a leaf given with the byte before it, as [`leaf_hash_pair_in_place`].
#[must_use]
#[cfg(feature = "signing")]
pub(crate) fn leaf_hash_in_place(a: &[u8]) -> Hash {
    match a.split_first() {
        Some((&LEAF_PREFIX, _)) => crate::ledger::hashing::sha256(a),
        _ => leaf_hash(a.get(1..).unwrap_or_default()),
    }
}

/// The hash of an interior node whose children hash to `left` and `right`:
/// `SHA-256(0x01 || left || right)`.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    crate::ledger::hashing::sha256_prefixed_two(NODE_PREFIX, left, right)
}

/// The hashes of two interior nodes, `(a, b)` and `(c, d)`, computed together.
#[must_use]
pub fn node_hash_pair(a: &Hash, b: &Hash, c: &Hash, d: &Hash) -> (Hash, Hash) {
    crate::ledger::hashing::sha256_prefixed_two_pair(NODE_PREFIX, (a, b), (c, d))
}

/// The root of the tree with no leaves: `SHA-256("")`.
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The root of the tree whose leaves hash to `leaves`, in O(`leaves.len()`) time and
/// O(log n) memory (the RFC 6962 `MTH`).
#[must_use]
pub fn root_of(leaves: &[Hash]) -> Hash {
    Frontier::from_leaf_hashes(leaves.iter().copied()).root()
}
