//! pip-bundle as a library: a service builds a bundle and an auditor's tool verifies it with
//! library calls alone, and every way that fails is an error value it can match on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pip_bundle::archive::Limits;
use pip_bundle::signed::SignedKeys;
use pip_bundle::{
    BuildOptions, Built, BundleError, Invalid, LedgerFault, LedgerProblem, Progress, Silent, SpecError, UsageError, WholeLedgerAnomalies,
    archive, build, check_output, parse_window, timeline, verify, verify_file,
};
use pip_bundle::{Keys, verify_with};
use pip_compiler::load::{SpecsError, Unpicked};
use pip_runtime::clock::{Clock, ManualClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::note::{NoteSigner, NoteVerifiers, SignatureType};
use pip_runtime::ledger::{CheckpointPolicy, Ledger, LedgerConfig, LedgerKey};

const ORIGIN_MS: u64 = 1_767_225_600_000;

const SPEC: &str = r#"spec shop version "1.0.0" {
  owner   = "team-shop"
  runbook = "https://runbooks.example.com/shop"
}

ledger audit {
  key = env("PIP_AUDIT_KEY")
  checkpoint every 3 entries or 1h
  expect subsystem "billing" every 15m severity P1
}

bundle incident {
  window   = 24h
  max_size = 5MiB
  include ledger audit, specs, rules, dashboards, timeline
}
"#;

fn key() -> LedgerKey {
    LedgerKey::from_hex(&"3c".repeat(32), "the test").unwrap()
}

/// A folder with the spec and a ledger of eight entries a minute apart.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.pips"), SPEC).unwrap();
    let clock = ManualClock::new(ORIGIN_MS);
    let mut cfg = LedgerConfig::new("shop", "audit", dir.path().join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(3), every: None };
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (ledger, _) = Ledger::open(cfg, key(), shared, None).unwrap();
    for i in 0..8 {
        clock.advance(Duration::from_secs(60));
        let e = Event {
            subsystem: "billing".into(),
            actor: "svc".into(),
            action: "charge".into(),
            resource: format!("acct/{i}"),
            payload: serde_json::json!({ "amount": i }),
            result: "ok".into(),
        };
        ledger.append(&e).unwrap();
    }
    ledger.close().unwrap();
    dir
}

fn options(dir: &Path) -> BuildOptions {
    BuildOptions {
        specs: vec![dir.join("shop.pips")],
        bundle: None,
        ledgers: vec![(None, dir.join("audit.ledger"))],
        checkpoints: None,
        key: key(),
        window_ms: None,
        from_ms: None,
        to_ms: None,
        timeline_max_rows: timeline::DEFAULT_MAX_ROWS,
        threads: 1,
        allow_anomalies: false,
        signing_key: None,
        signed_file: None,
        prometheus: None,
    }
}

/// Counts the stages a build reports.
#[derive(Default)]
struct Stages(std::sync::Mutex<Vec<String>>, std::sync::atomic::AtomicUsize);

