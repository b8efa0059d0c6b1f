//! A process's rate limits by spec and name, so that code far from where the limits were
//! configured (the functions the `#[pip_invariant]` attribute generates, request handlers)
//! can fetch a shared, typed handle.
//!
//! The registry also holds where the process's limits decide: in process (the default), or
//! on a Redis shared by every replica of the service ([`Limiters::backend_redis`], or
//! `PIP_REDIS_URL` read when [`crate::global::runtime`] is first used). The backend is the
//! deployment's choice, not the spec's: the spec says what must hold (`R per τ`, and what to do
//! when a shared backend fails), the deployment says how many processes share it.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::{LimitConfig, LimiterError, RateLimiter, lock};
use crate::clock::Clock;
use crate::metrics::Metrics;

/// A limiter built for its first key type.
struct Built {
    key_type: TypeId,
    key_type_name: &'static str,
    limiter: Arc<dyn Any + Send + Sync>,
}

struct Registered {
    config: LimitConfig,
    built: Option<Built>,
}

/// Where the process's limits decide.
enum Backend {
    InProcess,
    #[cfg(feature = "redis")]
    Redis(Arc<super::redis::RedisBackend>),
    /// A backend was asked for and cannot be had: every `get` says why, rather than quietly
    /// enforcing the limits per process.
    Unusable(LimiterError),
}

/// The environment variable that puts a process's limits on Redis: a `redis://` URL.
pub const REDIS_URL_ENV: &str = "PIP_REDIS_URL";

/// The rate limits of a process. Register each limit of the spec once at start-up; then
/// [`Limiters::get`] returns the same `Arc<RateLimiter<K>>` to every caller and thread.
///
/// A limit's key type is fixed by its first `get`; asking for it with another key type is
/// an error, since two limiters under one name would each admit `R` per window.
pub struct Limiters {
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    limits: Mutex<HashMap<(String, String), Registered>>,
    backend: Mutex<Backend>,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<(String, String)> = lock(&self.limits).keys().cloned().collect();
        f.debug_struct("Limiters").field("limits", &names).finish_non_exhaustive()
    }
}

impl Limiters {
    /// An empty registry whose limiters export into `metrics` and read `clock`.
    pub fn new(metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Limiters {
        Limiters { metrics, clock, limits: Mutex::new(HashMap::new()), backend: Mutex::new(Backend::InProcess) }
    }

    /// Puts every limit of this registry on the Redis at `url` (`redis://host:port[/db]`), so
    /// that all the processes on that Redis share each limit: together they admit at most `R`
    /// per window for a key. Call it at start-up, before the first [`Limiters::get`]: a limiter
    /// already built keeps deciding in process, so this is refused once one is. Connects
    /// lazily (a Redis down now is a backend failure of the first decisions, decided by each
    /// limit's `on_backend_failure`). Each limit's `pip_rate_limit_backend_errors_total`
    /// series (every reason) is created at 0. Needs the feature `redis`.
    pub fn backend_redis(&self, url: &str) -> Result<(), LimiterError> {
        let limits = lock(&self.limits);
        if let Some(((spec, name), _)) = limits.iter().find(|(_, r)| r.built.is_some()) {
            return Err(LimiterError::Backend {
                reason: format!(
                    "rate limit `{name}` of spec `{spec}` already decides in process; choose the backend before the first use of a limit"
                ),
            });
        }
        let backend = redis_backend(url)?;
        #[cfg(feature = "redis")]
        for r in limits.values() {
            super::redis::declare_errors(&self.metrics, &r.config);
        }
        *lock(&self.backend) = backend;
        Ok(())
    }

    /// [`Limiters::backend_redis`] with the URL of [`REDIS_URL_ENV`], if it is set and not
    /// empty. If the URL is unusable (or the feature `redis` is off), every later `get` fails
    /// with the reason, so that a replica never silently enforces its limits alone.
    pub fn backend_from_env(&self) {
        self.backend_from(std::env::var_os(REDIS_URL_ENV));
    }

    /// [`Limiters::backend_from_env`] with the variable's value.
    pub(super) fn backend_from(&self, url: Option<std::ffi::OsString>) {
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            return;
        };
        let chosen = match url.to_str() {
            Some(url) => self.backend_redis(url),
            None => Err(LimiterError::Backend { reason: format!("{REDIS_URL_ENV} is not UTF-8") }),
        };
        if let Err(e) = chosen {
            let reason = format!("{REDIS_URL_ENV}: {e}");
            *lock(&self.backend) = Backend::Unusable(LimiterError::Backend { reason });
        }
    }

