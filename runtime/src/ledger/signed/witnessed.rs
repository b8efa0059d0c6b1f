//! `<ledger>.witnessed`: signed checkpoints with the cosignatures witnesses returned, and
//! the quorum check over them.
//!
//! The file has the `.signed` file's format ([`SignedFile`]): one note per witness response,
//! each the signed checkpoint exactly as the log signed it followed by that witness's
//! `cosignature/v1` lines, then a blank line. Several notes may carry one checkpoint, each
//! cosigned by another witness; they are grouped by the checkpoint's text.
//!
//! A witness cosigns a checkpoint only when it is consistent with every checkpoint of the log
//! it cosigned before, so a checkpoint cosigned by a quorum of the witnesses an auditor trusts
//! is one the log cannot later contradict without a witness noticing. What is checked here:
//! every note must carry the log's own valid signature; a cosignature line of a listed witness
//! must verify (lines of other keys are ignored); and each cosigned checkpoint must agree with
//! the ledger: its root must be the ledger's root at its size (a cosignature over another root
//! is a fork the witnesses saw), and the ledger must reach its size (a shorter ledger is an
//! older copy restored, or cut off). The entries covered by witnesses are those of the largest
//! checkpoint a quorum cosigned that agrees with the ledger.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SignedFile;
use crate::ledger::merkle::Hash;
use crate::ledger::note::{self, Checkpoint, NoteError, NoteVerifier, NoteVerifiers, SignatureType, SignedNote, cosignature};

/// Appended to the ledger's path to name its cosigned checkpoint file.
pub const WITNESSED_SUFFIX: &str = ".witnessed";

/// Most bytes of a cosigned checkpoint file read whole: as for the signed checkpoint file
/// ([`super::MAX_SIGNED_FILE`]); a larger one is refused, not read.
pub const MAX_WITNESSED_FILE: u64 = super::MAX_SIGNED_FILE;

/// The cosigned checkpoint file of a ledger: its path plus `.witnessed`.
pub fn default_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_os_string();
    s.push(WITNESSED_SUFFIX);
    PathBuf::from(s)
}

/// Reads and splits a cosigned checkpoint file (a missing file has no notes); a note cut off
/// at the end is counted in [`SignedFile::torn_bytes`].
pub fn read(path: &Path) -> std::io::Result<SignedFile> {
    match crate::fsread::read(path, MAX_WITNESSED_FILE, "a cosigned checkpoint file") {
        Ok(bytes) => Ok(SignedFile::parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SignedFile { notes: Vec::new(), torn_bytes: 0 }),
        Err(e) => Err(e),
    }
}

/// The witnesses' cosignature verifier keys, in the order given; a witness is one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessKeys {
    keys: Vec<NoteVerifier>,
}

impl WitnessKeys {
    /// The set of these keys: each must be a `cosignature/v1` key; identical duplicates are
    /// kept once, two different keys with one name and id are refused.
    pub fn new(keys: impl IntoIterator<Item = NoteVerifier>) -> Result<WitnessKeys, NoteError> {
        let mut out: Vec<NoteVerifier> = Vec::new();
        for key in keys {
            if key.signature_type() != SignatureType::CosignatureV1 {
                return Err(NoteError::WrongSignatureType(key.name().to_owned()));
            }
            match out.iter().find(|k| k.name() == key.name() && k.key_id() == key.key_id()) {
                Some(known) if *known == key => {}
                Some(_) => return Err(NoteError::AmbiguousVerifier { name: key.name().to_owned(), key_id: key.key_id() }),
                None => out.push(key),
            }
        }
        Ok(WitnessKeys { keys: out })
    }

    /// The keys, in order.
    pub fn keys(&self) -> &[NoteVerifier] {
        &self.keys
    }

    /// How many witnesses.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no witness.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The index of the key with this name and id.
    fn index(&self, name: &str, key_id: u32) -> Option<usize> {
        self.keys.iter().position(|k| k.key_id() == key_id && k.name() == name)
    }
}

/// What the witnesses must have cosigned, for
/// [`verify_signed_with`](super::verify::verify_signed_with).
#[derive(Debug, Clone, Copy)]
pub struct WitnessRequirement<'a> {
    /// The cosigned checkpoint file ([`default_path`] of the ledger, usually).
    pub file: &'a Path,
    /// The witnesses.
    pub keys: &'a WitnessKeys,
    /// How many distinct witnesses must have cosigned a checkpoint; 0 asks for nothing.
    pub quorum: u32,
}