impl Progress for Stages {
    fn stage(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
    fn advance(&self) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_bundle_built_by_a_library_call_verifies_from_its_file() {
    let dir = project();
    let stages = Stages::default();
    let Built { zip, manifest, entries, warnings } = build(&options(dir.path()), &stages).unwrap();
    assert_eq!(entries, 8);
    assert!(warnings.is_empty(), "{warnings:?}");
    // The ledger signs nothing: the bundle is as it always was.
    assert!(manifest.signature.is_none() && manifest.ledgers.iter().all(|l| l.signed.is_none()));
    assert_eq!((manifest.spec.name.as_str(), manifest.bundle.as_str()), ("shop", "incident"));
    // Four stages and one per ledger, each reported and ended.
    assert_eq!(stages.0.lock().unwrap().len(), 5);
    assert_eq!(stages.1.load(std::sync::atomic::Ordering::Relaxed), 5);
    let path = dir.path().join("incident.zip");
    std::fs::write(&path, &zip).unwrap();
    let v = verify_file(&path, &key(), &Limits::default()).unwrap();
    assert_eq!(v.entries, 8);
    assert_eq!(v.manifest, manifest);
    assert_eq!(v.files, manifest.files.len() + 1);
}

#[test]
fn verification_failures_are_error_values_by_kind() {
    let dir = project();
    let zip = build(&options(dir.path()), &Silent).unwrap().zip;
    // Another key: the manifest's MAC names the key it was signed with.
    let other = LedgerKey::from_hex(&"4d".repeat(32), "another").unwrap();
    assert!(matches!(verify(&zip, &other, &Limits::default()), Err(BundleError::Invalid(Invalid::OtherKey { signed_with, key: k }))
        if signed_with == key().id_hex() && k == other.id_hex()));
    // Not a ZIP at all: refused as an archive before anything is checked.
    assert!(matches!(verify(b"not a zip", &key(), &Limits::default()), Err(BundleError::Archive(_))));
    // A file larger than any bundle may expand to is refused unread; a missing one is unreadable.
    let path = dir.path().join("incident.zip");
    std::fs::write(&path, &zip).unwrap();
    let tight = Limits { max_total: zip.len() as u64 - 1, ..Limits::default() };
    assert!(matches!(verify_file(&path, &key(), &tight), Err(BundleError::Refused { path: p, .. }) if p == path));
    let missing = dir.path().join("missing.zip");
    assert!(matches!(verify_file(&missing, &key(), &Limits::default()), Err(BundleError::Read { path: p, .. }) if p == missing));
    // A directory is not a bundle file either.
    assert!(matches!(verify_file(dir.path(), &key(), &Limits::default()), Err(BundleError::Read { .. })));
}

#[test]
fn a_bundle_is_never_written_over_its_inputs() {
    let dir = project();
    let opts = options(dir.path());
    let ledger = dir.path().join("audit.ledger");
    let ckpt: PathBuf = pip_runtime::ledger::checkpoint::default_path(&ledger);
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "k").unwrap();
    for input in [&ledger, &ckpt, &key_file] {
        // Not even with `force`.
        let e = check_output(input, &opts, Some(&key_file), true).unwrap_err();
        assert!(matches!(&e, BundleError::Usage(UsageError::OutputIsInput { input: i, .. }) if i == input), "{e}");
    }
    let spec = dir.path().join("shop.pips");
    assert!(matches!(check_output(&spec, &opts, None, true), Err(BundleError::Usage(UsageError::OutputInsideSpecs { .. }))));
    let existing = dir.path().join("old.zip");
    std::fs::write(&existing, "old").unwrap();
    assert!(
        matches!(check_output(&existing, &opts, None, false), Err(BundleError::Usage(UsageError::OutputExists { output })) if output == existing)
    );
    check_output(&existing, &opts, None, true).unwrap();
    check_output(&dir.path().join("new.zip"), &opts, None, false).unwrap();
}

/// The bundle `zip` with `change` applied to its files, rezipped (so the archive itself reads).
fn tampered(zip: &[u8], change: impl FnOnce(&mut std::collections::BTreeMap<String, Vec<u8>>)) -> Vec<u8> {
    let mut files = archive::read(zip, &Limits::default()).unwrap();
    change(&mut files);
    archive::write(&files.into_iter().collect::<Vec<_>>()).unwrap()
}

fn invalid(zip: &[u8]) -> Invalid {
    match verify(zip, &key(), &Limits::default()) {
        Err(BundleError::Invalid(i)) => i,
        other => panic!("expected a failed check, got {other:?}"),
    }
}

#[test]
fn each_tampering_is_named_by_its_check_and_file() {
    let dir = project();
    let zip = build(&options(dir.path()), &Silent).unwrap().zip;
    let files = archive::read(&zip, &Limits::default()).unwrap();
    let rules = files.keys().find(|p| p.contains("rules")).unwrap().clone();
    let slice = files.keys().find(|p| p.starts_with("ledger")).unwrap().clone();
    // One byte of the rules changed, its size kept: the hash check names the file.
    let z = tampered(&zip, |f| f.get_mut(&rules).unwrap()[0] ^= 1);
    let i = invalid(&z);
    assert!(matches!(&i, Invalid::HashMismatch { path, sha256, stated } if *path == rules && sha256 != stated), "{i}");
    assert_eq!(i.file(), Some(rules.as_str()));
    // A byte added: the size check comes first.
    let z = tampered(&zip, |f| f.get_mut(&rules).unwrap().push(b'\n'));
    assert!(matches!(invalid(&z), Invalid::SizeMismatch { path, size, stated } if path == rules && size == stated + 1));
    // A file removed, a file added.
    let z = tampered(&zip, |f| drop(f.remove(&slice)));
    assert!(matches!(invalid(&z), Invalid::Missing { path } if path == slice));
    let z = tampered(&zip, |f| drop(f.insert("extra.txt".into(), b"x".to_vec())));
    assert!(matches!(invalid(&z), Invalid::Unlisted { path } if path == "extra.txt"));
    // The manifest: gone, not JSON, re-spaced, or its MAC removed.
    let z = tampered(&zip, |f| drop(f.remove("manifest.json")));
    assert!(matches!(invalid(&z), Invalid::NoManifest));
    let z = tampered(&zip, |f| drop(f.insert("manifest.json".into(), b"[]".to_vec())));
    assert!(matches!(invalid(&z), Invalid::ManifestUnparsable(_)));
    let z = tampered(&zip, |f| f.get_mut("manifest.json").unwrap().push(b' '));
    let i = invalid(&z);
    assert!(matches!(i, Invalid::ManifestNotCanonical));
    assert_eq!(i.file(), Some("manifest.json"));
    let mut m: pip_bundle::manifest::Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    m.mac = None;
    let z = tampered(&zip, |f| drop(f.insert("manifest.json".into(), m.to_bytes().unwrap())));
    assert!(matches!(invalid(&z), Invalid::NoMac));
    // The manifest re-signed after a change the key holder did not make (a wider cap): the
    // MAC holds, the spec's check names the field.
    let mut m: pip_bundle::manifest::Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    m.max_size_bytes += 1;
    m.sign(&key()).unwrap();
    let z = tampered(&zip, |f| drop(f.insert("manifest.json".into(), m.to_bytes().unwrap())));
    assert!(matches!(invalid(&z), Invalid::SizeCapMismatch { stated, spec } if stated == spec + 1));
    // The same change unsigned: the MAC fails.
    let mut m: pip_bundle::manifest::Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    m.max_size_bytes += 1;
    let z = tampered(&zip, |f| drop(f.insert("manifest.json".into(), m.to_bytes().unwrap())));
    assert!(matches!(invalid(&z), Invalid::MacMismatch));
}

#[test]
fn build_failures_are_error_values_by_kind() {
    let dir = project();
    let base = options(dir.path());
    let fails = |opts: &BuildOptions| build(opts, &Silent).unwrap_err();
    assert!(matches!(parse_window("soon"), Err(BundleError::Usage(UsageError::NotADuration { text })) if text == "soon"));
    let e = fails(&BuildOptions { bundle: Some("nope".into()), ..base.clone() });
    assert!(matches!(e, BundleError::Usage(UsageError::Bundle(Unpicked::NotFound { name, .. })) if name == "nope"));
    let e = fails(&BuildOptions { from_ms: Some(ORIGIN_MS + 1), to_ms: Some(ORIGIN_MS), ..base.clone() });
    assert!(matches!(e, BundleError::Usage(UsageError::EmptyWindow)));
    let e = fails(&BuildOptions { ledgers: vec![(Some("payments".into()), dir.path().join("audit.ledger"))], ..base.clone() });
    assert!(
        matches!(e, BundleError::Usage(UsageError::UnknownLedger { name, included, .. }) if name == "payments" && included == ["audit"])
    );
    let e = fails(&BuildOptions { specs: vec![dir.path().join("absent.pips")], ..base.clone() });
    assert!(matches!(e, BundleError::Usage(UsageError::Specs(_))), "{e}");
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("shop.pips"), SPEC.replace("window   = 24h", "window   = soon")).unwrap();
    let e = fails(&BuildOptions { specs: vec![broken], ..base.clone() });
    assert!(matches!(e, BundleError::Spec(SpecError::Specs(SpecsError::Invalid(_)))), "{e}");
    let e = fails(&BuildOptions { ledgers: vec![(None, dir.path().join("shop.pips"))], ..base });
    assert!(matches!(&e, BundleError::Usage(UsageError::OpenLedger { name, .. }) if name == "audit"), "{e}");
}

