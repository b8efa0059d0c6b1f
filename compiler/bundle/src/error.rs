//! [`BundleError`]: why a bundle could not be built, read or verified, as data a caller can
//! match on (which check failed, on which file or ledger, with the underlying error), and as
//! the exact text and advice the command line prints.

mod invalid;
mod usage;

use std::path::PathBuf;

use pip_compiler::emit::EmitError;
use pip_compiler::load::SpecsError;
use pip_runtime::ledger::checkpoint::CheckpointError;
use pip_runtime::ledger::slice::SliceError;
use pip_runtime::ledger::{Anomaly, FormatError, VerifyError};

pub use invalid::Invalid;
pub use usage::UsageError;

/// Why a bundle could not be built or does not verify. `pipc` maps [`BundleError::Usage`] and
/// [`BundleError::Read`] to its usage exit code and every other variant to a failed check.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The specs have errors, or do not give what the bundle needs.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A ledger could not be bundled: it does not read as a ledger or its window does not verify.
    #[error(transparent)]
    Ledger(#[from] LedgerFault),
    /// The request itself is wrong (a path, a window, an option); nothing was judged.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The ledger's window verifies, but the whole ledger does not, and the bundle was not
    /// asked to carry its anomalies ([`crate::BuildOptions::allow_anomalies`]).
    #[error(transparent)]
    Anomalies(#[from] WholeLedgerAnomalies),
    /// The bundle would be larger than its cap.
    #[error(
        "the bundle would be {size} bytes, over the {cap}-byte cap of bundle `{bundle}` ({source_ref}); its ledger slice holds {entries} entries ({slice_bytes} bytes before compression)"
    )]
    TooLarge {
        /// The size of the ZIP that was built, in bytes.
        size: u64,
        /// The spec's `max_size`, in bytes.
        cap: u64,
        /// The bundle, qualified as `spec.bundle`.
        bundle: String,
        /// The `file:line` of the bundle block, for the advice to raise `max_size` there.
        source_ref: String,
        /// Entries of the window's slices, all ledgers together.
        entries: u64,
        /// Bytes of the slices before compression, all ledgers together.
        slice_bytes: u64,
    },
    /// The alert history asked for (`--prometheus`) could not be read; no bundle is written.
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertsError),
    /// The archive is refused before anything is checked.
    #[error("the archive is refused: {0}")]
    Archive(#[from] crate::archive::ArchiveError),
    /// A check of the bundle failed: the archive reads, but its content is not what the
    /// manifest, the key or the bundled spec say it must be.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The bundle could not be put together (the timeline, the manifest or the ZIP).
    #[error(transparent)]
    Io(#[from] OutputError),
    /// The bundle file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The path the caller gave, as given (not resolved).
        path: PathBuf,
        /// What reading it said (a missing file, a FIFO or device, a permission).
        source: std::io::Error,
    },
    /// The bundle file is refused unread: it is larger than any bundle may expand to.
    #[error("`{}` is refused: {source}", path.display())]
    Refused {
        /// The path the caller gave, as given (not resolved).
        path: PathBuf,
        /// The refusal, with the size found and the limit.
        source: std::io::Error,
    },
}

