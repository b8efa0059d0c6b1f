#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::evidence::{Event, EvidenceError, EvidenceSink};

/// Keeps events in memory; refuses them while `failing` is set.
#[derive(Default)]
struct MemorySink {
    events: Mutex<Vec<Event>>,
    failing: AtomicBool,
}

impl EvidenceSink for MemorySink {
    fn record(&self, event: Event) -> Result<u64, EvidenceError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(EvidenceError("disk full".into()));
        }
        let mut events = self.events.lock().unwrap();
        events.push(event);
        Ok(events.len() as u64)
    }
}

impl MemorySink {
    fn actions(&self) -> Vec<(String, String)> {
        self.events.lock().unwrap().iter().map(|e| (e.action.clone(), e.result.clone())).collect()
    }
}

fn labels() -> StoreLabels {
    StoreLabels { spec: "payments".into(), store: "config_store".into() }
}

fn store_with(history: u64, initial: &[u8]) -> (VersionedStore, Arc<Metrics>, Arc<MemorySink>) {
    let metrics = Arc::new(Metrics::default());
    let sink = Arc::new(MemorySink::default());
    let store = VersionedStore::new(StoreConfig::new("payments", "config_store", history), initial.to_vec(), &metrics)
        .unwrap()
        .with_evidence(Arc::clone(&sink) as Arc<dyn EvidenceSink>);
    (store, metrics, sink)
}

/// Versions 0..=3 of a 64 KiB state, each changing a few bytes in a different chunk.
fn three_upgrades() -> (VersionedStore, Arc<Metrics>, Arc<MemorySink>, Vec<Vec<u8>>) {
    let base: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let (mut store, metrics, sink) = store_with(10, &base);
    let mut versions = vec![base];
    for v in 1..=3usize {
        let mut next = versions[v - 1].clone();
        next[v * 10_000..v * 10_000 + 4].copy_from_slice(b"vvvv");
        store.upgrade(&next).unwrap();
        versions.push(next);
    }
    (store, metrics, sink, versions)
}

#[test]
fn a_revert_that_does_not_reproduce_its_version_stops_at_the_last_verified_version() {
    let (mut store, metrics, sink, versions) = three_upgrades();
    // Damage what version 2's diff says the bytes were before it: reverting it now writes
    // wrong bytes.
    store.corrupt_diff(2, |d| d.edits_mut()[0].old[0] ^= 0x01);
    let err = store.rollback_to(0).unwrap_err();
    let StoreError::RollbackMismatch(m) = err.clone() else { panic!("{err:?}") };
    let Mismatch { from, target, failed_at, expected, actual, state_version, evidence_error, .. } = *m;
    assert_eq!((from, target, failed_at, state_version), (3, 0, 1, 2));
    assert_eq!(expected, state_digest(&versions[1]));
    assert_ne!(actual, Some(expected));
    assert!(actual.is_some());
    assert_eq!(evidence_error, None);
    // Never a silent wrong state: the state is exactly version 2, as recorded.
    assert_eq!(store.version(), 2);
    assert_eq!(store.state(), versions[2].as_slice());
    assert_eq!(store.digest(), state_digest(&versions[2]));
    assert_eq!(metrics.versioned_rollback_mismatches.get_or_create(&labels()).get(), 1);
    assert_eq!(metrics.versioned_version.get_or_create(&labels()).get(), 2);
    let events = sink.events.lock().unwrap();
    let last = events.last().unwrap();
    assert_eq!((last.action.as_str(), last.result.as_str()), ("rollback", "mismatch"));
    assert_eq!(last.payload["failed_at"], 1);
    assert_eq!(last.payload["expected_sha256"], expected.to_string());
    assert_eq!(last.resource, "config_store");
    assert!(err.to_string().contains("failed verification at version 1; the state is at version 2"), "{err}");
}

#[test]
fn a_stored_diff_that_no_longer_fits_the_state_is_a_mismatch_and_writes_nothing() {
    let (mut store, metrics, _, versions) = three_upgrades();
    store.corrupt_diff(3, |d| d.edits_mut()[0].new[0] ^= 0x01);
    let err = store.rollback_to(1).unwrap_err();
    assert!(matches!(&err, StoreError::RollbackMismatch(m) if (m.failed_at, m.actual, m.state_version) == (2, None, 3)), "{err:?}");
    assert_eq!(store.state(), versions[3].as_slice());
    assert_eq!(metrics.versioned_rollback_mismatches.get_or_create(&labels()).get(), 1);
}

#[test]
fn a_mismatch_that_cannot_be_recorded_says_so() {
    let (mut store, _, sink, _) = three_upgrades();
    store.corrupt_diff(3, |d| d.edits_mut()[0].old[0] ^= 0x01);
    sink.failing.store(true, Ordering::SeqCst);
    let err = store.rollback_to(2).unwrap_err();
    assert!(
        matches!(&err, StoreError::RollbackMismatch(m) if m.evidence_error.as_deref().is_some_and(|e| e.contains("disk full"))),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("(the violation could not be recorded: evidence could not be recorded: disk full)"), "{err}");
}

