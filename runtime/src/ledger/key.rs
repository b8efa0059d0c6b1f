//! The ledger's MAC key: loading (hex, from a file or an environment variable), generating,
//! and every MAC the ledger computes or checks.
//!
//! A key is at least [`MIN_KEY_BYTES`] random bytes, written as hex (`0-9a-f`, either
//! case) on one line; surrounding whitespace is ignored. The key bytes are never printed:
//! [`LedgerKey`]'s `Debug` shows only the key id, a MAC of a fixed string that is also
//! written into every ledger and checkpoint file header so that a wrong key is recognised
//! at once. MACs are compared in constant time (the comparison `hmac`'s `verify_slice` uses).
//! Entry MACs, the hot path of appending and verifying, are computed from the key's
//! precomputed HMAC states (the ledger's `hashing` module); key ids and checkpoints
//! use the `hmac` crate. Both are standard HMAC-SHA256.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::hex::HexError;
pub use crate::hex::to_hex;
use crate::ledger::hashing::{HmacKey, ct_eq, sha256_and_mac32};

/// Fewest key bytes accepted (the output size of SHA-256).
pub const MIN_KEY_BYTES: usize = 32;
/// Most key bytes accepted; [`MAX_KEY_FILE_BYTES`] leaves room for their hex.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most bytes of a key file: the hex of the longest key, with room for whitespace. A longer
/// file is refused before it is read.
pub const MAX_KEY_FILE_BYTES: u64 = 4096;
/// Bytes of a key written by [`generate_key_file`].
pub const GENERATED_KEY_BYTES: usize = 32;
/// Length of a key id: the first bytes of HMAC(key, `pip-ledger key id v1`), written into every file header.
pub const KEY_ID_LEN: usize = 16;

/// MAC input of the key id: 20 bytes, unlike every other MAC input (an entry's or a
/// checkpoint's is a 32-byte SHA-256 digest — a checkpoint's over a domain-tagged message,
/// see `checkpoint.rs`), so a key id can never stand in for another MAC.
const KEY_ID_TAG: &[u8; 20] = b"pip-ledger key id v1";
/// Tag of the key that hashes evidence values ([`LedgerKey::value_key`]); its input is at
/// least 45 bytes and, whatever its length, starts with this tag.
const VALUE_KEY_TAG: &[u8; 29] = b"pip-ledger evidence values v1";

/// Why a key could not be loaded or written. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The environment variable is not set.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    /// The environment variable is not Unicode.
    #[error("environment variable `{0}` is not valid text")]
    EnvNotUnicode(String),
    /// The key file could not be read.
    #[error("cannot read key file `{path}`: {source}")]
    Read {
        /// The key file's path as given.
        path: PathBuf,
        /// The I/O error, or `InvalidData` when the file is not UTF-8 text.
        source: std::io::Error,
    },
    /// The key file could not be written.
    #[error("cannot write key file `{path}`: {source}")]
    Write {
        /// The key file's path as given.
        path: PathBuf,
        /// The I/O error from creating, writing or syncing the file.
        source: std::io::Error,
    },
    /// [`generate_key_file`] found a file at the path and left it alone.
    #[error("key file `{0}` exists already; pipc never overwrites a key")]
    Exists(PathBuf),
    /// A character of the key text (surrounding whitespace trimmed) is not a hex digit.
    #[error("the key from {origin} is not hex: character {position} is not a hex digit")]
    NotHex {
        /// Where the key came from, as messages name it: `` `$VAR` ``, a quoted path, or `the caller`.
        origin: String,
        /// 1-based position of the first bad character.
        position: usize,
    },
    /// The key text has an odd number of hex digits.
    #[error("the key from {origin} has an odd number of hex digits")]
    OddLength {
        /// Where the key came from, as messages name it: `` `$VAR` ``, a quoted path, or `the caller`.
        origin: String,
    },
    /// The key has fewer than [`MIN_KEY_BYTES`] bytes.
    #[error("the key from {origin} has {bytes} bytes; at least {MIN_KEY_BYTES} are required")]
    TooShort {
        /// Where the key came from, as messages name it: `` `$VAR` ``, a quoted path, or `the caller`.
        origin: String,
        /// The key's length in bytes, once decoded from hex.
        bytes: usize,
    },
    /// The key has more than [`MAX_KEY_BYTES`] bytes.
    #[error("the key from {origin} has {bytes} bytes; at most {MAX_KEY_BYTES} are accepted")]
    TooLong {
        /// Where the key came from, as messages name it: `` `$VAR` ``, a quoted path, or `the caller`.
        origin: String,
        /// The key's length in bytes, once decoded from hex.
        bytes: usize,
    },
    /// The operating system's random source failed.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
}

