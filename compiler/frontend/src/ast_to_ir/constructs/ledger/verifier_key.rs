//! Witness verifier keys, `<name>+<hex key id>+<base64(type || public key)>`
//! (c2sp.org/signed-note "verifier keys"), as a witness publishes its `cosignature/v1` key
//! (c2sp.org/tlog-cosignature): the shape, the type and the key id are checked here, so a
//! mistyped key fails the build instead of every cosignature at run time.
//!
//! Whether the 32 bytes are a valid Ed25519 point is not checked: that needs curve arithmetic
//! the front end does not carry (the runtime refuses such a key when it loads it).

use sha2::{Digest, Sha256};

/// The signature type of an Ed25519 `cosignature/v1` key, the one a witness cosigns with.
pub(super) const COSIGNATURE_V1: u8 = 0x04;
/// The signature type of an Ed25519 note-signing key (a log's key, not a witness's).
const NOTE_ED25519: u8 = 0x01;
/// Bytes of an Ed25519 public key.
const PUBLIC_KEY_LEN: usize = 32;

/// Why a verifier key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyError {
    /// Not three `+`-separated parts.
    Shape,
    /// The name is empty or holds whitespace or a control character.
    Name,
    /// The key id is not 8 lowercase hex digits.
    KeyIdText,
    /// The key is not strict standard base64 (RFC 4648 section 4, with padding).
    Base64,
    /// The key decodes to this many bytes instead of 33.
    Length(usize),
    /// The type byte is `0x01`: a note-signing key, which never cosigns.
    NoteKey,
    /// Some other type byte.
    Type(u8),
    /// The key id written differs from the one name, type and key give.
    KeyId {
        /// The key id as written.
        stated: u32,
        /// SHA-256(name || "\n" || type || public key)[:4].
        computed: u32,
    },
}

impl KeyError {
    /// The diagnostic's message and help line.
    pub(super) fn explain(&self) -> (String, String) {
        let format =
            "a witness key is written `<name>+<key id>+<key>`, e.g. \"witness.example.com+0a1b2c3d+BAAA...\", as the witness publishes it";
        match self {
            KeyError::Shape => ("the witness key is not `<name>+<key id>+<key>`".into(), format.into()),
            KeyError::Name => ("the witness key's name is empty or holds a space or control character".into(), format.into()),
            KeyError::KeyIdText => ("the key id of the witness key is not 8 lowercase hex digits".into(), format.into()),
            KeyError::Base64 => (
                "the key material of the witness key is not standard base64".into(),
                "the part after the second `+` is base64 with `=` padding (RFC 4648), as the witness publishes it".into(),
            ),
            KeyError::Length(n) => (
                format!("the key material of the witness key is {n} bytes, not 33"),
                "an Ed25519 verifier key is its type byte then the 32-byte public key".into(),
            ),
            KeyError::NoteKey => (
                "the witness key is a note-signing key (type 0x01), not a cosignature key".into(),
                "witnesses cosign with an Ed25519 `cosignature/v1` key (type 0x04, base64 starting `B`); ask the witness for that key"
                    .into(),
            ),
            KeyError::Type(t) => (
                format!("the witness key has type 0x{t:02x}, not Ed25519 `cosignature/v1` (0x04)"),
                "pip checks Ed25519 cosignatures (c2sp.org/tlog-cosignature, type 0x04)".into(),
            ),
            KeyError::KeyId { stated, computed } => (
                format!("the key id {stated:08x} does not match the witness key's name and key material, which give {computed:08x}"),
                "the key id is the first 4 bytes of SHA-256(name, newline, type, public key); the name or the key was mistyped".into(),
            ),
        }
    }
}

/// Checks a witness verifier key and returns its name.
pub(super) fn parse(text: &str) -> Result<&str, KeyError> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Shape);
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(KeyError::Name);
    }
    let stated = key_id_text(hex).ok_or(KeyError::KeyIdText)?;
    let bytes = b64_decode(b64).ok_or(KeyError::Base64)?;
    let (&ty, public) = bytes.split_first().ok_or(KeyError::Length(0))?;
    if public.len() != PUBLIC_KEY_LEN {
        return Err(KeyError::Length(bytes.len()));
    }
    match ty {
        COSIGNATURE_V1 => {}
        NOTE_ED25519 => return Err(KeyError::NoteKey),
        other => return Err(KeyError::Type(other)),
    }
    let computed = key_id(name, ty, public);
    if computed != stated {
        return Err(KeyError::KeyId { stated, computed });
    }
    Ok(name)
}

