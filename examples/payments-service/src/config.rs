//! The service's configuration (fee schedule and routing rules) in the spec's versioned
//! store `config_store`, kept on disk across restarts.
//!
//! The file (`config.json` in the data folder) holds the current state and every kept diff
//! with the digest of the version it makes, exactly as the store recorded them; loading it
//! rebuilds the store with [`VersionedStore::restore`]. The diffs are not re-verified on
//! load: a rollback verifies each revert against its recorded digest, so a file altered on
//! disk shows up as a rollback mismatch (counted, alerted on and in the ledger), never as a
//! silently wrong configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pip_runtime::evidence::EvidenceSink;
use pip_runtime::hex::{from_hex, to_hex};
use pip_runtime::metrics::Metrics;
use pip_runtime::versioned::{Diff, Digest, Edit, StoreConfig, StoreError, TypedStore, VersionedStore};
use serde::{Deserialize, Serialize};

/// The spec's `versioned config_store { history = 10000 }`.
pub const STORE: &str = "config_store";
/// Versions kept (the spec's `history`).
pub const HISTORY: u64 = 10_000;

/// The configuration kept in `config_store`: fees per card network and the acquirer per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// Fee per payment in basis points, by card network.
    pub fee_bps: BTreeMap<String, u32>,
    /// Acquirer name per currency code (`EUR`: `acquirer-eu` by default), versioned with the fees.
    pub routes: BTreeMap<String, String>,
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule {
            fee_bps: BTreeMap::from([("amex".into(), 250), ("visa".into(), 120)]),
            routes: BTreeMap::from([("EUR".into(), "acquirer-eu".into()), ("USD".into(), "acquirer-us".into())]),
        }
    }
}

/// Why the configuration could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading, encoding, writing or renaming the configuration file failed.
    #[error("cannot {op} `{path}`: {source}")]
    Io {
        /// The operation, as a verb for the message (`read`, `write`, `replace`).
        op: &'static str,
        /// The configuration file (`config.json` in the data folder).
        path: PathBuf,
        /// The operating system's (or the encoder's) error.
        source: std::io::Error,
    },
    /// The file is not a saved configuration.
    #[error("`{path}` is not a saved configuration: {reason}")]
    Format {
        /// The configuration file (`config.json` in the data folder).
        path: PathBuf,
        /// Why it does not load: not JSON of the saved shape, or a digest or edit that is not hex.
        reason: String,
    },
    /// The versioned store refused: a rollback target not kept, a mismatch, or a saved history that does not add up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `config.json` holds: the current state and the kept diffs, enough for [`VersionedStore::restore`].
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    version: u64,
    oldest_sha256: String,
    /// The current state (the JSON text of the [`FeeSchedule`]).
    state: String,
    /// The kept diffs, oldest first.
    history: Vec<SavedDiff>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedDiff {
    /// Digest of the version the diff makes.
    sha256: String,
    edits: Vec<SavedEdit>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedEdit {
    offset: usize,
    old: String,
    new: String,
}

/// The versioned configuration and where it is saved.
#[derive(Debug)]
pub struct ConfigStore {
    store: TypedStore<FeeSchedule>,
    path: PathBuf,
}

impl ConfigStore {
    /// Loads `path`, or starts at version 0 with the default schedule when it does not exist.
    pub fn load(spec: &str, path: &Path, metrics: &Metrics, evidence: Arc<dyn EvidenceSink>) -> Result<ConfigStore, ConfigError> {
        let config = StoreConfig::new(spec, STORE, HISTORY);
        // A regular file only: a FIFO or a device at this path must not hang or flood the service.
        let store = match pip_runtime::fsread::read(path, u64::MAX, "a configuration store") {
            Ok(bytes) => {
                let format = |reason: String| ConfigError::Format { path: path.to_path_buf(), reason };
                let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?;
                let oldest = digest(&saved.oldest_sha256).ok_or_else(|| format("`oldest_sha256` is not a SHA-256 in hex".into()))?;
                let mut history = Vec::with_capacity(saved.history.len());
                for d in saved.history {
                    let sha = digest(&d.sha256).ok_or_else(|| format(format!("`{}` is not a SHA-256 in hex", d.sha256)))?;
                    let edits = d
                        .edits
                        .into_iter()
                        .map(|e| Some(Edit { offset: e.offset, old: from_hex(&e.old).ok()?, new: from_hex(&e.new).ok()? }))
                        .collect::<Option<Vec<Edit>>>()
                        .ok_or_else(|| format("an edit is not in hex".into()))?;
                    history.push((Diff::new(edits).map_err(|e| format(e.to_string()))?, sha));
                }
                let store = VersionedStore::restore(config, saved.state.into_bytes(), saved.version, oldest, history, metrics)?;
                TypedStore::from_store(store.with_evidence(evidence))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                TypedStore::new(config, FeeSchedule::default(), metrics)?.with_evidence(evidence)
            }
            Err(source) => return Err(ConfigError::Io { op: "read", path: path.to_path_buf(), source }),
        };
        Ok(ConfigStore { store, path: path.to_path_buf() })
    }

    /// The fee schedule of the current version.
    pub fn get(&self) -> &FeeSchedule {
        self.store.get()
    }

    /// The current version and its digest.
    pub fn version(&self) -> (u64, Digest) {
        (self.store.store().version(), self.store.store().digest())
    }

    /// Makes `value` the next version and saves.
    pub fn upgrade(&mut self, value: FeeSchedule) -> Result<u64, ConfigError> {
        let v = self.store.upgrade(value)?;
        self.save()?;
        Ok(v)
    }

    /// Rolls back to `version` (verified) and saves whatever version the store is at then.
    pub fn rollback_to(&mut self, version: u64) -> Result<(), ConfigError> {
        let result = self.store.rollback_to(version);
        self.save()?;
        Ok(result?)
    }

    /// Writes the file (to a temporary file first, then renamed over it).
    pub fn save(&self) -> Result<(), ConfigError> {
        let s = self.store.store();
        let oldest = s.oldest_version();
        let history = (oldest + 1..=s.version())
            .filter_map(|v| {
                let (diff, digest) = (s.diff_of(v)?, s.digest_of(v)?);
                let edits = diff.edits().iter().map(|e| SavedEdit { offset: e.offset, old: to_hex(&e.old), new: to_hex(&e.new) }).collect();
                Some(SavedDiff { sha256: digest.to_string(), edits })
            })
            .collect();
        let saved = Saved {
            version: s.version(),
            oldest_sha256: s.digest_of(oldest).unwrap_or_else(|| s.digest()).to_string(),
            state: String::from_utf8_lossy(&s.state().to_vec()).into_owned(),
            history,
        };
        let io = |op, source| ConfigError::Io { op, path: self.path.clone(), source };
        let text = serde_json::to_vec_pretty(&saved).map_err(|e| io("encode", std::io::Error::other(e)))?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io("replace", e))
    }
}

