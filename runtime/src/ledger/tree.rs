//! The ledger's Merkle tree ([`merkle`](super::merkle)) as the writer keeps it and as proofs
//! read it: [`TreeBuilder`] folds entries into the tree as they are written, and emits the
//! roots of its perfect subtrees of height 8, 16, 24, ... (*tiles* of 256 nodes, as C2SP
//! tlog-tiles cuts them); the tree file `<ledger>.tree` keeps them so that a proof for any
//! entry of a long ledger reads O(log n) small runs of that file and one block of 256 entries
//! of the ledger ([`TreeReader`]).
//!
//! Leaf `i` is the entry with seq `i + 1`; its leaf bytes are the entry's canonical body
//! bytes, so its leaf hash is `SHA-256(0x00 || body)` (RFC 6962).
//!
//! ```text
//! file   = header record*
//! header = "PIPTREE1" identity_digest[32]                                   (40 bytes)
//! record = hash[32] u64:offset          the root of a perfect subtree, and the byte offset
//!                                       in the ledger of its first leaf's record (40 bytes)
//! ```
//!
//! Records are in the order the subtrees complete: the node of height 8 with index `i`
//! (leaves `256 i .. 256 i + 255`), and right after it every higher node it completes. So
//! the node of height `8 t` with index `i` sits at a position computed from `t` and `i`
//! alone ([`position`]), and the file is append-only.
//!
//! The tree file is a cache: nothing is trusted from it. The writer checks what it reads back
//! against its last signed checkpoint, and every proof is checked against a signed root
//! before it is handed out. A file of another ledger (another identity digest), or with a
//! torn end, is cut back to what is whole and rebuilt from the ledger.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::ledger::format::{FRAME_OVERHEAD, HASH_LEN, MAC_LEN, MAX_BODY_LEN, RawBody};
use crate::ledger::merkle::{self, Frontier, Hash, node_hash};

/// First bytes of every tree file.
pub const TREE_MAGIC: [u8; 8] = *b"PIPTREE1";
/// Appended to the ledger's path to name its tree file.
pub const TREE_SUFFIX: &str = ".tree";
/// Bytes of one record, and of the header.
pub const RECORD_LEN: usize = HASH_LEN + 8;
/// Height of a tile: records hold subtrees of heights that are multiples of it.
pub const TILE_HEIGHT: u32 = 8;
/// Leaves (or nodes) under one tile: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The tree file of a ledger: the ledger's path plus `.tree`.
pub fn default_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_os_string();
    s.push(TREE_SUFFIX);
    PathBuf::from(s)
}

/// The tree file's header for the ledger with identity digest `ledger`.
pub fn header(ledger: &[u8; HASH_LEN]) -> [u8; RECORD_LEN] {
    let mut h = [0u8; RECORD_LEN];
    let (magic, digest) = h.split_at_mut(TREE_MAGIC.len());
    magic.copy_from_slice(&TREE_MAGIC);
    digest.copy_from_slice(ledger);
    h
}

/// Position (counted in records after the header) of the node of height `8 t` (`t >= 1`)
/// with index `i`; `None` when it would overflow.
pub fn position(t: u32, i: u64) -> Option<u64> {
    if t == 0 {
        return None;
    }
    if t == 1 {
        // Every node of height 8 before it, and every higher node those completed: the
        // node of height 8u with index k completes with the height-8 node (k + 1) 256^(u-1) - 1.
        let mut pos = 0u64;
        let mut div = 1u64;
        loop {
            pos = pos.checked_add(i / div)?;
            div = match div.checked_mul(TILE_WIDTH) {
                Some(d) if d <= i => d,
                _ => return Some(pos),
            };
        }
    }
    // Right after the last node under it, one tile level down.
    position(t - 1, i.checked_mul(TILE_WIDTH)?.checked_add(TILE_WIDTH - 1)?)?.checked_add(1)
}

/// How many records a file holds that has exactly the nodes completed by the first `blocks`
/// nodes of height 8 (so `blocks * 256` leaves).
pub fn records_for(blocks: u64) -> Option<u64> {
    if blocks == 0 { Some(0) } else { position(1, blocks) }
}

