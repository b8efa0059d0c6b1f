//! Ledger identity: which ledger a file is, fixed when it is created, and the file header
//! that carries it. A ledger is (spec id, ledger name, a random 16-byte ledger id); its
//! *identity digest* is the `prev` of its first entry and part of every checkpoint's MAC
//! input, and the header itself is MACed. So another ledger written with the same key cannot
//! stand in for this one, wholly or in part: its chain starts from another digest and its
//! checkpoints fail their MACs here, and a changed header byte fails the header's MAC.
//!
//! ```text
//! header   = magic[8] u16:version(=2) u16:reserved(=0) key_id[16] ledger_id[16]
//!            u8:spec_len spec[64] u8:name_len name[64] mac[32]                  (206 bytes)
//!            (unused bytes of spec and name are zero)
//! mac      = HMAC-SHA256(key, SHA-256("pip-ledger header v2\0" || the 174 bytes before it))
//! digest   = SHA-256("pip-ledger identity v2\0" || ledger_id || u8:spec_len spec || u8:name_len name)
//! ```
//!
//! The ledger file (`PIPLEDGR`) and its checkpoint file (`PIPCKPTS`) have the same header.
//! MACs are the ledger's own construction, HMAC over a domain-separated SHA-256: an entry's
//! body starts with its version byte 1, never with `p`, so no header or checkpoint MAC can
//! pass for an entry's.

use std::fmt;

use crate::ledger::format::{Cursor, FORMAT_VERSION, FormatError, HASH_LEN, MAC_LEN};
use crate::ledger::hashing::{ct_eq, sha256};
use crate::ledger::key::{KEY_ID_LEN, LedgerKey, to_hex};

/// Bytes of a ledger id.
pub const LEDGER_ID_LEN: usize = 16;
/// Longest spec id or ledger name in a header, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Bytes of a file header (ledger or checkpoint file).
pub const HEADER_LEN: usize = 8 + 2 + 2 + KEY_ID_LEN + LEDGER_ID_LEN + 1 + MAX_NAME_LEN + 1 + MAX_NAME_LEN + MAC_LEN;
/// Bytes of a header that its MAC covers.
const SIGNED_LEN: usize = HEADER_LEN - MAC_LEN;
const HEADER_DOMAIN: &[u8] = b"pip-ledger header v2\0";
const IDENTITY_DOMAIN: &[u8] = b"pip-ledger identity v2\0";

/// Which ledger a file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The spec id the ledger was created for (empty when none was named).
    pub spec: String,
    /// The ledger's name in the spec (empty when none was named).
    pub ledger: String,
    /// Random bytes drawn when the ledger was created.
    pub id: [u8; LEDGER_ID_LEN],
}

/// Why an identity cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A name is too long for the header.
    #[error("the {what} `{name}` has {len} bytes; a ledger header holds at most {MAX_NAME_LEN}")]
    NameTooLong {
        /// `spec id` or `ledger name`.
        what: &'static str,
        /// The name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// No random bytes.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
}

impl Identity {
    /// A new ledger's identity, with a fresh random id.
    pub fn generate(spec: &str, ledger: &str) -> Result<Identity, IdentityError> {
        let mut id = [0u8; LEDGER_ID_LEN];
        getrandom::fill(&mut id).map_err(|e| IdentityError::Random(e.to_string()))?;
        Identity::with_id(spec, ledger, id)
    }

    /// An identity with a given id (tests and tools that rebuild one).
    pub fn with_id(spec: &str, ledger: &str, id: [u8; LEDGER_ID_LEN]) -> Result<Identity, IdentityError> {
        for (what, name) in [("spec id", spec), ("ledger name", ledger)] {
            if name.len() > MAX_NAME_LEN {
                return Err(IdentityError::NameTooLong { what, name: name.to_string(), len: name.len() });
            }
        }
        Ok(Identity { spec: spec.to_string(), ledger: ledger.to_string(), id })
    }

