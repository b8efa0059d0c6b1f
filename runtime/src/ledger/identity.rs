//! Ledger identity: which ledger a file is, fixed when it is created. A ledger is (spec id, ledger name, a random 16-byte ledger id); its
//! *identity digest* is the `prev` of its first entry and part of every checkpoint's MAC
//! input, and the header itself is MACed. So another ledger written with the same key cannot
//! stand in for this one, wholly or in part: its chain starts from another digest and its
//! checkpoints fail their MACs here, and a changed header byte fails the header's MAC.
//!
//! ```text
//! digest   = SHA-256("pip-ledger identity v2\0" || ledger_id || u8:spec_len spec || u8:name_len name)
//! ```
//!
//! The file header that carries the identity is the format's (`format::header`).

use std::fmt;

use crate::hex::to_hex;
use crate::ledger::hashing::{DIGEST_LEN, sha256};

/// Length of the random ledger id drawn at creation (`--expect-id` takes it as 32 hex digits).
pub const LEDGER_ID_LEN: usize = 16;
/// Longest spec id or ledger name in a header, in bytes.
pub const MAX_NAME_LEN: usize = 64;
const IDENTITY_DOMAIN: &[u8] = b"pip-ledger identity v2\0";

/// Which ledger a file belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The spec id the ledger was created for (empty when none was named).
    pub spec: String,
    /// The ledger's name in the spec (empty when none was named).
    pub ledger: String,
    /// Random bytes drawn when the ledger was created.
    pub id: [u8; LEDGER_ID_LEN],
}

/// Why an identity cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A spec id or ledger name longer than the [`MAX_NAME_LEN`] bytes a file header holds.
    #[error("the {what} `{name}` has {len} bytes; a ledger header holds at most {MAX_NAME_LEN}")]
    NameTooLong {
        /// `spec id` or `ledger name`.
        what: &'static str,
        /// The name that does not fit, as given.
        name: String,
        /// Its length in bytes, more than [`MAX_NAME_LEN`].
        len: usize,
    },
    /// The operating system gave no random bytes for a new ledger id (`getrandom`'s error).
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
}

impl Identity {
    /// A new ledger's identity, with a fresh random id.
    pub fn generate(spec: &str, ledger: &str) -> Result<Identity, IdentityError> {
        let mut id = [0u8; LEDGER_ID_LEN];
        getrandom::fill(&mut id).map_err(|e| IdentityError::Random(e.to_string()))?;
        Identity::with_id(spec, ledger, id)
    }

    /// An identity with a given id (tests and tools that rebuild one).
    pub fn with_id(spec: &str, ledger: &str, id: [u8; LEDGER_ID_LEN]) -> Result<Identity, IdentityError> {
        for (what, name) in [("spec id", spec), ("ledger name", ledger)] {
            if name.len() > MAX_NAME_LEN {
                return Err(IdentityError::NameTooLong { what, name: name.to_string(), len: name.len() });
            }
        }
        Ok(Identity { spec: spec.to_string(), ledger: ledger.to_string(), id })
    }

    /// The id as hex (what `pipc verify-log --expect-id` takes).
    pub fn id_hex(&self) -> String {
        to_hex(&self.id)
    }

    /// The identity digest: the `prev` of the first entry, and part of every checkpoint MAC.
    pub fn digest(&self) -> [u8; DIGEST_LEN] {
        let mut m = Vec::with_capacity(IDENTITY_DOMAIN.len() + LEDGER_ID_LEN + 2 + self.spec.len() + self.ledger.len());
        m.extend_from_slice(IDENTITY_DOMAIN);
        m.extend_from_slice(&self.id);
        for name in [&self.spec, &self.ledger] {
            m.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            m.extend_from_slice(name.as_bytes());
        }
        sha256(&m)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |s: &str| if s.is_empty() { "(none)".to_string() } else { format!("`{s}`") };
        write!(f, "spec {}, ledger {}, id {}", named(&self.spec), named(&self.ledger), self.id_hex())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn identities_differ_by_each_part_and_long_names_are_refused() {
        let a = Identity::with_id("s", "l", [1; 16]).unwrap();
        let digests = [
            a.digest(),
            Identity { spec: "t".into(), ..a.clone() }.digest(),
            Identity { ledger: "m".into(), ..a.clone() }.digest(),
            Identity { id: [2; 16], ..a.clone() }.digest(),
        ];
        for (i, x) in digests.iter().enumerate() {
            for y in &digests[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_ne!(Identity::with_id("sl", "", [1; 16]).unwrap().digest(), Identity::with_id("s", "l", [1; 16]).unwrap().digest());
        assert!(Identity::with_id(&"x".repeat(65), "l", [0; 16]).is_err());
    }
}
