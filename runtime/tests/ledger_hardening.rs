//! Ledger hardening: a junk checkpoint file is reported as one run in bounded memory, a live
//! writer's unfinished tail is in flight rather than torn, a lost checkpoint file refuses the
//! open (or starts a recorded new history), and clock jumps are recorded as entries the
//! verifier reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pip_runtime::clock::{Clock, ManualClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::checkpoint::{CHECKPOINT_HEADER_LEN, CHECKPOINT_LEN};
use pip_runtime::ledger::notes;
use pip_runtime::ledger::query::LedgerReader;
use pip_runtime::ledger::verify::VerifyError;
use pip_runtime::ledger::{AnomalyClass, CheckpointPolicy, InFlight, Ledger, LedgerConfig, LedgerError, LedgerKey, verify_files};
use pip_runtime::ledger::{FRAME_OVERHEAD, MAX_BODY_LEN};

const T0: u64 = 1_767_225_600_000;

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

fn config(dir: &Path) -> LedgerConfig {
    let mut cfg = LedgerConfig::new("payments", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(2), every: None };
    cfg
}

fn write_closed(cfg: &LedgerConfig, key: &LedgerKey, n: u64) {
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    for i in 0..n {
        l.append(&event(i)).unwrap();
    }
    l.close().unwrap();
}

// ---- item 4: a huge checkpoint file ----------------------------------------------------------

#[test]
fn a_junk_checkpoint_file_is_summarized_as_one_run_of_alike_anomalies() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 4);
    let ckpt = cfg.checkpoint_path();
    let good = std::fs::read(&ckpt).unwrap();
    // `truncate -s 8M`: the checkpoints are followed by zeros.
    let junk_len = 8u64 << 20;
    std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(junk_len).unwrap();
    let r = verify_files(&cfg.path, Some(&ckpt), &key, 1).unwrap();
    let first_junk = good.len() as u64;
    let whole = (junk_len - CHECKPOINT_HEADER_LEN as u64) / CHECKPOINT_LEN as u64;
    let junk = whole - (first_junk - CHECKPOINT_HEADER_LEN as u64) / CHECKPOINT_LEN as u64;
    let torn = (junk_len - CHECKPOINT_HEADER_LEN as u64) % CHECKPOINT_LEN as u64;
    let shown: Vec<_> = r.anomalies.iter().map(|a| (a.class, a.offset, a.count())).collect();
    assert_eq!(shown, vec![(AnomalyClass::Modified, first_junk, junk), (AnomalyClass::TornTail, junk_len - torn, 1)], "{:?}", r.anomalies);
    let run = r.anomalies[0].repeats.unwrap();
    assert_eq!(run.last_offset, CHECKPOINT_HEADER_LEN as u64 + (whole - 1) * CHECKPOINT_LEN as u64);
    assert_eq!(r.anomaly_count(), junk + 1);
    assert_eq!(r.checkpoints, 2, "the real checkpoints still count");
    let json = r.anomalies[0].to_json();
    assert_eq!(json["count"], serde_json::json!(junk));
    assert_eq!(json["last"]["offset"], serde_json::json!(run.last_offset));
}

#[test]
fn interleaved_junk_and_replayed_checkpoints_stay_a_bounded_report() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 4);
    let ckpt = cfg.checkpoint_path();
    let good = std::fs::read(&ckpt).unwrap();
    let first_cp = good[CHECKPOINT_HEADER_LEN..CHECKPOINT_HEADER_LEN + CHECKPOINT_LEN].to_vec();
    let mut bytes = good.clone();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..50_000u64 {
        if i % 2 == 0 {
            bytes.extend_from_slice(&first_cp);
        } else {
            for _ in 0..CHECKPOINT_LEN {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(x as u8);
            }
        }
    }
    std::fs::write(&ckpt, &bytes).unwrap();
    let r = verify_files(&cfg.path, Some(&ckpt), &key, 1).unwrap();
    assert!(r.anomalies.len() <= 300, "{} anomalies listed", r.anomalies.len());
    assert_eq!(r.count(AnomalyClass::Modified), 25_000);
    assert_eq!(r.count(AnomalyClass::Reordered), 1, "the first copy of checkpoint 1 goes back from checkpoint 2");
    assert_eq!(r.count(AnomalyClass::Replayed), 24_999, "each later copy repeats the one before it");
    assert_eq!(r.checkpoints, 2, "copies are not counted as more checkpoints");
}