/// Flips one byte inside the last entry of the ledger file (its resource text).
fn damage_last_entry(ledger: &Path) {
    let mut bytes = std::fs::read(ledger).unwrap();
    let at = bytes.windows(6).rposition(|w| w == b"acct/7").unwrap();
    bytes[at + 5] = b'9';
    std::fs::write(ledger, bytes).unwrap();
}

#[test]
fn a_changed_entry_refuses_the_ledger_by_where_it_lies() {
    let dir = project();
    let ledger = dir.path().join("audit.ledger");
    damage_last_entry(&ledger);
    // Inside the window: the ledger is refused, with its anomalies.
    let e = build(&options(dir.path()), &Silent).unwrap_err();
    assert!(
        matches!(&e, BundleError::Ledger(LedgerFault { ledger: l, path, problem: LedgerProblem::WindowAnomalies(a) })
            if l == "audit" && *path == ledger && !a.is_empty()),
        "{e:?}"
    );
    // Outside it (the first two minutes only): the whole ledger's anomalies, unless allowed.
    let early = BuildOptions { from_ms: Some(ORIGIN_MS), to_ms: Some(ORIGIN_MS + 150_000), ..options(dir.path()) };
    let e = build(&early, &Silent).unwrap_err();
    assert!(
        matches!(&e, BundleError::Anomalies(WholeLedgerAnomalies { ledger: l, anomalies, .. }) if l == "audit" && !anomalies.is_empty()),
        "{e:?}"
    );
    let built = build(&BuildOptions { allow_anomalies: true, ..early }, &Silent).unwrap();
    assert_eq!(built.entries, 2);
}

