//! Writing ledger records by hand, for code that builds a ledger file byte by byte instead of
//! appending through [`crate::ledger::Ledger`]: tests that forge, damage or splice ledgers to
//! check that verification names what was done, and benchmarks that need a large ledger fast.
//! The layout itself ([`crate::ledger`] "Files") is the runtime's own; these are the few
//! pieces of it such code needs, and nothing here is needed to use a ledger.

pub use super::format::{Entry, HASH_LEN, MAC_LEN, PreparedEvent, encode_record, hash_body, ledger_header, write_body};
