//! Appending, durability, checkpoints, metrics and recovery of [`Ledger`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pip_runtime::clock::{Clock, ManualClock, SystemClock};
use pip_runtime::evidence::{Event, EvidenceSink};
use pip_runtime::ledger::checkpoint::{CheckpointFile, default_path};
use pip_runtime::ledger::query::LedgerReader;
use pip_runtime::ledger::{AnomalyClass, CheckpointPolicy, Durability, Ledger, LedgerConfig, LedgerError, LedgerKey, verify_files};
use pip_runtime::metrics::{Metrics, render};
use prometheus_client::registry::Registry;

fn event(subsystem: &str, i: u64) -> Event {
    Event {
        subsystem: subsystem.to_string(),
        actor: "svc:payments".into(),
        action: "transfer".into(),
        resource: format!("account/{i}"),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

fn config(dir: &Path) -> LedgerConfig {
    LedgerConfig::new("payments", "audit", dir.join("audit.ledger"))
}

fn open(cfg: &LedgerConfig, key: &LedgerKey, clock: Arc<dyn Clock>) -> Ledger {
    Ledger::open(cfg.clone(), key.clone(), clock, None).unwrap().0
}

/// A clock whose wall time can be set back (the system clock may jump).
#[derive(Default)]
struct SettableClock {
    millis: AtomicU64,
}

impl Clock for SettableClock {
    fn monotonic_nanos(&self) -> u64 {
        0
    }
    fn unix_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }
}

fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        labels.iter().all(|(k, v)| series.contains(&format!("{k}=\"{v}\""))).then(|| value.parse().ok()).flatten()
    })
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn seqs_go_up_by_one_and_times_never_go_back_even_when_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let clock = Arc::new(SettableClock::default());
    clock.millis.store(5_000, Ordering::SeqCst);
    let ledger = open(&config(dir.path()), &key, clock.clone());
    let a = ledger.append(&event("billing", 1)).unwrap();
    clock.millis.store(1_000, Ordering::SeqCst);
    let b = ledger.append(&event("billing", 2)).unwrap();
    clock.millis.store(9_000, Ordering::SeqCst);
    let c = ledger.append(&event("billing", 3)).unwrap();
    assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
    assert_eq!((a.ts_millis, b.ts_millis, c.ts_millis), (5_000, 5_000, 9_000));
    ledger.close().unwrap();
    let r = verify_files(&config(dir.path()).path, Some(&default_path(&config(dir.path()).path)), &key, 1).unwrap();
    assert!(r.is_clean(), "{:?}", r.anomalies);
}

#[test]
fn an_append_returns_only_once_its_entry_is_synced_when_every_append_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let ledger = open(&cfg, &key, Arc::new(SystemClock::new()));
    for i in 1..=20 {
        let r = ledger.append(&event("billing", i)).unwrap();
        assert_eq!(r.seq, i);
        assert!(ledger.durable_seq() >= r.seq);
        // Written through to the file, readable by another reader right away.
        let reader = LedgerReader::open(&cfg.path).unwrap();
        assert_eq!(reader.len() as u64, i);
        assert_eq!(reader.entry(reader.len() - 1).unwrap().unwrap().hash, r.hash);
    }
}

#[test]
fn concurrent_appenders_share_syncs_and_every_seq_is_given_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let ledger = open(&cfg, &key, Arc::new(SystemClock::new()));
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let l = ledger.clone();
                s.spawn(move || {
                    (0..100)
                        .map(|i| {
                            let r = l.append(&event("billing", t * 1000 + i)).unwrap();
                            assert!(l.durable_seq() >= r.seq);
                            r.seq
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=800).collect::<Vec<_>>());
    let stats = ledger.stats();
    assert_eq!(stats.appends, 800);
    assert!(stats.syncs < 800, "no sync was shared: {stats:?}");
    ledger.close().unwrap();
    assert!(verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 2).unwrap().is_clean());
}