#[test]
fn upgrades_and_rollbacks_are_counted_and_recorded() {
    let (mut store, metrics, sink, versions) = three_upgrades();
    store.rollback_to(1).unwrap();
    assert_eq!(store.state(), versions[1].as_slice());
    assert_eq!(metrics.versioned_upgrades.get_or_create(&labels()).get(), 3);
    assert_eq!(metrics.versioned_rollbacks.get_or_create(&labels()).get(), 1);
    assert_eq!(metrics.versioned_version.get_or_create(&labels()).get(), 1);
    assert_eq!(metrics.versioned_rollback_mismatches.get_or_create(&labels()).get(), 0);
    let expected: Vec<(String, String)> = [("upgrade", "ok"), ("upgrade", "ok"), ("upgrade", "ok"), ("rollback", "ok")]
        .iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect();
    assert_eq!(sink.actions(), expected);
    let events = sink.events.lock().unwrap();
    assert_eq!(events[3].payload["from"], 3);
    assert_eq!(events[3].payload["to"], 1);
    assert_eq!(events[0].payload["sha256"], state_digest(&versions[1]).to_string());
    // The next upgrade after a rollback makes version 2 again.
    drop(events);
    assert_eq!(store.upgrade(b"new").unwrap(), 2);
}

#[test]
fn an_operation_whose_evidence_cannot_be_recorded_is_undone() {
    let (mut store, metrics, sink, versions) = three_upgrades();
    sink.failing.store(true, Ordering::SeqCst);
    let err = store.upgrade(b"something else").unwrap_err();
    assert!(matches!(err, StoreError::Evidence { action: "upgrade", .. }), "{err:?}");
    assert_eq!((store.version(), store.state().to_vec()), (3, versions[3].clone()));
    let err = store.rollback_to(0).unwrap_err();
    assert!(matches!(err, StoreError::Evidence { action: "rollback", .. }), "{err:?}");
    assert_eq!((store.version(), store.state().to_vec(), store.digest()), (3, versions[3].clone(), state_digest(&versions[3])));
    assert_eq!(metrics.versioned_upgrades.get_or_create(&labels()).get(), 3);
    sink.failing.store(false, Ordering::SeqCst);
    store.rollback_to(0).unwrap();
    assert_eq!(store.state(), versions[0].as_slice());
}

#[test]
fn history_keeps_the_last_versions_and_refuses_older_targets() {
    let (mut store, _, _) = store_with(3, b"v0");
    for v in 1..=5u64 {
        store.upgrade(format!("v{v}").as_bytes()).unwrap();
    }
    assert_eq!((store.oldest_version(), store.version()), (2, 5));
    assert_eq!(store.digest_of(1), None);
    assert_eq!(store.digest_of(2), Some(state_digest(b"v2")));
    assert_eq!(store.rollback_to(1).unwrap_err().to_string(), "version 1 of store `config_store` is not kept (versions 2 to 5 are)");
    assert!(matches!(store.rollback_to(6), Err(StoreError::VersionUnavailable { requested: 6, .. })));
    store.rollback_to(2).unwrap();
    assert_eq!(store.state(), b"v2");
}

#[test]
fn a_diff_that_does_not_fit_the_current_state_changes_nothing() {
    let (mut store, _, _) = store_with(3, b"hello world");
    let diff = Diff::between(b"HELLO world", b"HOWDY world");
    let err = store.apply(diff).unwrap_err();
    assert!(matches!(err, StoreError::Diff { version: 0, .. }), "{err:?}");
    assert!(store.replace(5..100, b"x").is_err());
    assert_eq!((store.version(), store.state().to_vec()), (0, b"hello world".to_vec()));
    assert_eq!(store.replace(6..11, b"there").unwrap(), 1);
    assert_eq!(store.state(), b"hello there");
}

#[test]
fn a_store_that_keeps_no_history_is_refused() {
    let err = VersionedStore::new(StoreConfig::new("payments", "config_store", 0), vec![], &Metrics::default()).unwrap_err();
    assert_eq!(err.to_string(), "versioned store `config_store` of spec `payments`: `history` must keep at least one version");
}

#[test]
fn a_one_byte_change_to_16_mib_stores_bytes_not_megabytes() {
    let (mut store, _, _) = store_with(10, &vec![0u8; 16 << 20]);
    let before = store.memory_bytes();
    let mut next = store.state().to_vec();
    next[9_000_000] = 1;
    store.upgrade(&next).unwrap();
    let diff = store.diff_of(1).unwrap();
    assert_eq!(diff.edits().len(), 1);
    assert!(diff.stored_bytes() < 128, "{} bytes", diff.stored_bytes());
    assert!(store.memory_bytes() - before < 256, "{} bytes more", store.memory_bytes() - before);
}

