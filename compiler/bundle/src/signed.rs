//! Bundles that verify with the verifier key alone: for a ledger that signs its checkpoints
//! (C2SP tlog-checkpoint notes, [`pip_runtime::ledger::signed`]), the builder adds the signed
//! checkpoint that covers the slice, the range proof of the slice's entries against it
//! ([`range`]) and the witnesses' cosigned notes of that checkpoint, and signs the manifest
//! with the same key (`manifest.sig`); [`crate::verify_with`] checks all of it with the verifier keys ([`SignedKeys`]).
//!
//! `manifest.sig` is a C2SP signed note whose text is
//!
//! ```text
//! pip-bundle manifest v1
//! <origin of each signing ledger, one per line>
//! <SHA-256 hex of manifest.json's bytes>
//! ```
//!
//! signed by each signing ledger's key. The manifest in turn lists every file's SHA-256, so
//! the signature binds the whole bundle; the range proofs bind the slices' entries to what
//! the log committed to (and witnesses cosigned). Entries after the signed checkpoint (the
//! slice ends past the last one written) are bound only by the ledger's MACed checkpoints:
//! the manifest records where the signed part ends (`signed_through`) and the verifier says so.
//!
//! No key enters the bundle: the builder reads the signing key to sign, the verifier needs
//! only public verifier keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pip_compiler::emit::bundle::LEDGER_DIR;
use pip_compiler::ir;
use pip_runtime::ledger::merkle::{Hash, leaf_hash};
use pip_runtime::ledger::note::{self, NoteSigner, NoteVerifier, NoteVerifiers, SignedNote};
use pip_runtime::ledger::signed::range::{self, RangeProof};
use pip_runtime::ledger::signed::{self as rt_signed, MAX_SIGNED_FILE, SignedFile, load_signer};
use pip_runtime::ledger::{Entry, KeySource};

use crate::error::{LedgerFault, LedgerProblem, OutputError, UsageError};
use crate::manifest::{FileRef, LedgerInfo, Manifest, SignedLedgerInfo};
use crate::{BundleError, Invalid};

/// The manifest's signature inside the ZIP.
pub const MANIFEST_SIG: &str = "manifest.sig";
/// The first line of the signed text of `manifest.sig`.
pub const SIGNATURE_HEADER: &str = "pip-bundle manifest v1";
/// How `manifest.sig` is made, in words, for auditors.
pub const SIGNATURE_ALGORITHM: &str = "C2SP signed note (Ed25519) of \"pip-bundle manifest v1\\n\", one line per origin, and the SHA-256 hex of manifest.json's bytes with a newline";
/// Appended to a ledger's path to name its file of witness-cosigned checkpoints.
pub const WITNESSED_SUFFIX: &str = ".witnessed";

/// Where the range proof of ledger `name`'s slice goes in the bundle.
pub fn proof_path(name: &str) -> String {
    format!("{LEDGER_DIR}{name}.range.json")
}

/// Where the cosigned checkpoint notes of ledger `name` go in the bundle.
pub fn witnessed_path(name: &str) -> String {
    format!("{LEDGER_DIR}{name}.witnessed")
}

/// The witness-cosigned checkpoint file of a ledger: its path plus `.witnessed`.
pub fn default_witnessed(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_os_string();
    s.push(WITNESSED_SUFFIX);
    PathBuf::from(s)
}

/// The text `manifest.sig` signs for a manifest of bytes `manifest` and these origins.
pub fn signed_text(origins: &[String], manifest: &[u8]) -> String {
    let mut text = format!("{SIGNATURE_HEADER}\n");
    for o in origins {
        text.push_str(o);
        text.push('\n');
    }
    text.push_str(&pip_compiler::sha256_hex(manifest));
    text.push('\n');
    text
}

/// What signs one ledger's part of a bundle.
pub(crate) struct LedgerSigner {
    signer: NoteSigner,
    /// The origin the spec declares (or its default), when the spec signs this ledger.
    origin: Option<String>,
    signed: PathBuf,
    witnessed: PathBuf,
}

