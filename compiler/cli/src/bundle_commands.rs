//! `bundle` and `verify-bundle`: incident bundles from the shell (the work is in
//! [`pip_bundle`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pip_bundle::alerts::{self, PrometheusSource};
use pip_bundle::archive::Limits;
use pip_bundle::manifest::AnomalyInfo;
use pip_bundle::signed::SignedKeys;
use pip_bundle::{BuildOptions, BundleError, Keys, Progress, build, check_output, parse_window, verify_file_with};
use pip_runtime::ledger::timefmt::{format_millis, parse_millis};

use crate::out::{Out, write_atomic};
use crate::signed_commands::{load_trusted, load_verifier_keys, load_verifiers};
use crate::{BundleArgs, BundleSignedArgs, DEFAULT_SPECS, EXIT_FAIL, EXIT_OK, EXIT_USAGE, OptionalKeyArgs};

fn time(text: Option<&String>) -> Result<Option<u64>, String> {
    text.map(|t| parse_millis(t).map_err(|e| e.to_string())).transpose()
}

fn report(out: &mut Out<'_>, e: &BundleError) {
    out.err(e);
    if let Some(h) = e.help() {
        let _ = writeln!(out.stderr, "  help: {h}");
    }
}

/// `pipc bundle`: builds with [`pip_bundle::build`], writes the ZIP atomically, warns about
/// each anomaly a `--allow-anomalies` bundle records. Exit 2 for a usage error (the key, the
/// window, a path), 1 when the spec or the ledger is refused.
pub(crate) fn bundle(out: &mut Out<'_>, a: &BundleArgs) -> u8 {
    let key = match a.key.load(out) {
        Ok(k) => k,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let (from_ms, to_ms) = match (time(a.from.as_ref()), time(a.to.as_ref())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let window_ms = match a.window.as_deref().map(parse_window).transpose() {
        Ok(w) => w,
        Err(e) => {
            report(out, &e);
            return EXIT_USAGE;
        }
    };
    let prometheus = match (&a.prometheus, a.prometheus_timeout.as_deref().map(parse_window).transpose()) {
        (_, Err(e)) => {
            report(out, &e);
            return EXIT_USAGE;
        }
        (Some(url), Ok(timeout)) => {
            Some(PrometheusSource { url: url.clone(), timeout: timeout.map_or(alerts::DEFAULT_TIMEOUT, std::time::Duration::from_millis) })
        }
        (None, Ok(_)) => None,
    };
    let ledgers: Vec<(Option<String>, PathBuf)> = a
        .ledgers
        .iter()
        .map(|l| match l.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains(['/', '\\']) => (Some(n.to_string()), PathBuf::from(p)),
            _ => (None, PathBuf::from(l)),
        })
        .collect();
    let opts = BuildOptions {
        specs: if a.specs.is_empty() { vec![PathBuf::from(DEFAULT_SPECS)] } else { a.specs.clone() },
        bundle: a.bundle.clone(),
        ledgers,
        checkpoints: a.checkpoints.clone(),
        key,
        window_ms,
        from_ms,
        to_ms,
        timeline_max_rows: a.timeline_rows,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
        allow_anomalies: a.allow_anomalies,
        signing_key: a.signing_key.clone(),
        signed_file: a.signed_file.clone(),
        prometheus,
    };
    if let Err(e) = check_output(&a.output, &opts, a.key.key_file.as_deref(), a.force) {
        out.err(format!("{e}; nothing written"));
        return EXIT_USAGE;
    }
    let progress = if std::io::stderr().is_terminal() {
        let p = ProgressBar::with_draw_target(Some(5), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            p.set_style(style);
        }
        p
    } else {
        ProgressBar::hidden()
    };
    let built = build(&opts, &Bar(&progress));
    progress.finish_and_clear();
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            report(out, &e);
            // No answer from Prometheus judges no evidence: like a usage error, nothing was judged.
            return if matches!(e, BundleError::Usage(_) | BundleError::Alerts(_)) { EXIT_USAGE } else { EXIT_FAIL };
        }
    };
    let mut tmp = a.output.as_os_str().to_os_string();
    tmp.push(".pipc-tmp");
    if let Err(e) = write_atomic(&a.output, Path::new(&tmp), &built.zip) {
        out.err(format!("cannot write `{}`: {e}", a.output.display()));
        return EXIT_USAGE;
    }
    for w in &built.warnings {
        out.err(format!("warning: {w}"));
    }
    let m = &built.manifest;
    for l in &m.ledgers {
        for an in &l.anomalies {
            let _ = writeln!(
                out.stderr,
                "pipc: warning: ledger `{}` {}{}: {}{}",
                l.name,
                an.class,
                an.seq.map(|s| format!(" at seq {s}")).unwrap_or_default(),
                an.detail,
                repeats(an)
            );
        }
    }
    let _ = writeln!(
        out.stderr,
        "wrote `{}`: bundle `{}.{}`, {} bytes (cap {}), {} entries from {} to {}, {} files",
        a.output.display(),
        m.spec.name,
        m.bundle,
        built.zip.len(),
        m.max_size_bytes,
        built.entries,
        format_millis(m.window.from_ms),
        format_millis(m.window.to_ms),
        m.files.len() + 1 + m.signed_files().len() + usize::from(m.signature.is_some())
    );
    if let Some(sig) = &m.signature {
        let _ =
            writeln!(out.stderr, "  manifest signed with the checkpoint signing key (`{}`, origin {})", sig.path, sig.origins.join(", "));
    }
    for l in &m.ledgers {
        match (&l.signed, l.last_seq) {
            (Some(s), Some(last)) => {
                let _ = writeln!(
                    out.stderr,
                    "  ledger `{}`: entries {}..{} covered by the signed checkpoint of size {} (origin {}){}{}",
                    l.name,
                    s.first_leaf + 1,
                    s.signed_through,
                    s.checkpoint_size,
                    s.origin,
                    if s.witnessed.is_some() { ", with its witness cosignatures" } else { "" },
                    if last > s.signed_through {
                        format!(
                            "; entries {}..{last} are past the last signed checkpoint: only the ledger key (HMAC) checks them",
                            s.signed_through + 1
                        )
                    } else {
                        String::new()
                    }
                );
            }
            (None, Some(_)) if m.signature.is_some() => {
                let _ = writeln!(
                    out.stderr,
                    "  ledger `{}`: no signed checkpoint covers its entries yet: only the ledger key (HMAC) checks them",
                    l.name
                );
            }
            _ => {}
        }
    }
    EXIT_OK
}

