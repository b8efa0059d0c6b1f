//! Appending: [`Ledger`] is a cloneable handle that many threads append through. Appenders
//! sequence, hash, MAC and buffer their entry under one lock; a flusher thread writes the
//! buffer and syncs it, so that many appends share one `fdatasync` (group commit).
//!
//! Durability, as configured ([`Durability`]):
//! - `EveryAppend`: [`Ledger::append`] returns once the entry is on disk (written and
//!   synced). Appends that arrive while a sync runs are written and synced together next.
//! - `Group { entries, interval }`: `append` returns once the entry is sequenced and MACed
//!   in memory; the flusher writes and syncs as soon as `entries` entries are waiting or the
//!   oldest has waited `interval`. Until then a crash may lose it: an entry is durable once
//!   [`Ledger::durable_seq`] has reached its seq, and [`Ledger::wait_durable`] or
//!   [`Ledger::sync`] wait for that.
//!
//! Checkpoints are written by the flusher after the entries they cover are synced, every
//! `every_entries` entries (at exact multiples of the count since the previous one) and,
//! when the head has moved, every `every` of time; and once more when the ledger is closed.
//! The head seq metric follows the durable head, so that it never goes down after a crash;
//! the append counters and last-append times are published with it, exactly, once per synced
//! batch (the ledger's `meters` module).
//!
//! An entry's time is the clock's wall time read once during its `append` call, before the
//! lock is taken (so that the lock is not held for it), raised to the previous entry's time
//! when that is later (another thread read the clock later but was sequenced first, or the
//! clock went back). So times never decrease, and while the clock does not go back each lies
//! between the start of its `append` call and the moment the entry is sequenced. The
//! resolution is the clock's: milliseconds. [`Ledger::append_batch`] reads the clock once for
//! all its entries, which are sequenced together.
//!
//! Appending serialises the payload into a per-thread buffer kept between appends, then
//! sequences, hashes, MACs and buffers the entry under the lock: the only per-entry work under
//! the lock is writing the record (~180 bytes) and its five SHA-256 compressions.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::clock::Clock;
use crate::evidence::{Event, EvidenceError, EvidenceSink};
use crate::ledger::format::{FormatError, HASH_LEN, OwedMac, PreparedEvent, encode_record_owing};
use crate::ledger::identity::Identity;
use crate::ledger::key::LedgerKey;
use crate::ledger::meters::{LedgerMetrics, Subsystems};
use crate::ledger::notes::{self, ClockWatch, Note};
use crate::ledger::open::{OpenReport, open_files};
use crate::ledger::report::{AnomalyClass, Report};
use crate::ledger::verify::{CkptInput, verify_file};
use crate::metrics::Metrics;

mod flusher;

pub use crate::ledger::config::{CheckpointPolicy, DEFAULT_CLOCK_TOLERANCE, Durability, LedgerConfig};
pub use crate::ledger::error::LedgerError;

/// Refuses an appender's event in the ledger's own subsystem: only the writer's notes (which
/// do not pass through here) may use it, so that no appender can forge a `clock_jump` or a
/// `new_checkpoint_history` the verifier would list as the ledger's own.
fn not_reserved(event: &PreparedEvent<'_>) -> Result<(), LedgerError> {
    if event.subsystem() == notes::SUBSYSTEM { Err(LedgerError::ReservedSubsystem) } else { Ok(()) }
}

/// What [`Ledger::append`] returns once the entry is durable as configured: where it sits in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's sequence number.
    pub seq: u64,
    /// The time given to it, Unix milliseconds.
    pub ts_millis: u64,
    /// Its hash (the next entry's `prev`).
    pub hash: [u8; HASH_LEN],
}

/// Counters of the flusher's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries appended since open.
    pub appends: u64,
    /// Syncs of the ledger file since open: one per flushed batch, so fewer than `appends` when appends share one.
    pub syncs: u64,
    /// Checkpoints written since open.
    pub checkpoints: u64,
}