impl LedgerSigner {
    /// The signing key of ledger `name` at `path`: `--signing-key` when given, else the spec's
    /// `signing_key` when the ledger has signed checkpoints; `None` when it signs nothing.
    pub(crate) fn resolve(
        opts: &crate::BuildOptions,
        spec: &ir::Spec,
        name: &str,
        path: &Path,
        single: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Option<LedgerSigner>, BundleError> {
        let decl = spec.ledgers.iter().find(|l| l.name == name).and_then(|l| l.signing.as_ref());
        let signed = if single { opts.signed_file.clone() } else { None }.unwrap_or_else(|| rt_signed::default_path(path));
        let source = match (&opts.signing_key, decl) {
            (Some(p), _) => KeySource::File(p.clone()),
            // The spec's key, for a ledger that was written with it (it has signed checkpoints).
            (None, Some(d)) if signed.exists() => match &d.key {
                ir::KeySource::Env(v) => KeySource::Env(v.clone()),
                ir::KeySource::File(p) => KeySource::File(PathBuf::from(p)),
            },
            _ => return Ok(None),
        };
        let (signer, warning) =
            load_signer(&source).map_err(|source| UsageError::SigningKey { name: name.to_string(), source: Box::new(source) })?;
        if let Some(w) = warning {
            warnings.push(format!("{w} ({})", w.help()));
        }
        let origin = decl.map(|d| d.origin.clone());
        Ok(Some(LedgerSigner { signer, origin, signed, witnessed: default_witnessed(path) }))
    }

    /// The signing key (never written anywhere).
    pub(crate) fn signer(&self) -> &NoteSigner {
        &self.signer
    }
}

/// One ledger's signed part: its origin, its manifest entry and files (none when no signed
/// checkpoint covers the slice's first entry, or the slice is empty).
pub(crate) struct SignedPart {
    pub origin: String,
    pub info: Option<SignedLedgerInfo>,
    pub files: Vec<(String, Vec<u8>)>,
}

/// The signed checkpoint, range proof and cosigned notes of one ledger's slice (encoded as
/// `slice`), checked against the entries decoded from it, as the verifier will, before they
/// are bundled.
pub(crate) fn part(ls: &LedgerSigner, ledger: &str, path: &Path, info: &LedgerInfo, slice: &[u8]) -> Result<SignedPart, BundleError> {
    let fault = |problem| BundleError::from(LedgerFault { ledger: ledger.to_string(), path: path.to_path_buf(), problem });
    let entries = pip_runtime::ledger::slice::decode(slice).map_err(|e| fault(LedgerProblem::Slice(e)))?.entries;
    let file = SignedFile::read(&ls.signed).map_err(|source| UsageError::ReadSigned {
        name: ledger.to_string(),
        path: ls.signed.clone(),
        source,
    })?;
    let verifiers = NoteVerifiers::new([ls.signer.verifier()]).map_err(|e| fault(LedgerProblem::Signed(e.to_string())))?;
    let notes: Vec<(note::Checkpoint, String)> = file
        .notes
        .iter()
        .filter_map(|n| note::Checkpoint::open(n.message.as_bytes(), &verifiers).ok().map(|(cp, _)| (cp, n.message.clone())))
        .filter(|(cp, _)| ls.origin.as_ref().is_none_or(|o| *o == cp.origin))
        .collect();
    let Some(largest) = notes.iter().max_by_key(|(cp, _)| cp.size).cloned() else {
        return Err(UsageError::NoSignedCheckpoint {
            name: ledger.to_string(),
            path: ls.signed.clone(),
            key: ls.signer.name().to_string(),
            origin: ls.origin.clone(),
        }
        .into());
    };
    let origin = notes.first().map(|(cp, _)| cp.origin.clone()).unwrap_or_default();
    let (Some(last_seq), Some(first)) = (info.last_seq, entries.first()) else {
        return Ok(SignedPart { origin, info: None, files: Vec::new() });
    };
    // The smallest signed tree holding the whole slice, else the largest there is.
    let (cp, message) = notes.iter().filter(|(cp, _)| cp.size >= last_seq).min_by_key(|(cp, _)| cp.size).cloned().unwrap_or(largest);
    let start = first.seq - 1;
    let end = last_seq.min(cp.size);
    if end <= start {
        return Ok(SignedPart { origin, info: None, files: Vec::new() });
    }
    let mut tree = range::open_tree(path).map_err(|e| fault(LedgerProblem::Signed(e.to_string())))?;
    let proof = RangeProof::make(&mut tree, start, end, &cp, &message).map_err(|e| fault(LedgerProblem::Signed(e.to_string())))?;
    // Checked as the verifier will: from the slice's bytes, not from the ledger file.
    let covered = entries.get(..usize::try_from(end - start).unwrap_or(usize::MAX)).unwrap_or_default();
    if let Err(e) = proof.verify(&leaves(covered), &verifiers) {
        return Err(fault(LedgerProblem::Signed(format!(
            "the slice's entries do not match the signed checkpoint of size {}: {e}",
            cp.size
        ))));
    }
    let proof_bytes = to_json(&proof)?;
    let proof = FileRef::of(proof_path(ledger), &proof_bytes);
    let mut files = vec![(proof.path.clone(), proof_bytes)];
    let witnessed = cosigned(&ls.witnessed, &message).map_err(|source| UsageError::ReadSigned {
        name: ledger.to_string(),
        path: ls.witnessed.clone(),
        source,
    })?;
    let witnessed_ref = witnessed.map(|bytes| {
        let r = FileRef::of(witnessed_path(ledger), &bytes);
        files.push((r.path.clone(), bytes));
        r
    });
    Ok(SignedPart {
        origin: cp.origin.clone(),
        info: Some(SignedLedgerInfo {
            origin: cp.origin.clone(),
            checkpoint_size: cp.size,
            first_leaf: start,
            end_leaf: end,
            signed_through: end,
            proof,
            witnessed: witnessed_ref,
        }),
        files,
    })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, BundleError> {
    let mut out = serde_json::to_vec_pretty(v).map_err(crate::error::OutputError::Manifest)?;
    out.push(b'\n');
    Ok(out)
}

/// The leaf hashes of entries: each entry's body bytes, rebuilt from its fields.
fn leaves(entries: &[Entry]) -> Vec<Hash> {
    entries.iter().map(|e| leaf_hash(&e.body())).collect()
}

/// The notes of the cosigned checkpoint file at `path` whose text is the checkpoint's of the
/// signed note `message`, each followed by a blank line; `None` when there are none.
fn cosigned(path: &Path, message: &str) -> std::io::Result<Option<Vec<u8>>> {
    let bytes = match pip_runtime::fsread::read(path, MAX_SIGNED_FILE, "a cosigned checkpoint file") {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(want) = SignedNote::parse(message.as_bytes()).map(|n| n.text) else { return Ok(None) };
    let mut out = Vec::new();
    for n in SignedFile::parse(&bytes).notes {
        if SignedNote::parse(n.message.as_bytes()).is_ok_and(|s| s.text == want) {
            out.extend_from_slice(n.message.as_bytes());
            out.push(b'\n');
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `manifest.sig`: the manifest's bytes signed by each distinct key of `signers`.
pub(crate) fn sign_manifest(manifest: &[u8], origins: &[String], signers: &[&NoteSigner]) -> Result<Vec<u8>, BundleError> {
    let mut distinct: Vec<&NoteSigner> = Vec::new();
    for s in signers {
        if !distinct.iter().any(|d| d.name() == s.name() && d.key_id() == s.key_id()) {
            distinct.push(s);
        }
    }
    note::sign(&signed_text(origins, manifest), &distinct).map(String::into_bytes).map_err(|e| OutputError::Sign(e.to_string()).into())
}

/// The verifier side: what to check a bundle's signatures with.
#[derive(Debug, Clone, Default)]
pub struct SignedKeys {
    /// The ledgers' verifier keys (public): `manifest.sig` and every checkpoint must verify with them.
    pub verifiers: NoteVerifiers,
    /// The witnesses' cosignature verifier keys; `None`: those of the bundled spec's ledger.
    pub witnesses: Option<Vec<NoteVerifier>>,
    /// How many distinct witnesses must have cosigned each bundled checkpoint; `None`: the
    /// bundled spec's `witness_quorum` (or every `witnesses` key when they are given).
    pub quorum: Option<u32>,
    /// A checkpoint verified earlier: a bundled checkpoint of its origin must not be behind it.
    pub trusted: Option<note::Checkpoint>,
}

/// What the verifier keys established about one ledger's slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The ledger's name.
    pub ledger: String,
    /// The checkpoint's origin.
    pub origin: String,
    /// The signed checkpoint's tree size.
    pub checkpoint_size: u64,
    /// The first seq covered.
    pub first_seq: u64,
    /// The last seq covered.
    pub signed_through: u64,
    /// The slice's last seq (past `signed_through`: bound by the MACed checkpoints only).
    pub last_seq: u64,
    /// Distinct witnesses whose cosignature on the checkpoint verified.
    pub cosignatures: u32,
    /// How many were required.
    pub quorum: u32,
    /// Set when a trusted checkpoint of this origin is older: the bundle does not show the
    /// two consistent.
    pub trusted_older: Option<u64>,
}

/// Checks `manifest.sig` against the manifest's bytes; returns the keys (name, id) that signed it.
pub(crate) fn check_signature(
    raw: &[u8],
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
    keys: &SignedKeys,
) -> Result<Vec<(String, u32)>, BundleError> {
    let sig = manifest.signature.as_ref().ok_or(Invalid::NoSignature)?;
    if sig.path != MANIFEST_SIG {
        return Err(Invalid::SignatureMismatch { what: format!("it names `{}` as the signature, not `{MANIFEST_SIG}`", sig.path) }.into());
    }
    let bytes = files.get(MANIFEST_SIG).ok_or(Invalid::SignatureMissing)?;
    let note = note::open(bytes, &keys.verifiers).map_err(|source| Invalid::SignatureInvalid { source })?;
    if note.text != signed_text(&sig.origins, raw) {
        return Err(Invalid::SignatureMismatch { what: "its signed text does not name this manifest's hash and origins".into() }.into());
    }
    Ok(note.verified.into_iter().map(|v| (v.name, v.key_id)).collect())
}

/// The spec's witness keys and quorum of a ledger, for the default quorum check.
pub(crate) fn spec_witnesses(l: &ir::Ledger) -> (Vec<String>, u32) {
    l.signing.as_ref().map(|s| (s.witnesses.iter().map(|w| w.key.clone()).collect(), s.quorum)).unwrap_or_default()
}

/// Checks one ledger's signed part with the verifier keys: the checkpoint's signature (by a
/// key that signed the manifest), the range proof of the slice's entries, the witnesses'
/// cosignatures and the trusted checkpoint.
pub(crate) fn check_ledger(
    info: &LedgerInfo,
    entries: &[Entry],
    files: &BTreeMap<String, Vec<u8>>,
    keys: &SignedKeys,
    manifest_signers: &[(String, u32)],
    spec_witnesses: &(Vec<String>, u32),
) -> Result<Option<Coverage>, BundleError> {
    let name = &info.name;
    let Some(s) = &info.signed else { return Ok(None) };
    let described = |what: &str| BundleError::from(Invalid::SignedDescriptionMismatch { ledger: name.clone(), what: what.to_string() });
    let bytes = files.get(&s.proof.path).ok_or_else(|| Invalid::Missing { path: s.proof.path.clone() })?;
    let proof: RangeProof =
        serde_json::from_slice(bytes).map_err(|e| Invalid::RangeProofUnparsable { ledger: name.clone(), what: e.to_string() })?;
    let first_seq = entries.first().map(|e| e.seq);
    if first_seq != Some(s.first_leaf + 1) || info.last_seq.is_none_or(|l| s.end_leaf > l) {
        return Err(described("its signed range is not a prefix of the slice"));
    }
    if (proof.first_leaf, proof.end_leaf, proof.tree_size) != (s.first_leaf, s.end_leaf, s.checkpoint_size)
        || s.signed_through != s.end_leaf
        || s.end_leaf > s.checkpoint_size
    {
        return Err(described("the range proof does not cover what the manifest says"));
    }
    let covered = entries.get(..usize::try_from(s.end_leaf - s.first_leaf).unwrap_or(usize::MAX)).unwrap_or_default();
    let (cp, signers) = note::Checkpoint::open(proof.checkpoint.as_bytes(), &keys.verifiers)
        .map(|(cp, n)| (cp, n.verified))
        .map_err(|e| Invalid::CheckpointInvalid { ledger: name.clone(), what: e.to_string() })?;
    if !signers.iter().any(|v| manifest_signers.iter().any(|(n, id)| *n == v.name && *id == v.key_id)) {
        return Err(Invalid::CheckpointOtherSigner { ledger: name.clone() }.into());
    }
    if cp.origin != s.origin {
        return Err(described("the checkpoint's origin is not the one the manifest names"));
    }
    proof.verify(&leaves(covered), &keys.verifiers).map_err(|e| Invalid::RangeProofFails { ledger: name.clone(), what: e.to_string() })?;
    let (cosignatures, quorum) = witnesses(name, s, files, &cp, keys, spec_witnesses)?;
    if cosignatures < quorum {
        return Err(Invalid::QuorumNotMet { ledger: name.clone(), size: cp.size, have: cosignatures, need: quorum }.into());
    }
    let mut trusted_older = None;
    if let Some(t) = keys.trusted.as_ref().filter(|t| t.origin == cp.origin) {
        if t.size > cp.size {
            return Err(Invalid::BehindTrusted { ledger: name.clone(), size: cp.size, trusted: t.size }.into());
        }
        if t.size == cp.size && t.root != cp.root {
            return Err(Invalid::TrustedRootMismatch { ledger: name.clone(), size: cp.size }.into());
        }
        if t.size < cp.size {
            trusted_older = Some(t.size);
        }
    }
    Ok(Some(Coverage {
        ledger: name.clone(),
        origin: cp.origin,
        checkpoint_size: cp.size,
        first_seq: s.first_leaf + 1,
        signed_through: s.end_leaf,
        last_seq: info.last_seq.unwrap_or(s.end_leaf),
        cosignatures,
        quorum,
        trusted_older,
    }))
}

/// Counts the distinct witnesses with a valid cosignature on `cp` among the bundled cosigned
/// notes, and the quorum asked for.
fn witnesses(
    name: &str,
    s: &SignedLedgerInfo,
    files: &BTreeMap<String, Vec<u8>>,
    cp: &note::Checkpoint,
    keys: &SignedKeys,
    spec: &(Vec<String>, u32),
) -> Result<(u32, u32), BundleError> {
    let keys_given = keys.witnesses.is_some();
    let witness_keys: Vec<NoteVerifier> = match &keys.witnesses {
        Some(w) => w.clone(),
        None => spec
            .0
            .iter()
            .map(|k| NoteVerifier::parse(k))
            .collect::<Result<_, _>>()
            .map_err(|e| Invalid::WitnessKey { ledger: name.to_string(), what: e.to_string() })?,
    };
    let quorum = keys.quorum.unwrap_or(if keys_given { u32::try_from(witness_keys.len()).unwrap_or(u32::MAX) } else { spec.1 });
    let Some(w) = &s.witnessed else { return Ok((0, quorum)) };
    let bytes = files.get(&w.path).ok_or_else(|| Invalid::Missing { path: w.path.clone() })?;
    let text = cp.to_text().map_err(|e| Invalid::CheckpointInvalid { ledger: name.to_string(), what: e.to_string() })?;
    let parsed = SignedFile::parse(bytes);
    if parsed.torn_bytes > 0 {
        return Err(Invalid::WitnessedMismatch { ledger: name.to_string() }.into());
    }
    for n in &parsed.notes {
        if !SignedNote::parse(n.message.as_bytes()).is_ok_and(|sn| sn.text == text) {
            return Err(Invalid::WitnessedMismatch { ledger: name.to_string() }.into());
        }
    }
    let mut count = 0u32;
    let mut seen: Vec<(String, u32)> = Vec::new();
    for key in witness_keys {
        if seen.contains(&(key.name().to_string(), key.key_id())) {
            continue;
        }
        seen.push((key.name().to_string(), key.key_id()));
        let Ok(one) = NoteVerifiers::new([key]) else { continue };
        if parsed.notes.iter().any(|n| note::open(n.message.as_bytes(), &one).is_ok()) {
            count += 1;
        }
    }
    Ok((count, quorum))
}