/// SHA-256(name || "\n" || type || public key)[:4], big-endian.
pub(super) fn key_id(name: &str, ty: u8, public: &[u8]) -> u32 {
    let digest = Sha256::new().chain_update(name.as_bytes()).chain_update([b'\n', ty]).chain_update(public).finalize();
    let mut id = [0u8; 4];
    for (d, s) in id.iter_mut().zip(digest.iter()) {
        *d = *s;
    }
    u32::from_be_bytes(id)
}

/// Exactly 8 lowercase hex digits (the fixed encoding Go's `sumdb/note` writes).
fn key_id_text(hex: &str) -> Option<u32> {
    let canonical = hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if canonical { u32::from_str_radix(hex, 16).ok() } else { None }
}

/// Strict standard base64 with padding: every byte string has exactly one accepted text
/// (non-zero bits after the last byte are refused), as the runtime decodes it.
pub(super) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let groups = bytes.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (i, group) in bytes.chunks_exact(4).enumerate() {
        let pad = group.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != groups) {
            return None;
        }
        let mut acc: u32 = 0;
        for (j, &b) in group.iter().enumerate() {
            let sextet = if j >= 4 - pad { 0 } else { sextet(b)? };
            acc = (acc << 6) | u32::from(sextet);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        match pad {
            0 => out.extend([a, b, c]),
            1 if c == 0 => out.extend([a, b]),
            2 if b == 0 && c == 0 => out.push(a),
            _ => return None,
        }
    }
    Some(out)
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn b64_encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.len();
            let acc = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
            for k in 0..4 {
                if k <= n {
                    out.push(ALPHABET[((acc >> (18 - 6 * k)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn key(name: &str, ty: u8, public: [u8; 32]) -> String {
        let mut material = vec![ty];
        material.extend(public);
        format!("{name}+{:08x}+{}", key_id(name, ty, &public), b64_encode(&material))
    }

    #[test]
    fn base64_round_trips_and_refuses_non_canonical_text() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(b64_decode(&b64_encode(&bytes)), Some(bytes));
        }
        assert_eq!(b64_decode("Zg=="), Some(b"f".to_vec()));
        assert_eq!(b64_decode("Zh=="), None, "non-zero trailing bits");
        assert_eq!(b64_decode("Zm9="), None, "non-zero trailing bits");
        assert_eq!(b64_decode("Zg"), None, "missing padding");
        assert_eq!(b64_decode("Zg==Zg=="), None, "padding before the end");
        assert_eq!(b64_decode("Z==="), None);
        assert_eq!(b64_decode("Zm-v"), None, "URL-safe alphabet");
    }

    #[test]
    fn a_cosignature_key_with_its_key_id_is_accepted() {
        let k = key("witness.example.com/w1", COSIGNATURE_V1, [7; 32]);
        assert!(k.contains("+B"), "{k}");
        assert_eq!(parse(&k), Ok("witness.example.com/w1"));
    }

    /// The key id of Go's `sumdb/note` documentation example (`PeterNeumann`, type 0x01),
    /// computed the same way.
    #[test]
    fn the_key_id_matches_the_go_note_example() {
        let public = b64_decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
        assert_eq!(key_id("PeterNeumann", public[0], &public[1..]), 0xc74f20a3);
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        let good = key("w1", COSIGNATURE_V1, [9; 32]);
        let (_, rest) = good.split_once('+').unwrap();
        let (id, b64) = rest.split_once('+').unwrap();
        assert_eq!(parse("w1"), Err(KeyError::Shape));
        assert_eq!(parse(&format!("+{rest}")), Err(KeyError::Name));
        assert_eq!(parse(&format!("w 1+{rest}")), Err(KeyError::Name));
        assert_eq!(parse(&format!("w1+{}+{b64}", id.to_uppercase())), Err(KeyError::KeyIdText));
        assert_eq!(parse(&format!("w1+{id}+{b64}x")), Err(KeyError::Base64));
        assert_eq!(parse(&format!("w1+{id}+{}", b64_encode(&[4; 32]))), Err(KeyError::Length(32)));
        assert_eq!(parse(&format!("w1+{id}+")), Err(KeyError::Length(0)));
        assert_eq!(parse(&key("w1", NOTE_ED25519, [9; 32])), Err(KeyError::NoteKey));
        assert_eq!(parse(&key("w1", 0x06, [9; 32])), Err(KeyError::Type(6)));
        let computed = key_id("w2", COSIGNATURE_V1, &[9; 32]);
        let stated = u32::from_str_radix(id, 16).unwrap();
        assert_eq!(parse(&format!("w2+{id}+{b64}")), Err(KeyError::KeyId { stated, computed }));
    }
}
