//! [`Invalid`]: which check of a bundle failed, with the file or ledger it concerns. The
//! checks run in this order; the first that fails is the one reported.

use pip_compiler::emit::EmitError;
use pip_compiler::emit::bundle::BUNDLE_MANIFEST;
use pip_runtime::ledger::slice::SliceError;
use pip_runtime::ledger::{Anomaly, Identity};

use pip_runtime::untrusted::shown;

/// A failed check of a bundle whose archive reads. Texts in paths and names come from the
/// (MAC-checked or not yet checked) manifest; the one from a slice header is escaped.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// The archive has no `manifest.json`.
    #[error("the archive has no `manifest.json`")]
    NoManifest,
    /// `manifest.json` is not JSON of a bundle manifest.
    #[error("`manifest.json` is not a bundle manifest: {0}")]
    ManifestUnparsable(serde_json::Error),
    /// The manifest is of another format or version than this build reads.
    #[error(
        "`manifest.json` is format `{format}` version {version}; this pipc reads `{}` version {}",
        crate::manifest::FORMAT,
        crate::manifest::FORMAT_VERSION
    )]
    ManifestFormat {
        /// The manifest's `format`.
        format: String,
        /// The manifest's `format_version`.
        version: u32,
    },
    /// The parsed manifest could not be serialised again to compare it.
    #[error(transparent)]
    ManifestUnencodable(serde_json::Error),
    /// The manifest parses, but its bytes are not those pipc writes for its content (extra
    /// fields, another order or spacing): only the canonical form is MACed.
    #[error("`manifest.json` was altered: it is not byte for byte what pipc writes for its content")]
    ManifestNotCanonical,
    /// The manifest has no `mac`.
    #[error("`manifest.json` carries no MAC")]
    NoMac,
    /// The manifest was signed with another key.
    #[error("the manifest was signed with key id {signed_with}, not with this key (id {key})")]
    OtherKey {
        /// The key id (hex) the manifest's MAC names.
        signed_with: String,
        /// The id (hex) of the key given to verify with.
        key: String,
    },
    /// The manifest's MAC does not verify with the key.
    #[error("the manifest's MAC does not verify: the manifest was altered")]
    MacMismatch,
    /// The manifest lists a file twice (or lists `manifest.json` itself).
    #[error("the manifest lists `{path}` twice")]
    ListedTwice {
        /// The file's path in the archive.
        path: String,
    },
    /// A listed file is not in the archive.
    #[error("`{path}` is listed in the manifest but missing from the archive")]
    Missing {
        /// The file's path in the archive.
        path: String,
    },
    /// A file's size is not the manifest's.
    #[error("`{path}` was altered: it has {size} bytes, the manifest says {stated}")]
    SizeMismatch {
        /// The file's path in the archive.
        path: String,
        /// Its size in the archive, in bytes.
        size: u64,
        /// The size the manifest states, in bytes.
        stated: u64,
    },
    /// A file's SHA-256 is not the manifest's.
    #[error("`{path}` was altered: its SHA-256 is {sha256}, the manifest says {stated}")]
    HashMismatch {
        /// The file's path in the archive.
        path: String,
        /// Its SHA-256 (lowercase hex).
        sha256: String,
        /// The SHA-256 the manifest states.
        stated: String,
    },
    /// The archive holds a file the manifest does not list.
    #[error("`{path}` is in the archive but not in the manifest")]
    Unlisted {
        /// The file's path in the archive.
        path: String,
    },
    /// A spec source the manifest names is not in the archive.
    #[error("spec source `{path}` is missing")]
    SourceMissing {
        /// The source's path in the archive.
        path: String,
    },
    /// The bundled spec sources do not compile without errors.
    #[error("the bundled spec has errors")]
    SpecErrors,
    /// The bundled sources compile but define no spec of the manifest's name.
    #[error("the bundled sources do not define spec `{spec}`")]
    SpecMissing {
        /// The spec name the manifest states.
        spec: String,
    },
    /// The bundled spec's hash is not the manifest's.
    #[error("the bundled spec's hash is {sha256}, the manifest says {stated}")]
    SpecHashMismatch {
        /// The hash of the spec compiled from the bundled sources.
        sha256: String,
        /// The spec hash the manifest states.
        stated: String,
    },
    /// The bundled spec has no bundle block of the manifest's name.
    #[error("the bundled spec has no bundle `{bundle}`")]
    BundleMissing {
        /// The bundle name the manifest states.
        bundle: String,
    },
    /// The manifest's size cap is not the bundle block's `max_size`.
    #[error("the manifest's size cap {stated} is not the spec's {spec}")]
    SizeCapMismatch {
        /// The cap the manifest states, in bytes.
        stated: u64,
        /// The bundle block's `max_size`, in bytes.
        spec: u64,
    },
    /// The spec's bundle block lists a file the bundle lacks.
    #[error("the spec's bundle `{bundle}` must hold `{path}`, which the bundle lacks")]
    Lacks {
        /// The bundle block's name.
        bundle: String,
        /// The file's path in the archive.
        path: String,
    },
    /// The bundle holds a file the spec's bundle block does not list.
    #[error("`{path}` is not part of the spec's bundle `{bundle}`")]
    NotPart {
        /// The file's path in the archive.
        path: String,
        /// The bundle block's name.
        bundle: String,
    },
    /// An emitter refused the bundled spec, so its artifacts cannot be rebuilt.
    #[error(transparent)]
    Emit(EmitError),
    /// A bundled artifact is not what the bundled spec generates.
    #[error("`{path}` does not match what the bundled spec generates")]
    ArtifactMismatch {
        /// The artifact's path in the archive.
        path: String,
    },
    /// The manifest describes other ledgers than the spec's bundle block includes.
    #[error("the manifest describes ledgers {described:?}; the spec's bundle holds {included:?}")]
    LedgersMismatch {
        /// The ledgers the manifest describes, in its order.
        described: Vec<String>,
        /// The ledgers the bundle block includes, in its order.
        included: Vec<String>,
    },
    /// A ledger's slice is not in the archive.
    #[error("the slice of ledger `{ledger}` is missing")]
    SliceMissing {
        /// The ledger's name.
        ledger: String,
    },
    /// A ledger's slice does not decode.
    #[error("ledger `{ledger}`: {source}")]
    SliceUndecodable {
        /// The ledger's name.
        ledger: String,
        /// Why the bytes are not exactly a slice's encoding (magic, version, a cut, a record).
        source: SliceError,
    },
    /// A slice (or its manifest entry) was written with another key.
    #[error("ledger `{ledger}` was written with key id {written_with}, not with this key (id {key})")]
    SliceOtherKey {
        /// The ledger's name.
        ledger: String,
        /// The key id (hex) in the slice's header.
        written_with: String,
        /// The id (hex) of the key given to verify with.
        key: String,
    },
    /// The slice belongs to another ledger id than the manifest names (another ledger's
    /// slice written with the same key).
    #[error("the slice of ledger `{ledger}` belongs to ledger id {id}, not to the ledger id {stated} the manifest names")]
    SliceIdentityMismatch {
        /// The ledger's name.
        ledger: String,
        /// The ledger id (hex) in the slice.
        id: String,
        /// The ledger id the manifest names.
        stated: String,
    },
    /// The slice's identity names another spec or ledger.
    #[error("the slice of ledger `{ledger}` belongs to {}", shown(identity.to_string().as_bytes()))]
    SliceForeign {
        /// The ledger's name.
        ledger: String,
        /// The identity in the slice (untrusted text: escaped when shown).
        identity: Box<Identity>,
    },
    /// The slice's entries, anchor or checkpoints are not those the manifest describes.
    #[error("the slice of ledger `{ledger}` does not match its description in the manifest")]
    SliceDescriptionMismatch {
        /// The ledger's name.
        ledger: String,
    },
    /// An entry of the slice lies outside the manifest's window.
    #[error("entry seq {seq} of ledger `{ledger}` lies outside the bundle's window")]
    OutsideWindow {
        /// The ledger's name.
        ledger: String,
        /// The entry's sequence number.
        seq: u64,
    },
    /// The slice's chain does not verify to its checkpoints (or not every entry is bound).
    #[error(
        "the slice of ledger `{ledger}` does not verify ({} anomalies): {}",
        anomalies.len(),
        anomalies.iter().take(3).map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    SliceAnomalies {
        /// The ledger's name.
        ledger: String,
        /// What the verification found; empty when the chain holds but some entry is bound
        /// to no checkpoint.
        anomalies: Vec<Anomaly>,
    },
    /// The evidence gaps the manifest states are not those found in the slice.
    #[error("the evidence gaps the manifest states for ledger `{ledger}` are not those of its slice")]
    GapsMismatch {
        /// The ledger's name.
        ledger: String,
    },
    /// A verifier key was given but the bundle carries no manifest signature.
    #[error(
        "the bundle carries no manifest signature (it was built without a checkpoint signing key), so it verifies only with the ledger key"
    )]
    NoSignature,
    /// The manifest names a signature the archive lacks.
    #[error("the manifest is signed, but the archive has no `manifest.sig`")]
    SignatureMissing,
    /// `manifest.sig` does not verify with the verifier keys.
    #[error("`manifest.sig` does not verify with the verifier key: {source}")]
    SignatureInvalid {
        /// Why.
        source: pip_runtime::ledger::note::NoteError,
    },
    /// `manifest.sig` verifies but signs another manifest.
    #[error("`manifest.sig` does not sign this manifest: {what}")]
    SignatureMismatch {
        /// What differs.
        what: String,
    },
    /// A ledger's signed part does not agree with its slice or its manifest entry.
    #[error("the signed part of ledger `{ledger}` does not match its manifest entry: {what}")]
    SignedDescriptionMismatch {
        /// The ledger's name.
        ledger: String,
        /// What differs.
        what: String,
    },
    /// A range proof is not a range proof document.
    #[error("the range proof of ledger `{ledger}` does not parse: {what}")]
    RangeProofUnparsable {
        /// The ledger's name.
        ledger: String,
        /// Why.
        what: String,
    },
    /// A bundled signed checkpoint does not verify with the verifier keys.
    #[error("the signed checkpoint of ledger `{ledger}` does not verify with the verifier key: {what}")]
    CheckpointInvalid {
        /// The ledger's name.
        ledger: String,
        /// Why.
        what: String,
    },
    /// A bundled checkpoint verifies, but with none of the keys that signed the manifest.
    #[error("the signed checkpoint of ledger `{ledger}` is signed by another key than the manifest")]
    CheckpointOtherSigner {
        /// The ledger's name.
        ledger: String,
    },
    /// The slice's entries and the range proof do not lead to the signed root.
    #[error("the entries of ledger `{ledger}` are not those of its signed checkpoint: {what}")]
    RangeProofFails {
        /// The ledger's name.
        ledger: String,
        /// Why.
        what: String,
    },
    /// A bundled cosigned note is not of the bundled checkpoint.
    #[error("the cosigned notes of ledger `{ledger}` are not all of its bundled checkpoint")]
    WitnessedMismatch {
        /// The ledger's name.
        ledger: String,
    },
    /// A witness key (from the bundled spec) does not parse.
    #[error("a witness key of ledger `{ledger}` is not a verifier key: {what}")]
    WitnessKey {
        /// The ledger's name.
        ledger: String,
        /// Why.
        what: String,
    },
    /// Fewer witnesses cosigned the bundled checkpoint than the quorum asks.
    #[error("the signed checkpoint of size {size} of ledger `{ledger}` has {have} valid witness cosignature(s); {need} are required")]
    QuorumNotMet {
        /// The ledger's name.
        ledger: String,
        /// The checkpoint's size.
        size: u64,
        /// Distinct valid cosignatures.
        have: u32,
        /// The quorum.
        need: u32,
    },
    /// The bundle's checkpoint is older than one the verifier already trusts.
    #[error("the signed checkpoint of ledger `{ledger}` (size {size}) is behind the trusted checkpoint (size {trusted})")]
    BehindTrusted {
        /// The ledger's name.
        ledger: String,
        /// The bundle's checkpoint size.
        size: u64,
        /// The trusted one's.
        trusted: u64,
    },
    /// The bundle's checkpoint has the trusted checkpoint's size but another root: the log
    /// shows two histories.
    #[error("the signed checkpoint of ledger `{ledger}` has the trusted checkpoint's size {size} but another root: the log forked")]
    TrustedRootMismatch {
        /// The ledger's name.
        ledger: String,
        /// The size.
        size: u64,
    },
    /// The trusted checkpoint is of no ledger of the bundle.
    #[error("the trusted checkpoint is of origin `{origin}`, which no signed ledger of the bundle has")]
    TrustedOtherOrigin {
        /// Its origin.
        origin: String,
    },
    /// The timeline could not be rendered again to compare it.
    #[error("cannot render the timeline: {0}")]
    TimelineUnrenderable(handlebars::RenderError),
    /// The bundled timeline is not the one its slices and manifest render to.
    #[error("`{path}` does not match the bundled ledger slices and manifest")]
    TimelineMismatch {
        /// The timeline's path in the archive.
        path: String,
    },
    /// The alert history does not read as one.
    #[error("`{path}` is not an alert history: {reason}")]
    AlertsUnreadable {
        /// Its path in the archive.
        path: String,
        /// What the strict reader said.
        reason: String,
    },
    /// The alert history covers another range than the bundle's window.
    #[error("`{path}` covers another time range than the bundle's window")]
    AlertsOtherWindow {
        /// Its path in the archive.
        path: String,
    },
}

