//! The verifier-key half of `pipc verify-log`: the ledger checked against its signed
//! checkpoints (and a trusted checkpoint) with public keys alone, and, when witnesses are
//! required (`--witness-key`, or a spec whose ledger names witnesses), the quorum of their
//! cosignatures in the cosigned checkpoint file; and what that proves.

use std::path::{Path, PathBuf};

use pip_runtime::ledger::note::{NoteError, NoteVerifier, NoteVerifiers};
use pip_runtime::ledger::signed::default_origin;
use pip_runtime::ledger::signed::verify::{SignedProblem, SignedVerification, Trusted, VerifyOptions, verify_signed_with};
use pip_runtime::ledger::signed::witnessed::{self, WitnessKeys, WitnessRequirement};

use super::{load_trusted, load_verifier_keys, load_verifiers};
use crate::SignedCheckArgs;
use crate::out::{Out, write_atomic};
use crate::spec_ledger::spec_ledger_named_by;

/// The signed check `verify-log` was asked for, its keys loaded.
pub(crate) struct SignedCheck {
    verifiers: NoteVerifiers,
    trusted: Option<(PathBuf, Trusted)>,
    signed_file: Option<PathBuf>,
    origin: Option<String>,
    save: Option<PathBuf>,
    witnesses: Option<WitnessCheck>,
}

/// The witnesses whose quorum must have cosigned, and where their cosignatures are.
struct WitnessCheck {
    keys: WitnessKeys,
    quorum: u32,
    file: Option<PathBuf>,
}

/// What the signed check found.
pub(crate) struct SignedOutcome {
    signed_file: PathBuf,
    /// The cosigned checkpoint file, when witnesses were required.
    witnessed_file: Option<PathBuf>,
    v: SignedVerification,
    trusted: Option<(PathBuf, u64)>,
    /// Where the latest checkpoint was saved, or why it was not.
    saved: Option<Result<PathBuf, String>>,
}

/// What the spec's ledger block says about checking its checkpoints.
struct FromSpec {
    origin: String,
    witnesses: Vec<NoteVerifier>,
    quorum: u32,
}