fn to_gauge(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// State shared by appenders and the flusher.
pub(crate) struct State {
    pub next_seq: u64,
    pub head_hash: [u8; HASH_LEN],
    pub last_ts: u64,
    pub buf: Vec<u8>,
    /// The last record in `buf`, whose MAC is computed with the next entry's hash (the two
    /// computations overlap in the CPU) or by the flusher before it takes the buffer.
    // INVARIANT: every record in `buf` but this one has its MAC.
    pub owed: Option<OwedMac>,
    pub buf_entries: u64,
    /// Monotonic time of the oldest entry waiting in `buf`.
    pub buf_since: Option<u64>,
    /// Appenders want everything up to this seq synced now.
    pub requested: u64,
    /// Count-based checkpoint points (seq, hash, time) not yet written.
    pub due: Vec<(u64, [u8; HASH_LEN], u64)>,
    pub checkpoint_mark: u64,
    /// Entries counted per subsystem for the metrics, published per synced batch.
    pub subsystems: Subsystems,
    pub failed: Option<String>,
    pub closing: bool,
    pub closed: bool,
    pub durable_len: u64,
    pub checkpoints_len: u64,
    pub stats: Stats,
    /// The last wall and monotonic readings, to tell a clock jump from time passing (see [`notes`](crate::ledger::notes)).
    pub clock_watch: ClockWatch,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Wakes the flusher: an entry made a flush due, appenders wait for space or a sync, or the ledger closes.
    pub work: Condvar,
    /// Wakes appenders waiting for durability or for buffer space.
    pub done: Condvar,
    pub durable_seq: AtomicU64,
    pub key: LedgerKey,
    /// The ledger's identity, and its digest (checkpoint MACs bind it).
    pub identity: Identity,
    pub digest: [u8; HASH_LEN],
    pub clock: Arc<dyn Clock>,
    pub config: LedgerConfig,
    pub metrics: LedgerMetrics,
    /// The key and origin its checkpoints are signed with, when it has a signing key.
    #[cfg(feature = "signing")]
    pub signing: Option<crate::ledger::signed::Signing>,
    /// Where the flusher hands each new signed note to the witness pusher, when it has witnesses.
    #[cfg(feature = "witness")]
    pub witness: Option<Arc<crate::ledger::witness::push::Mailbox>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that
        // matters more than stopping would: keep going with the data.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Handle {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    /// The thread that pushes signed checkpoints to the witnesses, when there are any.
    #[cfg(feature = "witness")]
    pusher: Option<crate::ledger::witness::push::Pusher>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = close(self);
    }
}

/// An open ledger. Clones are handles to the same ledger; it closes (flushing everything
/// and writing a final checkpoint) when the last handle is dropped or on [`Ledger::close`].
#[derive(Clone)]
pub struct Ledger {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.handle.shared;
        f.debug_struct("Ledger").field("path", &s.config.path).field("durable_seq", &s.durable_seq.load(Ordering::Acquire)).finish()
    }
}

impl Ledger {
    /// Opens (creating if needed) the ledger, recovering from a crash: see
    /// [`crate::ledger::open`]. Metrics are registered in `metrics` when given: the head seq,
    /// checkpoint seq and each subsystem's last append time are set from the file at once.
    pub fn open(
        config: LedgerConfig,
        key: LedgerKey,
        clock: Arc<dyn Clock>,
        metrics: Option<&Metrics>,
    ) -> Result<(Ledger, OpenReport), LedgerError> {
        Self::open_with(
            config,
            key,
            clock,
            metrics,
            #[cfg(feature = "signing")]
            None,
        )
    }

