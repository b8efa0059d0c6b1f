//! The checked IR: what a spec means, with every reference resolved and every unit
//! checked. Emitters read only this.
//!
//! Equality ignores source positions ([`SourceRef`] always compares equal) and provenance
//! (file names, hashes), so a spec and its `pipc fmt` output have equal IRs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::span::SourceRef;
use crate::units::Duration;

/// The IR format version written into `generated/ir/*.json`.
pub const IR_VERSION: u32 = 1;

/// The longest `for` of an alert condition (a day). The generated promtool tests evaluate the
/// rules every 15s through an alert's whole pending period: a day is 5,760 evaluations of
/// every rule per test, which promtool runs in seconds (a week takes it minutes).
// INVARIANT: every `for_` of a checked spec is at most this (the checker refuses longer ones);
// the promtool emitter's sizes and its exact ratio arithmetic rely on it.
pub const MAX_FOR: Duration = Duration::from_millis(86_400_000);

/// The most decimal places of a rate limit's `rejected_ratio` threshold. The promtool tests
/// count requests in units of `10^-(places + 3)`; with [`MAX_FOR`] their counters stay below
/// 2^53, where PromQL's f64 arithmetic is exact
/// ([`crate::emit::promtool::largest_ratio_sample_for`] computes them).
// INVARIANT: every `RatioAlert::ratio` of a checked spec has at most this many
// [`decimal_places`].
pub const MAX_RATIO_DECIMAL_PLACES: usize = 8;

/// Digits after the decimal point of `x` written in its shortest exact form (`0.05` → 2): how
/// PromQL and the generated files write it.
pub fn decimal_places(x: f64) -> usize {
    let text = x.to_string();
    text.split_once('.').map_or(0, |(_, frac)| frac.len())
}

/// A checked spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    /// The spec's id (`spec payments ...`).
    pub name: String,
    /// `version "1.4.0"`.
    pub version: String,
    /// `owner = "..."`.
    pub owner: String,
    /// `runbook = "..."`: base URL of the runbook.
    pub runbook: String,
    /// Where the spec header is.
    pub source: SourceRef,
    /// Files and hashes the spec was compiled from.
    pub provenance: Provenance,
    /// Effective policy of each severity P0..P3, with the spec's overrides applied.
    pub severities: Vec<SeverityPolicy>,
    /// Extra labels put on every alert.
    pub labels: BTreeMap<String, String>,
    /// `ledger` constructs.
    pub ledgers: Vec<Ledger>,
    /// `invariant` constructs.
    pub invariants: Vec<Invariant>,
    /// `rate_limit` constructs.
    pub rate_limits: Vec<RateLimit>,
    /// `threshold` constructs.
    pub thresholds: Vec<Threshold>,
    /// `versioned` constructs.
    pub versioned: Vec<Versioned>,
    /// `bundle` constructs.
    pub bundles: Vec<Bundle>,
    /// `dashboard` constructs.
    pub dashboards: Vec<Dashboard>,
}

impl Spec {
    /// The effective policy of a severity.
    pub fn severity(&self, s: Severity) -> SeverityPolicy {
        self.severities.iter().find(|p| p.severity == s).cloned().unwrap_or_else(|| SeverityPolicy::default_for(s))
    }

    /// Looks up a construct of any kind by name.
    pub fn construct(&self, name: &str) -> Option<ConstructRef> {
        let kind = if self.ledgers.iter().any(|c| c.name == name) {
            ConstructKind::Ledger
        } else if self.invariants.iter().any(|c| c.name == name) {
            ConstructKind::Invariant
        } else if self.rate_limits.iter().any(|c| c.name == name) {
            ConstructKind::RateLimit
        } else if self.thresholds.iter().any(|c| c.name == name) {
            ConstructKind::Threshold
        } else if self.versioned.iter().any(|c| c.name == name) {
            ConstructKind::Versioned
        } else if self.bundles.iter().any(|c| c.name == name) {
            ConstructKind::Bundle
        } else if self.dashboards.iter().any(|c| c.name == name) {
            ConstructKind::Dashboard
        } else {
            return None;
        };
        Some(ConstructRef { kind, name: name.to_string() })
    }
}

/// Where a spec came from. Never part of equality.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Provenance {
    /// The spec's files, sorted by name.
    pub files: Vec<SourceFileHash>,
    /// SHA-256 over the spec's files (see [`crate::spec_hash`]), lowercase hex.
    pub sha256: String,
    /// `pipc` version that compiled it.
    pub compiler: String,
}

impl PartialEq for Provenance {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One file of a spec.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFileHash {
    /// Its path below the spec root, `/`-separated (independent of the working directory).
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// P0..P3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    /// Critical: page, respond within 15 minutes.
    P0,
    /// High: respond within an hour.
    P1,
    /// Medium: respond within four hours.
    P2,
    /// Low: the next business day.
    P3,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    /// Parses `P0`..`P3`.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// `P0`..`P3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How quickly a severity must be answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Respond {
    /// Within this time.
    Within(Duration),
    /// On the next business day.
    NextBusinessDay,
}

impl std::fmt::Display for Respond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Respond::Within(d) => write!(f, "within {d}"),
            Respond::NextBusinessDay => f.write_str("next business day"),
        }
    }
}

