//! `bundle` and `verify-bundle`: incident bundles from the shell (the work is in
//! [`crate::bundle`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pip_runtime::fsread;
use pip_runtime::ledger::timefmt::{format_millis, parse_millis};

use crate::bundle::archive::Limits;
use crate::bundle::manifest::AnomalyInfo;
use crate::bundle::{BuildOptions, BundleError, build, parse_window, timeline, verify};
use crate::commands::Out;
use crate::{DEFAULT_SPECS, EXIT_FAIL, EXIT_OK, EXIT_USAGE, KeyArgs};

/// The arguments of `pipc bundle`.
#[derive(Debug, Clone, clap::Args)]
pub struct BundleArgs {
    /// Spec files or directories (default: specs/).
    #[arg(long = "spec", value_name = "PATH")]
    pub specs: Vec<PathBuf>,
    /// The bundle (`incident` or `payments.incident`; needed when the specs declare several).
    #[arg(long)]
    pub bundle: Option<String>,
    /// The ledger file, or `NAME=FILE` for each ledger when the bundle includes several.
    #[arg(long = "ledger", value_name = "[NAME=]FILE", required = true)]
    pub ledgers: Vec<String>,
    /// The checkpoint file (default: LEDGER.ckpt when it exists).
    #[arg(long, value_name = "FILE")]
    pub checkpoints: Option<PathBuf>,
    /// The key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Window length ending at `--to` (default: the spec's `window`).
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub window: Option<String>,
    /// Start of the window (RFC 3339, a date, or Unix milliseconds; inclusive).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window (exclusive; default: just after the ledger's last entry).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Most events the timeline lists (every event is in the ledger slice regardless).
    #[arg(long, value_name = "N", default_value_t = timeline::DEFAULT_MAX_ROWS)]
    pub timeline_rows: usize,
    /// Bundle the window even when the rest of the ledger does not verify (entries cut off
    /// after a checkpoint, a changed entry, a forged checkpoint): the anomalies are recorded
    /// in the manifest and the timeline, and `verify-bundle` reports them and exits 1. The
    /// window's own entries must verify regardless.
    #[arg(long)]
    pub allow_anomalies: bool,
    /// The ZIP to write (never one of the command's inputs; an existing file only with `--force`).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the output file when it exists.
    #[arg(long)]
    pub force: bool,
}

/// Refuses an output that exists (without `--force`) or that is one of the inputs: a bundle
/// must never replace the evidence, the key or the spec it is made from.
fn check_output(a: &BundleArgs, ledgers: &[(Option<String>, PathBuf)]) -> Result<(), String> {
    let out = &a.output;
    let Ok(meta) = std::fs::metadata(out) else { return Ok(()) };
    if meta.is_dir() {
        return Err(format!("`{}` is a directory; name the ZIP file to write", out.display()));
    }
    // It exists, so it resolves (a failure only skips the input checks below).
    let resolved = std::fs::canonicalize(out).ok();
    let same = |p: &Path| resolved.is_some() && std::fs::canonicalize(p).ok() == resolved;
    let mut inputs: Vec<PathBuf> = ledgers.iter().map(|(_, p)| p.clone()).collect();
    inputs.extend(ledgers.iter().map(|(_, p)| pip_runtime::ledger::checkpoint::default_path(p)));
    inputs.extend(a.checkpoints.iter().cloned());
    inputs.extend(a.key.key_file.iter().cloned());
    if let Some(input) = inputs.iter().find(|p| same(p)) {
        return Err(format!(
            "`-o {}` is one of the inputs (`{}`); a bundle never replaces its evidence or key",
            out.display(),
            input.display()
        ));
    }
    let specs = if a.specs.is_empty() { vec![PathBuf::from(DEFAULT_SPECS)] } else { a.specs.clone() };
    if let Some(canon) = &resolved
        && specs.iter().filter_map(|s| std::fs::canonicalize(s).ok()).any(|s| canon.starts_with(&s))
    {
        return Err(format!("`-o {}` is inside the specs it bundles; write the bundle elsewhere", out.display()));
    }
    if !a.force {
        return Err(format!("`{}` exists; pass `--force` to replace it", out.display()));
    }
    Ok(())
}

