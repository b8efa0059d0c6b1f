//! Incident bundles end to end: a ledger written by the runtime is bundled with `pipc bundle`
//! and verified with `pipc verify-bundle`; every tampered file, every byte of the ledger
//! slice and every hostile archive is refused with its reason; the manifest and timeline are
//! pinned by snapshots; the timeline renders in headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use pip_bundle::archive::{self, ArchiveError, Limits};
use pip_bundle::manifest::Manifest;
use pip_bundle::{BundleError, verify};
use pip_runtime::clock::{Clock, ManualClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::slice;
use pip_runtime::ledger::{Authenticity, CheckpointPolicy, Ledger, LedgerConfig, LedgerKey, verify_slice};

/// A fixed key, so that MACs in snapshots are stable.
const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const ORIGIN_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

const SPEC: &str = r#"spec shop version "1.2.0" {
  owner   = "team-shop"
  runbook = "https://runbooks.example.com/shop"
}

ledger audit {
  key = env("PIP_AUDIT_KEY")
  checkpoint every 4 entries or 1h
  expect subsystem "billing" every 15m severity P1
}

bundle incident {
  window   = 24h
  max_size = 5MiB
  include ledger audit, specs, rules, dashboards, timeline
}
"#;

fn pipc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipc")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn key() -> LedgerKey {
    LedgerKey::from_hex(KEY_HEX, "the test").unwrap()
}

fn event(subsystem: &str, actor: &str, action: &str, resource: &str, payload: serde_json::Value, result: &str) -> Event {
    Event {
        subsystem: subsystem.into(),
        actor: actor.into(),
        action: action.into(),
        resource: resource.into(),
        payload,
        result: result.into(),
    }
}

/// Ten events a minute or more apart, with a violation, a denial and a 20-minute billing
/// silence, appended by the runtime's ledger.
fn write_ledger(path: &Path) {
    // A fixed id, so that the pinned manifest and the bytes of two builds are the same.
    write_ledger_with_id(path, [0x5a; 16]);
}

fn write_ledger_with_id(path: &Path, id: [u8; 16]) {
    let clock = ManualClock::new(ORIGIN_MS);
    let mut cfg = LedgerConfig::new("shop", "audit", path);
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(4), every: None };
    cfg.ledger_id = Some(id);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (ledger, _) = Ledger::open(cfg, key(), shared, None).unwrap();
    let events = [
        (60, event("billing", "svc-billing", "charge", "acct/17", serde_json::json!({"amount": 1250, "currency": "EUR"}), "ok")),
        (60, event("auth", "sso", "login", "user/alice", serde_json::json!({"ip": "10.0.0.7"}), "ok")),
        (60, event("billing", "svc-billing", "charge", "acct/18", serde_json::json!({"amount": 990, "currency": "EUR"}), "ok")),
        (
            60,
            event(
                "billing",
                "payments::transfer",
                "violation",
                "shop.balance_non_negative",
                serde_json::json!({"check": "ensures", "expr": "account.balance >= 0", "values": {"balance": "-40"}}),
                "violated",
            ),
        ),
        (60, event("settlement", "batch", "settle", "batch/2026-01-01", serde_json::json!({"count": 2}), "ok")),
        (1200, event("billing", "svc-billing", "refund", "acct/17", serde_json::json!({"amount": 1250}), "denied")),
        (60, event("auth", "sso", "logout", "user/alice", serde_json::Value::Null, "ok")),
        (
            60,
            event("billing", "svc-billing", "charge", "acct/<script>", serde_json::json!({"amount": 5, "note": "a \"quoted\" <b>"}), "ok"),
        ),
        (60, event("auth", "sso", "login", "user/bob", serde_json::json!({"ip": "10.0.0.9", "mfa": true}), "ok")),
        (60, event("billing", "svc-billing", "charge", "acct/19", serde_json::json!({"amount": 42.5, "currency": "USD"}), "ok")),
    ];
    for (gap, e) in events {
        clock.advance(Duration::from_secs(gap));
        ledger.append(&e).unwrap();
    }
    ledger.close().unwrap();
}

/// A folder with the spec, a key file, and a ledger written by the runtime.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.pips"), SPEC).unwrap();
    std::fs::write(dir.path().join("key"), format!("{KEY_HEX}\n")).unwrap();
    write_ledger(&dir.path().join("audit.ledger"));
    dir
}

