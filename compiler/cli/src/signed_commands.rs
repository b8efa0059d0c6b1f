//! Signed checkpoints from the shell: `keygen --signing`, the signing key of `log append`,
//! the verifier-key half of `verify-log` (in `verify_log`), `log prove`,
//! `log consistency` and `verify-proof`. The work is in [`pip_runtime::ledger::signed`];
//! here keys are read and written, and outcomes printed.

mod verify_log;

pub(crate) use verify_log::{SignedCheck, SignedOutcome};

use std::io::Write;
use std::path::{Path, PathBuf};

use pip_runtime::ledger::note::{Checkpoint, NoteSigner, NoteVerifier, NoteVerifiers, SignatureType, SignedNote};
use pip_runtime::ledger::signed::proof::{
    CONSISTENCY_KIND, ConsistencyProof, INCLUSION_KIND, InclusionProof, ProveError, Prover, verify_consistency, verify_inclusion,
};
use pip_runtime::ledger::signed::verify::Trusted;
use pip_runtime::ledger::signed::{Signing, default_origin, is_valid_origin};
use zeroize::Zeroizing;

use crate::out::{Out, write_atomic};
use crate::spec_ledger::spec_ledger;
use crate::{EXIT_FAIL, EXIT_OK, EXIT_USAGE, ReportFormat};

/// Most bytes read from a key file, a verifier key file or a trusted checkpoint.
const MAX_KEY_FILE: u64 = 1 << 20;
/// Most bytes read from a proof document.
const MAX_PROOF_FILE: u64 = 64 << 20;

/// The checkpoint origin of the ledger the specs declare: the spec's `origin`, else
/// `pip/<spec>/<ledger>`; and whether the spec gives the ledger a `signing_key`.
fn spec_origin(specs: &[PathBuf], name: Option<&str>) -> Result<(String, bool), String> {
    let (spec, l) = spec_ledger(specs, name)?;
    Ok(match &l.signing {
        Some(s) => (s.origin.clone(), true),
        None => (default_origin(&spec, &l.name), false),
    })
}

/// `pipc keygen --signing`: writes a new Ed25519 checkpoint signing key to `output` (Go's
/// private key text, owner-only, never over an existing file) and prints its verifier key on
/// stdout, never the private key.
pub(crate) fn keygen(out: &mut Out<'_>, output: &Path, name: Option<&str>, specs: &[PathBuf], ledger: Option<&str>) -> u8 {
    let name = match (name, specs.is_empty()) {
        (Some(n), _) => n.to_string(),
        (None, false) => match spec_origin(specs, ledger) {
            Ok((origin, _)) => origin,
            Err(e) => {
                out.err(e);
                return EXIT_USAGE;
            }
        },
        (None, true) => {
            out.err("name the signing key with `--name`, or name its ledger with `--spec` (and `--ledger`) to use its checkpoint origin");
            return EXIT_USAGE;
        }
    };
    if !is_valid_origin(&name) {
        out.err(format!(
            "`{}` cannot name a signing key: it must be non-empty, at most 255 bytes, without spaces, `+` or control characters",
            pip_runtime::untrusted::shown(name.as_bytes())
        ));
        return EXIT_USAGE;
    }
    let signer = match NoteSigner::generate(&name, SignatureType::Ed25519) {
        Ok(s) => s,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    if let Err(code) = write_new_key(out, output, &signer) {
        return code;
    }
    let verifier = signer.verifier();
    let _ = writeln!(out.stdout, "{}", verifier.to_text());
    let _ = writeln!(
        out.stderr,
        "wrote a new checkpoint signing key `{}` (key id {:08x}) to `{}`; keep it secret. The verifier key above is public: give it to whoever checks the ledger",
        signer.name(),
        signer.key_id(),
        output.display()
    );
    EXIT_OK
}

/// Writes a new key's private text to `output`: owner-only, never over an existing file, and
/// removed again when the write fails. `Err` is the exit code, the reason printed.
fn write_new_key(out: &mut Out<'_>, output: &Path, signer: &NoteSigner) -> Result<(), u8> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(output) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            out.err(format!("key file `{}` exists already; pipc never overwrites a key", output.display()));
            return Err(EXIT_USAGE);
        }
        Err(e) => {
            out.err(format!("cannot write `{}`: {e}", output.display()));
            return Err(EXIT_USAGE);
        }
    };
    let mut text = signer.to_private_text();
    text.push('\n');
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(output);
        out.err(format!("cannot write `{}`: {e}", output.display()));
        return Err(EXIT_USAGE);
    }
    Ok(())
}

