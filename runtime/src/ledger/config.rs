//! How to open a ledger: files, checkpoint and durability policies, expected subsystems,
//! identity and clock tolerance ([`LedgerConfig`]), filled from a spec's `ledger` block by
//! [`LedgerDecl::config`](crate::declared::LedgerDecl::config) or by hand.

use std::path::PathBuf;
use std::time::Duration;

use crate::ledger::checkpoint;
use crate::ledger::error::LedgerError;
use crate::ledger::identity::LEDGER_ID_LEN;

/// When entries are synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every append is synced before it returns (concurrent appends share a sync).
    EveryAppend,
    /// Synced after `entries` entries or `interval`, whichever comes first.
    Group {
        /// Sync once this many entries wait (at least 1); `None`: no count trigger.
        entries: Option<u64>,
        /// Longest time an entry waits.
        interval: Option<Duration>,
    },
}

/// When checkpoints are written (whichever comes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Write one after this many entries since the last (at least 1); `None`: no count trigger.
    pub every_entries: Option<u64>,
    /// Every this much time, when entries were added.
    pub every: Option<Duration>,
}

/// The default [`LedgerConfig::clock_tolerance`], 5 minutes, as for a spec that sets no `clock_tolerance`.
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// How to open a ledger. A caller fills it from the spec's `ledger` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// The spec id (metric label).
    pub spec: String,
    /// The ledger's name (metric label).
    pub name: String,
    /// The ledger file, locked while open; the checkpoint file defaults to it plus `.ckpt`.
    pub path: PathBuf,
    /// The checkpoint file (default: the ledger's path plus `.ckpt`).
    pub checkpoint_path: Option<PathBuf>,
    /// When checkpoints are written: the spec's `checkpoint every N entries or T`.
    pub checkpoint: CheckpointPolicy,
    /// When appends are synced: the spec's `sync every append` or `sync every N entries or T`.
    pub durability: Durability,
    /// Bytes of entries that may wait for the flusher before appends block.
    pub max_pending_bytes: usize,
    /// Subsystems the spec expects evidence from (`expect subsystem`). One that has no entry
    /// in the file yet gets its last append time set to the opening time, so that its
    /// silence is measured (and its evidence-gap alert can fire) before it ever writes.
    pub expected_subsystems: Vec<String>,
    /// When the checkpoint file of an existing ledger is missing or empty: start a new
    /// checkpoint history (recorded as an entry, subsystem `pip`, action
    /// `new_checkpoint_history`) instead of refusing to open.
    pub new_checkpoint_history: bool,
    /// The ledger id: a new ledger is created with it (instead of a random one), and an
    /// existing ledger with another id is refused. `None`: random, and any.
    pub ledger_id: Option<[u8; LEDGER_ID_LEN]>,
    /// How far the wall clock may be from where the last entry and the monotonic clock say it
    /// should be before the jump is recorded as an entry (subsystem `pip`, action
    /// `clock_jump`). Default 5 minutes.
    pub clock_tolerance: Duration,
}

impl LedgerConfig {
    /// Defaults: checkpoint every 1000 entries or 10 s, sync every append, 64 MiB pending.
    pub fn new(spec: impl Into<String>, name: impl Into<String>, path: impl Into<PathBuf>) -> LedgerConfig {
        LedgerConfig {
            spec: spec.into(),
            name: name.into(),
            path: path.into(),
            checkpoint_path: None,
            checkpoint: CheckpointPolicy { every_entries: Some(1000), every: Some(Duration::from_secs(10)) },
            durability: Durability::EveryAppend,
            max_pending_bytes: 64 << 20,
            expected_subsystems: Vec::new(),
            new_checkpoint_history: false,
            ledger_id: None,
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
        }
    }

    /// [`LedgerConfig::checkpoint_path`] when set, else the ledger's path plus `.ckpt`.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.checkpoint_path.clone().unwrap_or_else(|| checkpoint::default_path(&self.path))
    }

    /// The signed checkpoint file of a ledger with a signing key: the ledger's path plus `.signed`.
    pub fn signed_path(&self) -> PathBuf {
        let mut s = self.path.as_os_str().to_os_string();
        s.push(".signed");
        PathBuf::from(s)
    }

    /// The cosigned checkpoint file of a ledger with witnesses: the ledger's path plus
    /// `.witnessed` (signed checkpoint notes with the witnesses' cosignature lines, in the
    /// `.signed` file's format: notes separated by a blank line).
    pub fn witnessed_path(&self) -> PathBuf {
        let mut s = self.path.as_os_str().to_os_string();
        s.push(".witnessed");
        PathBuf::from(s)
    }

    /// The Merkle tree cache of a ledger with a signing key: the ledger's path plus `.tree`.
    pub fn tree_path(&self) -> PathBuf {
        crate::ledger::tree::default_path(&self.path)
    }

    /// Refuses settings the writer cannot honour (a group sync with no trigger, zero counts
    /// or intervals).
    pub(crate) fn validate(&self) -> Result<(), LedgerError> {
        let bad = |m: &str| Err(LedgerError::Config(m.to_string()));
        match self.durability {
            Durability::Group { entries: None, interval: None } => return bad("a group sync needs an entry count or an interval"),
            Durability::Group { entries: Some(0), .. } => return bad("a group sync needs at least one entry"),
            Durability::Group { interval: Some(d), .. } if d.is_zero() => return bad("a group sync interval must be positive"),
            _ => {}
        }
        if self.checkpoint.every_entries == Some(0) {
            return bad("checkpoints need at least one entry between them");
        }
        if self.clock_tolerance.is_zero() {
            return bad("a clock tolerance must be positive");
        }
        if self.checkpoint.every.is_some_and(|d| d.is_zero()) {
            return bad("a checkpoint interval must be positive");
        }
        Ok(())
    }
}
