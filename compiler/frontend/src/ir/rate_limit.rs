//! `rate_limit`: an exact sliding-window limit and its rejected-ratio alert.

use serde::Serialize;

use super::{Comparator, Severity};
use crate::span::SourceRef;
use crate::units::Duration;

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
    /// `severity = P2` (required): the default severity of the rejected-ratio alert.
    pub severity: Severity,
    /// The `alert when rejected_ratio ...` line, if any (at most one).
    pub alert: Option<RatioAlert>,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}
