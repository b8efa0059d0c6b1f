//! The HTTP API, its errors, and the HTTP metrics the spec's thresholds read
//! (`http_requests_total{code}`, `http_request_duration_seconds{route}`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pip_runtime::invariant::Clause;
use pip_runtime::ledger::{Ledger, LedgerError};
use pip_runtime::runtime;
use pip_runtime::versioned::StoreError;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bank::{Account, BankError, Books, Refund};
use crate::config::{ConfigError, ConfigStore, FeeSchedule};
use crate::evidence;

/// Labels of `http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    code: String,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type Durations = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0])
}

/// The HTTP metrics, registered next to pip's in the runtime's registry.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
}

impl HttpMetrics {
    /// Creates and registers them (once per process).
    pub fn register() -> HttpMetrics {
        let m = HttpMetrics { requests: Family::default(), durations: Durations::new_with_constructor(duration_histogram) };
        runtime().with_registry(|r| {
            r.register("http_requests", "HTTP requests served, by route and status code", m.requests.clone());
            r.register("http_request_duration_seconds", "Time to serve an HTTP request, by route", m.durations.clone());
        });
        m
    }
}

/// Everything a handler reaches.
#[derive(Debug)]
pub struct App {
    /// Accounts and charges in memory, behind one lock that a handler holds from its check to its ledger record.
    pub books: Mutex<Books>,
    /// The fee schedule in the spec's versioned store `config_store`, saved on every change.
    pub config: Mutex<ConfigStore>,
    /// The spec's ledger `audit`: money handlers append their record of each operation; checks and the store append theirs.
    pub ledger: Ledger,
}

impl App {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn config(&self) -> MutexGuard<'_, ConfigStore> {
        self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends the service's own record of an operation.
    fn record(&self, subsystem: &str, actor: &str, action: &str, resource: &str, payload: Value) -> Result<u64, ApiError> {
        let receipt = self.ledger.append(&evidence::event(subsystem, actor, action, resource, payload)).map_err(ApiError::Evidence)?;
        Ok(receipt.seq)
    }
}