#[test]
fn a_typed_store_rolls_values_back() {
    let mut fees: BTreeMap<String, u32> = BTreeMap::from([("eu".into(), 10), ("us".into(), 12)]);
    let metrics = Metrics::default();
    let mut store = TypedStore::new(StoreConfig::new("payments", "fees", 100), fees.clone(), &metrics).unwrap();
    fees.insert("uk".into(), 11);
    assert_eq!(store.upgrade(fees.clone()).unwrap(), 1);
    fees.insert("eu".into(), 9);
    assert_eq!(store.upgrade(fees.clone()).unwrap(), 2);
    assert_eq!(store.get()["eu"], 9);
    store.rollback_to(1).unwrap();
    assert_eq!(store.get(), &BTreeMap::from([("eu".into(), 10), ("uk".into(), 11), ("us".into(), 12)]));
    store.rollback_to(0).unwrap();
    assert_eq!(store.get().len(), 2);
    assert_eq!(store.store().state(), br#"{"eu":10,"us":12}"#);
}

/// The parts [`VersionedStore::restore`] takes, read back from a store.
fn saved(store: &VersionedStore) -> (Vec<u8>, u64, Digest, Vec<(Diff, Digest)>) {
    let oldest = store.oldest_version();
    let history = (oldest + 1..=store.version()).map(|v| (store.diff_of(v).unwrap().clone(), store.digest_of(v).unwrap())).collect();
    (store.state().to_vec(), store.version(), store.digest_of(oldest).unwrap(), history)
}

#[test]
fn a_restored_store_rolls_back_like_the_original_and_catches_an_altered_history() {
    let (store, _, _, versions) = three_upgrades();
    let (state, version, oldest, history) = saved(&store);
    let metrics = Metrics::default();
    let mut restored = VersionedStore::restore(
        StoreConfig::new("payments", "config_store", 10),
        state.clone(),
        version,
        oldest,
        history.clone(),
        &metrics,
    )
    .unwrap();
    assert_eq!((restored.version(), restored.oldest_version(), restored.digest()), (3, 0, store.digest()));
    assert_eq!(metrics.versioned_version.get_or_create(&labels()).get(), 3);
    restored.rollback_to(0).unwrap();
    assert_eq!(restored.state(), versions[0].as_slice());

    // A saved diff altered on disk: the rollback stops at the last version that verifies.
    let mut altered = history;
    let mut edits = altered[1].0.edits().to_vec();
    edits[0].old[0] ^= 0x01;
    altered[1].0 = Diff::new(edits).unwrap();
    let mut restored =
        VersionedStore::restore(StoreConfig::new("payments", "config_store", 10), state.clone(), version, oldest, altered, &metrics)
            .unwrap();
    let err = restored.rollback_to(0).unwrap_err();
    assert!(matches!(&err, StoreError::RollbackMismatch(m) if (m.failed_at, m.state_version) == (1, 2)), "{err:?}");
    assert_eq!(restored.state(), versions[2].as_slice());
    assert_eq!(metrics.versioned_rollback_mismatches.get_or_create(&labels()).get(), 1);
}

#[test]
fn a_restore_whose_state_is_not_the_recorded_version_is_refused() {
    let (store, _, _, _) = three_upgrades();
    let (mut state, version, oldest, history) = saved(&store);
    state[5] ^= 0x01;
    let config = || StoreConfig::new("payments", "config_store", 10);
    let err = VersionedStore::restore(config(), state.clone(), version, oldest, history.clone(), &Metrics::default()).unwrap_err();
    assert!(err.to_string().contains("not the recorded"), "{err}");
    let err = VersionedStore::restore(config(), state, 1, oldest, history, &Metrics::default()).unwrap_err();
    assert!(err.to_string().contains("cannot end at version 1"), "{err}");
}

#[test]
fn a_typed_store_is_rebuilt_from_a_restored_store() {
    let metrics = Metrics::default();
    let mut typed =
        TypedStore::new(StoreConfig::new("payments", "config_store", 10), BTreeMap::from([("fee".to_string(), 1u32)]), &metrics).unwrap();
    typed.upgrade(BTreeMap::from([("fee".to_string(), 2u32)])).unwrap();
    let (state, version, oldest, history) = saved(typed.store());
    let store =
        VersionedStore::restore(StoreConfig::new("payments", "config_store", 10), state, version, oldest, history, &metrics).unwrap();
    let mut back: TypedStore<BTreeMap<String, u32>> = TypedStore::from_store(store).unwrap();
    assert_eq!(back.get()["fee"], 2);
    back.rollback_to(0).unwrap();
    assert_eq!(back.get()["fee"], 1);
}
