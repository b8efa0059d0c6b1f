//! A ledger pushing its signed checkpoints to witnesses: the real C2SP witness
//! ([`pip_runtime::ledger::witness::Witness`]) behind a small HTTP/1.1 server on 127.0.0.1, and
//! the ledger's pusher in the background. Cosigned notes land in `<ledger>.witnessed` and verify;
//! a witness that lost its state, one that is down, one that cosigns with the wrong key or over
//! something else, a restored older copy of the ledger, and a witness that never answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pip_conventions::metric;
use pip_runtime::clock::ManualClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::note::{Checkpoint, NoteSigner, NoteVerifiers, SignatureType, SignedNote};
use pip_runtime::ledger::signed::verify::{VerifyOptions, verify_signed_with};
use pip_runtime::ledger::signed::witnessed::{WitnessKeys, WitnessRequirement};
use pip_runtime::ledger::signed::{SignedFile, Signing};
use pip_runtime::ledger::witness::{AddCheckpoint, PushError, Witness, WitnessTarget, Witnessing, cosignatures};
use pip_runtime::ledger::{CheckpointPolicy, Ledger, LedgerConfig, LedgerKey};
use pip_runtime::metrics::{Metrics, WitnessErrorLabels, WitnessLabels};

const ORIGIN: &str = "pip.example/payments/audit";
const OPENED_MILLIS: u64 = 1_767_225_600_000;

fn event(tag: &str, i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc".into(),
        action: "transfer".into(),
        resource: format!("{tag}/{i}"),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

/// Polls `done` until it holds, for up to 30 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How the test server answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The real witness judges the request.
    Honest,
    /// Every connection is closed without an answer.
    Down,
    /// A 200 whose cosignature is by another key of the same name.
    OtherKey,
    /// A 200 whose cosignature, by the right key, is over another checkpoint.
    OtherCheckpoint,
}

struct ServerState {
    witness: Mutex<Witness>,
    impostor: NoteSigner,
    cosigner: NoteSigner,
    mode: Mutex<Mode>,
}

/// A witness behind a tiny HTTP/1.1 server: one connection at a time, `Connection: close`.
struct WitnessServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    verifier: pip_runtime::ledger::note::NoteVerifier,
    log_keys: NoteVerifiers,
    dir: PathBuf,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

impl WitnessServer {
    fn start(name: &str, log_keys: &NoteVerifiers, dir: &Path) -> WitnessServer {
        let cosigner = NoteSigner::generate(name, SignatureType::CosignatureV1).unwrap();
        let impostor = NoteSigner::generate(name, SignatureType::CosignatureV1).unwrap();
        let verifier = cosigner.verifier();
        let dir = dir.join(format!("witness-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let witness = Self::fresh_witness(&cosigner, log_keys, &dir.join("state-0"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ServerState { witness: Mutex::new(witness), impostor, cosigner, mode: Mutex::new(Mode::Honest) });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = serve(&shared, stream);
            }
        });
        WitnessServer { addr, state, verifier, log_keys: log_keys.clone(), dir }
    }

    fn fresh_witness(cosigner: &NoteSigner, log_keys: &NoteVerifiers, state: &Path) -> Witness {
        let signer = NoteSigner::parse_private(&cosigner.to_private_text()).unwrap();
        Witness::open(signer, BTreeMap::from([(ORIGIN.to_string(), log_keys.clone())]), state).unwrap()
    }

    /// The witness restarted with an empty state (a new state file).
    fn lose_state(&self, generation: u32) {
        let w = Self::fresh_witness(&self.state.cosigner, &self.log_keys, &self.dir.join(format!("state-{generation}")));
        *self.state.witness.lock().unwrap() = w;
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn name(&self) -> &str {
        self.verifier.name()
    }

    fn target(&self, trailing_slash: bool) -> WitnessTarget {
        let url = format!("http://{}{}", self.addr, if trailing_slash { "/" } else { "" });
        WitnessTarget::new(&url, &self.verifier.to_text()).unwrap()
    }

    fn latest(&self) -> Option<u64> {
        self.state.witness.lock().unwrap().latest(ORIGIN).map(|(size, _)| size)
    }
}

