//! Building a bundle: the window's slice of each ledger (every entry's MAC checked first),
//! the spec, its artifacts, the timeline and the signed manifest, zipped; refused when it
//! would exceed the spec's size cap.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pip_compiler::emit::bundle::{BUNDLE_MANIFEST, BundleFile, Part, bundle_files};
use pip_compiler::ir;
use pip_compiler::load::{self, SpecsError};
use pip_compiler::units::{Quantity, parse_quantity};
use pip_runtime::hex::to_hex;
use pip_runtime::ledger::checkpoint::{CheckpointFile, default_path};
use pip_runtime::ledger::query::{Expectation, LedgerReader, evidence_gaps};
use pip_runtime::ledger::slice;
use pip_runtime::ledger::{Authenticity, Checkpoint, Entry, LedgerKey, verify_files, verify_slice};

use crate::alerts::{self, ALERTS};
use crate::error::{LedgerFault, LedgerProblem, OutputError, SpecError, UsageError, WholeLedgerAnomalies};
use crate::manifest::{
    AnomalyInfo, CheckpointInfo, FORMAT, FORMAT_VERSION, FileInfo, GapInfo, IdentityInfo, LedgerInfo, Manifest, SLICE_ENCODING,
    SignatureInfo, SourceInfo, SpecInfo, Window,
};
use crate::signed::{self, LedgerSigner};
use crate::spec::{expectations, pick_bundle};
use crate::{BundleError, Progress, archive, timeline};

/// What to bundle: the spec and bundle block, the ledger files and key, and the window.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Spec files or folders (searched recursively for `.pips`), as `pipc build` takes them;
    /// the bundle carries the sources of the spec it picks.
    pub specs: Vec<PathBuf>,
    /// The bundle (`incident` or `payments.incident`); needed when the specs have several.
    pub bundle: Option<String>,
    /// Ledger files: `(Some(name), path)`, or `(None, path)` for the bundle's only ledger.
    pub ledgers: Vec<(Option<String>, PathBuf)>,
    /// The checkpoint file (only with one ledger; default: the ledger's path plus `.ckpt`).
    pub checkpoints: Option<PathBuf>,
    /// The ledger key: every entry's MAC is checked with it, and the manifest and the
    /// builder's closing checkpoint are signed with it.
    pub key: LedgerKey,
    /// Window length in milliseconds, ending at `to_ms` (default: the bundle block's `window`).
    pub window_ms: Option<u64>,
    /// Start of the window (Unix ms, inclusive); overrides `window_ms`.
    pub from_ms: Option<u64>,
    /// End of the window (Unix ms, exclusive; default: just after the last entry).
    pub to_ms: Option<u64>,
    /// Most events the timeline lists per ledger; violations are listed first, then the latest
    /// events ([`crate::timeline::DEFAULT_MAX_ROWS`] is `pipc`'s default).
    pub timeline_max_rows: usize,
    /// Threads for verifying each whole ledger file (0 counts as 1); the result is the same for any count.
    pub threads: usize,
    /// Bundle a ledger whose whole-file verification finds anomalies (outside the window:
    /// the window's own entries must always verify), recording them in the manifest.
    pub allow_anomalies: bool,
    /// The checkpoint signing key file for every ledger (default: each ledger's spec
    /// `signing_key`, for a ledger with signed checkpoints): the bundle then carries the signed
    /// checkpoints and range proofs of its slices and a signed manifest
    /// ([`crate::signed`]). `None` and no spec key: the bundle verifies with the ledger key only.
    pub signing_key: Option<PathBuf>,
    /// The signed checkpoint file (only with one ledger; default: the ledger's path plus `.signed`).
    pub signed_file: Option<PathBuf>,
    /// The Prometheus to read the spec's alert history over the window from
    /// ([`crate::alerts`]); the bundle then holds `alerts.json` and the timeline draws it.
    /// `None`: no alert history.
    pub prometheus: Option<crate::alerts::PrometheusSource>,
}

/// A built bundle, not yet written anywhere.
#[derive(Debug, Clone)]
pub struct Built {
    /// The ZIP's bytes.
    pub zip: Vec<u8>,
    /// The signed manifest inside the ZIP, for a caller that reports what was bundled
    /// without reading the ZIP back.
    pub manifest: Manifest,
    /// Entries bundled, all ledgers together.
    pub entries: u64,
    /// Warnings for the caller to show (a signing key file open to others).
    pub warnings: Vec<String>,
}

