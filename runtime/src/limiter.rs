//! The exact sliding-window, per-key rate limiter of the spec's `rate_limit` blocks.
//!
//! # What "exact" means here
//! A limit of `R per τ` admits a request for a key at time `t` iff fewer than `R` requests
//! of that key were admitted in the half-open window `(t − τ, t]`. An admission at `a`
//! therefore counts until `a + τ`, exclusive. Equivalently: every half-open interval
//! `[s, s + τ)` holds at most `R` admissions of a key, or again, for a key's admission times
//! `a₀ ≤ a₁ ≤ …`, `a[i + R] − a[i] ≥ τ` for every `i`. Times are the [`Clock`]'s monotonic
//! nanoseconds, clamped under the key's shard lock so that they never go backwards within a
//! shard: the order of a key's decisions is the order of their times.
//!
//! # How
//! Each key keeps a log of its last `R` admission times (a ring). A request is admitted iff
//! the log holds fewer than `R` times or its oldest is at least `τ` old: one comparison, O(1),
//! and no approximation — the limiter decides exactly as an oracle that keeps every
//! admission would (0 false negatives, 0 false positives). Keys live in shards (a mutex
//! around a swiss table each), picked by the key's hash, so threads rarely contend.
//!
//! For keys of an integer type (the macro's limit sites key by a 64-bit digest), a key over
//! its limit is refused without the shard's lock: when a decision leaves a key's log full,
//! the shard publishes a hint "this key has `R` admissions in `[oldest, now]`", and a later
//! request at a reading in `[now, oldest + τ)` is refused from the hint alone — those `R`
//! admissions all lie in its window, so the exact window refuses it too (the `hints` module
//! says why a stale hint is never wrong). Admissions always take the lock; hinted refusals
//! are counted in per-thread counter stripes, summed with the shards' counts at scrape time.
//!
//! Each shard also counts the decisions it takes, under the lock the decision holds anyway;
//! the metrics ([`LimiterMetrics`]) sum the shards when they are scraped. So no cache line
//! is written by every decision of every thread, and no scrape misses a decision taken
//! before it.
//!
//! # Memory
//! Per key: an entry of `size_of::<K>() + 56` bytes rounded up to a multiple of 64 (one
//! cache line for a `u64` key) in a swiss table (plus the key's own heap data), up to three
//! 24-byte records in the shard's idle queue, and its log of 8 bytes per admission still
//! kept — at most `8·R` bytes, grown by doubling as it is used (a key admitted once holds 16
//! bytes of log). For `u64` keys and `R = 100` that is at most about 1 KiB per key, ~150
//! bytes for a key admitted a few times. Keys are bounded by `max_keys`, so the limiter never
//! holds more than about `max_keys · (entry + 80 + 8·R)` bytes plus the keys' own heap data
//! (and 256 bytes per shard); tables shrink again once most keys have gone idle. A limiter
//! over integer keys also holds its hint table: 64 bytes per `max_keys`, 2 KiB to 512 KiB.
//!
//! # Idle keys and the key cap
//! A key whose latest admission is at least `τ` old holds nothing that can change a
//! decision, so it is evicted. Each shard keeps a queue of "key admitted at `t`" records in
//! time order (renewed at most every `τ/2` of a key's activity); every decision compares its
//! time with when the queue's head goes idle (kept beside the shard's clock) and evicts up
//! to two keys idle for a window (O(1) amortized: a key goes at
//! one of its shard's first decisions after `τ` has passed since its last admission), and
//! [`RateLimiter::evict_idle`] sweeps every shard.
//!
//! A new key when `max_keys` keys are tracked: the limiter first evicts every idle key; if
//! none is idle, the request is **refused** ([`Outcome::KeyCapReached`], counted in
//! `pip_rate_limit_key_cap_rejections_total` and as `rejected`). It never evicts a key
//! whose admissions still count: that would let an attacker who rotates keys erase a
//! legitimate key's history and so let that key exceed its limit. The cost of refusing is
//! that, while the cap is full of live keys, *new* keys are refused for at most `τ`; keys
//! already tracked keep their exact limits.
//!
//! # Using it
//! Build one [`RateLimiter`] per limit and share it behind an `Arc`, or register the
//! spec's limits in a [`Limiters`] registry and fetch typed handles by name. Keys are any
//! `Hash + Eq + Clone + Send + 'static` value (the metrics read the shards from the thread
//! that scrapes); `check` takes a borrowed form (`&str` for `String` keys).
//!
//! # Replicas
//! In process, a limit holds per process. With the feature `redis`, a registry whose backend
//! is Redis ([`Limiters::backend_redis`], or `PIP_REDIS_URL`) hands out limiters that decide on
//! Redis, so that every replica of a service shares each limit (the `redis` module's docs say
//! how, what a backend failure decides, and what holds under failover). They are the same
//! `RateLimiter` type to callers; they have no key cap (Redis expires idle keys).

