//! The checked IR: what a spec means, with every reference resolved and every unit
//! checked. Emitters read only this.
//!
//! Equality ignores source positions ([`SourceRef`] always compares equal) and provenance
//! (file names, hashes), so a spec and its `pipc fmt` output have equal IRs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::span::SourceRef;
use crate::units::Duration;

mod bundle;
mod dashboard;
mod invariant;
mod kind;
mod ledger;
mod rate_limit;
mod severity;
mod slo;
mod threshold;
mod versioned;

pub use bundle::*;
pub use dashboard::*;
pub use invariant::*;
pub use kind::ConstructKind;
pub use ledger::*;
pub use rate_limit::*;
pub use severity::*;
pub use slo::*;
pub use threshold::*;
pub use versioned::*;

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
/// (the promtool emitter's `largest_ratio_sample_for` computes them).
// INVARIANT: every `RatioAlert::ratio` of a checked spec has at most this many
// [`decimal_places`].
pub const MAX_RATIO_DECIMAL_PLACES: usize = 8;

/// Digits after the decimal point of `x` written in its shortest exact form (`0.05` → 2): how
/// PromQL and the generated files write it.
pub fn decimal_places(x: f64) -> usize {
    let text = x.to_string();
    text.split_once('.').map_or(0, |(_, frac)| frac.len())
}

/// A checked spec: one `spec <name>` and its files, free of errors. Every emitter reads this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spec {
    /// The spec's id (`spec payments ...`).
    pub name: String,
    /// `version "1.4.0"` on the spec's defining line, never blank.
    pub version: String,
    /// `owner = "..."` (required): the team that answers the spec's alerts, never blank.
    pub owner: String,
    /// `runbook = "https://..."`: base URL of the runbook; a construct without its own
    /// `runbook` gets this with `#<name>` appended.
    pub runbook: String,
    /// Where the spec's name is written on its defining `spec` line.
    pub source: SourceRef,
    /// Files and hashes the spec was compiled from.
    pub provenance: Provenance,
    /// Effective policy of each severity, P0..P3 in order, with the spec's `severity Px { ... }`
    /// overrides applied.
    pub severities: Vec<SeverityPolicy>,
    /// The Alertmanager receivers of its alerts that no `severity Px { receiver = ... }` names
    /// (`receiver`, `page_receiver` in the spec block, or their defaults from `owner`).
    pub routing: Routing,
    /// `labels { team = "..." }`: extra labels put on every alert; valid Prometheus label
    /// names, none of them reserved by pip.
    pub labels: BTreeMap<String, String>,
    /// The `ledger` constructs, in the order written, file by file (the loader sorts a spec's
    /// files by path).
    pub ledgers: Vec<Ledger>,
    /// The `invariant` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub invariants: Vec<Invariant>,
    /// The `rate_limit` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub rate_limits: Vec<RateLimit>,
    /// The `threshold` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub thresholds: Vec<Threshold>,
    /// The `slo` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub slos: Vec<Slo>,
    /// The `versioned` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub versioned: Vec<Versioned>,
    /// The `bundle` constructs, in the spec's order (as [`Spec::ledgers`]).
    pub bundles: Vec<Bundle>,
    /// The `dashboard` constructs, in the spec's order; none means the emitters make a default
    /// one named after the spec.
    pub dashboards: Vec<Dashboard>,
}

impl Spec {
    /// The effective policy of a severity.
    pub fn severity(&self, s: Severity) -> SeverityPolicy {
        self.severities.iter().find(|p| p.severity == s).cloned().unwrap_or_else(|| SeverityPolicy::default_for(s))
    }

    /// Looks up a construct of any kind by name.
    pub fn construct(&self, name: &str) -> Option<ConstructRef> {
        let kind = ConstructKind::ALL.into_iter().find(|k| self.names(*k).contains(&name))?;
        Some(ConstructRef { kind, name: name.to_string() })
    }

    /// The names of the constructs of one kind, in the spec's order.
    pub fn names(&self, kind: ConstructKind) -> Vec<&str> {
        fn of<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&str> {
            items.iter().map(name).collect()
        }
        match kind {
            ConstructKind::Ledger => of(&self.ledgers, |c| &c.name),
            ConstructKind::Invariant => of(&self.invariants, |c| &c.name),
            ConstructKind::RateLimit => of(&self.rate_limits, |c| &c.name),
            ConstructKind::Threshold => of(&self.thresholds, |c| &c.name),
            ConstructKind::Slo => of(&self.slos, |c| &c.name),
            ConstructKind::Versioned => of(&self.versioned, |c| &c.name),
            ConstructKind::Bundle => of(&self.bundles, |c| &c.name),
            ConstructKind::Dashboard => of(&self.dashboards, |c| &c.name),
        }
    }
}

/// Where a spec came from. Never part of equality.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Provenance {
    /// The spec's files, sorted by name.
    pub files: Vec<SourceFileHash>,
    /// SHA-256 over the spec's files (see [`crate::spec_hash`]), lowercase hex.
    pub sha256: String,
    /// The compiler's [`VERSION`](crate::VERSION) that compiled it.
    pub compiler: String,
}

impl PartialEq for Provenance {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One file of a spec and its hash, recorded in [`Provenance`].
#[derive(Debug, Clone, Serialize)]
pub struct SourceFileHash {
    /// Its path below the spec root, `/`-separated (independent of the working directory).
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// A resolved reference to a construct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConstructRef {
    /// The kind of the construct the name resolved to, one the referring setting accepts.
    pub kind: ConstructKind,
    /// The construct's name, defined in the same spec.
    pub name: String,
}

/// The ordering of an alert condition (`warn when > 0.01`); `==` and `!=` cannot bound a value.
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
    /// The operator as PromQL (and a spec) writes it.
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
