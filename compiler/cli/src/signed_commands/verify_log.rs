//! The verifier-key half of `pipc verify-log`: the ledger checked against its signed
//! checkpoints (and a trusted checkpoint) with public keys alone, and what that proves.

use std::path::{Path, PathBuf};

use pip_runtime::ledger::note::NoteVerifiers;
use pip_runtime::ledger::signed::verify::{SignedProblem, SignedVerification, Trusted, verify_signed};

use super::{load_trusted, load_verifiers};
use crate::SignedCheckArgs;
use crate::out::{Out, write_atomic};

/// The signed check `verify-log` was asked for, its keys loaded.
pub(crate) struct SignedCheck {
    verifiers: NoteVerifiers,
    trusted: Option<(PathBuf, Trusted)>,
    signed_file: Option<PathBuf>,
    origin: Option<String>,
    save: Option<PathBuf>,
}

/// What the signed check found.
pub(crate) struct SignedOutcome {
    signed_file: PathBuf,
    v: SignedVerification,
    trusted: Option<(PathBuf, u64)>,
    /// Where the latest checkpoint was saved, or why it was not.
    saved: Option<Result<PathBuf, String>>,
}

impl SignedCheck {
    /// Loads the verifier keys and the trusted checkpoint; `None` without `--verifier-key`.
    pub(crate) fn load(args: &SignedCheckArgs) -> Result<Option<SignedCheck>, String> {
        if args.verifier_key.is_empty() {
            return Ok(None);
        }
        let verifiers = load_verifiers(&args.verifier_key)?;
        let trusted = match &args.trusted_checkpoint {
            Some(p) => Some((p.clone(), load_trusted(p, &verifiers)?)),
            None => None,
        };
        Ok(Some(SignedCheck {
            verifiers,
            trusted,
            signed_file: args.signed_file.clone(),
            origin: args.origin.clone(),
            save: args.save_checkpoint.clone(),
        }))
    }

    /// Runs the check on `ledger`, and saves the latest checkpoint when asked and clean.
    pub(crate) fn run(&self, ledger: &Path) -> Result<SignedOutcome, String> {
        let signed_file = self.signed_file.clone().unwrap_or_else(|| pip_runtime::ledger::signed::default_path(ledger));
        let trusted = self.trusted.as_ref().map(|(_, t)| t);
        let v = verify_signed(ledger, &signed_file, &self.verifiers, self.origin.as_deref(), trusted).map_err(|e| e.to_string())?;
        let mut outcome =
            SignedOutcome { signed_file, v, trusted: self.trusted.as_ref().map(|(p, t)| (p.clone(), t.checkpoint.size)), saved: None };
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
        })
    }
}
