//! Verifying a bundle offline, in memory: the archive is read without extracting it, then
//! the manifest's MAC, every file's size and hash, the file list against the spec's bundle
//! manifest, the ledger slices' chains and checkpoints, and the artifacts and timeline,
//! rebuilt from the bundled spec and slice and compared byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pip_compiler::emit::bundle::{BUNDLE_MANIFEST, Part, bundle_files};
use pip_compiler::source::{SourceFile, Sources};
use pip_runtime::ledger::format::Entry;
use pip_runtime::ledger::key::to_hex;
use pip_runtime::ledger::query::{Expectation, evidence_gaps};
use pip_runtime::ledger::{Authenticity, LedgerKey, verify_slice};

use super::archive::{self, Limits};
use super::manifest::{FORMAT, FORMAT_VERSION, GapInfo, IdentityInfo, LedgerInfo, Manifest, sha256_hex};
use super::{BundleError, slice, timeline};

/// What a verified bundle holds.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// Files checked (the manifest included).
    pub files: usize,
    /// Ledger entries checked.
    pub entries: u64,
    /// Checkpoints the entries are bound to.
    pub checkpoints: usize,
}

fn invalid(m: impl Into<String>) -> BundleError {
    BundleError::Invalid(m.into())
}

/// Verifies a bundle's bytes with the ledger key.
pub fn verify(zip: &[u8], key: &LedgerKey, limits: &Limits) -> Result<Verified, BundleError> {
    let files = archive::read(zip, limits)?;
    let raw = files.get(BUNDLE_MANIFEST).ok_or_else(|| invalid("the archive has no `manifest.json`"))?;
    let manifest: Manifest = serde_json::from_slice(raw).map_err(|e| invalid(format!("`manifest.json` is not a bundle manifest: {e}")))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(invalid(format!(
            "`manifest.json` is format `{}` version {}; this pipc reads `{FORMAT}` version {FORMAT_VERSION}",
            manifest.format, manifest.format_version
        )));
    }
    if manifest.to_bytes().map_err(|e| invalid(e.to_string()))? != *raw {
        return Err(invalid("`manifest.json` was altered: it is not byte for byte what pipc writes for its content"));
    }
    match &manifest.mac {
        None => return Err(invalid("`manifest.json` carries no MAC")),
        Some(m) if m.key_id != key.id_hex() => {
            return Err(invalid(format!("the manifest was signed with key id {}, not with this key (id {})", m.key_id, key.id_hex())));
        }
        Some(_) if !manifest.mac_ok(key) => return Err(invalid("the manifest's MAC does not verify: the manifest was altered")),
        Some(_) => {}
    }
    check_listing(&manifest, &files)?;
    let spec_files = rebuild(&manifest, &files)?;
    let mut entries = 0;
    let mut checkpoints = 0;
    let mut slices: Vec<Vec<Entry>> = Vec::new();
    for info in &manifest.ledgers {
        let (e, c) = check_ledger(&manifest, info, &files, key, &spec_files.expectations)?;
        entries += e.len() as u64;
        checkpoints += c;
        slices.push(e);
    }
    if let Some(f) = manifest.files.iter().find(|f| f.part == Part::Timeline) {
        let refs: Vec<&[Entry]> = slices.iter().map(Vec::as_slice).collect();
        let again = timeline::render(&manifest, &refs).map_err(|e| invalid(format!("cannot render the timeline: {e}")))?;
        if files.get(&f.path).map(Vec::as_slice) != Some(again.as_bytes()) {
            return Err(invalid(format!("`{}` does not match the bundled ledger slices and manifest", f.path)));
        }
    }
    Ok(Verified { manifest, files: files.len(), entries, checkpoints })
}

