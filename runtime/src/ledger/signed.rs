//! Signed checkpoints: a ledger with a signing key ([`Signing`]) writes, next to each MACed
//! checkpoint, a C2SP tlog-checkpoint note — origin, tree size (the checkpoint's seq) and the
//! RFC 6962 root of the Merkle tree over its entries ([`tree`](super::tree)) — signed as a
//! C2SP signed note with Ed25519 ([`note`]). Anyone holding the verifier key
//! checks them ([`verify`]); no secret is needed, so an auditor can rely on them.
//!
//! The file `<ledger>.signed` is text: the signed notes, in the order written, each followed
//! by one blank line. Each note is exactly what C2SP tools read (`sed -n` one out and give it
//! to any signed-note verifier). A note cut off by a crash (no closing blank line) is a torn
//! end: opening the ledger cuts it off.
//!
//! ```text
//! pip/payments/audit          <- origin
//! 1000                        <- tree size = seq of the last entry covered
//! 2WkD1c0dQ3X9...=            <- base64 Merkle root of entries 1..=1000
//!
//! — pip/payments/audit Ab3x...   <- key name, base64(key id || Ed25519 signature)
//!
//! ```

pub mod proof;
pub mod range;
pub(crate) mod recover;
mod roots;
pub mod verify;
pub mod witnessed;

use std::path::{Path, PathBuf};

use crate::ledger::key::{KeySource, KeyWarning};
use crate::ledger::note::{self, NoteError, NoteSigner, NoteVerifier, SignedNote};
use crate::ledger::witness::{WitnessConfigError, Witnessing};

/// Most bytes of a signed checkpoint file read whole (about five million notes: a ledger of
/// billions of entries at the default checkpoint interval); a larger one is refused, not read.
pub const MAX_SIGNED_FILE: u64 = 1 << 30;

/// Most bytes of a signing key file (its text is one short line).
const MAX_SIGNING_KEY_FILE: u64 = 4096;

/// Why a signing key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The environment variable is not set.
    #[error("the signing key variable `${0}` is not set")]
    MissingEnv(String),
    /// The environment variable is not valid Unicode.
    #[error("the signing key variable `${0}` is not valid Unicode")]
    EnvNotUnicode(String),
    /// The key file could not be read.
    #[error("cannot read the signing key file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not a note signing key.
    #[error("{what} does not hold a note signing key (`PRIVATE+KEY+...`, as `pipc keygen --signing` writes one): {source}")]
    Parse {
        /// Where the text came from.
        what: String,
        /// Why it does not parse.
        source: NoteError,
    },
    /// A witness the spec names cannot be used.
    #[error(transparent)]
    Witness(#[from] WitnessConfigError),
    /// The key cannot sign checkpoints of this origin.
    #[error("cannot sign checkpoints of origin `{origin}`: {source}")]
    Origin {
        /// The origin.
        origin: String,
        /// Why.
        source: NoteError,
    },
}