mod hints;
mod log;
#[cfg(feature = "redis")]
mod redis;
mod registry;
mod shard;

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::num::NonZero;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pip_conventions::rate_limit;

use crate::clock::Clock;
use crate::metrics::{Attached, Metrics, Source, Totals};
use hints::{Hints, KeyBits, Stripes};
use shard::{KeyBudget, Params, Shard, Step};

pub use crate::metrics::LimiterMetrics;
pub use registry::{Limiters, REDIS_URL_ENV};

/// `max_keys` when the spec does not set it (the compiler's default too).
pub const DEFAULT_MAX_KEYS: u64 = rate_limit::DEFAULT_MAX_KEYS;

/// One `rate_limit` of a spec, as the runtime needs it (filled from the compiler's IR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConfig {
    /// Spec id (the `spec` label).
    pub spec: String,
    /// The limit's name (the `limit` label).
    pub name: String,
    /// Most requests admitted per key in any window (`R`, at least 1).
    pub limit: u64,
    /// Window length (`τ`, more than zero).
    pub window: Duration,
    /// Most keys tracked at once (at least 1).
    pub max_keys: u64,
    /// How a decision goes when a shared backend (Redis) cannot give one in time: the spec's
    /// `on_backend_failure` (default [`BackendFailure::Allow`]). The in-process limiter never
    /// fails.
    pub on_backend_failure: BackendFailure,
    /// How long a decision may wait for a shared backend: the spec's `backend_timeout`
    /// (default [`DEFAULT_BACKEND_TIMEOUT`]).
    pub backend_timeout: Duration,
}

/// `on_backend_failure`: what a limit on a shared backend decides when the backend does not
/// answer (down, timed out, an error reply). Either way the failure is counted in
/// `pip_rate_limit_backend_errors_total` and `PipRateLimitBackendDown` fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendFailure {
    /// Fail open: admit the request (availability first; the limit does not hold meanwhile).
    #[default]
    Allow,
    /// Fail closed: refuse the request (the limit holds; the service refuses everything meanwhile).
    Deny,
}

/// `backend_timeout` when the spec does not set it.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_millis(rate_limit::DEFAULT_BACKEND_TIMEOUT_MILLIS);

impl LimitConfig {
    /// `limit per window`, with the default key cap and backend failure settings.
    pub fn new(spec: impl Into<String>, name: impl Into<String>, limit: u64, window: Duration) -> LimitConfig {
        LimitConfig {
            spec: spec.into(),
            name: name.into(),
            limit,
            window,
            max_keys: DEFAULT_MAX_KEYS,
            on_backend_failure: BackendFailure::default(),
            backend_timeout: DEFAULT_BACKEND_TIMEOUT,
        }
    }

    /// The same limit with another backend failure policy and timeout.
    pub fn with_backend_failure(self, on_backend_failure: BackendFailure, backend_timeout: Duration) -> LimitConfig {
        LimitConfig { on_backend_failure, backend_timeout, ..self }
    }

    /// The same limit with another key cap.
    pub fn with_max_keys(self, max_keys: u64) -> LimitConfig {
        LimitConfig { max_keys, ..self }
    }