impl Invalid {
    /// The archive path of the file the failed check concerns, when it concerns one file:
    /// `manifest.json` for the manifest's own checks. A ledger's slice is named by its
    /// ledger ([`Invalid::ledger`]) instead.
    pub fn file(&self) -> Option<&str> {
        match self {
            Invalid::NoManifest
            | Invalid::ManifestUnparsable(_)
            | Invalid::ManifestFormat { .. }
            | Invalid::ManifestUnencodable(_)
            | Invalid::ManifestNotCanonical
            | Invalid::NoMac
            | Invalid::OtherKey { .. }
            | Invalid::MacMismatch => Some(BUNDLE_MANIFEST),
            Invalid::NoSignature | Invalid::SignatureMissing | Invalid::SignatureInvalid { .. } | Invalid::SignatureMismatch { .. } => {
                Some(crate::signed::MANIFEST_SIG)
            }
            Invalid::ListedTwice { path }
            | Invalid::Missing { path }
            | Invalid::SizeMismatch { path, .. }
            | Invalid::HashMismatch { path, .. }
            | Invalid::Unlisted { path }
            | Invalid::SourceMissing { path }
            | Invalid::Lacks { path, .. }
            | Invalid::NotPart { path, .. }
            | Invalid::ArtifactMismatch { path }
            | Invalid::TimelineMismatch { path }
            | Invalid::AlertsUnreadable { path, .. }
            | Invalid::AlertsOtherWindow { path } => Some(path),
            _ => None,
        }
    }

