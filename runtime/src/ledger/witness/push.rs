//! The pusher: one thread per ledger with witnesses that sends each newly signed checkpoint to
//! every witness (`POST <url>/add-checkpoint`, c2sp.org/tlog-witness), checks the
//! cosignatures it gets back against that witness's key, and appends each accepted one to
//! `<ledger>.witnessed`.
//!
//! Appends never wait for a witness. The flusher hands each new note over through a
//! [`Mailbox`] that holds one note: a newer one replaces an older one not yet pushed
//! (coalescing). A witness only needs the newest checkpoint (a consistency proof goes from
//! whatever size it holds to any larger one), so nothing is lost, and the mailbox never grows
//! however long the witnesses are away.
//!
//! Per witness the pusher remembers the size the witness holds: 0, or the size of the latest
//! checkpoint the witness cosigned in `<ledger>.witnessed`, when the ledger opens; after a 409
//! whose body is a size (`text/x.tlog.size`) it takes that size and asks again at once, with a
//! proof from it. The 409 is still counted as a conflict: a witness that forgot what it
//! cosigned, or a ledger that lost its `.witnessed`, is worth knowing about. Proofs are read
//! from the ledger's files (its tree tiles and entries): the entries a note covers are synced,
//! and the tiles written, before the note is; a reader opened after the note ignores what the
//! writer appends later.
//!
//! Failures are counted by reason ([`PushError`]). The network's and the witness's server's
//! (unreachable, timeout, 5xx) are retried with exponential backoff; a witness's judgement
//! (a 409 it cannot recover from, 422, another 4xx, or a cosignature that does not verify) is
//! not: the witness is tried again when a newer checkpoint is signed, after the same backoff.
//! A witness that answers slowly delays the others (one thread), by at most the timeout per
//! request.
//!
//! `<ledger>.witnessed` is append-only text: for each accepted response, the signed note
//! exactly as signed (text, blank line, the log's signature lines), the witness's cosignature
//! lines, and a blank line; written and synced before the metrics say it was cosigned. A
//! record cut off by a crash is a torn end, which readers skip.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::ledger::format::{HASH_LEN, HEADER_LEN};
use crate::ledger::merkle::Hash;
use crate::ledger::meters::{LedgerMetrics, PushError, WitnessMeters};
use crate::ledger::note::{NoteVerifiers, SignedNote};
use crate::ledger::signed::SignedFile;
use crate::ledger::tree::TreeReader;
use crate::ledger::witness::{AddCheckpoint, SIZE_CONTENT_TYPE, WitnessTarget, Witnessing, cosignatures};

/// Most bytes of a witness's response read.
const MAX_RESPONSE_BYTES: u64 = 64 << 10;
/// Bytes read from the end of `<ledger>.witnessed` at open to learn what each witness holds.
const WITNESSED_TAIL: u64 = 1 << 20;

/// A signed checkpoint note to push.
struct Latest {
    size: u64,
    /// The note exactly as signed, without the blank line that closes it in `.signed`.
    note: String,
}

struct Inbox {
    latest: Option<Arc<Latest>>,
    /// Set by [`Pusher::stop`]: when the last round must end.
    stop_at: Option<Instant>,
}