/// Reads one request and answers it as the server's mode says.
fn serve(state: &ServerState, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mode = *state.mode.lock().unwrap();
    if mode == Mode::Down {
        return Ok(());
    }
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let (status, content_type, text) = if request_line.split(' ').nth(1) != Some("/add-checkpoint") {
        (404, "text/plain".to_string(), "no such endpoint\n".to_string())
    } else {
        match mode {
            Mode::Honest | Mode::Down => {
                let r = state.witness.lock().unwrap().add_checkpoint(&body, now_secs()).unwrap();
                (r.status, r.content_type.to_string(), r.body)
            }
            Mode::OtherKey | Mode::OtherCheckpoint => {
                let req = AddCheckpoint::parse(&body).unwrap();
                let signed = SignedNote::parse(req.checkpoint.as_bytes()).unwrap();
                let mut cp = Checkpoint::parse(&signed.text).unwrap();
                let signer = if mode == Mode::OtherKey {
                    &state.impostor
                } else {
                    cp.root[0] ^= 1;
                    &state.cosigner
                };
                (200, "text/plain".to_string(), cp.cosign(signer, now_secs()).unwrap().to_line())
            }
        }
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(text.as_bytes())?;
    stream.flush()
}

struct Log {
    key: LedgerKey,
    signer_text: String,
    verifiers: NoteVerifiers,
}

impl Log {
    fn new() -> Log {
        let signer = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
        let verifiers = NoteVerifiers::new([signer.verifier()]).unwrap();
        Log { key: LedgerKey::generate().unwrap(), signer_text: signer.to_private_text().to_string(), verifiers }
    }

    fn signing(&self, witnessing: Witnessing) -> Signing {
        Signing::new(NoteSigner::parse_private(&self.signer_text).unwrap(), ORIGIN).unwrap().with_witnessing(witnessing)
    }

    fn open(&self, cfg: &LedgerConfig, targets: Vec<WitnessTarget>, metrics: &Metrics, timeout: Duration) -> (Ledger, ManualClock) {
        let witnessing = Witnessing::new(targets)
            .unwrap()
            .with_timeout(timeout)
            .unwrap()
            .with_backoff(Duration::from_millis(10), Duration::from_millis(100))
            .unwrap();
        let clock = ManualClock::new(OPENED_MILLIS);
        let (ledger, _) =
            Ledger::open_signed(cfg.clone(), self.key.clone(), self.signing(witnessing), Arc::new(clock.clone()), Some(metrics)).unwrap();
        (ledger, clock)
    }
}

fn config(dir: &Path, every: u64) -> LedgerConfig {
    let mut cfg = LedgerConfig::new("payments", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(every), every: None };
    cfg
}

fn append(ledger: &Ledger, tag: &str, range: std::ops::Range<u64>) {
    for i in range {
        ledger.append(&event(tag, i)).unwrap();
    }
    ledger.sync().unwrap();
}

/// The records of `<ledger>.witnessed`: (tree size, key names of the cosignatures that verify
/// with `witness`'s key, the note as stored).
fn witnessed(cfg: &LedgerConfig, log: &Log, witness: &WitnessServer) -> Vec<(u64, usize, String)> {
    let file = SignedFile::read(&cfg.witnessed_path()).unwrap();
    assert_eq!(file.torn_bytes, 0, "every record ends with a blank line");
    let keys = NoteVerifiers::new([witness.verifier.clone()]).unwrap();
    file.notes
        .iter()
        .filter_map(|n| {
            // Every record is a checkpoint the log signed.
            let (cp, _) = Checkpoint::open(n.message.as_bytes(), &log.verifiers).unwrap();
            let cosigned = cosignatures(&n.message, "", &keys).ok()?;
            Some((cp.size, cosigned.len(), n.message.clone()))
        })
        .collect()
}

fn sizes(records: &[(u64, usize, String)]) -> Vec<u64> {
    records.iter().map(|r| r.0).collect()
}

fn labels(witness: &str) -> WitnessLabels {
    WitnessLabels { spec: "payments".into(), ledger: "audit".into(), witness: witness.into() }
}

fn push_errors(m: &Metrics, witness: &str, reason: PushError) -> u64 {
    let l = WitnessErrorLabels { spec: "payments".into(), ledger: "audit".into(), witness: witness.into(), reason: reason.as_str().into() };
    m.ledger_witness_push_errors.get_or_create(&l).get()
}

fn errors(m: &Metrics, w: &WitnessServer, reason: PushError) -> u64 {
    push_errors(m, w.name(), reason)
}

fn cosigned_size(m: &Metrics, w: &WitnessServer) -> i64 {
    m.ledger_witness_cosigned_size.get_or_create(&labels(w.name())).get()
}

fn cosigned_at(m: &Metrics, w: &WitnessServer) -> f64 {
    m.ledger_witness_cosigned.get_or_create(&labels(w.name())).get()
}

#[test]
fn each_witness_cosigns_the_checkpoints_and_the_cosigned_notes_are_stored_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let (w1, w2) =
        (WitnessServer::start("w1.example", &log.verifiers, dir.path()), WitnessServer::start("w2.example", &log.verifiers, dir.path()));
    let cfg = config(dir.path(), 10);
    let metrics = Metrics::default();
    let (ledger, clock) = log.open(&cfg, vec![w1.target(false), w2.target(true)], &metrics, Duration::from_secs(10));
    for w in [&w1, &w2] {
        assert_eq!(cosigned_at(&metrics, w), OPENED_MILLIS as f64 / 1000.0, "silent since open");
        assert!(PushError::ALL.iter().all(|&r| errors(&metrics, w, r) == 0), "every reason exported at zero");
    }
    clock.advance(Duration::from_secs(5));
    append(&ledger, "a", 0..10);
    wait_until("both witnesses cosign size 10", || cosigned_size(&metrics, &w1) == 10 && cosigned_size(&metrics, &w2) == 10);
    // Proofs are read from the files while an appender goes on writing them.
    let appender = {
        let ledger = ledger.clone();
        std::thread::spawn(move || append(&ledger, "b", 10..2000))
    };
    appender.join().unwrap();
    wait_until("both witnesses cosign size 2000", || cosigned_size(&metrics, &w1) == 2000 && cosigned_size(&metrics, &w2) == 2000);
    ledger.close().unwrap();
    assert_eq!((w1.latest(), w2.latest()), (Some(2000), Some(2000)));
    let signed: Vec<String> = SignedFile::read(&cfg.signed_path()).unwrap().notes.into_iter().map(|n| n.message).collect();
    for w in [&w1, &w2] {
        let records = witnessed(&cfg, &log, w);
        let s = sizes(&records);
        assert_eq!(s.first(), Some(&10), "{s:?}");
        assert_eq!(s.last(), Some(&2000), "{s:?}");
        assert!(s.windows(2).all(|p| p[0] < p[1]), "each witness cosigns ever larger trees: {s:?}");
        for (_, cosigned, message) in &records {
            assert_eq!(*cosigned, 1, "one cosignature of this witness per record");
            // The note exactly as signed, then the cosignature lines.
            assert!(signed.iter().any(|n| message.starts_with(n.as_str())), "{message}");
            assert!(cosignatures(message, "", &NoteVerifiers::new([w.verifier.clone()]).unwrap()).is_ok());
        }
        assert_eq!(cosigned_at(&metrics, w), (OPENED_MILLIS + 5000) as f64 / 1000.0);
        assert!(PushError::ALL.iter().all(|&r| errors(&metrics, w, r) == 0), "no push failed");
    }
    // Each record holds one witness's cosignatures: the file has as many as both witnesses' lists.
    let all = SignedFile::read(&cfg.witnessed_path()).unwrap().notes.len();
    assert_eq!(all, witnessed(&cfg, &log, &w1).len() + witnessed(&cfg, &log, &w2).len());
    // The auditor's reader of the file finds every entry cosigned by both witnesses.
    let keys = WitnessKeys::new([w1.verifier.clone(), w2.verifier.clone()]).unwrap();
    let witnessed_path = cfg.witnessed_path();
    let options = VerifyOptions {
        origin: Some(ORIGIN),
        trusted: None,
        witnesses: Some(WitnessRequirement { file: &witnessed_path, keys: &keys, quorum: 2 }),
    };
    let v = verify_signed_with(&cfg.path, &cfg.signed_path(), &log.verifiers, &options).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
    let w = v.witnessed.unwrap();
    assert!(w.quorum_met && w.covered == 2000 && w.torn_bytes == 0, "{w:?}");
}