/// Where a ledger's key is read from: the spec's `key = env("NAME")` or `key = file("path")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding the hex key.
    Env(String),
    /// A file holding the hex key, read as [`LedgerKey::from_file_checked`] reads it.
    File(PathBuf),
}

impl KeySource {
    /// Loads the key, dropping the warning about a key file open to others. Use
    /// [`load_checked`](Self::load_checked), the default path, and report its warning: this one
    /// is for callers that have already judged the file (tests, a key just written 0600).
    pub fn load(&self) -> Result<LedgerKey, KeyError> {
        self.load_checked().map(|(key, _)| key)
    }

    /// Loads the key, with a warning when its file is open to others: the default way to load
    /// a key; a tool prints the warning, a service logs it (or refuses to start).
    pub fn load_checked(&self) -> Result<(LedgerKey, Option<KeyWarning>), KeyError> {
        match self {
            KeySource::Env(var) => LedgerKey::from_env(var).map(|key| (key, None)),
            KeySource::File(path) => LedgerKey::from_file_checked(path),
        }
    }
}

/// Something wrong with where a key came from that does not stop it from loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWarning {
    /// The key file's permissions let its group or others at it.
    #[error("key file `{}` is accessible to {who} (mode {mode:04o}); a ledger key must be private to its owner", path.display())]
    Exposed {
        /// The key file's path as given.
        path: PathBuf,
        /// The file's permission bits (`mode & 0o7777`), shown in octal.
        mode: u32,
        /// `its group`, `others`, or `its group and others`.
        who: &'static str,
    },
}

impl KeyWarning {
    /// The advice for the warning's `help`: why it matters and the `chmod` that makes the file private.
    pub fn help(&self) -> String {
        match self {
            KeyWarning::Exposed { path, .. } => {
                format!("whoever can read the key can write entries and checkpoints that verify; run `chmod 600 {}`", path.display())
            }
        }
    }
}

/// The warning a key file's permission bits call for (none on systems without them).
pub(crate) fn exposure(path: &Path, meta: &std::fs::Metadata) -> Option<KeyWarning> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        let who = match (mode & 0o070 != 0, mode & 0o007 != 0) {
            (false, false) => return None,
            (true, false) => "its group",
            (false, true) => "others",
            (true, true) => "its group and others",
        };
        Some(KeyWarning::Exposed { path: path.to_path_buf(), mode, who })
    }
    #[cfg(not(unix))]
    {
        let _ = (path, meta);
        None
    }
}

/// A loaded MAC key. Cloning shares nothing mutable; the key bytes themselves are not kept,
/// only HMAC's keyed states.
#[derive(Clone)]
pub struct LedgerKey {
    mac: Hmac<Sha256>,
    /// The same key's inner and outer states, for entry MACs.
    entry: HmacKey,
    id: [u8; KEY_ID_LEN],
}

impl fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerKey(id {}, key redacted)", self.id_hex())
    }
}