/// Where the flusher leaves each new signed note for the pusher: the newest only.
pub(crate) struct Mailbox {
    inbox: Mutex<Inbox>,
    wake: Condvar,
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands over the note of `size` entries as stored (`record`: the note and its closing
    /// blank line), replacing one not yet pushed. Takes only the mailbox's lock, which the
    /// pusher never holds while it talks to a witness.
    pub(crate) fn offer(&self, size: u64, record: &str) {
        let note = record.strip_suffix('\n').unwrap_or(record).to_string();
        self.lock().latest = Some(Arc::new(Latest { size, note }));
        self.wake.notify_all();
    }
}

/// What the pusher needs of its ledger.
pub(crate) struct Context {
    pub ledger: String,
    pub ledger_path: PathBuf,
    pub tree_path: PathBuf,
    pub signed_path: PathBuf,
    pub witnessed_path: PathBuf,
    pub digest: [u8; HASH_LEN],
    pub witnessing: Witnessing,
    pub clock: Arc<dyn Clock>,
}

/// A ledger's pusher thread.
pub(crate) struct Pusher {
    mailbox: Arc<Mailbox>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Why the pusher cannot start.
pub(crate) fn start_error(what: impl Into<String>) -> crate::ledger::LedgerError {
    crate::ledger::LedgerError::Config(what.into())
}

impl Pusher {
    /// Starts the pusher of a ledger with witnesses, after the ledger's files are recovered:
    /// the latest signed note already in `.signed` is its first to push (a previous run may
    /// have stopped before pushing it). Each witness's series are exported in `metrics` at once.
    pub(crate) fn start(ctx: Context, metrics: &LedgerMetrics) -> Result<Pusher, crate::ledger::LedgerError> {
        #[cfg(not(feature = "witness-https"))]
        if let Some(w) = ctx.witnessing.witnesses().iter().find(|w| w.url().starts_with("https://")) {
            return Err(start_error(format!(
                "witness `{}` is an https:// URL, and this build of pip-runtime speaks plain HTTP only (enable feature `witness-https`)",
                w.url()
            )));
        }
        let (signed, _) = SignedFile::read_tail(&ctx.signed_path, 64 << 10)
            .map_err(|e| start_error(format!("cannot read `{}`: {e}", ctx.signed_path.display())))?;
        let latest = signed.notes.last().and_then(|n| {
            let size = n.checkpoint.as_ref().ok()?.size;
            Some(Arc::new(Latest { size, note: n.message.clone() }))
        });
        let targets = Targets::open(&ctx, metrics)?;
        let mailbox = Arc::new(Mailbox { inbox: Mutex::new(Inbox { latest, stop_at: None }), wake: Condvar::new() });
        let thread_mailbox = Arc::clone(&mailbox);
        let name = format!("pip-witness-{}", ctx.ledger);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&thread_mailbox, targets, &ctx))
            .map_err(|e| start_error(format!("cannot start the witness pusher thread: {e}")))?;
        Ok(Pusher { mailbox, thread: Mutex::new(Some(thread)) })
    }

    /// Where the flusher hands new notes.
    pub(crate) fn mailbox(&self) -> Arc<Mailbox> {
        Arc::clone(&self.mailbox)
    }

    /// Stops the thread and waits for it: a request in flight ends (answered or timed out),
    /// then each witness that has not cosigned the latest note gets one more try, all within
    /// one request timeout from now; so a short-lived process still pushes its last checkpoint.
    pub(crate) fn stop(&self, timeout: Duration) {
        {
            let mut inbox = self.mailbox.lock();
            inbox.stop_at.get_or_insert_with(|| later(timeout));
        }
        self.mailbox.wake.notify_all();
        let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(t) = thread {
            // A panic in the pusher loses no entry: the ledger's own state is not touched.
            let _ = t.join();
        }
    }
}