#[test]
fn a_witness_that_lost_its_state_answers_409_with_its_size_and_the_push_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let w = WitnessServer::start("w.example", &log.verifiers, dir.path());
    let cfg = config(dir.path(), 10);
    let metrics = Metrics::default();
    let (ledger, _clock) = log.open(&cfg, vec![w.target(false)], &metrics, Duration::from_secs(10));
    append(&ledger, "a", 0..10);
    wait_until("cosigned 10", || cosigned_size(&metrics, &w) == 10);
    // The witness restarts empty: the pusher sends `old 10`, learns `0` from the 409 and
    // sends again from there at once.
    w.lose_state(1);
    append(&ledger, "a", 10..20);
    wait_until("cosigned 20 by the witness that lost its state", || cosigned_size(&metrics, &w) == 20);
    assert_eq!(w.latest(), Some(20));
    ledger.close().unwrap();
    // The ledger restarts without its `.witnessed` file: it starts from 0 and learns 20.
    std::fs::remove_file(cfg.witnessed_path()).unwrap();
    let metrics2 = Metrics::default();
    let (ledger, _clock) = log.open(&cfg, vec![w.target(true)], &metrics2, Duration::from_secs(10));
    append(&ledger, "a", 20..30);
    wait_until("cosigned 30 after learning the size", || cosigned_size(&metrics2, &w) == 30);
    ledger.close().unwrap();
    // On open the latest signed checkpoint (20) is pushed first: the witness holds it and
    // cosigns it again; then 30.
    assert_eq!(sizes(&witnessed(&cfg, &log, &w)), [20, 30]);
    for m in [&metrics, &metrics2] {
        // The 409 is counted once (a witness that forgot, or a ledger that lost its file, is
        // worth knowing about); nothing else failed.
        let counts: Vec<(PushError, u64)> = PushError::ALL.iter().map(|&r| (r, errors(m, &w, r))).collect();
        assert!(counts.iter().all(|&(r, n)| n == u64::from(r == PushError::Conflict)), "{counts:?}");
    }
}