impl LedgerKey {
    /// A key from raw bytes (32 to 1024 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<LedgerKey, KeyError> {
        Self::from_bytes_named(bytes, "the caller")
    }

    fn from_bytes_named(bytes: &[u8], origin: &str) -> Result<LedgerKey, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { origin: origin.to_string(), bytes: bytes.len() });
        }
        if bytes.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong { origin: origin.to_string(), bytes: bytes.len() });
        }
        // HMAC accepts keys of any length; the length was checked above.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bytes)
            .map_err(|_| KeyError::TooShort { origin: origin.to_string(), bytes: bytes.len() })?;
        let mut id_mac = mac.clone();
        id_mac.update(KEY_ID_TAG);
        let full: [u8; 32] = id_mac.finalize().into_bytes().into();
        let mut id = [0u8; KEY_ID_LEN];
        for (d, s) in id.iter_mut().zip(full.iter()) {
            *d = *s;
        }
        Ok(LedgerKey { mac, entry: HmacKey::new(bytes), id })
    }

    /// A key from hex text; `origin` names where it came from in error messages.
    pub fn from_hex(text: &str, origin: &str) -> Result<LedgerKey, KeyError> {
        let bytes = decode_hex(text.trim(), origin)?;
        Self::from_bytes_named(&bytes, origin)
    }

    /// Reads a hex key from a file (see [`from_file_checked`](Self::from_file_checked)),
    /// dropping the warning about its permissions. Use `from_file_checked`, the default path,
    /// and report its warning: a key file readable by others goes unnoticed here.
    pub fn from_file(path: &Path) -> Result<LedgerKey, KeyError> {
        Self::from_file_checked(path).map(|(key, _)| key)
    }

    /// Reads a hex key from a file that must be a regular file (links resolved) of at most
    /// [`MAX_KEY_FILE_BYTES`], and says whether the file is open to its group or others.
    /// Such a key still loads: a warning, as ssh gives, because a key handed over by a secret
    /// store often arrives with mode 0644 inside a private folder, which pip cannot judge.
    pub fn from_file_checked(path: &Path) -> Result<(LedgerKey, Option<KeyWarning>), KeyError> {
        let read_err = |source| KeyError::Read { path: path.to_path_buf(), source };
        let (bytes, meta) = crate::fsread::read_with_metadata(path, MAX_KEY_FILE_BYTES, "a key file").map_err(read_err)?;
        let text =
            String::from_utf8(bytes).map_err(|_| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text")))?;
        let key = Self::from_hex(&text, &format!("`{}`", path.display()))?;
        Ok((key, exposure(path, &meta)))
    }

    /// Reads a hex key from an environment variable.
    pub fn from_env(var: &str) -> Result<LedgerKey, KeyError> {
        match std::env::var(var) {
            Ok(text) => Self::from_hex(&text, &format!("`${var}`")),
            Err(std::env::VarError::NotPresent) => Err(KeyError::MissingEnv(var.to_string())),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::EnvNotUnicode(var.to_string())),
        }
    }

    /// A new random key (for tests and tools that keep the key in memory).
    pub fn generate() -> Result<LedgerKey, KeyError> {
        let bytes = random_key_bytes()?;
        Self::from_bytes(&bytes)
    }

    /// The key id: the first 16 bytes of HMAC(key, "pip-ledger key id v1"). Public: it is
    /// written into file headers and identifies the key without revealing it.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// The key id as 32 lowercase hex digits, as file headers and `pipc` messages show it.
    pub fn id_hex(&self) -> String {
        to_hex(&self.id)
    }

    /// The MAC of an entry: HMAC-SHA256(key, SHA-256(canonical entry bytes)).
    pub fn mac_entry(&self, hash: &[u8; 32]) -> [u8; 32] {
        self.entry.mac32(hash)
    }

    /// Whether `mac` is the MAC of the entry with this hash (constant-time comparison).
    pub fn verify_entry(&self, hash: &[u8; 32], mac: &[u8; 32]) -> bool {
        ct_eq(&self.entry.mac32(hash), mac)
    }

    /// [`verify_entry`](Self::verify_entry) for two entries at once (faster than one after
    /// the other: their compressions are interleaved).
    pub fn verify_entry_pair(&self, a: (&[u8; 32], &[u8; 32]), b: (&[u8; 32], &[u8; 32])) -> (bool, bool) {
        let (ma, mb) = self.entry.mac32_pair(a.0, b.0);
        (ct_eq(&ma, a.1), ct_eq(&mb, b.1))
    }

    /// The hash of an entry's body and, computed alongside it (faster than one after the
    /// other), the MAC of another entry with hash `mac_of`.
    pub(crate) fn hash_body_and_mac_entry(&self, body: &[u8], mac_of: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
        sha256_and_mac32(body, &self.entry, mac_of)
    }

    /// The key that hashes the values a violation's check read (`evidence_values = hash`) in
    /// ledger `ledger` of spec `spec`: HMAC(key, "pip-ledger evidence values v1" framed with
    /// the two names). It is bound to this ledger key (without it a hash cannot be computed,
    /// so a guessable value cannot be tested) and to the ledger (equal values correlate within
    /// it, not across ledgers sharing a key), and its tag keeps it apart from every other MAC.
    pub fn value_key(&self, spec: &str, ledger: &str) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(VALUE_KEY_TAG);
        for part in [spec, ledger] {
            m.update(&(part.len() as u64).to_le_bytes());
            m.update(part.as_bytes());
        }
        m.finalize().into_bytes().into()
    }
}