/// The service's HTTP API, `/metrics` and `/healthz`, every route counted and timed by [`HttpMetrics`].
pub fn router(app: Arc<App>, metrics: HttpMetrics) -> Router {
    Router::new()
        .route("/accounts", post(open_account))
        .route("/payments", post(pay))
        .route("/transfers", post(transfer))
        .route("/refunds", post(refund))
        .route("/settlements", post(settle))
        .route("/config", get(get_config).put(put_config))
        .route("/config/rollback", post(rollback))
        .route("/metrics", get(pip_runtime::http::metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route_layer(middleware::from_fn_with_state(metrics, track))
        .with_state(app)
}

/// Counts and times every request by its route pattern.
async fn track(State(m): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    let code = response.status().as_u16().to_string();
    m.durations.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(start.elapsed().as_secs_f64());
    m.requests.get_or_create(&RequestLabels { method, route, code }).inc();
    response
}

/// How a refused request is answered: each variant maps to a status code and a JSON `error`.
#[derive(Debug)]
pub enum ApiError {
    /// The books refused: a violation (422, or 429 with `Retry-After` for the rate limit), a missing or existing id, a wrong tenant.
    Bank(BankError),
    /// The configuration store refused.
    Config(ConfigError),
    /// The ledger could not take the record.
    Evidence(LedgerError),
    /// The request is well formed but names something the service cannot do (400), such as a card network without a fee.
    BadRequest(String),
}

impl From<BankError> for ApiError {
    fn from(e: BankError) -> Self {
        ApiError::Bank(e)
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::Config(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let (status, message) = match self {
            ApiError::Bank(BankError::Violation(v)) if v.clause == Clause::RateLimit => {
                retry_after = v.retry_after;
                (StatusCode::TOO_MANY_REQUESTS, v.to_string())
            }
            ApiError::Bank(BankError::Violation(v)) => (StatusCode::UNPROCESSABLE_ENTITY, v.to_string()),
            ApiError::Bank(e @ BankError::NotFound(_)) => (StatusCode::NOT_FOUND, e.to_string()),
            ApiError::Bank(e @ BankError::Exists(_)) => (StatusCode::CONFLICT, e.to_string()),
            ApiError::Bank(e @ BankError::WrongTenant { .. }) => (StatusCode::FORBIDDEN, e.to_string()),
            ApiError::Config(ConfigError::Store(e @ StoreError::RollbackMismatch(_))) => (StatusCode::CONFLICT, e.to_string()),
            ApiError::Config(ConfigError::Store(e @ StoreError::VersionUnavailable { .. })) => (StatusCode::BAD_REQUEST, e.to_string()),
            ApiError::Config(e @ ConfigError::Store(_)) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            ApiError::Config(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            ApiError::Evidence(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("the operation could not be recorded: {e}")),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if let Some(after) = retry_after {
            // Whole seconds, rounded up (a zero would invite an immediate retry).
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

type Api = Result<(StatusCode, Json<Value>), ApiError>;

async fn open_account(State(app): State<Arc<App>>, Json(account): Json<Account>) -> Api {
    let mut books = app.books();
    books.open(account.clone())?;
    let seq = app.record("billing", &account.tenant, "open_account", &account.id, json!({ "balance": account.balance }))?;
    Ok((StatusCode::CREATED, Json(json!({ "account": account, "evidence_seq": seq }))))
}

#[derive(Debug, Deserialize)]
struct PaymentRequest {
    tenant: String,
    account: String,
    amount: i64,
    #[serde(default = "default_network")]
    network: String,
}

fn default_network() -> String {
    "visa".into()
}

async fn pay(State(app): State<Arc<App>>, Json(p): Json<PaymentRequest>) -> Api {
    let fee_bps = app.config().get().fee_bps.get(&p.network).copied();
    let Some(fee_bps) = fee_bps else {
        return Err(ApiError::BadRequest(format!("no fee is configured for card network `{}`", p.network)));
    };
    let fee = i128::from(p.amount) * i128::from(fee_bps) / 10_000;
    let mut books = app.books();
    let charge = books.charge(&p.tenant, &p.account, p.amount)?;
    let balance = books.accounts.get(&p.account).map_or(0, |a| a.balance);
    let seq = app.record(
        "billing",
        &p.tenant,
        "payment",
        &p.account,
        json!({ "charge": charge.id, "amount": p.amount, "network": p.network, "fee": fee.to_string() }),
    )?;
    Ok((StatusCode::CREATED, Json(json!({ "charge": charge, "balance": balance, "evidence_seq": seq }))))
}

#[derive(Debug, Deserialize)]
struct TransferRequest {
    tenant: String,
    from: String,
    to: String,
    amount: i64,
}

async fn transfer(State(app): State<Arc<App>>, Json(t): Json<TransferRequest>) -> Api {
    let mut books = app.books();
    let (moved, from, to) = books.transfer(&t.tenant, &t.from, &t.to, t.amount)?;
    let seq = app.record("billing", &t.tenant, "transfer", &format!("{}->{}", t.from, t.to), json!({ "amount": t.amount }))?;
    Ok((StatusCode::OK, Json(json!({ "transfer": moved, "from": from, "to": to, "evidence_seq": seq }))))
}

#[derive(Debug, Deserialize)]
struct RefundRequest {
    tenant: String,
    charge: u64,
    amount: i64,
}

async fn refund(State(app): State<Arc<App>>, Json(r): Json<RefundRequest>) -> Api {
    let mut books = app.books();
    let (charge, account) = books.refund(&r.tenant, &Refund { charge: r.charge, amount: r.amount })?;
    let seq = app.record("billing", &r.tenant, "refund", &account.id, json!({ "charge": charge.id, "amount": r.amount }))?;
    Ok((StatusCode::OK, Json(json!({ "charge": charge, "balance": account.balance, "evidence_seq": seq }))))
}

#[derive(Debug, Deserialize)]
struct SettleRequest {
    tenant: String,
}

async fn settle(State(app): State<Arc<App>>, Json(s): Json<SettleRequest>) -> Api {
    let books = app.books();
    let (count, total) = books
        .charges
        .values()
        .filter(|c| c.tenant == s.tenant)
        .fold((0u64, 0i128), |(n, t), c| (n + 1, t + i128::from(c.amount - c.refunded)));
    let seq = app.record("settlement", &s.tenant, "settle", &s.tenant, json!({ "charges": count, "net": total.to_string() }))?;
    Ok((StatusCode::OK, Json(json!({ "charges": count, "net": total.to_string(), "evidence_seq": seq }))))
}

fn config_view(config: &ConfigStore) -> Value {
    let (version, digest) = config.version();
    json!({ "version": version, "sha256": digest.to_string(), "schedule": config.get() })
}

async fn get_config(State(app): State<Arc<App>>) -> Api {
    Ok((StatusCode::OK, Json(config_view(&app.config()))))
}

async fn put_config(State(app): State<Arc<App>>, Json(schedule): Json<FeeSchedule>) -> Api {
    let mut config = app.config();
    config.upgrade(schedule)?;
    Ok((StatusCode::OK, Json(config_view(&config))))
}

#[derive(Debug, Deserialize)]
struct RollbackRequest {
    version: u64,
}

async fn rollback(State(app): State<Arc<App>>, Json(r): Json<RollbackRequest>) -> Api {
    let mut config = app.config();
    config.rollback_to(r.version)?;
    Ok((StatusCode::OK, Json(config_view(&config))))
}