#[test]
fn a_witness_that_is_down_is_retried_until_it_is_up_and_cosigns() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let w = WitnessServer::start("w.example", &log.verifiers, dir.path());
    w.set_mode(Mode::Down);
    let cfg = config(dir.path(), 10);
    let metrics = Metrics::default();
    let (ledger, _clock) = log.open(&cfg, vec![w.target(false)], &metrics, Duration::from_secs(10));
    append(&ledger, "a", 0..10);
    wait_until("three failed tries", || errors(&metrics, &w, PushError::Unreachable) >= 3);
    assert_eq!(cosigned_size(&metrics, &w), 0);
    assert!(!cfg.witnessed_path().exists());
    // Up again: the same checkpoint is retried, with no new one signed.
    w.set_mode(Mode::Honest);
    wait_until("cosigned 10 once up", || cosigned_size(&metrics, &w) == 10);
    ledger.close().unwrap();
    assert_eq!(sizes(&witnessed(&cfg, &log, &w)), [10]);
}

#[test]
fn a_cosignature_by_another_key_or_over_another_checkpoint_is_counted_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let (good, bad) =
        (WitnessServer::start("good.example", &log.verifiers, dir.path()), WitnessServer::start("bad.example", &log.verifiers, dir.path()));
    bad.set_mode(Mode::OtherKey);
    let cfg = config(dir.path(), 10);
    let metrics = Metrics::default();
    let (ledger, clock) = log.open(&cfg, vec![good.target(false), bad.target(false)], &metrics, Duration::from_secs(10));
    clock.advance(Duration::from_secs(1));
    append(&ledger, "a", 0..10);
    wait_until("the good witness cosigns and the other key is counted", || {
        cosigned_size(&metrics, &good) == 10 && errors(&metrics, &bad, PushError::BadCosignature) >= 1
    });
    bad.set_mode(Mode::OtherCheckpoint);
    append(&ledger, "a", 10..20);
    wait_until("a cosignature over another root is counted", || {
        cosigned_size(&metrics, &good) == 20 && errors(&metrics, &bad, PushError::BadCosignature) >= 2
    });
    assert!(witnessed(&cfg, &log, &bad).is_empty(), "nothing of the bad witness is stored");
    assert_eq!(cosigned_at(&metrics, &bad), OPENED_MILLIS as f64 / 1000.0, "still silent since open");
    assert_eq!(cosigned_size(&metrics, &bad), 0);
    // The file holds the good witness's records only.
    let all = SignedFile::read(&cfg.witnessed_path()).unwrap().notes;
    assert!(all.iter().all(|n| !n.message.contains("bad.example")), "no line of the bad witness");
    // Honest again: the next checkpoint is cosigned.
    bad.set_mode(Mode::Honest);
    append(&ledger, "a", 20..30);
    wait_until("cosigned 30 by the witness now honest", || cosigned_size(&metrics, &bad) == 30);
    ledger.close().unwrap();
    assert_eq!(sizes(&witnessed(&cfg, &log, &bad)), [30]);
}