impl BundleError {
    /// What to do about it, when there is something to say (`pipc` prints it as `help:`).
    pub fn help(&self) -> Option<String> {
        match self {
            BundleError::TooLarge { .. } => Some(
                "narrow the window (`--window`, or `--from`/`--to`), or raise `max_size` in the spec's bundle block; nothing is left out silently"
                    .to_string(),
            ),
            BundleError::Ledger(_) => Some("run `pipc verify-log` on the ledger to see every anomaly".to_string()),
            BundleError::Usage(UsageError::SigningKey { .. } | UsageError::NoSignedCheckpoint { .. }) => Some(
                "a ledger with signed checkpoints is bundled with its signing key, so that the bundle verifies with the verifier key alone; give it with `--signing-key` (and its signed checkpoints with `--signed`)"
                    .to_string(),
            ),
            BundleError::Anomalies(_) => Some(
                "run `pipc verify-log` on the ledger to see every anomaly; to bundle the window anyway, with the anomalies recorded in its manifest and timeline (and reported by `pipc verify-bundle`), pass `--allow-anomalies`"
                    .to_string(),
            ),
            BundleError::Alerts(crate::alerts::AlertsError::Unreachable { .. }) => Some(
                "check that `--prometheus` is the server's base URL and that it answers from here; raise `--prometheus-timeout` for a long window; nothing was written"
                    .to_string(),
            ),
            BundleError::Alerts(_) => Some(
                "the bundle holds the alert history only as Prometheus answered it in full; retry when it answers, or bundle without `--prometheus`; nothing was written"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// Why the specs give no bundle to build: they have errors, or lack what the bundle lists.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The specs were read and have errors; the diagnostics are inside, for a tool that shows
    /// them (the specs could not be read at all is [`UsageError::Specs`]).
    #[error(transparent)]
    Specs(SpecsError),
    /// An emitter refused the spec, so its artifacts cannot be bundled.
    #[error(transparent)]
    Emit(EmitError),
    /// The spec's bundle manifest names a source file that was not among those loaded.
    #[error("spec source `{name}` is not loaded")]
    SourceNotLoaded {
        /// The source's name as the bundle manifest lists it.
        name: String,
    },
    /// The spec's bundle manifest names an artifact the emitters did not produce.
    #[error("the spec produced no `{artifact}`")]
    NoArtifact {
        /// The artifact's path under `generated/`.
        artifact: String,
    },
    /// The bundle block includes no ledger, so there is no evidence to bundle.
    #[error("the bundle includes no ledger; add `include ledger <name>` to it")]
    NoLedger,
}

/// A ledger that cannot be bundled as evidence, with its name in the spec and its file.
#[derive(Debug, thiserror::Error)]
#[error("ledger `{ledger}` (`{}`): {problem}", path.display())]
pub struct LedgerFault {
    /// The ledger's name in the spec's bundle block.
    pub ledger: String,
    /// The ledger file, as given with `--ledger`.
    pub path: PathBuf,
    /// What is wrong with the ledger; [`BundleError::help`] points to `pipc verify-log` for all of it.
    pub problem: LedgerProblem,
}

/// What is wrong with a ledger that [`LedgerFault`] refuses.
#[derive(Debug, thiserror::Error)]
pub enum LedgerProblem {
    /// The reader found bytes between entries that are not entries.
    #[error("it holds bytes that are not entries")]
    Damaged,
    /// The window's entries could not be decoded.
    #[error(transparent)]
    Window(FormatError),
    /// Verifying the whole ledger failed (not an anomaly: the files do not read as a ledger).
    #[error(transparent)]
    Verify(VerifyError),
    /// The verification found no header whose MAC holds, so the ledger's identity is unknown.
    #[error("its verification settled on no identity")]
    NoIdentity,
    /// The checkpoint file does not read as one.
    #[error(transparent)]
    Checkpoints(CheckpointError),
    /// Entries of the window fail verification; every one is listed (runs of alike ones as one).
    #[error(
        "{} anomal{} in the window, so it cannot be bundled as evidence: {}",
        count(.0),
        if count(.0) == 1 { "y" } else { "ies" },
        first_three(.0, false)
    )]
    WindowAnomalies(Vec<Anomaly>),
    /// The window could not be encoded as a slice.
    #[error(transparent)]
    Slice(SliceError),
    /// Its signed checkpoints cannot give the slice's signed part (none verifies with the
    /// signing key, the tree cannot be read, or the entries do not match the signed root).
    #[error("signed checkpoints: {0}")]
    Signed(String),
}

/// The window verifies, but the ledger around it does not, and the bundle was not asked to
/// carry the anomalies: a bundle made silently from it would look like intact evidence.
#[derive(Debug, thiserror::Error)]
#[error(
    "ledger `{ledger}` (`{}`) does not verify: {} anomal{}: {}",
    path.display(),
    count(anomalies),
    if count(anomalies) == 1 { "y" } else { "ies" },
    first_three(anomalies, true)
)]
pub struct WholeLedgerAnomalies {
    /// The ledger's name in the spec's bundle block.
    pub ledger: String,
    /// The ledger file, as given with `--ledger`.
    pub path: PathBuf,
    /// Every anomaly the whole-file verification found (runs of alike ones as one).
    pub anomalies: Vec<Anomaly>,
}

/// Why a built bundle could not be serialised. None of these depends on the input: each is a
/// failure of a renderer or encoder on data this crate made.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The timeline template failed to render.
    #[error("cannot render the timeline: {0}")]
    Timeline(handlebars::RenderError),
    /// The manifest could not be serialised (to sign it, or to write it).
    #[error(transparent)]
    Manifest(serde_json::Error),
    /// The manifest could not be signed.
    #[error("cannot sign the manifest: {0}")]
    Sign(String),
    /// `alerts.json` could not be serialised.
    #[error("cannot write alerts.json: {0}")]
    Alerts(serde_json::Error),
    /// The ZIP writer failed (it writes to memory: this is never a disk error).
    #[error("cannot write the archive: {0}")]
    Archive(zip::result::ZipError),
}

/// Anomalies counted as `pipc verify-log` counts them: a run of alike ones as its length.
fn count(anomalies: &[Anomaly]) -> u64 {
    anomalies.iter().map(Anomaly::count).sum()
}

/// The first three anomalies, `; `-separated, then `; …` when `ellipsis` and there are more.
fn first_three(anomalies: &[Anomaly], ellipsis: bool) -> String {
    let mut shown: Vec<String> = anomalies.iter().take(3).map(ToString::to_string).collect();
    if ellipsis && anomalies.len() > 3 {
        shown.push("…".to_string());
    }
    shown.join("; ")
}
