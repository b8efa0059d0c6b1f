//! Proofs a third party checks with the verifier key alone (RFC 9162 §2.1.3–2.1.4 over the
//! ledger's Merkle tree, bound to signed checkpoints):
//! - [`InclusionProof`]: one entry (its body bytes, and its fields for people), its leaf
//!   index, the audit path, and the signed checkpoint whose root the path leads to;
//! - [`ConsistencyProof`]: two signed checkpoints and the hashes that show the older tree is
//!   a prefix of the newer one (nothing before the older size was changed, dropped or added).
//!
//! Both are JSON documents (`pipc log prove`, `pipc log consistency`); hashes and the entry's
//! bytes are standard base64. Proofs are produced from the tree file's tiles and checked
//! against the signed root before they are returned, so a damaged cache never yields a proof
//! that does not verify.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::SignedFile;
use crate::ledger::format::{HEADER_LEN, Header, RawBody};
use crate::ledger::merkle::{self, Hash, ProofError};
use crate::ledger::note::{self, NoteError, NoteVerifiers};
use crate::ledger::tree::{TreeError, TreeReader};

/// The `kind` of an inclusion proof document.
pub const INCLUSION_KIND: &str = "pip.inclusion-proof.v1";
/// The `kind` of a consistency proof document.
pub const CONSISTENCY_KIND: &str = "pip.consistency-proof.v1";

/// An entry's fields as people read them (the proof binds [`InclusionProof::entry`], the bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFields {
    /// Sequence number.
    pub seq: u64,
    /// Append time, Unix milliseconds.
    pub ts_millis: u64,
    /// Subsystem.
    pub subsystem: String,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// Result.
    pub result: String,
    /// The payload's JSON text.
    pub payload: String,
}

impl EntryFields {
    fn of(raw: &RawBody<'_>) -> EntryFields {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        EntryFields {
            seq: raw.seq,
            ts_millis: raw.ts_millis,
            subsystem: s(raw.subsystem),
            actor: s(raw.actor),
            action: s(raw.action),
            resource: s(raw.resource),
            result: s(raw.result),
            payload: s(raw.payload),
        }
    }
}

/// The proof that one entry is in the tree a signed checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// [`INCLUSION_KIND`].
    pub kind: String,
    /// The entry's canonical body bytes (the Merkle leaf), base64.
    pub entry: String,
    /// The entry's fields, read from `entry` (checked to agree with it).
    pub fields: EntryFields,
    /// The leaf's index: the entry's seq minus 1.
    pub leaf_index: u64,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// The audit path, leaf-side sibling first, base64.
    pub audit_path: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// The proof that an older signed checkpoint's tree is a prefix of a newer one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// [`CONSISTENCY_KIND`].
    pub kind: String,
    /// The older signed checkpoint note.
    pub old_checkpoint: String,
    /// The newer signed checkpoint note.
    pub new_checkpoint: String,
    /// The consistency proof hashes, base64.
    pub proof: Vec<String>,
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ledger's header does not decode.
    #[error("`{path}` is not a pip ledger: {what}")]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// Why.
        what: String,
    },
    /// No signed checkpoint covers what was asked.
    #[error("{0}")]
    NoCheckpoint(String),
    /// Reading the tree failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The ledger does not agree with its signed checkpoint: verify it (`pipc verify-log --verifier-key`).
    #[error(
        "the ledger's tree at size {size} does not have the root its signed checkpoint states; run `pipc verify-log` with the verifier key"
    )]
    Disagrees {
        /// The checkpoint's tree size.
        size: u64,
    },
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofCheckError {
    /// Not a proof document of the expected kind, or a field does not decode.
    #[error("not a valid proof: {0}")]
    Malformed(String),
    /// A checkpoint note does not verify with the verifier keys, or is not a checkpoint.
    #[error("the signed checkpoint does not verify: {0}")]
    Checkpoint(#[from] NoteError),
    /// The path does not lead to the signed root: the entry, its index or the path was changed.
    #[error("the proof does not lead to the signed root: {0}")]
    Proof(#[from] ProofError),
    /// The two checkpoints are of different logs.
    #[error("the checkpoints are of different origins (`{0}` and `{1}`)")]
    OtherOrigin(String, String),
    /// The entry's fields do not agree with its bytes.
    #[error("the entry's fields do not match its bytes")]
    FieldsDisagree,
    /// The proof does not match a checkpoint the verifier trusts.
    #[error("{0}")]
    Trusted(String),
}

/// What a verified inclusion proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    /// The log's origin.
    pub origin: String,
    /// The entry.
    pub fields: EntryFields,
    /// The signed tree size it is included in.
    pub tree_size: u64,
}

/// What a verified consistency proof establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedConsistency {
    /// The log's origin.
    pub origin: String,
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, ProofCheckError> {
    base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| ProofCheckError::Malformed(format!("{what} is not base64")))
}