fn copy(cfg: &LedgerConfig, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for p in [cfg.path.clone(), cfg.checkpoint_path(), cfg.signed_path(), cfg.tree_path(), cfg.witnessed_path()] {
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn restore(cfg: &LedgerConfig, from: &Path) {
    for p in [cfg.path.clone(), cfg.checkpoint_path(), cfg.signed_path(), cfg.tree_path(), cfg.witnessed_path()] {
        std::fs::copy(from.join(p.file_name().unwrap()), &p).unwrap();
    }
}

#[test]
fn a_restored_older_copy_that_appends_other_entries_is_refused_by_the_witness() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let w = WitnessServer::start("w.example", &log.verifiers, dir.path());
    let cfg = config(dir.path(), 5);
    let metrics = Metrics::default();
    let (ledger, _clock) = log.open(&cfg, vec![w.target(false)], &metrics, Duration::from_secs(10));
    append(&ledger, "a", 0..10);
    wait_until("cosigned 10", || cosigned_size(&metrics, &w) == 10);
    ledger.close().unwrap();
    let backup = dir.path().join("backup");
    copy(&cfg, &backup);
    let (ledger, _clock) = log.open(&cfg, vec![w.target(false)], &metrics, Duration::from_secs(10));
    append(&ledger, "a", 10..20);
    wait_until("cosigned 20", || cosigned_size(&metrics, &w) == 20);
    ledger.close().unwrap();
    assert_eq!(w.latest(), Some(20));

    // The attack: the copy of size 10 is put back (with its signed notes, tree and
    // `.witnessed`), and other entries are appended.
    restore(&cfg, &backup);
    let stored = SignedFile::read(&cfg.witnessed_path()).unwrap().notes.len();
    let fresh = Metrics::default();
    let (ledger, clock) = log.open(&cfg, vec![w.target(false)], &fresh, Duration::from_secs(10));
    clock.advance(Duration::from_secs(60));
    // Size 15: the witness holds 20, more than this checkpoint.
    append(&ledger, "forged", 10..15);
    wait_until("a conflict", || errors(&fresh, &w, PushError::Conflict) >= 1);
    // Size 25: a proof from 20 cannot be made consistent with the other entries.
    append(&ledger, "forged", 15..25);
    wait_until("an inconsistency", || errors(&fresh, &w, PushError::Inconsistent) >= 1);
    ledger.close().unwrap();
    assert_eq!(w.latest(), Some(20), "the witness kept what it cosigned");
    assert_eq!(cosigned_at(&fresh, &w), OPENED_MILLIS as f64 / 1000.0, "the cosigned time did not advance");
    assert_eq!(cosigned_size(&fresh, &w), 10, "the size cosigned before the copy was taken");
    assert_eq!(SignedFile::read(&cfg.witnessed_path()).unwrap().notes.len(), stored, "nothing new is stored");
}

#[test]
fn appends_never_wait_for_a_witness_that_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let cosigner = NoteSigner::generate("silent.example", SignatureType::CosignatureV1).unwrap();
    // Bound, never accepting: connections queue in the kernel and no answer ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = WitnessTarget::new(&format!("http://{}", silent.local_addr().unwrap()), &cosigner.verifier().to_text()).unwrap();
    let cfg = config(dir.path(), 100);
    let metrics = Metrics::default();
    let (ledger, _clock) = log.open(&cfg, vec![target], &metrics, Duration::from_millis(200));
    let mut appended = 0u64;
    for i in 0..10_000 {
        ledger.append(&event("a", i)).unwrap();
        appended += 1;
    }
    assert_eq!(ledger.sync().unwrap(), 10_000);
    assert_eq!(appended, 10_000);
    let timeouts = || push_errors(&metrics, "silent.example", PushError::Timeout);
    wait_until("a push timed out", || timeouts() >= 1);
    assert_eq!(metrics.ledger_witness_cosigned_size.get_or_create(&labels("silent.example")).get(), 0);
    ledger.close().unwrap();
    assert!(!cfg.witnessed_path().exists());
    drop(silent);
}