/// The largest number of whole height-8 blocks whose records fit in `records` records.
pub fn blocks_in(records: u64) -> u64 {
    // records_for is increasing; binary search the largest b with records_for(b) <= records.
    let (mut lo, mut hi) = (0u64, records.saturating_add(1));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if records_for(mid).is_some_and(|r| r <= records) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One record: a perfect subtree's root and the ledger offset of its first leaf's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRecord {
    /// The subtree's root.
    pub hash: Hash,
    /// Byte offset in the ledger of the record of the subtree's first leaf.
    pub offset: u64,
}

impl TreeRecord {
    /// Its 40 bytes.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        let (h, o) = out.split_at_mut(HASH_LEN);
        h.copy_from_slice(&self.hash);
        o.copy_from_slice(&self.offset.to_le_bytes());
        out
    }

    /// Reads one record from exactly [`RECORD_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Option<TreeRecord> {
        let (h, o) = bytes.split_first_chunk::<HASH_LEN>()?;
        let o: &[u8; 8] = o.try_into().ok()?;
        Some(TreeRecord { hash: *h, offset: u64::from_le_bytes(*o) })
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    hash: Hash,
    height: u32,
    offset: u64,
}

/// The right edge of the tree while entries are appended, emitting a [`TreeRecord`] for
/// every subtree of height 8, 16, ... it completes.
#[derive(Debug, Clone, Default)]
pub struct TreeBuilder {
    size: u64,
    // INVARIANT: one node per set bit of `size`, highest first, heights strictly decreasing.
    nodes: Vec<Node>,
}

impl TreeBuilder {
    /// The tree with no leaves.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the entry whose body is `body` and whose record starts at `offset` in the
    /// ledger; the records of the tiles it completes are appended to `out`, in file order.
    pub fn append_body(&mut self, body: &[u8], offset: u64, out: &mut Vec<u8>) {
        self.append_leaf(merkle::leaf_hash(body), offset, out);
    }

