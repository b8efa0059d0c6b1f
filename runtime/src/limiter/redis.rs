//! The rate limits' shared backend: one exact sliding window per key in Redis, so that a
//! service's replicas together admit at most `R` per `τ` for a key (feature `redis`).
//!
//! # The decision
//! One Lua script per decision, run atomically by Redis (EVALSHA; loaded with SCRIPT LOAD,
//! reloaded once on NOSCRIPT). It reads the clock with Redis `TIME` — so the replicas' clocks
//! play no part and their skew cannot widen the window — clamped to the key's latest
//! admission so that a key's times never go backwards; drops the members of the key's sorted
//! set at or before `now − τ`, counts the rest and admits iff fewer than `R` remain: exactly
//! the in-process rule, "fewer than `R` admissions in `(t − τ, t]`", on Redis's microseconds
//! (the window is rounded up to whole microseconds). An admission is a member `<process>:<n>`
//! (a random per-process id and a counter), so that two admissions in the same microsecond
//! are two members. The key's TTL is the window: an idle key costs Redis nothing after `τ`.
//! A refusal's `retry_after` is when the admission that must leave the window leaves it, as
//! in-process.
//!
//! # Keys
//! `pip:{<spec>:<limit>:<key-id>}`: the braces are a Redis Cluster hash tag, so each key's set
//! lives in one slot and the script touches one slot (this backend itself connects to one
//! server, or a proxy in front of a cluster; it does not follow `MOVED` redirections — a reply
//! it cannot use is an `error`). Spec and limit names must not contain `}`. `<key-id>` is the first 128 bits (hex)
//! of a SHA-256 of the key as its `Hash` implementation writes it, with every integer written
//! little-endian ([`KeyDigest`]). So the replicas must use the same key type (the registry
//! enforces one type per limit in a process) and the same Rust toolchain's `Hash` for std
//! types (strings and integers have hashed the same way for years, but std does not promise
//! it across versions: roll a toolchain change out to all replicas together). A `Hash` that
//! std seeds at random would give each replica its own keys: hash keys yourself only with
//! a fixed seed.
//!
//! # Failures
//! A decision waits at most the limit's `backend_timeout` in all (connecting, loading the
//! script, the script itself). When Redis does not answer in time (`timeout`), cannot be
//! reached (`unavailable`) or answers with an error (`error`), the decision is the limit's
//! `on_backend_failure`: `Allow` admits, `Deny` refuses with a `retry_after` of the backend
//! timeout; either way it is counted in `pip_rate_limit_backend_errors_total{reason}` and as an
//! `allowed` or `rejected` decision. Nothing panics.
//!
//! Connections: a pool of idle sync connections (at most [`IDLE_MAX`] kept; a pipeline that
//! finds none opens one). A connection that timed out or broke is dropped (a broken one with
//! the idle ones: they lead to the same, gone, server); a broken pooled connection is retried once on a fresh
//! connection within the same deadline, so a restarted Redis does not cost a failed
//! decision. New connections are attempted no more often than a backoff allows (100 ms,
//! doubling to 2 s, reset by a success): while Redis is down, a decision fails at once
//! instead of waiting for a connect per call, and one caller probes per backoff step.
//!
//! # What holds when Redis fails over
//! Exactness holds on one Redis server: every decision of a key runs on it, in order. Redis
//! replicates asynchronously, so when a replica is promoted the admissions of the last moments
//! before the failover may be lost, and for up to one window after it a key may be admitted up
//! to `R` more times than the limit (at most `2R` in a window). The clock moving back (a
//! promoted replica behind the old primary) cannot widen the window: a key's time never goes
//! below its latest admission.
//!
//! # Pipelining
//! Decisions waiting at the same time share pipelines ([`combine`]: flat combining). A caller
//! that finds fewer than [`PIPELINES`] pipelines in flight sends at once — with one caller,
//! a decision is one round trip on its own. Callers arriving meanwhile queue; whoever leads
//! next sends up to [`BATCH_MAX`] queued decisions as one pipeline of EVALSHAs on one
//! connection (each script still atomic, run in the order sent; a NOSCRIPT answer to some of
//! them loads the script and sends only those again) and hands each caller its answer. A
//! pipeline's socket timeout is the earliest deadline among its decisions; a decision that
//! waited in the queue past its own deadline is taken out and never sent. The trade: a
//! decision may wait one pipeline's round trip in the queue, and in exchange many concurrent
//! callers need [`PIPELINES`] connections and one system call per batch rather than one
//! connection and round trip each, which brings them to about Redis's own script rate.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pip_conventions::backend_error;
use prometheus_client::metrics::counter::Counter;
use redis::{Connection, ErrorKind, RedisError, ServerErrorKind};
use sha2::{Digest as _, Sha256};