    fn params(&self) -> Result<Params, LimiterError> {
        let invalid =
            |reason: &str| LimiterError::InvalidConfig { spec: self.spec.clone(), limit: self.name.clone(), reason: reason.to_string() };
        // A key's log holds up to `limit` times of 8 bytes: past u32::MAX, 32 GiB per key.
        let limit = Some(self.limit)
            .filter(|l| *l <= rate_limit::LIMIT_MAX)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| invalid("the limit does not fit in memory"))?;
        if limit == 0 {
            return Err(invalid("the limit must admit at least one request per window"));
        }
        let window = u64::try_from(self.window.as_nanos()).map_err(|_| invalid("the window is longer than 584 years"))?;
        if window == 0 {
            return Err(invalid("the window must be longer than zero"));
        }
        if self.max_keys == 0 {
            return Err(invalid("`max_keys` must be at least 1"));
        }
        if self.max_keys > rate_limit::MAX_KEYS_MAX {
            return Err(invalid(&format!("`max_keys` must be at most {}", rate_limit::MAX_KEYS_MAX)));
        }
        Ok(Params { limit, window })
    }
}

/// Why a limiter could not be built or found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimiterError {
    /// The configuration is outside what the limiter can enforce (the bounds of [`pip_conventions::rate_limit`]).
    #[error("rate limit `{limit}` of spec `{spec}`: {reason}")]
    InvalidConfig {
        /// The spec id, as in [`LimitConfig::spec`].
        spec: String,
        /// The limit's [`LimitConfig::name`].
        limit: String,
        /// The bound the configuration breaks: a `limit`, window or `max_keys` of zero or too large.
        reason: String,
    },
    /// A registry was asked for a limit it does not know.
    #[error("no rate limit `{limit}` is registered for spec `{spec}`")]
    Unknown {
        /// The spec id the caller asked for.
        spec: String,
        /// The limit name the caller asked for, not registered under that spec.
        limit: String,
    },
    /// A registry was given the same limit twice.
    #[error("rate limit `{limit}` of spec `{spec}` is registered twice")]
    Duplicate {
        /// The spec id, as in [`LimitConfig::spec`].
        spec: String,
        /// The limit's [`LimitConfig::name`], registered already.
        limit: String,
    },
    /// The shared backend cannot be used: its URL is invalid, it was chosen after a limit was
    /// in use, or this build has no such backend.
    #[error("rate limit backend: {reason}")]
    Backend {
        /// What is wrong with the backend.
        reason: String,
    },
    /// A limit was asked for with another key type than its first use.
    #[error("rate limit `{limit}` of spec `{spec}` is keyed by `{registered}`, not `{requested}`")]
    KeyType {
        /// The spec id, as in [`LimitConfig::spec`].
        spec: String,
        /// The limit's [`LimitConfig::name`].
        limit: String,
        /// The `type_name` of the key type the first [`Limiters::get`] built the limiter for.
        registered: &'static str,
        /// The `type_name` of the key type this call asked for.
        requested: &'static str,
    },
}

/// What [`RateLimiter::check`] decided for one request; counted as `allowed` or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted: its time is now in the key's log, counting against the next window's worth.
    Allowed,
    /// Refused: the key already had `R` admissions in the window.
    Rejected {
        /// When a request of this key would be admitted (if no other is admitted first).
        retry_after: Duration,
    },
    /// Refused: the key is new and the limiter tracks `max_keys` keys, none of them idle.
    KeyCapReached,
}

/// A decision and the time it was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request was admitted and, if not, why (and for a full window, for how long).
    pub outcome: Outcome,
    /// The limiter's time of the decision (the clock's monotonic nanoseconds): the time
    /// recorded for the key when admitted. On Redis, the server's `TIME` in nanoseconds since
    /// the Unix epoch (whole microseconds), shared by every replica; for a decision the
    /// backend failed to give, this process's system time.
    pub at_nanos: u64,
}