fn digest(text: &str) -> Option<Digest> {
    from_hex(text).ok()?.try_into().ok().map(Digest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use pip_runtime::evidence::{Event, EvidenceError};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Sink(Mutex<Vec<Event>>);
    impl EvidenceSink for Sink {
        fn record(&self, event: Event) -> Result<u64, EvidenceError> {
            let mut e = self.0.lock().unwrap();
            e.push(event);
            Ok(e.len() as u64)
        }
    }

    fn schedule(visa: u32) -> FeeSchedule {
        let mut s = FeeSchedule::default();
        s.fee_bps.insert("visa".into(), visa);
        s
    }

    #[test]
    fn versions_survive_a_restart_and_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let m = Metrics::default();
        let mut c = ConfigStore::load("payments", &path, &m, Arc::new(Sink::default())).unwrap();
        assert_eq!(c.upgrade(schedule(130)).unwrap(), 1);
        assert_eq!(c.upgrade(schedule(140)).unwrap(), 2);
        let mut again = ConfigStore::load("payments", &path, &m, Arc::new(Sink::default())).unwrap();
        assert_eq!(again.version(), c.version());
        assert_eq!(again.get().fee_bps["visa"], 140);
        again.rollback_to(0).unwrap();
        assert_eq!(again.get(), &FeeSchedule::default());
        assert_eq!(ConfigStore::load("payments", &path, &m, Arc::new(Sink::default())).unwrap().version().0, 0);
    }

    #[test]
    fn a_diff_altered_on_disk_is_a_rollback_mismatch_not_a_wrong_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let m = Metrics::default();
        let mut c = ConfigStore::load("payments", &path, &m, Arc::new(Sink::default())).unwrap();
        c.upgrade(schedule(130)).unwrap();
        c.upgrade(schedule(140)).unwrap();
        let mut saved: Saved = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        // What version 1's diff says the bytes were before it, altered.
        let old = &mut saved.history[0].edits[0].old;
        let mut bytes = from_hex(old).unwrap();
        bytes[0] ^= 0x01;
        *old = to_hex(&bytes);
        std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();
        let sink = Arc::new(Sink::default());
        let mut c = ConfigStore::load("payments", &path, &m, sink.clone()).unwrap();
        let err = c.rollback_to(0).unwrap_err();
        assert!(matches!(err, ConfigError::Store(StoreError::RollbackMismatch(_))), "{err}");
        assert_eq!(c.version().0, 1);
        assert_eq!(c.get().fee_bps["visa"], 130);
        assert_eq!(sink.0.lock().unwrap().last().unwrap().result, "mismatch");
    }

    #[test]
    fn a_file_that_is_not_a_saved_configuration_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{\"version\": 1}").unwrap();
        let err = ConfigStore::load("payments", &path, &Metrics::default(), Arc::new(Sink::default())).unwrap_err();
        assert!(err.to_string().contains("is not a saved configuration"), "{err}");
    }
}
