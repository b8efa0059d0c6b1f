//! `manifest.json`, the bundle's table of contents: every other file with its size and
//! SHA-256, the spec and its hash, the ledger ranges and their checkpoints, and an HMAC over
//! all of it with the ledger key.
//!
//! A bundle of ledgers that sign their checkpoints also carries, per ledger, the signed
//! checkpoint and range proof of its slice ([`SignedLedgerInfo`]), and `manifest.sig`, the
//! manifest's bytes signed with the checkpoint signing keys ([`SignatureInfo`]): it then
//! verifies with the verifier key alone ([`crate::signed`]). Both are absent otherwise, so an
//! unsigned bundle's manifest is what it always was.
//!
//! The MAC is `HMAC-SHA256(key, SHA-256("pip-bundle manifest v1\n" || compact JSON of the
//! manifest without `mac`))` — the ledger's own MAC construction over a domain-separated
//! digest, so that no ledger MAC can pass for a manifest MAC. The file itself must be exactly
//! the pretty form of what it parses to, so no byte of it can change unnoticed either.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use pip_compiler::emit::bundle::Part;
use pip_runtime::hex::{from_hex, to_hex};
use pip_runtime::ledger::LedgerKey;

/// `format` of every bundle manifest.
pub const FORMAT: &str = "pip-bundle";
/// The manifest format version; raised when a field changes meaning, and a reader refuses
/// any other ([`crate::Invalid::ManifestFormat`]).
pub const FORMAT_VERSION: u32 = 2;
/// The domain separator hashed before the manifest.
const MAC_DOMAIN: &[u8] = b"pip-bundle manifest v1\n";
/// How the MAC is computed, in words, for auditors.
pub const MAC_ALGORITHM: &str = "HMAC-SHA256(key, SHA-256(\"pip-bundle manifest v1\\n\" || compact JSON of the manifest without `mac`))";
/// The slice encoding's name, recorded per ledger so that a reader knows how to decode it
/// ([`pip_runtime::ledger::slice`]).
pub const SLICE_ENCODING: &str = "pip-slice v2: columns, no per-entry MACs, chain bound to MACed checkpoints and the ledger identity";

/// The bundle's `manifest.json`: what it holds and where it comes from, MACed with the ledger key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// `pipc <version>`.
    pub created_by: String,
    /// The spec it was built from, with its hash and sources.
    pub spec: SpecInfo,
    /// The `bundle` block's name.
    pub bundle: String,
    /// The window of ledger time the slices cover.
    pub window: Window,
    /// The size cap of the ZIP, from the spec.
    pub max_size_bytes: u64,
    /// Most events the timeline lists.
    pub timeline_max_rows: usize,
    /// One slice per ledger the bundle includes, in the spec's order.
    pub ledgers: Vec<LedgerInfo>,
    /// Every file of the bundle but this one, sorted by path.
    pub files: Vec<FileInfo>,
    /// The manifest's signature with the ledgers' checkpoint signing keys, in
    /// [`crate::signed::MANIFEST_SIG`] (absent when no ledger of the bundle signs its
    /// checkpoints: such a bundle verifies with the ledger key only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureInfo>,
    /// The MAC (absent while it is computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacInfo>,
}

/// Where the manifest's signature is and what its signed text binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureInfo {
    /// Its path in the ZIP ([`crate::signed::MANIFEST_SIG`]): a C2SP signed note, not listed in
    /// `files` (it signs this file's bytes).
    pub path: String,
    /// [`crate::signed::SIGNATURE_ALGORITHM`].
    pub algorithm: String,
    /// The checkpoint origins of the ledgers whose signing keys signed it, one line each of
    /// the note's text.
    pub origins: Vec<String>,
}

