//! The byte store: state, diffs, digests, verified rollback, metrics and evidence.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use serde_json::json;

use super::diff::{Diff, DiffError, Direction, Edit};
use super::digest::{Digest, Shape};
use super::state::{Chunked, State};
use super::{EVIDENCE_SUBSYSTEM, Mismatch, StoreConfig, StoreError, StoreSeries};
use crate::evidence::{Event, EvidenceSink};
use crate::metrics::Metrics;

/// A versioned byte state (see the [module docs](super)).
pub struct VersionedStore {
    config: StoreConfig,
    history: usize,
    state: Chunked,
    version: u64,
    // INVARIANT: `digests.len() == diffs.len() + 1`; `digests[i]` is the digest of version
    // `oldest + i` and `diffs[i]` turns version `oldest + i` into `oldest + i + 1`, where
    // `oldest = version - diffs.len()`; the last digest is the digest of `state`.
    digests: VecDeque<Digest>,
    diffs: VecDeque<Diff>,
    series: StoreSeries,
    evidence: Option<Arc<dyn EvidenceSink>>,
}

impl std::fmt::Debug for VersionedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionedStore")
            .field("config", &self.config)
            .field("version", &self.version)
            .field("oldest_version", &self.oldest_version())
            .field("len", &self.state.len())
            .field("digest", &self.digest())
            .finish_non_exhaustive()
    }
}

impl VersionedStore {
    /// A store at version 0 holding `initial`.
    pub fn new(config: StoreConfig, initial: Vec<u8>, metrics: &Metrics) -> Result<VersionedStore, StoreError> {
        let invalid =
            |reason: &str| StoreError::InvalidConfig { spec: config.spec.clone(), store: config.name.clone(), reason: reason.to_string() };
        if config.history == 0 {
            return Err(invalid("`history` must keep at least one version"));
        }
        let history = usize::try_from(config.history).map_err(|_| invalid("`history` does not fit in memory"))?;
        let state = Chunked::from_vec(Shape::STATE, initial);
        let series = StoreSeries::new(metrics, &config);
        series.version.set(0);
        Ok(VersionedStore {
            digests: VecDeque::from([state.digest()]),
            config,
            history,
            state,
            version: 0,
            diffs: VecDeque::new(),
            series,
            evidence: None,
        })
    }

    /// A store rebuilt from a saved history (e.g. at start-up, from what [`VersionedStore::digest_of`]
    /// and [`VersionedStore::diff_of`] gave before): `state` is version `version`, `history` the
    /// kept diffs, oldest first, each with the digest of the version it makes, and `oldest` the
    /// digest of the version before the first diff. The state must have the last digest. The
    /// diffs are verified when a rollback reverts them, as always: a saved history that was
    /// altered is a [`StoreError::RollbackMismatch`] then, never a silent wrong state.
    pub fn restore(
        config: StoreConfig,
        state: Vec<u8>,
        version: u64,
        oldest: Digest,
        history: Vec<(Diff, Digest)>,
        metrics: &Metrics,
    ) -> Result<VersionedStore, StoreError> {
        let mut store = VersionedStore::new(config, state, metrics)?;
        let invalid = |store: &VersionedStore, reason: String| StoreError::InvalidConfig {
            spec: store.config.spec.clone(),
            store: store.config.name.clone(),
            reason,
        };
        if !u64::try_from(history.len()).is_ok_and(|n| n <= version) {
            return Err(invalid(&store, format!("a saved history of {} diffs cannot end at version {version}", history.len())));
        }
        let expected = history.last().map_or(oldest, |(_, d)| *d);
        let actual = store.state.digest();
        if actual != expected {
            return Err(invalid(&store, format!("the saved state has digest {actual}, not the recorded {expected} of version {version}")));
        }
        store.digests = std::iter::once(oldest).chain(history.iter().map(|(_, d)| *d)).collect();
        store.diffs = history.into_iter().map(|(d, _)| d).collect();
        store.version = version;
        while store.diffs.len() > store.history {
            store.diffs.pop_front();
            store.digests.pop_front();
        }
        store.series.version.set(i64::try_from(version).unwrap_or(i64::MAX));
        Ok(store)
    }

