//! Ledger identity and header integrity: every byte of a ledger and of its checkpoint file is
//! checked, and a ledger is bound to (spec, name, random id) so that another one written with
//! the same key cannot stand in for it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use pip_runtime::clock::ManualClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::HEADER_LEN;
use pip_runtime::ledger::checkpoint::CHECKPOINT_HEADER_LEN;
use pip_runtime::ledger::{AnomalyClass, CheckpointPolicy, Ledger, LedgerConfig, LedgerError, LedgerKey, Report, verify_bytes};

fn event(i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc".into(),
        action: "transfer".into(),
        resource: format!("account/{i}"),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

/// A closed ledger of `n` entries with a checkpoint every 2; its config.
fn ledger(dir: &Path, file: &str, key: &LedgerKey, n: u64) -> LedgerConfig {
    let mut cfg = LedgerConfig::new("payments", "audit", dir.join(file));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(2), every: None };
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(1_767_225_600_000)), None).unwrap();
    for i in 0..n {
        l.append(&event(i)).unwrap();
    }
    l.close().unwrap();
    cfg
}

fn verify(ledger: &[u8], ckpt: &[u8], key: &LedgerKey) -> Result<Report, String> {
    verify_bytes(ledger, Some(ckpt), key, 1).map_err(|e| e.to_string())
}

#[test]
fn every_changed_byte_of_a_ledger_or_its_checkpoint_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = ledger(dir.path(), "audit.ledger", &key, 5);
    let (lb, cb) = (std::fs::read(&cfg.path).unwrap(), std::fs::read(cfg.checkpoint_path()).unwrap());
    assert!(verify(&lb, &cb, &key).unwrap().is_clean());
    // The reserved bytes 10 and 11 first: they were read and ignored.
    for (what, bytes, other) in [("ledger", &lb, &cb), ("checkpoint file", &cb, &lb)] {
        for i in [10, 11].into_iter().chain(0..bytes.len()) {
            for bit in [0x01u8, 0x80] {
                let mut changed = bytes.clone();
                changed[i] ^= bit;
                let result = if what == "ledger" { verify(&changed, other, &key) } else { verify(other, &changed, &key) };
                if let Ok(r) = result {
                    assert!(!r.is_clean(), "byte {i} (bit {bit:#x}) of the {what} changed unnoticed");
                }
            }
        }
    }
}

#[test]
fn a_changed_header_byte_is_a_modified_header_and_the_ledger_is_still_judged_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = ledger(dir.path(), "audit.ledger", &key, 4);
    let (mut lb, cb) = (std::fs::read(&cfg.path).unwrap(), std::fs::read(cfg.checkpoint_path()).unwrap());
    lb[40] ^= 1; // inside the ledger id
    let r = verify(&lb, &cb, &key).unwrap();
    let summary: Vec<_> = r.anomalies.iter().map(|a| (a.class, a.offset)).collect();
    assert_eq!(summary, vec![(AnomalyClass::Modified, 0)], "{:?}", r.anomalies);
    assert_eq!(r.head.map(|h| h.seq), Some(4));
    // The checkpoint file's header vouches for the identity.
    assert_eq!(r.identity.unwrap().id_hex(), verify(&std::fs::read(&cfg.path).unwrap(), &cb, &key).unwrap().identity.unwrap().id_hex());
    // The writer refuses to append to it.
    std::fs::write(&cfg.path, &lb).unwrap();
    let err = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(0)), None).unwrap_err();
    assert!(matches!(err, LedgerError::Damaged { offset: 0, .. }), "{err}");
}

#[test]
fn a_ledger_swapped_for_another_written_with_the_same_key_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let a = ledger(dir.path(), "a.ledger", &key, 6);
    let b = ledger(dir.path(), "b.ledger", &key, 6);
    let read = |c: &LedgerConfig| (std::fs::read(&c.path).unwrap(), std::fs::read(c.checkpoint_path()).unwrap());
    let ((la, ca), (lb, cb)) = (read(&a), read(&b));
    let (ra, rb) = (verify(&la, &ca, &key).unwrap(), verify(&lb, &cb, &key).unwrap());
    assert!(ra.is_clean() && rb.is_clean());
    let (ia, ib) = (ra.identity.unwrap(), rb.identity.unwrap());
    assert_eq!((ia.spec.as_str(), ia.ledger.as_str()), ("payments", "audit"));
    assert_ne!(ia.id, ib.id, "each ledger draws its own id");
    // B's ledger with A's checkpoints: the checkpoints are not B's.
    let r = verify(&lb, &ca, &key).unwrap();
    assert!(r.anomalies.iter().any(|a| a.detail.contains("belongs to another ledger")), "{:?}", r.anomalies);
    assert!(r.count(AnomalyClass::Modified) >= 2, "{:?}", r.anomalies);
    // A's header on B's entries: the chain does not start from A's identity.
    let mut spliced = la[..HEADER_LEN].to_vec();
    spliced.extend_from_slice(&lb[HEADER_LEN..]);
    let r = verify(&spliced, &ca, &key).unwrap();
    assert!(!r.is_clean());
    assert!(r.classes().contains(&AnomalyClass::Inserted), "{:?}", r.anomalies);
    // B's checkpoint records under A's checkpoint header: every one fails its MAC.
    let mut cps = ca[..CHECKPOINT_HEADER_LEN].to_vec();
    cps.extend_from_slice(&cb[CHECKPOINT_HEADER_LEN..]);
    let r = verify(&la, &cps, &key).unwrap();
    assert_eq!(r.count(AnomalyClass::Modified), 3, "{:?}", r.anomalies);
}

#[test]
fn a_ledger_of_another_spec_or_name_is_not_opened_as_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = ledger(dir.path(), "audit.ledger", &key, 1);
    let mut other = cfg.clone();
    other.name = "access".into();
    let err = Ledger::open(other, key.clone(), Arc::new(ManualClock::new(0)), None).unwrap_err();
    assert!(matches!(err, LedgerError::OtherLedger { .. }), "{err}");
    assert!(err.to_string().contains("belongs to spec `payments`, ledger `audit`, id "), "{err}");
    // A tool that names no ledger takes the file as it is.
    let mut unnamed = cfg.clone();
    (unnamed.spec, unnamed.name) = (String::new(), String::new());
    let (l, report) = Ledger::open(unnamed, key, Arc::new(ManualClock::new(0)), None).unwrap();
    assert_eq!((report.identity.spec.as_str(), report.identity.ledger.as_str()), ("payments", "audit"));
    assert_eq!(l.identity(), &report.identity);
}

#[test]
fn files_of_the_previous_format_version_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    // A version 1 header: magic, version 1, reserved, key id.
    let mut v1 = b"PIPLEDGR".to_vec();
    v1.extend_from_slice(&1u16.to_le_bytes());
    v1.extend_from_slice(&[0, 0]);
    v1.extend_from_slice(&key.id());
    let err = verify_bytes(&v1, None, &key, 1).unwrap_err().to_string();
    assert!(err.contains("format version 1 is not supported (this pip reads version 2)"), "{err}");
    let path = dir.path().join("old.ledger");
    std::fs::write(&path, &v1).unwrap();
    let err = Ledger::open(LedgerConfig::new("p", "l", &path), key, Arc::new(ManualClock::new(0)), None).unwrap_err().to_string();
    assert!(err.contains("format version 1 is not supported"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), v1, "the file is left as it was");
}
