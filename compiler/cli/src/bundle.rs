//! Incident bundles: a ZIP an auditor verifies offline with the ledger key.
//!
//! [`build`] takes a spec's `bundle` block, a ledger and a time window and writes the ZIP the
//! spec's bundle manifest (`generated/bundles/<spec>.manifest.json`) lists: the ledger slice
//! ([`slice`]), the spec sources, the generated artifacts, the timeline ([`timeline`]) and
//! `manifest.json` ([`manifest`]). [`verify`] reads an untrusted ZIP in memory ([`archive`])
//! and checks all of it, rebuilding the artifacts from the bundled spec.

pub mod archive;
mod build;
pub mod manifest;
pub mod slice;
pub mod timeline;
mod verify;

pub use build::{BuildOptions, Built, build, parse_window};
pub use verify::{Verified, verify};

/// Why a bundle could not be built or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The specs could not be read or have errors, or name no such bundle.
    #[error("{0}")]
    Spec(String),
    /// The ledger could not be read or does not verify.
    #[error("{0}")]
    Ledger(String),
    /// A usage problem (window, options).
    #[error("{0}")]
    Usage(String),
    /// The ledger's window verifies, but the whole ledger does not, and the bundle was not
    /// asked to carry its anomalies.
    #[error("{0}")]
    Anomalies(String),
    /// The bundle would be larger than its cap.
    #[error(
        "the bundle would be {size} bytes, over the {cap}-byte cap of bundle `{bundle}` ({source_ref}); its ledger slice holds {entries} entries ({slice_bytes} bytes before compression)"
    )]
    TooLarge {
        /// What it would need.
        size: u64,
        /// The cap.
        cap: u64,
        /// The bundle.
        bundle: String,
        /// Where the cap is set.
        source_ref: String,
        /// Entries in the window.
        entries: u64,
        /// Bytes of the slice.
        slice_bytes: u64,
    },
    /// The archive is refused before anything is checked.
    #[error("the archive is refused: {0}")]
    Archive(#[from] archive::ArchiveError),
    /// A check of the bundle failed.
    #[error("{0}")]
    Invalid(String),
    /// Writing the output failed.
    #[error("{0}")]
    Io(String),
}

impl BundleError {
    /// What to do about it, when there is something to say.
    pub fn help(&self) -> Option<String> {
        match self {
            BundleError::TooLarge { .. } => Some(
                "narrow the window (`--window`, or `--from`/`--to`), or raise `max_size` in the spec's bundle block; nothing is left out silently"
                    .to_string(),
            ),
            BundleError::Ledger(_) => Some("run `pipc verify-log` on the ledger to see every anomaly".to_string()),
            BundleError::Anomalies(_) => Some(
                "run `pipc verify-log` on the ledger to see every anomaly; to bundle the window anyway, with the anomalies recorded in its manifest and timeline (and reported by `pipc verify-bundle`), pass `--allow-anomalies`"
                    .to_string(),
            ),
            _ => None,
        }
    }
}