/// A project and the bundle `pipc bundle` built from it.
fn bundled() -> (tempfile::TempDir, Vec<u8>) {
    let dir = project();
    let out = pipc(dir.path(), &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let zip = std::fs::read(dir.path().join("incident.zip")).unwrap();
    (dir, zip)
}

fn files_of(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    archive::read(zip, &Limits::default()).unwrap().into_iter().collect()
}

fn manifest_of(zip: &[u8]) -> Manifest {
    serde_json::from_slice(&files_of(zip).into_iter().find(|(n, _)| n == "manifest.json").unwrap().1).unwrap()
}

fn reason(zip: &[u8]) -> String {
    match verify(zip, &key(), &Limits::default()) {
        Ok(_) => panic!("the bundle verified"),
        Err(e) => e.to_string(),
    }
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(r"pipc \d+\.\d+\.\d+", "pipc [version]");
    s
}

#[test]
fn a_bundle_built_from_a_runtime_ledger_verifies_and_unzip_opens_it() {
    let (dir, zip) = bundled();
    let out = pipc(dir.path(), &["verify-bundle", "incident.zip", "--key-file", "key"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("verified: spec `shop` 1.2.0"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("10 ledger entries bound to 3 checkpoint(s)"), "{}", text(&out.stdout));
    let names: Vec<String> = files_of(&zip).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "generated/bundles/shop.manifest.json",
            "generated/grafana/shop.json",
            "generated/prometheus/shop.rules.yml",
            "generated/prometheus/shop.test.yml",
            "ledger/audit.slice",
            "manifest.json",
            "spec/shop.pips",
            "timeline.html"
        ]
    );
    let unzip = Command::new("unzip").args(["-t", "incident.zip"]).current_dir(dir.path()).output().expect("`unzip` is installed");
    assert!(unzip.status.success(), "{}", text(&unzip.stdout));
    assert!(text(&unzip.stdout).contains("No errors detected"), "{}", text(&unzip.stdout));
    let other = dir.path().join("other.key");
    assert_eq!(pipc(dir.path(), &["keygen", "-o", "other.key"]).status.code(), Some(0));
    let wrong = pipc(dir.path(), &["verify-bundle", "incident.zip", "--key-file", other.to_str().unwrap()]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(text(&wrong.stderr).contains("signed with key id"), "{}", text(&wrong.stderr));
}

#[test]
fn the_manifest_and_timeline_of_a_fixed_ledger_are_pinned() {
    let (_dir, zip) = bundled();
    let files = files_of(&zip);
    let get = |n: &str| text(&files.iter().find(|(p, _)| p == n).unwrap().1);
    settings().bind(|| {
        insta::assert_snapshot!("bundle-manifest@shop", get("manifest.json"));
        insta::assert_snapshot!("timeline@shop", get("timeline.html"));
    });
    let again = bundled().1;
    assert_eq!(zip, again, "the same ledger and spec give the same bytes");
}

#[test]
fn tampering_with_any_single_file_is_detected() {
    let (_dir, zip) = bundled();
    let files = files_of(&zip);
    for (i, (name, _)) in files.iter().enumerate() {
        let mut changed = files.clone();
        let bytes = &mut changed[i].1;
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        let why = reason(&archive::write(&changed).unwrap());
        if name == "manifest.json" {
            assert!(why.contains("manifest"), "{name}: {why}");
        } else {
            assert!(why.contains(&format!("`{name}` was altered")), "{name}: {why}");
        }
        let mut dropped = files.clone();
        dropped.remove(i);
        let why = reason(&archive::write(&dropped).unwrap());
        assert!(why.contains("missing") || why.contains("no `manifest.json`"), "{name}: {why}");
    }
    let mut extra = files.clone();
    extra.push(("notes.txt".into(), b"trust me".to_vec()));
    assert!(reason(&archive::write(&extra).unwrap()).contains("`notes.txt` is in the archive but not in the manifest"));
}

#[test]
fn every_byte_of_the_ledger_slice_is_bound() {
    let (_dir, zip) = bundled();
    let files = files_of(&zip);
    let original = files.iter().find(|(n, _)| n == "ledger/audit.slice").unwrap().1.clone();
    let good = slice::decode(&original).unwrap();
    assert!(
        verify_slice(&good.entries, &good.anchor, &good.checkpoints, &key(), good.identity.digest(), Authenticity::ChainToCheckpoint)
            .is_clean()
    );
    for at in 0..original.len() {
        for bit in [0x01u8, 0x80] {
            let mut bytes = original.clone();
            bytes[at] ^= bit;
            let caught = match slice::decode(&bytes) {
                Err(_) => true,
                Ok(d) => {
                    d.key_id != key().id()
                        || !verify_slice(
                            &d.entries,
                            &d.anchor,
                            &d.checkpoints,
                            &key(),
                            d.identity.digest(),
                            Authenticity::ChainToCheckpoint,
                        )
                        .is_clean()
                }
            };
            assert!(caught, "flipping bit {bit:#x} of byte {at} went unnoticed");
        }
    }
    for cut in 0..original.len() {
        assert!(slice::decode(&original[..cut]).is_err(), "a slice cut to {cut} bytes was accepted");
    }
    let mut longer = original.clone();
    longer.push(0);
    assert!(slice::decode(&longer).is_err(), "a byte appended to the slice was accepted");
    // And in a whole bundle whose manifest an attacker re-signed with the key: still caught.
    let mut m = manifest_of(&zip);
    let mut bytes = original.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    for f in &mut m.files {
        if f.path == "ledger/audit.slice" {
            f.sha256 = pip_compiler::sha256_hex(&bytes);
        }
    }
    m.sign(&key()).unwrap();
    let rebuilt: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| match n.as_str() {
            "manifest.json" => (n.clone(), m.to_bytes().unwrap()),
            "ledger/audit.slice" => (n.clone(), bytes.clone()),
            _ => (n.clone(), b.clone()),
        })
        .collect();
    let why = reason(&archive::write(&rebuilt).unwrap());
    assert!(why.contains("ledger `audit`"), "{why}");
}

#[test]
fn a_manifest_that_lists_a_file_twice_is_refused_even_when_signed() {
    let (_dir, zip) = bundled();
    let mut m = manifest_of(&zip);
    let dup = m.files[0].clone();
    m.files.push(dup);
    m.sign(&key()).unwrap();
    let files: Vec<(String, Vec<u8>)> =
        files_of(&zip).into_iter().map(|(n, b)| if n == "manifest.json" { (n, m.to_bytes().unwrap()) } else { (n, b) }).collect();
    let why = reason(&archive::write(&files).unwrap());
    assert!(why.contains("lists `generated/bundles/shop.manifest.json` twice"), "{why}");
}

#[test]
fn artifacts_that_do_not_match_the_bundled_spec_are_refused_even_when_signed() {
    let (_dir, zip) = bundled();
    let mut m = manifest_of(&zip);
    let forged = b"groups: []\n".to_vec();
    for f in &mut m.files {
        if f.path == "generated/prometheus/shop.rules.yml" {
            f.sha256 = pip_compiler::sha256_hex(&forged);
            f.size = forged.len() as u64;
        }
    }
    m.sign(&key()).unwrap();
    let files: Vec<(String, Vec<u8>)> = files_of(&zip)
        .into_iter()
        .map(|(n, b)| match n.as_str() {
            "manifest.json" => (n, m.to_bytes().unwrap()),
            "generated/prometheus/shop.rules.yml" => (n, forged.clone()),
            _ => (n, b),
        })
        .collect();
    let why = reason(&archive::write(&files).unwrap());
    assert!(why.contains("`generated/prometheus/shop.rules.yml` does not match what the bundled spec generates"), "{why}");
}

/// Replaces every occurrence of `from` by `to` (same length) in raw archive bytes.
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut n = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            n += 1;
        }
        i += 1;
    }
    assert!(n > 0);
    out
}

