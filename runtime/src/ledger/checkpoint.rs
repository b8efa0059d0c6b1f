//! Checkpoints: MACed statements "at `time`, the entry with `seq` had hash `head`", kept in a
//! side file next to the ledger. A ledger can be cut back to an earlier head without
//! breaking its chain; a checkpoint (or the exported head metric) is what shows it.
//!
//! ```text
//! file       = header checkpoint*
//! header     = "PIPCKPTS" ... the ledger's header with another magic (206 bytes, MACed)
//! checkpoint = u64:seq u64:unix_millis head[32] mac[32]                      (80 bytes)
//! mac        = HMAC-SHA256(key, SHA-256("pip-ledger checkpoint v2\0" || identity digest
//!                                       || seq || unix_millis || head))
//! ```
//!
//! The identity digest ([`crate::ledger::identity`]) binds each checkpoint to its ledger: a
//! checkpoint of another ledger written with the same key fails its MAC here.

use std::path::{Path, PathBuf};

use crate::ledger::format::header::{self, HEADER_LEN, Header};
use crate::ledger::format::{Cursor, FormatError, HASH_LEN, MAC_LEN};
use crate::ledger::hashing::{ct_eq, sha256};
use crate::ledger::identity::Identity;
use crate::ledger::key::LedgerKey;

/// First bytes of every checkpoint file.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"PIPCKPTS";
/// Bytes of the checkpoint file header: the ledger's header with the magic [`CHECKPOINT_MAGIC`].
pub const CHECKPOINT_HEADER_LEN: usize = HEADER_LEN;
/// Bytes of one checkpoint record: seq, time, head hash and MAC.
pub const CHECKPOINT_LEN: usize = 8 + 8 + HASH_LEN + MAC_LEN;
/// Appended to the ledger's path to name its checkpoint file when none is given.
pub const CHECKPOINT_SUFFIX: &str = ".ckpt";
/// Prefix of a checkpoint's MAC input.
const CHECKPOINT_DOMAIN: &[u8] = b"pip-ledger checkpoint v2\0";

/// Why a checkpoint file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be opened or read, or is not a regular file.
    #[error("cannot read checkpoint file `{path}`: {source}")]
    Io {
        /// The checkpoint file's path as given.
        path: PathBuf,
        /// The I/O error, or a [`Refused`](crate::fsread::Refused) inside one.
        source: std::io::Error,
    },
    /// The file is not a checkpoint file.
    #[error("`{path}` is not a pip checkpoint file: {source}")]
    Format {
        /// The checkpoint file's path as given.
        path: PathBuf,
        /// Why its header does not decode (wrong magic, too short, unknown version).
        source: FormatError,
    },
}

/// One record of the checkpoint file: a MACed statement of the ledger's head at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The sequence number of the entry it covers (every entry up to it).
    pub seq: u64,
    /// When it was written, Unix milliseconds.
    pub time_millis: u64,
    /// The hash of entry `seq`.
    pub head: [u8; HASH_LEN],
    /// HMAC-SHA256 over the ledger's identity digest, `seq`, `time_millis` and `head` (see the module docs).
    pub mac: [u8; MAC_LEN],
}

impl Checkpoint {
    /// A checkpoint of the ledger with identity digest `ledger`, MACed with `key`.
    pub fn new(key: &LedgerKey, ledger: &[u8; HASH_LEN], seq: u64, time_millis: u64, head: [u8; HASH_LEN]) -> Checkpoint {
        Checkpoint { seq, time_millis, head, mac: mac(key, ledger, seq, time_millis, &head) }
    }