fn err(out: &mut Out<'_>, msg: impl std::fmt::Display) {
    let _ = writeln!(out.stderr, "pipc: {msg}");
}

fn time(text: Option<&String>) -> Result<Option<u64>, String> {
    text.map(|t| parse_millis(t).map_err(|e| e.to_string())).transpose()
}

fn report(out: &mut Out<'_>, e: &BundleError) {
    err(out, e);
    if let Some(h) = e.help() {
        let _ = writeln!(out.stderr, "  help: {h}");
    }
}

/// `pipc bundle`.
pub(crate) fn bundle(out: &mut Out<'_>, a: &BundleArgs) -> u8 {
    let key = match a.key.load(out) {
        Ok(k) => k,
        Err(e) => {
            err(out, e);
            return EXIT_USAGE;
        }
    };
    let (from_ms, to_ms) = match (time(a.from.as_ref()), time(a.to.as_ref())) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            err(out, e);
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
    let ledgers: Vec<(Option<String>, PathBuf)> = a
        .ledgers
        .iter()
        .map(|l| match l.split_once('=') {
            Some((n, p)) if !n.is_empty() && !n.contains(['/', '\\']) => (Some(n.to_string()), PathBuf::from(p)),
            _ => (None, PathBuf::from(l)),
        })
        .collect();
    if let Err(e) = check_output(a, &ledgers) {
        err(out, format!("{e}; nothing written"));
        return EXIT_USAGE;
    }
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
    };
    let progress = if std::io::stderr().is_terminal() {
        let p = ProgressBar::with_draw_target(Some(5), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            p.set_style(style);
        }
        p
    } else {
        ProgressBar::hidden()
    };
    let built = build(&opts, &progress);
    progress.finish_and_clear();
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            report(out, &e);
            return if matches!(e, BundleError::Usage(_)) { EXIT_USAGE } else { EXIT_FAIL };
        }
    };
    if let Err(e) = write_atomic(&a.output, &built.zip) {
        err(out, format!("cannot write `{}`: {e}", a.output.display()));
        return EXIT_USAGE;
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
        m.files.len() + 1
    );
    EXIT_OK
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".pipc-tmp");
    crate::commands::replace_via(path, Path::new(&tmp), bytes)
}

/// `pipc verify-bundle`.
pub(crate) fn verify_bundle(out: &mut Out<'_>, path: &Path, key: &KeyArgs) -> u8 {
    let key = match key.load(out) {
        Ok(k) => k,
        Err(e) => {
            err(out, e);
            return EXIT_USAGE;
        }
    };
    let limits = Limits::default();
    // A regular file only (a FIFO would block, a device never end), and no larger than the
    // most a bundle may expand to.
    let bytes = match fsread::read(path, limits.max_total, "a bundle") {
        Ok(b) => b,
        Err(e) if matches!(fsread::refusal(&e), Some(fsread::Refused::TooLarge { .. })) => {
            err(out, format!("`{}` is refused: {e}", path.display()));
            return EXIT_FAIL;
        }
        Err(e) => {
            err(out, format!("cannot read `{}`: {e}", path.display()));
            return EXIT_USAGE;
        }
    };
    match verify(&bytes, &key, &limits) {
        Ok(v) => {
            let m = &v.manifest;
            let _ = writeln!(
                out.stdout,
                "{}: verified: spec `{}` {} (sha256 {}), bundle `{}`, window {} to {}; {} files, {} ledger entries bound to {} checkpoint(s); manifest MAC ok (key id {})",
                path.display(),
                m.spec.name,
                m.spec.version,
                m.spec.sha256,
                m.bundle,
                format_millis(m.window.from_ms),
                format_millis(m.window.to_ms),
                v.files,
                v.entries,
                v.checkpoints,
                key.id_hex()
            );
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
                err(
                    out,
                    format!(
                        "`{}`: {} anomal{} recorded in the bundled ledger",
                        path.display(),
                        count,
                        if count == 1 { "y" } else { "ies" }
                    ),
                );
                EXIT_FAIL
            }
        }
        Err(e) => {
            err(out, format!("`{}` does not verify: {e}", path.display()));
            EXIT_FAIL
        }
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