    /// [`append_body`](Self::append_body) with the leaf hash computed already.
    pub fn append_leaf(&mut self, leaf: Hash, offset: u64, out: &mut Vec<u8>) {
        let mut node = Node { hash: leaf, height: 0, offset };
        let mut carries = self.size.trailing_ones();
        while carries > 0 {
            let Some(left) = self.nodes.pop() else { break };
            node = Node { hash: node_hash(&left.hash, &node.hash), height: left.height + 1, offset: left.offset };
            if node.height.is_multiple_of(TILE_HEIGHT) {
                out.extend_from_slice(&TreeRecord { hash: node.hash, offset: node.offset }.encode());
            }
            carries -= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The perfect subtrees' roots and heights, left (highest) to right.
    pub fn nodes(&self) -> impl Iterator<Item = (Hash, u32)> + '_ {
        self.nodes.iter().map(|n| (n.hash, n.height))
    }

    /// The root of the tree so far (RFC 6962 `MTH`).
    pub fn root(&self) -> Hash {
        self.frontier().root()
    }

    /// The tree's frontier (its perfect subtrees' roots).
    pub fn frontier(&self) -> Frontier {
        let mut bytes = self.size.to_be_bytes().to_vec();
        for n in &self.nodes {
            bytes.extend_from_slice(&n.hash);
        }
        // The bytes are built from the invariant: one hash per set bit of `size`.
        Frontier::from_bytes(&bytes).unwrap_or_default()
    }

    /// The builder at `blocks * 256` leaves, from the tree file's records of those blocks
    /// (`records` holds at least [`records_for`]`(blocks)` records).
    fn resume(reader: &mut TreeReader, blocks: u64) -> Result<TreeBuilder, TreeError> {
        let size = blocks.checked_mul(TILE_WIDTH).ok_or(TreeError::TooLarge)?;
        let mut nodes = Vec::new();
        let mut lo = 0u64;
        for height in (TILE_HEIGHT..64).rev() {
            let width = 1u64 << height;
            if size & width != 0 {
                let hash = reader.perfect(lo, height)?;
                let offset = reader.record(1, lo / TILE_WIDTH)?.offset;
                nodes.push(Node { hash, height, offset });
                lo += width;
            }
        }
        Ok(TreeBuilder { size, nodes })
    }
}

/// Why the tree could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// Reading the ledger or the tree file failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ledger ends, or holds something else, where the tree needs entry `seq`.
    #[error("`{path}` has no well-formed entry with seq {seq} where the tree needs it: {what}")]
    Ledger {
        /// The ledger file.
        path: PathBuf,
        /// The seq needed.
        seq: u64,
        /// What was found instead.
        what: String,
    },
    /// A size beyond what the format counts.
    #[error("the tree is larger than this format counts")]
    TooLarge,
    /// A proof could not be made for these sizes.
    #[error(transparent)]
    Proof(#[from] merkle::ProofError),
}

/// Reads subtree roots of a ledger's tree: from the tree file where it holds them, from the
/// ledger's entries where it does not.
pub struct TreeReader {
    ledger: File,
    ledger_path: PathBuf,
    ledger_len: u64,
    /// The tree file, when it exists and belongs to this ledger; records are read from it as
    /// proofs need them (a proof of a long ledger reads a few KiB of it).
    tree: Option<File>,
    /// Whole height-8 blocks the records cover.
    blocks: u64,
    /// Offset of the first entry record (the ledger header's length).
    first_offset: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io { path: path.to_path_buf(), source }
}

impl TreeReader {
    /// A reader of the ledger at `ledger_path` (whose entries start at `first_offset`) with
    /// identity digest `digest`, using its tree file at `tree_path` when that file exists and
    /// belongs to this ledger (otherwise every subtree is computed from the entries).
    pub fn open(ledger_path: &Path, first_offset: u64, digest: &[u8; HASH_LEN], tree_path: &Path) -> Result<TreeReader, TreeError> {
        let ledger = crate::fsread::open(ledger_path).map_err(io(ledger_path))?;
        let ledger_len = ledger.metadata().map_err(io(ledger_path))?.len();
        let mut tree = match crate::fsread::open(tree_path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(TreeError::Io { path: tree_path.to_path_buf(), source: e }),
        };
        let mut blocks = 0;
        if let Some(f) = tree.as_mut() {
            let len = f.metadata().map_err(io(tree_path))?.len();
            let mut head = [0u8; RECORD_LEN];
            let belongs = len >= RECORD_LEN as u64 && f.read_exact(&mut head).is_ok() && head == header(digest);
            if belongs {
                blocks = blocks_in(len / RECORD_LEN as u64 - 1);
            } else {
                tree = None;
            }
        }
        Ok(TreeReader { ledger, ledger_path: ledger_path.to_path_buf(), ledger_len, tree, blocks, first_offset })
    }

    /// A reader that computes every subtree from the ledger's entries (no tree file).
    pub fn without_tiles(ledger_path: &Path, first_offset: u64) -> Result<TreeReader, TreeError> {
        let ledger = crate::fsread::open(ledger_path).map_err(io(ledger_path))?;
        let ledger_len = ledger.metadata().map_err(io(ledger_path))?.len();
        Ok(TreeReader { ledger, ledger_path: ledger_path.to_path_buf(), ledger_len, tree: None, blocks: 0, first_offset })
    }

    /// Whole blocks of 256 leaves the tree file covers.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Bytes of the tree file (header included) that hold whole the records of
    /// [`blocks`](Self::blocks) blocks: what is kept of it when it is appended to.
    pub fn whole_len(&self) -> u64 {
        (records_for(self.blocks).unwrap_or(0) + 1) * RECORD_LEN as u64
    }

    /// Reads the records at positions `first..=last` (counted after the header).
    fn read_records(&self, first: u64, last: u64) -> Result<Vec<u8>, TreeError> {
        use std::os::unix::fs::FileExt as _;
        let (Some(tree), Some(n)) = (self.tree.as_ref(), last.checked_sub(first).and_then(|d| d.checked_add(1))) else {
            return Err(TreeError::TooLarge);
        };
        let mut bytes = vec![0u8; usize::try_from(n).map_err(|_| TreeError::TooLarge)? * RECORD_LEN];
        let at = (first + 1).checked_mul(RECORD_LEN as u64).ok_or(TreeError::TooLarge)?;
        tree.read_exact_at(&mut bytes, at).map_err(|source| TreeError::Io { path: self.ledger_path.clone(), source })?;
        Ok(bytes)
    }

