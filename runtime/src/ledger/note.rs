//! Signed notes, checkpoints and cosignatures in the C2SP text formats, with Ed25519 keys, so
//! that a third party can check a ledger's tree heads with a public key alone and existing
//! transparency-log tools (Go's `sumdb/note`, witnesses) read what pip writes.
//!
//! - [`keys`]: signing keys ([`NoteSigner`]) and verifier keys ([`NoteVerifier`]), their key
//!   ids and text encodings (`name+hexid+base64` and Go's `PRIVATE+KEY+...`).
//! - [`signed`]: a note text and its signature lines ([`SignedNote`]); [`open`] checks a
//!   note against a set of known verifiers ([`NoteVerifiers`]), [`sign`] signs one.
//! - [`checkpoint`]: the tlog-checkpoint note text ([`Checkpoint`]), parsed canonically.
//! - [`cosignature`]: the `cosignature/v1` message and timestamped signatures a witness adds.
//!
//! Specifications: c2sp.org/signed-note, c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature.
//! Everything read from outside is bounded ([`MAX_NOTE_BYTES`], [`MAX_SIGNATURES`]) and every
//! defect is a [`NoteError`], never a panic.

pub mod checkpoint;
pub mod cosignature;
mod error;
pub mod keys;
pub mod signed;

#[cfg(test)]
mod tests;

pub use checkpoint::Checkpoint;
pub use error::NoteError;
pub use keys::{NoteSigner, NoteVerifier, SignatureType};
pub use signed::{NoteVerifiers, Signature, SignedNote, VerifiedNote, VerifiedSignature, note_signature, open, sign};

/// Most bytes of a signed note [`open`] reads. The spec asks verifiers to accept at least 16
/// signatures of up to about 5 kB each (post-quantum); 256 KiB leaves room for that and for
/// a checkpoint's text while bounding the work a hostile note can cause.
pub const MAX_NOTE_BYTES: usize = 256 * 1024;

/// Most signature lines [`open`] reads (the spec's floor is 16; Go's `sumdb/note` allows 100).
pub const MAX_SIGNATURES: usize = 100;

use base64::Engine as _;

/// Standard base64 with padding (RFC 4648 section 4), strict: non-zero trailing bits are
/// refused, so each byte string has exactly one accepted encoding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes strict standard base64; `None` for any other text.
pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Whether `name` is a valid key name: non-empty, valid UTF-8 (a `&str` is), no `+` and no
/// Unicode space (the signed-note rule; Go's `isValidName` uses the same test), and no ASCII
/// control character (a note may not contain one, so such a name could never sign).
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == '+' || c < ' ' || c.is_whitespace())
}