#[test]
fn every_witness_series_is_exported_at_open_under_the_conventions_names() {
    let mut registry = prometheus_client::registry::Registry::default();
    let m = Metrics::register(&mut registry);
    let dir = tempfile::tempdir().unwrap();
    let log = Log::new();
    let w = WitnessServer::start("w.example", &log.verifiers, dir.path());
    let (ledger, _clock) = log.open(&config(dir.path(), 10), vec![w.target(false)], &m, Duration::from_secs(10));
    let text = pip_runtime::metrics::render(&registry);
    ledger.close().unwrap();
    let value = |name: &str| -> f64 {
        let prefix = format!("{name}{{spec=\"payments\",ledger=\"audit\",witness=\"w.example\"}} ");
        let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{prefix} in\n{text}"));
        line[prefix.len()..].parse().unwrap()
    };
    assert_eq!(value(metric::LEDGER_WITNESS_COSIGNED.exposed), OPENED_MILLIS as f64 / 1000.0, "silent since open");
    assert_eq!(value(metric::LEDGER_WITNESS_COSIGNED_SIZE.exposed), 0.0);
    for r in PushError::ALL {
        let series = format!(
            "{}{{spec=\"payments\",ledger=\"audit\",witness=\"w.example\",reason=\"{}\"}} 0",
            metric::LEDGER_WITNESS_PUSH_ERRORS.exposed,
            r.as_str()
        );
        assert!(text.contains(&series), "{series} in\n{text}");
    }
    assert_eq!(PushError::ALL.map(PushError::as_str), pip_conventions::witness_error::ALL);
}