/// One note of a cosigned checkpoint file, its signatures checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedNote {
    /// The checkpoint (its signatures not yet trusted), or why the note is not one.
    pub checkpoint: Result<Checkpoint, NoteError>,
    /// The note's text (empty when it is not a signed note).
    pub text: String,
    /// Whether the log's signature verifies (`note::open` with the log's keys).
    pub log: Result<(), NoteError>,
    /// The listed witnesses (index into [`WitnessKeys::keys`]) whose cosignature line verifies,
    /// with its timestamp (POSIX seconds); one per witness.
    pub cosigned: Vec<(usize, u64)>,
    /// The listed witnesses with a cosignature line that does not verify.
    pub bad: Vec<usize>,
}

/// Checks one cosigned note: the log's signature (`log`) and each cosignature line of a
/// witness in `witnesses`; lines of other keys are ignored.
pub fn check_note(message: &[u8], log: &NoteVerifiers, witnesses: &WitnessKeys) -> CheckedNote {
    let parsed = match SignedNote::parse(message) {
        Ok(n) => n,
        Err(e) => {
            return CheckedNote { checkpoint: Err(e.clone()), text: String::new(), log: Err(e), cosigned: Vec::new(), bad: Vec::new() };
        }
    };
    let checkpoint = Checkpoint::parse(&parsed.text);
    let log = note::open(message, log).map(|_| ());
    let mut cosigned: Vec<(usize, u64)> = Vec::new();
    let mut bad = Vec::new();
    for s in &parsed.signatures {
        let Some(i) = witnesses.index(&s.name, s.key_id) else { continue };
        let Some(key) = witnesses.keys.get(i) else { continue };
        match cosignature::verify_bytes(key, &parsed.text, &s.bytes) {
            Some(t) if !cosigned.iter().any(|(j, _)| *j == i) => cosigned.push((i, t)),
            Some(_) => {}
            None if !bad.contains(&i) => bad.push(i),
            None => {}
        }
    }
    CheckedNote { checkpoint, text: parsed.text, log, cosigned, bad }
}

/// A witness's most recent cosignature of a checkpoint of the ledger's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint's tree size.
    pub size: u64,
    /// When the witness cosigned it (POSIX seconds, as the cosignature states).
    pub timestamp: u64,
}

/// One witness and what it cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessStatus {
    /// The witness key's name.
    pub name: String,
    /// The witness key's id.
    pub key_id: u32,
    /// The largest checkpoint it validly cosigned (of the ledger's origin, signed by the log),
    /// or `None`.
    pub latest: Option<Cosigned>,
}

/// What the witnesses' cosignatures establish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// Cosignatures a checkpoint needs.
    pub quorum: u32,
    /// Each witness, in the order given.
    pub witnesses: Vec<WitnessStatus>,
    /// Entries `1..=covered` are in a checkpoint that at least `quorum` witnesses cosigned and
    /// that agrees with the ledger (0: none).
    pub covered: u64,
    /// How many witnesses cosigned the checkpoint of size `covered`.
    pub cosigners: u32,
    /// Whether a checkpoint that agrees with the ledger reached the quorum.
    pub quorum_met: bool,
    /// Notes read from the cosigned checkpoint file.
    pub notes: u64,
    /// Bytes at the end of the file that are not a whole note (a write cut off by a crash):
    /// tolerated, since losing a response only loses evidence, and reported here.
    pub torn_bytes: u64,
}