use super::{BackendFailure, Decision, LimitConfig, Outcome, lock};
use combine::{Combiner, Job};

mod combine;
use crate::metrics::{Attached, BackendErrorLabels, Metrics, Source, Totals};

/// Most idle connections the pool keeps (at least [`PIPELINES`]: one per pipeline in flight).
pub(crate) const IDLE_MAX: usize = 16;
/// Most pipelines in flight at once per backend (each on a connection of its own).
pub(crate) const PIPELINES: usize = 4;
/// Most decisions in one pipeline.
pub(crate) const BATCH_MAX: usize = 128;
/// The first wait after a failed connect; doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between two connection attempts while Redis is down.
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The decision, atomic on the server. KEYS[1]: the key's sorted set. ARGV: R, τ in µs, the
/// member to add, the TTL in ms. Returns {admitted 0/1, now µs, retry_after µs}.
const SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if last[2] and tonumber(last[2]) > now then now = tonumber(last[2]) end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
  return {1, now, 0}
end
local leaving = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
return {0, now, tonumber(leaving[2]) + window - now}
";

/// Why the backend gave no decision: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Timeout,
    Unavailable,
    Error,
}

impl Failure {
    fn index(self) -> usize {
        match self {
            Failure::Timeout => 0,
            Failure::Unavailable => 1,
            Failure::Error => 2,
        }
    }

    /// What a failed command says about the backend and the connection it ran on.
    fn of(e: &RedisError) -> Failure {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            Failure::Unavailable
        } else {
            Failure::Error
        }
    }
}

// INVARIANT: the order of `Failure::index`.
const REASONS: [&str; 3] = [backend_error::TIMEOUT, backend_error::UNAVAILABLE, backend_error::ERROR];

/// The script's reply to one request as Redis sent it: {admitted, now µs, retry_after µs}.
type ScriptReply = redis::RedisResult<(i64, i64, i64)>;

/// One decision to send: the script's key and arguments.
struct Request {
    /// The key's sorted set, `pip:{<spec>:<limit>:<key-id>}`.
    key: String,
    limit: u64,
    window_micros: u64,
    /// The admission's member, unique across every process.
    member: String,
    ttl_millis: u64,
}

/// The script's answer.
#[derive(Clone)]
struct Reply {
    admitted: bool,
    now_micros: u64,
    retry_after_micros: u64,
}

/// When the next connection may be attempted.
#[derive(Default)]
struct Reconnect {
    failures: u32,
    not_before: Option<Instant>,
}

impl Reconnect {
    fn delay(failures: u32) -> Duration {
        BACKOFF_MIN.saturating_mul(1 << failures.saturating_sub(1).min(8)).min(BACKOFF_MAX)
    }
}

/// One Redis server shared by every limit of a process: its connections, the script's sha
/// and the members' process id.
pub(crate) struct RedisBackend {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    sha: Mutex<Option<String>>,
    reconnect: Mutex<Reconnect>,
    process: String,
    next_member: AtomicU64,
    /// Decisions waiting to be sent, and the callers sending them as pipelines.
    combiner: Combiner<Request, Result<Reply, Failure>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addr = self.client.get_connection_info().addr().to_string();
        f.debug_struct("RedisBackend").field("addr", &addr).finish_non_exhaustive()
    }
}

