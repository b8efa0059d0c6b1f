//! Checking a ledger against its signed checkpoints with the verifier key alone: every note
//! must be signed by a known key and name the ledger's origin, tree sizes must grow, and the
//! Merkle root of the ledger's first `size` entries must be the one each note states. Entries
//! after the last signed checkpoint are not covered by any signature: only the ledger's HMAC
//! key checks them ([`crate::ledger::verify`]).
//!
//! A checkpoint the auditor trusts already ([`verify_signed`]'s `trusted`, one seen earlier
//! or cosigned by witnesses) must be reached and agreed with: a ledger shorter than it, or
//! whose tree at its size has another root, was rolled back (an old copy restored with its
//! checkpoint files) or forked.
//!
//! With witnesses ([`VerifyOptions::witnesses`]), the cosigned checkpoint file is checked in
//! the same pass ([`witnessed`](super::witnessed)): the ledger's roots at the cosigned sizes
//! are computed with the signed ones, and a quorum of the witnesses must have cosigned a
//! checkpoint that agrees with the ledger.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::SignedFile;
use super::witnessed::{self, WitnessProblem, WitnessRequirement, Witnessed};
use crate::ledger::format::{HEADER_LEN, Header};
use crate::ledger::merkle::Hash;
use crate::ledger::note::{self, NoteError, NoteVerifiers};

/// Why the files could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum SignedVerifyError {
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ledger file does not start with a ledger header.
    #[error("`{path}` is not a pip ledger: {what}")]
    NotALedger {
        /// The file.
        path: PathBuf,
        /// What is wrong with its header.
        what: String,
    },
}

/// One thing found wrong, by class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedProblem {
    /// A note no verifier key signed (another key, a changed text, a bad signature).
    #[error("the signed checkpoint at byte {offset} of the signed checkpoint file does not verify: {error}")]
    BadSignature {
        /// Byte offset of the note.
        offset: u64,
        /// What the signed-note check said.
        error: NoteError,
    },
    /// A note that is not a signed checkpoint.
    #[error("byte {offset} of the signed checkpoint file is not a signed checkpoint: {error}")]
    Malformed {
        /// Byte offset of the note.
        offset: u64,
        /// Why it does not parse.
        error: NoteError,
    },
    /// A note of another log.
    #[error("the signed checkpoint at byte {offset} is of origin `{found}`, not `{expected}`")]
    WrongOrigin {
        /// Byte offset of the note.
        offset: u64,
        /// The origin it names.
        found: String,
        /// The ledger's origin.
        expected: String,
    },
    /// Tree sizes went down or repeated: a note replayed or moved.
    #[error("the signed checkpoint of size {size} follows one of size {previous}: sizes must grow")]
    OutOfOrder {
        /// Its size.
        size: u64,
        /// The size of the note before it.
        previous: u64,
    },
    /// The ledger's first `size` entries are not the ones signed: an entry was modified,
    /// inserted or deleted before `size`.
    #[error("entries 1..={size} are not the ones the signed checkpoint of size {size} commits to (its Merkle root differs)")]
    RootMismatch {
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The ledger has fewer entries than a signed checkpoint covers: truncated.
    #[error("a signed checkpoint covers {size} entries but the ledger has {entries}: entries were cut off")]
    Truncated {
        /// The checkpoint's tree size.
        size: u64,
        /// Entries in the ledger.
        entries: u64,
    },
    /// The ledger is shorter than the trusted checkpoint: an older copy was restored.
    #[error(
        "the trusted checkpoint covers {trusted} entries but the ledger has {entries}: an older copy was restored, or entries were cut off"
    )]
    BehindTrusted {
        /// The trusted checkpoint's size.
        trusted: u64,
        /// Entries in the ledger.
        entries: u64,
    },
    /// The ledger's tree at the trusted checkpoint's size has another root: a fork.
    #[error("the ledger's first {trusted} entries are not the ones the trusted checkpoint commits to: the log was forked or rewritten")]
    ForkedFromTrusted {
        /// The trusted checkpoint's size.
        trusted: u64,
    },
    /// The trusted checkpoint is of another log.
    #[error("the trusted checkpoint is of origin `{found}`, not `{expected}`")]
    TrustedOtherOrigin {
        /// Its origin.
        found: String,
        /// The ledger's origin.
        expected: String,
    },
    /// The ledger's entries stop being well formed at `seq` (the HMAC verification names the anomaly).
    #[error("the ledger is not well formed at entry seq {seq}: {what}")]
    Unreadable {
        /// The first seq that could not be read.
        seq: u64,
        /// What was found.
        what: String,
    },
    /// A note was cut off at the end of the file (an unfinished write).
    #[error("the signed checkpoint file ends in {bytes} bytes of an unfinished note")]
    TornNote {
        /// Bytes of the unfinished note.
        bytes: u64,
    },
    /// The ledger has entries but no note of the signed checkpoint file is signed by a verifier
    /// key (the file is missing or empty, or every note fails its signature).
    #[error("the ledger has {entries} entries but no signed checkpoint covers any of them")]
    Unsigned {
        /// Entries in the ledger.
        entries: u64,
    },
    /// A signed checkpoint lies beyond where the ledger stops being well formed: what it covers
    /// cannot be checked (the `Unreadable` problem says why).
    #[error("the signed checkpoint of size {size} lies beyond entry seq {readable_to}, where the ledger stops being well formed")]
    BeyondDamage {
        /// The checkpoint's tree size.
        size: u64,
        /// The last well-formed entry's seq.
        readable_to: u64,
    },
    /// Something wrong with the witnesses' cosignatures (only when witnesses are required).
    #[error(transparent)]
    Witness(WitnessProblem),
}