/// One thing found wrong with the witnesses' cosignatures, by class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessProblem {
    /// The ledger has entries but no checkpoint that agrees with it was cosigned by the quorum.
    #[error("no checkpoint that agrees with the ledger is cosigned by {quorum} of the {witnesses} witnesses (at most {best} cosigned one)")]
    NoQuorum {
        /// Cosignatures needed.
        quorum: u32,
        /// Witnesses listed.
        witnesses: u32,
        /// Most witnesses that cosigned any one checkpoint that agrees with the ledger.
        best: u32,
    },
    /// A cosignature line of a listed witness that does not verify: the file was altered.
    #[error("the cosignature of witness `{witness}` at byte {offset} of the cosigned checkpoint file does not verify")]
    BadCosignature {
        /// Byte offset of the note.
        offset: u64,
        /// The witness key's name.
        witness: String,
    },
    /// A note whose log signature does not verify (its cosignatures are not counted).
    #[error("the checkpoint at byte {offset} of the cosigned checkpoint file does not carry a valid signature of the log: {error}")]
    BadLogSignature {
        /// Byte offset of the note.
        offset: u64,
        /// What the signed-note check said.
        error: NoteError,
    },
    /// A note that is not a signed checkpoint.
    #[error("byte {offset} of the cosigned checkpoint file is not a signed checkpoint: {error}")]
    Malformed {
        /// Byte offset of the note.
        offset: u64,
        /// Why it does not parse.
        error: NoteError,
    },
    /// Witnesses cosigned a checkpoint of another log.
    #[error("witnesses ({witnesses}) cosigned a checkpoint of origin `{found}`, not `{expected}`, at byte {offset}")]
    CosignedOtherOrigin {
        /// Byte offset of the note.
        offset: u64,
        /// The origin it names.
        found: String,
        /// The ledger's origin.
        expected: String,
        /// The witnesses' key names, comma separated.
        witnesses: String,
    },
    /// Witnesses cosigned a checkpoint whose root is not the ledger's at its size: the log
    /// showed them another history than the ledger holds (a fork), or the entries were changed.
    #[error(
        "witnesses ({witnesses}) cosigned a checkpoint of size {size} whose root is not the ledger's: the ledger's first {size} entries are not the ones the witnesses saw"
    )]
    CosignedOtherRoot {
        /// The checkpoint's tree size.
        size: u64,
        /// The witnesses' key names, comma separated.
        witnesses: String,
    },
    /// Witnesses cosigned a checkpoint larger than the ledger: an older copy was restored, or
    /// entries were cut off.
    #[error(
        "witnesses ({witnesses}) cosigned a checkpoint of size {size} but the ledger has {entries} well-formed entries: an older copy was restored, or entries were cut off"
    )]
    CosignedBeyondLedger {
        /// The checkpoint's tree size.
        size: u64,
        /// Well-formed entries in the ledger.
        entries: u64,
        /// The witnesses' key names, comma separated.
        witnesses: String,
    },
    /// The log signed two checkpoints of one size with different roots (one of them
    /// cosigned): two histories, whatever the ledger holds.
    #[error(
        "the log signed two checkpoints of size {size} with different roots (one of them cosigned by witnesses): it showed two histories"
    )]
    ForkedCheckpoints {
        /// The tree size.
        size: u64,
    },
}

impl WitnessProblem {
    /// The problem's class as one snake_case word, for reports and JSON.
    pub fn class(&self) -> &'static str {
        match self {
            WitnessProblem::NoQuorum { .. } => "no_witness_quorum",
            WitnessProblem::BadCosignature { .. } => "bad_cosignature",
            WitnessProblem::BadLogSignature { .. } => "witnessed_bad_signature",
            WitnessProblem::Malformed { .. } => "witnessed_malformed",
            WitnessProblem::CosignedOtherOrigin { .. } => "cosigned_other_origin",
            WitnessProblem::CosignedOtherRoot { .. } => "cosigned_other_root",
            WitnessProblem::CosignedBeyondLedger { .. } => "cosigned_beyond_ledger",
            WitnessProblem::ForkedCheckpoints { .. } => "forked_checkpoints",
        }
    }
}

/// The tree sizes the checkpoints of a cosigned checkpoint file name (to compute the ledger's
/// roots at, in the same pass as the signed checkpoints').
pub(crate) fn sizes(file: &SignedFile) -> impl Iterator<Item = u64> + '_ {
    file.notes.iter().filter_map(|n| n.checkpoint.as_ref().ok().map(|c| c.size))
}

/// Checks every note's signatures (see [`check_note`]).
pub(crate) fn check_file(file: &SignedFile, log: &NoteVerifiers, witnesses: &WitnessKeys) -> Vec<CheckedNote> {
    file.notes.iter().map(|n| check_note(n.message.as_bytes(), log, witnesses)).collect()
}

/// The ledger as the judgement sees it.
pub(crate) struct LedgerView<'a> {
    /// Well-formed entries.
    pub entries: u64,
    /// The ledger's root at a size it reaches (`None` beyond).
    pub root_at: &'a dyn Fn(u64) -> Option<Hash>,
    /// The log-signed checkpoints of the signed checkpoint file (size, root).
    pub signed: &'a [(u64, Hash)],
}

/// A checkpoint and the witnesses that cosigned it, over every note that carries it.
struct Group<'a> {
    checkpoint: &'a Checkpoint,
    /// Witness index → latest timestamp.
    by: BTreeMap<usize, u64>,
}

