//! Why ledger operations fail: [`LedgerError`] for opening and appending, [`VerifyError`]
//! when verification cannot run at all. Anomalies are not errors: they are what verification
//! finds ([`Report`](crate::ledger::Report)).

use std::path::PathBuf;

use crate::ledger::format::FormatError;
use crate::ledger::notes;

/// Why the ledger could not be opened or could not take an entry.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An operation on a ledger or checkpoint file failed, or the flusher thread could not start.
    #[error("cannot {op} `{path}`: {source}")]
    Io {
        /// The ledger or checkpoint file the operation was on.
        path: PathBuf,
        /// The operation, as a verb for the message: `open`, `read`, `sync`, `lock`, ...
        op: &'static str,
        /// The operating system's error, or a [`Refused`](crate::fsread::Refused) inside one.
        source: std::io::Error,
    },
    /// Another process appends to this ledger.
    #[error("ledger `{0}` is open for appending in another process")]
    Locked(PathBuf),
    /// The file is not a ledger (or not a checkpoint file).
    #[error("`{path}` is unusable: {source}")]
    NotALedger {
        /// The ledger or checkpoint file whose header does not decode.
        path: PathBuf,
        /// Why the header does not decode (wrong magic, too short, unknown version).
        source: FormatError,
    },
    /// The file was created with another key.
    #[error("`{path}` was created with key id {file_key_id}, not with this key (id {key_id})")]
    WrongKey {
        /// The ledger or checkpoint file whose header names another key.
        path: PathBuf,
        /// The key id in the file's header, as hex.
        file_key_id: String,
        /// The id of the key given to open the ledger, as hex.
        key_id: String,
    },
    /// The ledger is damaged; it is not appended to.
    #[error("ledger `{path}` is damaged at offset {offset}: {what}; run `pipc verify-log` to name every anomaly")]
    Damaged {
        /// The ledger or checkpoint file found damaged.
        path: PathBuf,
        /// Byte offset in `path` where the damage was found (0 for a header that fails its MAC).
        offset: u64,
        /// The damage in words, as the message shows it.
        what: String,
    },
    /// The file belongs to another ledger.
    #[error("`{path}` belongs to {found}, not to {expected}")]
    OtherLedger {
        /// The checkpoint file whose header names another ledger.
        path: PathBuf,
        /// The identity in the file's header (spec, ledger name and id), as text.
        found: String,
        /// The identity of the ledger being opened, as text.
        expected: String,
    },
    /// The checkpoint file of an existing ledger is missing or empty.
    #[error(
        "the checkpoint file `{path}` of an existing ledger is {what}: entries it covered may have been cut off with it; restore it, or start a new checkpoint history explicitly (`new_checkpoint_history`, `pipc log append --new-checkpoint-history`), which records the break as an entry"
    )]
    CheckpointsMissing {
        /// The checkpoint file expected next to the ledger, as [`LedgerConfig::checkpoint_path`](crate::ledger::LedgerConfig::checkpoint_path) gives it.
        path: PathBuf,
        /// `missing`, `empty` or `incomplete`.
        what: &'static str,
    },
    /// The ledger ends before its last checkpoint.
    #[error("ledger `{path}` ends at seq {head} but its checkpoints cover seq {checkpoint}: entries were cut off")]
    Truncated {
        /// The ledger file.
        path: PathBuf,
        /// The seq of its last entry when it was opened.
        head: u64,
        /// The seq its last checkpoint covers.
        checkpoint: u64,
    },
    /// The event does not fit the format.
    #[error(transparent)]
    Event(#[from] FormatError),
    /// A [`LedgerConfig`](crate::ledger::LedgerConfig) setting the writer cannot honour: a group sync without a trigger, a zero count or interval.
    #[error("invalid ledger configuration: {0}")]
    Config(String),
    /// A write or sync failed earlier; the ledger accepts nothing more.
    #[error("the ledger stopped after an I/O error and accepts no entries: {0}")]
    Failed(String),
    /// [`Ledger::close`](crate::ledger::Ledger::close) was called; appends after it are refused.
    #[error("the ledger is closed")]
    Closed,
    /// An event named the subsystem of the ledger's own entries ([`notes::SUBSYSTEM`]).
    #[error(
        "subsystem `{}` is reserved for the ledger's own entries (`clock_jump`, `new_checkpoint_history`); help: use another subsystem name",
        notes::SUBSYSTEM
    )]
    ReservedSubsystem,
    /// Verification could not run.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// Why verification could not run at all (anomalies are not errors: they are the result).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Opening or reading the ledger or a checkpoint file failed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's error, or a [`Refused`](crate::fsread::Refused) inside one.
        source: std::io::Error,
    },
    /// The ledger file is not a ledger.
    #[error("{0}")]
    Format(#[from] FormatError),
    /// The checkpoint bytes are not a checkpoint file.
    #[error("the checkpoint file is unusable: {0}")]
    Checkpoints(FormatError),
    /// The ledger is not intact and too large to be verified record by record in memory.
    #[error(
        "`{}` is {len} bytes and its chain is not intact from the start: naming each anomaly needs it in memory, and only {available} bytes are available; help: verify a copy of the part to examine, or on a machine with more memory",
        path.display()
    )]
    TooLarge {
        /// The ledger file.
        path: PathBuf,
        /// The bytes to verify: the file's length, or the length asked for when shorter.
        len: u64,
        /// `MemAvailable` of `/proc/meminfo` in bytes (0 when the system does not say and the allocation failed).
        available: u64,
    },
    /// The file given as checkpoint file has no valid checkpoint file header (magic, length, version).
    #[error("the checkpoint file `{}` is unusable: {source}", path.display())]
    CheckpointFile {
        /// The checkpoint file that was given.
        path: PathBuf,
        /// Why its header does not decode (wrong magic, too short, unknown version).
        source: FormatError,
    },
}
