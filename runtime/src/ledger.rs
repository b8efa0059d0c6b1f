//! The tamper-evident ledger (issue 4).
