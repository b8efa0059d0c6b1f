//! `versioned`: a store that keeps its history and can roll back.

use serde::Serialize;

use super::Severity;
use crate::span::SourceRef;

/// A `versioned <name> { ... }` construct: a store that keeps its history and can roll back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versioned {
    /// The construct's name, unique among the spec's constructs.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard panel's description.
    pub doc: Option<String>,
    /// `history = 1000` (required): how many versions the store keeps, at least 1.
    pub history: u64,
    /// `severity = P1` (required): severity of a rollback mismatch alert.
    pub severity: Severity,
    /// `evidence = <ledger>`: resolved to a `ledger` of this spec that receives rollback events.
    pub evidence: Option<String>,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
}
