//! `invariant`: checks on a Rust function's arguments and result, and what a violation does.

use serde::Serialize;

use super::Severity;
use crate::span::SourceRef;

/// What a violated invariant does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnViolation {
    /// `on_violation = deny` (the default): the `#[pip_invariant]` function refuses the call,
    /// returning an error or panicking.
    Deny,
    /// `on_violation = record`: the violation is recorded and the call goes on.
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
    /// The Rust expression after `requires`/`ensures`, as written; it parses as a `syn::Expr`.
    pub expr: String,
    /// Free identifiers the expression reads (arguments, `self`, `result`, `ok`), sorted and
    /// deduplicated; `result` and `ok` only in an `ensures`.
    pub reads: Vec<String>,
    /// Where the expression is written.
    pub source: SourceRef,
}

/// An `invariant <name> { ... }` construct: the checks `#[pip_invariant]` runs around a Rust
/// function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invariant {
    /// The construct's name: `#[pip_invariant("<spec>.<name>")]` refers to it.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard panel's description.
    pub doc: Option<String>,
    /// `severity = P1` (required): the severity of the violation alert.
    pub severity: Severity,
    /// The `requires <expr>` lines, in order: checked on entry, before the body runs.
    pub requires: Vec<Check>,
    /// The `ensures <expr>` lines, in order: checked on every return, with `result` bound (a
    /// line reading `ok` only on an `Ok` return, with `ok` bound to the `Ok` value).
    pub ensures: Vec<Check>,
    /// `on_violation = deny | record`, default [`OnViolation::Deny`].
    pub on_violation: OnViolation,
    /// `evidence = <ledger>`: resolved to a `ledger` of this spec that receives a violation
    /// event per violation; `None` leaves no evidence (a warning).
    pub evidence: Option<String>,
    /// What the violation events keep of the values the checks read: the invariant's
    /// `evidence_values`, else the spec's, else [`EvidenceValues::Omit`].
    pub evidence_values: EvidenceValues,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}
