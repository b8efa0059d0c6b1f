//! Verifying a bundle offline, in memory: the archive is read without extracting it, then
//! the manifest's MAC, every file's size and hash, the file list against the spec's bundle
//! manifest, the ledger slices' chains and checkpoints, and the artifacts and timeline,
//! rebuilt from the bundled spec and slice and compared byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pip_compiler::emit::bundle::{BUNDLE_MANIFEST, Part, bundle_files};
use pip_compiler::load;
use pip_compiler::source::{SourceFile, Sources};
use pip_runtime::fsread;
use pip_runtime::hex::to_hex;
use pip_runtime::ledger::query::{Expectation, evidence_gaps};
use pip_runtime::ledger::slice;
use pip_runtime::ledger::{Authenticity, Entry, LedgerKey, verify_slice};

use crate::alerts::{ALERTS, AlertHistory};
use crate::archive::{self, Limits};
use crate::error::UsageError;
use crate::manifest::{FORMAT, FORMAT_VERSION, GapInfo, IdentityInfo, LedgerInfo, Manifest};
use crate::signed::{self, Coverage, SignedKeys};
use crate::spec::expectations;
use crate::{BundleError, Invalid, timeline};

/// What a verified bundle holds.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The bundle's manifest, MAC-checked: every field in it has been checked against the files.
    pub manifest: Manifest,
    /// Files in the archive, all checked (`manifest.json` included).
    pub files: usize,
    /// Ledger entries checked, all ledgers' slices together.
    pub entries: u64,
    /// Checkpoints the entries are bound to (the builder's closing one included), all ledgers together.
    pub checkpoints: usize,
    /// Whether the ledger key checked the manifest's MAC and the slices' MACed checkpoints.
    pub mac_checked: bool,
    /// What the verifier keys established, per ledger with a signed part (empty without
    /// verifier keys).
    pub signed: Vec<Coverage>,
    /// Ledgers whose entries no signed checkpoint covers (with verifier keys only).
    pub unsigned_ledgers: Vec<String>,
}

/// The keys to verify a bundle with: the ledger key (HMAC), the verifier keys (signatures), or both.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// The ledger key: checks the manifest's MAC and every slice's chain to its MACed checkpoints.
    pub hmac: Option<&'a LedgerKey>,
    /// The verifier keys: check `manifest.sig`, the signed checkpoints and the range proofs.
    pub signed: Option<&'a SignedKeys>,
}

/// Reads a bundle file and verifies it ([`verify`]). Only a regular file is read (a FIFO
/// would block, a device never end), and none larger than the most a bundle may expand to
/// ([`Limits::max_total`]): that one is [`BundleError::Refused`] unread.
pub fn verify_file(path: &Path, key: &LedgerKey, limits: &Limits) -> Result<Verified, BundleError> {
    verify_file_with(path, Keys { hmac: Some(key), signed: None }, limits)
}

/// [`verify_file`] with the ledger key, the verifier keys, or both ([`verify_with`]).
pub fn verify_file_with(path: &Path, keys: Keys<'_>, limits: &Limits) -> Result<Verified, BundleError> {
    let bytes = fsread::read(path, limits.max_total, "a bundle").map_err(|source| {
        let path = path.to_path_buf();
        if matches!(fsread::refusal(&source), Some(fsread::Refused::TooLarge { .. })) {
            BundleError::Refused { path, source }
        } else {
            BundleError::Read { path, source }
        }
    })?;
    verify_with(&bytes, keys, limits)
}

/// Verifies a bundle's bytes with the ledger key.
pub fn verify(zip: &[u8], key: &LedgerKey, limits: &Limits) -> Result<Verified, BundleError> {
    verify_with(zip, Keys { hmac: Some(key), signed: None }, limits)
}

