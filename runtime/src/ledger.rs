//! The tamper-evident ledger: an append-only file of HMAC-SHA256-chained entries, MACed
//! checkpoints in a side file, crash-safe group-commit appends, and verification that names
//! every anomaly with its class and position.
//!
//! # Files
//! The ledger is binary (`format`): a 206-byte MACed header naming the ledger's
//! identity ([`identity`]), then records `u32 length, body,
//! MAC`. The body (the entry's canonical bytes) holds seq, time, `prev`, subsystem, actor,
//! action, resource, result and the payload's JSON text; `hash = SHA-256(body)` is the next
//! entry's `prev`, and `mac = HMAC-SHA256(key, hash)`. Binary because the targets (append
//! 2M entries/s, verify 1M entries in 200 ms) leave no time to parse text: a record is
//! split by reading a few lengths, and verification hashes the stored bytes as they are.
//! `pipc log dump` prints any ledger as JSON lines for people and standard tools.
//!
//! Checkpoints ([`checkpoint`]) are 80-byte records `(seq, time, hash of entry seq, MAC)` in
//! `<ledger>.ckpt`.
//!
//! # How each anomaly class is recognised ([`verify`], [`classify`](self))
//! Every record is hashed and its MAC checked. A record whose MAC verifies is *authentic*.
//! (For slices without per-entry MACs, a record is authentic when the chain of `prev`
//! hashes leads from it to a checkpoint whose MAC verifies.)
//! - **wrong_key**: the header's key id is not this key's and no entry or checkpoint
//!   verifies. Nothing else is judged then. A key id mismatch while entries do verify is
//!   a `modified` header instead.
//! - The longest run of authentic records whose seqs strictly increase in file order is
//!   the ledger's *spine*. An authentic record off the spine is **replayed** when its seq is
//!   on the spine (or off it already: a duplicate seq), and **reordered** otherwise.
//! - Between two consecutive spine records `a` and `b` (the first is preceded by the
//!   genesis anchor, seq 0 and the ledger's identity digest) lie the non-authentic records and damaged
//!   regions, and the *missing* seqs: those between `a.seq` and `b.seq` that no authentic
//!   record has anywhere. Non-authentic records are paired with missing seqs (first those
//!   whose stored seq is missing): paired ones are **modified** (an entry stood there, as
//!   the chain or seq numbers show, and its bytes changed); unpaired ones are
//!   **inserted** (forged: the entries around them link to each other without them);
//!   unpaired missing seqs are **deleted**.
//! - After the last spine record, the missing seqs are those up to the highest verified
//!   checkpoint. Paired non-authentic records are **modified**; unpaired ones are
//!   **inserted** (nothing vouches for them: a modified last entry that no checkpoint
//!   covers yet looks exactly like a forged appended one, and is reported as inserted);
//!   unpaired missing seqs are **truncated**.
//! - A spine record with time earlier than the spine record before it is a **timestamp
//!   reversal** (only the key holder can write one: the writer never does, it clamps
//!   time to the last entry's).
//! - Consecutive spine records `a`, `b` with `b.seq = a.seq + 1` whose link is broken are an
//!   **inserted** splice from another chain written with the same key.
//! - A checkpoint naming an authentic entry with another hash marks it **modified**.
//! - **torn_tail**: the file ends inside a record (its declared length runs past the end, or
//!   trailing zeros) and no good record follows. When a checkpoint covers the entry that was
//!   cut, the entries were acknowledged and it is reported as **truncated** instead.
//! - Damage to a length prefix is survived: the scan resumes at the next record confirmed by
//!   its MAC ([`scan`]), and the damaged bytes count as one non-authentic record.
//! - Checkpoints: one whose MAC fails is **modified**; one whose seq repeats or goes back is
//!   **replayed** or **reordered**; a partial one at the end is a **torn_tail** (all in the
//!   checkpoint file).
//! - Headers: a header whose MAC fails (any byte changed) is **modified**, judged with the
//!   identity of the other file's header when that one verifies; a checkpoint file of another
//!   ledger is **modified** too (and so is each of its checkpoints: their MACs bind the identity).
//! - Alike anomalies in a row (same class and file, same words but for the numbers) are one
//!   [`Anomaly`] with [`Repeats`](verify::Repeats): the first, how many, the last.
//! - While a live writer holds the ledger's lock ([`verify_files`] probes it without waiting),
//!   an unfinished end is *in flight* ([`Report::in_flight`]), not a torn tail.
//! - The ledger's own entries ([`notes`]: clock jumps, a new checkpoint history) are listed as
//!   [`Report::events`].
//!
//! Deleting entries from the end is invisible without a head held elsewhere: checkpoints
//! catch it up to the last checkpoint, and the exported head metric (alerted on when it
//! goes down) catches the rest.
//!
//! # Appending
//! [`Ledger`] ([`writer`]) is the handle services append through from many threads; see
//! the module docs there for durability and group commit. Opening recovers from a crash
//! ([`open`]).
//!
//! # Modules, from the bottom up
//! Each module below imports only modules listed before it, so none imports one that imports
//! it back:
//! - bytes and names: `hashing` (SHA-256, HMAC), [`key`], [`identity`], `format` (entries,
//!   records, and the file header in `format::header`; what other crates may use of it is
//!   re-exported here and in [`records`]), [`checkpoint`], [`scan`] (splitting a file into
//!   records), [`timefmt`];
//! - shared by verifying and appending: [`report`] (what verification finds),
//!   [`notes`] (the ledger's own entries), [`error`], [`config`], `lock` (one appender per
//!   ledger: opening takes the lock, verification probes it);
//! - verifying: `sweep` (the parallel pass over an intact file), `classify` (naming each
//!   anomaly of a damaged one), [`verify`]; reading: [`query`];
//! - appending: [`open`] (create or recover), `meters` (the ledger's metric series),
//!   [`writer`] (with its flusher thread);
//! - for tools: [`slice`](mod@slice) (the compact slice codec of bundles), [`import`]
//!   (streaming JSON lines in).
//! - signed checkpoints: [`merkle`] (RFC 6962 hashing and proofs), [`tree`] (the tree the writer
//!   builds and proofs read, tiles in `<ledger>.tree`), and behind the `signing` feature `note`
//!   (C2SP signed notes and checkpoints) and `signed` (the `<ledger>.signed` file, recovery on
//!   open, verification with verifier keys alone, proofs); `open` and [`writer`] use them when a
//!   ledger is opened with a signing key ([`Ledger::open_signed`](writer::Ledger)).
//!
//! # Where the time goes
//! An entry costs five SHA-256 compressions (three for a body of ~140 bytes, two for the
//! MAC over its hash) and little else:
//! - the key's HMAC inner and outer states are computed once, and bodies are hashed where
//!   they lie, straight through `sha2`'s compression function (`hashing`);
//! - appending hashes each entry while it MACs the one before (their compressions overlap in
//!   the CPU), serialises payloads into a per-thread buffer, reads the clock outside the
//!   lock, and counts entries for the metrics in plain integers that the flusher publishes
//!   per synced batch ([`writer`], `meters`);
//! - verifying an intact ledger is one pass on all threads over ranges of the file, hashing
//!   two records at a time and reading a long file in chunks while it hashes; a ledger that
//!   is not intact is then scanned and classified record by record (`sweep`).