fn hashes(texts: &[String]) -> Result<Vec<Hash>, ProofCheckError> {
    texts
        .iter()
        .map(|t| {
            unb64(t, "a proof hash")
                .and_then(|b| Hash::try_from(b).map_err(|_| ProofCheckError::Malformed("a proof hash is not 32 bytes".into())))
        })
        .collect()
}

/// A ledger's signed checkpoints and tree, to prove from.
pub struct Prover {
    tree: TreeReader,
    signed: PathBuf,
    /// Signed checkpoints in file order (parsed; signatures not checked here: the caller's
    /// verifier checks the proof, and the roots are checked against the ledger): the latest
    /// ones, or all when `all_notes`.
    notes: Vec<(note::Checkpoint, String)>,
    all_notes: bool,
}

/// Bytes read from the end of the signed checkpoint file when a prover opens it: some hundreds
/// of the latest notes. Older ones are read when a proof asks for one.
const TAIL_BYTES: u64 = 64 << 10;

fn parsed(file: SignedFile) -> Vec<(note::Checkpoint, String)> {
    file.notes.into_iter().filter_map(|n| n.checkpoint.ok().map(|cp| (cp, n.message))).collect()
}

impl Prover {
    /// Opens the ledger at `ledger`, its signed checkpoints at `signed` and its tree file at `tree`.
    pub fn open(ledger: &Path, signed: &Path, tree: &Path) -> Result<Prover, ProveError> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        crate::fsread::open(ledger)
            .and_then(|f| f.take(HEADER_LEN as u64).read_to_end(&mut header))
            .map_err(|source| ProveError::Io { path: ledger.to_path_buf(), source })?;
        let h = Header::decode(&header).map_err(|e| ProveError::NotALedger { path: ledger.to_path_buf(), what: e.to_string() })?;
        let reader = TreeReader::open(ledger, HEADER_LEN as u64, &h.identity.digest(), tree)?;
        let (file, all_notes) =
            SignedFile::read_tail(signed, TAIL_BYTES).map_err(|source| ProveError::Io { path: signed.to_path_buf(), source })?;
        Ok(Prover { tree: reader, signed: signed.to_path_buf(), notes: parsed(file), all_notes })
    }

    /// Reads every note, when only the latest were read.
    fn read_all_notes(&mut self) -> Result<(), ProveError> {
        if !self.all_notes {
            let file = SignedFile::read(&self.signed).map_err(|source| ProveError::Io { path: self.signed.clone(), source })?;
            self.notes = parsed(file);
            self.all_notes = true;
        }
        Ok(())
    }

    /// The signed checkpoints, in file order.
    pub fn checkpoints(&mut self) -> Result<impl Iterator<Item = &note::Checkpoint>, ProveError> {
        self.read_all_notes()?;
        Ok(self.notes.iter().map(|(cp, _)| cp))
    }

    /// The note of size `size`, or (for `None`) the last one of at least `min` entries; read
    /// from the whole file when the latest notes do not have it.
    fn note(&mut self, size: Option<u64>, min: u64) -> Result<(note::Checkpoint, String), ProveError> {
        if let Ok(found) = self.find_note(size, min) {
            return Ok(found.clone());
        }
        self.read_all_notes()?;
        self.find_note(size, min).cloned()
    }

    fn find_note(&self, size: Option<u64>, min: u64) -> Result<&(note::Checkpoint, String), ProveError> {
        match size {
            Some(s) => self
                .notes
                .iter()
                .rev()
                .find(|(cp, _)| cp.size == s)
                .ok_or_else(|| ProveError::NoCheckpoint(format!("no signed checkpoint of tree size {s}"))),
            None => self.notes.iter().rev().find(|(cp, _)| cp.size >= min).ok_or_else(|| {
                ProveError::NoCheckpoint(format!("no signed checkpoint covers {min} entries yet (the next checkpoint will)"))
            }),
        }
    }

    fn checked_root(&mut self, cp: &note::Checkpoint) -> Result<(), ProveError> {
        if self.tree.root(cp.size)? == cp.root { Ok(()) } else { Err(ProveError::Disagrees { size: cp.size }) }
    }

    /// The inclusion proof of the entry with `seq` against the signed checkpoint of size
    /// `size` (default: the latest).
    pub fn inclusion(&mut self, seq: u64, size: Option<u64>) -> Result<InclusionProof, ProveError> {
        if seq == 0 {
            return Err(ProveError::NoCheckpoint("entries are numbered from 1".into()));
        }
        let entries = self.tree.entry_count()?;
        if seq > entries {
            return Err(ProveError::NoCheckpoint(format!("the ledger has {entries} entries: there is no entry with seq {seq}")));
        }
        let (cp, message) = self.note(size, seq)?;
        if seq > cp.size {
            return Err(ProveError::NoCheckpoint(format!("the signed checkpoint of size {} does not cover seq {seq}", cp.size)));
        }
        self.checked_root(&cp)?;
        let index = seq - 1;
        let path = self.tree.inclusion_proof(index, cp.size)?;
        let mut body = Vec::new();
        self.tree.entries(index, 1, |_, b| body = b.to_vec())?;
        let fields = RawBody::parse(&body).map(|r| EntryFields::of(&r)).ok_or(ProveError::Disagrees { size: cp.size })?;
        if merkle::verify_inclusion(&merkle::leaf_hash(&body), index, cp.size, &path, &cp.root).is_err() {
            return Err(ProveError::Disagrees { size: cp.size });
        }
        Ok(InclusionProof {
            kind: INCLUSION_KIND.into(),
            entry: b64(&body),
            fields,
            leaf_index: index,
            tree_size: cp.size,
            audit_path: path.iter().map(|h| b64(h)).collect(),
            checkpoint: message,
        })
    }

    /// The consistency proof from the signed checkpoint of size `old` to the one of size
    /// `new` (default: the latest).
    pub fn consistency(&mut self, old: u64, new: Option<u64>) -> Result<ConsistencyProof, ProveError> {
        let (old_cp, old_message) = self.note(Some(old), 0)?;
        let (new_cp, new_message) = self.note(new, old)?;
        self.checked_root(&old_cp)?;
        self.checked_root(&new_cp)?;
        let proof = if old_cp.size == new_cp.size { Vec::new() } else { self.tree.consistency_proof(old_cp.size, new_cp.size)? };
        Ok(ConsistencyProof {
            kind: CONSISTENCY_KIND.into(),
            old_checkpoint: old_message,
            new_checkpoint: new_message,
            proof: proof.iter().map(|h| b64(h)).collect(),
        })
    }
}

