//! `cosignature/v1` (c2sp.org/tlog-cosignature, Ed25519 type `0x04`): a witness's statement
//! that, at a time, the checkpoint is the largest consistent one it has seen of the log.
//!
//! The signed message is `cosignature/v1\ntime <t>\n` followed by the checkpoint's whole note
//! text; the signature line's bytes after the 4-byte key id are the 8-byte big-endian
//! timestamp and the 64-byte Ed25519 signature (76 bytes in all with the key id).

use super::NoteError;
use super::keys::{NoteSigner, NoteVerifier, SIGNATURE_LEN, SignatureType};

/// The header line that separates cosignatures from every other use of the key.
pub const HEADER: &str = "cosignature/v1\n";

/// The largest timestamp the spec allows, 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Bytes of a cosignature after its key id: timestamp, then Ed25519 signature.
pub const TIMESTAMPED_LEN: usize = 8 + SIGNATURE_LEN;

/// The message a cosigner signs for `body` (the checkpoint's note text) at `timestamp`.
pub fn message(body: &str, timestamp: u64) -> String {
    format!("{HEADER}time {timestamp}\n{body}")
}

/// The bytes after the key id of `signer`'s cosignature (a [`SignatureType::CosignatureV1`]
/// key) over the checkpoint text `body` at `timestamp` (POSIX seconds): the timestamp, then
/// the signature. [`Checkpoint::cosign`](super::Checkpoint::cosign) makes the whole line.
pub fn sign_bytes(signer: &NoteSigner, body: &str, timestamp: u64) -> Result<Vec<u8>, NoteError> {
    if signer.signature_type() != SignatureType::CosignatureV1 {
        return Err(NoteError::WrongSignatureType(signer.name().to_owned()));
    }
    if timestamp > MAX_TIMESTAMP {
        return Err(NoteError::Timestamp(timestamp));
    }
    let signature = signer.sign_raw(message(body, timestamp).as_bytes());
    let mut bytes = Vec::with_capacity(TIMESTAMPED_LEN);
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.extend_from_slice(&signature);
    Ok(bytes)
}

/// The timestamp the bytes of a cosignature line (after the key id) state, if they have
/// the cosignature length and an allowed timestamp. Read without verification: trust it
/// only after [`open`](super::open).
pub fn timestamp(bytes: &[u8]) -> Option<u64> {
    let bytes: &[u8; TIMESTAMPED_LEN] = bytes.try_into().ok()?;
    let (time, _) = bytes.split_first_chunk::<8>()?;
    Some(u64::from_be_bytes(*time)).filter(|t| *t <= MAX_TIMESTAMP)
}

/// Verifies the bytes of a cosignature line of `key` over `body`: its timestamp when the
/// signature verifies, `None` otherwise.
pub(crate) fn verify_bytes(key: &NoteVerifier, body: &str, bytes: &[u8]) -> Option<u64> {
    let bytes: &[u8; TIMESTAMPED_LEN] = bytes.try_into().ok()?;
    let (time, signature) = bytes.split_first_chunk::<8>()?;
    let timestamp = u64::from_be_bytes(*time);
    if timestamp > MAX_TIMESTAMP {
        return None;
    }
    key.verify_raw(message(body, timestamp).as_bytes(), signature).then_some(timestamp)
}