    /// Adds a limit. Its metric series (allowed, rejected, key-cap rejections, keys) are
    /// created at 0 now, so that dashboards and `increase()` see the limit before its first
    /// request.
    pub fn register(&self, config: LimitConfig) -> Result<(), LimiterError> {
        config.params()?;
        let mut limits = lock(&self.limits);
        let id = (config.spec.clone(), config.name.clone());
        if limits.contains_key(&id) {
            return Err(LimiterError::Duplicate { spec: id.0, limit: id.1 });
        }
        self.metrics.rate_limits.declare(&config.spec, &config.name);
        #[cfg(feature = "redis")]
        if matches!(*lock(&self.backend), Backend::Redis(_)) {
            super::redis::declare_errors(&self.metrics, &config);
        }
        limits.insert(id, Registered { config, built: None });
        Ok(())
    }

    /// The limiter of `spec`'s limit `name` for keys of type `K`, built on first use.
    pub fn get<K>(&self, spec: &str, name: &str) -> Result<Arc<RateLimiter<K>>, LimiterError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        let mut limits = lock(&self.limits);
        let id = (spec.to_string(), name.to_string());
        let Some(entry) = limits.get_mut(&id) else {
            return Err(LimiterError::Unknown { spec: id.0, limit: id.1 });
        };
        let mismatch = |b: &Built| LimiterError::KeyType {
            spec: spec.to_string(),
            limit: name.to_string(),
            registered: b.key_type_name,
            requested: type_name::<K>(),
        };
        match &entry.built {
            Some(b) if b.key_type != TypeId::of::<K>() => Err(mismatch(b)),
            Some(b) => Arc::clone(&b.limiter).downcast::<RateLimiter<K>>().map_err(|_| mismatch(b)),
            None => {
                let config = entry.config.clone();
                let clock = Arc::clone(&self.clock);
                let limiter = Arc::new(match &*lock(&self.backend) {
                    Backend::InProcess => RateLimiter::<K>::new(config, &self.metrics, clock)?,
                    #[cfg(feature = "redis")]
                    Backend::Redis(backend) => RateLimiter::<K>::on_redis(config, &self.metrics, clock, Arc::clone(backend))?,
                    Backend::Unusable(e) => return Err(e.clone()),
                });
                entry.built = Some(Built {
                    key_type: TypeId::of::<K>(),
                    key_type_name: type_name::<K>(),
                    limiter: Arc::clone(&limiter) as Arc<dyn Any + Send + Sync>,
                });
                Ok(limiter)
            }
        }
    }
}

/// The backend for `url`.
#[cfg(feature = "redis")]
fn redis_backend(url: &str) -> Result<Backend, LimiterError> {
    let backend = super::redis::RedisBackend::open(url).map_err(|reason| LimiterError::Backend { reason })?;
    Ok(Backend::Redis(Arc::new(backend)))
}

/// Without the feature, there is no Redis to put the limits on.
#[cfg(not(feature = "redis"))]
fn redis_backend(_url: &str) -> Result<Backend, LimiterError> {
    Err(LimiterError::Backend { reason: "this build of pip-runtime has no Redis backend (enable the feature `redis`)".to_string() })
}
