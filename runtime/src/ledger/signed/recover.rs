//! Opening a signing ledger: the signed checkpoint file's torn end is cut off, the Merkle
//! tree is rebuilt from the tree file's tiles and the entries after them, and its root must
//! equal the last signed checkpoint's at that size (the entries are the ones that were
//! signed). The tree file is only a cache: when the roots disagree it is rebuilt from the
//! entries alone, and only if they still disagree is the open refused.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{SignedFile, Signing};
use crate::ledger::config::LedgerConfig;
use crate::ledger::error::LedgerError;
use crate::ledger::format::{HASH_LEN, HEADER_LEN};
use crate::ledger::merkle::Hash;
use crate::ledger::tree::{self, TreeBuilder, TreeReader};

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> LedgerError + 'a {
    move |source| LedgerError::Io { path: path.to_path_buf(), op, source }
}

fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> LedgerError {
    LedgerError::Damaged { path: path.to_path_buf(), offset, what: what.into() }
}

/// The signing state recovered on open, handed to the flusher.
pub(crate) struct SignedStart {
    /// The signed checkpoint file, positioned at its end.
    pub signed: File,
    /// The tree file, positioned at its end.
    pub tree: File,
    /// The tree over every entry in the ledger.
    pub builder: TreeBuilder,
    /// The tree size of the last signed checkpoint (0: none yet).
    pub last_signed: u64,
    /// Bytes of a torn note cut off the signed checkpoint file.
    pub torn_bytes: u64,
}

/// Recovery in progress: started before the ledger's entries are scanned, fed each entry the
/// tree has not folded in, finished after the scan.
pub(crate) struct Recovery {
    signed: File,
    signed_path: PathBuf,
    tree: File,
    tree_path: PathBuf,
    builder: TreeBuilder,
    /// Tile records made while folding, to append to the tree file.
    new_records: Vec<u8>,
    /// The last signed checkpoint: its size and root, and where it is in the file.
    last: Option<(u64, Hash, u64)>,
    /// Whether the last signed root was found equal to the tree's.
    matched: bool,
    torn_bytes: u64,
    digest: [u8; HASH_LEN],
}

impl Recovery {
    /// Opens (creating) the signed checkpoint and tree files of the ledger with identity
    /// digest `digest`, and prepares the tree for the entries after the tiles.
    pub fn start(config: &LedgerConfig, digest: &[u8; HASH_LEN], signing: &Signing) -> Result<Recovery, LedgerError> {
        let signed_path = config.signed_path();
        let tree_path = config.tree_path();
        let mut signed = crate::fsread::open_rw(&signed_path, true).map_err(io(&signed_path, "open"))?;
        let len = signed.metadata().map_err(io(&signed_path, "read the size of"))?.len();
        // The last note is what opening needs: read the file's end, and the whole file only
        // when its end holds no whole note.
        let (mut file, whole) = SignedFile::read_tail(&signed_path, 64 << 10).map_err(io(&signed_path, "read"))?;
        if file.notes.is_empty() && !whole {
            file = SignedFile::read(&signed_path).map_err(io(&signed_path, "read"))?;
        }
        if file.torn_bytes > 0 {
            signed.set_len(file.whole_len(len)).map_err(io(&signed_path, "truncate"))?;
            signed.sync_all().map_err(io(&signed_path, "sync"))?;
        }
        signed.seek(SeekFrom::End(0)).map_err(io(&signed_path, "seek in"))?;
        let last = match file.notes.last() {
            None => None,
            Some(n) => match &n.checkpoint {
                Ok(cp) if cp.origin != signing.origin() => {
                    return Err(LedgerError::Config(format!(
                        "`{}` holds checkpoints of origin `{}`, but this ledger signs as `{}`",
                        signed_path.display(),
                        cp.origin,
                        signing.origin()
                    )));
                }
                Ok(cp) => Some((cp.size, cp.root, n.offset)),
                Err(e) => return Err(damaged(&signed_path, n.offset, format!("the last signed checkpoint does not parse: {e}"))),
            },
        };
        // The tree file is a cache: if it cannot be used (its blocks run past the ledger's
        // entries, or it disagrees with the last signed root), the tree starts from nothing
        // and is rebuilt from the entries.
        let mut reader = TreeReader::open(&config.path, HEADER_LEN as u64, digest, &tree_path).map_err(tree_error)?;
        let resumed = reader.builder().ok().and_then(|(builder, _)| {
            let keep = reader.whole_len();
            match last {
                Some((size, root, _)) if size <= builder.size() => (reader.root(size).ok() == Some(root)).then_some((builder, keep, true)),
                _ => Some((builder, keep, false)),
            }
        });
        let (builder, keep, matched) = resumed.unwrap_or((TreeBuilder::new(), 0, false));
        // Keep the whole blocks' records (a file of another ledger, or a wrong one, starts over).
        let mut tree = crate::fsread::open_rw(&tree_path, true).map_err(io(&tree_path, "open"))?;
        if keep <= tree::RECORD_LEN as u64 {
            tree.set_len(0).map_err(io(&tree_path, "truncate"))?;
            tree.write_all(&tree::header(digest)).map_err(io(&tree_path, "write"))?;
        } else {
            tree.set_len(keep).map_err(io(&tree_path, "truncate"))?;
        }
        tree.seek(SeekFrom::End(0)).map_err(io(&tree_path, "seek in"))?;
        Ok(Recovery {
            signed,
            signed_path,
            tree,
            tree_path,
            builder,
            new_records: Vec::new(),
            last,
            matched,
            torn_bytes: file.torn_bytes,
            digest: *digest,
        })
    }