impl Drop for Pusher {
    /// A pusher dropped without [`Pusher::stop`] (the ledger failed to open after it started)
    /// ends at once, without a last round.
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

/// One witness as the pusher knows it.
struct Target {
    target: WitnessTarget,
    verifiers: NoteVerifiers,
    url: String,
    meters: WitnessMeters,
    /// The size the witness holds, as far as the pusher knows.
    held: u64,
    /// The size of the latest note this witness is done with (cosigned, or refused).
    done: u64,
    /// Failures in a row.
    failures: u32,
    /// No request before this.
    next_at: Option<Instant>,
}

struct Targets {
    list: Vec<Target>,
    agent: ureq::Agent,
    witnessed: Option<File>,
}

impl Targets {
    fn open(ctx: &Context, metrics: &LedgerMetrics) -> Result<Targets, crate::ledger::LedgerError> {
        let cannot = |e: std::io::Error| start_error(format!("cannot read `{}`: {e}", ctx.witnessed_path.display()));
        let (file, _) = SignedFile::read_tail(&ctx.witnessed_path, WITNESSED_TAIL).map_err(cannot)?;
        if file.torn_bytes > 0 {
            // A record cut off by a crash: cut it off, so that the next one starts clean.
            let f = std::fs::OpenOptions::new().write(true).open(&ctx.witnessed_path).map_err(cannot)?;
            let len = f.metadata().map_err(cannot)?.len();
            f.set_len(len.saturating_sub(file.torn_bytes)).and_then(|()| f.sync_all()).map_err(cannot)?;
        }
        let opened = ctx.clock.unix_millis();
        let mut list = Vec::new();
        for target in ctx.witnessing.witnesses() {
            let verifiers = target.verifiers().map_err(|e| start_error(format!("witness `{}`: {e}", target.url())))?;
            // The latest checkpoint in the file this witness cosigned (file order is time order).
            let held = file
                .notes
                .iter()
                .rev()
                .find_map(|n| {
                    let size = n.checkpoint.as_ref().ok()?.size;
                    cosignatures(&n.message, "", &verifiers).ok().filter(|c| !c.is_empty()).map(|_| size)
                })
                .unwrap_or(0);
            list.push(Target {
                url: target.add_checkpoint_url(),
                meters: metrics.witness(target.name(), opened, held),
                target: target.clone(),
                verifiers,
                held,
                done: held,
                failures: 0,
                next_at: None,
            });
        }
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(ctx.witnessing.timeout()))
                .user_agent(concat!("pip-runtime/", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        Ok(Targets { list, agent, witnessed: None })
    }
}

/// What one request came to.
enum Outcome {
    /// Cosigned; these are its verified cosignature lines.
    Cosigned(String),
    /// A 409 with the size the witness holds.
    HoldsSize(u64),
    Failed(PushError),
}

fn run(mailbox: &Mailbox, mut targets: Targets, ctx: &Context) {
    loop {
        let (latest, stop_at) = {
            let mut inbox = mailbox.lock();
            loop {
                let now = Instant::now();
                if inbox.stop_at.is_some() {
                    break;
                }
                let pending = inbox.latest.as_ref().map_or(0, |l| l.size);
                let waiting: Vec<Option<Instant>> = targets.list.iter().filter(|t| pending > t.done).map(|t| t.next_at).collect();
                if waiting.iter().any(|at| at.is_none_or(|at| at <= now)) {
                    break;
                }
                inbox = match waiting.iter().flatten().min() {
                    Some(&at) => mailbox
                        .wake
                        .wait_timeout(inbox, at.saturating_duration_since(now))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0),
                    None => mailbox.wake.wait(inbox).unwrap_or_else(std::sync::PoisonError::into_inner),
                };
            }
            (inbox.latest.clone(), inbox.stop_at)
        };
        let Some(latest) = latest else { return };
        match stop_at {
            None => {
                let now = Instant::now();
                for i in 0..targets.list.len() {
                    let due = targets.list.get(i).is_some_and(|t| latest.size > t.done && t.next_at.is_none_or(|at| at <= now));
                    if due {
                        push(&mut targets, i, &latest, ctx, None);
                    }
                }
            }
            Some(deadline) => {
                // The last round: one try per witness behind, within the deadline.
                for i in 0..targets.list.len() {
                    if Instant::now() >= deadline {
                        return;
                    }
                    if targets.list.get(i).is_some_and(|t| latest.size > t.done) {
                        push(&mut targets, i, &latest, ctx, Some(deadline));
                    }
                }
                return;
            }
        }
    }
}

/// Pushes `latest` to witness `i`: at most two requests (the second after a 409 that gives
/// the size the witness holds), each within the request timeout and before `deadline`.
fn push(targets: &mut Targets, i: usize, latest: &Latest, ctx: &Context, deadline: Option<Instant>) {
    let Some(t) = targets.list.get_mut(i) else { return };
    let mut outcome = Outcome::Failed(PushError::Conflict);
    for attempt in 0..2 {
        let timeout =
            deadline.map_or(ctx.witnessing.timeout(), |d| d.saturating_duration_since(Instant::now()).min(ctx.witnessing.timeout()));
        if timeout.is_zero() {
            // Out of time at close: not the witness's failure, nothing counted.
            return;
        }
        outcome = request(&targets.agent, t, latest, ctx, timeout);
        let Outcome::HoldsSize(size) = outcome else { break };
        // Every 409 is counted, also one the pusher recovers from.
        t.meters.error(PushError::Conflict);
        let retry = attempt == 0 && size != t.held && size <= latest.size;
        t.held = size;
        if !retry {
            break;
        }
    }
    match outcome {
        Outcome::Cosigned(lines) => {
            let record = format!("{}{lines}\n", latest.note);
            if append_synced(&mut targets.witnessed, &ctx.witnessed_path, &record).is_err() {
                // Not counted as the witness's failure: the cosignature is valid but not kept,
                // so the cosigned time does not advance (the silence alert says so), and it is
                // asked for again after the backoff.
                let Some(t) = targets.list.get_mut(i) else { return };
                t.held = latest.size;
                t.failures = t.failures.saturating_add(1);
                t.next_at = Some(later(ctx.witnessing.backoff_after(t.failures)));
                return;
            }
            let Some(t) = targets.list.get_mut(i) else { return };
            t.held = latest.size;
            t.done = latest.size;
            t.failures = 0;
            t.next_at = None;
            t.meters.cosigned(latest.size, ctx.clock.unix_millis());
        }
        Outcome::HoldsSize(_) => fail(t, latest, ctx, None),
        Outcome::Failed(reason) => fail(t, latest, ctx, Some(reason)),
    }
}

/// A push failed for `reason` (`None`: a 409, counted already).
fn fail(t: &mut Target, latest: &Latest, ctx: &Context, reason: Option<PushError>) {
    if let Some(r) = reason {
        t.meters.error(r);
    }
    t.failures = t.failures.saturating_add(1);
    t.next_at = Some(later(ctx.witnessing.backoff_after(t.failures)));
    if !reason.is_some_and(PushError::is_transient) {
        // Judged: tried again with the next checkpoint.
        t.done = latest.size;
    }
}

/// One `add-checkpoint` request with the proof from the size the witness holds.
fn request(agent: &ureq::Agent, t: &Target, latest: &Latest, ctx: &Context, timeout: Duration) -> Outcome {
    if t.held > latest.size {
        // The witness holds a larger tree than this checkpoint's: entries it cosigned are gone.
        return Outcome::Failed(PushError::Conflict);
    }
    let proof = if t.held == 0 || t.held == latest.size {
        Vec::new()
    } else {
        match consistency_proof(ctx, t.held, latest.size) {
            Some(p) => p,
            None => return Outcome::Failed(PushError::Inconsistent),
        }
    };
    let body = AddCheckpoint { old: t.held, proof, checkpoint: latest.note.clone() }.encode();
    let sent =
        agent.post(&t.url).header("Content-Type", "text/plain; charset=utf-8").config().timeout_global(Some(timeout)).build().send(body);
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(network_reason(&e)),
    };
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = match response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_string() {
        Ok(text) => text,
        Err(e) => return Outcome::Failed(network_reason(&e)),
    };
    match status {
        200 => match cosigned_lines(t, &latest.note, &text) {
            Some(lines) => Outcome::Cosigned(lines),
            None => Outcome::Failed(PushError::BadCosignature),
        },
        409 => {
            let size = content_type.starts_with(SIZE_CONTENT_TYPE).then(|| text.trim_end_matches('\n').parse::<u64>().ok()).flatten();
            size.map_or(Outcome::Failed(PushError::Conflict), Outcome::HoldsSize)
        }
        422 => Outcome::Failed(PushError::Inconsistent),
        400..=499 => Outcome::Failed(PushError::Refused),
        _ => Outcome::Failed(PushError::Server),
    }
}