impl SignedProblem {
    /// The problem's class as one snake_case word, for reports and JSON.
    pub fn class(&self) -> &'static str {
        match self {
            SignedProblem::BadSignature { .. } => "bad_signature",
            SignedProblem::Malformed { .. } => "malformed",
            SignedProblem::WrongOrigin { .. } => "wrong_origin",
            SignedProblem::OutOfOrder { .. } => "out_of_order",
            SignedProblem::RootMismatch { .. } => "root_mismatch",
            SignedProblem::Truncated { .. } => "truncated",
            SignedProblem::BehindTrusted { .. } => "behind_trusted",
            SignedProblem::ForkedFromTrusted { .. } => "forked_from_trusted",
            SignedProblem::TrustedOtherOrigin { .. } => "trusted_other_origin",
            SignedProblem::Unreadable { .. } => "unreadable",
            SignedProblem::TornNote { .. } => "torn_note",
            SignedProblem::Unsigned { .. } => "unsigned",
            SignedProblem::BeyondDamage { .. } => "beyond_damage",
            SignedProblem::Witness(p) => p.class(),
        }
    }
}

/// What checking with the verifier key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedVerification {
    /// The ledger's origin (the first verified note's, unless one was expected).
    pub origin: Option<String>,
    /// Signed checkpoints whose signature verified and whose root matched.
    pub checkpoints: u64,
    /// Entries `1..=covered` are proven by a signature: the largest verified checkpoint's size.
    pub covered: u64,
    /// Entries in the ledger file.
    pub entries: u64,
    /// The last verified checkpoint's signed note (to keep, and pass as a trusted checkpoint later).
    pub latest: Option<String>,
    /// What was found wrong; empty when the ledger agrees with every signed checkpoint (and,
    /// when witnesses are required, a quorum of them cosigned a checkpoint that agrees).
    pub problems: Vec<SignedProblem>,
    /// What the witnesses cosigned, when witnesses were required (a quorum above 0).
    pub witnessed: Option<Witnessed>,
}

impl SignedVerification {
    /// Whether nothing was found wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Entries after the last signed checkpoint: only the HMAC key checks them.
    pub fn uncovered(&self) -> u64 {
        self.entries.saturating_sub(self.covered)
    }
}

/// A checkpoint an auditor already trusts, checked with the verifier keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// The checkpoint.
    pub checkpoint: note::Checkpoint,
}

impl Trusted {
    /// Opens a signed checkpoint note (e.g. a `latest` kept from an earlier verification, or
    /// a witness-cosigned one): it must verify with `verifiers`.
    pub fn open(message: &[u8], verifiers: &NoteVerifiers) -> Result<Trusted, NoteError> {
        note::Checkpoint::open(message, verifiers).map(|(checkpoint, _)| Trusted { checkpoint })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SignedVerifyError + '_ {
    move |source| SignedVerifyError::Io { path: path.to_path_buf(), source }
}

/// Signed notes checked per step of the hashing threads' side work (one Ed25519 check is
/// ~35 µs: a step stays well under a millisecond).
const NOTES_PER_STEP: usize = 8;

/// What [`verify_signed_with`] checks besides the signed checkpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// The ledger's origin when known (otherwise the first verified note's).
    pub origin: Option<&'a str>,
    /// A checkpoint the auditor trusts already: the ledger must reach it and agree with it.
    pub trusted: Option<&'a Trusted>,
    /// The witnesses whose quorum must have cosigned a checkpoint that agrees with the ledger;
    /// `None` (or a quorum of 0) checks no cosignature.
    pub witnesses: Option<WitnessRequirement<'a>>,
}