fn random_key_bytes() -> Result<[u8; GENERATED_KEY_BYTES], KeyError> {
    let mut bytes = [0u8; GENERATED_KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Writes a new random key, as hex and a newline, to a file that must not exist yet. On Unix
/// the file is created with mode 0600. Returns the new key's id (never the key).
pub fn generate_key_file(path: &Path) -> Result<LedgerKey, KeyError> {
    let bytes = random_key_bytes()?;
    let key = LedgerKey::from_bytes(&bytes)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            KeyError::Write { path: path.to_path_buf(), source }
        }
    })?;
    let mut text = to_hex(&bytes);
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| KeyError::Write { path: path.to_path_buf(), source })?;
    Ok(key)
}

fn decode_hex(text: &str, origin: &str) -> Result<Vec<u8>, KeyError> {
    crate::hex::from_hex(text).map_err(|e| match e {
        HexError::NotHex { position } => KeyError::NotHex { origin: origin.to_string(), position },
        HexError::OddLength => KeyError::OddLength { origin: origin.to_string() },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    const HEX64: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_keys_of_32_bytes_or_more_load_and_whitespace_is_ignored() {
        let a = LedgerKey::from_hex(HEX64, "test").unwrap();
        let b = LedgerKey::from_hex(&format!("  {}\n", HEX64.to_uppercase()), "test").unwrap();
        assert_eq!(a.id(), b.id());
    }

    #[test]
    fn short_odd_or_non_hex_keys_are_refused_without_echoing_them() {
        let short = LedgerKey::from_hex(&HEX64[..62], "test").unwrap_err();
        assert!(matches!(short, KeyError::TooShort { bytes: 31, .. }), "{short}");
        let odd = LedgerKey::from_hex(&HEX64[..63], "test").unwrap_err();
        assert!(matches!(odd, KeyError::OddLength { .. }));
        let bad = LedgerKey::from_hex(&format!("{}zz", &HEX64[..62]), "test").unwrap_err();
        assert!(matches!(bad, KeyError::NotHex { position: 63, .. }), "{bad}");
        assert!(!bad.to_string().contains(&HEX64[..20]));
        let long = LedgerKey::from_bytes(&[7u8; MAX_KEY_BYTES + 1]).unwrap_err();
        assert!(matches!(long, KeyError::TooLong { .. }));
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        let key = LedgerKey::from_hex(HEX64, "test").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&HEX64[..16]), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn macs_verify_only_with_the_same_key_and_input() {
        let a = LedgerKey::generate().unwrap();
        let b = LedgerKey::generate().unwrap();
        let h = [9u8; 32];
        let mac = a.mac_entry(&h);
        assert!(a.verify_entry(&h, &mac));
        assert!(!b.verify_entry(&h, &mac));
        assert!(!a.verify_entry(&[8u8; 32], &mac));
        let other = [7u8; 32];
        let mac_other = a.mac_entry(&other);
        assert_eq!(a.verify_entry_pair((&h, &mac), (&other, &mac_other)), (true, true));
        assert_eq!(a.verify_entry_pair((&h, &mac_other), (&other, &mac_other)), (false, true));
        assert_eq!(a.verify_entry_pair((&h, &mac), (&other, &mac)), (true, false));
        assert_ne!(a.id(), b.id());
    }

    /// Known answers from Python's `hmac` module: entry MACs are HMAC-SHA256(key, hash), for
    /// keys shorter and longer than a block, so ledgers written before stay valid.
    #[test]
    fn entry_macs_are_hmac_sha256_of_the_hash() {
        let short = LedgerKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(to_hex(&short.mac_entry(&[9u8; 32])), "650c9bcf997fbfe17284d4977c89545d13be53ef46f67b7385061cbe993cbe84");
        let long = LedgerKey::from_bytes(&(0..100).collect::<Vec<u8>>()).unwrap();
        assert_eq!(to_hex(&long.mac_entry(&[1u8; 32])), "397f4efc0f347182d73fc9c03850a6ec1cd2b1e0ee1bc9548d57e41adb209d75");
        let hash = crate::ledger::hashing::sha256(b"pip");
        assert_eq!(to_hex(&hash), "fed5038bf2f427ab2ec84f85881f103c0e946e8d6252b8731f99ab0cb57729d9");
        let (h, mac) = short.hash_body_and_mac_entry(b"pip", &hash);
        assert_eq!(
            (to_hex(&h), to_hex(&mac)),
            (to_hex(&hash), "73efabe41313e18f91c8f3811163552f62d7db6633b0c3909005f50f28aab94e".to_string())
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_files_open_to_group_or_others_load_with_a_warning_and_private_ones_without() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("{HEX64}\n")).unwrap();
        for (mode, who) in
            [(0o644, Some("its group and others")), (0o640, Some("its group")), (0o604, Some("others")), (0o602, Some("others"))]
        {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let (key, warning) = LedgerKey::from_file_checked(&path).unwrap();
            assert_eq!(key.id(), LedgerKey::from_hex(HEX64, "test").unwrap().id());
            let w = warning.unwrap();
            assert_eq!(w, KeyWarning::Exposed { path: path.clone(), mode, who: who.unwrap() });
            assert_eq!(
                w.to_string(),
                format!(
                    "key file `{}` is accessible to {} (mode {mode:04o}); a ledger key must be private to its owner",
                    path.display(),
                    who.unwrap()
                )
            );
            assert!(w.help().contains("chmod 600"), "{}", w.help());
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(LedgerKey::from_file_checked(&path).unwrap().1, None);
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_files_that_are_not_regular_or_too_long_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = LedgerKey::from_file(&zero).unwrap_err();
        assert!(e.to_string().contains("a character device, not a regular file"), "{e}");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = LedgerKey::from_file(&fifo).unwrap_err();
        assert!(e.to_string().contains("a named pipe (FIFO), not a regular file"), "{e}");
        let long = dir.path().join("long");
        std::fs::write(&long, format!("{HEX64}{}", " ".repeat(4096))).unwrap();
        let e = LedgerKey::from_file(&long).unwrap_err();
        assert!(e.to_string().contains("more than a key file can have (4096)"), "{e}");
    }

    #[test]
    fn generated_key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = generate_key_file(&path).unwrap();
        let (loaded, warning) = LedgerKey::from_file_checked(&path).unwrap();
        assert_eq!((loaded.id(), warning), (key.id(), None));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(generate_key_file(&path), Err(KeyError::Exists(_))));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