/// The verifier-side keys of `verify-bundle`'s flags; `None` without `--verifier-key`.
fn signed_keys(a: &BundleSignedArgs) -> Result<Option<SignedKeys>, String> {
    if a.verifier_key.is_empty() {
        return Ok(None);
    }
    let verifiers = load_verifiers(&a.verifier_key)?;
    let witnesses = if a.witness_key.is_empty() {
        None
    } else {
        Some(load_verifier_keys(&a.witness_key, "witness key", "`pipc keygen --signing --cosigner`")?)
    };
    let trusted = a.trusted_checkpoint.as_deref().map(|p| load_trusted(p, &verifiers)).transpose()?.map(|t| t.checkpoint);
    Ok(Some(SignedKeys { verifiers, witnesses, quorum: a.witness_quorum, trusted }))
}

/// `pipc verify-bundle`: one summary line on stdout when every check passes; exit 1 when a
/// check fails or the bundled ledger carries recorded anomalies, 2 when the file or key
/// cannot be read.
pub(crate) fn verify_bundle(out: &mut Out<'_>, path: &Path, key: &OptionalKeyArgs, signed: &BundleSignedArgs) -> u8 {
    let key = match key.given().map(|k| k.load(out)).transpose() {
        Ok(k) => k,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let signed = match signed_keys(signed) {
        Ok(s) => s,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    if key.is_none() && signed.is_none() {
        out.err("give the ledger key (`--key-file` or `--key-env`), a verifier key (`--verifier-key`), or both");
        return EXIT_USAGE;
    }
    match verify_file_with(path, Keys { hmac: key.as_ref(), signed: signed.as_ref() }, &Limits::default()) {
        Ok(v) => {
            let m = &v.manifest;
            let checked_by = match (&key, &signed) {
                (Some(k), Some(_)) => format!("manifest MAC ok (key id {}) and manifest signature ok", k.id_hex()),
                (Some(k), None) => format!("manifest MAC ok (key id {})", k.id_hex()),
                _ => "manifest signature ok (verifier key; the ledger key was not used)".to_string(),
            };
            let _ = writeln!(
                out.stdout,
                "{}: verified: spec `{}` {} (sha256 {}), bundle `{}`, window {} to {}; {} files, {} ledger entries{}; {checked_by}",
                path.display(),
                m.spec.name,
                m.spec.version,
                m.spec.sha256,
                m.bundle,
                format_millis(m.window.from_ms),
                format_millis(m.window.to_ms),
                v.files,
                v.entries,
                if v.mac_checked { format!(" bound to {} checkpoint(s)", v.checkpoints) } else { String::new() },
            );
            for c in &v.signed {
                let _ = writeln!(
                    out.stdout,
                    "  entries {}..{} of ledger `{}` covered by the signed checkpoint of size {} (origin {}); {} of {} required witness cosignature(s)",
                    c.first_seq, c.signed_through, c.ledger, c.checkpoint_size, c.origin, c.cosignatures, c.quorum
                );
                if c.last_seq > c.signed_through {
                    let _ = writeln!(
                        out.stdout,
                        "  entries {}..{} of ledger `{}` are past the signed checkpoint: {}",
                        c.signed_through + 1,
                        c.last_seq,
                        c.ledger,
                        if v.mac_checked { "checked with the ledger key (HMAC) only" } else { "only checkable with the ledger key (HMAC)" }
                    );
                }
                if let Some(t) = c.trusted_older {
                    let _ = writeln!(
                        out.stdout,
                        "  the trusted checkpoint (size {t}) is older: the bundle does not show it consistent with size {}; check with `pipc log consistency`",
                        c.checkpoint_size
                    );
                }
            }
            for l in &v.unsigned_ledgers {
                let _ = writeln!(
                    out.stdout,
                    "  ledger `{l}`: no signed checkpoint covers its entries: {}",
                    if v.mac_checked { "checked with the ledger key (HMAC) only" } else { "only checkable with the ledger key (HMAC)" }
                );
            }
            // The bundle is intact, but its ledger was not when it was bundled
            // (`--allow-anomalies`): the evidence is not clean, and a script must not read
            // this as a pass.
            let recorded: Vec<(&str, &AnomalyInfo)> =
                m.ledgers.iter().flat_map(|l| l.anomalies.iter().map(move |a| (l.name.as_str(), a))).collect();
            for (name, an) in &recorded {
                let _ = writeln!(
                    out.stdout,
                    "  but ledger `{name}` did not verify when it was bundled: {}{} ({} file): {}{}",
                    an.class,
                    an.seq.map(|s| format!(" at seq {s}")).unwrap_or_default(),
                    an.file,
                    an.detail,
                    repeats(an)
                );
            }
            // A run of alike anomalies counts as its number.
            let count: u64 = recorded.iter().map(|(_, a)| a.count).sum();
            if recorded.is_empty() {
                EXIT_OK
            } else {
                out.err(format!(
                    "`{}`: {} anomal{} recorded in the bundled ledger",
                    path.display(),
                    count,
                    if count == 1 { "y" } else { "ies" }
                ));
                EXIT_FAIL
            }
        }
        // A file too large to be a bundle is a finding; one that cannot be read, a usage error.
        Err(e @ BundleError::Refused { .. }) => {
            out.err(e);
            EXIT_FAIL
        }
        Err(e @ BundleError::Read { .. }) => {
            out.err(e);
            EXIT_USAGE
        }
        Err(e) => {
            out.err(format!("`{}` does not verify: {e}", path.display()));
            EXIT_FAIL
        }
    }
}

/// Draws [`pip_bundle::build`]'s stages on a progress bar.
struct Bar<'a>(&'a ProgressBar);

impl Progress for Bar<'_> {
    fn stage(&self, message: &str) {
        self.0.set_message(message.to_string());
    }

    fn advance(&self) {
        self.0.inc(1);
    }
}

/// The end of a run of alike anomalies, for messages (nothing for a single one).
fn repeats(an: &AnomalyInfo) -> String {
    match (an.count, an.last_seq) {
        (1, _) => String::new(),
        (n, Some(s)) => format!(" (and {} more like it, the last at seq {s})", n.saturating_sub(1)),
        (n, None) => format!(" (and {} more like it)", n.saturating_sub(1)),
    }
}