/// A slice's entries proved, with the verifier key alone, to be the entries at their
/// positions in a signed checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedLedgerInfo {
    /// The checkpoint's origin.
    pub origin: String,
    /// The tree size of the signed checkpoint: the smallest at least the slice's last seq, or
    /// the last signed one when none is that large yet.
    pub checkpoint_size: u64,
    /// The first leaf the range proof covers (the slice's first seq minus 1).
    pub first_leaf: u64,
    /// One past the last leaf it covers.
    pub end_leaf: u64,
    /// The last seq the signed checkpoint covers (`end_leaf`); later entries of the slice are
    /// bound only by the ledger's MACed checkpoints (and the manifest's signature).
    pub signed_through: u64,
    /// The range proof ([`pip_runtime::ledger::signed::range::RangeProof`] JSON, with the
    /// signed checkpoint note).
    pub proof: FileRef,
    /// The witnesses' cosigned notes of that checkpoint, when the ledger has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessed: Option<FileRef>,
}

/// A file of the bundle that is not one of the spec's parts, with what binds its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    /// Its path in the ZIP.
    pub path: String,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

impl FileRef {
    /// The reference to `bytes` at `path`.
    pub fn of(path: String, bytes: &[u8]) -> FileRef {
        FileRef { path, size: bytes.len() as u64, sha256: pip_compiler::sha256_hex(bytes) }
    }
}

/// The spec a bundle was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecInfo {
    /// The spec id (`spec payments ...`).
    pub name: String,
    /// The spec's declared `version "…"` text, as written (informational: the hash binds the content).
    pub version: String,
    /// The spec hash over its sources.
    pub sha256: String,
    /// Its source files, each bundled under `spec/`.
    pub sources: Vec<SourceInfo>,
}

/// A spec source file: the name artifacts cite it by, and where the bundle keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// The name the compiler knew it by.
    pub name: String,
    /// Where the bundle keeps it: `spec/` plus that name.
    pub path: String,
}

/// A time window, `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, Unix milliseconds.
    pub from_ms: u64,
    /// End, Unix milliseconds.
    pub to_ms: u64,
}

/// One ledger's slice: its range of entries and what binds them (identity, key, checkpoints),
/// and what verification and the spec's expectations found in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerInfo {
    /// The ledger's name in the spec.
    pub name: String,
    /// The slice's path inside the bundle.
    pub path: String,
    /// [`SLICE_ENCODING`].
    pub encoding: String,
    /// Id of the key it was written with.
    pub key_id: String,
    /// The ledger's identity (fixed when it was created).
    pub identity: IdentityInfo,
    /// How many entries the slice holds (0 when the window holds none).
    pub entries: u64,
    /// Seq of its first entry; with no entries, the seq the next entry would have had.
    pub first_seq: u64,
    /// Seq of its last entry (absent when the window holds none).
    pub last_seq: Option<u64>,
    /// Hash of the entry before the first (zeros before a ledger's first entry).
    pub prev: String,
    /// Hash (hex) of the last entry, which the last checkpoint binds (absent when the window holds none).
    pub head: Option<String>,
    /// The checkpoints covering seqs of the slice.
    pub checkpoints: Vec<CheckpointInfo>,
    /// Anomalies verification found in the whole ledger file when the bundle was built.
    pub anomalies: Vec<AnomalyInfo>,
    /// Silences longer than the spec's `expect subsystem` lines allow, inside the window.
    pub gaps: Vec<GapInfo>,
    /// The signed checkpoint and range proof of its entries, when the ledger signs its
    /// checkpoints and one covers at least its first entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<SignedLedgerInfo>,
}

/// A ledger's identity, as the slice's header carries it: what a slice is checked to belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityInfo {
    /// The spec id it was created for (empty: none named).
    pub spec: String,
    /// Its name in the spec (empty: none named).
    pub ledger: String,
    /// Hex of the random bytes drawn when the ledger was created: tells apart two ledgers of one name.
    pub id: String,
}

impl IdentityInfo {
    /// The manifest's form of a runtime [`pip_runtime::ledger::Identity`] (the id as hex).
    pub fn of(i: &pip_runtime::ledger::Identity) -> IdentityInfo {
        IdentityInfo { spec: i.spec.clone(), ledger: i.ledger.clone(), id: i.id_hex() }
    }
}