/// `pipc keygen --signing --cosigner`: writes a new `cosignature/v1` key for a witness (`pipc
/// witness serve`) to `output`, as [`keygen`] does, and prints its verifier key on stdout.
pub(crate) fn keygen_cosigner(out: &mut Out<'_>, output: &Path, name: Option<&str>) -> u8 {
    let Some(name) = name else {
        out.err("name the witness key with `--name` (e.g. the witness's host name)");
        return EXIT_USAGE;
    };
    let signer = match NoteSigner::generate(name, SignatureType::CosignatureV1) {
        Ok(s) => s,
        Err(e) => {
            out.err(format!("`{}` cannot name a witness key: {e}", pip_runtime::untrusted::shown(name.as_bytes())));
            return EXIT_USAGE;
        }
    };
    if let Err(code) = write_new_key(out, output, &signer) {
        return code;
    }
    let _ = writeln!(out.stdout, "{}", signer.verifier().to_text());
    let _ = writeln!(
        out.stderr,
        "wrote a new witness cosigning key `{}` (key id {:08x}) to `{}`; keep it secret. The verifier key above is public: give it to the logs the witness cosigns for",
        signer.name(),
        signer.key_id(),
        output.display()
    );
    EXIT_OK
}

/// Loads a signing key file, warning on stderr when its group or others can read it.
pub(crate) fn load_signer(out: &mut Out<'_>, path: &Path) -> Result<NoteSigner, String> {
    let (bytes, meta) = pip_runtime::fsread::read_with_metadata(path, MAX_KEY_FILE, "a signing key file")
        .map_err(|e| format!("cannot read the signing key `{}`: {e}", path.display()))?;
    let bytes = Zeroizing::new(bytes);
    exposure_warning(out, path, &meta);
    let text = std::str::from_utf8(&bytes).map_err(|_| format!("the signing key `{}` is not text", path.display()))?;
    NoteSigner::parse_private(text.trim()).map_err(|e| format!("the signing key `{}` is not a note signing key: {e}", path.display()))
}

/// Warns, as for the HMAC key file, when a signing key file is open to its group or others.
fn exposure_warning(out: &mut Out<'_>, path: &Path, meta: &std::fs::Metadata) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        let who = match (mode & 0o070 != 0, mode & 0o007 != 0) {
            (false, false) => return,
            (true, false) => "its group",
            (false, true) => "others",
            (true, true) => "its group and others",
        };
        out.err(format!(
            "warning: signing key file `{}` is accessible to {who} (mode {mode:04o}); a signing key must be private to its owner",
            path.display()
        ));
        let _ =
            writeln!(out.stderr, "  help: whoever can read the key can sign checkpoints that verify; run `chmod 600 {}`", path.display());
    }
    #[cfg(not(unix))]
    {
        let _ = (out, path, meta);
    }
}

/// What `log append` signs its checkpoints with: `--signing-key` and its origin (`--origin`,
/// else the spec's, else the key's name). A spec whose ledger has a `signing_key` needs one.
pub(crate) fn append_signing(
    out: &mut Out<'_>,
    signing_key: Option<&Path>,
    origin: Option<&str>,
    specs: &[PathBuf],
    name: Option<&str>,
) -> Result<Option<Signing>, String> {
    let from_spec = if specs.is_empty() { None } else { Some(spec_origin(specs, name)?) };
    let Some(path) = signing_key else {
        if let Some((_, true)) = from_spec {
            return Err("the spec's ledger signs its checkpoints (`signing_key`): give the key with `--signing-key`".into());
        }
        return Ok(None);
    };
    let signer = load_signer(out, path)?;
    let origin = origin.map(str::to_string).or(from_spec.map(|(o, _)| o)).unwrap_or_else(|| signer.name().to_string());
    Signing::new(signer, origin).map_err(|e| format!("cannot sign checkpoints: {e}")).map(Some)
}

/// The verifier keys: each argument a file of key lines (blank lines and `#` comments
/// skipped), or, when no such file exists, a key itself.
pub(crate) fn load_verifiers(args: &[String]) -> Result<NoteVerifiers, String> {
    NoteVerifiers::new(load_verifier_keys(args, "verifier key", "`pipc keygen --signing`")?).map_err(|e| e.to_string())
}

