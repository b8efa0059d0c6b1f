//! The file header of the ledger (`PIPLEDGR`) and of its checkpoint file (`PIPCKPTS`): which
//! key made the file and which ledger ([`Identity`]) it belongs to, MACed so that a changed
//! byte is noticed.
//!
//! ```text
//! header   = magic[8] u16:version(=2) u16:reserved(=0) key_id[16] ledger_id[16]
//!            u8:spec_len spec[64] u8:name_len name[64] mac[32]                  (206 bytes)
//!            (unused bytes of spec and name are zero)
//! mac      = HMAC-SHA256(key, SHA-256("pip-ledger header v2\0" || the 174 bytes before it))
//! ```
//!
//! MACs are the ledger's own construction, HMAC over a domain-separated SHA-256: an entry's
//! body starts with its version byte 1, never with `p`, so no header or checkpoint MAC can
//! pass for an entry's.

use super::{Cursor, FORMAT_VERSION, FormatError, LEDGER_MAGIC, MAC_LEN};
use crate::ledger::hashing::{ct_eq, sha256};
use crate::ledger::identity::{Identity, LEDGER_ID_LEN, MAX_NAME_LEN};
use crate::ledger::key::{KEY_ID_LEN, LedgerKey};

/// Bytes of a file header (ledger or checkpoint file).
pub const HEADER_LEN: usize = 8 + 2 + 2 + KEY_ID_LEN + LEDGER_ID_LEN + 1 + MAX_NAME_LEN + 1 + MAX_NAME_LEN + MAC_LEN;
/// Bytes of a header that its MAC covers.
const SIGNED_LEN: usize = HEADER_LEN - MAC_LEN;
const HEADER_DOMAIN: &[u8] = b"pip-ledger header v2\0";

/// A file header as read: what it says, and whether its bytes are exactly those a writer
/// would have written (the MAC is checked separately, with a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Id of the key the file was created with.
    pub key_id: [u8; KEY_ID_LEN],
    /// The ledger the file belongs to; true only once [`Header::verifies`] says so.
    pub identity: Identity,
    /// The header's MAC as stored, the last 32 bytes of the header.
    pub mac: [u8; MAC_LEN],
    /// The bytes before the MAC as read, which [`Header::verifies`] recomputes the MAC over.
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

/// The header of a new ledger file made with `key` for `identity`.
pub fn ledger_header(key: &LedgerKey, identity: &Identity) -> [u8; HEADER_LEN] {
    encode(&LEDGER_MAGIC, key, identity)
}

impl Header {
    /// Reads a ledger file's header at the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Header, FormatError> {
        decode(bytes, &LEDGER_MAGIC)
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
}