    /// [`Ledger::open`] for a ledger with a signing key: besides its MACed checkpoints it
    /// writes signed checkpoints (C2SP tlog-checkpoint notes over the Merkle tree of its
    /// entries) to `<ledger>.signed`, and keeps the tree's tiles in `<ledger>.tree`; see
    /// [`crate::ledger::signed`]. A ledger that had none gets its first signed checkpoint,
    /// covering every entry, as soon as it is open.
    ///
    /// When `signing` names witnesses ([`Signing::with_witnessing`](crate::ledger::signed::Signing::with_witnessing)),
    /// a background thread pushes each signed checkpoint to them and keeps their cosignatures in
    /// `<ledger>.witnessed` (see `ledger::witness`); appends never wait for it. That needs
    /// feature `witness`: without it, a ledger naming witnesses is refused
    /// ([`LedgerError::Config`]) rather than opened without pushing.
    #[cfg(feature = "signing")]
    pub fn open_signed(
        config: LedgerConfig,
        key: LedgerKey,
        signing: crate::ledger::signed::Signing,
        clock: Arc<dyn Clock>,
        metrics: Option<&Metrics>,
    ) -> Result<(Ledger, OpenReport), LedgerError> {
        Self::open_with(config, key, clock, metrics, Some(signing))
    }