impl Decision {
    /// Whether the request was admitted.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// How long until the key would be admitted, for a window rejection.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.outcome {
            Outcome::Rejected { retry_after } => Some(retry_after),
            Outcome::Allowed | Outcome::KeyCapReached => None,
        }
    }
}

/// A shard on cache lines of its own (128 bytes: x86 fetches lines in pairs), so that two
/// threads deciding in neighbouring shards do not share a line.
#[repr(align(128))]
struct Padded<T>(T);

/// The shards and the key budget: what decisions share, and what the metrics read.
struct Core<K> {
    // INVARIANT: `shards.len()` is a power of two and `shard_mask == shards.len() - 1`.
    shards: Box<[Padded<Mutex<Shard<K>>>]>,
    shard_mask: usize,
    budget: KeyBudget,
    /// Rejections taken from a hint, without a shard (see `hints`).
    hinted_rejections: Stripes,
}

impl<K> Core<K> {
    fn shard(&self, hash: u64) -> &Mutex<Shard<K>> {
        // The swiss table uses the hash's low bits and its top 7 bits; the shard takes bits
        // from the middle so that the keys of one shard still spread over its table.
        let index = (hash >> 32) as usize & self.shard_mask;
        #[expect(clippy::indexing_slicing, reason = "the index is masked by len - 1 and len is a power of two")]
        &self.shards[index].0
    }

    fn shards(&self) -> impl Iterator<Item = &Mutex<Shard<K>>> {
        self.shards.iter().map(|p| &p.0)
    }
}

impl<K: Send> Source for Core<K> {
    /// Sums the shards' counts, each read under its lock: every decision taken before the
    /// call is in the sum.
    fn totals(&self) -> Totals {
        let mut totals = self.shards().fold(Totals::default(), |mut t, s| {
            let c = lock(s).counts();
            t.allowed += c.allowed;
            t.rejected += c.rejected;
            t.key_cap += c.key_cap;
            t
        });
        totals.rejected += self.hinted_rejections.sum();
        totals.keys = u64::try_from(self.budget.tracked.load(Ordering::Acquire)).unwrap_or(u64::MAX);
        totals
    }
}

/// An exact sliding-window rate limiter over keys of type `K` (see the module docs).
/// Thread-safe: share it behind an `Arc`.
pub struct RateLimiter<K, S = RandomState> {
    config: LimitConfig,
    params: Params,
    core: Arc<Core<K>>,
    hasher: S,
    clock: Arc<dyn Clock>,
    /// At the key cap, no key goes idle before this time: until then a new key is refused
    /// without sweeping every shard (so an attacker at the cap costs O(1) per request).
    cap_quiet_until: AtomicU64,
    /// For keys of an integer type: rejections of keys over their limit without the shard's
    /// lock (see `hints`).
    hints: Option<Hints>,
    /// Its place in the metrics; dropped with the limiter.
    _exported: Attached,
    /// When set, decisions are Redis's and the shards stay empty.
    #[cfg(feature = "redis")]
    remote: Option<redis::Remote>,
}