    /// The id as hex (what `pipc verify-log --expect-id` takes).
    pub fn id_hex(&self) -> String {
        to_hex(&self.id)
    }

    /// The identity digest: the `prev` of the first entry, and part of every checkpoint MAC.
    pub fn digest(&self) -> [u8; HASH_LEN] {
        let mut m = Vec::with_capacity(IDENTITY_DOMAIN.len() + LEDGER_ID_LEN + 2 + self.spec.len() + self.ledger.len());
        m.extend_from_slice(IDENTITY_DOMAIN);
        m.extend_from_slice(&self.id);
        for name in [&self.spec, &self.ledger] {
            m.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            m.extend_from_slice(name.as_bytes());
        }
        sha256(&m)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |s: &str| if s.is_empty() { "(none)".to_string() } else { format!("`{s}`") };
        write!(f, "spec {}, ledger {}, id {}", named(&self.spec), named(&self.ledger), self.id_hex())
    }
}

/// A file header as read: what it says, and whether its bytes are exactly those a writer
/// would have written (the MAC is checked separately, with a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Id of the key the file was created with.
    pub key_id: [u8; KEY_ID_LEN],
    /// The ledger it belongs to.
    pub identity: Identity,
    /// The stored MAC.
    pub mac: [u8; MAC_LEN],
    /// The bytes the MAC covers.
    signed: [u8; SIGNED_LEN],
    /// Reserved bytes zero, names within bounds, UTF-8 and zero-padded.
    canonical: bool,
}

impl Header {
    /// Whether the header's MAC verifies with `key` and its bytes are canonical: only then
    /// is what it says true.
    pub fn verifies(&self, key: &LedgerKey) -> bool {
        self.canonical && ct_eq(&header_mac(key, &self.signed), &self.mac)
    }
}

fn signed_bytes(magic: &[u8; 8], key_id: [u8; KEY_ID_LEN], identity: &Identity) -> [u8; SIGNED_LEN] {
    let mut out = [0u8; SIGNED_LEN];
    let mut at = 0;
    let mut put = |bytes: &[u8], room: usize| {
        if let Some(dst) = out.get_mut(at..at + bytes.len().min(room)) {
            dst.copy_from_slice(bytes.get(..bytes.len().min(room)).unwrap_or_default());
        }
        at += room;
    };
    put(magic, 8);
    put(&FORMAT_VERSION.to_le_bytes(), 2);
    put(&0u16.to_le_bytes(), 2);
    put(&key_id, KEY_ID_LEN);
    put(&identity.id, LEDGER_ID_LEN);
    for name in [&identity.spec, &identity.ledger] {
        // INVARIANT: `Identity` bounds names by MAX_NAME_LEN (< 256).
        put(&[u8::try_from(name.len()).unwrap_or(u8::MAX)], 1);
        put(name.as_bytes(), MAX_NAME_LEN);
    }
    out
}

fn header_mac(key: &LedgerKey, signed: &[u8; SIGNED_LEN]) -> [u8; MAC_LEN] {
    let mut m = Vec::with_capacity(HEADER_DOMAIN.len() + SIGNED_LEN);
    m.extend_from_slice(HEADER_DOMAIN);
    m.extend_from_slice(signed);
    key.mac_entry(&sha256(&m))
}

/// The header's bytes with `magic`, MACed with `key`.
pub fn encode(magic: &[u8; 8], key: &LedgerKey, identity: &Identity) -> [u8; HEADER_LEN] {
    let signed = signed_bytes(magic, key.id(), identity);
    let mac = header_mac(key, &signed);
    let mut out = [0u8; HEADER_LEN];
    let (a, b) = out.split_at_mut(SIGNED_LEN);
    a.copy_from_slice(&signed);
    b.copy_from_slice(&mac);
    out
}