#[test]
fn group_durability_syncs_after_its_entry_count() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.durability = Durability::Group { entries: Some(10), interval: None };
    // The manual clock never moves: only the entry count can trigger a sync.
    let ledger = open(&cfg, &key, Arc::new(ManualClock::new(1_000)));
    for i in 1..=9 {
        ledger.append(&event("billing", i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ledger.durable_seq(), 0, "synced before 10 entries were waiting");
    ledger.append(&event("billing", 10)).unwrap();
    wait_until("the tenth entry to trigger a sync", || ledger.durable_seq() == 10);
    ledger.append(&event("billing", 11)).unwrap();
    ledger.wait_durable(11).unwrap();
    assert_eq!(ledger.durable_seq(), 11);
}

#[test]
fn group_durability_syncs_after_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.durability = Durability::Group { entries: None, interval: Some(Duration::from_millis(20)) };
    let ledger = open(&cfg, &key, Arc::new(SystemClock::new()));
    let r = ledger.append(&event("billing", 1)).unwrap();
    // Nothing else is appended and the ledger stays open: only the interval can sync it.
    wait_until("the interval to trigger a sync", || ledger.durable_seq() == r.seq);
}

#[test]
fn checkpoints_are_written_every_n_entries_and_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(10), every: None };
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let (ledger, _) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(1_000)), Some(&metrics)).unwrap();
    let events: Vec<Event> = (1..=35).map(|i| event("billing", i)).collect();
    ledger.append_batch(&events).unwrap();
    ledger.close().unwrap();
    let file = CheckpointFile::read(&cfg.checkpoint_path()).unwrap();
    let seqs: Vec<u64> = file.checkpoints.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![10, 20, 30, 35]);
    assert!(file.checkpoints.iter().all(|c| c.verify(&key, &ledger.identity().digest())));
    let text = render(&registry);
    let labels = [("spec", "payments"), ("ledger", "audit")];
    assert_eq!(metric(&text, "pip_ledger_checkpoint_seq", &labels), Some(35.0), "{text}");
    assert_eq!(metric(&text, "pip_ledger_head_seq", &labels), Some(35.0), "{text}");
    assert!(matches!(ledger.append(&event("billing", 36)), Err(LedgerError::Closed)));
}

#[test]
fn checkpoints_are_written_every_interval_while_entries_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.checkpoint = CheckpointPolicy { every_entries: None, every: Some(Duration::from_millis(30)) };
    let ledger = open(&cfg, &key, Arc::new(SystemClock::new()));
    ledger.append(&event("billing", 1)).unwrap();
    wait_until("a timed checkpoint", || ledger.stats().checkpoints >= 1);
    ledger.append(&event("billing", 2)).unwrap();
    wait_until("a second timed checkpoint", || ledger.stats().checkpoints >= 2);
    let file = CheckpointFile::read(&cfg.checkpoint_path()).unwrap();
    assert_eq!(file.checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn reopening_exports_the_head_and_each_subsystems_last_append_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let clock = ManualClock::new(1_700_000_000_000);
    let ledger = open(&cfg, &key, Arc::new(clock.clone()));
    ledger.append(&event("billing", 1)).unwrap();
    clock.advance(Duration::from_secs(60));
    ledger.append(&event("auth", 2)).unwrap();
    clock.advance(Duration::from_secs(60));
    ledger.append(&event("billing", 3)).unwrap();
    ledger.close().unwrap();
    drop(ledger);

    // A new process, a day later: the gauges tell the file's truth, not the start time.
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let later = ManualClock::new(1_700_086_400_000);
    let (_ledger, report) = Ledger::open(cfg, key, Arc::new(later), Some(&metrics)).unwrap();
    assert_eq!(report.head_seq, 3);
    let text = render(&registry);
    let ledger_labels = [("spec", "payments"), ("ledger", "audit")];
    assert_eq!(metric(&text, "pip_ledger_head_seq", &ledger_labels), Some(3.0), "{text}");
    assert_eq!(metric(&text, "pip_ledger_checkpoint_seq", &ledger_labels), Some(3.0), "{text}");
    let last = |s: &str| metric(&text, "pip_ledger_last_append_timestamp_seconds", &[("ledger", "audit"), ("subsystem", s)]);
    assert_eq!(last("billing"), Some(1_700_000_120.0), "{text}");
    assert_eq!(last("auth"), Some(1_700_000_060.0), "{text}");
}