impl<K: Hash + Eq + Clone + Send + 'static> RateLimiter<K, RandomState> {
    /// A limiter for `config`, exporting into `metrics`, on `clock` (in production a
    /// [`crate::clock::TscClock`], or [`crate::clock::SystemClock`]).
    pub fn new(config: LimitConfig, metrics: &Metrics, clock: Arc<dyn Clock>) -> Result<Self, LimiterError> {
        RateLimiter::with_hasher(config, metrics, clock, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, S: BuildHasher> RateLimiter<K, S> {
    /// A limiter that hashes keys with `hasher`. Keep a randomly seeded hasher for keys an
    /// attacker chooses (the default, SipHash with a random key, resists hash flooding).
    pub fn with_hasher(config: LimitConfig, metrics: &Metrics, clock: Arc<dyn Clock>, hasher: S) -> Result<Self, LimiterError>
    where
        // The metrics read the shards at scrape time, from whichever thread scrapes.
        K: Send + 'static,
    {
        RateLimiter::build(config, metrics, clock, hasher, 0)
    }

    /// `with_hasher` with `shard_count` shards, or the default count for 0.
    fn build(config: LimitConfig, metrics: &Metrics, clock: Arc<dyn Clock>, hasher: S, shard_count: usize) -> Result<Self, LimiterError>
    where
        K: Send + 'static,
    {
        let params = config.params()?;
        // Many small shards: two threads rarely want the same lock at once (a parked waiter
        // costs microseconds), and a shard's table stays small.
        let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
        let shard_count = match shard_count {
            0 => (cores * 16).next_power_of_two().clamp(64, 1024),
            n => n.next_power_of_two(),
        };
        let shards = (0..shard_count).map(|_| Padded(Mutex::new(Shard::default()))).collect();
        let budget = KeyBudget {
            tracked: AtomicUsize::new(0),
            // `params()` checked that it is below u32::MAX.
            max: usize::try_from(config.max_keys).unwrap_or(usize::MAX),
        };
        let core = Arc::new(Core { shards, shard_mask: shard_count - 1, budget, hinted_rejections: Stripes::new(cores) });
        let hints = hints::integer_key::<K>().then(|| Hints::new(config.max_keys));
        let exported = metrics.rate_limits.attach(&config.spec, &config.name, Arc::clone(&core) as Arc<dyn Source>);
        Ok(RateLimiter {
            config,
            params,
            core,
            hasher,
            clock,
            cap_quiet_until: AtomicU64::new(0),
            hints,
            _exported: exported,
            #[cfg(feature = "redis")]
            remote: None,
        })
    }

    /// Decides one request of `key` now, records it when admitted, and counts it in the
    /// limit's metrics (in its shard, summed when the metrics are scraped). O(1) (amortized,
    /// including the eviction of idle keys).
    pub fn check<Q>(&self, key: &Q) -> Decision
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        #[cfg(feature = "redis")]
        if let Some(remote) = &self.remote {
            return remote.check(key);
        }
        let reading = self.clock.monotonic_nanos();
        let bits = match &self.hints {
            Some(hints) => {
                let mut h = KeyBits::default();
                key.hash(&mut h);
                let bits = h.get();
                if let Some(refusal) = bits.and_then(|b| hints.refuses(b, reading)) {
                    // `limit` admissions of the key lie in `(reading - window, reading]`.
                    self.core.hinted_rejections.add_one();
                    let retry_after = Duration::from_nanos(refusal.retry_after_nanos);
                    return Decision { outcome: Outcome::Rejected { retry_after }, at_nanos: reading };
                }
                bits
            }
            None => None,
        };
        let hash = self.hasher.hash_one(key);
        let (step, at_nanos) = {
            let mut s = lock(self.core.shard(hash));
            // A reading taken before another thread's later one may get the lock after it:
            // the shard decides at the latest time it has seen, so that its decisions are
            // ordered by their times (a decision's time may trail the clock by the wait).
            let now = s.advance(reading);
            let step = s.decide(hash, key, now, self.params, &self.core.budget);
            if let (Some(hints), Some(bits), Some(oldest)) = (&self.hints, bits, s.full_since()) {
                hints.publish(bits, oldest, now, self.params.window);
            }
            (step, now)
        };
        match step {
            Step::Admitted => Decision { outcome: Outcome::Allowed, at_nanos },
            Step::Rejected { retry_after_nanos } => {
                Decision { outcome: Outcome::Rejected { retry_after: Duration::from_nanos(retry_after_nanos) }, at_nanos }
            }
            Step::NeedsRoom => self.at_cap(hash, key),
        }
    }

    /// A new key met the cap: make room from idle keys of every shard, then try once more.
    fn at_cap<Q>(&self, hash: u64, key: &Q) -> Decision
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let reading = self.clock.monotonic_nanos();
        if reading >= self.cap_quiet_until.load(Ordering::Acquire) {
            let next_idle = self.sweep(reading);
            // Every tracked key was admitted at or before `reading`, so none goes idle later
            // than `reading + τ`; keys added after the sweep go idle later than any swept one.
            let quiet = next_idle.unwrap_or(reading).min(reading.saturating_add(self.params.window));
            self.cap_quiet_until.store(quiet, Ordering::Release);
        }
        let mut s = lock(self.core.shard(hash));
        let now = s.advance(self.clock.monotonic_nanos());
        match s.decide(hash, key, now, self.params, &self.core.budget) {
            Step::Admitted => Decision { outcome: Outcome::Allowed, at_nanos: now },
            Step::Rejected { retry_after_nanos } => {
                Decision { outcome: Outcome::Rejected { retry_after: Duration::from_nanos(retry_after_nanos) }, at_nanos: now }
            }
            Step::NeedsRoom => {
                s.refuse_new_key();
                Decision { outcome: Outcome::KeyCapReached, at_nanos: now }
            }
        }
    }

    /// Evicts every idle key of every shard; returns when the next key goes idle.
    fn sweep(&self, reading: u64) -> Option<u64> {
        let mut next_idle: Option<u64> = None;
        for shard in self.core.shards() {
            let mut s = lock(shard);
            let now = s.advance(reading);
            self.core.budget.give_back(s.evict_idle(now, self.params, usize::MAX));
            if let Some(t) = s.next_idle_at(self.params.window) {
                next_idle = Some(next_idle.map_or(t, |n| n.min(t)));
            }
        }
        next_idle
    }
}