/// Parses `--window` (`24h`, `90m`, `7d`).
pub fn parse_window(text: &str) -> Result<u64, BundleError> {
    match parse_quantity(text) {
        Ok(Quantity::Duration(ms)) if ms > 0 => u64::try_from(ms).map_err(|_| UsageError::WindowTooLong { text: text.to_string() }.into()),
        _ => Err(UsageError::NotADuration { text: text.to_string() }.into()),
    }
}

struct LedgerWork {
    name: String,
    /// Where its slice goes in the bundle, as the spec's bundle manifest lists it.
    slice_path: String,
    path: PathBuf,
    reader: LedgerReader,
    ckpt: Option<PathBuf>,
}

/// Builds the bundle `opts` describes, in memory: every ledger is verified first (its window
/// must verify; the rest too unless `allow_anomalies`), and the ZIP is refused when it exceeds
/// the spec's `max_size`.
pub fn build(opts: &BuildOptions, progress: &dyn Progress) -> Result<Built, BundleError> {
    progress.stage("compiling the spec");
    // Unreadable or missing specs are a usage error; a spec with errors is a finding.
    let c = load::load(&opts.specs).map_err(|e| match e {
        SpecsError::Read(e) => BundleError::from(UsageError::Specs(e)),
        e @ SpecsError::Invalid(_) => SpecError::Specs(e).into(),
    })?;
    let sources = &c.sources;
    let (spec, bundle) = pick_bundle(c.specs(), opts.bundle.as_deref())?;
    let artifacts: BTreeMap<String, Vec<u8>> = pip_compiler::emit::emit_all(std::slice::from_ref(spec))
        .map_err(SpecError::Emit)?
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect();
    let files = bundle_files(spec, bundle);
    progress.advance();

    progress.stage("reading the ledger");
    let work = ledgers_of(opts, &files)?;
    if work.len() > 1 && opts.signed_file.is_some() {
        return Err(UsageError::SignedWithSeveral.into());
    }
    let mut warnings = Vec::new();
    let signers = work
        .iter()
        .map(|w| LedgerSigner::resolve(opts, spec, &w.name, &w.path, work.len() == 1, &mut warnings))
        .collect::<Result<Vec<_>, _>>()?;
    let to_ms = match opts.to_ms {
        Some(t) => t,
        None => work.iter().filter_map(|w| w.reader.raw().last().map(|b| b.ts_millis + 1)).max().ok_or(UsageError::NoEntries)?,
    };
    let from_ms = opts.from_ms.unwrap_or_else(|| to_ms.saturating_sub(opts.window_ms.unwrap_or(bundle.window.millis)));
    if from_ms >= to_ms {
        return Err(UsageError::EmptyWindow.into());
    }
    progress.advance();

    let mut manifest = Manifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        created_by: format!("pipc {}", pip_compiler::VERSION),
        spec: SpecInfo {
            name: spec.name.clone(),
            version: spec.version.clone(),
            sha256: spec.provenance.sha256.clone(),
            sources: files
                .iter()
                .filter_map(|f| f.source_name.as_ref().map(|n| SourceInfo { name: n.clone(), path: f.path.clone() }))
                .collect(),
        },
        bundle: bundle.name.clone(),
        window: Window { from_ms, to_ms },
        max_size_bytes: bundle.max_size,
        timeline_max_rows: opts.timeline_max_rows,
        ledgers: Vec::new(),
        files: Vec::new(),
        signature: None,
        mac: None,
    };
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut slices: Vec<Vec<Entry>> = Vec::new();
    let mut slice_bytes = 0u64;
    let mut origins: Vec<String> = Vec::new();
    for (w, signer) in work.iter().zip(&signers) {
        progress.stage(&format!("verifying ledger `{}`", w.name));
        let (mut info, bytes, entries) = slice_of(opts, spec, w, from_ms, to_ms)?;
        if let Some(ls) = signer {
            let part = signed::part(ls, &w.name, &w.path, &info, &bytes)?;
            if !origins.contains(&part.origin) {
                origins.push(part.origin);
            }
            info.signed = part.info;
            contents.extend(part.files);
        }
        slice_bytes += bytes.len() as u64;
        contents.insert(info.path.clone(), bytes);
        manifest.ledgers.push(info);
        slices.push(entries);
        progress.advance();
    }

    let history = match &opts.prometheus {
        Some(source) => {
            progress.stage("reading the alerts from Prometheus");
            let h = alerts::fetch(source, &spec.name, from_ms, to_ms)?;
            contents.insert(ALERTS.to_string(), h.to_bytes().map_err(OutputError::Alerts)?);
            progress.advance();
            Some(h)
        }
        None => None,
    };

    progress.stage("rendering the timeline");
    for f in &files {
        let bytes = match f.part {
            Part::Manifest | Part::Ledger | Part::Alerts => continue,
            Part::Timeline => {
                let refs: Vec<&[Entry]> = slices.iter().map(Vec::as_slice).collect();
                timeline::render(&manifest, &refs, history.as_ref()).map_err(OutputError::Timeline)?.into_bytes()
            }
            Part::Spec => {
                let name = f.source_name.as_deref().unwrap_or_default();
                let file = sources.iter().map(|(_, s)| s).find(|s| s.spec_path == name);
                file.map(|s| s.text.as_bytes().to_vec()).ok_or_else(|| SpecError::SourceNotLoaded { name: name.to_string() })?
            }
            Part::Rules | Part::Dashboards | Part::BundleManifest => {
                let a = f.artifact.as_deref().unwrap_or_default();
                artifacts.get(a).cloned().ok_or_else(|| SpecError::NoArtifact { artifact: a.to_string() })?
            }
        };
        contents.insert(f.path.clone(), bytes);
    }
    progress.advance();

    progress.stage("writing the archive");
    manifest.files = files
        .iter()
        .filter(|f| f.part != Part::Manifest)
        .filter_map(|f| {
            contents.get(&f.path).map(|b| FileInfo {
                path: f.path.clone(),
                part: f.part,
                size: b.len() as u64,
                sha256: pip_compiler::sha256_hex(b),
            })
        })
        .collect();
    if let Some(b) = contents.get(ALERTS) {
        manifest.files.push(FileInfo {
            path: ALERTS.to_string(),
            part: Part::Alerts,
            size: b.len() as u64,
            sha256: pip_compiler::sha256_hex(b),
        });
    }
    let keys: Vec<&pip_runtime::ledger::note::NoteSigner> = signers.iter().flatten().map(LedgerSigner::signer).collect();
    if !keys.is_empty() {
        manifest.signature = Some(SignatureInfo {
            path: signed::MANIFEST_SIG.to_string(),
            algorithm: signed::SIGNATURE_ALGORITHM.to_string(),
            origins: origins.clone(),
        });
    }
    manifest.sign(&opts.key).map_err(OutputError::Manifest)?;
    let manifest_bytes = manifest.to_bytes().map_err(OutputError::Manifest)?;
    let signature = if keys.is_empty() { None } else { Some(signed::sign_manifest(&manifest_bytes, &origins, &keys)?) };
    let mut ordered = vec![(BUNDLE_MANIFEST.to_string(), manifest_bytes)];
    ordered.extend(signature.map(|s| (signed::MANIFEST_SIG.to_string(), s)));
    ordered.extend(contents);
    let zip = archive::write(&ordered).map_err(OutputError::Archive)?;
    progress.advance();
    let entries = slices.iter().map(|s| s.len() as u64).sum();
    if zip.len() as u64 > bundle.max_size {
        return Err(BundleError::TooLarge {
            size: zip.len() as u64,
            cap: bundle.max_size,
            bundle: format!("{}.{}", spec.name, bundle.name),
            source_ref: bundle.source.to_string(),
            entries,
            slice_bytes,
        });
    }
    Ok(Built { zip, manifest, entries, warnings })
}