    fn record(&self, t: u32, i: u64) -> Result<TreeRecord, TreeError> {
        let at = position(t, i).ok_or(TreeError::TooLarge)?;
        TreeRecord::decode(&self.read_records(at, at)?).ok_or(TreeError::TooLarge)
    }

    /// The hashes of the nodes of height `8 t` with indexes `first..first + count`, read with
    /// one read of the run of the file that holds them.
    fn level_hashes(&self, t: u32, first: u64, count: u64) -> Result<Vec<Hash>, TreeError> {
        let p0 = position(t, first).ok_or(TreeError::TooLarge)?;
        let p1 = position(t, first + count - 1).ok_or(TreeError::TooLarge)?;
        let run = self.read_records(p0, p1)?;
        (first..first + count)
            .map(|i| {
                let at = usize::try_from(position(t, i).ok_or(TreeError::TooLarge)? - p0).map_err(|_| TreeError::TooLarge)? * RECORD_LEN;
                run.get(at..at + RECORD_LEN).and_then(TreeRecord::decode).map(|r| r.hash).ok_or(TreeError::TooLarge)
            })
            .collect()
    }

    /// Whether the tree file holds the node of height `8 t` with index `i`.
    fn has(&self, t: u32, i: u64) -> bool {
        let width = 1u64.checked_shl(TILE_HEIGHT * (t - 1)).unwrap_or(u64::MAX);
        i.checked_add(1).and_then(|n| n.checked_mul(width)).is_some_and(|end| end <= self.blocks)
    }

    /// `MTH` of leaves `lo..hi` (RFC 6962), `lo < hi`.
    pub fn subtree(&mut self, lo: u64, hi: u64) -> Result<Hash, TreeError> {
        let n = hi - lo;
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            return self.perfect(lo, n.trailing_zeros());
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        let left = self.perfect(lo, k.trailing_zeros())?;
        let right = self.subtree(lo + k, hi)?;
        Ok(node_hash(&left, &right))
    }

    /// The root of the perfect subtree of height `height` whose first leaf is `lo` (a
    /// multiple of its width).
    fn perfect(&mut self, lo: u64, height: u32) -> Result<Hash, TreeError> {
        let t = height / TILE_HEIGHT;
        if t >= 1 {
            let below = height - t * TILE_HEIGHT;
            let first = lo >> (t * TILE_HEIGHT);
            let count = 1u64 << below;
            if self.has(t, first + count - 1) {
                return Ok(fold_perfect(self.level_hashes(t, first, count)?));
            }
        }
        if height <= TILE_HEIGHT {
            let leaves = self.leaves(lo, 1u64 << height)?;
            return Ok(fold_perfect(leaves));
        }
        let half = 1u64 << (height - 1);
        let left = self.perfect(lo, height - 1)?;
        let right = self.perfect(lo + half, height - 1)?;
        Ok(node_hash(&left, &right))
    }

    /// The leaf hashes of leaves `lo..lo + count`, read from the ledger.
    pub fn leaves(&mut self, lo: u64, count: u64) -> Result<Vec<Hash>, TreeError> {
        let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        self.entries(lo, count, |_, body| out.push(merkle::leaf_hash(body)))?;
        Ok(out)
    }