#[cfg(feature = "redis")]
impl<K: Hash + Eq + Clone + Send + 'static> RateLimiter<K, RandomState> {
    /// A limiter whose decisions are taken on `backend`, shared with every process on the
    /// same Redis (see [`Limiters::backend_redis`]). It has no key cap: Redis holds the keys.
    fn on_redis(
        config: LimitConfig,
        metrics: &Metrics,
        clock: Arc<dyn Clock>,
        backend: Arc<redis::RedisBackend>,
    ) -> Result<Self, LimiterError> {
        // One empty shard: the decisions never reach it.
        let mut limiter = RateLimiter::build(config, metrics, clock, RandomState::new(), 1)?;
        limiter.remote = Some(redis::Remote::new(backend, &limiter.config, metrics));
        limiter.hints = None;
        Ok(limiter)
    }
}

impl<K, S> RateLimiter<K, S> {
    /// Evicts every key that has been idle for a window (a background task may call this;
    /// decisions evict idle keys as they go anyway). Returns how many keys it evicted.
    pub fn evict_idle(&self) -> usize {
        let reading = self.clock.monotonic_nanos();
        let mut evicted = 0;
        for shard in self.core.shards() {
            let mut s = lock(shard);
            let now = s.advance(reading);
            evicted += s.evict_idle(now, self.params, usize::MAX);
        }
        self.core.budget.give_back(evicted);
        evicted
    }

    /// Keys that hold a log in some shard now, idle ones not yet evicted included; at most `max_keys`.
    pub fn tracked_keys(&self) -> usize {
        self.core.shards().map(|s| lock(s).len()).sum()
    }

    /// Heap bytes held by the limiter's tables and logs (keys' own heap data excluded).
    pub fn heap_bytes(&self) -> usize {
        self.core.shards().map(|s| lock(s).heap_bytes()).sum::<usize>() + self.hints.as_ref().map_or(0, Hints::heap_bytes)
    }

    /// The configuration it was built from: the names on its series, `limit`, window and key cap.
    pub fn config(&self) -> &LimitConfig {
        &self.config
    }

    /// Whether its decisions are taken on a backend shared with other processes (Redis), where
    /// a key is known by a digest of its `Hash`: callers that hash keys before `check` must then
    /// hash them the same way in every replica (no per-process random seed).
    pub fn is_shared(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.remote.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }
}

impl<K, S> std::fmt::Debug for RateLimiter<K, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .field("shards", &self.core.shards.len())
            .field("tracked_keys", &self.core.budget.tracked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks a shard. A panic under the lock can only come from a key's own `Hash`/`Eq`, which
/// run before the shard changes, so a poisoned shard is still consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
