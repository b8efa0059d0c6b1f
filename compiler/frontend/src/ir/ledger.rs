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
    /// `signing_key = ...` and the settings that need it: signed (and possibly witnessed)
    /// checkpoints. `None` when the ledger has no `signing_key`; then it is left out of the IR
    /// JSON, so the IR of a spec without one is what it was before signing existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<Signing>,
}

/// The default `witness_silence`: one hour.
pub const DEFAULT_WITNESS_SILENCE: Duration = Duration::from_secs(3600);

/// The longest checkpoint origin, in bytes: a tlog-cosignature `cosigned_message` holds the
/// origin in a one-byte-length field.
pub const MAX_ORIGIN_BYTES: usize = 255;

/// A ledger's signed checkpoints (c2sp.org/tlog-checkpoint as c2sp.org/signed-note), so that a
/// third party can check the ledger's tree heads with a public key alone, and the witnesses
/// that cosign them (c2sp.org/tlog-cosignature), so that the log cannot show two histories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signing {
    /// `signing_key = env("...")` or `file("...")`: where the runtime reads the Ed25519 key
    /// that signs the checkpoints; the key itself is never in a spec.
    pub key: KeySource,
    /// `origin = "..."`: the first line of every checkpoint, by which witnesses and verifiers
    /// tell this log from every other. Default `pip/<spec>/<ledger>`. Never empty, at most
    /// [`MAX_ORIGIN_BYTES`], without whitespace, `+`, control characters or `://`.
    pub origin: String,
    /// The `witness ... key ...` lines, in order; no two with the same URL or key name.
    pub witnesses: Vec<Witness>,
    /// `witness_quorum = <n>`: how many witnesses must cosign a checkpoint, from 1 to the
    /// number of witnesses; default all of them (0 when there are none).
    pub quorum: u32,
    /// `witness_silence = 1h` (the default, [`DEFAULT_WITNESS_SILENCE`]): how long a witness
    /// may go without cosigning before the ledger alerts; longer than zero.
    pub silence: Duration,
}

/// `witness "https://w1.example/" key "w1.example+0a1b2c3d+BAAA..."`: a witness that cosigns
/// the ledger's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Witness {
    /// The witness's base URL, absolute `http://` or `https://`, without whitespace.
    pub url: String,
    /// Its verifier key as written, `<name>+<8 lowercase hex digits>+<base64>`: the base64 is of
    /// 33 bytes, the type `0x04` (Ed25519 `cosignature/v1`) then the public key, and the hex is
    /// the key id those give. Public: it only checks cosignatures.
    pub key: String,
    /// The key's name, the part of [`Witness::key`] before the first `+`: the name on the
    /// witness's cosignature lines.
    pub name: String,
    /// Where the `witness` line is written.
    pub source: SourceRef,
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
