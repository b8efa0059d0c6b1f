//! Evidence events and where they go. The ledger implements [`EvidenceSink`]; the parts of
//! the runtime that produce evidence (invariant violations, rollbacks) take a sink, so they
//! do not depend on how or where evidence is stored.

use serde::{Deserialize, Serialize};

/// One piece of evidence, before the ledger gives it a sequence number, time and MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The part of the service that produced it (`billing`, `auth`, ...).
    pub subsystem: String,
    /// Who or what acted: a user, a service account, a function path.
    pub actor: String,
    /// What was done (`transfer`, `violation`, `rollback`, ...).
    pub action: String,
    /// What it was done to.
    pub resource: String,
    /// Details, as JSON.
    pub payload: serde_json::Value,
    /// The outcome (`ok`, `denied`, `violated`, ...).
    pub result: String,
}

/// Why evidence could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("evidence could not be recorded: {0}")]
pub struct EvidenceError(pub String);

/// Somewhere evidence can be appended durably.
pub trait EvidenceSink: Send + Sync {
    /// Appends the event; returns its sequence number once it is recorded.
    fn record(&self, event: Event) -> Result<u64, EvidenceError>;
}