    fn open_with(
        config: LedgerConfig,
        key: LedgerKey,
        clock: Arc<dyn Clock>,
        metrics: Option<&Metrics>,
        #[cfg(feature = "signing")] signing: Option<crate::ledger::signed::Signing>,
    ) -> Result<(Ledger, OpenReport), LedgerError> {
        config.validate()?;
        #[cfg(all(feature = "signing", not(feature = "witness")))]
        if let Some(w) = signing.as_ref().and_then(|s| s.witnessing().witnesses().first()) {
            return Err(LedgerError::Config(format!(
                "ledger `{}` names witnesses (`{}`, ...) and this build of pip-runtime cannot push checkpoints to them: enable its feature `witness`",
                config.name,
                w.url()
            )));
        }
        let rec = open_files(
            &config,
            &key,
            #[cfg(feature = "signing")]
            signing.as_ref(),
        )?;
        let fallback = Metrics::default();
        let lm = LedgerMetrics::new(metrics.unwrap_or(&fallback), &config.spec, &config.name);
        let head = rec.next_seq - 1;
        lm.head.set(to_gauge(head));
        let last_cp = rec.last_checkpoint.map_or(0, |c| c.seq);
        lm.checkpoint.set(to_gauge(last_cp));
        let mut subsystems = Subsystems::default();
        for (name, ts) in &rec.subsystems {
            subsystems.known(name, *ts, &lm);
        }
        let opened = clock.unix_millis();
        for name in &config.expected_subsystems {
            if !rec.subsystems.iter().any(|(n, _)| n == name) {
                subsystems.known(name, opened, &lm);
            }
        }
        if rec.report.torn_tail.is_some() {
            lm.anomaly(AnomalyClass::TornTail);
        }
        let state = State {
            next_seq: rec.next_seq,
            head_hash: rec.head_hash,
            last_ts: rec.last_ts,
            buf: Vec::with_capacity(1 << 16),
            owed: None,
            buf_entries: 0,
            buf_since: None,
            requested: 0,
            due: Vec::new(),
            checkpoint_mark: last_cp,
            subsystems,
            failed: None,
            closing: false,
            closed: false,
            durable_len: rec.ledger_len,
            checkpoints_len: rec.checkpoints_len,
            stats: Stats::default(),
            clock_watch: ClockWatch {
                anchor: Some((opened, clock.monotonic_nanos())),
                ..ClockWatch::new(u64::try_from(config.clock_tolerance.as_millis()).unwrap_or(u64::MAX))
            },
        };
        #[cfg(feature = "witness")]
        let pusher = match signing.as_ref().map(crate::ledger::signed::Signing::witnessing).filter(|w| !w.witnesses().is_empty()) {
            Some(w) => Some(crate::ledger::witness::push::Pusher::start(
                crate::ledger::witness::push::Context {
                    ledger: config.name.clone(),
                    ledger_path: config.path.clone(),
                    tree_path: config.tree_path(),
                    signed_path: config.signed_path(),
                    witnessed_path: config.witnessed_path(),
                    digest: rec.report.identity.digest(),
                    witnessing: w.clone(),
                    clock: Arc::clone(&clock),
                },
                &lm,
            )?),
            None => None,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            work: Condvar::new(),
            done: Condvar::new(),
            durable_seq: AtomicU64::new(head),
            key,
            digest: rec.report.identity.digest(),
            identity: rec.report.identity.clone(),
            clock,
            config,
            metrics: lm,
            #[cfg(feature = "signing")]
            signing,
            #[cfg(feature = "witness")]
            witness: pusher.as_ref().map(crate::ledger::witness::push::Pusher::mailbox),
        });
        let start = flusher::Start {
            ledger_len: rec.ledger_len,
            #[cfg(feature = "signing")]
            signed: rec.signed,
            ledger: rec.ledger,
            checkpoints: rec.checkpoints,
            last_checkpoint_seq: last_cp,
            head_hash: rec.head_hash,
            head_ts: rec.last_ts,
        };
        let thread_shared = Arc::clone(&shared);
        let name = format!("pip-ledger-{}", shared.config.name);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || flusher::run(&thread_shared, start))
            .map_err(|source| LedgerError::Io { path: shared.config.path.clone(), op: "start the flusher thread for", source })?;
        let report = rec.report;
        let ledger = Ledger {
            handle: Arc::new(Handle {
                shared,
                flusher: Mutex::new(Some(thread)),
                #[cfg(feature = "witness")]
                pusher,
            }),
        };
        if let Some(why) = rec.restarted_checkpoints {
            // The break is evidence too: recorded (and synced) before anything else.
            let note = Note::new_checkpoint_history(why, head);
            let s = &ledger.handle.shared;
            let now = s.clock.unix_millis();
            let seq = {
                let mut st = ledger.admit()?;
                sequence(s, &mut st, &note.prepared(&s.config.name)?, now).seq
            };
            ledger.wait_durable(seq)?;
        }
        Ok((ledger, report))
    }

    /// Appends an event. Returns its seq, time and hash once it is durable as configured
    /// (see the module docs).
    pub fn append(&self, event: &Event) -> Result<Receipt, LedgerError> {
        with_payload_buffer(|buf| {
            serde_json::to_writer(&mut *buf, &event.payload).map_err(|e| FormatError::Payload(e.to_string()))?;
            self.append_prepared(&PreparedEvent::with_payload_in(event, buf)?)
        })
    }

    /// Appends an event whose payload is serialised already.
    pub fn append_prepared(&self, event: &PreparedEvent<'_>) -> Result<Receipt, LedgerError> {
        not_reserved(event)?;
        let s = &self.handle.shared;
        let now = s.clock.unix_millis();
        let receipt = {
            let mut st = self.admit()?;
            push(s, &mut st, event, now)
        };
        if s.config.durability == Durability::EveryAppend {
            self.wait_durable(receipt.seq)?;
        }
        Ok(receipt)
    }

    /// Appends events in order, under one lock and (with `EveryAppend`) one wait.
    pub fn append_batch(&self, events: &[Event]) -> Result<Vec<Receipt>, LedgerError> {
        let prepared = events.iter().map(PreparedEvent::new).collect::<Result<Vec<_>, _>>()?;
        // All or nothing: one reserved event refuses the batch before any entry is taken.
        prepared.iter().try_for_each(not_reserved)?;
        let s = &self.handle.shared;
        let now = s.clock.unix_millis();
        let receipts: Vec<Receipt> = {
            let mut st = self.admit()?;
            prepared.iter().map(|p| push(s, &mut st, p, now)).collect()
        };
        if s.config.durability == Durability::EveryAppend
            && let Some(last) = receipts.last()
        {
            self.wait_durable(last.seq)?;
        }
        Ok(receipts)
    }

    /// Locks the state once the ledger can take entries (waiting for buffer space).
    fn admit(&self) -> Result<MutexGuard<'_, State>, LedgerError> {
        let s = &self.handle.shared;
        let mut st = s.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(LedgerError::Failed(e.clone()));
            }
            if st.closing {
                return Err(LedgerError::Closed);
            }
            if st.buf.len() < s.config.max_pending_bytes {
                return Ok(st);
            }
            s.work.notify_one();
            st = s.done.wait(st).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The highest seq that is synced to disk.
    pub fn durable_seq(&self) -> u64 {
        self.handle.shared.durable_seq.load(Ordering::Acquire)
    }

    /// The seq and hash of the last appended entry (durable or not).
    pub fn head(&self) -> (u64, [u8; HASH_LEN]) {
        let st = self.handle.shared.lock();
        (st.next_seq - 1, st.head_hash)
    }

    /// Counters of the work done since open.
    pub fn stats(&self) -> Stats {
        self.handle.shared.lock().stats
    }

    /// Waits until every entry up to `seq` is synced (asking the flusher to sync now).
    pub fn wait_durable(&self, seq: u64) -> Result<(), LedgerError> {
        let s = &self.handle.shared;
        if s.durable_seq.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let mut st = s.lock();
        loop {
            if s.durable_seq.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
            if let Some(e) = &st.failed {
                return Err(LedgerError::Failed(e.clone()));
            }
            if st.closed {
                return Err(LedgerError::Closed);
            }
            if st.requested < seq {
                st.requested = seq;
                s.work.notify_one();
            }
            st = s.done.wait(st).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Syncs everything appended so far; returns the durable seq.
    pub fn sync(&self) -> Result<u64, LedgerError> {
        let head = self.handle.shared.lock().next_seq - 1;
        self.wait_durable(head)?;
        Ok(head)
    }

    /// Syncs, then verifies the ledger's durable bytes and checkpoints; anomalies are added
    /// to the anomalies metric.
    /// A verification that fails with an error instead (an unreadable or emptied file, a
    /// header that does not decode, a stopped ledger) is counted in
    /// `pip_ledger_verification_errors_total` by reason, which the alert reads too.
    pub fn verify(&self, threads: usize) -> Result<Report, LedgerError> {
        let verified = self.verify_counting_anomalies(threads);
        if let Err(e) = &verified {
            self.handle.shared.metrics.verification_error(e);
        }
        verified
    }

    fn verify_counting_anomalies(&self, threads: usize) -> Result<Report, LedgerError> {
        self.sync()?;
        let s = &self.handle.shared;
        let (len, ckpt_len) = {
            let st = s.lock();
            (st.durable_len, st.checkpoints_len)
        };
        let ckpt_path = s.config.checkpoint_path();
        let ckpt = CkptInput::File { path: &ckpt_path, len: Some(ckpt_len) };
        let report = verify_file(&s.config.path, Some(len), Some(ckpt), &s.key, threads)?;
        for a in &report.anomalies {
            for _ in 0..a.count() {
                s.metrics.anomaly(a.class);
            }
        }
        Ok(report)
    }

    /// Flushes everything, writes a final checkpoint and stops the flusher; then stops the
    /// witness pusher, which first tries once more, within one request timeout, to push the
    /// final checkpoint to each witness that has not cosigned it. Other handles get
    /// [`LedgerError::Closed`] afterwards.
    pub fn close(&self) -> Result<(), LedgerError> {
        close(&self.handle)
    }

    /// The identity fixed when the ledger was created: spec, name and the random id `--expect-id` checks.
    pub fn identity(&self) -> &Identity {
        &self.handle.shared.identity
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &LedgerConfig {
        &self.handle.shared.config
    }

    /// The verifier key of its signed checkpoints (safe to publish), when it has a signing key.
    #[cfg(feature = "signing")]
    pub fn verifier(&self) -> Option<crate::ledger::note::NoteVerifier> {
        self.handle.shared.signing.as_ref().map(crate::ledger::signed::Signing::verifier)
    }
}

fn close(handle: &Handle) -> Result<(), LedgerError> {
    let (shared, flusher) = (&handle.shared, &handle.flusher);
    {
        let mut st = shared.lock();
        st.closing = true;
        shared.work.notify_all();
    }
    let thread = flusher.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(t) = thread
        && t.join().is_err()
    {
        let mut st = shared.lock();
        st.failed.get_or_insert_with(|| "the flusher thread stopped unexpectedly".to_string());
        st.closed = true;
        shared.done.notify_all();
    }
    // After the flusher: its final checkpoint is in the pusher's mailbox.
    #[cfg(feature = "witness")]
    if let (Some(p), Some(s)) = (&handle.pusher, &shared.signing) {
        p.stop(s.witnessing().timeout());
    }
    let st = shared.lock();
    match &st.failed {
        Some(e) => Err(LedgerError::Failed(e.clone())),
        None => Ok(()),
    }
}

thread_local! {
    /// Each appending thread's buffer for serialising payloads, kept between appends.
    static PAYLOAD_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A payload buffer larger than this is not kept for the next append.
const KEEP_PAYLOAD_BUFFER: usize = 64 << 10;

/// Runs `f` with this thread's payload buffer, empty. (A nested call, or one while the
/// thread exits, gets a new buffer.)
fn with_payload_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = PAYLOAD_BUFFER.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    let r = f(&mut buf);
    if buf.capacity() <= KEEP_PAYLOAD_BUFFER {
        let _ = PAYLOAD_BUFFER.try_with(|cell| cell.set(buf));
    }
    r
}

/// Sequences, hashes, MACs and buffers one entry, read from the clock at `now` (Unix
/// milliseconds), preceded by a `clock_jump` entry when the clock jumped. The caller holds
/// the lock.
fn push(s: &Shared, st: &mut State, event: &PreparedEvent<'_>, now: u64) -> Receipt {
    if let Some(note) = st.clock_watch.check(now, st.last_ts, || s.clock.monotonic_nanos())
        && let Ok(jump) = note.prepared(&s.config.name)
    {
        sequence(s, st, &jump, now);
    }
    sequence(s, st, event, now)
}

/// Sequences, hashes, MACs and buffers one entry.
fn sequence(s: &Shared, st: &mut State, event: &PreparedEvent<'_>, now: u64) -> Receipt {
    let seq = st.next_seq;
    let ts = now.max(st.last_ts);
    let len_before = st.buf.len();
    let owed = st.owed.take();
    let (hash, owing) = encode_record_owing(&mut st.buf, &s.key, seq, ts, &st.head_hash, event, owed);
    st.owed = Some(owing);
    st.next_seq = seq + 1;
    st.head_hash = hash;
    st.last_ts = ts;
    st.buf_entries += 1;
    st.stats.appends += 1;
    if st.buf_since.is_none() {
        let mono = s.clock.monotonic_nanos();
        st.buf_since = Some(mono);
        // The clock reading that clock jumps are measured from (read here anyway).
        st.clock_watch.anchor = Some((now, mono));
    }
    if let Some(n) = s.config.checkpoint.every_entries
        && seq >= st.checkpoint_mark + n
    {
        st.due.push((seq, hash, ts));
        st.checkpoint_mark = seq;
    }
    st.subsystems.count(event.subsystem(), ts, &s.metrics);
    // The flusher is woken when this entry makes a flush due (or starts the interval it
    // waits for), not again for every entry after: it checks under the lock before it
    // waits, so one wake-up per change is enough, and each costs a system call.
    let half = s.config.max_pending_bytes / 2;
    let wake = st.buf_entries == 1
        || (len_before < half && st.buf.len() >= half)
        || matches!(s.config.durability, Durability::Group { entries: Some(n), .. } if st.buf_entries == n);
    if wake {
        s.work.notify_one();
    }
    Receipt { seq, ts_millis: ts, hash }
}

impl EvidenceSink for Ledger {
    fn record(&self, event: Event) -> Result<u64, EvidenceError> {
        self.append(&event).map(|r| r.seq).map_err(|e| EvidenceError(e.to_string()))
    }

    fn hash_value(&self, value: &str) -> Option<String> {
        let s = &self.handle.shared;
        Some(crate::evidence::hash_value(&s.key.value_key(&s.config.spec, &s.config.name), value))
    }
}