/// The keys of [`load_verifiers`], in order, as a list; `what` names them in messages (e.g.
/// `verifier key`) and `printer` says which command prints them.
pub(crate) fn load_verifier_keys(args: &[String], what: &str, printer: &str) -> Result<Vec<NoteVerifier>, String> {
    let private = |whose: &str| format!("{whose} is a private key: give the {what} (public), as {printer} printed it");
    let mut keys = Vec::new();
    for a in args {
        let path = Path::new(a);
        if path.exists() {
            let bytes = pip_runtime::fsread::read(path, MAX_KEY_FILE, "a verifier key file")
                .map_err(|e| format!("cannot read the {what} file `{a}`: {e}"))?;
            let bytes = Zeroizing::new(bytes);
            let text = std::str::from_utf8(&bytes).map_err(|_| format!("the {what} file `{a}` is not text"))?;
            let before = keys.len();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if line.starts_with("PRIVATE+") {
                    return Err(private(&format!("line {} of `{a}`", n + 1)));
                }
                keys.push(NoteVerifier::parse(line).map_err(|e| format!("line {} of `{a}` is not a {what}: {e}", n + 1))?);
            }
            if keys.len() == before {
                return Err(format!("the {what} file `{a}` holds no key"));
            }
        } else if a.trim().starts_with("PRIVATE+") {
            return Err(private(&format!("a `--{}`", what.replace(' ', "-"))));
        } else {
            let shown = pip_runtime::untrusted::shown(a.as_bytes());
            keys.push(NoteVerifier::parse(a.trim()).map_err(|e| format!("`{shown}` is neither a file nor a {what}: {e}"))?);
        }
    }
    Ok(keys)
}

/// Opens a trusted checkpoint note kept from an earlier run; it must verify with `verifiers`.
pub(crate) fn load_trusted(path: &Path, verifiers: &NoteVerifiers) -> Result<Trusted, String> {
    let bytes = pip_runtime::fsread::read(path, MAX_KEY_FILE, "a signed checkpoint")
        .map_err(|e| format!("cannot read the trusted checkpoint `{}`: {e}", path.display()))?;
    Trusted::open(&bytes, verifiers)
        .map_err(|e| format!("the trusted checkpoint `{}` does not verify with the verifier key: {e}", path.display()))
}