fn ledgers_of(opts: &BuildOptions, files: &[BundleFile]) -> Result<Vec<LedgerWork>, BundleError> {
    let wanted: Vec<&str> = files.iter().filter_map(|f| f.ledger.as_deref()).collect();
    if wanted.is_empty() {
        return Err(SpecError::NoLedger.into());
    }
    let included = || wanted.iter().map(ToString::to_string).collect::<Vec<_>>();
    // Every file given must be used: a misspelt name or a stray file is an error, never ignored.
    let mut named: Vec<&str> = Vec::new();
    for (name, path) in &opts.ledgers {
        if let Some(n) = name.as_deref() {
            if !wanted.contains(&n) {
                return Err(UsageError::UnknownLedger { name: n.to_string(), path: path.clone(), included: included() }.into());
            }
            if named.contains(&n) {
                return Err(UsageError::LedgerTwice { name: n.to_string() }.into());
            }
            named.push(n);
        }
    }
    let unnamed: Vec<&PathBuf> = opts.ledgers.iter().filter(|(n, _)| n.is_none()).map(|(_, p)| p).collect();
    // An unnamed file stands for the bundle's only ledger, when that is not named too.
    let spare = if wanted.len() == 1 && named.is_empty() { unnamed.get(1) } else { unnamed.first() };
    if let Some(p) = spare {
        return Err(UsageError::SpareLedger { path: (*p).clone(), included: included() }.into());
    }
    if wanted.len() > 1 && opts.checkpoints.is_some() {
        return Err(UsageError::CheckpointsWithSeveral.into());
    }
    let mut out = Vec::new();
    for name in &wanted {
        let given = opts.ledgers.iter().find(|(n, _)| n.as_deref() == Some(*name)).map(|(_, p)| p);
        let path = match (given, unnamed.as_slice()) {
            (Some(p), _) => p.clone(),
            (None, [p]) if wanted.len() == 1 => (*p).clone(),
            _ => return Err(UsageError::LedgerNotGiven { name: (*name).to_string() }.into()),
        };
        let canon = std::fs::canonicalize(&path).ok();
        if let Some(other) = out.iter().find(|w: &&LedgerWork| canon.is_some() && std::fs::canonicalize(&w.path).ok() == canon) {
            return Err(UsageError::SameLedgerFile { first: other.name.clone(), second: (*name).to_string(), path }.into());
        }
        // A missing file, a folder or a file that is not a ledger: the wrong path was given.
        let reader = LedgerReader::open(&path).map_err(|source| UsageError::OpenLedger { name: (*name).to_string(), source })?;
        let ckpt =
            if wanted.len() == 1 { opts.checkpoints.clone() } else { None }.or_else(|| Some(default_path(&path)).filter(|p| p.exists()));
        let slice_path = files.iter().find(|f| f.ledger.as_deref() == Some(*name)).map(|f| f.path.clone()).unwrap_or_default();
        out.push(LedgerWork { name: (*name).to_string(), slice_path, path, reader, ckpt });
    }
    Ok(out)
}