/// A connection out of the pool, and whether it had served before (it may have gone stale).
struct Lease {
    conn: Connection,
    reused: bool,
}

impl RedisBackend {
    /// A backend on the Redis at `url` (`redis://[user:password@]host[:port][/db]`). Connects
    /// lazily: an unreachable server is a failed decision later, not an error here.
    pub(crate) fn open(url: &str) -> Result<RedisBackend, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| format!("no randomness for the process id: {e}"))?;
        Ok(RedisBackend {
            client,
            idle: Mutex::new(Vec::new()),
            sha: Mutex::new(None),
            reconnect: Mutex::new(Reconnect::default()),
            process: crate::hex::to_hex(&id),
            next_member: AtomicU64::new(0),
            combiner: Combiner::new(PIPELINES, BATCH_MAX),
        })
    }

    /// A member unique to this decision across every process.
    fn member(&self) -> String {
        format!("{}:{}", self.process, self.next_member.fetch_add(1, Ordering::Relaxed))
    }

    /// Decides `request` within `timeout`: in a batch this caller or another one sends.
    fn decide(&self, request: Request, timeout: Duration) -> Result<Reply, Failure> {
        let deadline = Instant::now() + timeout;
        self.combiner.submit(request, deadline, &|jobs| self.run_batch(jobs)).unwrap_or(Err(Failure::Timeout))
    }

    /// Answers a batch of queued decisions, one answer per job in order: those whose caller has
    /// given up already are not sent; the others go as one pipeline, bounded by the earliest
    /// deadline among them.
    fn run_batch(&self, jobs: Vec<Job<Request>>) -> Vec<Result<Reply, Failure>> {
        let now = Instant::now();
        let live: Vec<bool> = jobs.iter().map(|j| j.deadline > now).collect();
        let requests: Vec<&Request> = jobs.iter().filter(|j| j.deadline > now).map(|j| &j.request).collect();
        let deadline = jobs.iter().filter(|j| j.deadline > now).map(|j| j.deadline).min();
        let mut replies = match deadline {
            Some(deadline) => match self.batch(&requests, deadline) {
                Ok(replies) => replies,
                Err(failure) => vec![Err(failure); requests.len()],
            },
            None => Vec::new(),
        }
        .into_iter();
        live.into_iter().map(|live| if live { replies.next().unwrap_or(Err(Failure::Error)) } else { Err(Failure::Timeout) }).collect()
    }

    /// Sends `requests` as one pipeline before `deadline`: one answer each, or the failure
    /// that left the whole batch unanswered.
    fn batch(&self, requests: &[&Request], deadline: Instant) -> Result<Vec<Result<Reply, Failure>>, Failure> {
        let mut retried = false;
        loop {
            let mut lease = self.acquire(deadline)?;
            match self.pipeline(&mut lease.conn, deadline, requests) {
                Ok(replies) => {
                    self.release(lease.conn);
                    return Ok(replies);
                }
                Err(Failed { failure: Failure::Error, conn_ok: true, .. }) => {
                    self.release(lease.conn);
                    return Err(Failure::Error);
                }
                Err(Failed { failure, .. }) => {
                    // The connection is dropped here. A broken one says the server behind every
                    // idle connection may have gone (restarted): start afresh. A slow server
                    // leaves the idle ones usable.
                    if failure == Failure::Unavailable {
                        lock(&self.idle).clear();
                    }
                    if failure != Failure::Unavailable || !lease.reused || retried {
                        return Err(failure);
                    }
                    retried = true;
                }
            }
        }
    }

    /// An idle connection, or a new one if the backoff allows.
    fn acquire(&self, deadline: Instant) -> Result<Lease, Failure> {
        if let Some(conn) = lock(&self.idle).pop() {
            return Ok(Lease { conn, reused: true });
        }
        let left = remaining(deadline).ok_or(Failure::Timeout)?;
        let now = Instant::now();
        {
            let mut r = lock(&self.reconnect);
            if r.not_before.is_some_and(|t| now < t) {
                return Err(Failure::Unavailable);
            }
            if r.failures > 0 {
                // This caller probes; the others fail fast until its attempt is over.
                r.not_before = Some(now + Reconnect::delay(r.failures));
            }
        }
        let connected = self.client.get_connection_with_timeout(left).map_err(|e| Failure::of(&e));
        let mut r = lock(&self.reconnect);
        match connected {
            Ok(conn) => {
                *r = Reconnect::default();
                Ok(Lease { conn, reused: false })
            }
            Err(failure) => {
                r.failures = r.failures.saturating_add(1);
                r.not_before = Some(Instant::now() + Reconnect::delay(r.failures));
                Err(failure)
            }
        }
    }

    fn release(&self, conn: Connection) {
        let mut idle = lock(&self.idle);
        if idle.len() < IDLE_MAX {
            idle.push(conn);
        }
    }

    /// EVALSHA of every request in one pipeline, with SCRIPT LOAD first if the sha is not
    /// known; the requests that met NOSCRIPT (a restarted or flushed server) are sent again
    /// after loading it. One answer per request: an error reply to one request is its own
    /// failure (`error`), not the batch's.
    fn pipeline(&self, conn: &mut Connection, deadline: Instant, requests: &[&Request]) -> Result<Vec<Result<Reply, Failure>>, Failed> {
        let known = lock(&self.sha).clone();
        let sha = match known {
            Some(sha) => sha,
            None => self.load(conn, deadline)?,
        };
        let mut replies = evalsha(conn, deadline, &sha, requests.iter().copied())?;
        let noscript = |r: &ScriptReply| r.as_ref().is_err_and(|e| e.kind() == ErrorKind::Server(ServerErrorKind::NoScript));
        if replies.iter().any(noscript) {
            let sha = self.load(conn, deadline)?;
            let again: Vec<&Request> = requests.iter().zip(&replies).filter(|(_, r)| noscript(r)).map(|(q, _)| *q).collect();
            let mut resent = evalsha(conn, deadline, &sha, again.into_iter())?.into_iter();
            for reply in replies.iter_mut().filter(|r| noscript(r)) {
                *reply = resent.next().unwrap_or_else(|| Err(RedisError::from((ErrorKind::Client, "no reply"))));
            }
        }
        Ok(replies
            .into_iter()
            .map(|r| {
                r.map(|(admitted, now, retry)| Reply {
                    admitted: admitted == 1,
                    now_micros: u64::try_from(now).unwrap_or(0),
                    retry_after_micros: u64::try_from(retry).unwrap_or(0),
                })
                .map_err(|e| Failure::of(&e))
            })
            .collect())
    }

    fn load(&self, conn: &mut Connection, deadline: Instant) -> Result<String, Failed> {
        timeouts(conn, deadline)?;
        let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query(conn).map_err(Failed::of)?;
        *lock(&self.sha) = Some(sha.clone());
        Ok(sha)
    }
}

