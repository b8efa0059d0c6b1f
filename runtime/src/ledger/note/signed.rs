//! The signed-note format: a text ending in a newline, a blank line, and signature lines
//! `— <key name> <base64(key id || signature)>`. [`open`] parses a note and checks it
//! against known keys the way the spec says: signatures of unknown keys (a name or an id
//! that no known key has) are ignored, a signature of a known key must verify or the whole
//! note is refused, and at least one must verify.

use super::keys::{NoteSigner, NoteVerifier, SignatureType};
use super::{MAX_NOTE_BYTES, MAX_SIGNATURES, NoteError, b64_decode, b64_encode, cosignature, is_valid_key_name};

/// What starts every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line: the key's name and id and the signature bytes after the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's name.
    pub name: String,
    /// The signing key's id, the first 4 bytes of the encoded signature.
    pub key_id: u32,
    /// The signature proper: 64 bytes for Ed25519, 72 (timestamp, then signature) for a
    /// `cosignature/v1` cosignature, anything for keys this module does not know.
    pub bytes: Vec<u8>,
}

impl Signature {
    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.bytes.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.bytes);
        format!("{SIG_PREFIX}{} {}\n", self.name, b64_encode(&raw))
    }

    /// Parses one signature line without its newline.
    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed("a signature line does not start with `— `"))?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed("a signature line has no space after the key name"))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::Malformed("a signature line has an invalid key name"));
        }
        let raw = b64_decode(b64).ok_or(NoteError::Malformed("a signature is not standard base64"))?;
        let (Some(id), Some(bytes)) = (raw.get(..4), raw.get(4..)) else {
            return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
        };
        if bytes.is_empty() {
            return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(id);
        Ok(Self { name: name.to_owned(), key_id: u32::from_be_bytes(key_id), bytes: bytes.to_vec() })
    }
}

/// A note's text and signature lines, as written; nothing here has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The note text, ending in a newline.
    pub text: String,
    /// The signature lines in order.
    pub signatures: Vec<Signature>,
}

impl SignedNote {
    /// Parses a signed note's format (size and signature-count limits, UTF-8, no control
    /// characters but newline, the last blank line separating text from signatures)
    /// without checking any signature. Only [`open`]'s result may be trusted.
    pub fn parse(message: &[u8]) -> Result<Self, NoteError> {
        if message.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { size: message.len(), max: MAX_NOTE_BYTES });
        }
        let message = std::str::from_utf8(message).map_err(|_| NoteError::Malformed("the note is not valid UTF-8"))?;
        check_characters(message)?;
        let split = message.rfind("\n\n").ok_or(NoteError::Malformed("no blank line separates the text from the signatures"))?;
        let (Some(text), Some(block)) = (message.get(..=split), message.get(split + 2..)) else {
            return Err(NoteError::Malformed("no blank line separates the text from the signatures"));
        };
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::Malformed("the last signature line does not end in a newline"));
        };
        if block.is_empty() {
            return Err(NoteError::Malformed("the note has no signature line"));
        }
        // Count before decoding anything, so a hostile note costs at most this many lines.
        if block.split('\n').count() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(MAX_SIGNATURES));
        }
        let signatures = block.split('\n').map(Signature::parse_line).collect::<Result<_, _>>()?;
        Ok(Self { text: text.to_owned(), signatures })
    }

    /// The note as text: text, blank line, signature lines. Refuses what [`parse`](Self::parse)
    /// would refuse, so everything written reads back the same.
    pub fn to_text(&self) -> Result<String, NoteError> {
        check_text(&self.text)?;
        if self.signatures.is_empty() {
            return Err(NoteError::Malformed("the note has no signature line"));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(MAX_SIGNATURES));
        }
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for signature in &self.signatures {
            if !is_valid_key_name(&signature.name) {
                return Err(NoteError::KeyName(signature.name.clone()));
            }
            if signature.bytes.is_empty() {
                return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
            }
            out.push_str(&signature.to_line());
        }
        if out.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { size: out.len(), max: MAX_NOTE_BYTES });
        }
        Ok(out)
    }
}

/// Refuses ASCII control characters other than newline (the note rule).
fn check_characters(text: &str) -> Result<(), NoteError> {
    if text.bytes().any(|b| b < b' ' && b != b'\n') {
        return Err(NoteError::Malformed("the note contains a control character other than newline"));
    }
    Ok(())
}