/// Checks an inclusion proof with the verifier keys alone.
pub fn verify_inclusion(p: &InclusionProof, verifiers: &NoteVerifiers) -> Result<VerifiedInclusion, ProofCheckError> {
    if p.kind != INCLUSION_KIND {
        return Err(ProofCheckError::Malformed(format!("`kind` is `{}`, not `{INCLUSION_KIND}`", p.kind)));
    }
    let (cp, _) = note::Checkpoint::open(p.checkpoint.as_bytes(), verifiers)?;
    let body = unb64(&p.entry, "the entry")?;
    let raw = RawBody::parse(&body).ok_or_else(|| ProofCheckError::Malformed("the entry is not a ledger entry".into()))?;
    if EntryFields::of(&raw) != p.fields || raw.seq != p.leaf_index.wrapping_add(1) {
        return Err(ProofCheckError::FieldsDisagree);
    }
    if p.tree_size != cp.size {
        return Err(ProofCheckError::Malformed(format!("`tree_size` is {} but the checkpoint's is {}", p.tree_size, cp.size)));
    }
    let path = hashes(&p.audit_path)?;
    merkle::verify_inclusion(&merkle::leaf_hash(&body), p.leaf_index, cp.size, &path, &cp.root)?;
    Ok(VerifiedInclusion { origin: cp.origin, fields: p.fields.clone(), tree_size: cp.size })
}

/// Checks a consistency proof with the verifier keys alone.
pub fn verify_consistency(p: &ConsistencyProof, verifiers: &NoteVerifiers) -> Result<VerifiedConsistency, ProofCheckError> {
    if p.kind != CONSISTENCY_KIND {
        return Err(ProofCheckError::Malformed(format!("`kind` is `{}`, not `{CONSISTENCY_KIND}`", p.kind)));
    }
    let (old, _) = note::Checkpoint::open(p.old_checkpoint.as_bytes(), verifiers)?;
    let (new, _) = note::Checkpoint::open(p.new_checkpoint.as_bytes(), verifiers)?;
    if old.origin != new.origin {
        return Err(ProofCheckError::OtherOrigin(old.origin, new.origin));
    }
    let proof = hashes(&p.proof)?;
    if old.size == new.size {
        if old.root != new.root || !proof.is_empty() {
            return Err(ProofError::NewRootMismatch.into());
        }
    } else {
        merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)?;
    }
    Ok(VerifiedConsistency { origin: old.origin, old_size: old.size, new_size: new.size })
}