/// Loads a note signing key (Go's `PRIVATE+KEY+name+hexid+base64` text, as `pipc keygen
/// --signing` writes it) from an environment variable or a file, with a warning when the file
/// is open to its group or others. The key's text is wiped from memory after parsing.
pub fn load_signer(source: &KeySource) -> Result<(NoteSigner, Option<KeyWarning>), SigningKeyError> {
    match source {
        KeySource::Env(var) => {
            let text = zeroize::Zeroizing::new(std::env::var(var).map_err(|e| match e {
                std::env::VarError::NotPresent => SigningKeyError::MissingEnv(var.clone()),
                std::env::VarError::NotUnicode(_) => SigningKeyError::EnvNotUnicode(var.clone()),
            })?);
            let signer =
                NoteSigner::parse_private(text.trim()).map_err(|source| SigningKeyError::Parse { what: format!("`${var}`"), source })?;
            Ok((signer, None))
        }
        KeySource::File(path) => {
            let read = |source| SigningKeyError::Read { path: path.clone(), source };
            let (bytes, meta) = crate::fsread::read_with_metadata(path, MAX_SIGNING_KEY_FILE, "a signing key file").map_err(read)?;
            let bytes = zeroize::Zeroizing::new(bytes);
            let text =
                std::str::from_utf8(&bytes).map_err(|_| read(std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not text")))?;
            let signer = NoteSigner::parse_private(text.trim())
                .map_err(|source| SigningKeyError::Parse { what: format!("`{}`", path.display()), source })?;
            Ok((signer, crate::ledger::key::exposure(path, &meta)))
        }
    }
}

/// Appended to the ledger's path to name its signed checkpoint file.
pub const SIGNED_SUFFIX: &str = ".signed";

/// The signed checkpoint file of a ledger: its path plus `.signed`.
pub fn default_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_os_string();
    s.push(SIGNED_SUFFIX);
    PathBuf::from(s)
}

/// The origin line a spec's ledger gets when its `ledger` block names none: `pip/<spec>/<ledger>`.
pub fn default_origin(spec: &str, ledger: &str) -> String {
    format!("pip/{spec}/{ledger}")
}

/// Whether `origin` may be a checkpoint's origin line: non-empty, at most 255 bytes, no
/// whitespace, no `+`, no control character (a schema-less URL such as `example.com/log`).
pub fn is_valid_origin(origin: &str) -> bool {
    !origin.is_empty() && origin.len() <= 255 && !origin.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

/// What a ledger signs its checkpoints with: the Ed25519 note key and the origin line; and the
/// witnesses it pushes each signed checkpoint to ([`Signing::with_witnessing`]), none unless
/// given.
#[derive(Debug)]
pub struct Signing {
    signer: NoteSigner,
    origin: String,
    witnessing: Witnessing,
}

impl Signing {
    /// Signs checkpoints of `origin` with `signer`; refuses an origin [`is_valid_origin`]
    /// refuses, or a key that is not an Ed25519 note key.
    pub fn new(signer: NoteSigner, origin: impl Into<String>) -> Result<Signing, NoteError> {
        let origin = origin.into();
        if !is_valid_origin(&origin) {
            return Err(NoteError::Checkpoint(
                "the origin must be non-empty, at most 255 bytes, without spaces, `+` or control characters",
            ));
        }
        if signer.signature_type() != note::SignatureType::Ed25519 {
            return Err(NoteError::WrongSignatureType(signer.name().to_owned()));
        }
        Ok(Signing { signer, origin, witnessing: Witnessing::default() })
    }

    /// Pushes each signed checkpoint to these witnesses. Opening the ledger fails when it names
    /// a witness and pip-runtime was built without feature `witness` (which pushes).
    #[must_use]
    pub fn with_witnessing(mut self, witnessing: Witnessing) -> Signing {
        self.witnessing = witnessing;
        self
    }

    /// The witnesses and how checkpoints are pushed to them.
    pub fn witnessing(&self) -> &Witnessing {
        &self.witnessing
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key that checks what this signs (safe to publish).
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The signed checkpoint note of the tree of `size` entries with root `root`, as stored:
    /// the note and a closing blank line.
    pub fn sign_record(&self, size: u64, root: [u8; 32]) -> Result<String, NoteError> {
        let cp = note::Checkpoint { origin: self.origin.clone(), size, root, extensions: Vec::new() };
        let mut text = cp.sign(&[&self.signer])?;
        text.push('\n');
        Ok(text)
    }
}

/// One note of a signed checkpoint file, as read (nothing verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNote {
    /// Byte offset of the note in the file.
    pub offset: u64,
    /// The signed note's bytes (text, blank line, signature lines), without the closing blank line.
    pub message: String,
    /// The note's text parsed as a checkpoint, or why it is not one.
    pub checkpoint: Result<note::Checkpoint, NoteError>,
}

/// A signed checkpoint file split into notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFile {
    /// The notes in file order.
    pub notes: Vec<StoredNote>,
    /// Bytes at the end that are not a whole note (a write cut off by a crash).
    pub torn_bytes: u64,
}

impl SignedFile {
    /// Splits a signed checkpoint file's bytes into notes.
    pub fn parse(bytes: &[u8]) -> SignedFile {
        Self::parse_at(bytes, 0)
    }

    /// The notes that lie whole in the last `max` bytes of the file (all of them when the file
    /// is no longer), and whether that is the whole file: a proof needs only the latest notes,
    /// and a long ledger has many.
    pub fn read_tail(path: &Path, max: u64) -> std::io::Result<(SignedFile, bool)> {
        use std::io::{Read as _, Seek as _};
        let mut f = match crate::fsread::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((SignedFile { notes: Vec::new(), torn_bytes: 0 }, true)),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        let from = len.saturating_sub(max);
        f.seek(std::io::SeekFrom::Start(from))?;
        let mut bytes = Vec::with_capacity(usize::try_from(len - from).unwrap_or(0));
        f.take(len - from).read_to_end(&mut bytes)?;
        if from == 0 {
            return Ok((Self::parse(&bytes), true));
        }
        // A blank line that ends a note is followed by the next note's origin; one inside a
        // note is followed by a signature line, which starts with an em dash.
        let mut at = 0;
        let start = loop {
            match find_blank(&bytes, at) {
                Some(i) if !bytes.get(i + 2..).unwrap_or_default().starts_with("\u{2014}".as_bytes()) => break Some(i + 2),
                Some(i) => at = i + 1,
                None => break None,
            }
        };
        let Some(start) = start else { return Ok((SignedFile { notes: Vec::new(), torn_bytes: 0 }, false)) };
        Ok((Self::parse_at(bytes.get(start..).unwrap_or_default(), from + start as u64), false))
    }

    /// [`parse`](Self::parse) of bytes that start at byte `base` of the file.
    fn parse_at(bytes: &[u8], base: u64) -> SignedFile {
        let mut notes = Vec::new();
        let mut at = 0usize;
        loop {
            let rest = bytes.get(at..).unwrap_or_default();
            if rest.is_empty() {
                return SignedFile { notes, torn_bytes: 0 };
            }
            // The text ends at the first blank line, the signatures at the next.
            let end = find_blank(rest, 0).and_then(|text_end| find_blank(rest, text_end + 2));
            let Some(end) = end else {
                return SignedFile { notes, torn_bytes: rest.len() as u64 };
            };
            let message_bytes = rest.get(..=end).unwrap_or_default();
            let message = String::from_utf8_lossy(message_bytes).into_owned();
            let checkpoint = SignedNote::parse(message_bytes).and_then(|n| note::Checkpoint::parse(&n.text));
            notes.push(StoredNote { offset: base + at as u64, message, checkpoint });
            at += end + 2;
        }
    }

    /// Reads and splits a signed checkpoint file; a missing file has no notes.
    pub fn read(path: &Path) -> std::io::Result<SignedFile> {
        match crate::fsread::read(path, MAX_SIGNED_FILE, "a signed checkpoint file") {
            Ok(bytes) => Ok(Self::parse(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SignedFile { notes: Vec::new(), torn_bytes: 0 }),
            Err(e) => Err(e),
        }
    }

    /// Length of the whole notes (where a torn end starts).
    pub fn whole_len(&self, file_len: u64) -> u64 {
        file_len - self.torn_bytes
    }
}

/// Index of the first `\n` of the first `\n\n` at or after `from`.
fn find_blank(bytes: &[u8], from: usize) -> Option<usize> {
    bytes.get(from..)?.windows(2).position(|w| w == b"\n\n").map(|i| i + from)
}