/// A failed command: why, and whether its connection can serve again (an error reply leaves
/// it in step; a timeout or an I/O error does not).
#[derive(Debug)]
struct Failed {
    failure: Failure,
    conn_ok: bool,
}

impl Failed {
    fn of(e: RedisError) -> Failed {
        let failure = Failure::of(&e);
        let reply = matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension);
        Failed { failure, conn_ok: failure == Failure::Error && reply }
    }

    fn timeout() -> Failed {
        Failed { failure: Failure::Timeout, conn_ok: false }
    }
}

/// Time left before `deadline`, if any (never zero: sockets refuse a zero timeout).
fn remaining(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
}

/// Bounds the next command's read and write by `deadline`.
fn timeouts(conn: &mut Connection, deadline: Instant) -> Result<(), Failed> {
    let left = remaining(deadline).ok_or_else(Failed::timeout)?;
    conn.set_write_timeout(Some(left)).map_err(Failed::of)?;
    conn.set_read_timeout(Some(left)).map_err(Failed::of)
}

/// Sends one EVALSHA per request as a pipeline and reads one reply each (an error reply is
/// that request's `Err`; the whole call fails only when the connection does).
fn evalsha<'r>(
    conn: &mut Connection,
    deadline: Instant,
    sha: &str,
    requests: impl Iterator<Item = &'r Request>,
) -> Result<Vec<ScriptReply>, Failed> {
    let mut pipe = redis::pipe();
    for r in requests {
        pipe.cmd("EVALSHA").arg(sha).arg(1).arg(&r.key).arg(r.limit).arg(r.window_micros).arg(&r.member).arg(r.ttl_millis);
    }
    timeouts(conn, deadline)?;
    pipe.ignore_errors().query(conn).map_err(Failed::of)
}

