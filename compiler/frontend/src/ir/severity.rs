//! Severities P0..P3 and what each means for the people on call (the spec's overrides applied).

use serde::Serialize;

use crate::units::Duration;

/// How urgent an alert is, written `P0`..`P3` in a spec; ordered most severe first.
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
    /// `respond = 15m`: within this time, longer than zero.
    Within(Duration),
    /// `respond = next_business_day`.
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
    /// The severity this policy is for; a spec holds one policy per [`Severity::ALL`] entry.
    pub severity: Severity,
    /// Value of the `severity` label on alerts (`critical`, `high`, ...).
    pub level: String,
    /// `respond = ...`: the expected response time, in the alerts' `respond` annotation.
    pub respond: Respond,
    /// `page = true`: whether an alert of this severity pages someone (only P0 by default).
    pub page: bool,
    /// Whether the spec has a `severity Px { ... }` block for it (even one that changes nothing).
    pub overridden: bool,
    /// `receiver = "..."` in its `severity Px { ... }` block: the Alertmanager receiver its
    /// alerts go to, a valid [`is_valid_receiver`] name; `None` routes them by [`Routing`].
    pub receiver: Option<String>,
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
        SeverityPolicy { severity, level: level.into(), respond, page, overridden: false, receiver: None }
    }
}

/// Where a spec's alerts go in Alertmanager: receivers named in the spec (their integrations
/// live in the ops repo's `alertmanager.yml`, which must define a receiver of each name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Routing {
    /// `receiver = "..."` in the spec block, else the spec's `owner`: where alerts of a
    /// severity that does not page and names no receiver of its own go.
    pub receiver: String,
    /// `page_receiver = "..."` in the spec block, else `<receiver>-page`: where alerts of a
    /// paging severity (`page = true`) that names no receiver of its own go.
    pub page_receiver: String,
}

/// The suffix of the default [`Routing::page_receiver`]: `team-payments` pages `team-payments-page`.
pub const PAGE_RECEIVER_SUFFIX: &str = "-page";

impl Routing {
    /// The receiver of a severity's alerts: its own `receiver`, else the page receiver when it
    /// pages, else the spec's receiver.
    pub fn receiver_of<'a>(&'a self, policy: &'a SeverityPolicy) -> &'a str {
        match &policy.receiver {
            Some(r) => r,
            None if policy.page => &self.page_receiver,
            None => &self.receiver,
        }
    }
}

/// Whether a receiver name is one pip writes: it starts with an ASCII letter or digit and holds
/// only ASCII letters, digits and `. _ - : / @`, at most [`MAX_RECEIVER_LEN`] bytes.
/// Alertmanager itself takes any non-empty name; this narrower set is safe unquoted in YAML,
/// in `amtool` arguments and in the ops repo's scripts, and covers the usual names
/// (`team-payments`, `payments.pager`, `pagerduty:payments`).
pub fn is_valid_receiver(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_RECEIVER_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@'))
}

/// The longest receiver name [`is_valid_receiver`] accepts.
pub const MAX_RECEIVER_LEN: usize = 128;
