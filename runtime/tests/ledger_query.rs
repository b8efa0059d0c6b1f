//! Reading a ledger back: filters, time windows whose slices verify on their own (with and
//! without per-entry MACs), summaries and evidence gaps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use pip_runtime::clock::ManualClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::checkpoint::CheckpointFile;
use pip_runtime::ledger::query::{Expectation, Filter, LedgerReader, checkpoints_from, evidence_gaps, summarize};
use pip_runtime::ledger::{AnomalyClass, Authenticity, CheckpointPolicy, Ledger, LedgerConfig, LedgerKey, verify_slice};

const T0: u64 = 1_767_225_600_000;

fn event(subsystem: &str, actor: &str, i: u64) -> Event {
    Event {
        subsystem: subsystem.into(),
        actor: actor.into(),
        action: if i.is_multiple_of(2) { "read".into() } else { "write".into() },
        resource: format!("doc/{}", i % 3),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

/// 100 entries, one a minute: billing every minute, auth every 10 minutes; a checkpoint every
/// 10 entries.
fn ledger(dir: &std::path::Path) -> (LedgerConfig, LedgerKey) {
    let key = LedgerKey::generate().unwrap();
    let mut cfg = LedgerConfig::new("p", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(10), every: None };
    let clock = ManualClock::new(T0);
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(clock.clone()), None).unwrap();
    for i in 0..100u64 {
        let (s, a) = if i.is_multiple_of(10) { ("auth", "sso") } else { ("billing", "svc") };
        l.append(&event(s, a, i)).unwrap();
        clock.advance(Duration::from_secs(60));
    }
    l.close().unwrap();
    (cfg, key)
}

#[test]
fn filters_select_by_subsystem_actor_resource_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = ledger(dir.path());
    let r = LedgerReader::open(&cfg.path).unwrap();
    assert_eq!(r.len(), 100);
    let auth = r.select(&Filter { subsystem: Some("auth".into()), ..Filter::default() }).unwrap();
    assert_eq!(auth.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 11, 21, 31, 41, 51, 61, 71, 81, 91]);
    let window =
        Filter { since: Some(T0 + 10 * 60_000), until: Some(T0 + 20 * 60_000), resource: Some("doc/0".into()), ..Filter::default() };
    let picked = r.select(&window).unwrap();
    assert_eq!(picked.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![13, 16, 19]);
    assert!(picked.iter().all(|e| window.matches(e)));
}

#[test]
fn a_time_window_verifies_on_its_own_from_the_hash_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, key) = ledger(dir.path());
    let r = LedgerReader::open(&cfg.path).unwrap();
    let slice = r.window(T0 + 25 * 60_000, T0 + 40 * 60_000).unwrap();
    assert_eq!(slice.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (26..=40).collect::<Vec<_>>());
    assert_eq!(slice.anchor.next_seq, 26);
    let cps = checkpoints_from(&CheckpointFile::read(&cfg.checkpoint_path()).unwrap(), 26);
    for mode in [Authenticity::PerEntryMac, Authenticity::ChainToCheckpoint] {
        let report = verify_slice(&slice.entries, &slice.anchor, &cps, &key, r.header().identity.digest(), mode);
        assert!(report.is_clean(), "{mode:?}: {:?}", report.anomalies);
        assert_eq!(report.authentic, 15, "{mode:?}");
    }
}