/// Feeds a key's `Hash` into SHA-256, integers little-endian, so that every replica on any
/// platform derives the same Redis key from the same key value.
pub(crate) struct KeyDigest(Sha256);

impl KeyDigest {
    /// The key-id of `key`: 128 bits of its digest, in hex.
    pub(crate) fn of<Q: Hash + ?Sized>(key: &Q) -> String {
        let mut d = KeyDigest(Sha256::new());
        key.hash(&mut d);
        let digest = d.0.finalize();
        crate::hex::to_hex(digest.get(..16).unwrap_or_default())
    }
}

macro_rules! write_le {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(&mut self, i: $t) { self.0.update(i.to_le_bytes()) })*
    };
}

impl Hasher for KeyDigest {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    write_le!(write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128);

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_isize(&mut self, i: isize) {
        self.write_i64(i as i64);
    }

    /// Not used for the key-id ([`KeyDigest::of`] takes the whole digest); the digest's first 8 bytes.
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        u64::from_le_bytes(first)
    }
}

/// What a limit on Redis has decided, read by the metrics at scrape time.
#[derive(Default)]
struct Counts {
    allowed: AtomicU64,
    rejected: AtomicU64,
}

impl Source for Counts {
    fn totals(&self) -> Totals {
        Totals {
            allowed: self.allowed.load(Ordering::Acquire),
            rejected: self.rejected.load(Ordering::Acquire),
            key_cap: 0,
            // Redis holds the keys (each expires a window after its last admission).
            keys: 0,
        }
    }
}

/// Creates the backend error series of the limit `config` at 0 (every reason).
pub(crate) fn declare_errors(metrics: &Metrics, config: &LimitConfig) {
    for reason in REASONS {
        let labels = BackendErrorLabels { spec: config.spec.clone(), limit: config.name.clone(), reason: reason.to_string() };
        drop(metrics.rate_limit_backend_errors.get_or_create(&labels));
    }
}

/// One limit on a [`RedisBackend`]: what [`super::RateLimiter::check`] calls instead of its shards.
pub(crate) struct Remote {
    backend: Arc<RedisBackend>,
    /// `pip:{<spec>:<limit>:`; the key-id and `}` follow.
    prefix: String,
    limit: u64,
    window_micros: u64,
    ttl_millis: u64,
    policy: BackendFailure,
    timeout: Duration,
    counts: Arc<Counts>,
    // INVARIANT: indexed by `Failure::index`.
    errors: [Counter; 3],
    /// `counts`' place in the limit's decision series; dropped with the limiter.
    _exported: Attached,
}