    /// Whether its MAC is right for `key` and the ledger with identity digest `ledger`.
    pub fn verify(&self, key: &LedgerKey, ledger: &[u8; HASH_LEN]) -> bool {
        ct_eq(&mac(key, ledger, self.seq, self.time_millis, &self.head), &self.mac)
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

fn mac(key: &LedgerKey, ledger: &[u8; HASH_LEN], seq: u64, time_millis: u64, head: &[u8; HASH_LEN]) -> [u8; MAC_LEN] {
    let mut m = [0u8; CHECKPOINT_DOMAIN.len() + HASH_LEN + 16 + HASH_LEN];
    let parts: [&[u8]; 5] = [CHECKPOINT_DOMAIN, ledger, &seq.to_le_bytes(), &time_millis.to_le_bytes(), head];
    let mut at = 0;
    for p in parts {
        if let Some(dst) = m.get_mut(at..at + p.len()) {
            dst.copy_from_slice(p);
        }
        at += p.len();
    }
    key.mac_entry(&sha256(&m))
}

/// The checkpoint file header's bytes.
pub fn encode_header(key: &LedgerKey, identity: &Identity) -> [u8; CHECKPOINT_HEADER_LEN] {
    header::encode(&CHECKPOINT_MAGIC, key, identity)
}

/// Reads a checkpoint file's header.
pub fn decode_header(bytes: &[u8]) -> Result<Header, FormatError> {
    header::decode(bytes, &CHECKPOINT_MAGIC)
}

/// A checkpoint file, split into checkpoints (MACs not checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFile {
    /// The header (key id and ledger identity; its MAC not checked).
    pub header: Header,
    /// The whole checkpoints in file order, MACs not checked; `torn_bytes` follow the last.
    pub checkpoints: Vec<Checkpoint>,
    /// Bytes at the end that do not make a whole checkpoint (an unfinished write).
    pub torn_bytes: usize,
}

impl CheckpointFile {
    /// Splits a checkpoint file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<CheckpointFile, FormatError> {
        let header = decode_header(bytes)?;
        let body = bytes.get(CHECKPOINT_HEADER_LEN..).unwrap_or_default();
        let chunks = body.chunks_exact(CHECKPOINT_LEN);
        let torn_bytes = chunks.remainder().len();
        let checkpoints = chunks.filter_map(Checkpoint::decode).collect();
        Ok(CheckpointFile { header, checkpoints, torn_bytes })
    }

    /// Reads and splits a checkpoint file.
    pub fn read(path: &Path) -> Result<CheckpointFile, CheckpointError> {
        let bytes = crate::fsread::read(path, u64::MAX, "a checkpoint file")
            .map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&bytes).map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })
    }

    /// Reads a checkpoint file as a stream, in memory that does not grow with the file: its
    /// header and, in file order, the checkpoints `keep` accepts (MACs not checked; a torn
    /// end is ignored). The caller bounds what it keeps.
    pub fn read_kept(path: &Path, mut keep: impl FnMut(&Checkpoint) -> bool) -> Result<(Header, Vec<Checkpoint>), CheckpointError> {
        use std::io::Read;
        let io = |source| CheckpointError::Io { path: path.to_path_buf(), source };
        let mut r = std::io::BufReader::with_capacity(1 << 16, crate::fsread::open(path).map_err(io)?);
        let mut head = Vec::with_capacity(CHECKPOINT_HEADER_LEN);
        (&mut r).take(CHECKPOINT_HEADER_LEN as u64).read_to_end(&mut head).map_err(io)?;
        let header = decode_header(&head).map_err(|source| CheckpointError::Format { path: path.to_path_buf(), source })?;
        let mut kept = Vec::new();
        let mut buf = [0u8; CHECKPOINT_LEN];
        loop {
            match r.read_exact(&mut buf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok((header, kept)),
                Err(e) => return Err(io(e)),
            }
            if let Some(c) = Checkpoint::decode(&buf).filter(|c| keep(c)) {
                kept.push(c);
            }
        }
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
        let ident = Identity::generate("p", "l").unwrap();
        let d = ident.digest();
        let a = Checkpoint::new(&key, &d, 10, 1_000, [1; 32]);
        let b = Checkpoint::new(&key, &d, 20, 2_000, [2; 32]);
        let mut bytes = encode_header(&key, &ident).to_vec();
        bytes.extend_from_slice(&a.encode());
        bytes.extend_from_slice(&b.encode()[..30]);
        let f = CheckpointFile::parse(&bytes).unwrap();
        assert_eq!(f.checkpoints, vec![a]);
        assert_eq!(f.torn_bytes, 30);
        assert!(a.verify(&key, &d));
        assert!(!Checkpoint { seq: 11, ..a }.verify(&key, &d));
        let other = Identity::generate("p", "l").unwrap();
        assert!(!a.verify(&key, &other.digest()), "a checkpoint of another ledger with the same key");
    }

    #[test]
    fn the_default_checkpoint_path_sits_next_to_the_ledger() {
        assert_eq!(default_path(Path::new("/var/pip/audit.ledger")), PathBuf::from("/var/pip/audit.ledger.ckpt"));
    }
}
