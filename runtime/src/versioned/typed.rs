//! A versioned serde value, stored as JSON in a [`VersionedStore`].

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{StoreConfig, StoreError, VersionedStore};
use crate::evidence::EvidenceSink;
use crate::metrics::Metrics;

/// A versioned value of type `T`: every upgrade stores the diff between the JSON encodings,
/// every rollback is verified as in [`VersionedStore`].
///
/// Encodings should be deterministic for diffs to stay small: prefer `BTreeMap` to
/// `HashMap` in `T` (a `HashMap` may list its entries in another order each time).
#[derive(Debug)]
pub struct TypedStore<T> {
    store: VersionedStore,
    value: T,
}

impl<T: Serialize + DeserializeOwned> TypedStore<T> {
    /// A store at version 0 holding `value`.
    pub fn new(config: StoreConfig, value: T, metrics: &Metrics) -> Result<TypedStore<T>, StoreError> {
        let bytes = encode(&config.name, &value)?;
        Ok(TypedStore { store: VersionedStore::new(config, bytes, metrics)?, value })
    }

    /// A typed store over `store` (e.g. one from [`VersionedStore::restore`]), its value
    /// decoded from the current state.
    pub fn from_store(store: VersionedStore) -> Result<TypedStore<T>, StoreError> {
        let value = serde_json::from_reader(store.state().reader()).map_err(|e| StoreError::Value {
            store: store.config().name.clone(),
            action: "decoded",
            reason: format!("{e} (at version {})", store.version()),
        })?;
        Ok(TypedStore { store, value })
    }

    /// Records upgrades, rollbacks and mismatches in `sink`.
    pub fn with_evidence(self, sink: Arc<dyn EvidenceSink>) -> TypedStore<T> {
        TypedStore { store: self.store.with_evidence(sink), value: self.value }
    }

    /// The value of the current version, kept decoded next to its JSON bytes.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The byte store underneath (versions, digests, diffs).
    pub fn store(&self) -> &VersionedStore {
        &self.store
    }

    /// Makes `value` the next version.
    pub fn upgrade(&mut self, value: T) -> Result<u64, StoreError> {
        let bytes = encode(&self.store.config().name, &value)?;
        let version = self.store.upgrade(&bytes)?;
        self.value = value;
        Ok(version)
    }

    /// Rolls back to `target` (verified). Whatever the outcome, [`TypedStore::get`] then
    /// returns the value of the version the state is at.
    pub fn rollback_to(&mut self, target: u64) -> Result<(), StoreError> {
        let start = self.store.version();
        let result = self.store.rollback_to(target);
        if self.store.version() != start {
            self.value = serde_json::from_reader(self.store.state().reader()).map_err(|e| StoreError::Value {
                store: self.store.config().name.clone(),
                action: "decoded",
                reason: format!("{e} (at version {})", self.store.version()),
            })?;
        }
        result
    }
}

fn encode<T: Serialize>(store: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Value { store: store.to_string(), action: "encoded", reason: e.to_string() })
}