/// The listed files are exactly the archive's, each with its size and hash.
fn check_listing(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Result<(), BundleError> {
    let mut listed = BTreeSet::new();
    for f in &manifest.files {
        if f.path == BUNDLE_MANIFEST || !listed.insert(f.path.as_str()) {
            return Err(invalid(format!("the manifest lists `{}` twice", f.path)));
        }
        let bytes =
            files.get(&f.path).ok_or_else(|| invalid(format!("`{}` is listed in the manifest but missing from the archive", f.path)))?;
        if bytes.len() as u64 != f.size {
            return Err(invalid(format!("`{}` was altered: it has {} bytes, the manifest says {}", f.path, bytes.len(), f.size)));
        }
        let h = sha256_hex(bytes);
        if h != f.sha256 {
            return Err(invalid(format!("`{}` was altered: its SHA-256 is {h}, the manifest says {}", f.path, f.sha256)));
        }
    }
    if let Some(extra) = files.keys().find(|p| p.as_str() != BUNDLE_MANIFEST && !listed.contains(p.as_str())) {
        return Err(invalid(format!("`{extra}` is in the archive but not in the manifest")));
    }
    Ok(())
}

struct SpecFacts {
    expectations: BTreeMap<String, Vec<Expectation>>,
}

/// Compiles the bundled spec, checks its hash and bundle manifest, and compares every
/// bundled artifact with what it generates.
fn rebuild(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Result<SpecFacts, BundleError> {
    let mut sources = Sources::new();
    for s in &manifest.spec.sources {
        let bytes = files.get(&s.path).ok_or_else(|| invalid(format!("spec source `{}` is missing", s.path)))?;
        sources.add(SourceFile::from_bytes(s.name.clone(), PathBuf::from(&s.name), bytes.clone()));
    }
    let c = pip_compiler::compile(&sources);
    if c.has_errors() {
        return Err(invalid("the bundled spec has errors"));
    }
    let spec = c
        .specs
        .iter()
        .find(|s| s.name == manifest.spec.name)
        .ok_or_else(|| invalid(format!("the bundled sources do not define spec `{}`", manifest.spec.name)))?;
    if spec.provenance.sha256 != manifest.spec.sha256 {
        return Err(invalid(format!("the bundled spec's hash is {}, the manifest says {}", spec.provenance.sha256, manifest.spec.sha256)));
    }
    let bundle = spec
        .bundles
        .iter()
        .find(|b| b.name == manifest.bundle)
        .ok_or_else(|| invalid(format!("the bundled spec has no bundle `{}`", manifest.bundle)))?;
    if bundle.max_size != manifest.max_size_bytes {
        return Err(invalid(format!("the manifest's size cap {} is not the spec's {}", manifest.max_size_bytes, bundle.max_size)));
    }
    let expected = bundle_files(spec, bundle);
    let want: BTreeSet<(&str, Part)> = expected.iter().map(|f| (f.path.as_str(), f.part)).collect();
    let mut have: BTreeSet<(&str, Part)> = manifest.files.iter().map(|f| (f.path.as_str(), f.part)).collect();
    have.insert((BUNDLE_MANIFEST, Part::Manifest));
    if let Some((p, _)) = want.difference(&have).next() {
        return Err(invalid(format!("the spec's bundle `{}` must hold `{p}`, which the bundle lacks", bundle.name)));
    }
    if let Some((p, _)) = have.difference(&want).next() {
        return Err(invalid(format!("`{p}` is not part of the spec's bundle `{}`", bundle.name)));
    }
    let artifacts: BTreeMap<String, Vec<u8>> = pip_compiler::emit::emit_all(std::slice::from_ref(spec))
        .map_err(|e| invalid(e.to_string()))?
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect();
    for f in expected.iter().filter(|f| matches!(f.part, Part::Rules | Part::Dashboards | Part::BundleManifest)) {
        let made = f.artifact.as_ref().and_then(|a| artifacts.get(a));
        if made.is_none() || made != files.get(&f.path) {
            return Err(invalid(format!("`{}` does not match what the bundled spec generates", f.path)));
        }
    }
    let want_ledgers: Vec<&str> = expected.iter().filter_map(|f| f.ledger.as_deref()).collect();
    let have_ledgers: Vec<&str> = manifest.ledgers.iter().map(|l| l.name.as_str()).collect();
    if want_ledgers != have_ledgers {
        return Err(invalid(format!("the manifest describes ledgers {have_ledgers:?}; the spec's bundle holds {want_ledgers:?}")));
    }
    let expectations = spec
        .ledgers
        .iter()
        .map(|l| {
            let x = l
                .expects
                .iter()
                .map(|x| Expectation {
                    subsystem: x.subsystem.clone(),
                    every_ms: x.every.millis,
                    severity: x.severity.as_str().to_string(),
                })
                .collect();
            (l.name.clone(), x)
        })
        .collect();
    Ok(SpecFacts { expectations })
}

/// Decodes a slice, checks it against the manifest, and verifies its chain to its
/// checkpoints. Returns its entries and how many checkpoints bind them.
fn check_ledger(
    manifest: &Manifest,
    info: &LedgerInfo,
    files: &BTreeMap<String, Vec<u8>>,
    key: &LedgerKey,
    expectations: &BTreeMap<String, Vec<Expectation>>,
) -> Result<(Vec<Entry>, usize), BundleError> {
    let name = &info.name;
    let bytes = files.get(&info.path).ok_or_else(|| invalid(format!("the slice of ledger `{name}` is missing")))?;
    let d = slice::decode(bytes).map_err(|e| invalid(format!("ledger `{name}`: {e}")))?;
    if d.key_id != key.id() || info.key_id != key.id_hex() {
        return Err(invalid(format!(
            "ledger `{name}` was written with key id {}, not with this key (id {})",
            to_hex(&d.key_id),
            key.id_hex()
        )));
    }
    // Another ledger's slice written with the same key: its identity is not the one the
    // (MACed) manifest names, or, rewritten to that one, its checkpoints fail their MACs.
    if IdentityInfo::of(&d.identity) != info.identity {
        return Err(invalid(format!(
            "the slice of ledger `{name}` belongs to ledger id {}, not to the ledger id {} the manifest names",
            d.identity.id_hex(),
            info.identity.id
        )));
    }
    if !d.identity.spec.is_empty() && (d.identity.spec != manifest.spec.name || d.identity.ledger != *name) {
        return Err(invalid(format!(
            "the slice of ledger `{name}` belongs to {}",
            super::archive::shown(d.identity.to_string().as_bytes())
        )));
    }
    let described = (
        d.entries.len() as u64,
        d.anchor.next_seq,
        d.entries.last().map(|e| e.seq),
        to_hex(&d.anchor.prev),
        d.entries.last().map(|e| to_hex(&e.hash)),
        d.checkpoints.iter().map(|c| (c.seq, c.time_millis, to_hex(&c.head))).collect::<Vec<_>>(),
    );
    let stated = (
        info.entries,
        info.first_seq,
        info.last_seq,
        info.prev.clone(),
        info.head.clone(),
        info.checkpoints.iter().map(|c| (c.seq, c.time_ms, c.head.clone())).collect::<Vec<_>>(),
    );
    if described != stated {
        return Err(invalid(format!("the slice of ledger `{name}` does not match its description in the manifest")));
    }
    let w = manifest.window;
    if let Some(e) = d.entries.iter().find(|e| e.ts_millis < w.from_ms || e.ts_millis >= w.to_ms) {
        return Err(invalid(format!("entry seq {} of ledger `{name}` lies outside the bundle's window", e.seq)));
    }
    let report = verify_slice(&d.entries, &d.anchor, &d.checkpoints, key, d.identity.digest(), Authenticity::ChainToCheckpoint);
    if !report.is_clean() || report.authentic != d.entries.len() as u64 {
        let shown: Vec<String> = report.anomalies.iter().take(3).map(ToString::to_string).collect();
        return Err(invalid(format!(
            "the slice of ledger `{name}` does not verify ({} anomalies): {}",
            report.anomalies.len(),
            shown.join("; ")
        )));
    }
    let none = Vec::new();
    let exp = expectations.get(name).unwrap_or(&none);
    let gaps: Vec<GapInfo> = evidence_gaps(d.entries.iter().map(|e| (e.subsystem.as_bytes(), e.ts_millis, e.seq)), exp, w.from_ms, w.to_ms)
        .into_iter()
        .map(|g| GapInfo { subsystem: g.subsystem, from_ms: g.from_ms, to_ms: g.to_ms, severity: g.severity, ongoing: g.ongoing })
        .collect();
    if gaps != info.gaps {
        return Err(invalid(format!("the evidence gaps the manifest states for ledger `{name}` are not those of its slice")));
    }
    Ok((d.entries, d.checkpoints.len()))
}
