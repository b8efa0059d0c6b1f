//! The tlog-checkpoint note text: origin line, tree size in decimal, base64 RFC 6962 root
//! hash, optional extension lines. Parsing accepts only the canonical form (one text per
//! checkpoint), so two readers can never disagree on what a signed checkpoint says.

use super::keys::NoteSigner;
use super::signed::{NoteVerifiers, Signature, VerifiedNote, open, sign};
use super::{NoteError, b64_decode, b64_encode, cosignature};

/// Bytes of a root hash (SHA-256).
pub const HASH_LEN: usize = 32;

/// A transparency log's tree head as the checkpoint note text states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (first line); non-empty, one line.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 Merkle tree hash of the first `size` leaves.
    pub root: [u8; HASH_LEN],
    /// Opaque extension lines after the root, each non-empty; usually none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parses a checkpoint note text (the note's text, without signatures). Refuses a
    /// missing final newline, fewer than three lines, an empty origin or extension line,
    /// a size with a sign, leading zeros or above `u64::MAX`, a root that is not the
    /// strict base64 of 32 bytes, and control characters.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text.strip_suffix('\n').ok_or(NoteError::Checkpoint("the text does not end in a newline"))?;
        if text.bytes().any(|b| b < b' ' && b != b'\n') {
            return Err(NoteError::Checkpoint("the text contains a control character"));
        }
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(NoteError::Checkpoint("the origin line is empty"));
        }
        let size = parse_size(lines.next().ok_or(NoteError::Checkpoint("the tree size line is missing"))?)?;
        let root_text = lines.next().ok_or(NoteError::Checkpoint("the root hash line is missing"))?;
        let root = b64_decode(root_text)
            .and_then(|bytes| <[u8; HASH_LEN]>::try_from(bytes).ok())
            .ok_or(NoteError::Checkpoint("the root hash is not the base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Checkpoint("an extension line is empty"));
        }
        Ok(Self { origin: origin.to_owned(), size, root, extensions })
    }

    /// The checkpoint's note text, which [`parse`](Self::parse) reads back unchanged.
    /// Refuses an origin or extension line that is empty or holds a newline or control
    /// character.
    pub fn to_text(&self) -> Result<String, NoteError> {
        let bad = |line: &str| line.is_empty() || line.bytes().any(|b| b < b' ');
        if bad(&self.origin) {
            return Err(NoteError::Checkpoint("the origin must be one non-empty line"));
        }
        if self.extensions.iter().any(|e| bad(e)) {
            return Err(NoteError::Checkpoint("each extension must be one non-empty line"));
        }
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, b64_encode(&self.root));
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        Ok(text)
    }

    /// Signs the checkpoint text with each Ed25519 note signer (the log's key name should
    /// be the origin) and returns the signed note.
    pub fn sign(&self, signers: &[&NoteSigner]) -> Result<String, NoteError> {
        sign(&self.to_text()?, signers)
    }

    /// The `cosignature/v1` line of a witness key (type
    /// [`SignatureType::CosignatureV1`](super::SignatureType::CosignatureV1)) over this
    /// checkpoint at `timestamp` (POSIX seconds, at most 2^63 - 1).
    pub fn cosign(&self, signer: &NoteSigner, timestamp: u64) -> Result<Signature, NoteError> {
        let bytes = cosignature::sign_bytes(signer, &self.to_text()?, timestamp)?;
        Ok(Signature { name: signer.name().to_owned(), key_id: signer.key_id(), bytes })
    }

    /// Opens a signed checkpoint: the note must verify with `known` (see [`open`]) and its
    /// text must be a canonical checkpoint.
    pub fn open(message: &[u8], known: &NoteVerifiers) -> Result<(Self, VerifiedNote), NoteError> {
        let note = open(message, known)?;
        Ok((Self::parse(&note.text)?, note))
    }
}

/// Parses a canonical decimal tree size: digits only, no leading zero except `0` itself.
fn parse_size(line: &str) -> Result<u64, NoteError> {
    let canonical = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(NoteError::Checkpoint("the tree size is not a canonical decimal number"));
    }
    line.parse().map_err(|_| NoteError::Checkpoint("the tree size is above `u64::MAX`"))
}
