//! Versioned state with verified rollback: the spec's `versioned` blocks.
//!
//! A [`VersionedStore`] holds a byte state and its versions `oldest ..= current`. Each
//! upgrade stores a [`Diff`] (the replaced and the replacing bytes of every changed range, so
//! its size follows the change, not the state) and the [`Digest`] of the version it makes.
//! [`VersionedStore::rollback_to`] reverts diffs one at a time and checks each result against
//! the recorded digest: a revert that does not reproduce its version is a violation — counted
//! in `pip_versioned_rollback_mismatches_total`, recorded as evidence when a sink is set, and
//! returned as [`StoreError::RollbackMismatch`] with the state left at the last version that
//! verified. Never a silent wrong state.
//!
//! [`TypedStore`] keeps a serde value on top, stored as JSON.
//!
//! # State and digests
//! The state is held as its content-defined chunks (~2.5 KiB on average, cut where a rolling
//! hash of the content says, not at fixed offsets), each in a buffer of its own, and version
//! digests are SHA-256 Merkle roots over those chunks whose upper levels are grouped by
//! content too (see [`digest`]). So an edit — in place, an insertion or a removal — moves
//! only the cuts and groups next to it: it copies and re-hashes a chunk or two and a node or
//! two per level, and verifying a change to a 16 MiB state costs microseconds, not the
//! ~10 ms that re-hashing all of it takes, nor the ~0.3 ms that moving the bytes after an
//! insertion in one contiguous buffer would. [`VersionedStore::state`] is therefore a view
//! ([`State`]) that compares, reads and copies, rather than a slice.
//!
//! # History
//! At most `history` diffs are kept: the upgrade that would keep one more drops the oldest
//! diff and its digest, and that version can no longer be rolled back to. A rollback to `v`
//! drops the versions after `v`: the next upgrade makes version `v + 1` again (the evidence
//! ledger keeps the record of both).
//!
//! A store is a plain value: wrap it in a `Mutex` or `RwLock` to share it between threads.

pub mod diff;
pub mod digest;
mod state;
mod store;
mod typed;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::metrics::{Metrics, StoreLabels};

pub use diff::{Diff, DiffError, Edit};
pub use digest::{Digest, state_digest};
pub use state::{State, StateReader};
pub use store::VersionedStore;
pub use typed::TypedStore;

/// The `subsystem` of the evidence events a store records.
pub const EVIDENCE_SUBSYSTEM: &str = "versioned";

/// One `versioned` block of a spec, as the runtime needs it (filled from the compiler's IR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The spec id (`spec payments`), the `spec` label of the store's metrics.
    pub spec: String,
    /// The `versioned` construct's name, the `store` label of its metrics and the resource of its events.
    pub name: String,
    /// Most diffs kept, i.e. how many versions back a rollback can go (at least 1).
    pub history: u64,
}

impl StoreConfig {
    /// A store keeping `history` versions.
    pub fn new(spec: impl Into<String>, name: impl Into<String>, history: u64) -> StoreConfig {
        StoreConfig { spec: spec.into(), name: name.into(), history }
    }
}

/// Why a store operation failed. After any error the state is a version whose digest
/// verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// [`VersionedStore::new`] or [`VersionedStore::restore`] refused the configuration or the saved history.
    #[error("versioned store `{store}` of spec `{spec}`: {reason}")]
    InvalidConfig {
        /// The spec id, as in [`StoreConfig::spec`].
        spec: String,
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
        /// What is wrong, in words: a `history` of zero, or a saved history that does not add up.
        reason: String,
    },
    /// A rollback target outside the versions kept.
    #[error("version {requested} of store `{store}` is not kept (versions {oldest} to {current} are)")]
    VersionUnavailable {
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
        /// The rollback target: above `current`, or below `oldest`.
        requested: u64,
        /// [`VersionedStore::oldest_version`]: at most `history` versions back from `current`.
        oldest: u64,
        /// [`VersionedStore::version`] when the rollback was asked for; the state is still there.
        current: u64,
    },
    /// A diff that does not fit the current state; nothing changed.
    #[error("the diff does not fit version {version} of store `{store}`: {source}")]
    Diff {
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
        /// The version the diff was built against; the state is still at it.
        version: u64,
        /// Why the diff does not fit: an edit out of bounds or an `old` the state does not hold.
        source: DiffError,
    },
    /// A revert did not reproduce its recorded version (a violation).
    #[error("{0}")]
    RollbackMismatch(Box<Mismatch>),
    /// The evidence of an operation could not be recorded, so the operation was undone.
    #[error("the {action} of store `{store}` was undone because its evidence could not be recorded: {reason}")]
    Evidence {
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
        /// `upgrade` or `rollback`.
        action: &'static str,
        /// The sink's error.
        reason: String,
    },
    /// The current version is `u64::MAX`, so an upgrade has no next number; nothing changed.
    #[error("store `{store}` has no version number left")]
    VersionOverflow {
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
    },
    /// A typed store's value could not be encoded or decoded.
    #[error("the value of store `{store}` could not be {action}: {reason}")]
    Value {
        /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
        store: String,
        /// `encoded` or `decoded`.
        action: &'static str,
        /// The serializer's error.
        reason: String,
    },
}

/// What a rollback found when a revert did not reproduce its recorded version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The store's [`StoreConfig::name`], as its metrics and evidence carry it.
    pub store: String,
    /// The version the rollback started from.
    pub from: u64,
    /// The version [`VersionedStore::rollback_to`] was asked for.
    pub target: u64,
    /// The version whose revert did not verify.
    pub failed_at: u64,
    /// The digest recorded for version `failed_at` when it was made, which the revert should have reproduced.
    pub expected: Digest,
    /// What the revert produced (`None`: the stored diff did not even fit the state).
    pub actual: Option<Digest>,
    /// The version the state is at now (verified).
    pub state_version: u64,
    /// Set when the violation could not be recorded as evidence either.
    pub evidence_error: Option<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rollback of store `{}` from version {} to {} failed verification at version {}; the state is at version {}",
            self.store, self.from, self.target, self.failed_at, self.state_version
        )?;
        if let Some(e) = &self.evidence_error {
            write!(f, " (the violation could not be recorded: {e})")?;
        }
        Ok(())
    }
}

/// The metric series of one store, created when it is built.
#[derive(Debug, Clone)]
struct StoreSeries {
    version: Gauge,
    upgrades: Counter,
    rollbacks: Counter,
    mismatches: Counter,
}

impl StoreSeries {
    fn new(metrics: &Metrics, config: &StoreConfig) -> StoreSeries {
        let labels = StoreLabels { spec: config.spec.clone(), store: config.name.clone() };
        StoreSeries {
            version: metrics.versioned_version.get_or_create_owned(&labels),
            upgrades: metrics.versioned_upgrades.get_or_create_owned(&labels),
            rollbacks: metrics.versioned_rollbacks.get_or_create_owned(&labels),
            mismatches: metrics.versioned_rollback_mismatches.get_or_create_owned(&labels),
        }
    }
}

#[cfg(test)]
mod tests;