/// Verifies a bundle's bytes with the ledger key, the verifier keys, or both: with the
/// verifier keys, `manifest.sig` must sign the manifest and each slice's signed entries must
/// lead to its signed checkpoint's root (see [`crate::signed`]); with the ledger key, the
/// manifest's MAC and the slices' MACed checkpoints are checked too.
pub fn verify_with(zip: &[u8], keys: Keys<'_>, limits: &Limits) -> Result<Verified, BundleError> {
    if keys.hmac.is_none() && keys.signed.is_none() {
        return Err(UsageError::NoVerificationKey.into());
    }
    let files = archive::read(zip, limits)?;
    let raw = files.get(BUNDLE_MANIFEST).ok_or(Invalid::NoManifest)?;
    let manifest: Manifest = serde_json::from_slice(raw).map_err(Invalid::ManifestUnparsable)?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(Invalid::ManifestFormat { format: manifest.format, version: manifest.format_version }.into());
    }
    if manifest.to_bytes().map_err(Invalid::ManifestUnencodable)? != *raw {
        return Err(Invalid::ManifestNotCanonical.into());
    }
    if let Some(key) = keys.hmac {
        match &manifest.mac {
            None => return Err(Invalid::NoMac.into()),
            Some(m) if m.key_id != key.id_hex() => {
                return Err(Invalid::OtherKey { signed_with: m.key_id.clone(), key: key.id_hex() }.into());
            }
            Some(_) if !manifest.mac_ok(key) => return Err(Invalid::MacMismatch.into()),
            Some(_) => {}
        }
    }
    let manifest_signers = match keys.signed {
        Some(k) => signed::check_signature(raw, &manifest, &files, k)?,
        None => Vec::new(),
    };
    check_listing(&manifest, &files)?;
    let spec_files = rebuild(&manifest, &files)?;
    let mut entries = 0;
    let mut checkpoints = 0;
    let mut slices: Vec<Vec<Entry>> = Vec::new();
    let mut coverage = Vec::new();
    let mut unsigned_ledgers = Vec::new();
    for info in &manifest.ledgers {
        let (e, c) = check_ledger(&manifest, info, &files, keys.hmac, &spec_files.expectations)?;
        if let Some(k) = keys.signed {
            let none = (Vec::new(), 0);
            let w = spec_files.witnesses.get(&info.name).unwrap_or(&none);
            match signed::check_ledger(info, &e, &files, k, &manifest_signers, w)? {
                Some(cov) => coverage.push(cov),
                None => unsigned_ledgers.push(info.name.clone()),
            }
        }
        entries += e.len() as u64;
        checkpoints += c;
        slices.push(e);
    }
    if let Some(t) = keys.signed.and_then(|k| k.trusted.as_ref())
        && !coverage.iter().any(|c| c.origin == t.origin)
    {
        return Err(Invalid::TrustedOtherOrigin { origin: t.origin.clone() }.into());
    }
    let history = match manifest.files.iter().find(|f| f.part == Part::Alerts) {
        Some(f) => {
            let bytes = files.get(&f.path).map(Vec::as_slice).unwrap_or_default();
            let h =
                AlertHistory::from_bytes(bytes).map_err(|e| Invalid::AlertsUnreadable { path: f.path.clone(), reason: e.to_string() })?;
            if (h.start_ms, h.end_ms) != (manifest.window.from_ms, manifest.window.to_ms) {
                return Err(Invalid::AlertsOtherWindow { path: f.path.clone() }.into());
            }
            Some(h)
        }
        None => None,
    };
    if let Some(f) = manifest.files.iter().find(|f| f.part == Part::Timeline) {
        let refs: Vec<&[Entry]> = slices.iter().map(Vec::as_slice).collect();
        let again = timeline::render(&manifest, &refs, history.as_ref()).map_err(Invalid::TimelineUnrenderable)?;
        if files.get(&f.path).map(Vec::as_slice) != Some(again.as_bytes()) {
            return Err(Invalid::TimelineMismatch { path: f.path.clone() }.into());
        }
    }
    Ok(Verified {
        manifest,
        files: files.len(),
        entries,
        checkpoints,
        mac_checked: keys.hmac.is_some(),
        signed: coverage,
        unsigned_ledgers,
    })
}