    /// Folds in the entry with `seq` whose record starts at `offset` (entries the tree has
    /// already are skipped).
    pub fn fold(&mut self, seq: u64, offset: u64, body: &[u8]) {
        if seq != self.builder.size() + 1 {
            return;
        }
        self.builder.append_body(body, offset, &mut self.new_records);
        if let Some((size, root, _)) = self.last
            && size == seq
        {
            self.matched = self.builder.root() == root;
        }
    }

    /// Checks the last signed checkpoint against the ledger of `head` entries and hands the
    /// state to the flusher.
    pub fn finish(mut self, config: &LedgerConfig, head: u64) -> Result<SignedStart, LedgerError> {
        let last_signed = self.last.map_or(0, |(size, _, _)| size);
        if last_signed > head {
            return Err(LedgerError::Truncated { path: config.path.clone(), head, checkpoint: last_signed });
        }
        if let Some((size, root, offset)) = self.last
            && !self.matched
        {
            // The tiles may be what is wrong: compute the root from the entries alone.
            let mut reader = TreeReader::without_tiles(&config.path, HEADER_LEN as u64).map_err(tree_error)?;
            if reader.root(size).map_err(tree_error)? != root {
                return Err(damaged(
                    &self.signed_path,
                    offset,
                    format!("the entries 1..={size} are not the ones the last signed checkpoint commits to"),
                ));
            }
            let mut builder = TreeBuilder::new();
            let mut records = tree::header(&self.digest).to_vec();
            // Offsets of the records: the header, then each record's frame and MAC.
            let mut offset = HEADER_LEN as u64;
            reader
                .entries(0, head, |_, body| {
                    builder.append_body(body, offset, &mut records);
                    offset += (body.len() + crate::ledger::format::FRAME_OVERHEAD) as u64;
                })
                .map_err(tree_error)?;
            self.tree.set_len(0).map_err(io(&self.tree_path, "truncate"))?;
            self.tree.seek(SeekFrom::Start(0)).map_err(io(&self.tree_path, "seek in"))?;
            self.tree.write_all(&records).map_err(io(&self.tree_path, "write"))?;
            self.builder = builder;
            self.new_records.clear();
        }
        self.tree.write_all(&self.new_records).map_err(io(&self.tree_path, "write"))?;
        Ok(SignedStart { signed: self.signed, tree: self.tree, builder: self.builder, last_signed, torn_bytes: self.torn_bytes })
    }
}

fn tree_error(e: tree::TreeError) -> LedgerError {
    match e {
        tree::TreeError::Io { path, source } => LedgerError::Io { path, op: "read", source },
        tree::TreeError::Ledger { path, seq, what } => {
            LedgerError::Damaged { path, offset: 0, what: format!("the Merkle tree needs entry seq {seq}: {what}") }
        }
        other => LedgerError::Config(other.to_string()),
    }
}
