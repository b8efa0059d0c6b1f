//! `slo`: a service level objective — an SLI (an event ratio, or the share of requests faster
//! than a histogram bucket), an objective over a period, and the multi-window multi-burn-rate
//! alert tiers that spend its error budget.

use serde::Serialize;

use super::{LabelMatcher, Severity};
use crate::span::SourceRef;
use crate::units::Duration;

/// The shortest `period`: 1 day (the default tiers' slowest long window is 3 days, scaled to the
/// period; a shorter period leaves no room for a ticket tier).
pub const MIN_PERIOD: Duration = Duration::from_millis(86_400_000);
/// The longest `period`: 90 days (Prometheus' range selectors over longer periods are rarely
/// retained and slow to evaluate).
pub const MAX_PERIOD: Duration = Duration::from_millis(90 * 86_400_000);

/// The most decimal places of an `objective` as a ratio (`99.9999%` is `0.999999`): a tighter
/// objective leaves a budget below one bad event in a million, which no alert window measures.
// INVARIANT: every `Slo::objective` of a checked spec has at most this many
// [`decimal_places`](super::decimal_places), so `1 − objective` is exact in millionths.
pub const MAX_OBJECTIVE_DECIMAL_PLACES: usize = 6;

/// A counter selector of an SLI: the metric and its label matchers, as written between the
/// backticks (`http_requests_total{job="payments",code=~"5.."}`). The emitters wrap it in
/// `sum by (<group_by>) (rate(<selector>[<window>]))`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterSelector {
    /// The metric name, a valid Prometheus metric name.
    pub metric: String,
    /// The matchers inside the braces, in the order written (no `__name__` matcher; for a
    /// latency SLI no `le` matcher). Empty in a build without the `promql` feature (the
    /// proc-macro's, which never reads SLOs).
    pub matchers: Vec<LabelMatcher>,
    /// The selector as the emitters write it: `metric{name="value",...}` with label values
    /// escaped as PromQL strings, matchers in the order written; `metric` alone when there are
    /// none. (Without the `promql` feature: the selector as written, trimmed.)
    pub text: String,
}

/// Which events an events SLI counts beside the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventsCounted {
    /// `good = ...`: the error ratio is `1 - good/total`.
    Good,
    /// `bad = ...`: the error ratio is `bad/total`.
    Bad,
}

/// What an SLO measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Sli {
    /// `total = ...` with `good = ...` or `bad = ...`: two counters of events.
    Events {
        /// Whether `counted` counts good or bad events.
        counted: EventsCounted,
        /// The good or bad events' counter.
        events: CounterSelector,
        /// Every event's counter.
        total: CounterSelector,
    },
    /// `latency = ...` with `le = ...` and `buckets = ...`: a request is good when it took at
    /// most `le` seconds, read from a classic Prometheus histogram.
    Latency {
        /// The histogram's base name and matchers, as written: `<metric>_bucket{...,le="..."}`
        /// counts the good requests and `<metric>_count{...}` all of them.
        histogram: CounterSelector,
        /// `le = 300ms`: the latency bound in seconds; one of `buckets` exactly.
        le: f64,
        /// `buckets = [50ms, 100ms, 300ms, 1s]`: the histogram's declared upper bounds in seconds,
        /// ascending, as the service's instrumentation declares them; `le` must be one of them,
        /// so that a bound between two buckets is an error here, not a query that matches no
        /// series.
        buckets: Vec<f64>,
    },
}

/// One burn-rate alert tier: fires when the error budget burns `factor` times faster than the
/// rate that spends it exactly over the period, over both the long and the short window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnTier {
    /// The burn rate, > 0: the error ratio over each window must exceed `factor × (1 − objective)`.
    pub factor: f64,
    /// The long window: the budget share this tier is about (`factor × long / period` of it).
    pub long: Duration,
    /// The short window, shorter than `long` (by default `long / 12`): the alert stops soon
    /// after the burn does.
    pub short: Duration,
    /// The severity of this tier's alert.
    pub severity: Severity,
    /// Where the `burn` line is written; for a default tier, the `slo`'s name.
    pub source: SourceRef,
}

/// A `slo <name> { ... }` construct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    /// The construct's name, unique among the spec's constructs.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard row and the alerts' descriptions.
    pub doc: Option<String>,
    /// `objective = 99.9%`: the share of good events promised over the period, in (0, 1).
    pub objective: f64,
    /// `period = 30d`: the compliance period, from [`MIN_PERIOD`] to [`MAX_PERIOD`].
    pub period: Duration,
    /// What is measured.
    pub sli: Sli,
    /// `by = [tenant, route]` (or `by = tenant`): one SLO per value combination of these
    /// labels (each a valid Prometheus label name, none reserved by pip, none twice); empty for
    /// one SLO over everything.
    pub group_by: Vec<String>,
    /// The alert tiers, fastest burn first: the `burn` lines sorted by factor (equal factors in
    /// the order written; a line without `severity` has the `slo`'s), or the default four
    /// scaled to the period (2 % of the budget in 1h/5m and 5 % in 6h/30m at the `slo`'s
    /// severity; 10 % in 1d/2h and 10 % in 3d/6h at the ticket severity), those whose long
    /// window is at most the period. Every factor is reachable: `factor × (1 − objective) < 1`.
    pub tiers: Vec<BurnTier>,
    /// Whether `tiers` are the defaults (no `burn` line was written).
    pub default_tiers: bool,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}

impl Slo {
    /// The error budget: the share of events allowed to be bad, `1 − objective`.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective
    }

    /// Every window a recording rule computes the error ratio over: each tier's long and short
    /// window, then the period; sorted, deduplicated.
    pub fn windows(&self) -> Vec<Duration> {
        let mut w: Vec<Duration> = self.tiers.iter().flat_map(|t| [t.long, t.short]).chain([self.period]).collect();
        w.sort();
        w.dedup();
        w
    }
}