    /// Calls `each(seq, body)` for the entries of leaves `lo..lo + count`, in order.
    pub fn entries(&mut self, lo: u64, count: u64, mut each: impl FnMut(u64, &[u8])) -> Result<(), TreeError> {
        // Start at the block of `lo` when the tree file locates it, else at the last block it
        // locates, else at the first entry.
        let block = lo / TILE_WIDTH;
        let (mut at, mut leaf) = if block < self.blocks {
            (self.record(1, block)?.offset, block * TILE_WIDTH)
        } else if self.blocks > 0 {
            (self.record(1, self.blocks - 1)?.offset, (self.blocks - 1) * TILE_WIDTH)
        } else {
            (self.first_offset, 0)
        };
        let path = self.ledger_path.clone();
        self.ledger.seek(SeekFrom::Start(at)).map_err(io(&path))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, &self.ledger);
        let mut record = Vec::new();
        while leaf < lo + count {
            let seq = leaf + 1;
            let bad = |what: &str| TreeError::Ledger { path: path.clone(), seq, what: what.to_string() };
            if self.ledger_len.saturating_sub(at) < FRAME_OVERHEAD as u64 {
                return Err(bad("the ledger ends before it"));
            }
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).map_err(io(&path))?;
            let body_len = u32::from_le_bytes(len) as usize;
            let whole = (body_len + FRAME_OVERHEAD) as u64;
            if body_len > MAX_BODY_LEN || whole > self.ledger_len - at {
                return Err(bad("a record's length runs past the end of the ledger"));
            }
            record.resize(body_len + MAC_LEN, 0);
            reader.read_exact(&mut record).map_err(io(&path))?;
            let body = record.get(..body_len).unwrap_or_default();
            match RawBody::parse(body) {
                Some(raw) if raw.seq == seq => {}
                Some(raw) => return Err(bad(&format!("found seq {} there", raw.seq))),
                None => return Err(bad("a record there does not parse")),
            }
            if leaf >= lo {
                each(seq, body);
            }
            at += whole;
            leaf += 1;
        }
        Ok(())
    }

    /// The number of whole entries in the ledger (reading only the record lengths after what
    /// the tree file covers).
    pub fn entry_count(&mut self) -> Result<u64, TreeError> {
        let (mut at, mut count) = if self.blocks > 0 {
            (self.record(1, self.blocks - 1)?.offset, (self.blocks - 1) * TILE_WIDTH)
        } else {
            (self.first_offset, 0)
        };
        // Only record lengths are read: the rest of the file, in large reads.
        let path = self.ledger_path.clone();
        self.ledger.seek(SeekFrom::Start(at)).map_err(io(&path))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, &self.ledger);
        let mut len = [0u8; 4];
        loop {
            if self.ledger_len.saturating_sub(at) < FRAME_OVERHEAD as u64 {
                return Ok(count);
            }
            reader.read_exact(&mut len).map_err(io(&path))?;
            let body_len = u32::from_le_bytes(len) as usize;
            let whole = (body_len + FRAME_OVERHEAD) as u64;
            if body_len > MAX_BODY_LEN || whole > self.ledger_len - at {
                return Ok(count);
            }
            reader.seek_relative(i64::try_from(whole - 4).unwrap_or(i64::MAX)).map_err(io(&path))?;
            at += whole;
            count += 1;
        }
    }

    /// The root of the first `size` leaves.
    pub fn root(&mut self, size: u64) -> Result<Hash, TreeError> {
        if size == 0 { Ok(merkle::empty_root()) } else { self.subtree(0, size) }
    }

    /// The audit path of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        merkle::inclusion_proof_from(index, size, |lo, hi| self.subtree(lo, hi))
    }

    /// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
    pub fn consistency_proof(&mut self, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
        merkle::consistency_proof_from(old, new, |lo, hi| self.subtree(lo, hi))
    }

    /// A builder at the end of what the tree file covers, to go on appending from; with the
    /// offset of the first entry it has not folded in.
    pub fn builder(&mut self) -> Result<(TreeBuilder, u64), TreeError> {
        if self.blocks == 0 {
            return Ok((TreeBuilder::new(), self.first_offset));
        }
        let builder = TreeBuilder::resume(self, self.blocks)?;
        // The first entry after the covered blocks: skip the last block's 256 entries.
        let last = self.record(1, self.blocks - 1)?.offset;
        let mut end = last;
        let from = (self.blocks - 1) * TILE_WIDTH;
        let mut lens = Vec::new();
        self.entries(from, TILE_WIDTH, |_, body| lens.push(body.len()))?;
        for l in lens {
            end += (l + FRAME_OVERHEAD) as u64;
        }
        Ok((builder, end))
    }
}

/// Folds a power-of-two count of hashes into the root of the perfect tree over them.
fn fold_perfect(mut level: Vec<Hash>) -> Hash {
    while level.len() > 1 {
        let (pairs, _) = level.as_chunks::<2>();
        level = pairs.iter().map(|[l, r]| node_hash(l, r)).collect();
    }
    level.first().copied().unwrap_or_else(merkle::empty_root)
}

#[cfg(test)]
mod tests;
