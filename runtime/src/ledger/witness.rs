//! The C2SP tlog-witness protocol (c2sp.org/tlog-witness), without the HTTP: the
//! `add-checkpoint` request a log sends ([`AddCheckpoint`]), a witness that judges it exactly
//! as the specification says ([`Witness::add_checkpoint`]: 400, 403, 404, 409 with the
//! latest size, 422, or 200 with `cosignature/v1` lines) and keeps its state in a file synced
//! before it answers, and the log's side of reading a response ([`cosignatures`]).
//!
//! Any HTTP server can carry it (`pipc witness serve` does); existing witnesses (e.g.
//! litewitness) speak the same requests, so a pip ledger can use them.
//!
//! A ledger whose [`Signing`](super::signed::Signing) names witnesses ([`Witnessing`],
//! [`config`]) pushes each checkpoint it signs to them from a background thread (feature
//! `witness`) and keeps their cosignatures in `<ledger>.witnessed`.

pub mod config;
#[cfg(feature = "witness")]
pub(crate) mod push;

pub use crate::ledger::meters::PushError;
pub use config::{DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_TIMEOUT, WitnessConfigError, WitnessTarget, Witnessing};

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::ledger::merkle::{self, Hash};
use crate::ledger::note::{self, Checkpoint, NoteError, NoteSigner, NoteVerifiers, SignatureType, VerifiedSignature};

/// Most consistency proof lines a request may carry (the specification's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// Most bytes of a request body a witness reads.
pub const MAX_REQUEST_BYTES: usize = note::MAX_NOTE_BYTES + 4096;
/// The content type of a 409 response's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request: the size of the checkpoint the witness cosigned last, the
/// consistency proof from it, and the new signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The old size.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size (empty when `old` is 0).
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

impl AddCheckpoint {
    /// The request body.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for h in &self.proof {
            body.push_str(&b64(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Reads a request body; `Err` says why it is malformed (answered with 400).
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, String> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(format!("the request is larger than {MAX_REQUEST_BYTES} bytes"));
        }
        let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_string())?;
        let (head, checkpoint) = text.split_once("\n\n").ok_or("no empty line ends the old size and proof lines")?;
        let mut lines = head.split('\n');
        let old_line = lines.next().unwrap_or_default();
        let old_text = old_line.strip_prefix("old ").ok_or("the first line is not `old <size>`")?;
        let canonical =
            !old_text.is_empty() && old_text.bytes().all(|b| b.is_ascii_digit()) && (old_text == "0" || !old_text.starts_with('0'));
        let old: u64 = if canonical {
            old_text.parse().map_err(|_| "the old size is too large")?
        } else {
            return Err("the old size is not a decimal number without leading zeros".into());
        };
        let proof_lines: Vec<&str> = lines.collect();
        if proof_lines.len() > MAX_PROOF_LINES {
            return Err(format!("more than {MAX_PROOF_LINES} consistency proof lines"));
        }
        let proof = proof_lines
            .iter()
            .map(|l| unb64(l).and_then(|b| Hash::try_from(b).ok()).ok_or_else(|| "a proof line is not the base64 of 32 bytes".to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddCheckpoint { old, proof, checkpoint: checkpoint.to_string() })
    }
}

/// A witness's answer: an HTTP status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// 200, 400, 403, 404, 409 or 422.
    pub status: u16,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response { status, content_type: "text/plain; charset=utf-8", body }
    }
}

/// Why a witness cannot start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The state file could not be read or written.
    #[error("witness state `{path}`: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The state file does not hold a witness state.
    #[error("witness state `{path}` line {line}: {what}")]
    State {
        /// The state file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// The witness key is not a `cosignature/v1` key.
    #[error("a witness cosigns with a cosignature/v1 key (type 0x04), and `{0}` is not one")]
    NotACosigner(String),
}

/// A witness: its cosigning key, the logs it witnesses (origin and the keys that sign its
/// checkpoints), and the latest checkpoint it cosigned of each (size and root), kept in a file.
pub struct Witness {
    signer: NoteSigner,
    logs: BTreeMap<String, NoteVerifiers>,
    state_path: PathBuf,
    state: BTreeMap<String, (u64, Hash)>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness").field("signer", &self.signer).field("logs", &self.logs.keys()).field("state", &self.state).finish()
    }
}

impl Witness {
    /// A witness cosigning with `signer` (a [`SignatureType::CosignatureV1`] key) for `logs`,
    /// its state in `state_path` (read when it exists).
    pub fn open(signer: NoteSigner, logs: BTreeMap<String, NoteVerifiers>, state_path: &Path) -> Result<Witness, WitnessError> {
        if signer.signature_type() != SignatureType::CosignatureV1 {
            return Err(WitnessError::NotACosigner(signer.name().to_string()));
        }
        let state = read_state(state_path)?;
        Ok(Witness { signer, logs, state_path: state_path.to_path_buf(), state })
    }

    /// The latest cosigned size and root of a log.
    pub fn latest(&self, origin: &str) -> Option<(u64, Hash)> {
        self.state.get(origin).copied()
    }