#[test]
fn a_compact_slice_binds_its_entries_through_the_chain_to_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, key) = ledger(dir.path());
    let r = LedgerReader::open(&cfg.path).unwrap();
    let slice = r.window(T0 + 25 * 60_000, T0 + 40 * 60_000).unwrap();
    let cps = checkpoints_from(&CheckpointFile::read(&cfg.checkpoint_path()).unwrap(), 26);
    // Without MACs, a changed entry is caught by the chain; the entries before it can no
    // longer be tied to a checkpoint either, and are reported with it.
    let mut entries = slice.entries.clone();
    entries[3].actor = "mallory".into();
    entries.iter_mut().for_each(|e| e.mac = [0; 32]);
    let report = verify_slice(&entries, &slice.anchor, &cps, &key, r.header().identity.digest(), Authenticity::ChainToCheckpoint);
    assert_eq!(report.classes().into_iter().collect::<Vec<_>>(), vec![AnomalyClass::Modified], "{:?}", report.anomalies);
    // One run of four alike anomalies: the first, how many, the last.
    assert_eq!(report.anomalies.len(), 1, "{:?}", report.anomalies);
    let run = &report.anomalies[0];
    assert_eq!((run.seq.unwrap().first, run.count(), run.repeats.unwrap().last_seq.unwrap().first), (26, 4, 29));
    assert_eq!(report.authentic, 11);
    // With per-entry MACs the same change is pinned to the one entry.
    let mut entries = slice.entries.clone();
    entries[3].actor = "mallory".into();
    let report = verify_slice(&entries, &slice.anchor, &cps, &key, r.header().identity.digest(), Authenticity::PerEntryMac);
    assert_eq!(report.anomalies.iter().map(|a| (a.class, a.seq.unwrap().first)).collect::<Vec<_>>(), vec![(AnomalyClass::Modified, 29)]);
    // ...and entries past the last checkpoint are vouched for by nothing.
    let tail = r.window(T0 + 35 * 60_000, T0 + 45 * 60_000).unwrap();
    let report = verify_slice(
        &tail.entries,
        &tail.anchor,
        &checkpoints_from(&CheckpointFile::read(&cfg.checkpoint_path()).unwrap(), 36).into_iter().take(1).collect::<Vec<_>>(),
        &key,
        r.header().identity.digest(),
        Authenticity::ChainToCheckpoint,
    );
    assert_eq!(report.authentic, 5, "{:?}", report.anomalies);
    assert!(report.anomalies.iter().all(|a| a.class == AnomalyClass::Inserted && a.seq.unwrap().first > 40));
}

#[test]
fn a_slice_starting_from_the_wrong_hash_is_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, key) = ledger(dir.path());
    let r = LedgerReader::open(&cfg.path).unwrap();
    let mut slice = r.window(T0 + 25 * 60_000, T0 + 40 * 60_000).unwrap();
    slice.anchor.prev = [7; 32];
    let report = verify_slice(&slice.entries, &slice.anchor, &[], &key, r.header().identity.digest(), Authenticity::PerEntryMac);
    assert_eq!(report.classes().into_iter().collect::<Vec<_>>(), vec![AnomalyClass::Inserted], "{:?}", report.anomalies);
}

#[test]
fn summaries_count_activity_per_subsystem_actor_and_action() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = ledger(dir.path());
    let entries: Vec<_> = LedgerReader::open(&cfg.path).unwrap().entries().map(Result::unwrap).collect();
    let s = summarize(&entries);
    let rows: Vec<(&str, &str, &str, u64)> =
        s.iter().map(|a| (a.subsystem.as_str(), a.actor.as_str(), a.action.as_str(), a.count)).collect();
    assert_eq!(rows, vec![("auth", "sso", "read", 10), ("billing", "svc", "read", 40), ("billing", "svc", "write", 50)]);
    assert_eq!((s[0].first_ms, s[0].last_ms), (T0, T0 + 90 * 60_000));
}

#[test]
fn gaps_are_silences_longer_than_the_spec_expects_in_the_past_and_now() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = ledger(dir.path());
    let r = LedgerReader::open(&cfg.path).unwrap();
    let expect = |s: &str, minutes: u64| Expectation { subsystem: s.into(), every_ms: minutes * 60_000, severity: "P1".into() };
    let records: Vec<_> = r.raw().map(|b| (b.subsystem, b.ts_millis, b.seq)).collect();
    let now = T0 + 100 * 60_000;
    // auth writes every 10 minutes: a 9-minute expectation is broken between every pair.
    let gaps = evidence_gaps(records.iter().copied(), &[expect("auth", 9), expect("billing", 2), expect("export", 60)], T0, now);
    let auth: Vec<_> = gaps.iter().filter(|g| g.subsystem == "auth").collect();
    assert_eq!(auth.len(), 10, "{gaps:?}");
    assert!(auth.iter().take(9).all(|g| g.to_ms - g.from_ms == 10 * 60_000 && !g.ongoing));
    assert!(auth[9].ongoing && auth[9].from_ms == T0 + 90 * 60_000);
    assert!(gaps.iter().all(|g| g.subsystem != "billing"), "{gaps:?}");
    let export: Vec<_> = gaps.iter().filter(|g| g.subsystem == "export").collect();
    assert_eq!(export.len(), 1);
    assert!(export[0].ongoing && export[0].from_ms == T0 && export[0].to_ms == now);
    assert!(evidence_gaps(records.iter().copied(), &[expect("auth", 11)], T0, now).is_empty());
}