#[test]
fn an_expected_subsystem_that_never_wrote_is_silent_since_the_opening_and_anomalies_start_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.expected_subsystems = vec!["billing".into(), "settlement".into()];
    let clock = ManualClock::new(1_700_000_000_000);
    let ledger = open(&cfg, &key, Arc::new(clock.clone()));
    clock.advance(Duration::from_secs(60));
    ledger.append(&event("billing", 1)).unwrap();
    ledger.close().unwrap();
    drop(ledger);

    // Reopened a day later: billing's time comes from the file; settlement, expected but
    // never written, is silent since this opening, so its evidence-gap alert can fire.
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let (_ledger, _) = Ledger::open(cfg, key, Arc::new(ManualClock::new(1_700_086_400_000)), Some(&metrics)).unwrap();
    let text = render(&registry);
    let last = |s: &str| metric(&text, "pip_ledger_last_append_timestamp_seconds", &[("ledger", "audit"), ("subsystem", s)]);
    assert_eq!(last("billing"), Some(1_700_000_060.0), "{text}");
    assert_eq!(last("settlement"), Some(1_700_086_400.0), "{text}");
    assert_eq!(last("auth"), None, "a subsystem neither expected nor written has no series: {text}");
    for class in pip_runtime::ledger::class::ALL {
        let labels = [("ledger", "audit"), ("class", class)];
        assert_eq!(metric(&text, "pip_ledger_anomalies_total", &labels), Some(0.0), "{class}: {text}");
    }
}

#[test]
fn a_torn_tail_is_reported_saved_and_cut_back_never_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let ledger = open(&cfg, &key, Arc::new(ManualClock::new(1_000)));
    for i in 1..=5 {
        ledger.append(&event("billing", i)).unwrap();
    }
    ledger.close().unwrap();
    drop(ledger);
    let good_len = std::fs::metadata(&cfg.path).unwrap().len();
    // Half of a sixth record, as a crash in the middle of its write leaves it.
    let mut half = Vec::new();
    {
        let mut record = Vec::new();
        let ev = event("billing", 6);
        pip_runtime::ledger::records::encode_record(
            &mut record,
            &key,
            6,
            1_000,
            &[0; 32],
            &pip_runtime::ledger::records::PreparedEvent::new(&ev).unwrap(),
        );
        half.extend_from_slice(&record[..record.len() / 2]);
    }
    std::fs::OpenOptions::new().append(true).open(&cfg.path).unwrap().write_all(&half).unwrap();

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let (ledger, report) = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(2_000)), Some(&metrics)).unwrap();
    let torn = report.torn_tail.expect("the torn tail is reported");
    assert_eq!((torn.offset, torn.len), (good_len, half.len() as u64));
    assert_eq!(std::fs::read(&torn.saved_to).unwrap(), half);
    assert_eq!(std::fs::metadata(&cfg.path).unwrap().len(), good_len);
    let text = render(&registry);
    assert_eq!(metric(&text, "pip_ledger_anomalies_total", &[("class", "torn_tail")]), Some(1.0), "{text}");
    assert_eq!(ledger.append(&event("billing", 6)).unwrap().seq, 6);
    ledger.close().unwrap();
    assert!(verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &key, 1).unwrap().is_clean());
}

fn flip_byte(path: &PathBuf, at: u64) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let bytes = std::fs::read(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[bytes[at as usize] ^ 0x20]).unwrap();
}

fn ledger_of(n: u64, dir: &Path, key: &LedgerKey) -> (LedgerConfig, Vec<u64>) {
    let cfg = config(dir);
    let ledger = open(&cfg, key, Arc::new(ManualClock::new(1_000)));
    for i in 1..=n {
        ledger.append(&event("billing", i)).unwrap();
    }
    ledger.close().unwrap();
    let offsets = LedgerReader::open(&cfg.path).unwrap().entries().map(|e| e.unwrap().offset).collect();
    (cfg, offsets)
}

#[test]
fn a_damaged_ledger_is_not_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let (cfg, offsets) = ledger_of(5, dir.path(), &key);
    // A damaged length prefix in the middle: entries follow, so it is no torn tail.
    flip_byte(&cfg.path, offsets[2] + 1);
    let err = Ledger::open(cfg.clone(), key.clone(), Arc::new(ManualClock::new(1_000)), None).unwrap_err();
    assert!(matches!(err, LedgerError::Damaged { offset, .. } if offset == offsets[2]), "{err}");
    assert!(err.to_string().contains("pipc verify-log"), "{err}");
}

#[test]
fn a_modified_last_entry_is_not_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let (cfg, offsets) = ledger_of(3, dir.path(), &key);
    flip_byte(&cfg.path, offsets[2] + 60);
    let err = Ledger::open(cfg, key, Arc::new(ManualClock::new(1_000)), None).unwrap_err();
    assert!(matches!(err, LedgerError::Damaged { .. }), "{err}");
}

