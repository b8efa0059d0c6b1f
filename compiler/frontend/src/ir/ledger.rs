//! `ledger`: where evidence is kept, how it is keyed, checkpointed and synced, and who must write to it.

use serde::Serialize;

use super::Severity;
use crate::span::SourceRef;
use crate::units::Duration;

/// Where a ledger's MAC key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// `key = env("NAME")`: the variable's name, a valid environment variable name.
    Env(String),
    /// `key = file("path")`: the path of the file that holds the key, never blank.
    File(String),
}

/// When checkpoints are written: whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// `checkpoint every <n> entries`, at least 1.
    pub every_entries: Option<u64>,
    /// `checkpoint every <duration>`, longer than zero. At least one of the two is set.
    pub every: Option<Duration>,
}

/// When appends are made durable (fsync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    /// `sync every append` (the default when a ledger has no `sync` line).
    EveryAppend,
    /// After this many entries or this much time, whichever comes first (group commit).
    Group {
        /// `<n> entries`, at least 1.
        entries: Option<u64>,
        /// `<duration>`, longer than zero.
        interval: Option<Duration>,
    },
}

/// A `ledger <name> { ... }` construct: a tamper-evident, HMAC-chained log of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    /// The construct's name, which `evidence = <name>` and `include ledger <name>` refer to.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `doc = "..."`, shown in the dashboard panel's description.
    pub doc: Option<String>,
    /// `key = env("...")` or `key = file("...")` (required): where the runtime reads the MAC
    /// key; the key itself is never in a spec.
    pub key: KeySource,
    /// The `checkpoint every ...` line, default every 1000 entries or 10s.
    pub checkpoint: Checkpoint,
    /// The `sync every ...` line, default [`Sync::EveryAppend`].
    pub sync: Sync,
    /// `severity = P0` (the default): severity of integrity alerts (verification failure,
    /// truncation).
    pub severity: Severity,
    /// The `expect subsystem ...` lines, in order, one per subsystem.
    pub expects: Vec<Expect>,
    /// The `runbook` URL, else the spec's `runbook` with `#<name>` appended.
    pub runbook: String,
    /// `clock_tolerance = 5m` (the default): how far a writer's clock may jump before the ledger
    /// records the jump; longer than zero.
    pub clock_tolerance: Duration,
}

/// `expect subsystem "billing" every 15m severity P1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// The subsystem's name as its writers give it (e.g. `#[pip_invariant(..., subsystem =
    /// "...")]`), never blank.
    pub subsystem: String,
    /// `every 15m`: the longest silence before the gap alert fires; longer than zero.
    pub every: Duration,
    /// `severity P1` (the default): severity of the gap alert.
    pub severity: Severity,
    /// Where the `expect` line is written.
    pub source: SourceRef,
}