/// Offsets of a 4-byte signature in raw archive bytes.
fn signatures(bytes: &[u8], sig: &[u8; 4]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(3)).filter(|&i| &bytes[i..i + 4] == sig).collect()
}

fn refused(zip: &[u8]) -> ArchiveError {
    match verify(zip, &key(), &Limits::default()) {
        Err(BundleError::Archive(e)) => e,
        other => panic!("expected the archive to be refused, got {other:?}"),
    }
}

#[test]
fn hostile_archives_are_refused_with_their_reason() {
    let (_dir, zip) = bundled();
    let files = files_of(&zip);
    let with = |name: &str| {
        let mut f = files.clone();
        f.push((name.to_string(), b"x".to_vec()));
        archive::write(&f).unwrap()
    };
    for (name, why) in [
        ("../evil.sh", "`..`"),
        ("spec/../../evil.sh", "`..`"),
        ("/etc/cron.d/evil", "absolute"),
        ("..\\evil.bat", "backslash"),
        ("C:/evil.bat", "`:`"),
        ("./timeline.html", "`.`"),
    ] {
        let e = refused(&with(name));
        assert!(matches!(e, ArchiveError::UnsafePath { .. }), "{name}: {e}");
        assert!(e.to_string().contains(why), "{name}: {e}");
    }

    // A symbolic link.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (n, b) in &files {
        w.start_file(n.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(b).unwrap();
    }
    w.add_symlink("passwd", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
    let link = w.finish().unwrap().into_inner();
    assert!(matches!(refused(&link), ArchiveError::Symlink(n) if n == "passwd"));

    // Duplicate names: exact (patched into the headers) and equal but for case.
    let mut two = files.clone();
    two.push(("aaaa.txt".into(), b"1".to_vec()));
    two.push(("bbbb.txt".into(), b"1".to_vec()));
    let dup = patch(&archive::write(&two).unwrap(), b"bbbb.txt", b"aaaa.txt");
    assert!(matches!(refused(&dup), ArchiveError::Duplicate(ref n) if n == "aaaa.txt"), "{}", refused(&dup));
    let mut case = files.clone();
    case.push(("Timeline.html".into(), b"<p>".to_vec()));
    assert!(matches!(refused(&archive::write(&case).unwrap()), ArchiveError::Duplicate(_)));

    // Encrypted: the "encrypted" flag set in the local and central headers of the first file.
    let mut enc = zip.clone();
    for at in signatures(&zip, b"PK\x03\x04").into_iter().take(1) {
        enc[at + 6] |= 1;
    }
    for at in signatures(&zip, b"PK\x01\x02").into_iter().take(1) {
        enc[at + 8] |= 1;
    }
    assert!(matches!(refused(&enc), ArchiveError::Encrypted(_)), "{}", refused(&enc));

    // A compression bomb: 64 MiB of zeros in a few dozen KiB.
    let mut bomb = files.clone();
    bomb.push(("zeros.bin".into(), vec![0u8; 64 << 20]));
    let e = refused(&archive::write(&bomb).unwrap());
    assert!(matches!(e, ArchiveError::Bomb { .. }), "{e}");
    assert!(e.to_string().contains(":1"), "{e}");
    // And the cap on the total, whatever the ratio.
    let small = Limits { max_total: 1000, ..Limits::default() };
    assert!(matches!(verify(&zip, &key(), &small), Err(BundleError::Archive(ArchiveError::Bomb { .. }))));

    // A size that lies: the central directory says the manifest is shorter than it is. Its
    // local header says otherwise; with both changed, the data does.
    let mut lie = zip.clone();
    let cd = signatures(&zip, b"PK\x01\x02");
    let manifest_cd = cd.iter().copied().find(|&at| &zip[at + 46..at + 46 + 13] == b"manifest.json").unwrap();
    let size = u32::from_le_bytes(zip[manifest_cd + 24..manifest_cd + 28].try_into().unwrap());
    lie[manifest_cd + 24..manifest_cd + 28].copy_from_slice(&(size - 10).to_le_bytes());
    let e = refused(&lie);
    assert!(matches!(e, ArchiveError::Mismatch { field: "uncompressed size", .. }), "{e}");
    let manifest_local = u32::from_le_bytes(zip[manifest_cd + 42..manifest_cd + 46].try_into().unwrap()) as usize;
    lie[manifest_local + 22..manifest_local + 26].copy_from_slice(&(size - 10).to_le_bytes());
    let e = refused(&lie);
    assert!(matches!(e, ArchiveError::Damaged { .. }), "{e}");

    // Truncated, at several places.
    for cut in [zip.len() / 3, zip.len() / 2, zip.len() - 30, 10] {
        let e = refused(&zip[..cut]);
        assert!(matches!(e, ArchiveError::Unreadable(_) | ArchiveError::Damaged { .. }), "cut at {cut}: {e}");
    }
}

#[test]
fn verifying_a_hostile_archive_writes_nothing() {
    let (dir, zip) = bundled();
    let mut files = files_of(&zip);
    files.push(("../escaped.txt".into(), b"x".to_vec()));
    let inner = dir.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(inner.join("evil.zip"), archive::write(&files).unwrap()).unwrap();
    let listing = |p: &Path| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    let (before_outer, before_inner) = (listing(dir.path()), listing(&inner));
    let out = pipc(&inner, &["verify-bundle", "evil.zip", "--key-file", "../key"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unsafe path"), "{}", text(&out.stderr));
    assert_eq!((listing(dir.path()), listing(&inner)), (before_outer, before_inner));
}

#[test]
fn a_window_over_the_cap_fails_with_the_size_it_needs_and_what_to_do() {
    let dir = project();
    std::fs::write(dir.path().join("shop.pips"), SPEC.replace("max_size = 5MiB", "max_size = 2KiB")).unwrap();
    let out = pipc(dir.path(), &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("the bundle would be ") && err.contains("over the 2048-byte cap of bundle `shop.incident` (shop.pips:"), "{err}");
    assert!(err.contains("help: narrow the window"), "{err}");
    assert!(!dir.path().join("incident.zip").exists());
}

#[test]
fn a_narrower_window_bundles_only_its_entries_and_still_verifies() {
    let dir = project();
    // Entries 6..=10 lie from 00:25 on; the first five before.
    let out = pipc(
        dir.path(),
        &[
            "bundle",
            "--spec",
            "shop.pips",
            "--ledger",
            "audit.ledger",
            "--key-file",
            "key",
            "--from",
            "2026-01-01T00:25:00Z",
            "-o",
            "w.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let zip = std::fs::read(dir.path().join("w.zip")).unwrap();
    let v = verify(&zip, &key(), &Limits::default()).unwrap();
    assert_eq!(v.entries, 5);
    let l = &v.manifest.ledgers[0];
    assert_eq!((l.first_seq, l.last_seq), (6, Some(10)));
    assert_ne!(l.prev, "0".repeat(64), "the slice starts from the hash of entry 5");
    assert_eq!(l.checkpoints.last().map(|c| (c.seq, c.written_by.as_str())), Some((10, "ledger")));

    // Entries 6 and 7: no ledger checkpoint covers 7 (they are at 4, 8 and 10), so the
    // builder, having checked every entry's MAC, writes one that binds them.
    let out = pipc(
        dir.path(),
        &[
            "bundle",
            "--spec",
            "shop.pips",
            "--ledger",
            "audit.ledger",
            "--key-file",
            "key",
            "--from",
            "2026-01-01T00:25:00Z",
            "--to",
            "2026-01-01T00:27:00Z",
            "-o",
            "s.zip",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = verify(&std::fs::read(dir.path().join("s.zip")).unwrap(), &key(), &Limits::default()).unwrap();
    let l = &v.manifest.ledgers[0];
    assert_eq!((l.first_seq, l.last_seq, v.entries), (6, Some(7), 2));
    let cps: Vec<(u64, &str)> = l.checkpoints.iter().map(|c| (c.seq, c.written_by.as_str())).collect();
    assert_eq!(cps, [(7, "bundle")]);
}

#[test]
fn the_timeline_renders_its_events_in_headless_chromium() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .unwrap_or_else(|| panic!("`chromium` is not installed; run tests/run-all.sh, which installs it (Debian package `chromium`)"));
    let (_dir, zip) = bundled();
    let html = files_of(&zip).into_iter().find(|(n, _)| n == "timeline.html").unwrap().1;
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bundle-timeline");
    std::fs::create_dir_all(&out_dir).unwrap();
    let page = out_dir.join("timeline.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"];
    let user_dir = format!("--user-data-dir={}", profile.path().display());
    let dom = Command::new(chromium).args(common).arg(&user_dir).args(["--dump-dom", &url]).output().unwrap();
    assert!(dom.status.success(), "{}", text(&dom.stderr));
    let dom = text(&dom.stdout);
    for seq in 1..=10 {
        assert!(dom.contains(&format!("data-seq=\"{seq}\"")), "event {seq} is not in the rendered page");
    }
    assert_eq!(dom.matches("class=\"event violation\"").count(), 1, "the violation is highlighted once");
    assert!(dom.contains("Evidence gap (P1)"), "the billing silence is highlighted");
    assert!(dom.contains("acct/&lt;script&gt;") && !dom.contains("acct/<script>"), "text is escaped");
    picture_shows_the_window(&dom, &manifest_of(&zip));
    let shot = out_dir.join("timeline.png");
    let _ = std::fs::remove_file(&shot);
    let s = Command::new(chromium)
        .args(common)
        .arg(&user_dir)
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,2000", &url])
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", text(&s.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot at {}", shot.display());
}

/// The value of `name` in the element starting at `element` of `dom`.
fn attr_of(element: &str, name: &str) -> String {
    let tag = &element[..element.find('>').unwrap()];
    let start = tag.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {tag}")) + name.len() + 3;
    tag[start..start + tag[start..].find('"').unwrap()].to_string()
}

/// Every element of `dom` whose opening tag holds `marker`.
fn elements<'d>(dom: &'d str, marker: &str) -> Vec<&'d str> {
    dom.match_indices(marker).map(|(i, _)| &dom[dom[..=i].rfind('<').unwrap()..]).collect()
}

/// As Chromium laid the page out: the picture's violation, denial, evidence gaps and checkpoints
/// each sit at their own time, within one bucket of where the window puts it. The times come
/// from the table rows and the manifest, not from the picture.
fn picture_shows_the_window(dom: &str, manifest: &Manifest) {
    let svg = elements(dom, "id=\"timeline-svg\"")[0];
    let num = |name: &str| attr_of(svg, name).parse::<f64>().unwrap();
    let (from, to, left, plot, buckets) = (num("data-from"), num("data-to"), num("data-left"), num("data-plot"), num("data-buckets"));
    assert_eq!((from as u64, to as u64), (manifest.window.from_ms, manifest.window.to_ms));
    let x_of = |t: f64| left + (t - from) * plot / (to - from);
    let bucket = plot / buckets;
    let near =
        |what: &str, x: f64, t: f64| assert!((x - x_of(t)).abs() <= bucket, "{what} drawn at x = {x}, its time {t} is at {}", x_of(t));
    let row_time = |seq: &str| attr_of(elements(dom, &format!("data-seq=\"{seq}\" data-t="))[0], "data-t").parse::<f64>().unwrap();
    for (kind, seq) in [("violation", "4"), ("denial", "6")] {
        let marks = elements(dom, &format!("class=\"mark {kind}\""));
        assert_eq!(marks.len(), 1, "one {kind} mark");
        assert_eq!(attr_of(marks[0], "data-seq"), seq);
        let x: f64 = attr_of(marks[0], "d")[1..].split(' ').next().unwrap().parse().unwrap();
        near(kind, x, row_time(seq));
    }
    let gaps = elements(dom, "<rect class=\"gap\"");
    let expected = &manifest.ledgers[0].gaps;
    assert_eq!(gaps.len(), expected.len(), "one shaded gap per evidence gap");
    for (g, want) in gaps.iter().zip(expected) {
        let (x, w): (f64, f64) = (attr_of(g, "x").parse().unwrap(), attr_of(g, "width").parse().unwrap());
        near("a gap's start", x, want.from_ms as f64);
        near("a gap's end", x + w, want.to_ms as f64);
        assert_eq!(attr_of(g, "data-severity"), want.severity);
    }
    let ticks = elements(dom, "class=\"checkpoint\"");
    assert_eq!(ticks.len(), manifest.ledgers[0].checkpoints.len(), "a tick per checkpoint");
    for (tick, c) in ticks.iter().zip(&manifest.ledgers[0].checkpoints) {
        near("a checkpoint", attr_of(tick, "x1").parse().unwrap(), c.time_ms as f64);
    }
}

#[test]
fn generated_bundle_manifests_validate_against_their_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = root.join("generated/bundles/manifest.schema.json");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("generated/bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 2, "{docs:?}");
    // The test spec's manifest too, as the bundle carries it.
    let (_dir, zip) = bundled();
    let shop = files_of(&zip).into_iter().find(|(n, _)| n == "generated/bundles/shop.manifest.json").unwrap().1;
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bundle-schema");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(out_dir.join("shop.manifest.json"), shop).unwrap();
    docs.push(out_dir.join("shop.manifest.json"));
    // A document the schema must refuse, so that the check can fail.
    std::fs::write(out_dir.join("bad.manifest.json"), r#"{"manifest_version": 2, "bundles": []}"#).unwrap();
    let script = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is not installed; run tests/run-all.sh, which installs it")
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = list(v.iter_errors(json.load(open(path))))
    print(path, "valid" if not errors else "invalid: " + errors[0].message)
"#;
    let mut args = vec![schema.clone()];
    args.extend(docs.iter().cloned());
    args.push(out_dir.join("bad.manifest.json"));
    let out = Command::new("python3").arg("-c").arg(script).args(&args).output().expect("python3 is installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), docs.len() + 1, "{report}");
    for l in &lines[..docs.len()] {
        assert!(l.ends_with(" valid"), "{l}");
    }
    assert!(lines[docs.len()].contains("invalid"), "{report}");
}

const TWO_LEDGERS: &str = r#"spec shop version "1.2.0" {
  owner   = "team-shop"
  runbook = "https://runbooks.example.com/shop"
}

ledger audit {
  key = env("PIP_AUDIT_KEY")
  checkpoint every 4 entries or 1h
}

ledger access {
  key = env("PIP_AUDIT_KEY")
  checkpoint every 3 entries or 1h
}

bundle incident {
  window   = 24h
  max_size = 5MiB
  include ledger audit, ledger access, specs, rules, timeline
}
"#;

/// A second ledger beside `audit.ledger`: six logins, the last one a minute after audit's last.
fn write_access_ledger(path: &Path) {
    let clock = ManualClock::new(ORIGIN_MS);
    let mut cfg = LedgerConfig::new("shop", "access", path);
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(3), every: None };
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (ledger, _) = Ledger::open(cfg, key(), shared, None).unwrap();
    for i in 0..6u64 {
        clock.advance(Duration::from_secs(if i == 0 { 90 } else { 120 }));
        ledger.append(&event("auth", "sso", "login", &format!("user/{i}"), serde_json::json!({"n": i}), "ok")).unwrap();
    }
    ledger.close().unwrap();
}

#[test]
fn a_bundle_of_two_ledgers_carries_and_verifies_both() {
    let dir = project();
    std::fs::write(dir.path().join("shop.pips"), TWO_LEDGERS).unwrap();
    write_access_ledger(&dir.path().join("access.ledger"));
    let args = |extra: &[&str]| {
        let mut a = vec!["bundle", "--spec", "shop.pips", "--key-file", "key", "-o", "two.zip"];
        a.extend_from_slice(extra);
        pipc(dir.path(), &a)
    };
    let out = args(&["--ledger", "access=access.ledger", "--ledger", "audit=audit.ledger"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("16 entries"), "{}", text(&out.stderr));
    let zip = std::fs::read(dir.path().join("two.zip")).unwrap();
    let v = verify(&zip, &key(), &Limits::default()).unwrap();
    assert_eq!(v.entries, 16);
    let ledgers: Vec<(&str, u64, Option<u64>, usize)> =
        v.manifest.ledgers.iter().map(|l| (l.name.as_str(), l.first_seq, l.last_seq, l.checkpoints.len())).collect();
    // In the order of their slices' paths (as the generated manifest lists them), whatever the
    // order of the options; each with its own checkpoints.
    assert_eq!(ledgers, [("access", 1, Some(6), 2), ("audit", 1, Some(10), 3)]);
    let names: Vec<String> = files_of(&zip).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"ledger/audit.slice".to_string()) && names.contains(&"ledger/access.slice".to_string()), "{names:?}");
    let timeline = text(&files_of(&zip).into_iter().find(|(n, _)| n == "timeline.html").unwrap().1);
    assert!(timeline.contains("user/5") && timeline.contains("acct/19"), "the timeline shows both ledgers' events");
    let verified = pipc(dir.path(), &["verify-bundle", "two.zip", "--key-file", "key"]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("16 ledger entries bound to 5 checkpoint(s)"), "{}", text(&verified.stdout));

    // Swapping the two slices' bytes (each still valid on its own) is refused.
    let mut files = files_of(&zip);
    let a = files.iter().position(|(n, _)| n == "ledger/audit.slice").unwrap();
    let b = files.iter().position(|(n, _)| n == "ledger/access.slice").unwrap();
    let (ab, bb) = (files[a].1.clone(), files[b].1.clone());
    files[a].1 = bb;
    files[b].1 = ab;
    let why = reason(&archive::write(&files).unwrap());
    assert!(why.contains("`ledger/access.slice` was altered"), "{why}");

    // Usage errors: each names what is wrong, exits 2, and writes nothing.
    let cases: [(&[&str], &str); 7] = [
        (&["--ledger", "audit=audit.ledger"], "give the file of ledger `access` with `--ledger access=PATH`"),
        (&["--ledger", "audit.ledger"], "the bundle includes several ledgers (`access`, `audit`); name each one"),
        (
            &["--ledger", "audit=audit.ledger", "--ledger", "acess=access.ledger"],
            "`--ledger acess=access.ledger`: the bundle includes no ledger `acess`; it includes `access`, `audit`",
        ),
        (&["--ledger", "audit=audit.ledger", "--ledger", "audit=access.ledger"], "ledger `audit` is given twice"),
        (
            &["--ledger", "audit=audit.ledger", "--ledger", "access=access.ledger", "--checkpoints", "audit.ledger.ckpt"],
            "`--checkpoints` names the checkpoint file of a bundle's only ledger",
        ),
        (&["--ledger", "audit=audit.ledger", "--ledger", "access=missing.ledger"], "ledger `access`: cannot read `missing.ledger`"),
        (&["--ledger", "audit=audit.ledger", "--ledger", "access=./audit.ledger"], "ledgers `access` and `audit` are both given as"),
    ];
    std::fs::remove_file(dir.path().join("two.zip")).unwrap();
    for (extra, want) in cases {
        let out = args(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(want), "{extra:?}: {}", text(&out.stderr));
        assert!(!dir.path().join("two.zip").exists(), "{extra:?} wrote a bundle");
    }
}

#[test]
fn usage_errors_of_bundle_name_the_problem_and_write_nothing() {
    let dir = project();
    let run = |extra: &[&str]| {
        let mut a = vec!["bundle", "--spec", "shop.pips", "-o", "out.zip"];
        a.extend_from_slice(extra);
        pipc(dir.path(), &a)
    };
    std::fs::create_dir(dir.path().join("a-folder")).unwrap();
    let cases: [(&[&str], u8, &str); 12] = [
        (&["--ledger", "audit.ledger"], 2, "the following required arguments were not provided:\n  <--key-file <FILE>|--key-env <VAR>>"),
        (&["--key-file", "key"], 2, "the following required arguments were not provided:\n  --ledger <[NAME=]FILE>"),
        (&["--ledger", "audit.ledger", "--key-file", "key", "--from", "yesterday-ish"], 2, "yesterday-ish"),
        (&["--ledger", "audit.ledger", "--key-file", "key", "--window", "ten minutes"], 2, "ten minutes"),
        (&["--ledger", "audit.ledger", "--key-file", "key", "--window", "1h", "--from", "2026-01-01"], 2, "cannot be used with"),
        (&["--ledger", "audit.ledger", "--ledger", "other.ledger", "--key-file", "key"], 2, "already given"),
        (&["--ledger", "audit=audit.ledger", "--key-file", "key", "--bundle", "postmortem"], 2, "no bundle `postmortem` in the specs"),
        (&["--ledger", "missing.ledger", "--key-file", "key"], 2, "ledger `audit`: "),
        (&["--ledger", "a-folder", "--key-file", "key"], 2, "ledger `audit`: "),
        (&["--ledger", "shop.pips", "--key-file", "key"], 2, "not a pip ledger"),
        (&["--ledger", "audit.ledger", "--key-file", "key", "--spec", "nowhere"], 2, "nowhere"),
        (&["--ledger", "nope=audit.ledger", "--key-file", "key"], 2, "the bundle includes no ledger `nope`; it includes `audit`"),
    ];
    for (extra, code, want) in cases {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(i32::from(code)), "{extra:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(want), "{extra:?}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("panicked"), "{extra:?}: {}", text(&out.stderr));
        assert!(!dir.path().join("out.zip").exists(), "{extra:?} wrote a bundle");
    }
}

/// The byte offset of each record of a ledger file.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    use pip_runtime::ledger::{FRAME_OVERHEAD, HEADER_LEN};
    let mut offsets = Vec::new();
    let mut at = HEADER_LEN;
    while at + 4 <= bytes.len() {
        offsets.push(at);
        at += FRAME_OVERHEAD + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    offsets
}

#[test]
fn a_ledger_that_does_not_verify_outside_the_window_is_refused_unless_its_anomalies_are_recorded() {
    let dir = project();
    // Cut the last entry off: the checkpoint written at close (seq 10) shows it. The window's
    // own entries (1..=9) still verify, so only the whole-ledger check can notice.
    let path = dir.path().join("audit.ledger");
    let bytes = std::fs::read(&path).unwrap();
    let last = *record_offsets(&bytes).last().unwrap();
    std::fs::write(&path, &bytes[..last]).unwrap();
    let args = ["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"];
    let refused = pipc(dir.path(), &args);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ledger `audit` (`audit.ledger`) does not verify: 1 anomaly: truncated"), "{stderr}");
    assert!(stderr.contains("--allow-anomalies"), "{stderr}");
    assert!(!dir.path().join("incident.zip").exists());

    let mut allowed = args.to_vec();
    allowed.push("--allow-anomalies");
    let made = pipc(dir.path(), &allowed);
    let stderr = text(&made.stderr);
    assert_eq!(made.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: ledger `audit` truncated"), "{stderr}");
    let zip = std::fs::read(dir.path().join("incident.zip")).unwrap();
    let anomalies = &manifest_of(&zip).ledgers[0].anomalies;
    assert_eq!(anomalies.iter().map(|a| a.class.as_str()).collect::<Vec<_>>(), ["truncated"]);
    // The bundle itself is intact, but its evidence is not clean: not a pass.
    let checked = pipc(dir.path(), &["verify-bundle", "incident.zip", "--key-file", "key"]);
    let stdout = text(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{stdout}{}", text(&checked.stderr));
    assert!(stdout.contains("verified") && stdout.contains("but ledger `audit` did not verify when it was bundled: truncated"), "{stdout}");
    assert!(text(&checked.stderr).contains("1 anomaly recorded in the bundled ledger"), "{}", text(&checked.stderr));
}

#[test]
fn a_forged_checkpoint_file_is_refused() {
    let dir = project();
    let ckpt = dir.path().join("audit.ledger.ckpt");
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let at = bytes.len() - 1;
    bytes[at] ^= 0x01;
    std::fs::write(&ckpt, &bytes).unwrap();
    let out = pipc(dir.path(), &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not verify") && stderr.contains("checkpoint"), "{stderr}");
    assert!(!dir.path().join("incident.zip").exists());
}

#[test]
fn the_output_never_replaces_an_input_and_an_existing_file_needs_force() {
    let dir = project();
    std::fs::write(dir.path().join("old.zip"), b"an earlier bundle").unwrap();
    let inputs = ["audit.ledger", "audit.ledger.ckpt", "key", "shop.pips", "old.zip"];
    let before: Vec<Vec<u8>> = inputs.iter().map(|f| std::fs::read(dir.path().join(f)).unwrap()).collect();
    let run = |out: &str, force: bool| {
        let mut a = vec!["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", out];
        if force {
            a.push("--force");
        }
        pipc(dir.path(), &a)
    };
    for (out, force, want) in [
        ("audit.ledger", true, "`-o audit.ledger` is one of the inputs (`audit.ledger`)"),
        ("./audit.ledger.ckpt", true, "is one of the inputs"),
        ("key", true, "is one of the inputs (`key`)"),
        ("shop.pips", true, "is inside the specs it bundles"),
        ("old.zip", false, "`old.zip` exists; pass `--force` to replace it"),
        (".", true, "is a directory"),
    ] {
        let o = run(out, force);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "-o {out}: {stderr}");
        assert!(stderr.contains(want) && stderr.contains("nothing written"), "-o {out}: {stderr}");
    }
    let after: Vec<Vec<u8>> = inputs.iter().map(|f| std::fs::read(dir.path().join(f)).unwrap()).collect();
    assert!(before == after, "a refused bundle changed an input");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("pipc-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let replaced = run("old.zip", true);
    assert_eq!(replaced.status.code(), Some(0), "{}", text(&replaced.stderr));
    let checked = pipc(dir.path(), &["verify-bundle", "old.zip", "--key-file", "key"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
}

#[test]
fn a_bundle_that_lists_only_its_ledger_still_carries_the_spec_and_verifies() {
    let dir = project();
    let only_ledger = SPEC.replace("include ledger audit, specs, rules, dashboards, timeline", "include ledger audit");
    assert_ne!(only_ledger, SPEC);
    std::fs::write(dir.path().join("shop.pips"), only_ledger).unwrap();
    let out = pipc(dir.path(), &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let zip = std::fs::read(dir.path().join("incident.zip")).unwrap();
    let names: Vec<String> = files_of(&zip).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["generated/bundles/shop.manifest.json", "ledger/audit.slice", "manifest.json", "spec/shop.pips"]);
    let checked = pipc(dir.path(), &["verify-bundle", "incident.zip", "--key-file", "key"]);
    assert_eq!(checked.status.code(), Some(0), "{}{}", text(&checked.stdout), text(&checked.stderr));
}

#[test]
fn a_slice_swapped_for_another_ledgers_of_the_same_key_is_refused_even_when_re_signed() {
    let (_dir, zip) = bundled();
    // Another ledger of the same spec, name, key and entries: only its id differs.
    let other = project();
    for f in ["audit.ledger", "audit.ledger.ckpt"] {
        std::fs::remove_file(other.path().join(f)).unwrap();
    }
    write_ledger_with_id(&other.path().join("audit.ledger"), [0x33; 16]);
    let out = pipc(other.path(), &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "other.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let theirs = files_of(&std::fs::read(other.path().join("other.zip")).unwrap());
    let slice_of = |files: &[(String, Vec<u8>)]| files.iter().find(|(n, _)| n == "ledger/audit.slice").unwrap().1.clone();
    let (mine, swapped) = (slice::decode(&slice_of(&files_of(&zip))).unwrap(), slice_of(&theirs));
    // Put it in, and re-sign the manifest over its hash (the most an insider could do
    // without rewriting the manifest's identity).
    let mut files = files_of(&zip);
    files.iter_mut().find(|(n, _)| n == "ledger/audit.slice").unwrap().1 = swapped.clone();
    let mut m = manifest_of(&zip);
    let f = m.files.iter_mut().find(|f| f.path == "ledger/audit.slice").unwrap();
    (f.size, f.sha256) = (swapped.len() as u64, pip_compiler::sha256_hex(&swapped));
    m.mac = None;
    m.sign(&key()).unwrap();
    files.iter_mut().find(|(n, _)| n == "manifest.json").unwrap().1 = m.to_bytes().unwrap();
    let why = reason(&archive::write(&files).unwrap());
    assert!(why.contains(&format!("belongs to ledger id {}", "33".repeat(16))), "{why}");
    // Relabelled with this ledger's identity, its checkpoints do not verify.
    let d = slice::decode(&swapped).unwrap();
    let r = verify_slice(&d.entries, &d.anchor, &d.checkpoints, &key(), mine.identity.digest(), Authenticity::ChainToCheckpoint);
    assert!(!r.is_clean() && r.authentic == 0, "{:?}", r.anomalies);
}

// ---- the alert history (`--prometheus`) -----------------------------------------------------

/// A stand-in for Prometheus' HTTP API on loopback: answers every request with `status` and
/// `body` (or, with `hang`, never answers), and keeps the request lines it got.
struct FakePrometheus {
    addr: String,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakePrometheus {
    fn start(status: u16, body: String, hang: bool) -> FakePrometheus {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                seen.lock().unwrap().push(line.trim_end().to_string());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                if hang {
                    held.push(stream); // never answered, closed when the test process ends
                    continue;
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakePrometheus { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A range-query answer: the violation's alert pending for a minute, then firing for two.
fn alerts_answer(warnings: &[&str]) -> String {
    let at = |min: u64| (ORIGIN_MS / 1000 + min * 60) as f64;
    let samples = |from: u64, to: u64| (from..to).map(|m| serde_json::json!([at(m), "1"])).collect::<Vec<_>>();
    let labels = |state: &str| serde_json::json!({"__name__": "ALERTS", "alertname": "PipInvariantViolated", "alertstate": state, "construct": "balance_non_negative", "severity": "critical", "spec": "shop"});
    serde_json::json!({
        "status": "success",
        "warnings": warnings,
        "data": {"resultType": "matrix", "result": [
            {"metric": labels("pending"), "values": samples(4, 5)},
            {"metric": labels("firing"), "values": samples(5, 7)},
        ]}
    })
    .to_string()
}

fn bundle_with_prometheus(dir: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args =
        vec!["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip", "--prometheus", url];
    args.extend_from_slice(extra);
    pipc(dir, &args)
}

#[test]
fn the_alert_history_is_bound_by_the_manifest_and_drawn_on_the_timeline() {
    let dir = project();
    let prom = FakePrometheus::start(200, alerts_answer(&[]), false);
    let out = bundle_with_prometheus(dir.path(), &prom.url(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // One range query of the spec's alerts over the window: a day over 10,000 steps.
    let requests = prom.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].starts_with("GET /api/v1/query_range?query=ALERTS%7Bspec%3D%22shop%22%7D&start="), "{requests:?}");
    assert!(requests[0].contains("&step=8.640"), "{requests:?}");

    let zip = std::fs::read(dir.path().join("incident.zip")).unwrap();
    let manifest = manifest_of(&zip);
    let listed = manifest.files.iter().find(|f| f.path == "alerts.json").expect("alerts.json is listed");
    assert_eq!(listed.part, pip_compiler::emit::bundle::Part::Alerts);
    let history: serde_json::Value =
        serde_json::from_slice(&files_of(&zip).into_iter().find(|(n, _)| n == "alerts.json").unwrap().1).unwrap();
    let intervals = &history["alerts"][0]["intervals"];
    let min = |m: u64| ORIGIN_MS + m * 60_000;
    // A sample a minute: each one its own interval of one step.
    assert_eq!(intervals[0], serde_json::json!({"state": "pending", "from_ms": min(4), "to_ms": min(4) + 8_640}));
    assert_eq!(intervals[1], serde_json::json!({"state": "firing", "from_ms": min(5), "to_ms": min(5) + 8_640}));
    assert_eq!(intervals[2], serde_json::json!({"state": "firing", "from_ms": min(6), "to_ms": min(6) + 8_640}));
    let timeline = text(&files_of(&zip).into_iter().find(|(n, _)| n == "timeline.html").unwrap().1);
    assert!(
        timeline.contains(&format!(r#"class="interval firing" data-state="firing" data-from="{}""#, min(5))),
        "the timeline draws the interval"
    );
    assert!(timeline.contains(r#"data-alertname="PipInvariantViolated" data-construct="balance_non_negative" data-severity="critical""#));

    let ok = pipc(dir.path(), &["verify-bundle", "incident.zip", "--key-file", "key"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", text(&ok.stdout), text(&ok.stderr));
    // The history is evidence of what Prometheus said: one changed byte is caught.
    let files = files_of(&zip);
    let changed: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, b)| {
            (
                n.clone(),
                if n == "alerts.json" { String::from_utf8(b.clone()).unwrap().replace("firing", "firinG").into_bytes() } else { b.clone() },
            )
        })
        .collect();
    let forged = archive::write(&changed).unwrap();
    assert!(reason(&forged).contains("alerts.json"), "{}", reason(&forged));
}

#[test]
fn no_bundle_is_written_when_prometheus_does_not_answer_in_full() {
    let dir = project();
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let partial = FakePrometheus::start(200, alerts_answer(&["some samples were dropped"]), false);
    let failing = FakePrometheus::start(503, r#"{"status":"error","errorType":"unavailable","error":"starting up"}"#.to_string(), false);
    let not_json = FakePrometheus::start(200, "<html>proxy login</html>".to_string(), false);
    let silent = FakePrometheus::start(200, String::new(), true);
    let cases: [(String, &[&str], &str); 6] = [
        (refused, &[], "did not answer"),
        (silent.url(), &["--prometheus-timeout", "1s"], "did not answer"),
        (partial.url(), &[], "a partial result (warnings: some samples were dropped)"),
        (failing.url(), &[], "HTTP 503, status `error`: unavailable: starting up"),
        (not_json.url(), &[], "not Prometheus' JSON"),
        ("https://prometheus.example.com".to_string(), &[], "only http:// is supported"),
    ];
    for (url, extra, said) in cases {
        let out = bundle_with_prometheus(dir.path(), &url, extra);
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(said), "{url}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("nothing was written"), "{url}: {}", text(&out.stderr));
        assert!(!dir.path().join("incident.zip").exists(), "{url}: a bundle was written");
    }
}