#[test]
fn a_ledger_cut_below_its_checkpoint_is_not_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let (cfg, offsets) = ledger_of(4, dir.path(), &key);
    std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap().set_len(offsets[3]).unwrap();
    let err = Ledger::open(cfg, key, Arc::new(ManualClock::new(1_000)), None).unwrap_err();
    assert!(matches!(err, LedgerError::Truncated { head: 3, checkpoint: 4, .. }), "{err}");
}

#[test]
fn a_torn_tail_below_the_checkpoint_is_refused_and_the_file_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let (cfg, offsets) = ledger_of(4, dir.path(), &key);
    // The last entry, vouched for by the checkpoint at seq 4, is cut in half.
    let len = std::fs::metadata(&cfg.path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&cfg.path).unwrap().set_len((offsets[3] + len) / 2).unwrap();
    let before = std::fs::read(&cfg.path).unwrap();
    let err = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(1_000)), None).unwrap_err();
    assert!(matches!(err, LedgerError::Truncated { head: 3, checkpoint: 4, .. }), "{err}");
    assert_eq!(std::fs::read(&cfg.path).unwrap(), before, "a refused open changed the ledger");
    let saved: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().contains("torn")).collect();
    assert!(saved.is_empty(), "{saved:?}");
}

#[test]
fn a_file_that_is_not_a_ledger_is_refused_before_a_checkpoint_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    std::fs::write(&cfg.path, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n").unwrap();
    let err = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(1_000)), None).unwrap_err();
    assert!(matches!(err, LedgerError::NotALedger { .. }), "{err}");
    assert!(!cfg.checkpoint_path().exists(), "a checkpoint file was created next to a file that is not a ledger");
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let _first = open(&cfg, &key, Arc::new(SystemClock::new()));
    let err = Ledger::open(cfg, key, Arc::new(SystemClock::new()), None).unwrap_err();
    assert!(matches!(err, LedgerError::Locked(_)), "{err}");
}

#[test]
fn a_ledger_is_not_opened_with_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let (cfg, _) = ledger_of(2, dir.path(), &key);
    let other = LedgerKey::generate().unwrap();
    let err = Ledger::open(cfg, other.clone(), Arc::new(SystemClock::new()), None).unwrap_err();
    assert!(matches!(err, LedgerError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains(&other.id_hex()));
}

#[test]
fn inconsistent_configurations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let mut cfg = config(dir.path());
    cfg.durability = Durability::Group { entries: None, interval: None };
    let err = Ledger::open(cfg.clone(), key.clone(), Arc::new(SystemClock::new()), None).unwrap_err();
    assert_eq!(err.to_string(), "invalid ledger configuration: a group sync needs an entry count or an interval");
    cfg.durability = Durability::EveryAppend;
    cfg.checkpoint.every_entries = Some(0);
    assert!(matches!(Ledger::open(cfg, key, Arc::new(SystemClock::new()), None), Err(LedgerError::Config(_))));
}

#[test]
fn the_ledger_is_an_evidence_sink_for_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let sink: Arc<dyn EvidenceSink> = Arc::new(open(&cfg, &key, Arc::new(SystemClock::new())));
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                s.spawn({
                    let sink = Arc::clone(&sink);
                    move || (0..25).map(|i| sink.record(event("violations", t * 100 + i)).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

#[test]
fn verifying_an_open_ledger_counts_its_anomalies_in_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    let key = LedgerKey::generate().unwrap();
    let cfg = config(dir.path());
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let (ledger, _) = Ledger::open(cfg.clone(), key, Arc::new(ManualClock::new(1_000)), Some(&metrics)).unwrap();
    for i in 1..=10 {
        ledger.append(&event("billing", i)).unwrap();
    }
    assert!(ledger.verify(2).unwrap().is_clean());
    let offset = LedgerReader::open(&cfg.path).unwrap().entry(4).unwrap().unwrap().offset;
    flip_byte(&cfg.path, offset + 70);
    let report = ledger.verify(2).unwrap();
    assert_eq!(report.classes().into_iter().collect::<Vec<_>>(), vec![AnomalyClass::Modified], "{:?}", report.anomalies);
    let text = render(&registry);
    assert_eq!(metric(&text, "pip_ledger_anomalies_total", &[("class", "modified")]), Some(1.0), "{text}");
}