// ---- item 5: a live writer --------------------------------------------------------------------

#[test]
fn an_unfinished_tail_is_in_flight_while_a_writer_holds_the_ledger_and_torn_once_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    for i in 0..3 {
        l.append(&event(i)).unwrap();
    }
    l.sync().unwrap();
    // The start of the next record, as a write cut at a buffer boundary leaves it while the
    // writer (holding the lock, on its flusher thread) has not finished it.
    let partial = [200u8, 0, 0, 0, 1, 4, 0, 0, 0];
    std::fs::OpenOptions::new().append(true).open(&cfg.path).unwrap().write_all(&partial).unwrap();
    let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
    assert!(r.is_clean(), "{:?}", r.anomalies);
    assert!(r.writer_live);
    assert_eq!(r.in_flight, Some(InFlight { ledger_bytes: partial.len() as u64, checkpoint_bytes: 0 }));
    assert_eq!(r.head.map(|h| h.seq), Some(3));
    // The writer stops; nobody holds the ledger: the same bytes are a torn tail.
    l.close().unwrap();
    drop(l);
    let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
    assert!(!r.writer_live);
    assert_eq!(r.in_flight, None);
    assert_eq!(r.anomalies.iter().map(|a| (a.class, a.count())).collect::<Vec<_>>(), vec![(AnomalyClass::TornTail, 1)]);
    assert!(r.anomalies[0].detail.contains(&format!("the last {} bytes", partial.len())), "{}", r.anomalies[0]);
}

#[test]
fn a_lock_holder_can_make_at_most_one_partial_entry_look_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    for i in 0..3 {
        l.append(&event(i)).unwrap();
    }
    l.sync().unwrap();
    let len = std::fs::metadata(&cfg.path).unwrap().len();
    // No writer leaves these: zeros (no length prefix in range), a prefix in range with a body
    // that is no entry's, and more zeros than the longest entry.
    let longest = FRAME_OVERHEAD + MAX_BODY_LEN;
    for tail in [vec![0u8; 4096], vec![200, 0, 0, 0, 9, 4, 0, 0], vec![0u8; longest + 1]] {
        let f = std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap();
        f.set_len(len).unwrap();
        std::fs::OpenOptions::new().append(true).open(&cfg.path).unwrap().write_all(&tail).unwrap();
        let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
        assert!(r.writer_live);
        assert_eq!(r.in_flight, None, "{} bytes", tail.len());
        assert_eq!(r.anomalies.iter().map(|a| (a.class, a.count())).collect::<Vec<_>>(), vec![(AnomalyClass::TornTail, 1)]);
        assert!(r.anomalies[0].detail.contains(&format!("the last {} bytes", tail.len())), "{}", r.anomalies[0]);
    }
    std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap().set_len(len).unwrap();
    l.close().unwrap();
}

#[test]
fn appenders_cannot_write_in_the_ledgers_own_subsystem() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    l.append(&event(0)).unwrap();
    let forged = Event { subsystem: notes::SUBSYSTEM.into(), actor: notes::ACTOR.into(), action: notes::CLOCK_JUMP.into(), ..event(1) };
    assert!(matches!(l.append(&forged), Err(LedgerError::ReservedSubsystem)));
    let err = l.append_batch(&[event(2), forged.clone()]).unwrap_err();
    assert!(err.to_string().contains("subsystem `pip` is reserved"), "{err}");
    assert_eq!(l.head().0, 1, "a batch with a reserved event is refused whole");
    l.close().unwrap();
    let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
    assert!(r.is_clean() && r.events.is_empty(), "{:?}", r.events);
}

// ---- a huge sparse ledger ---------------------------------------------------------------------

/// More than the memory of any machine these tests run on, and free: a hole, no disk used.
const SPARSE: u64 = 1 << 40;

#[test]
fn a_huge_sparse_tail_is_a_torn_tail_reported_by_its_length_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 3);
    let len = std::fs::metadata(&cfg.path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap().set_len(len + SPARSE).unwrap();
    for threads in [1, 2] {
        let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, threads).unwrap();
        assert_eq!((r.entries, r.authentic), (3, 3));
        assert_eq!(r.anomalies.iter().map(|a| (a.class, a.count(), a.offset)).collect::<Vec<_>>(), vec![(AnomalyClass::TornTail, 1, len)]);
        assert!(r.anomalies[0].detail.contains(&format!("the last {SPARSE} bytes")), "{}", r.anomalies[0]);
    }
}