/// The listed files (the spec's parts, and the signed parts' files) are exactly the
/// archive's, each with its size and hash; `manifest.sig` is there exactly when the manifest
/// names it.
fn check_listing(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Result<(), BundleError> {
    let mut listed = BTreeSet::new();
    let signed_files = manifest.signed_files();
    let all = manifest.files.iter().map(|f| (&f.path, f.size, &f.sha256)).chain(signed_files.iter().map(|f| (&f.path, f.size, &f.sha256)));
    if let Some(sig) = &manifest.signature {
        if !files.contains_key(&sig.path) {
            return Err(Invalid::SignatureMissing.into());
        }
        listed.insert(sig.path.as_str());
    }
    for (path, size, sha256) in all {
        if path == BUNDLE_MANIFEST || !listed.insert(path.as_str()) {
            return Err(Invalid::ListedTwice { path: path.clone() }.into());
        }
        let bytes = files.get(path).ok_or_else(|| Invalid::Missing { path: path.clone() })?;
        if bytes.len() as u64 != size {
            return Err(Invalid::SizeMismatch { path: path.clone(), size: bytes.len() as u64, stated: size }.into());
        }
        let h = pip_compiler::sha256_hex(bytes);
        if h != *sha256 {
            return Err(Invalid::HashMismatch { path: path.clone(), sha256: h, stated: sha256.clone() }.into());
        }
    }
    if let Some(extra) = files.keys().find(|p| p.as_str() != BUNDLE_MANIFEST && !listed.contains(p.as_str())) {
        return Err(Invalid::Unlisted { path: extra.clone() }.into());
    }
    Ok(())
}

struct SpecFacts {
    expectations: BTreeMap<String, Vec<Expectation>>,
    /// Each ledger's witness keys and quorum, as the spec declares them.
    witnesses: BTreeMap<String, (Vec<String>, u32)>,
}

/// Compiles the bundled spec, checks its hash and bundle manifest, and compares every
/// bundled artifact with what it generates.
fn rebuild(manifest: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Result<SpecFacts, BundleError> {
    let mut sources = Sources::new();
    for s in &manifest.spec.sources {
        let bytes = files.get(&s.path).ok_or_else(|| Invalid::SourceMissing { path: s.path.clone() })?;
        sources.add(SourceFile::from_bytes(s.name.clone(), PathBuf::from(&s.name), bytes.clone()));
    }
    let c = load::check(sources).map_err(|_| Invalid::SpecErrors)?;
    let spec = c.spec(&manifest.spec.name).map_err(|_| Invalid::SpecMissing { spec: manifest.spec.name.clone() })?;
    if spec.provenance.sha256 != manifest.spec.sha256 {
        return Err(Invalid::SpecHashMismatch { sha256: spec.provenance.sha256.clone(), stated: manifest.spec.sha256.clone() }.into());
    }
    let bundle = spec
        .bundles
        .iter()
        .find(|b| b.name == manifest.bundle)
        .ok_or_else(|| Invalid::BundleMissing { bundle: manifest.bundle.clone() })?;
    if bundle.max_size != manifest.max_size_bytes {
        return Err(Invalid::SizeCapMismatch { stated: manifest.max_size_bytes, spec: bundle.max_size }.into());
    }
    let expected = bundle_files(spec, bundle);
    let want: BTreeSet<(&str, Part)> = expected.iter().map(|f| (f.path.as_str(), f.part)).collect();
    let mut have: BTreeSet<(&str, Part)> = manifest.files.iter().map(|f| (f.path.as_str(), f.part)).collect();
    have.insert((BUNDLE_MANIFEST, Part::Manifest));
    // The alert history is the one file the spec does not list: there when the builder asked
    // Prometheus for it (and bound by the manifest like the rest), under its one name.
    if let Some(f) = manifest.files.iter().find(|f| f.part == Part::Alerts) {
        if f.path != ALERTS {
            return Err(Invalid::NotPart { path: f.path.clone(), bundle: bundle.name.clone() }.into());
        }
        have.remove(&(ALERTS, Part::Alerts));
    }
    if let Some((p, _)) = want.difference(&have).next() {
        return Err(Invalid::Lacks { bundle: bundle.name.clone(), path: (*p).to_string() }.into());
    }
    if let Some((p, _)) = have.difference(&want).next() {
        return Err(Invalid::NotPart { path: (*p).to_string(), bundle: bundle.name.clone() }.into());
    }
    let artifacts: BTreeMap<String, Vec<u8>> = pip_compiler::emit::emit_all(std::slice::from_ref(spec))
        .map_err(Invalid::Emit)?
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect();
    for f in expected.iter().filter(|f| matches!(f.part, Part::Rules | Part::Dashboards | Part::BundleManifest)) {
        let made = f.artifact.as_ref().and_then(|a| artifacts.get(a));
        if made.is_none() || made != files.get(&f.path) {
            return Err(Invalid::ArtifactMismatch { path: f.path.clone() }.into());
        }
    }
    let want_ledgers: Vec<&str> = expected.iter().filter_map(|f| f.ledger.as_deref()).collect();
    let have_ledgers: Vec<&str> = manifest.ledgers.iter().map(|l| l.name.as_str()).collect();
    if want_ledgers != have_ledgers {
        return Err(Invalid::LedgersMismatch {
            described: have_ledgers.iter().map(ToString::to_string).collect(),
            included: want_ledgers.iter().map(ToString::to_string).collect(),
        }
        .into());
    }
    let expectations = spec.ledgers.iter().map(|l| (l.name.clone(), expectations(l))).collect();
    let witnesses = spec.ledgers.iter().map(|l| (l.name.clone(), signed::spec_witnesses(l))).collect();
    Ok(SpecFacts { expectations, witnesses })
}

/// Decodes a slice, checks it against the manifest, and verifies its chain to its
/// checkpoints. Returns its entries and how many checkpoints bind them.
fn check_ledger(
    manifest: &Manifest,
    info: &LedgerInfo,
    files: &BTreeMap<String, Vec<u8>>,
    key: Option<&LedgerKey>,
    expectations: &BTreeMap<String, Vec<Expectation>>,
) -> Result<(Vec<Entry>, usize), BundleError> {
    let name = &info.name;
    let bytes = files.get(&info.path).ok_or_else(|| Invalid::SliceMissing { ledger: name.clone() })?;
    let d = slice::decode(bytes).map_err(|source| Invalid::SliceUndecodable { ledger: name.clone(), source })?;
    if let Some(key) = key
        && (d.key_id != key.id() || info.key_id != key.id_hex())
    {
        return Err(Invalid::SliceOtherKey { ledger: name.clone(), written_with: to_hex(&d.key_id), key: key.id_hex() }.into());
    }
    // Without the ledger key, the slice's key id is still the one the (signed) manifest names.
    if to_hex(&d.key_id) != info.key_id {
        return Err(Invalid::SliceDescriptionMismatch { ledger: name.clone() }.into());
    }
    // Another ledger's slice written with the same key: its identity is not the one the
    // (MACed) manifest names, or, rewritten to that one, its checkpoints fail their MACs.
    if IdentityInfo::of(&d.identity) != info.identity {
        return Err(
            Invalid::SliceIdentityMismatch { ledger: name.clone(), id: d.identity.id_hex(), stated: info.identity.id.clone() }.into()
        );
    }
    if !d.identity.spec.is_empty() && (d.identity.spec != manifest.spec.name || d.identity.ledger != *name) {
        return Err(Invalid::SliceForeign { ledger: name.clone(), identity: Box::new(d.identity) }.into());
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
        return Err(Invalid::SliceDescriptionMismatch { ledger: name.clone() }.into());
    }
    let w = manifest.window;
    if let Some(e) = d.entries.iter().find(|e| e.ts_millis < w.from_ms || e.ts_millis >= w.to_ms) {
        return Err(Invalid::OutsideWindow { ledger: name.clone(), seq: e.seq }.into());
    }
    // The MACed checkpoints need the ledger key; with the verifier keys alone, the signed
    // part binds the entries instead (`signed::check_ledger`).
    if let Some(key) = key {
        let report = verify_slice(&d.entries, &d.anchor, &d.checkpoints, key, d.identity.digest(), Authenticity::ChainToCheckpoint);
        if !report.is_clean() || report.authentic != d.entries.len() as u64 {
            return Err(Invalid::SliceAnomalies { ledger: name.clone(), anomalies: report.anomalies }.into());
        }
    }
    let none = Vec::new();
    let exp = expectations.get(name).unwrap_or(&none);
    let gaps: Vec<GapInfo> = evidence_gaps(d.entries.iter().map(|e| (e.subsystem.as_bytes(), e.ts_millis, e.seq)), exp, w.from_ms, w.to_ms)
        .into_iter()
        .map(|g| GapInfo { subsystem: g.subsystem, from_ms: g.from_ms, to_ms: g.to_ms, severity: g.severity, ongoing: g.ongoing })
        .collect();
    if gaps != info.gaps {
        return Err(Invalid::GapsMismatch { ledger: name.clone() }.into());
    }
    Ok((d.entries, d.checkpoints.len()))
}
