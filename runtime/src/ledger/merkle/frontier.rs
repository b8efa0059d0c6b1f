//! The frontier (a compact range starting at leaf 0): the roots of the perfect subtrees that
//! the tree's leaves decompose into, one per set bit of the size, which is all that appending
//! and computing the root need. It is what a ledger writer keeps in memory and persists.

use super::{HASH_LEN, Hash, empty_root, node_hash};

/// Length of the size field that starts a frontier's bytes.
const SIZE_LEN: usize = 8;

/// The right edge of a Merkle tree: enough to append leaves and compute the root without the
/// leaves themselves.
///
/// `append` costs amortized one node hash (at most 64), `root` at most 63 node hashes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    /// Number of leaves appended.
    size: u64,
    // INVARIANT: `nodes` holds one hash per set bit of `size`, largest subtree (highest bit)
    // first: `nodes[i]` is the root of the perfect subtree of the i-th set bit counted from
    // the most significant one, covering the leaves just after those of `nodes[..i]`.
    /// Roots of the perfect subtrees, left to right.
    nodes: Vec<Hash>,
}

/// Why bytes do not hold a frontier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// Fewer than the 8 bytes of the size.
    #[error("frontier is {len} bytes, shorter than its 8-byte size")]
    Truncated {
        /// Length of the bytes given.
        len: usize,
    },
    /// The hash count does not match the size's set bits.
    #[error("frontier of {size} leaves needs {expected} bytes, got {actual}")]
    WrongLength {
        /// The tree size the bytes declare.
        size: u64,
        /// `8 + 32 × popcount(size)`.
        expected: usize,
        /// Length of the bytes given.
        actual: usize,
    },
    /// Appending would make the size overflow `u64`.
    #[error("frontier is full at {size} leaves")]
    Full {
        /// The size reached.
        size: u64,
    },
}

impl Frontier {
    /// The frontier of the empty tree.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the tree whose leaves hash to `leaf_hashes`, in order.
    #[must_use]
    pub fn from_leaf_hashes(leaf_hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut frontier = Self::new();
        for leaf in leaf_hashes {
            // A size of u64::MAX leaves is out of reach of any iterator that terminates
            // in practice; stop rather than wrap if it ever happened.
            if frontier.append(leaf).is_err() {
                break;
            }
        }
        frontier
    }

    /// Appends the leaf whose hash is `leaf_hash` (see [`leaf_hash`](super::leaf_hash)).
    ///
    /// # Errors
    /// [`FrontierError::Full`] when the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf_hash: Hash) -> Result<(), FrontierError> {
        let new_size = self.size.checked_add(1).ok_or(FrontierError::Full { size: self.size })?;
        // Each trailing one bit of the old size is a perfect subtree of the new leaf's height
        // so far: merge them, the way a binary increment carries.
        let mut hash = leaf_hash;
        let mut carries = self.size.trailing_ones();
        while carries > 0 {
            let Some(left) = self.nodes.pop() else { break };
            hash = node_hash(&left, &hash);
            carries -= 1;
        }
        self.nodes.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// Number of leaves.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root (RFC 6962 `MTH`): the subtree roots folded from the right.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(&last) = nodes.next() else { return empty_root() };
        nodes.fold(last, |right, left| node_hash(left, &right))
    }

    /// The perfect subtrees' roots, left (largest) to right.
    #[must_use]
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The frontier as bytes: the size as big-endian `u64`, then each subtree root, left to
    /// right (`8 + 32 × popcount(size)` bytes).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIZE_LEN + HASH_LEN * self.nodes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for node in &self.nodes {
            out.extend_from_slice(node);
        }
        out
    }

    /// Reads the bytes [`to_bytes`](Self::to_bytes) wrote.
    ///
    /// The bytes only say which subtree roots the tree has; that they are the right ones is
    /// for the caller to check (by comparing the root with a trusted one).
    ///
    /// # Errors
    /// [`FrontierError::Truncated`] or [`FrontierError::WrongLength`] when the length does not
    /// match the declared size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FrontierError> {
        let (size_bytes, rest) = bytes.split_first_chunk::<SIZE_LEN>().ok_or(FrontierError::Truncated { len: bytes.len() })?;
        let size = u64::from_be_bytes(*size_bytes);
        let count = size.count_ones() as usize;
        let (hashes, tail) = rest.as_chunks::<HASH_LEN>();
        if hashes.len() != count || !tail.is_empty() {
            return Err(FrontierError::WrongLength { size, expected: SIZE_LEN + HASH_LEN * count, actual: bytes.len() });
        }
        Ok(Self { size, nodes: hashes.to_vec() })
    }
}
