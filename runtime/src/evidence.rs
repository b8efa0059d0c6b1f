//! Evidence events and where they go. The ledger implements [`EvidenceSink`]; the parts of
//! the runtime that produce evidence (invariant violations, rollbacks) take a sink, so they
//! do not depend on how or where evidence is stored.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// One piece of evidence, before the ledger gives it a sequence number, time and MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The part of the service that produced it (`billing`, `auth`, ...).
    pub subsystem: String,
    /// Who or what acted: a user, a service account, a function path.
    pub actor: String,
    /// What was done (`transfer`, `violation`, `rollback`, ...).
    pub action: String,
    /// What it was done to (an account, `<spec>.<invariant>`, a store name), for queries to filter on.
    pub resource: String,
    /// Details, as JSON; the ledger stores its text byte for byte as the entry's payload.
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

    /// A value a check read (its `Debug` text) as this sink keeps it under
    /// `evidence_values = hash`: a keyed hash ([`hash_value`]) that is equal for equal values
    /// and that nobody without the sink's key can compute. `None` (the default) when the sink
    /// has no key: the value is then withheld, never written in the clear.
    fn hash_value(&self, value: &str) -> Option<String> {
        let _ = value;
        None
    }
}

/// How a hashed value starts in evidence.
pub const HASH_PREFIX: &str = "hmac-sha256:";

/// What evidence holds for a value that `evidence_values = hash` could not hash (the sink has
/// no key).
pub const WITHHELD: &str = "<withheld: no key to hash with>";

/// `hmac-sha256:<hex>`: HMAC-SHA256 of `value` under `value_key` (for a ledger,
/// [`LedgerKey::value_key`](crate::ledger::LedgerKey::value_key), derived from its key).
pub fn hash_value(value_key: &[u8; 32], value: &str) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(value_key) {
        Ok(mut mac) => {
            mac.update(value.as_bytes());
            format!("{HASH_PREFIX}{}", crate::hex::to_hex(&mac.finalize().into_bytes()))
        }
        // HMAC takes keys of any length, so this does not happen; if it did, the value would
        // still not be written in the clear.
        Err(_) => WITHHELD.to_string(),
    }
}
