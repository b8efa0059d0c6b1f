//! A process's rate limits by spec and name, so that code far from where the limits were
//! configured (the functions the `#[pip_invariant]` attribute generates, request handlers)
//! can fetch a shared, typed handle.

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

/// The rate limits of a process. Register each limit of the spec once at start-up; then
/// [`Limiters::get`] returns the same `Arc<RateLimiter<K>>` to every caller and thread.
///
/// A limit's key type is fixed by its first `get`; asking for it with another key type is
/// an error, since two limiters under one name would each admit `R` per window.
pub struct Limiters {
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    limits: Mutex<HashMap<(String, String), Registered>>,
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
        Limiters { metrics, clock, limits: Mutex::new(HashMap::new()) }
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
                let limiter = Arc::new(RateLimiter::<K>::new(entry.config.clone(), &self.metrics, Arc::clone(&self.clock))?);
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