#[test]
fn a_damaged_ledger_larger_than_memory_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 3);
    let mut bytes = std::fs::read(&cfg.path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // the last entry's MAC: the chain is not intact
    std::fs::write(&cfg.path, &bytes).unwrap();
    std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap().set_len(bytes.len() as u64 + SPARSE).unwrap();
    let err = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap_err();
    assert!(matches!(err, VerifyError::TooLarge { len, .. } if len == bytes.len() as u64 + SPARSE), "{err}");
    assert!(err.to_string().contains("is not intact from the start"), "{err}");
    // Its sibling: the reader behind `pipc log show` reads the ledger whole, and refuses too.
    let err = LedgerReader::open(&cfg.path).unwrap_err();
    assert!(err.to_string().contains("memory available"), "{err}");
}

// ---- item 7: a lost checkpoint file ----------------------------------------------------------

#[test]
fn a_deleted_or_emptied_checkpoint_file_refuses_the_open_and_is_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 3);
    let ckpt = cfg.checkpoint_path();
    let before = std::fs::read(&cfg.path).unwrap();
    let clock = || -> Arc<dyn Clock> { Arc::new(ManualClock::new(T0)) };
    std::fs::remove_file(&ckpt).unwrap();
    let err = Ledger::open(cfg.clone(), key.clone(), clock(), None).unwrap_err();
    assert!(matches!(err, LedgerError::CheckpointsMissing { what: "missing", .. }), "{err}");
    assert!(err.to_string().contains("--new-checkpoint-history"), "{err}");
    assert!(!ckpt.exists(), "refusing leaves no new checkpoint file behind");
    std::fs::write(&ckpt, b"").unwrap();
    let err = Ledger::open(cfg.clone(), key.clone(), clock(), None).unwrap_err();
    assert!(matches!(err, LedgerError::CheckpointsMissing { what: "empty", .. }), "{err}");
    assert_eq!(std::fs::read(&ckpt).unwrap(), b"");
    assert_eq!(std::fs::read(&cfg.path).unwrap(), before, "the ledger is untouched");
}

#[test]
fn a_new_checkpoint_history_on_request_is_recorded_as_an_entry_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    write_closed(&cfg, &key, 3);
    std::fs::remove_file(cfg.checkpoint_path()).unwrap();
    cfg.new_checkpoint_history = true;
    let (l, report) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    assert!(report.new_checkpoint_history);
    assert_eq!(l.durable_seq(), 4, "the break is entry 4, synced before the open returns");
    l.append(&event(9)).unwrap();
    l.close().unwrap();
    let e = LedgerReader::open(&cfg.path).unwrap().entry(3).unwrap().unwrap();
    assert_eq!((e.seq, e.subsystem.as_str(), e.action.as_str()), (4, notes::SUBSYSTEM, notes::NEW_CHECKPOINT_HISTORY));
    assert_eq!(e.payload_json().unwrap(), serde_json::json!({ "checkpoint_file": "missing", "head_seq": 3 }));
    let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
    assert!(r.is_clean(), "{:?}", r.anomalies);
    assert_eq!(r.events.iter().map(|e| (e.seq, e.action.as_str())).collect::<Vec<_>>(), vec![(4, notes::NEW_CHECKPOINT_HISTORY)]);
    assert_eq!(r.events_total, 1);
}

#[test]
fn a_checkpoint_file_deleted_under_a_running_writer_stops_it_rather_than_checkpointing_to_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(1), every: None };
    let (l, _) = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(T0)), None).unwrap();
    l.append(&event(1)).unwrap();
    std::fs::remove_file(cfg.checkpoint_path()).unwrap();
    let err = l.append(&event(2)).unwrap_err();
    assert!(matches!(&err, LedgerError::Failed(m) if m.contains("was deleted while the ledger was open")), "{err}");
    assert!(matches!(l.append(&event(3)), Err(LedgerError::Failed(_))));
}

#[test]
fn a_ledger_without_entries_may_start_its_checkpoint_file_again() {
    // A crash right after a new ledger's header was written leaves no checkpoint file; and
    // a new ledger where only the header of an earlier one's checkpoint file is left: neither
    // has anything a checkpoint vouched for.
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    write_closed(&cfg, &key, 0);
    std::fs::remove_file(cfg.checkpoint_path()).unwrap();
    let (l, report) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(T0)), None).unwrap();
    assert!(!report.created && !report.new_checkpoint_history);
    l.close().unwrap();
    drop(l);
    std::fs::remove_file(&cfg.path).unwrap();
    let (_l, report) = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(T0)), None).unwrap();
    assert!(report.created);
}