/// What a severity means for the people on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityPolicy {
    /// Which severity.
    pub severity: Severity,
    /// Value of the `severity` label on alerts (`critical`, `high`, ...).
    pub level: String,
    /// Expected response time.
    pub respond: Respond,
    /// Whether an alert pages someone.
    pub page: bool,
    /// Whether the spec overrode the defaults.
    pub overridden: bool,
}

impl SeverityPolicy {
    /// The built-in policy (DESIGN.md): P0 critical/page 15m, P1 high 1h, P2 medium 4h,
    /// P3 low next business day.
    pub fn default_for(severity: Severity) -> Self {
        let (level, respond, page) = match severity {
            Severity::P0 => ("critical", Respond::Within(Duration::from_secs(15 * 60)), true),
            Severity::P1 => ("high", Respond::Within(Duration::from_secs(3600)), false),
            Severity::P2 => ("medium", Respond::Within(Duration::from_secs(4 * 3600)), false),
            Severity::P3 => ("low", Respond::NextBusinessDay, false),
        };
        SeverityPolicy { severity, level: level.into(), respond, page, overridden: false }
    }
}

/// The kinds of construct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstructKind {
    /// `ledger`.
    Ledger,
    /// `invariant`.
    Invariant,
    /// `rate_limit`.
    RateLimit,
    /// `threshold`.
    Threshold,
    /// `versioned`.
    Versioned,
    /// `bundle`.
    Bundle,
    /// `dashboard`.
    Dashboard,
}

impl ConstructKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ConstructKind::Ledger => "ledger",
            ConstructKind::Invariant => "invariant",
            ConstructKind::RateLimit => "rate_limit",
            ConstructKind::Threshold => "threshold",
            ConstructKind::Versioned => "versioned",
            ConstructKind::Bundle => "bundle",
            ConstructKind::Dashboard => "dashboard",
        }
    }
}

/// A resolved reference to a construct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstructRef {
    /// Its kind.
    pub kind: ConstructKind,
    /// Its name.
    pub name: String,
}

/// Where a ledger's MAC key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// An environment variable.
    Env(String),
    /// A file path.
    File(String),
}

/// When checkpoints are written: whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// After this many entries.
    pub every_entries: Option<u64>,
    /// After this much time.
    pub every: Option<Duration>,
}

/// When appends are made durable (fsync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    /// After every append.
    EveryAppend,
    /// After this many entries or this much time, whichever comes first (group commit).
    Group {
        /// Entry count.
        entries: Option<u64>,
        /// Interval.
        interval: Option<Duration>,
    },
}

/// `ledger`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    /// Name.
    pub name: String,
    /// Where it is declared.
    pub source: SourceRef,
    /// `doc`.
    pub doc: Option<String>,
    /// MAC key.
    pub key: KeySource,
    /// Checkpoint policy.
    pub checkpoint: Checkpoint,
    /// Durability policy.
    pub sync: Sync,
    /// Severity of integrity alerts (verification failure, truncation).
    pub severity: Severity,
    /// Subsystems expected to write evidence.
    pub expects: Vec<Expect>,
    /// Runbook URL for this construct's alerts.
    pub runbook: String,
    /// `clock_tolerance`: how far a writer's clock may jump before the ledger records it.
    pub clock_tolerance: Duration,
}

/// `expect subsystem "billing" every 15m severity P1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// Subsystem name.
    pub subsystem: String,
    /// Longest allowed silence.
    pub every: Duration,
    /// Severity of the gap alert.
    pub severity: Severity,
    /// Where.
    pub source: SourceRef,
}

/// What a violated invariant does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnViolation {
    /// Refuse: return an error or panic.
    Deny,
    /// Record the violation and continue.
    Record,
}

/// What a violation's evidence keeps of the values its check read (`evidence_values`).
///
/// The default is [`EvidenceValues::Omit`]: a ledger can never be edited, so a value written
/// there stays for good, and a service cannot know that a value an invariant reads is not
/// personal data. A keyed hash is still personal data wherever the key is (it is
/// pseudonymous: whoever holds the ledger key can test guesses), so `hash` is a choice a
/// spec makes knowingly, like `debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceValues {
    /// The values' `Debug` text, as the check saw them (for values that are not personal).
    Debug,
    /// HMAC-SHA256 of each value's `Debug` text under a key derived from the ledger's key:
    /// equal values give equal hashes within a ledger, and nobody without the key can test
    /// a guess.
    Hash,
    /// Only the names of the values read.
    #[default]
    Omit,
}

impl EvidenceValues {
    /// Every mode, as written in a spec.
    pub const ALL: [EvidenceValues; 3] = [EvidenceValues::Omit, EvidenceValues::Hash, EvidenceValues::Debug];

    /// As written in a spec (and in the runtime's evidence).
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceValues::Debug => "debug",
            EvidenceValues::Hash => "hash",
            EvidenceValues::Omit => "omit",
        }
    }
}