pub mod checkpoint;
mod classify;
pub mod config;
pub mod error;
pub(crate) mod format;
mod hashing;
pub mod identity;
pub mod import;
pub mod key;
mod lock;
pub mod merkle;
mod meters;
#[cfg(feature = "signing")]
pub mod note;
pub mod notes;
pub mod open;
pub mod query;
pub mod records;
pub mod report;
pub mod scan;
#[cfg(feature = "signing")]
pub mod signed;
pub mod slice;
mod sweep;
pub mod timefmt;
pub mod tree;
pub mod verify;
#[cfg(feature = "signing")]
pub mod witness;
pub mod writer;

pub use checkpoint::{Checkpoint, CheckpointFile};
pub use config::{CheckpointPolicy, Durability, LedgerConfig};
pub use error::{LedgerError, VerifyError};
pub use format::{Entry, FRAME_OVERHEAD, FormatError, HEADER_LEN, Header, MAX_BODY_LEN, RawBody};
pub use identity::Identity;
pub use key::{KeySource, LedgerKey};
pub use open::{OpenReport, RecoveredTail};
pub use report::{Anchor, Anomaly, AnomalyClass, Authenticity, InFlight, LedgerEvent, Report};
pub use verify::{verify_bytes, verify_files, verify_slice};
pub use writer::{Ledger, Receipt};

/// The anomaly class names: the values of the `class` label of `pip_ledger_anomalies_total`.
/// Alert rules match on them; they never change.
pub mod class {
    /// An entry's bytes are not what the key holder wrote.
    pub const MODIFIED: &str = "modified";
    /// Entries are missing inside the ledger (a seq gap).
    pub const DELETED: &str = "deleted";
    /// An entry nobody wrote with the key, that the chain does not need (forged).
    pub const INSERTED: &str = "inserted";
    /// An authentic entry out of its place.
    pub const REORDERED: &str = "reordered";
    /// A second copy of an authentic entry.
    pub const REPLAYED: &str = "replayed";
    /// Entries a checkpoint covers are missing from the end.
    pub const TRUNCATED: &str = "truncated";
    /// An entry is older than the one before it.
    pub const TIMESTAMP_REVERSAL: &str = "timestamp_reversal";
    /// Nothing verifies with the key given.
    pub const WRONG_KEY: &str = "wrong_key";
    /// The file ends in an unfinished, never acknowledged entry.
    pub const TORN_TAIL: &str = "torn_tail";
    /// Every class name, as [`AnomalyClass::as_str`](crate::ledger::AnomalyClass::as_str) returns them; the runtime exports each at zero per ledger.
    pub const ALL: [&str; 9] = [MODIFIED, DELETED, INSERTED, REORDERED, REPLAYED, TRUNCATED, TIMESTAMP_REVERSAL, WRONG_KEY, TORN_TAIL];
}
