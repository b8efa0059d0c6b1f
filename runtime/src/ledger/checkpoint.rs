//! Checkpoints: MACed statements "at `time`, the entry with `seq` had hash `head`", kept in a
//! side file next to the ledger. A ledger can be cut back to an earlier head without
//! breaking its chain; a checkpoint (or the exported head metric) is what shows it.
//!
//! ```text
//! file       = header checkpoint*
//! header     = "PIPCKPTS" u16:version(=1) u16:reserved(=0) key_id[16]       (28 bytes)
//! checkpoint = u64:seq u64:unix_millis head[32] mac[32]                      (80 bytes)
//! mac        = HMAC-SHA256(key, "pip-ledger checkpoint v1" || seq || unix_millis || head)
//! ```

use std::path::{Path, PathBuf};

use crate::ledger::format::{Cursor, FORMAT_VERSION, FormatError, HASH_LEN, MAC_LEN, decode_header};
use crate::ledger::key::{KEY_ID_LEN, LedgerKey};

/// First bytes of every checkpoint file.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"PIPCKPTS";
/// Bytes of the checkpoint file header.
pub const CHECKPOINT_HEADER_LEN: usize = 8 + 2 + 2 + KEY_ID_LEN;
/// Bytes of one checkpoint.
pub const CHECKPOINT_LEN: usize = 8 + 8 + HASH_LEN + MAC_LEN;
/// Appended to the ledger's path to name its checkpoint file when none is given.
pub const CHECKPOINT_SUFFIX: &str = ".ckpt";

/// Why a checkpoint file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading failed.
    #[error("cannot read checkpoint file `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint file.
    #[error("`{path}` is not a pip checkpoint file: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
}

/// One checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The sequence number of the entry it covers (every entry up to it).
    pub seq: u64,
    /// When it was written, Unix milliseconds.
    pub time_millis: u64,
    /// The hash of entry `seq`.
    pub head: [u8; HASH_LEN],
    /// The MAC.
    pub mac: [u8; MAC_LEN],
}

impl Checkpoint {
    /// A checkpoint MACed with `key`.
    pub fn new(key: &LedgerKey, seq: u64, time_millis: u64, head: [u8; HASH_LEN]) -> Checkpoint {
        Checkpoint { seq, time_millis, head, mac: key.mac_checkpoint(seq, time_millis, &head) }
    }

    /// Whether its MAC is right for `key`.
    pub fn verify(&self, key: &LedgerKey) -> bool {
        key.verify_checkpoint(self.seq, self.time_millis, &self.head, &self.mac)
    }

    /// Its 80 bytes.
    pub fn encode(&self) -> [u8; CHECKPOINT_LEN] {
        let mut out = [0u8; CHECKPOINT_LEN];
        let parts: [&[u8]; 4] = [&self.seq.to_le_bytes(), &self.time_millis.to_le_bytes(), &self.head, &self.mac];
        let mut at = 0;
        for p in parts {
            if let Some(dst) = out.get_mut(at..at + p.len()) {
                dst.copy_from_slice(p);
            }
            at += p.len();
        }
        out
    }

    /// Reads one checkpoint from exactly [`CHECKPOINT_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let mut c = Cursor::new(bytes);
        let cp = Checkpoint { seq: c.u64()?, time_millis: c.u64()?, head: *c.array::<HASH_LEN>()?, mac: *c.array::<MAC_LEN>()? };
        c.is_empty().then_some(cp)
    }
}

/// The checkpoint file header's bytes.
pub fn encode_header(key_id: [u8; KEY_ID_LEN]) -> [u8; CHECKPOINT_HEADER_LEN] {
    let mut out = [0u8; CHECKPOINT_HEADER_LEN];
    let parts: [&[u8]; 4] = [&CHECKPOINT_MAGIC, &FORMAT_VERSION.to_le_bytes(), &0u16.to_le_bytes(), &key_id];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = out.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
    out
}

/// A checkpoint file, split into checkpoints (MACs not checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFile {
    /// Id of the key the file was created with.
    pub key_id: [u8; KEY_ID_LEN],
    /// The checkpoints in file order.
    pub checkpoints: Vec<Checkpoint>,
    /// Bytes at the end that do not make a whole checkpoint (an unfinished write).
    pub torn_bytes: usize,
}

impl CheckpointFile {
    /// Splits a checkpoint file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<CheckpointFile, FormatError> {
        let key_id = decode_header(bytes, &CHECKPOINT_MAGIC)?;
        let body = bytes.get(CHECKPOINT_HEADER_LEN..).unwrap_or_default();
        let chunks = body.chunks_exact(CHECKPOINT_LEN);
        let torn_bytes = chunks.remainder().len();
        let checkpoints = chunks.filter_map(Checkpoint::decode).collect();
        Ok(CheckpointFile { key_id, checkpoints, torn_bytes })
    }

    /// Reads and splits a checkpoint file.
    pub fn read(path: &Path) -> Result<CheckpointFile, CheckpointError> {
        let bytes = crate::fsread::read(path, u64::MAX, "a checkpoint file").map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&bytes).map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })
    }
}

/// The checkpoint file of a ledger when none is named: the ledger's path plus `.ckpt`.
pub fn default_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_os_string();
    s.push(CHECKPOINT_SUFFIX);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_a_partial_one_is_counted_as_torn() {
        let key = LedgerKey::generate().unwrap();
        let a = Checkpoint::new(&key, 10, 1_000, [1; 32]);
        let b = Checkpoint::new(&key, 20, 2_000, [2; 32]);
        let mut bytes = encode_header(key.id()).to_vec();
        bytes.extend_from_slice(&a.encode());
        bytes.extend_from_slice(&b.encode()[..30]);
        let f = CheckpointFile::parse(&bytes).unwrap();
        assert_eq!(f.checkpoints, vec![a]);
        assert_eq!(f.torn_bytes, 30);
        assert!(a.verify(&key));
        assert!(!Checkpoint { seq: 11, ..a }.verify(&key));
    }

    #[test]
    fn the_default_checkpoint_path_sits_next_to_the_ledger() {
        assert_eq!(default_path(Path::new("/var/pip/audit.ledger")), PathBuf::from("/var/pip/audit.ledger.ckpt"));
    }
}