/// A Rust boolean expression checked at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The expression as written.
    pub expr: String,
    /// Names the expression reads (free identifiers such as arguments and `result`).
    pub reads: Vec<String>,
    /// Where.
    pub source: SourceRef,
}

/// `invariant`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invariant {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// `doc`.
    pub doc: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// Preconditions.
    pub requires: Vec<Check>,
    /// Postconditions.
    pub ensures: Vec<Check>,
    /// Policy.
    pub on_violation: OnViolation,
    /// Ledger that receives violation events.
    pub evidence: Option<String>,
    /// What the violation events keep of the values the checks read: the invariant's
    /// `evidence_values`, else the spec's, else [`EvidenceValues::Omit`].
    pub evidence_values: EvidenceValues,
    /// Runbook URL.
    pub runbook: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparator {
    /// `>`.
    #[serde(rename = ">")]
    Gt,
    /// `>=`.
    #[serde(rename = ">=")]
    Ge,
    /// `<`.
    #[serde(rename = "<")]
    Lt,
    /// `<=`.
    #[serde(rename = "<=")]
    Le,
}

impl Comparator {
    /// The PromQL operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
        }
    }

    /// Whether larger values are worse.
    pub fn is_upper_bound(self) -> bool {
        matches!(self, Comparator::Gt | Comparator::Ge)
    }

    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparator::Gt => value > threshold,
            Comparator::Ge => value >= threshold,
            Comparator::Lt => value < threshold,
            Comparator::Le => value <= threshold,
        }
    }
}

/// An alert condition on a ratio (rate limits).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioAlert {
    /// Comparison.
    pub op: Comparator,
    /// Threshold, in (0, 1), with at most [`MAX_RATIO_DECIMAL_PLACES`] decimal places.
    pub ratio: f64,
    /// How long it must hold, at most [`MAX_FOR`].
    pub for_: Duration,
    /// Severity.
    pub severity: Severity,
    /// Where.
    pub source: SourceRef,
}

/// `rate_limit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLimit {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// `doc`.
    pub doc: Option<String>,
    /// What requests are keyed by (documentation; the key value is given at the call site).
    pub key: String,
    /// Requests admitted per window.
    pub limit: u64,
    /// Window length.
    pub window: Duration,
    /// Most keys tracked at once.
    pub max_keys: u64,
    /// Severity.
    pub severity: Severity,
    /// The rejected-ratio alert.
    pub alert: Option<RatioAlert>,
    /// Runbook URL.
    pub runbook: String,
}

/// Warn or critical.
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

/// `warn when > 0.01 for 10m severity P2`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdCondition {
    /// Which level.
    pub level: Level,
    /// Comparison.
    pub op: Comparator,
    /// Threshold.
    pub value: f64,
    /// How long it must hold, at most [`MAX_FOR`].
    pub for_: Duration,
    /// Severity.
    pub severity: Severity,
    /// Where.
    pub source: SourceRef,
}

/// `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// `doc`.
    pub doc: Option<String>,
    /// The PromQL expression, as written.
    pub expr: String,
    /// The same expression as the PromQL parser prints it (normalized).
    pub expr_normalized: String,
    /// Metric names the expression reads.
    pub metrics: Vec<String>,
    /// The series selectors of the expression, in order of appearance (deduplicated).
    pub selectors: Vec<Selector>,
    /// Grafana unit.
    pub unit: String,
    /// Recording rule name, when the spec chose one.
    pub record: Option<String>,
    /// Conditions, warn first.
    pub conditions: Vec<ThresholdCondition>,
    /// Runbook URL.
    pub runbook: String,
}

/// A series selector of a PromQL expression: `http_requests_total{job="payments",code=~"5.."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Metric name (absent for selectors that match on labels only).
    pub metric: Option<String>,
    /// Label matchers.
    pub matchers: Vec<LabelMatcher>,
}

/// One label matcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// Value or regular expression.
    pub value: String,
}

/// `versioned`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versioned {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// `doc`.
    pub doc: Option<String>,
    /// Versions kept.
    pub history: u64,
    /// Severity of a rollback mismatch.
    pub severity: Severity,
    /// Ledger that receives rollback events.
    pub evidence: Option<String>,
    /// Runbook URL.
    pub runbook: String,
}

/// One part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    /// The slice of a ledger in the window, with its checkpoints.
    Ledger(String),
    /// The spec sources.
    Specs,
    /// The generated Prometheus rules.
    Rules,
    /// The generated dashboards.
    Dashboards,
    /// The HTML timeline.
    Timeline,
}

/// `bundle`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// Default window.
    pub window: Duration,
    /// Size cap in bytes.
    pub max_size: u64,
    /// What goes in.
    pub include: Vec<Include>,
}

/// A dashboard row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Title.
    pub title: String,
    /// Constructs shown, in order.
    pub members: Vec<ConstructRef>,
    /// Where.
    pub source: SourceRef,
}

/// `dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// Name.
    pub name: String,
    /// Where.
    pub source: SourceRef,
    /// Title.
    pub title: String,
    /// Rows.
    pub rows: Vec<Row>,
}