/// Checks a note text: a final newline and no control characters other than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end in a newline"));
    }
    check_characters(text)
}

/// The keys a reader trusts, each identified by name and key id.
#[derive(Debug, Clone, Default)]
pub struct NoteVerifiers {
    keys: Vec<NoteVerifier>,
}

impl NoteVerifiers {
    /// The set of these keys; refuses two different keys with one name and id (a signature
    /// could not be attributed) and keeps one of identical duplicates.
    pub fn new(keys: impl IntoIterator<Item = NoteVerifier>) -> Result<Self, NoteError> {
        let mut set = Self::default();
        for key in keys {
            match set.get(key.name(), key.key_id()) {
                Some(known) if *known == key => {}
                Some(_) => {
                    return Err(NoteError::AmbiguousVerifier { name: key.name().to_owned(), key_id: key.key_id() });
                }
                None => set.keys.push(key),
            }
        }
        Ok(set)
    }

    /// The known key with this name and id.
    pub fn get(&self, name: &str, key_id: u32) -> Option<&NoteVerifier> {
        self.keys.iter().find(|k| k.key_id() == key_id && k.name() == name)
    }
}

/// A signature that verified with a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key's name.
    pub name: String,
    /// The key's id.
    pub key_id: u32,
    /// The kind of signature.
    pub signature_type: SignatureType,
    /// A cosignature's timestamp (POSIX seconds); `None` for a plain note signature.
    pub timestamp: Option<u64>,
}

/// A note whose text at least one known key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signatures of known keys, all verified, in note order (one per key).
    pub verified: Vec<VerifiedSignature>,
    /// The signatures of unknown keys, unchecked, in note order.
    pub unverified: Vec<Signature>,
}

/// Parses `message` and checks its signatures against `known`: signatures of unknown keys
/// are kept unchecked, every signature of a known key must verify, and at least one must.
pub fn open(message: &[u8], known: &NoteVerifiers) -> Result<VerifiedNote, NoteError> {
    let note = SignedNote::parse(message)?;
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unverified = Vec::new();
    for signature in note.signatures {
        let Some(key) = known.get(&signature.name, signature.key_id) else {
            unverified.push(signature);
            continue;
        };
        let timestamp = verify_one(key, &note.text, &signature.bytes)
            .ok_or_else(|| NoteError::InvalidSignature { name: signature.name.clone(), key_id: signature.key_id })?;
        if !verified.iter().any(|v| v.name == signature.name && v.key_id == signature.key_id) {
            verified.push(VerifiedSignature {
                name: signature.name,
                key_id: signature.key_id,
                signature_type: key.signature_type(),
                timestamp,
            });
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote { text: note.text, verified, unverified })
}

/// Checks one signature by its key's type: `Some(timestamp)` when it verifies (the inner
/// `None` for a plain signature), `None` when it does not.
#[expect(clippy::option_option, reason = "outer: verified or not; inner: whether it has a timestamp")]
fn verify_one(key: &NoteVerifier, text: &str, bytes: &[u8]) -> Option<Option<u64>> {
    match key.signature_type() {
        SignatureType::Ed25519 => key.verify_raw(text.as_bytes(), bytes).then_some(None),
        SignatureType::CosignatureV1 => cosignature::verify_bytes(key, text, bytes).map(Some),
    }
}

/// Signs `text` with each Ed25519 note signer and returns the signed note. Cosigners sign
/// with [`Checkpoint::cosign`](super::Checkpoint::cosign) instead, which needs a timestamp.
pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    let signatures = signers.iter().map(|signer| note_signature(signer, text)).collect::<Result<Vec<_>, _>>()?;
    SignedNote { text: text.to_owned(), signatures }.to_text()
}

/// The Ed25519 signature line of `signer` over `text`.
pub fn note_signature(signer: &NoteSigner, text: &str) -> Result<Signature, NoteError> {
    if signer.signature_type() != SignatureType::Ed25519 {
        return Err(NoteError::WrongSignatureType(signer.name().to_owned()));
    }
    check_text(text)?;
    Ok(Signature { name: signer.name().to_owned(), key_id: signer.key_id(), bytes: signer.sign_raw(text.as_bytes()).to_vec() })
}