#[test]
fn a_bundle_without_a_signature_verifies_only_with_the_ledger_key() {
    let dir = project();
    let zip = build(&options(dir.path()), &Silent).unwrap().zip;
    let limits = Limits::default();
    let e = verify_with(&zip, Keys { hmac: None, signed: None }, &limits).unwrap_err();
    assert!(matches!(e, BundleError::Usage(UsageError::NoVerificationKey)), "{e:?}");
    let signer = NoteSigner::generate("pip/shop/audit", SignatureType::Ed25519).unwrap();
    let keys = SignedKeys { verifiers: NoteVerifiers::new([signer.verifier()]).unwrap(), ..SignedKeys::default() };
    let e = verify_with(&zip, Keys { hmac: None, signed: Some(&keys) }, &limits).unwrap_err();
    assert!(matches!(&e, BundleError::Invalid(i @ Invalid::NoSignature) if i.file() == Some("manifest.sig")), "{e:?}");
    // With the ledger key too, the MAC passes and the missing signature is still reported.
    let key = key();
    let e = verify_with(&zip, Keys { hmac: Some(&key), signed: Some(&keys) }, &limits).unwrap_err();
    assert!(matches!(e, BundleError::Invalid(Invalid::NoSignature)), "{e:?}");
    let v = verify_with(&zip, Keys { hmac: Some(&key), signed: None }, &limits).unwrap();
    assert!(v.mac_checked && v.signed.is_empty());
}