    /// Judges an `add-checkpoint` request body at `now` (POSIX seconds) as c2sp.org/tlog-witness
    /// says, persisting (synced) the new state before a 200. Callers serialise calls (one
    /// request at a time per witness), which makes the check and the update atomic.
    pub fn add_checkpoint(&mut self, body: &[u8], now: u64) -> Result<Response, WitnessError> {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(why) => return Ok(Response::text(400, why)),
        };
        let Ok(signed) = note::SignedNote::parse(req.checkpoint.as_bytes()) else {
            return Ok(Response::text(400, "the checkpoint is not a signed note"));
        };
        let Ok(cp) = Checkpoint::parse(&signed.text) else {
            return Ok(Response::text(400, "the note is not a checkpoint"));
        };
        let Some(keys) = self.logs.get(&cp.origin) else {
            return Ok(Response::text(404, format!("unknown log `{}`", shown(&cp.origin))));
        };
        if Checkpoint::open(req.checkpoint.as_bytes(), keys).is_err() {
            return Ok(Response::text(403, "no signature of the log's keys verifies"));
        }
        if req.old > cp.size {
            return Ok(Response::text(400, "the old size is larger than the checkpoint's"));
        }
        let (latest_size, latest_root) = self.latest(&cp.origin).unwrap_or((0, merkle::empty_root()));
        if req.old != latest_size {
            return Ok(Response { status: 409, content_type: SIZE_CONTENT_TYPE, body: format!("{latest_size}\n") });
        }
        if req.old == cp.size {
            if cp.root != latest_root {
                return Ok(Response::text(409, "the checkpoint has the size of the latest one but another root"));
            }
        } else if req.old == 0 {
            if !req.proof.is_empty() {
                return Ok(Response::text(422, "a proof from the empty tree must be empty"));
            }
        } else if merkle::verify_consistency(req.old, cp.size, &latest_root, &cp.root, &req.proof).is_err() {
            return Ok(Response::text(422, "the consistency proof does not verify"));
        }
        let cosignature = match cp.cosign(&self.signer, now) {
            Ok(c) => c,
            Err(e) => return Ok(Response::text(400, format!("cannot cosign: {e}"))),
        };
        let mut next = self.state.clone();
        next.insert(cp.origin.clone(), (cp.size, cp.root));
        write_state(&self.state_path, &next)?;
        self.state = next;
        Ok(Response { status: 200, content_type: "text/plain; charset=utf-8", body: cosignature.to_line() })
    }
}

/// `text` as shown in a response: printable, bounded.
fn shown(text: &str) -> String {
    crate::untrusted::shown(text.as_bytes()).chars().take(200).collect()
}

/// The verified cosignatures of a witness response to `checkpoint` (the signed note sent), by
/// the witness keys in `witnesses`; signatures of other keys are ignored.
pub fn cosignatures(checkpoint: &str, response: &str, witnesses: &NoteVerifiers) -> Result<Vec<VerifiedSignature>, NoteError> {
    let joined = format!("{checkpoint}{response}");
    let opened = note::open(joined.as_bytes(), witnesses)?;
    Ok(opened.verified.into_iter().filter(|v| v.signature_type == SignatureType::CosignatureV1).collect())
}

fn state_error(path: &Path, line: usize, what: &str) -> WitnessError {
    WitnessError::State { path: path.to_path_buf(), line, what: what.to_string() }
}

/// Reads the state file: one line per log, `<origin> <size> <base64 root>`.
fn read_state(path: &Path) -> Result<BTreeMap<String, (u64, Hash)>, WitnessError> {
    let text = match crate::fsread::read(path, 16 << 20, "a witness state file") {
        Ok(b) => String::from_utf8(b).map_err(|_| state_error(path, 0, "not UTF-8"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(WitnessError::Io { path: path.to_path_buf(), source }),
    };
    let mut state = BTreeMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut parts = line.split(' ');
        let (Some(origin), Some(size), Some(root), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(state_error(path, i + 1, "expected `<origin> <size> <root>`"));
        };
        let size: u64 = size.parse().map_err(|_| state_error(path, i + 1, "the size is not a number"))?;
        let root = unb64(root)
            .and_then(|b| Hash::try_from(b).ok())
            .ok_or_else(|| state_error(path, i + 1, "the root is not the base64 of 32 bytes"))?;
        if state.insert(origin.to_string(), (size, root)).is_some() {
            return Err(state_error(path, i + 1, "the log appears twice"));
        }
    }
    Ok(state)
}

/// Writes the state file atomically and durably: a temporary file, synced, renamed over the
/// old one, and the directory synced.
fn write_state(path: &Path, state: &BTreeMap<String, (u64, Hash)>) -> Result<(), WitnessError> {
    let io = |source| WitnessError::Io { path: path.to_path_buf(), source };
    let mut text = String::new();
    for (origin, (size, root)) in state {
        text.push_str(&format!("{origin} {size} {}\n", b64(root)));
    }
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests;
