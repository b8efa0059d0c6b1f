//! `rate_limit`: an exact sliding-window limit and its rejected-ratio alert.

use serde::Serialize;

use super::{Comparator, Severity};
use crate::span::SourceRef;
use crate::units::Duration;

/// The default `backend_timeout`: 50 ms, the runtime's `DEFAULT_BACKEND_TIMEOUT`. A decision
/// waits this long for a shared backend before the limit's [`BackendFailure`] policy decides.
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_millis(pip_conventions::rate_limit::DEFAULT_BACKEND_TIMEOUT_MILLIS);

/// The longest `backend_timeout`: 10 s. The timeout is spent on the request's own path, once
/// per decision; a request that waits longer for its rate limit has usually been given up by
/// its caller already, so a longer timeout only holds connections and threads while the
/// backend is down (use `on_backend_failure = deny` to refuse rather than wait).
pub const MAX_BACKEND_TIMEOUT: Duration = Duration::from_millis(pip_conventions::rate_limit::MAX_BACKEND_TIMEOUT_MILLIS);

/// `on_backend_failure`: what a limit on a shared backend (Redis) decides when the backend
/// gives no answer within `backend_timeout` (down, timed out, an error reply). The in-process
/// limiter never fails, so it never applies there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendFailure {
    /// `allow` (the default): fail open, admit the request. The service stays available, and
    /// the limit does not hold while the backend is failing.
    #[default]
    Allow,
    /// `deny`: fail closed, refuse the request. The limit holds, and every request of the
    /// limit is refused while the backend is failing.
    Deny,
}

impl BackendFailure {
    /// Every policy, in the order the checker's messages list them.
    pub const ALL: [BackendFailure; 2] = [BackendFailure::Allow, BackendFailure::Deny];

    /// The policy as the spec writes it: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendFailure::Allow => "allow",
            BackendFailure::Deny => "deny",
        }
    }
}

/// A rate limit's `alert when rejected_ratio > 0.05 for 5m severity P2` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioAlert {
    /// `>` or `>=`: the checker refuses lower bounds, which would alert when all is well.
    pub op: Comparator,
    /// The rejected-ratio threshold, in (0, 1), with at most [`MAX_RATIO_DECIMAL_PLACES`](crate::ir::MAX_RATIO_DECIMAL_PLACES) decimal places.
    pub ratio: f64,
    /// `for 5m`: how long it must hold before the alert fires (zero when absent), at most [`MAX_FOR`](crate::ir::MAX_FOR).
    pub for_: Duration,
    /// `severity P2`, else the rate limit's own `severity`.
    pub severity: Severity,
    /// Where the `alert` line is written.
    pub source: SourceRef,
}

/// A `rate_limit <name> { ... }` construct: an exact sliding-window limit that
/// `#[pip_invariant]` enforces per key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    /// The construct's name: `#[pip_invariant("<spec>.<name>", key = ...)]` refers to it.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard panel's description.
    pub doc: Option<String>,
    /// `key = tenant`: what requests are counted by, for the reader and the dashboard (the
    /// key's value is the call site's `key = <expr>`).
    pub key: String,
    /// The `<n>` of `limit = <n> per <window>`: requests admitted per key and window, from 1 to
    /// [`LIMIT_MAX`](pip_conventions::rate_limit::LIMIT_MAX).
    pub limit: u64,
    /// The `<window>` of `limit = <n> per <window>`, longer than zero.
    pub window: Duration,
    /// `max_keys`: most keys the runtime tracks at once, from 1 to
    /// [`MAX_KEYS_MAX`](pip_conventions::rate_limit::MAX_KEYS_MAX), default
    /// [`DEFAULT_MAX_KEYS`](pip_conventions::rate_limit::DEFAULT_MAX_KEYS).
    pub max_keys: u64,
    /// `on_backend_failure = allow | deny` (default [`BackendFailure::Allow`]): what a decision
    /// on a shared backend is when the backend gives none in time.
    pub on_backend_failure: BackendFailure,
    /// `backend_timeout = 50ms`: how long a decision waits for a shared backend, longer than
    /// zero and at most [`MAX_BACKEND_TIMEOUT`], default [`DEFAULT_BACKEND_TIMEOUT`].
    pub backend_timeout: Duration,
    /// `severity = P2` (required): the default severity of the rejected-ratio alert.
    pub severity: Severity,
    /// The `alert when rejected_ratio ...` line, if any (at most one).
    pub alert: Option<RatioAlert>,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}
