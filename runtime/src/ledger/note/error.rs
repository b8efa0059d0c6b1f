//! The one error type of signed notes, checkpoints and cosignatures. Messages name what is
//! wrong without echoing secret material: a private key's text is never part of an error.

/// What went wrong reading, checking or writing a note, a key or a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key name that the signed-note spec forbids.
    #[error("key name `{0}` is not valid: it must be non-empty, without `+`, spaces or control characters")]
    KeyName(String),
    /// A verifier key text that is not `<name>+<8 hex digits>+<base64>` with a known key.
    #[error("malformed verifier key: {0}")]
    VerifierKey(&'static str),
    /// A private key text that is not `PRIVATE+KEY+<name>+<8 hex digits>+<base64>`.
    #[error("malformed private key: {0}")]
    PrivateKey(&'static str),
    /// The key id written in a key text is not the one its name and public key give.
    #[error("key id `{stated:08x}` of key `{name}` does not match its public key (expected `{computed:08x}`)")]
    KeyIdMismatch {
        /// The key's name.
        name: String,
        /// The key id in the text.
        stated: u32,
        /// The key id computed from name, type and public key.
        computed: u32,
    },
    /// A signature type byte this module does not implement.
    #[error("unknown signature type `0x{0:02x}`")]
    UnknownSignatureType(u8),
    /// A signed note that breaks the format.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A note longer than [`MAX_NOTE_BYTES`](super::MAX_NOTE_BYTES).
    #[error("note is {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// The note's length.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A note with more than [`MAX_SIGNATURES`](super::MAX_SIGNATURES) signature lines.
    #[error("note has more than {0} signature lines")]
    TooManySignatures(usize),
    /// A signature from a known key that does not verify: the whole note is refused.
    #[error("signature of key `{name}+{key_id:08x}` does not verify")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// No signature from a known key: the note's text must not be trusted.
    #[error("note has no signature from a known key")]
    NoKnownSignature,
    /// Two verifiers with one name and key id but different keys: a signature could not be
    /// attributed.
    #[error("two different verifier keys are named `{name}+{key_id:08x}`")]
    AmbiguousVerifier {
        /// The shared name.
        name: String,
        /// The shared key id.
        key_id: u32,
    },
    /// A signer used for the wrong kind of signature (a cosigner signing a plain note, or
    /// the reverse).
    #[error("key `{0}` cannot make this kind of signature")]
    WrongSignatureType(String),
    /// A checkpoint text that is not canonical tlog-checkpoint text.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// A cosignature timestamp above 2^63 - 1.
    #[error("cosignature timestamp {0} is above 2^63 - 1")]
    Timestamp(u64),
    /// The operating system's random source failed while generating a key.
    #[error("cannot generate a key: {0}")]
    Random(String),
}