/// The slice of one ledger: its manifest entry, its bytes, and its entries.
fn slice_of(
    opts: &BuildOptions,
    spec: &ir::Spec,
    w: &LedgerWork,
    from_ms: u64,
    to_ms: u64,
) -> Result<(LedgerInfo, Vec<u8>, Vec<Entry>), BundleError> {
    let ledger_err = |problem| BundleError::from(LedgerFault { ledger: w.name.clone(), path: w.path.clone(), problem });
    if !w.reader.damaged().is_empty() {
        return Err(ledger_err(LedgerProblem::Damaged));
    }
    let mut window = w.reader.window(from_ms, to_ms).map_err(|e| ledger_err(LedgerProblem::Window(e)))?;
    // The whole ledger, checked first: its identity is the one the verification settled on
    // (a header whose MAC fails is reported, never trusted), and the checkpoint file is read
    // streaming. A file that cannot be read (a FIFO, a device) is a usage error.
    let whole = verify_files(&w.path, w.ckpt.as_deref(), &opts.key, opts.threads.max(1)).map_err(|e| match e {
        source @ pip_runtime::ledger::verify::VerifyError::Io { .. } => UsageError::ReadLedger { name: w.name.clone(), source }.into(),
        e => ledger_err(LedgerProblem::Verify(e)),
    })?;
    let identity = whole.identity.clone().ok_or_else(|| ledger_err(LedgerProblem::NoIdentity))?;
    // The ledger's identity: a ledger made for another spec or ledger is not this one's.
    if !identity.spec.is_empty() && (identity.spec != spec.name || identity.ledger != w.name) {
        return Err(UsageError::ForeignLedger {
            name: w.name.clone(),
            path: w.path.clone(),
            identity: Box::new(identity),
            spec: spec.name.clone(),
        }
        .into());
    }
    let digest = identity.digest();
    if window.anchor.next_seq == 1 {
        // The window starts the ledger: it links to the verified identity, not to the one
        // the reader took from the (possibly changed) header.
        window.anchor.prev = digest;
    }
    let first = window.anchor.next_seq;
    let last = window.entries.last().map(|e| e.seq);
    // Only the window's checkpoints whose MAC verifies are kept, each once: junk, however
    // long the file, is read past (only the key holder can make a kept one).
    let mut seen = std::collections::HashSet::new();
    let in_range: Vec<Checkpoint> = match &w.ckpt {
        Some(p) => {
            let keep = |c: &Checkpoint| {
                c.seq >= first && last.is_some_and(|l| c.seq <= l) && c.verify(&opts.key, &digest) && seen.insert(c.encode())
            };
            CheckpointFile::read_kept(p, keep)
                .map_err(|e| match e {
                    source @ pip_runtime::ledger::checkpoint::CheckpointError::Io { .. } => {
                        UsageError::ReadCheckpoints { name: w.name.clone(), source }.into()
                    }
                    e => ledger_err(LedgerProblem::Checkpoints(e)),
                })?
                .1
        }
        None => Vec::new(),
    };
    // Every entry's own MAC is checked before it is bundled without it.
    let report = verify_slice(&window.entries, &window.anchor, &in_range, &opts.key, digest, Authenticity::PerEntryMac);
    if !report.is_clean() {
        return Err(ledger_err(LedgerProblem::WindowAnomalies(report.anomalies)));
    }
    // The window verifies on its own, but the ledger around it does not (entries cut off
    // after a checkpoint, a changed entry, a forged checkpoint): a bundle made silently from
    // it would look like intact evidence. Refused unless asked for, and then recorded.
    if !whole.is_clean() && !opts.allow_anomalies {
        // Runs of alike anomalies count as their number, not as one (see `WholeLedgerAnomalies`).
        return Err(WholeLedgerAnomalies { ledger: w.name.clone(), path: w.path.clone(), anomalies: whole.anomalies }.into());
    }
    let mut cps: Vec<Checkpoint> = Vec::new();
    for c in in_range {
        if cps.last().is_none_or(|l| c.seq > l.seq) {
            cps.push(c);
        }
    }
    let mut written_by: Vec<&str> = vec!["ledger"; cps.len()];
    if let Some(e) = window.entries.last()
        && cps.last().is_none_or(|c| c.seq < e.seq)
    {
        // The builder has just checked every entry's MAC; its checkpoint binds the ones no
        // ledger checkpoint covers yet.
        cps.push(Checkpoint::new(&opts.key, &digest, e.seq, e.ts_millis, e.hash));
        written_by.push("bundle");
    }
    let bytes =
        slice::encode(&opts.key.id(), &identity, &window.anchor, &window.entries, &cps).map_err(|e| ledger_err(LedgerProblem::Slice(e)))?;
    let expectations: Vec<Expectation> = spec.ledgers.iter().filter(|l| l.name == w.name).flat_map(expectations).collect();
    let gaps = evidence_gaps(window.entries.iter().map(|e| (e.subsystem.as_bytes(), e.ts_millis, e.seq)), &expectations, from_ms, to_ms);
    let info = LedgerInfo {
        name: w.name.clone(),
        path: w.slice_path.clone(),
        encoding: SLICE_ENCODING.to_string(),
        key_id: opts.key.id_hex(),
        identity: IdentityInfo::of(&identity),
        entries: window.entries.len() as u64,
        first_seq: first,
        last_seq: last,
        prev: to_hex(&window.anchor.prev),
        head: window.entries.last().map(|e| to_hex(&e.hash)),
        checkpoints: cps
            .iter()
            .zip(written_by)
            .map(|(c, by)| CheckpointInfo { seq: c.seq, time_ms: c.time_millis, head: to_hex(&c.head), written_by: by.to_string() })
            .collect(),
        anomalies: whole
            .anomalies
            .iter()
            .map(|a| AnomalyInfo {
                class: a.class.as_str().to_string(),
                file: a.file.as_str().to_string(),
                seq: a.seq.map(|s| s.first),
                detail: a.detail.clone(),
                count: a.count(),
                last_seq: a.repeats.and_then(|r| r.last_seq).map(|s| s.first),
            })
            .collect(),
        gaps: gaps
            .into_iter()
            .map(|g| GapInfo { subsystem: g.subsystem, from_ms: g.from_ms, to_ms: g.to_ms, severity: g.severity, ongoing: g.ongoing })
            .collect(),
        signed: None,
    };
    Ok((info, bytes, window.entries))
}