/// A checkpoint binding the slice's entries up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointInfo {
    /// Seq of the last entry it binds; every entry up to it chains to `head`.
    pub seq: u64,
    /// When it was written, Unix milliseconds of the writer's clock.
    pub time_ms: u64,
    /// The hash of entry `seq`.
    pub head: String,
    /// `ledger`, or `bundle` for the one the builder wrote to cover the last entry.
    pub written_by: String,
}

/// An anomaly the whole ledger file showed when the bundle was built (only present when the
/// bundle was built with `--allow-anomalies`): the window itself always verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyInfo {
    /// The class name, as `pipc verify-log` prints it and the anomaly metric's `class` label counts it.
    pub class: String,
    /// `ledger` or `checkpoints`.
    pub file: String,
    /// First seq concerned, when the anomaly is about entries (not about the header or a checkpoint record).
    pub seq: Option<u64>,
    /// What was seen, in the verifier's words (its numbers vary within a run).
    pub detail: String,
    /// How many alike anomalies this stands for: a run is recorded once, with its count
    /// and where it ended (1, omitted, for a single one).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// The first seq concerned by the run's last anomaly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
}

fn one() -> u64 {
    1
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_one(n: &u64) -> bool {
    *n == 1
}

/// A silence longer than an `expect subsystem` line allows, found in the slice's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapInfo {
    /// The subsystem the `expect subsystem` line names.
    pub subsystem: String,
    /// Its last entry before the silence (or the window's start), Unix milliseconds.
    pub from_ms: u64,
    /// The entry that ended it (or the window's end), Unix milliseconds.
    pub to_ms: u64,
    /// The line's `severity` (`P1`, …), which the generated gap alert carries too.
    pub severity: String,
    /// Whether it lasts to the end of the window.
    pub ongoing: bool,
}

/// A file of the bundle, with what binds its bytes to the MACed manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInfo {
    /// Its path in the ZIP, `/`-separated, as the spec's bundle manifest lists it.
    pub path: String,
    /// Which part of the bundle it is (spec source, rules, timeline, …): decides how it is checked.
    pub part: Part,
    /// Its length in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The manifest's MAC and how it was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacInfo {
    /// [`MAC_ALGORITHM`].
    pub algorithm: String,
    /// The id of the key it was computed with (`pipc verify-log` prints it too).
    pub key_id: String,
    /// The MAC, lowercase hex.
    pub value: String,
}

impl Manifest {
    fn digest(&self) -> Result<[u8; 32], serde_json::Error> {
        let unsigned = Manifest { mac: None, ..self.clone() };
        let mut h = Sha256::new();
        h.update(MAC_DOMAIN);
        h.update(serde_json::to_vec(&unsigned)?);
        Ok(h.finalize().into())
    }

    /// Computes the MAC over everything else with `key` and records it.
    pub fn sign(&mut self, key: &LedgerKey) -> Result<(), serde_json::Error> {
        let mac = key.mac_entry(&self.digest()?);
        self.mac = Some(MacInfo { algorithm: MAC_ALGORITHM.to_string(), key_id: key.id_hex(), value: to_hex(&mac) });
        Ok(())
    }

    /// The files the signed parts add (range proofs, cosigned notes), each once, in ledger order.
    pub fn signed_files(&self) -> Vec<&FileRef> {
        self.ledgers.iter().filter_map(|l| l.signed.as_ref()).flat_map(|s| std::iter::once(&s.proof).chain(s.witnessed.as_ref())).collect()
    }

    /// Whether the MAC is right for this key (constant-time comparison).
    pub fn mac_ok(&self, key: &LedgerKey) -> bool {
        let Some(mac) = &self.mac else { return false };
        let Some(value) = from_hex(&mac.value).ok().and_then(|v| <[u8; 32]>::try_from(v).ok()) else { return false };
        self.digest().is_ok_and(|d| key.verify_entry(&d, &value)) && mac.algorithm == MAC_ALGORITHM
    }

    /// The file's bytes: pretty JSON and a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }
}
