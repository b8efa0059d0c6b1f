//! Rate limits through the attribute: `#[pip_invariant("gateway.per_tenant", key = tenant)]`.
//!
//! Each annotated function has one static [`LimitSite`] holding the spec's limit. On the
//! first call it registers the limit with the process's [`Limiters`](crate::limiter::Limiters)
//! (unless the service registered it already, whose configuration then wins) and keeps the
//! shared limiter, so that every function naming the limit draws on one budget per key.
//!
//! Keys are hashed to 64 bits with SipHash under a key drawn at random when the process
//! starts, so a key of any `Hash` type, borrowed or not, can be limited without a copy. Two
//! keys share a budget only if their hashes collide: with a million live keys the chance that
//! any two do is about 3 × 10⁻⁸, and nobody outside the process can aim for a collision. A
//! limit on a shared backend (Redis) hashes with a fixed SipHash key instead, the same in
//! every replica, so that a key has one budget across them.

use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Clause, Evidence, EvidenceValues, Policy, Violation};
use crate::global::runtime;
use crate::limiter::{BackendFailure, LimitConfig, LimiterError, Outcome, RateLimiter};

/// The hasher of the keys of every site (seeded once per process).
fn key_hasher() -> &'static RandomState {
    static HASHER: OnceLock<RandomState> = OnceLock::new();
    HASHER.get_or_init(RandomState::new)
}

/// The hasher of the keys of a limit on a shared backend (Redis): the same in every replica,
/// so that one key is one budget across processes. SipHash with a fixed key: a collision is
/// as unlikely as with the random key, but could be searched for offline (about 2^32 tries
/// to find *some* colliding pair, 2^64 to collide with a given key) — a risk only to
/// budgets an attacker chooses both keys of.
fn shared_key_hasher() -> std::hash::BuildHasherDefault<std::hash::DefaultHasher> {
    std::hash::BuildHasherDefault::default()
}

/// One annotated function's rate limit, as the spec defines it.
#[derive(Debug)]
pub struct LimitSite {
    /// The spec id, the `spec` label of the limiter's series.
    pub spec: &'static str,
    /// The `rate_limit` construct's name, the `limit` label of its series.
    pub limit: &'static str,
    /// Requests admitted per key and window.
    pub rate: u64,
    /// Window length in nanoseconds.
    pub window_nanos: u64,
    /// The spec's `max_keys` (default 100000): keys tracked at once before a new key is refused.
    pub max_keys: u64,
    /// The spec's `on_backend_failure`: the decision when a shared backend does not answer.
    pub on_backend_failure: BackendFailure,
    /// The spec's `backend_timeout` in milliseconds.
    pub backend_timeout_millis: u64,
    /// The key expression, as written in the attribute.
    pub key: &'static str,
    /// The annotated function's path, named in a refusal's message.
    pub function: &'static str,
    /// Where the limit is in the spec (`file:line`).
    pub source: &'static str,
    limiter: OnceLock<Arc<RateLimiter<u64>>>,
}

impl LimitSite {
    /// A site; called in a `static` by the generated code.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        spec: &'static str,
        limit: &'static str,
        rate: u64,
        window_nanos: u64,
        max_keys: u64,
        on_backend_failure: BackendFailure,
        backend_timeout_millis: u64,
        key: &'static str,
        function: &'static str,
        source: &'static str,
    ) -> Self {
        LimitSite {
            spec,
            limit,
            rate,
            window_nanos,
            max_keys,
            on_backend_failure,
            backend_timeout_millis,
            key,
            function,
            source,
            limiter: OnceLock::new(),
        }
    }

    fn config(&self) -> LimitConfig {
        LimitConfig::new(self.spec, self.limit, self.rate, Duration::from_nanos(self.window_nanos))
            .with_max_keys(self.max_keys)
            .with_backend_failure(self.on_backend_failure, Duration::from_millis(self.backend_timeout_millis))
    }

    /// The shared limiter: the registered one, or this site's own when the registry holds the
    /// limit under another key type or the spec's figures cannot be enforced (said on stderr).
    fn limiter(&self) -> Result<&Arc<RateLimiter<u64>>, LimiterError> {
        if let Some(l) = self.limiter.get() {
            return Ok(l);
        }
        let limiters = runtime().limiters();
        let shared = match limiters.register(self.config()) {
            Ok(()) | Err(LimiterError::Duplicate { .. }) => limiters.get::<u64>(self.spec, self.limit),
            Err(e) => Err(e),
        };
        let limiter = match shared {
            Ok(l) => l,
            Err(e @ LimiterError::KeyType { .. }) => {
                eprintln!("pip: {e}; {} uses a limiter of its own with the spec's figures", self.function);
                Arc::new(RateLimiter::new(self.config(), runtime().metrics(), Arc::new(crate::clock::TscClock::new()))?)
            }
            Err(e) => return Err(e),
        };
        Ok(self.limiter.get_or_init(|| limiter))
    }

    /// Decides one call for `key`. A refusal is a [`Violation`] (clause `rate_limit`) whose
    /// values name the key (`describe` renders it, called only then) and, for a full window,
    /// carries how long until the key is admitted again.
    #[inline]
    #[expect(
        clippy::result_large_err,
        reason = "the generated code hands the violation on by value to `E: From<Violation>`; the Ok path writes only the discriminant"
    )]
    pub fn check<K: Hash + ?Sized>(&self, key: &K, describe: impl FnOnce() -> String) -> Result<(), Violation> {
        let limiter = match self.limiter() {
            Ok(l) => l,
            Err(e) => return Err(self.refused(describe(), format!("the limit cannot be enforced: {e}"), None)),
        };
        let hashed = if limiter.is_shared() { shared_key_hasher().hash_one(key) } else { key_hasher().hash_one(key) };
        let decision = limiter.check(&hashed);
        match decision.outcome {
            Outcome::Allowed => Ok(()),
            Outcome::Rejected { retry_after } => {
                Err(self.refused(describe(), format!("{} per {:?} exceeded", self.rate, self.window()), Some(retry_after)))
            }
            Outcome::KeyCapReached => Err(self.refused(describe(), format!("{} keys are tracked already (max_keys)", self.max_keys), None)),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_nanos(self.window_nanos)
    }

    #[cold]
    #[inline(never)]
    fn refused(&self, key: String, why: String, retry_after: Option<Duration>) -> Violation {
        let mut values = vec![(self.key.to_string(), key), ("reason".to_string(), why)];
        if let Some(r) = retry_after {
            values.push(("retry_after".to_string(), format!("{r:?}")));
        }
        Violation {
            spec: self.spec,
            invariant: self.limit,
            clause: Clause::RateLimit,
            expr: self.key,
            function: self.function,
            source: self.source,
            policy: Policy::Deny,
            values,
            // A rate limit records no evidence; its key is what the caller sent.
            evidence_values: EvidenceValues::Text,
            evidence: Evidence::NotConfigured,
            retry_after,
        }
    }
}