    /// Records every upgrade, rollback and mismatch in `sink` (the spec's `evidence` ledger).
    pub fn with_evidence(mut self, sink: Arc<dyn EvidenceSink>) -> VersionedStore {
        self.evidence = Some(sink);
        self
    }

    /// The current state (held in content-defined chunks: see [`State`]).
    pub fn state(&self) -> State<'_> {
        State::new(&self.state)
    }

    /// The current version: 0 when made, one more per upgrade, back down on a rollback.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The oldest version a rollback can reach.
    pub fn oldest_version(&self) -> u64 {
        self.version - self.diffs.len() as u64
    }

    /// The current version's digest as recorded when it was made: what a rollback to it must reproduce.
    pub fn digest(&self) -> Digest {
        self.digests.back().copied().unwrap_or_else(|| self.state.digest())
    }

    /// The recorded digest of a kept version.
    pub fn digest_of(&self, version: u64) -> Option<Digest> {
        self.digests.get(usize::try_from(version.checked_sub(self.oldest_version())?).ok()?).copied()
    }

    /// The diff that made a kept version (`None` for the oldest).
    pub fn diff_of(&self, version: u64) -> Option<&Diff> {
        self.diffs.get(usize::try_from(version.checked_sub(self.oldest_version())?.checked_sub(1)?).ok()?)
    }

    /// The spec's settings it was made with: the names on its metrics and events, and `history`.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Bytes held: the state's chunks, the digest tree, the digests and the diffs.
    pub fn memory_bytes(&self) -> usize {
        self.state.heap_bytes() + self.digests.capacity() * size_of::<Digest>() + self.diffs.iter().map(Diff::stored_bytes).sum::<usize>()
    }

    /// Makes `new_state` the next version, storing the diff from the current one (as
    /// [`Diff::between`] computes it; only the bytes between the common prefix and suffix
    /// are copied out of the state to be compared).
    pub fn upgrade(&mut self, new_state: &[u8]) -> Result<u64, StoreError> {
        let diff = self.state.diff_to(new_state);
        self.apply(diff)
    }

    /// Replaces `range` of the current state by `bytes`, as the next version.
    pub fn replace(&mut self, range: Range<usize>, bytes: &[u8]) -> Result<u64, StoreError> {
        let old = self
            .state
            .read(range.clone())
            .ok_or(DiffError::OutOfBounds { offset: range.start, len: self.state.len() })
            .map_err(|source| self.diff_error(source))?;
        let diff = Diff::new(vec![Edit { offset: range.start, old, new: bytes.to_vec() }]).map_err(|source| self.diff_error(source))?;
        self.apply(diff)
    }

    /// Applies `diff` (built against the current state) as the next version.
    pub fn apply(&mut self, diff: Diff) -> Result<u64, StoreError> {
        let version = self.version.checked_add(1).ok_or_else(|| StoreError::VersionOverflow { store: self.config.name.clone() })?;
        let digest = self.run(&diff, Direction::Apply).map_err(|source| self.diff_error(source))?;
        let event = self.event(
            "upgrade",
            "ok",
            json!({ "version": version, "sha256": digest.to_string(), "edits": diff.edits().len(), "diff_bytes": diff.stored_bytes() }),
        );
        if let Err(reason) = self.record(event) {
            // Exact inverse of what was just applied, so the state is the previous version again.
            let _ = self.run(&diff, Direction::Revert);
            return Err(StoreError::Evidence { store: self.config.name.clone(), action: "upgrade", reason });
        }
        self.diffs.push_back(diff);
        self.digests.push_back(digest);
        self.version = version;
        while self.diffs.len() > self.history {
            self.diffs.pop_front();
            self.digests.pop_front();
        }
        self.series.upgrades.inc();
        self.series.version.set(i64::try_from(version).unwrap_or(i64::MAX));
        Ok(version)
    }

    /// Rolls the state back to `target`, verifying the digest of every version on the way.
    ///
    /// On a mismatch the state stays at the last version that verified, the mismatch is
    /// counted and recorded, and [`StoreError::RollbackMismatch`] says where it stopped.
    pub fn rollback_to(&mut self, target: u64) -> Result<(), StoreError> {
        if target == self.version {
            return Ok(());
        }
        if target > self.version || target < self.oldest_version() {
            return Err(StoreError::VersionUnavailable {
                store: self.config.name.clone(),
                requested: target,
                oldest: self.oldest_version(),
                current: self.version,
            });
        }
        self.series.rollbacks.inc();
        let from = self.version;
        let mut undone: Vec<(Diff, Digest)> = Vec::new();
        while self.version > target {
            let (Some(diff), Some(&expected)) = (self.diffs.pop_back(), self.digests.get(self.digests.len().wrapping_sub(2))) else {
                break;
            };
            let failure = match self.run(&diff, Direction::Revert) {
                Ok(actual) if actual == expected => None,
                Ok(actual) => {
                    // Put back what the revert wrote: applying the same diff is its exact inverse.
                    let _ = self.run(&diff, Direction::Apply);
                    Some(Some(actual))
                }
                // The diff did not fit the verified state; nothing was written.
                Err(_) => Some(None),
            };
            if let Some(actual) = failure {
                self.diffs.push_back(diff);
                return Err(self.mismatch(from, target, expected, actual));
            }
            if let Some(digest) = self.digests.pop_back() {
                undone.push((diff, digest));
            }
            self.version -= 1;
        }
        self.series.version.set(i64::try_from(self.version).unwrap_or(i64::MAX));
        let event = self.event("rollback", "ok", json!({ "from": from, "to": self.version, "sha256": self.digest().to_string() }));
        if let Err(reason) = self.record(event) {
            for (diff, digest) in undone.into_iter().rev() {
                let _ = self.run(&diff, Direction::Apply);
                self.diffs.push_back(diff);
                self.digests.push_back(digest);
                self.version += 1;
            }
            self.series.version.set(i64::try_from(self.version).unwrap_or(i64::MAX));
            return Err(StoreError::Evidence { store: self.config.name.clone(), action: "rollback", reason });
        }
        Ok(())
    }

    /// Runs a diff on the state (which keeps its digest tree up to date); returns the new
    /// digest.
    fn run(&mut self, diff: &Diff, direction: Direction) -> Result<Digest, DiffError> {
        diff.run(&mut self.state, direction)?;
        Ok(self.state.digest())
    }

    fn mismatch(&mut self, from: u64, target: u64, expected: Digest, actual: Option<Digest>) -> StoreError {
        self.series.mismatches.inc();
        self.series.version.set(i64::try_from(self.version).unwrap_or(i64::MAX));
        let failed_at = self.version - 1;
        let event = self.event(
            "rollback",
            "mismatch",
            json!({
                "from": from,
                "to": target,
                "failed_at": failed_at,
                "expected_sha256": expected.to_string(),
                "actual_sha256": actual.map(|d| d.to_string()),
                "state_version": self.version,
            }),
        );
        StoreError::RollbackMismatch(Box::new(Mismatch {
            store: self.config.name.clone(),
            from,
            target,
            failed_at,
            expected,
            actual,
            state_version: self.version,
            evidence_error: self.record(event).err(),
        }))
    }

    fn event(&self, action: &str, result: &str, payload: serde_json::Value) -> Event {
        Event {
            subsystem: EVIDENCE_SUBSYSTEM.to_string(),
            actor: self.config.spec.clone(),
            action: action.to_string(),
            resource: self.config.name.clone(),
            payload,
            result: result.to_string(),
        }
    }

    fn record(&self, event: Event) -> Result<(), String> {
        match &self.evidence {
            Some(sink) => sink.record(event).map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    fn diff_error(&self, source: DiffError) -> StoreError {
        StoreError::Diff { store: self.config.name.clone(), version: self.version, source }
    }

    #[cfg(test)]
    pub(super) fn corrupt_diff(&mut self, version: u64, f: impl FnOnce(&mut Diff)) {
        let oldest = self.oldest_version();
        if let Some(d) = usize::try_from(version - oldest - 1).ok().and_then(|i| self.diffs.get_mut(i)) {
            f(d);
        }
    }
}