    /// The ledger the failed check concerns, when it concerns one.
    pub fn ledger(&self) -> Option<&str> {
        match self {
            Invalid::SliceMissing { ledger }
            | Invalid::SliceUndecodable { ledger, .. }
            | Invalid::SliceOtherKey { ledger, .. }
            | Invalid::SliceIdentityMismatch { ledger, .. }
            | Invalid::SliceForeign { ledger, .. }
            | Invalid::SliceDescriptionMismatch { ledger }
            | Invalid::OutsideWindow { ledger, .. }
            | Invalid::SliceAnomalies { ledger, .. }
            | Invalid::GapsMismatch { ledger }
            | Invalid::SignedDescriptionMismatch { ledger, .. }
            | Invalid::RangeProofUnparsable { ledger, .. }
            | Invalid::CheckpointInvalid { ledger, .. }
            | Invalid::CheckpointOtherSigner { ledger }
            | Invalid::RangeProofFails { ledger, .. }
            | Invalid::WitnessedMismatch { ledger }
            | Invalid::WitnessKey { ledger, .. }
            | Invalid::QuorumNotMet { ledger, .. }
            | Invalid::BehindTrusted { ledger, .. }
            | Invalid::TrustedRootMismatch { ledger, .. } => Some(ledger),
            _ => None,
        }
    }
}
