//! Incident bundles: a ZIP an auditor verifies offline with the ledger key, or, when the
//! ledger signs its checkpoints, with its public verifier key alone ([`signed`]).
//!
//! [`build`] takes a spec's `bundle` block, a ledger and a time window and returns the ZIP the
//! spec's bundle manifest (`generated/bundles/<spec>.manifest.json`) lists: the ledger slice
//! ([`pip_runtime::ledger::slice`]), the spec sources, the generated artifacts, the timeline
//! ([`timeline`]) and `manifest.json` ([`manifest`]). [`verify`] reads an untrusted ZIP in
//! memory ([`archive`]) and checks all of it, rebuilding the artifacts from the bundled spec;
//! [`verify_file`] reads the ZIP from a path first, refusing anything but a regular file;
//! [`verify_with`] and [`verify_file_with`] take the ledger key, the verifier keys, or both.
//!
//! Everything here is a library call returning a [`BundleError`]: `pipc bundle` and `pipc
//! verify-bundle` only parse arguments, call these and print the outcome, and a service or
//! an auditor's tool can do the same.
//!
//! A failed check is data: `Err(BundleError::Invalid(Invalid::HashMismatch { path, .. }))`
//! names the altered file, without parsing the message.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = pip_runtime::ledger::LedgerKey::from_hex(&"5a".repeat(32), "example")?;
//! let limits = pip_bundle::archive::Limits::default();
//! let verified = pip_bundle::verify_file(std::path::Path::new("incident.zip"), &key, &limits)?;
//! println!("{} entries bound to {} checkpoints", verified.entries, verified.checkpoints);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod alerts;
pub mod archive;
mod build;
mod error;
pub mod manifest;
mod output;
mod progress;
pub mod signed;
mod spec;
pub mod timeline;
mod verify;

pub use build::{BuildOptions, Built, build, parse_window};
pub use error::{BundleError, Invalid, LedgerFault, LedgerProblem, OutputError, SpecError, UsageError, WholeLedgerAnomalies};
pub use output::check_output;
pub use progress::{Progress, Silent};
pub use spec::expectations;
pub use verify::{Keys, Verified, verify, verify_file, verify_file_with, verify_with};