/// Reads a header with `magic` at the start of `bytes`. Refuses other files and other
/// format versions; anything else (reserved bytes, names, padding) is read as it is and
/// judged by [`Header::verifies`].
pub fn decode(bytes: &[u8], magic: &[u8; 8]) -> Result<Header, FormatError> {
    let not_ours = || if magic == b"PIPLEDGR" { FormatError::NotALedger } else { FormatError::NotACheckpointFile };
    let mut c = Cursor::new(bytes);
    let Some(m) = c.array::<8>() else {
        return if magic.starts_with(bytes) { Err(FormatError::TooShort(bytes.len())) } else { Err(not_ours()) };
    };
    if m != magic {
        return Err(not_ours());
    }
    let Some(version) = c.u16() else { return Err(FormatError::TooShort(bytes.len())) };
    if version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    let (Some(reserved), Some(key_id), Some(id)) = (c.u16(), c.array::<KEY_ID_LEN>(), c.array::<LEDGER_ID_LEN>()) else {
        return Err(FormatError::TooShort(bytes.len()));
    };
    let mut canonical = reserved == 0;
    let mut names = [String::new(), String::new()];
    for name in &mut names {
        let (Some(len), Some(field)) = (c.u8(), c.array::<MAX_NAME_LEN>()) else { return Err(FormatError::TooShort(bytes.len())) };
        let len = usize::from(len);
        let (text, padding) = field.split_at(len.min(MAX_NAME_LEN));
        canonical &= len <= MAX_NAME_LEN && padding.iter().all(|&b| b == 0);
        match std::str::from_utf8(text) {
            Ok(s) => *name = s.to_string(),
            Err(_) => {
                canonical = false;
                *name = String::from_utf8_lossy(text).into_owned();
            }
        }
    }
    let Some(mac) = c.array::<MAC_LEN>() else { return Err(FormatError::TooShort(bytes.len())) };
    let mut signed = [0u8; SIGNED_LEN];
    signed.copy_from_slice(bytes.get(..SIGNED_LEN).unwrap_or(&[0; SIGNED_LEN]));
    let [spec, ledger] = names;
    Ok(Header { key_id: *key_id, identity: Identity { spec, ledger, id: *id }, mac: *mac, signed, canonical })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_byte_of_a_header_is_checked() {
        let key = LedgerKey::generate().unwrap();
        let ident = Identity::generate("payments", "audit").unwrap();
        let bytes = encode(b"PIPLEDGR", &key, &ident);
        let h = decode(&bytes, b"PIPLEDGR").unwrap();
        assert!(h.verifies(&key));
        assert_eq!(h.identity, ident);
        assert!(!h.verifies(&LedgerKey::generate().unwrap()), "another key");
        for i in 10..HEADER_LEN {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes;
                b[i] ^= bit;
                match decode(&b, b"PIPLEDGR") {
                    Ok(h) => assert!(!h.verifies(&key), "byte {i} bit {bit:#x} changed unnoticed"),
                    Err(e) => panic!("byte {i}: {e}"),
                }
            }
        }
        for i in 0..10 {
            let mut b = bytes;
            b[i] ^= 1;
            assert!(decode(&b, b"PIPLEDGR").is_err(), "magic or version byte {i}");
        }
    }

    #[test]
    fn identities_differ_by_each_part_and_long_names_are_refused() {
        let a = Identity::with_id("s", "l", [1; 16]).unwrap();
        let digests = [
            a.digest(),
            Identity { spec: "t".into(), ..a.clone() }.digest(),
            Identity { ledger: "m".into(), ..a.clone() }.digest(),
            Identity { id: [2; 16], ..a.clone() }.digest(),
        ];
        for (i, x) in digests.iter().enumerate() {
            for y in &digests[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_ne!(Identity::with_id("sl", "", [1; 16]).unwrap().digest(), Identity::with_id("s", "l", [1; 16]).unwrap().digest());
        assert!(Identity::with_id(&"x".repeat(65), "l", [0; 16]).is_err());
    }
}