/// The origin, witnesses and quorum of the ledger the specs declare.
fn from_spec(args: &SignedCheckArgs) -> Result<Option<FromSpec>, String> {
    if args.specs.is_empty() {
        return Ok(None);
    }
    let (spec, l) = spec_ledger_named_by(&args.specs, args.ledger_name.as_deref(), "--ledger-name")?;
    let Some(s) = &l.signing else {
        return Ok(Some(FromSpec { origin: default_origin(&spec, &l.name), witnesses: Vec::new(), quorum: 0 }));
    };
    let witnesses = s
        .witnesses
        .iter()
        .map(|w| NoteVerifier::parse(&w.key).map_err(|e| format!("the spec's witness `{}` has no valid key: {e}", w.url)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(FromSpec { origin: s.origin.clone(), witnesses, quorum: s.quorum }))
}

/// The witness keys as a set, with a message that says what a witness key is.
fn witness_keys(keys: Vec<NoteVerifier>) -> Result<WitnessKeys, String> {
    WitnessKeys::new(keys).map_err(|e| match e {
        NoteError::WrongSignatureType(name) => format!(
            "`{}` is not a witness key: a witness cosigns with a cosignature/v1 key (type 0x04), as `pipc keygen --signing --cosigner` prints one",
            pip_runtime::untrusted::shown(name.as_bytes())
        ),
        other => other.to_string(),
    })
}

/// The witnesses required: `--witness-key` (else the spec's), `--witness-quorum` (else the
/// spec's, else all of them); `None` when there are none or the quorum is 0.
fn witness_check(args: &SignedCheckArgs, spec: Option<&FromSpec>) -> Result<Option<WitnessCheck>, String> {
    // The spec's quorum goes with the spec's witnesses; witnesses given as flags default to all.
    let (keys, spec_quorum) = if args.witness_key.is_empty() {
        spec.map(|s| (s.witnesses.clone(), Some(s.quorum))).unwrap_or_default()
    } else {
        (load_verifier_keys(&args.witness_key, "witness key", "`pipc keygen --signing --cosigner`")?, None)
    };
    let keys = witness_keys(keys)?;
    let quorum = args.witness_quorum.or(spec_quorum).unwrap_or_else(|| u32::try_from(keys.len()).unwrap_or(u32::MAX));
    if quorum as usize > keys.len() {
        return Err(format!(
            "the witness quorum {quorum} is more than the {} witness key(s): give the witnesses with `--witness-key`, or a spec whose ledger names them (`--spec`)",
            keys.len()
        ));
    }
    if keys.is_empty() || quorum == 0 {
        if args.witnessed_file.is_some() && keys.is_empty() {
            return Err("`--witnessed` needs the witnesses' keys (`--witness-key`, or a spec whose ledger names witnesses)".into());
        }
        return Ok(None);
    }
    Ok(Some(WitnessCheck { keys, quorum, file: args.witnessed_file.clone() }))
}

impl SignedCheck {
    /// Loads the verifier keys, the trusted checkpoint, the spec's settings and the witness
    /// keys; `None` without `--verifier-key`.
    pub(crate) fn load(args: &SignedCheckArgs) -> Result<Option<SignedCheck>, String> {
        if args.verifier_key.is_empty() {
            if !args.specs.is_empty() {
                return Err(
                    "`--spec` gives the check against the signed checkpoints its origin and witnesses: give the log's verifier key with `--verifier-key`"
                        .into(),
                );
            }
            return Ok(None);
        }
        let verifiers = load_verifiers(&args.verifier_key)?;
        let trusted = match &args.trusted_checkpoint {
            Some(p) => Some((p.clone(), load_trusted(p, &verifiers)?)),
            None => None,
        };
        let spec = from_spec(args)?;
        let witnesses = witness_check(args, spec.as_ref())?;
        Ok(Some(SignedCheck {
            verifiers,
            trusted,
            signed_file: args.signed_file.clone(),
            origin: args.origin.clone().or(spec.map(|s| s.origin)),
            save: args.save_checkpoint.clone(),
            witnesses,
        }))
    }

    /// Runs the check on `ledger`, and saves the latest checkpoint when asked and clean.
    pub(crate) fn run(&self, ledger: &Path) -> Result<SignedOutcome, String> {
        let signed_file = self.signed_file.clone().unwrap_or_else(|| pip_runtime::ledger::signed::default_path(ledger));
        let witnessed_file = self.witnesses.as_ref().map(|w| w.file.clone().unwrap_or_else(|| witnessed::default_path(ledger)));
        let options = VerifyOptions {
            origin: self.origin.as_deref(),
            trusted: self.trusted.as_ref().map(|(_, t)| t),
            witnesses: self.witnesses.as_ref().zip(witnessed_file.as_deref()).map(|(w, file)| WitnessRequirement {
                file,
                keys: &w.keys,
                quorum: w.quorum,
            }),
        };
        let v = verify_signed_with(ledger, &signed_file, &self.verifiers, &options).map_err(|e| e.to_string())?;
        let mut outcome = SignedOutcome {
            signed_file,
            witnessed_file,
            v,
            trusted: self.trusted.as_ref().map(|(p, t)| (p.clone(), t.checkpoint.size)),
            saved: None,
        };
        if let Some(path) = &self.save {
            outcome.saved = Some(match (&outcome.v.latest, outcome.is_clean()) {
                (Some(note), true) => {
                    let mut tmp = path.as_os_str().to_os_string();
                    tmp.push(".tmp");
                    write_atomic(path, Path::new(&tmp), note.as_bytes())
                        .map(|()| path.clone())
                        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
                }
                (None, _) => Err("no signed checkpoint verified".to_string()),
                (Some(_), false) => Err("the ledger does not agree with its signed checkpoints".to_string()),
            });
        }
        Ok(outcome)
    }
}

impl SignedOutcome {
    /// Whether the signed check found nothing wrong (and the signatures cover something).
    pub(crate) fn is_clean(&self) -> bool {
        self.v.is_clean()
    }

    /// Whether saving the latest checkpoint was asked for and failed.
    pub(crate) fn save_failed(&self) -> bool {
        matches!(self.saved, Some(Err(_)))
    }

    /// The entries after the last signed checkpoint, when there are any.
    fn uncovered(&self) -> Option<(u64, u64)> {
        (self.v.uncovered() > 0).then_some((self.v.covered + 1, self.v.entries))
    }

    /// The lines for people: one per problem, then the summary. `hmac_checked` says whether
    /// the HMAC key checked the entries the signatures do not cover.
    pub(crate) fn print_human(&self, out: &mut Out<'_>, ledger: &Path, hmac_checked: bool) {
        let shown = |s: &str| pip_runtime::untrusted::shown(s.as_bytes());
        for p in &self.v.problems {
            let _ = writeln!(out.stdout, "{}: {}", p.class(), shown(&p.to_string()));
        }
        let origin = self.v.origin.as_deref().map(|o| format!(" of `{}`", shown(o))).unwrap_or_default();
        let covered = if self.v.covered > 0 {
            format!("the signatures cover entries 1..={} of {}", self.v.covered, self.v.entries)
        } else {
            format!("the signatures cover none of the {} entries", self.v.entries)
        };
        let verdict = if self.is_clean() { "clean".to_string() } else { format!("{} problem(s)", self.v.problems.len()) };
        let _ = writeln!(
            out.stdout,
            "{}: signed checkpoints{origin} in `{}`: {} verified; {covered}; {verdict}",
            ledger.display(),
            self.signed_file.display(),
            self.v.checkpoints
        );
        if let Some((from, to)) = self.uncovered().filter(|_| self.v.covered > 0) {
            let how = if hmac_checked { "the HMAC key checked them above" } else { "only the HMAC key checks them (`--key-file`)" };
            let _ = writeln!(out.stdout, "entries {from}..={to} come after the last signed checkpoint: {how}");
        }
        if let Some((path, size)) = &self.trusted {
            let broken = self.v.problems.iter().any(|p| {
                matches!(
                    p,
                    SignedProblem::BehindTrusted { .. }
                        | SignedProblem::ForkedFromTrusted { .. }
                        | SignedProblem::TrustedOtherOrigin { .. }
                )
            });
            if !broken {
                let _ =
                    writeln!(out.stdout, "the ledger reaches the trusted checkpoint `{}` (size {size}) and agrees with it", path.display());
            }
        }
        let latest = self.v.latest.as_ref().map(|_| self.v.covered);
        match (&self.saved, latest) {
            (Some(Ok(p)), Some(size)) => {
                let _ = writeln!(
                    out.stdout,
                    "latest verified checkpoint (size {size}) saved to `{}`: pass it as `--trusted-checkpoint` next time",
                    p.display()
                );
            }
            (Some(Err(why)), _) => {
                let _ = writeln!(out.stdout, "latest checkpoint not saved: {why}");
            }
            (_, Some(size)) => {
                let _ = writeln!(
                    out.stdout,
                    "latest verified checkpoint: size {size}; keep it with `--save-checkpoint FILE` and pass it as `--trusted-checkpoint FILE` next time"
                );
            }
            (_, None) => {}
        }
        self.print_witnessed(out);
    }

    /// What the witnesses cosigned, when they were required: the entries a quorum covers,
    /// then each witness's latest cosigned checkpoint.
    fn print_witnessed(&self, out: &mut Out<'_>) {
        let (Some(w), Some(file)) = (&self.v.witnessed, &self.witnessed_file) else { return };
        let shown = |s: &str| pip_runtime::untrusted::shown(s.as_bytes());
        let met = if w.quorum_met { "met" } else { "not met" };
        let _ = writeln!(out.stdout, "cosigned checkpoints in `{}`: {} notes read; the quorum is {met}", file.display(), w.notes);
        let _ = writeln!(
            out.stdout,
            "{} entries covered by checkpoints cosigned by {} of {} witnesses",
            w.covered,
            w.quorum,
            w.witnesses.len()
        );
        if w.quorum_met && w.covered < self.v.entries {
            let _ =
                writeln!(out.stdout, "entries {}..={} are not yet in a checkpoint cosigned by the quorum", w.covered + 1, self.v.entries);
        }
        for s in &w.witnesses {
            let what = match s.latest {
                Some(c) => format!("cosigned size {} at {}", c.size, time(c.timestamp)),
                None => "cosigned nothing".to_string(),
            };
            let _ = writeln!(out.stdout, "witness `{}` {what}", shown(&s.name));
        }
        if w.torn_bytes > 0 {
            let _ = writeln!(
                out.stdout,
                "the cosigned checkpoint file ends in {} bytes of an unfinished note (a write cut off), not counted",
                w.torn_bytes
            );
        }
    }

    /// The JSON object of the `signed` field.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let problems: Vec<serde_json::Value> =
            self.v.problems.iter().map(|p| serde_json::json!({ "class": p.class(), "message": p.to_string() })).collect();
        serde_json::json!({
            "signed_file": self.signed_file.display().to_string(),
            "origin": self.v.origin,
            "clean": self.is_clean(),
            "checkpoints": self.v.checkpoints,
            "entries": self.v.entries,
            "covered": self.v.covered,
            "uncovered": self.uncovered().map(|(from, to)| serde_json::json!({ "from": from, "to": to })),
            "trusted": self.trusted.as_ref().map(|(p, size)| serde_json::json!({ "file": p.display().to_string(), "size": size })),
            "latest": self.v.latest,
            "saved_to": match &self.saved {
                Some(Ok(p)) => serde_json::Value::String(p.display().to_string()),
                _ => serde_json::Value::Null,
            },
            "save_error": match &self.saved {
                Some(Err(e)) => serde_json::Value::String(e.clone()),
                _ => serde_json::Value::Null,
            },
            "problems": problems,
            "witnessed": self.witnessed_json(),
        })
    }

    /// The `witnessed` field: `null` unless witnesses were required.
    fn witnessed_json(&self) -> serde_json::Value {
        let (Some(w), Some(file)) = (&self.v.witnessed, &self.witnessed_file) else { return serde_json::Value::Null };
        let witnesses: Vec<serde_json::Value> = w
            .witnesses
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "key_id": format!("{:08x}", s.key_id),
                    "size": s.latest.map(|c| c.size),
                    "timestamp": s.latest.map(|c| c.timestamp),
                    "time": s.latest.map(|c| time(c.timestamp)),
                })
            })
            .collect();
        serde_json::json!({
            "file": file.display().to_string(),
            "quorum": w.quorum,
            "witness_count": w.witnesses.len(),
            "quorum_met": w.quorum_met,
            "covered": w.covered,
            "cosigners": w.cosigners,
            "notes": w.notes,
            "torn_bytes": w.torn_bytes,
            "witnesses": witnesses,
        })
    }
}

/// A cosignature's timestamp (POSIX seconds) as RFC 3339.
fn time(seconds: u64) -> String {
    pip_runtime::ledger::timefmt::format_millis(seconds.saturating_mul(1000))
}