/// Checks the ledger at `ledger` against the signed checkpoints in `signed` with the keys in
/// `verifiers`, and against `trusted` when given. `origin` is the ledger's origin when known
/// (otherwise the first verified note's). [`verify_signed_with`] also checks witnesses.
pub fn verify_signed(
    ledger: &Path,
    signed: &Path,
    verifiers: &NoteVerifiers,
    origin: Option<&str>,
    trusted: Option<&Trusted>,
) -> Result<SignedVerification, SignedVerifyError> {
    verify_signed_with(ledger, signed, verifiers, &VerifyOptions { origin, trusted, witnesses: None })
}

/// [`verify_signed`] with the options in `options`: with witnesses, the cosigned checkpoint
/// file is checked in the same pass over the ledger.
pub fn verify_signed_with(
    ledger: &Path,
    signed: &Path,
    verifiers: &NoteVerifiers,
    options: &VerifyOptions<'_>,
) -> Result<SignedVerification, SignedVerifyError> {
    let VerifyOptions { origin, trusted, witnesses } = *options;
    let witnesses = witnesses.filter(|w| w.quorum > 0);
    let file = SignedFile::read(signed).map_err(io(signed))?;
    let cosigned = witnesses.map(|w| witnessed::read(w.file).map_err(io(w.file))).transpose()?;
    // The tree sizes to compute roots at, ascending: each note's (signatures are checked while
    // the ledger is hashed, on other threads), each cosigned note's, and the trusted checkpoint's.
    let mut want: Vec<u64> = file.notes.iter().filter_map(|n| n.checkpoint.as_ref().ok().map(|c| c.size)).collect();
    want.extend(cosigned.iter().flat_map(witnessed::sizes));
    want.extend(trusted.map(|t| t.checkpoint.size));
    want.sort_unstable();
    want.dedup();
    let open = |n: &super::StoredNote| note::Checkpoint::open(n.message.as_bytes(), verifiers).map(|(cp, _)| cp);
    let check_cosigned = || match (&cosigned, witnesses) {
        (Some(f), Some(w)) => witnessed::check_file(f, verifiers, w.keys),
        _ => Vec::new(),
    };
    // The signatures are checked by the hashing threads whenever they have no part to hash: the
    // cosigned file in one step, then the notes a few at a time.
    let opened_slots: Vec<OnceLock<Result<note::Checkpoint, NoteError>>> = file.notes.iter().map(|_| OnceLock::new()).collect();
    let checked_slot = OnceLock::new();
    let next_note = AtomicUsize::new(0);
    let cosigned_taken = AtomicBool::new(false);
    let side = || -> bool {
        if !cosigned_taken.swap(true, Ordering::Relaxed) {
            let _ = checked_slot.set(check_cosigned());
            return true;
        }
        let from = next_note.fetch_add(NOTES_PER_STEP, Ordering::Relaxed);
        let notes = file.notes.iter().zip(&opened_slots).skip(from).take(NOTES_PER_STEP);
        let mut any = false;
        for (n, slot) in notes {
            let _ = slot.set(open(n));
            any = true;
        }
        any
    };
    let hashed = roots_at(ledger, &want, &side);
    // Every step ran before the hashing returned; whatever did not (an error cut it short) is done here.
    let opened: Vec<_> = file.notes.iter().zip(opened_slots).map(|(n, slot)| slot.into_inner().unwrap_or_else(|| open(n))).collect();
    let checked = checked_slot.into_inner().unwrap_or_else(check_cosigned);
    let (entries, roots, unreadable) = hashed?;
    let mut problems = Vec::new();
    let mut origin: Option<String> = origin.map(str::to_owned);
    // The verified notes, in file order: size, root, message.
    let mut notes: Vec<(u64, Hash, String)> = Vec::new();
    for (n, opened) in file.notes.iter().zip(opened) {
        let cp = match opened {
            Ok(cp) => cp,
            Err(error) => {
                problems.push(match &n.checkpoint {
                    Err(parse) => SignedProblem::Malformed { offset: n.offset, error: parse.clone() },
                    Ok(_) => SignedProblem::BadSignature { offset: n.offset, error },
                });
                continue;
            }
        };
        let expected = origin.get_or_insert_with(|| cp.origin.clone());
        if cp.origin != *expected {
            problems.push(SignedProblem::WrongOrigin { offset: n.offset, found: cp.origin, expected: expected.clone() });
            continue;
        }
        if let Some(&(previous, _, _)) = notes.last()
            && cp.size <= previous
        {
            problems.push(SignedProblem::OutOfOrder { size: cp.size, previous });
            continue;
        }
        notes.push((cp.size, cp.root, n.message.clone()));
    }
    if file.torn_bytes > 0 {
        problems.push(SignedProblem::TornNote { bytes: file.torn_bytes });
    }
    if let (Some(t), Some(o)) = (trusted, &origin)
        && t.checkpoint.origin != *o
    {
        problems.push(SignedProblem::TrustedOtherOrigin { found: t.checkpoint.origin.clone(), expected: o.clone() });
    }
    let trusted_at =
        trusted.filter(|t| origin.as_ref().is_none_or(|o| t.checkpoint.origin == *o)).map(|t| (t.checkpoint.size, t.checkpoint.root));

    let readable_to = unreadable.as_ref().map(|(seq, _)| seq - 1);
    if let Some((seq, what)) = unreadable {
        problems.push(SignedProblem::Unreadable { seq, what });
    }
    let root_at = |size: u64| roots.binary_search_by_key(&size, |(s, _)| *s).ok().and_then(|i| roots.get(i)).map(|(_, r)| *r);
    let signed_count = notes.len();
    let signed_roots: Vec<(u64, Hash)> = notes.iter().map(|(s, r, _)| (*s, *r)).collect();
    let mut checkpoints = 0;
    let mut covered = 0;
    let mut latest = None;
    for (size, root, message) in notes {
        match root_at(size) {
            None => problems.push(match readable_to {
                Some(readable_to) => SignedProblem::BeyondDamage { size, readable_to },
                None => SignedProblem::Truncated { size, entries },
            }),
            Some(r) if r != root => problems.push(SignedProblem::RootMismatch { size }),
            Some(_) => {
                checkpoints += 1;
                covered = size;
                latest = Some(message);
            }
        }
    }
    if signed_count == 0 && entries > 0 {
        problems.push(SignedProblem::Unsigned { entries });
    }
    if let Some((size, root)) = trusted_at {
        match root_at(size) {
            None => problems.push(SignedProblem::BehindTrusted { trusted: size, entries }),
            Some(r) if r != root => problems.push(SignedProblem::ForkedFromTrusted { trusted: size }),
            Some(_) => {}
        }
    }
    let witnessed = match (&cosigned, witnesses) {
        (Some(f), Some(w)) => {
            let offsets: Vec<u64> = f.notes.iter().map(|n| n.offset).collect();
            let view = witnessed::LedgerView { entries, root_at: &root_at, signed: &signed_roots };
            let (summary, found) = witnessed::judge(&offsets, &checked, f.torn_bytes, &w, &mut origin, &view);
            problems.extend(found.into_iter().map(SignedProblem::Witness));
            Some(summary)
        }
        _ => None,
    };
    Ok(SignedVerification { origin, checkpoints, covered, entries, latest, problems, witnessed })
}

/// The ledger's well-formed entry count, its roots at each of `sizes` (ascending) it
/// reaches, and where it stops being well framed, on all cores, which run `side` (see
/// [`super::roots::roots_at`]) when they have nothing to hash.
#[expect(clippy::type_complexity, reason = "one private result")]
fn roots_at(
    ledger: &Path,
    sizes: &[u64],
    side: &(dyn Fn() -> bool + Sync),
) -> Result<(u64, Vec<(u64, Hash)>, Option<(u64, String)>), SignedVerifyError> {
    let mut file = crate::fsread::open(ledger).map_err(io(ledger))?;
    let len = file.metadata().map_err(io(ledger))?.len();
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header)
        .map_err(|_| SignedVerifyError::NotALedger { path: ledger.to_path_buf(), what: "shorter than a ledger header".into() })?;
    Header::decode(&header).map_err(|e| SignedVerifyError::NotALedger { path: ledger.to_path_buf(), what: e.to_string() })?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let r = super::roots::roots_at(&mut file, len, sizes, threads, side).map_err(io(ledger))?;
    Ok((r.entries, r.roots, r.unreadable))
}
