//! `threshold`: a PromQL expression with warn and critical conditions.

use serde::Serialize;

use super::{Comparator, Severity};
use crate::span::SourceRef;
use crate::units::Duration;

/// Which of a threshold's two conditions: ordered warn before critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `warn`.
    Warn,
    /// `critical`.
    Critical,
}

impl Level {
    /// `warn` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// A threshold's `warn when > 0.01 for 10m severity P2` (or `critical when ...`) line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdCondition {
    /// `warn` or `critical`: each at most once per threshold.
    pub level: Level,
    /// The bound: warn and critical bound from the same side, and warn fires first.
    pub op: Comparator,
    /// The finite number the expression is compared with.
    pub value: f64,
    /// `for 10m`: how long it must hold (zero when absent), at most [`MAX_FOR`](crate::ir::MAX_FOR).
    pub for_: Duration,
    /// `severity P2`, default P2 for `warn` and P1 for `critical`.
    pub severity: Severity,
    /// Where the condition's line is written.
    pub source: SourceRef,
}

/// A `threshold <name> { ... }` construct: a PromQL expression alerted on at two levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The construct's name, unique among the spec's constructs.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard panel's description.
    pub doc: Option<String>,
    /// The PromQL between the backticks of `expr`, as written, never blank.
    pub expr: String,
    /// The same expression as the PromQL parser prints it (normalized); empty in a build
    /// without the `promql` feature (the proc-macro's), as are the two fields below.
    pub expr_normalized: String,
    /// Metric names the expression's selectors read, sorted and deduplicated.
    pub metrics: Vec<String>,
    /// The series selectors of the expression, in order of appearance (deduplicated).
    pub selectors: Vec<Selector>,
    /// `unit = ...`: the panel's Grafana unit id, default `none` (an unknown id is passed on
    /// with a warning).
    pub unit: String,
    /// `record = "..."`: the recording rule's name, a valid Prometheus metric name; `None`
    /// lets the Prometheus emitter derive one from the spec and construct names.
    pub record: Option<String>,
    /// The `warn when` and `critical when` lines, warn first; at least one.
    pub conditions: Vec<ThresholdCondition>,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}

/// A series selector of a PromQL expression: `http_requests_total{job="payments",code=~"5.."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Metric name (absent for selectors that match on labels only, e.g. `{job="x"}`).
    pub metric: Option<String>,
    /// The label matchers inside the braces, `__name__` matchers left out.
    pub matchers: Vec<LabelMatcher>,
}

/// One `name op "value"` matcher of a [`Selector`], e.g. `code=~"5.."`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelMatcher {
    /// The label's name, e.g. `job`.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// The value for `=`/`!=`, the regular expression for `=~`/`!~`, unquoted.
    pub value: String,
}