#[test]
fn a_brand_new_ledger_creates_its_checkpoint_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let (_l, report) = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(T0)), None).unwrap();
    assert!(report.created && !report.new_checkpoint_history);
    assert!(cfg.checkpoint_path().exists());
}

// ---- item 10: clock jumps --------------------------------------------------------------------

/// A clock whose wall time can jump apart from its monotonic time.
struct JumpClock {
    mono: AtomicU64,
    wall_offset: AtomicU64,
}

impl JumpClock {
    fn new() -> JumpClock {
        JumpClock { mono: AtomicU64::new(0), wall_offset: AtomicU64::new(T0) }
    }
    fn tick(&self, d: Duration) {
        self.mono.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
    fn set_wall_offset(&self, ms: u64) {
        self.wall_offset.store(ms, Ordering::SeqCst);
    }
}

impl Clock for JumpClock {
    fn monotonic_nanos(&self) -> u64 {
        self.mono.load(Ordering::SeqCst)
    }
    fn unix_millis(&self) -> u64 {
        self.wall_offset.load(Ordering::SeqCst) + self.mono.load(Ordering::SeqCst) / 1_000_000
    }
}

#[test]
fn a_clock_a_day_ahead_and_back_again_is_recorded_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let clock = Arc::new(JumpClock::new());
    let (l, _) = Ledger::open(cfg.clone(), key.clone(), clock.clone(), None).unwrap();
    let day = 86_400_000;
    assert_eq!(l.append(&event(1)).unwrap().seq, 1);
    clock.tick(Duration::from_secs(1));
    clock.set_wall_offset(T0 + day);
    let ahead = l.append(&event(2)).unwrap();
    assert_eq!((ahead.seq, ahead.ts_millis), (3, T0 + day + 1000), "seq 2 records the jump");
    clock.tick(Duration::from_secs(1));
    clock.set_wall_offset(T0);
    let back = l.append(&event(3)).unwrap();
    assert_eq!((back.seq, back.ts_millis), (5, T0 + day + 1000), "pinned to the last time; seq 4 records why");
    clock.tick(Duration::from_secs(1));
    assert_eq!(l.append(&event(4)).unwrap().seq, 6, "one note per jump");
    // An idle hour is no new jump: both clocks move (and the clock is still behind, noted once).
    clock.tick(Duration::from_secs(3600));
    assert_eq!(l.append(&event(5)).unwrap().seq, 7);
    l.close().unwrap();
    let r = verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap();
    assert!(r.is_clean(), "{:?}", r.anomalies);
    let jumps: Vec<(u64, String)> = r
        .events
        .iter()
        .map(|e| (e.seq, serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["direction"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(jumps, vec![(2, "ahead".to_string()), (4, "behind".to_string())]);
    assert!(r.events.iter().all(|e| e.action == notes::CLOCK_JUMP));
    let behind: serde_json::Value = serde_json::from_str(&r.events[1].payload).unwrap();
    assert_eq!(behind["clock_ms"], serde_json::json!(T0 + 2000));
    assert_eq!(behind["last_entry_ms"], serde_json::json!(T0 + day + 1000));
    assert_eq!(behind["tolerance_ms"], serde_json::json!(300_000));
}

#[test]
fn a_jump_within_the_configured_tolerance_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.clock_tolerance = Duration::from_secs(60);
    let clock = Arc::new(JumpClock::new());
    let (l, _) = Ledger::open(cfg.clone(), key, clock.clone(), None).unwrap();
    l.append(&event(1)).unwrap();
    clock.set_wall_offset(T0 + 59_000);
    assert_eq!(l.append(&event(2)).unwrap().seq, 2);
    clock.set_wall_offset(T0 + 59_000 + 61_000);
    assert_eq!(l.append(&event(3)).unwrap().seq, 4, "61 s ahead of a 60 s tolerance");
    cfg.clock_tolerance = Duration::ZERO;
    assert!(matches!(Ledger::open(cfg, LedgerKey::generate().unwrap(), clock, None), Err(LedgerError::Config(_))));
}