/// Judges the checked notes of a cosigned checkpoint file (its notes at `offsets`) against the
/// ledger: which witnesses cosigned what, the entries a quorum covers, and the problems.
/// `origin` is the ledger's origin, set from the first cosigned checkpoint when unknown.
pub(crate) fn judge(
    offsets: &[u64],
    checked: &[CheckedNote],
    torn_bytes: u64,
    req: &WitnessRequirement<'_>,
    origin: &mut Option<String>,
    ledger: &LedgerView<'_>,
) -> (Witnessed, Vec<WitnessProblem>) {
    let keys = req.keys.keys();
    let names = |ids: &mut dyn Iterator<Item = usize>| -> String {
        ids.filter_map(|i| keys.get(i)).map(|k| format!("`{}`", k.name())).collect::<Vec<_>>().join(", ")
    };
    let mut problems = Vec::new();
    // Grouped by checkpoint text: one checkpoint, whatever note carries each cosignature.
    let mut groups: BTreeMap<(u64, &str), Group<'_>> = BTreeMap::new();
    for (&offset, n) in offsets.iter().zip(checked) {
        for &i in &n.bad {
            let witness = keys.get(i).map(|k| k.name().to_owned()).unwrap_or_default();
            problems.push(WitnessProblem::BadCosignature { offset, witness });
        }
        let cp = match &n.checkpoint {
            Ok(cp) => cp,
            Err(error) => {
                problems.push(WitnessProblem::Malformed { offset, error: error.clone() });
                continue;
            }
        };
        if let Err(error) = &n.log {
            problems.push(WitnessProblem::BadLogSignature { offset, error: error.clone() });
            continue;
        }
        if n.cosigned.is_empty() {
            // Only witnesses the auditor does not list cosigned it: not evidence here.
            continue;
        }
        let expected = origin.get_or_insert_with(|| cp.origin.clone());
        if cp.origin != *expected {
            problems.push(WitnessProblem::CosignedOtherOrigin {
                offset,
                found: cp.origin.clone(),
                expected: expected.clone(),
                witnesses: names(&mut n.cosigned.iter().map(|(i, _)| *i)),
            });
            continue;
        }
        let g = groups.entry((cp.size, n.text.as_str())).or_insert_with(|| Group { checkpoint: cp, by: BTreeMap::new() });
        for &(i, t) in &n.cosigned {
            let e = g.by.entry(i).or_insert(t);
            *e = (*e).max(t);
        }
    }

    let mut latest: Vec<Option<Cosigned>> = vec![None; keys.len()];
    let (mut covered, mut cosigners, mut quorum_met, mut best) = (0u64, 0u32, false, 0u32);
    // Log-signed roots by size, from both files: two at one size are a fork.
    let mut roots: BTreeMap<u64, Hash> = ledger.signed.iter().copied().collect();
    let mut forked: Vec<u64> = Vec::new();
    for ((size, _), g) in &groups {
        let size = *size;
        let count = u32::try_from(g.by.len()).unwrap_or(u32::MAX);
        for (&i, &timestamp) in &g.by {
            if let Some(slot) = latest.get_mut(i)
                && slot.is_none_or(|c| (c.size, c.timestamp) < (size, timestamp))
            {
                *slot = Some(Cosigned { size, timestamp });
            }
        }
        match roots.get(&size) {
            Some(r) if *r != g.checkpoint.root => {
                if !forked.contains(&size) {
                    forked.push(size);
                }
            }
            Some(_) => {}
            None => {
                roots.insert(size, g.checkpoint.root);
            }
        }
        let witnesses = || names(&mut g.by.keys().copied());
        match (ledger.root_at)(size) {
            None => problems.push(WitnessProblem::CosignedBeyondLedger { size, entries: ledger.entries, witnesses: witnesses() }),
            Some(r) if r != g.checkpoint.root => problems.push(WitnessProblem::CosignedOtherRoot { size, witnesses: witnesses() }),
            Some(_) => {
                best = best.max(count);
                if count >= req.quorum && size >= covered {
                    quorum_met = true;
                    if size > covered || count > cosigners {
                        covered = size;
                        cosigners = count;
                    }
                }
            }
        }
    }
    forked.sort_unstable();
    problems.extend(forked.into_iter().map(|size| WitnessProblem::ForkedCheckpoints { size }));
    let witnesses = u32::try_from(keys.len()).unwrap_or(u32::MAX);
    if !quorum_met && ledger.entries > 0 {
        problems.push(WitnessProblem::NoQuorum { quorum: req.quorum, witnesses, best });
    }
    let statuses =
        keys.iter().zip(latest).map(|(k, latest)| WitnessStatus { name: k.name().to_owned(), key_id: k.key_id(), latest }).collect();
    let summary =
        Witnessed { quorum: req.quorum, witnesses: statuses, covered, cosigners, quorum_met, notes: checked.len() as u64, torn_bytes };
    (summary, problems)
}