impl Remote {
    /// The limit `config` on `backend`; its error series are created at 0 in `metrics`.
    /// Its decisions count in the limit's `allowed`/`rejected` series like in-process ones.
    pub(crate) fn new(backend: Arc<RedisBackend>, config: &LimitConfig, metrics: &Metrics) -> Remote {
        let window_micros = u64::try_from(config.window.as_nanos().div_ceil(1_000)).unwrap_or(u64::MAX).max(1);
        let counts = Arc::new(Counts::default());
        let errors = REASONS.map(|reason| {
            let labels = BackendErrorLabels { spec: config.spec.clone(), limit: config.name.clone(), reason: reason.to_string() };
            metrics.rate_limit_backend_errors.get_or_create(&labels).clone()
        });
        let exported = metrics.rate_limits.attach(&config.spec, &config.name, Arc::clone(&counts) as Arc<dyn Source>);
        Remote {
            backend,
            prefix: format!("pip:{{{}:{}:", config.spec, config.name),
            limit: config.limit,
            window_micros,
            ttl_millis: window_micros.div_ceil(1_000),
            policy: config.on_backend_failure,
            timeout: config.backend_timeout,
            counts,
            errors,
            _exported: exported,
        }
    }

    /// Decides one request of `key` on Redis, or by the failure policy.
    pub(crate) fn check<Q: Hash + ?Sized>(&self, key: &Q) -> Decision {
        let mut name = String::with_capacity(self.prefix.len() + 33);
        name.push_str(&self.prefix);
        name.push_str(&KeyDigest::of(key));
        name.push('}');
        let request = Request {
            key: name,
            limit: self.limit,
            window_micros: self.window_micros,
            member: self.backend.member(),
            ttl_millis: self.ttl_millis,
        };
        match self.backend.decide(request, self.timeout) {
            Ok(reply) => {
                let at_nanos = reply.now_micros.saturating_mul(1_000);
                if reply.admitted {
                    self.counts.allowed.fetch_add(1, Ordering::Release);
                    Decision { outcome: Outcome::Allowed, at_nanos }
                } else {
                    self.counts.rejected.fetch_add(1, Ordering::Release);
                    let retry_after = Duration::from_micros(reply.retry_after_micros);
                    Decision { outcome: Outcome::Rejected { retry_after }, at_nanos }
                }
            }
            Err(failure) => {
                if let Some(counter) = self.errors.get(failure.index()) {
                    counter.inc();
                }
                let at_nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                match self.policy {
                    BackendFailure::Allow => {
                        self.counts.allowed.fetch_add(1, Ordering::Release);
                        Decision { outcome: Outcome::Allowed, at_nanos }
                    }
                    BackendFailure::Deny => {
                        self.counts.rejected.fetch_add(1, Ordering::Release);
                        Decision { outcome: Outcome::Rejected { retry_after: self.timeout }, at_nanos }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn sha_hex(bytes: &[u8]) -> String {
        crate::hex::to_hex(&Sha256::digest(bytes)[..16])
    }

    #[test]
    fn integer_keys_digest_as_their_little_endian_bytes() {
        assert_eq!(KeyDigest::of(&7u64), sha_hex(&7u64.to_le_bytes()));
        assert_eq!(KeyDigest::of(&7usize), sha_hex(&7u64.to_le_bytes()));
    }

    #[test]
    fn string_keys_digest_as_their_bytes_and_the_std_terminator() {
        assert_eq!(KeyDigest::of("tenant-1"), sha_hex(b"tenant-1\xff"));
        assert_eq!(KeyDigest::of(&String::from("tenant-1")), KeyDigest::of("tenant-1"));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(Reconnect::delay(1), BACKOFF_MIN);
        assert_eq!(Reconnect::delay(2), BACKOFF_MIN * 2);
        assert_eq!(Reconnect::delay(40), BACKOFF_MAX);
    }

    #[test]
    fn an_unparsable_url_is_refused_when_the_backend_is_chosen() {
        assert!(RedisBackend::open("not a url").is_err());
        assert!(RedisBackend::open("redis://127.0.0.1:1/").is_ok());
    }
}