/// Writes `text` to `output`, or to stdout without one.
fn emit(out: &mut Out<'_>, output: Option<&Path>, text: &str) -> Result<(), String> {
    match output {
        None => {
            let _ = writeln!(out.stdout, "{text}");
            Ok(())
        }
        Some(p) => {
            let mut tmp = p.as_os_str().to_os_string();
            tmp.push(".tmp");
            write_atomic(p, Path::new(&tmp), format!("{text}\n").as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", p.display()))
        }
    }
}

fn prover(ledger: &Path) -> Result<Prover, ProveError> {
    Prover::open(ledger, &pip_runtime::ledger::signed::default_path(ledger), &pip_runtime::ledger::tree::default_path(ledger))
}

/// The exit code of a proof that could not be made: 1 when the ledger disagrees with its own
/// signed checkpoint, 2 otherwise. When no checkpoint fits, the sizes there are are listed.
fn prove_failed(out: &mut Out<'_>, prover: Option<&mut Prover>, e: &ProveError) -> u8 {
    out.err(e);
    if let (ProveError::NoCheckpoint(_), Some(p)) = (e, prover)
        && let Ok(checkpoints) = p.checkpoints()
    {
        let sizes: Vec<String> = checkpoints.map(|c| c.size.to_string()).collect();
        let listed = match sizes.len() {
            0 => "the ledger has no signed checkpoint".to_string(),
            n if n > 12 => {
                let (first, last): (Vec<&str>, Vec<&str>) =
                    (sizes.iter().take(6).map(String::as_str).collect(), sizes.iter().skip(n - 6).map(String::as_str).collect());
                format!("signed checkpoints have tree sizes {} ... {}", first.join(", "), last.join(", "))
            }
            _ => format!("signed checkpoints have tree sizes {}", sizes.join(", ")),
        };
        let _ = writeln!(out.stderr, "  help: {listed}");
    }
    if matches!(e, ProveError::Disagrees { .. }) { EXIT_FAIL } else { EXIT_USAGE }
}

/// `pipc log prove`: the inclusion proof of entry `seq`.
pub(crate) fn prove(out: &mut Out<'_>, ledger: &Path, seq: u64, size: Option<u64>, output: Option<&Path>) -> u8 {
    let mut p = match prover(ledger) {
        Ok(p) => p,
        Err(e) => return prove_failed(out, None, &e),
    };
    let proof = match p.inclusion(seq, size) {
        Ok(proof) => proof,
        Err(e) => return prove_failed(out, Some(&mut p), &e),
    };
    let text = match serde_json::to_string_pretty(&proof) {
        Ok(t) => t,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    if let Err(e) = emit(out, output, &text) {
        out.err(e);
        return EXIT_USAGE;
    }
    let _ = writeln!(out.stderr, "proof that entry seq {seq} is in the signed tree of size {}", proof.tree_size);
    EXIT_OK
}

/// `pipc log consistency`: the proof that the signed tree of size `old` is a prefix of a later one.
pub(crate) fn consistency(out: &mut Out<'_>, ledger: &Path, old: u64, new: Option<u64>, output: Option<&Path>) -> u8 {
    let mut p = match prover(ledger) {
        Ok(p) => p,
        Err(e) => return prove_failed(out, None, &e),
    };
    let proof = match p.consistency(old, new) {
        Ok(proof) => proof,
        Err(e) => return prove_failed(out, Some(&mut p), &e),
    };
    let new_size = SignedNote::parse(proof.new_checkpoint.as_bytes()).and_then(|n| Checkpoint::parse(&n.text)).map(|c| c.size).ok();
    let text = match serde_json::to_string_pretty(&proof) {
        Ok(t) => t,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    if let Err(e) = emit(out, output, &text) {
        out.err(e);
        return EXIT_USAGE;
    }
    let new_size = new_size.map_or_else(|| "a later size".to_string(), |s| format!("size {s}"));
    let _ = writeln!(out.stderr, "proof that the signed tree of size {old} is a prefix of the one of {new_size}");
    EXIT_OK
}

/// What a verified proof establishes, for printing.
enum Established {
    Inclusion(pip_runtime::ledger::signed::proof::VerifiedInclusion),
    Consistency(pip_runtime::ledger::signed::proof::VerifiedConsistency),
}

/// Checks a proof document, of either kind, and the trusted checkpoint's conditions.
fn check_proof(bytes: &[u8], verifiers: &NoteVerifiers, trusted: Option<&Trusted>) -> Result<Established, String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not a valid proof: not JSON: {e}"))?;
    let kind = doc.get("kind").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    let malformed = |e: serde_json::Error| format!("not a valid proof: {e}");
    if kind == INCLUSION_KIND {
        let p: InclusionProof = serde_json::from_value(doc).map_err(malformed)?;
        let v = verify_inclusion(&p, verifiers).map_err(|e| e.to_string())?;
        if let Some(t) = trusted {
            let t = &t.checkpoint;
            if v.origin != t.origin {
                return Err(format!("the proof's checkpoint is of origin `{}`, not the trusted checkpoint's `{}`", v.origin, t.origin));
            }
            if v.tree_size < t.size {
                return Err(format!(
                    "the proof's checkpoint covers {} entries, fewer than the trusted checkpoint's {}: it is older than what you trust",
                    v.tree_size, t.size
                ));
            }
        }
        Ok(Established::Inclusion(v))
    } else if kind == CONSISTENCY_KIND {
        let p: ConsistencyProof = serde_json::from_value(doc).map_err(malformed)?;
        let v = verify_consistency(&p, verifiers).map_err(|e| e.to_string())?;
        if let Some(t) = trusted {
            check_consistency_against(&p, verifiers, &t.checkpoint)?;
        }
        Ok(Established::Consistency(v))
    } else {
        Err(format!("not a valid proof: `kind` is `{kind}`, not `{INCLUSION_KIND}` or `{CONSISTENCY_KIND}`"))
    }
}

/// A verified consistency proof against a trusted checkpoint: same log, ending at or beyond
/// it, and with its root wherever one of the proof's checkpoints has its size.
fn check_consistency_against(p: &ConsistencyProof, verifiers: &NoteVerifiers, t: &Checkpoint) -> Result<(), String> {
    let open = |m: &str| Checkpoint::open(m.as_bytes(), verifiers).map(|(c, _)| c).map_err(|e| e.to_string());
    let (old, new) = (open(&p.old_checkpoint)?, open(&p.new_checkpoint)?);
    if old.origin != t.origin {
        return Err(format!("the proof is of origin `{}`, not the trusted checkpoint's `{}`", old.origin, t.origin));
    }
    if new.size < t.size {
        return Err(format!("the proof ends at size {}, before the trusted checkpoint's {}", new.size, t.size));
    }
    for cp in [&old, &new] {
        if cp.size == t.size && cp.root != t.root {
            return Err(format!(
                "the proof's checkpoint of size {} has another root than the trusted checkpoint of that size: the log was forked",
                cp.size
            ));
        }
    }
    Ok(())
}

/// `pipc verify-proof`: checks an inclusion or consistency proof with the verifier keys alone.
pub(crate) fn verify_proof(out: &mut Out<'_>, proof: &Path, vkeys: &[String], trusted: Option<&Path>, format: ReportFormat) -> u8 {
    let verifiers = match load_verifiers(vkeys) {
        Ok(v) => v,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let trusted = match trusted.map(|t| load_trusted(t, &verifiers)).transpose() {
        Ok(t) => t,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let bytes = match pip_runtime::fsread::read(proof, MAX_PROOF_FILE, "a proof") {
        Ok(b) => b,
        Err(e) => {
            out.err(format!("cannot read `{}`: {e}", proof.display()));
            return EXIT_USAGE;
        }
    };
    let shown = |s: &str| pip_runtime::untrusted::shown(s.as_bytes());
    let outcome = check_proof(&bytes, &verifiers, trusted.as_ref());
    let trusted_size = trusted.as_ref().map(|t| t.checkpoint.size);
    match format {
        ReportFormat::Json => {
            let doc = match &outcome {
                Ok(Established::Inclusion(v)) => serde_json::json!({
                    "proof": proof.display().to_string(), "verified": true, "kind": INCLUSION_KIND, "origin": v.origin,
                    "tree_size": v.tree_size, "entry": v.fields, "trusted_size": trusted_size,
                }),
                Ok(Established::Consistency(v)) => serde_json::json!({
                    "proof": proof.display().to_string(), "verified": true, "kind": CONSISTENCY_KIND, "origin": v.origin,
                    "old_size": v.old_size, "new_size": v.new_size, "trusted_size": trusted_size,
                }),
                Err(e) => serde_json::json!({ "proof": proof.display().to_string(), "verified": false, "error": e }),
            };
            let _ = writeln!(out.stdout, "{doc}");
        }
        ReportFormat::Human => match &outcome {
            Ok(Established::Inclusion(v)) => {
                let f = &v.fields;
                let _ = writeln!(
                    out.stdout,
                    "{}: verified: entry seq {} ({}; {} {} {} {} -> {}; payload {}) is in the tree of size {} signed for `{}`",
                    proof.display(),
                    f.seq,
                    pip_runtime::ledger::timefmt::format_millis(f.ts_millis),
                    shown(&f.subsystem),
                    shown(&f.actor),
                    shown(&f.action),
                    shown(&f.resource),
                    shown(&f.result),
                    shown(&f.payload),
                    v.tree_size,
                    shown(&v.origin)
                );
            }
            Ok(Established::Consistency(v)) => {
                let _ = writeln!(
                    out.stdout,
                    "{}: verified: the signed tree of size {} is a prefix of the signed tree of size {} of `{}`: none of its entries was changed, dropped or reordered",
                    proof.display(),
                    v.old_size,
                    v.new_size,
                    shown(&v.origin)
                );
            }
            Err(e) => {
                let _ = writeln!(out.stdout, "{}: does not verify: {}", proof.display(), shown(e));
            }
        },
    }
    if format == ReportFormat::Human
        && let Some(size) = trusted_size
    {
        let said = match &outcome {
            Ok(Established::Inclusion(v)) => format!(
                "its checkpoint is of the trusted checkpoint's log and covers at least its {size} entries (size {}); that the two trees agree, a consistency proof from size {size} shows",
                v.tree_size
            ),
            Ok(Established::Consistency(_)) => format!("it reaches the trusted checkpoint of size {size} and agrees with it"),
            Err(_) => String::new(),
        };
        if !said.is_empty() {
            let _ = writeln!(out.stdout, "{said}");
        }
    }
    if outcome.is_ok() { EXIT_OK } else { EXIT_FAIL }
}
