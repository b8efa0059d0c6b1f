//! The process-wide runtime the generated code reports to: one metric registry, the
//! ledgers that receive evidence, and the rate limiters (read on the TSC clock).
//!
//! A service registers its ledgers at startup ([`Runtime::register_ledger`]) and serves
//! [`Runtime::exposition`] on `/metrics` (with feature `axum`, [`crate::http::metrics`] is that
//! handler), or registers pip's metrics into its own registry ([`Runtime::register_into`]). Everything else is created on first use, so an
//! annotated function works (and counts) without any setup.
//!
//! The rate limits decide in process unless `PIP_REDIS_URL` is set when the runtime is first
//! used: then every limit of the process is on that Redis, shared with the service's other
//! replicas ([`Limiters::backend_redis`], feature `redis`; an unusable URL makes each limit's
//! first use fail with the reason instead of enforcing it per process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use prometheus_client::registry::Registry;

use crate::clock::TscClock;
use crate::evidence::EvidenceSink;
use crate::limiter::Limiters;
use crate::metrics::{Exposition, Format, Metrics};

/// What generated code reports to, one per process: the registry, metrics, limiters and ledgers (see [`runtime`]).
pub struct Runtime {
    registry: Mutex<Registry>,
    metrics: Arc<Metrics>,
    limiters: Limiters,
    ledgers: RwLock<HashMap<(String, String), Arc<dyn EvidenceSink>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ledgers: Vec<String> =
            self.ledgers.read().unwrap_or_else(PoisonError::into_inner).keys().map(|(s, l)| format!("{s}.{l}")).collect();
        f.debug_struct("Runtime").field("ledgers", &ledgers).finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide runtime, created on first use.
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        let mut registry = Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry));
        let limiters = Limiters::new(Arc::clone(&metrics), Arc::new(TscClock::new()));
        limiters.backend_from_env();
        Runtime { registry: Mutex::new(registry), metrics, limiters, ledgers: RwLock::new(HashMap::new()) }
    })
}

impl Runtime {
    /// The families every check, ledger, limiter and store of the process counts in, as registered in [`Runtime::render`]'s registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The process's rate limits. A service may register a spec's limits here at start-up
    /// (with its own key cap, say); the functions annotated with a rate limit register theirs
    /// on first use, from the spec, and share one limiter per limit.
    pub fn limiters(&self) -> &Limiters {
        &self.limiters
    }

    /// Runs `f` with the registry, e.g. to register a service's own metrics next to pip's.
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        f(&mut self.registry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every metric of the registry in OpenMetrics text 1.0.0. A `/metrics` endpoint serves
    /// [`Runtime::exposition`] instead, which answers each client in the format it reads.
    pub fn render(&self) -> String {
        crate::metrics::render(&self.registry.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What `/metrics` answers a request whose `Accept` header is `accept`: OpenMetrics to
    /// Prometheus (which asks for it), the Prometheus text format 0.0.4 to every other client
    /// (`curl`, `promtool check metrics`), with the content type to send.
    pub fn exposition(&self, accept: Option<&str>) -> Exposition {
        crate::metrics::exposition::encode(&self.registry.lock().unwrap_or_else(PoisonError::into_inner), Format::negotiate(accept))
    }

    /// Registers pip's metrics (every check, ledger, limiter and store of the process counts
    /// there) in a service's own `prometheus-client` registry, for a service that already
    /// serves one: call once at start-up, and serve that registry as before (with
    /// [`crate::metrics::exposition::encode`] for the right format). Metrics registered here
    /// are then exported twice if the service also serves [`Runtime::exposition`]: serve one
    /// of the two.
    pub fn register_into(&self, registry: &mut Registry) {
        self.metrics.register_into(registry);
    }

    /// Makes `sink` the ledger named `ledger` of spec `spec`: invariants whose spec says
    /// `evidence = <ledger>` append their violations to it. Replaces an earlier registration.
    pub fn register_ledger(&self, spec: &str, ledger: &str, sink: Arc<dyn EvidenceSink>) {
        self.ledgers.write().unwrap_or_else(PoisonError::into_inner).insert((spec.to_string(), ledger.to_string()), sink);
    }

    /// The ledger registered for `spec`/`ledger`.
    pub fn ledger(&self, spec: &str, ledger: &str) -> Option<Arc<dyn EvidenceSink>> {
        self.ledgers.read().unwrap_or_else(PoisonError::into_inner).get(&(spec.to_string(), ledger.to_string())).cloned()
    }
}
