//! pip's runtime: the evidence a service produces and the checks it runs.
//!
//! - [`ledger`]: the HMAC-SHA256 hash-chained, tamper-evident ledger with checkpoints.
//! - [`limiter`]: the exact sliding-window, per-key rate limiter.
//! - [`versioned`]: versioned state with diff/patch upgrades and verified rollback.
//! - [`metrics`]: every metric above, under the names of [`pip_conventions`].
//! - [`clock`]: time, injectable so that tests are deterministic.
//! - [`evidence`]: evidence events and the sink trait the ledger implements.
//! - [`invariant`]: what `#[pip_invariant]` expands to calls into: counting checks, recording
//!   violations as evidence, [`Violation`].
//! - [`hex`]: hex text of bytes (hashes, MACs, ids, keys) and back.
//! - [`global`]: the process-wide [`runtime`]: one metric registry, the registered ledgers.
//! - [`untrusted`]: text read from ledgers and bundles, escaped for a terminal.
//!
//! A service depends on this crate alone: it re-exports the [`pip_invariant`] attribute.
#![warn(missing_docs)]

pub mod clock;
pub mod declared;
pub mod evidence;
pub mod fsread;
pub mod global;
pub mod hex;
#[cfg(feature = "axum")]
pub mod http;
pub mod invariant;
pub mod ledger;
pub mod limiter;
pub mod metrics;
pub mod untrusted;
pub mod versioned;

pub use global::{Runtime, runtime};
pub use invariant::Violation;
pub use pip_macros::{pip_invariant, pip_spec};