/// The consistency proof from `old` to `new` entries, read from the ledger's files.
fn consistency_proof(ctx: &Context, old: u64, new: u64) -> Option<Vec<Hash>> {
    let mut reader = TreeReader::open(&ctx.ledger_path, HEADER_LEN as u64, &ctx.digest, &ctx.tree_path).ok()?;
    reader.consistency_proof(old, new).ok()
}

/// The lines of a 200 response that are cosignatures of `note` by the witness's key, once
/// every cosignature by that key verifies; `None` when none does (another key, a cosignature
/// over something else, not signature lines at all).
fn cosigned_lines(t: &Target, note: &str, response: &str) -> Option<String> {
    let verified = cosignatures(note, response, &t.verifiers).ok()?;
    let key = t.target.verifier();
    if !verified.iter().any(|v| v.name == key.name() && v.key_id == key.key_id()) {
        return None;
    }
    let signed = SignedNote::parse(format!("{note}{response}").as_bytes()).ok()?;
    let own = SignedNote::parse(note.as_bytes()).ok()?.signatures.len();
    let lines: String = signed
        .signatures
        .iter()
        .skip(own)
        .filter(|s| s.name == key.name() && s.key_id == key.key_id())
        .map(crate::ledger::note::Signature::to_line)
        .collect();
    Some(lines)
}

/// `d` from now; a day from now when `d` is beyond what an instant counts.
fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).or_else(|| now.checked_add(Duration::from_secs(86_400))).unwrap_or(now)
}

fn network_reason(e: &ureq::Error) -> PushError {
    match e {
        ureq::Error::Timeout(_) => PushError::Timeout,
        ureq::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => PushError::Timeout,
        ureq::Error::StatusCode(_) => PushError::Server,
        _ => PushError::Unreachable,
    }
}

/// Appends `record` to the file at `path` (opened on first use, created when missing, its
/// directory synced then) and syncs it.
fn append_synced(file: &mut Option<File>, path: &std::path::Path, record: &str) -> std::io::Result<()> {
    if file.is_none() {
        let existed = path.exists();
        *file = Some(std::fs::OpenOptions::new().append(true).create(true).open(path)?);
        if !existed {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            File::open(dir)?.sync_all()?;
        }
    }
    let f = file.as_mut().ok_or_else(|| std::io::Error::other("the file is not open"))?;
    f.write_all(record.as_bytes())?;
    f.sync_data()
}
