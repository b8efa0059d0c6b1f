//! A ready `/metrics` endpoint for axum services (feature `axum`).
//!
//! ```ignore
//! let app = axum::Router::new()
//!     .route("/metrics", axum::routing::get(pip_runtime::http::metrics))
//!     .route("/payments", axum::routing::post(submit));
//! ```
//!
//! It answers each scraper in the format it reads ([`crate::metrics::Format::negotiate`]):
//! OpenMetrics to Prometheus, the Prometheus text format 0.0.4 to `curl` and `promtool check
//! metrics`, with the matching `Content-Type`.

use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::global::runtime;

/// The process runtime's metrics (every spec's checks, ledgers, limits and stores, and what the
/// service registered with [`Runtime::with_registry`](crate::global::Runtime::with_registry)),
/// in the format the request's `Accept` header asks for.
pub async fn metrics(headers: HeaderMap) -> Response {
    let accept: Vec<&str> = headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    let accept = accept.join(",");
    let exposition = runtime().exposition(Some(accept.as_str()).filter(|a| !a.is_empty()));
    ([(CONTENT_TYPE, HeaderValue::from_static(exposition.content_type))], exposition.body).into_response()
}
