//! Ed25519 keys for signed notes: the key id, the verifier key text
//! `<name>+<hex key id>+<base64(type || public key)>` and the private key text
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>` that Go's `sumdb/note` writes, so
//! that keys move between pip and Go tools unchanged.
//!
//! Two signature types share the key material: `0x01` signs a note's text (signed-note) and
//! `0x04` signs the `cosignature/v1` message of a checkpoint (tlog-cosignature). The type is
//! part of the key id, so one key pair under one name has a different id for each use. Go's
//! package only writes type `0x01` private keys; the same text with type `0x04` is this
//! module's encoding of a cosigner's private key.

use std::fmt;

use ed25519_dalek::{Signature as EdSignature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{NoteError, b64_decode, b64_encode, is_valid_key_name};

/// Bytes of an Ed25519 public key (RFC 8032 encoding).
const PUBLIC_LEN: usize = 32;
/// Bytes of an Ed25519 private key seed.
const SEED_LEN: usize = 32;
/// Bytes of an Ed25519 signature.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// Which signature a key makes, with its signed-note type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 over the `cosignature/v1` message of a checkpoint.
    CosignatureV1,
}

impl SignatureType {
    /// The type identifier byte the signed-note spec assigns.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The type of an identifier byte, if this module implements it.
    pub fn from_byte(byte: u8) -> Result<Self, NoteError> {
        match byte {
            0x01 => Ok(Self::Ed25519),
            0x04 => Ok(Self::CosignatureV1),
            other => Err(NoteError::UnknownSignatureType(other)),
        }
    }
}

/// `SHA-256(name || 0x0A || type || public key)[:4]` as a big-endian integer: the key id
/// that signed-note recommends and tlog-cosignature requires.
pub fn key_id(name: &str, ty: SignatureType, public_key: &[u8; PUBLIC_LEN]) -> u32 {
    let digest = Sha256::new().chain_update(name.as_bytes()).chain_update([b'\n', ty.byte()]).chain_update(public_key).finalize();
    let mut first = [0u8; 4];
    for (dst, src) in first.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    u32::from_be_bytes(first)
}

/// Parses exactly 8 lowercase hex digits (the spec's fixed-length lowercase encoding).
fn parse_key_id(hex: &str) -> Option<u32> {
    let canonical = hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if canonical { u32::from_str_radix(hex, 16).ok() } else { None }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) { Ok(()) } else { Err(NoteError::KeyName(name.to_owned())) }
}

/// A public key that checks signatures: name, key id, type and Ed25519 public key. Safe to
/// publish; its text form is [`NoteVerifier::to_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    ty: SignatureType,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier of `public_key` under `name`; refuses an invalid name or a byte string
    /// that is not an Ed25519 point.
    pub fn new(name: &str, ty: SignatureType, public_key: [u8; PUBLIC_LEN]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| NoteError::VerifierKey("the public key is not an Ed25519 point"))?;
        Ok(Self { name: name.to_owned(), key_id: key_id(name, ty, &public_key), ty, key })
    }

    /// Parses `<name>+<8 lowercase hex digits>+<base64(type || 32-byte public key)>` and
    /// checks that the key id is the one name, type and key give.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::VerifierKey("expected `<name>+<key id>+<key>`"));
        };
        check_name(name)?;
        let stated = parse_key_id(hex).ok_or(NoteError::VerifierKey("the key id is not 8 lowercase hex digits"))?;
        let bytes = b64_decode(b64).ok_or(NoteError::VerifierKey("the key is not standard base64"))?;
        let (&type_byte, public) = bytes.split_first().ok_or(NoteError::VerifierKey("the key is empty"))?;
        let ty = SignatureType::from_byte(type_byte)?;
        let public: [u8; PUBLIC_LEN] = public.try_into().map_err(|_| NoteError::VerifierKey("an Ed25519 public key is 32 bytes"))?;
        let verifier = Self::new(name, ty, public)?;
        if verifier.key_id != stated {
            return Err(NoteError::KeyIdMismatch { name: name.to_owned(), stated, computed: verifier.key_id });
        }
        Ok(verifier)
    }

    /// The verifier key text, `<name>+<hex key id>+<base64(type || public key)>`.
    pub fn to_text(&self) -> String {
        let mut material = Vec::with_capacity(1 + PUBLIC_LEN);
        material.push(self.ty.byte());
        material.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, b64_encode(&material))
    }

    /// The key name signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id that starts each of this key's signatures.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Which signature this key checks.
    pub fn signature_type(&self) -> SignatureType {
        self.ty
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; PUBLIC_LEN] {
        self.key.to_bytes()
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`. Strict
    /// verification (RFC 8032 checks plus no small-order keys or R), so no second encoding
    /// of a signature verifies.
    pub(crate) fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        self.key.verify_strict(message, &EdSignature::from_bytes(&bytes)).is_ok()
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// A private key that signs notes (type `0x01`) or cosigns checkpoints (type `0x04`). Its
/// `Debug` shows only name and key id; the seed is wiped when it is dropped.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    ty: SignatureType,
    key: SigningKey,
}

impl NoteSigner {
    /// The signer of the Ed25519 key with this 32-byte seed (RFC 8032 private key).
    pub fn from_seed(name: &str, ty: SignatureType, seed: &[u8; SEED_LEN]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, ty, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_owned(), key_id, ty, key })
    }

    /// A new random key from the operating system's random source.
    pub fn generate(name: &str, ty: SignatureType) -> Result<Self, NoteError> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        getrandom::fill(seed.as_mut_slice()).map_err(|e| NoteError::Random(e.to_string()))?;
        Self::from_seed(name, ty, &seed)
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>`, Go's `sumdb/note`
    /// private key text, and checks the key id against the derived public key. Errors never
    /// contain the text.
    pub fn parse_private(text: &str) -> Result<Self, NoteError> {
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(NoteError::PrivateKey("expected the prefix `PRIVATE+KEY+`"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::PrivateKey("expected `PRIVATE+KEY+<name>+<key id>+<key>`"));
        };
        if !is_valid_key_name(name) {
            return Err(NoteError::PrivateKey("the key name is not valid"));
        }
        let stated = parse_key_id(hex).ok_or(NoteError::PrivateKey("the key id is not 8 lowercase hex digits"))?;
        let bytes = Zeroizing::new(b64_decode(b64).ok_or(NoteError::PrivateKey("the key is not standard base64"))?);
        let (&type_byte, seed) = bytes.split_first().ok_or(NoteError::PrivateKey("the key is empty"))?;
        let ty = SignatureType::from_byte(type_byte)?;
        let seed = Zeroizing::new(<[u8; SEED_LEN]>::try_from(seed).map_err(|_| NoteError::PrivateKey("an Ed25519 seed is 32 bytes"))?);
        let signer = Self::from_seed(name, ty, &seed)?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch { name: name.to_owned(), stated, computed: signer.key_id });
        }
        Ok(signer)
    }

    /// The private key text Go's `sumdb/note` reads. Secret: write it only to a key file.
    pub fn to_private_text(&self) -> Zeroizing<String> {
        let mut material = Zeroizing::new(Vec::with_capacity(1 + SEED_LEN));
        material.push(self.ty.byte());
        material.extend_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(b64_encode(&material));
        Zeroizing::new(format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id, b64.as_str()))
    }

    /// The public half, to publish or to check this key's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key_id: self.key_id, ty: self.ty, key: self.key.verifying_key() }
    }

    /// The key name written in this key's signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id that starts each of this key's signatures.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Which signature this key makes.
    pub fn signature_type(&self) -> SignatureType {
        self.ty
    }

    /// The Ed25519 signature of `message` (deterministic, RFC 8032).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("signature_type", &self.ty)
            .finish_non_exhaustive()
    }
}
