//! Signed incident bundles through the real `pipc` binary: a ledger that signs its checkpoints
//! is bundled (`pipc bundle`, key from the spec or `--signing-key`), and `pipc verify-bundle
//! --verifier-key` checks it without the HMAC key: the manifest's signature, each slice's
//! signed checkpoint and range proof, the witnesses' quorum and a trusted checkpoint. Every
//! attack an auditor must catch is asserted on its reason: a slice swapped for another
//! window's, a manifest re-signed by another key, a changed entry, a checkpoint re-signed by
//! another key. No key ever enters the bundle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use pip_bundle::archive::{self, Limits};
use pip_bundle::manifest::Manifest;
use pip_bundle::signed::{MANIFEST_SIG, signed_text};
use pip_runtime::clock::{Clock, ManualClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::note::{self, Checkpoint, NoteSigner, SignatureType, SignedNote};
use pip_runtime::ledger::signed::range::RangeProof;
use pip_runtime::ledger::signed::{SignedFile, Signing};
use pip_runtime::ledger::slice;
use pip_runtime::ledger::{CheckpointPolicy, Ledger, LedgerConfig, LedgerKey};

const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const ORIGIN_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const LOG_ORIGIN: &str = "pip/shop/audit";
/// Entries written, one a minute, signed checkpoints every 8.
const ENTRIES: u64 = 40;
/// Entries of the long ledger: its tree file holds tiles of 256 leaves.
const LONG: u64 = 700;

fn spec(witness: Option<&str>) -> String {
    let witness = witness.map(|k| format!("  witness \"https://w1.example.com/\" key \"{k}\"\n")).unwrap_or_default();
    format!(
        "spec shop version \"1.2.0\" {{\n  owner   = \"team-shop\"\n  runbook = \"https://runbooks.example.com/shop\"\n}}\n\n\
         ledger audit {{\n  key = env(\"PIP_AUDIT_KEY\")\n  signing_key = file(\"sk\")\n{witness}  checkpoint every 8 entries\n}}\n\n\
         bundle incident {{\n  window   = 24h\n  max_size = 5MiB\n  include ledger audit, specs, timeline\n}}\n"
    )
}

fn pipc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipc")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `pipc` and asserts its exit code, showing both streams when it differs.
fn run(dir: &Path, args: &[&str], code: i32) -> Output {
    let o = pipc(dir, args);
    assert_eq!(o.status.code(), Some(code), "pipc {args:?}\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
    o
}

fn key() -> LedgerKey {
    LedgerKey::from_hex(KEY_HEX, "the test").unwrap()
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

struct Project {
    dir: tempfile::TempDir,
    signer: NoteSigner,
    witness: NoteSigner,
}

impl Project {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn bundle(&self, from_min: u64, to_min: u64, out: &str, extra: &[&str]) -> Output {
        let (from, to) = ((ORIGIN_MS + from_min * 60_000).to_string(), (ORIGIN_MS + to_min * 60_000).to_string());
        let mut a =
            vec!["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "--from", &from, "--to", &to, "-o", out];
        a.extend_from_slice(extra);
        run(self.path(), &a, 0)
    }

    fn files(&self, zip: &str) -> BTreeMap<String, Vec<u8>> {
        archive::read(&std::fs::read(self.path().join(zip)).unwrap(), &Limits::default()).unwrap()
    }
}

fn event(i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc-billing".into(),
        action: "charge".into(),
        resource: format!("acct/{i}"),
        payload: serde_json::json!({"amount": 100 + i, "currency": "EUR"}),
        result: "ok".into(),
    }
}

/// Appends entries `from..=to`, entry `i` at minute `i` and a half, signed when `signing`.
fn append(path: &Path, from: u64, to: u64, signing: Option<Signing>) {
    let clock = ManualClock::new(ORIGIN_MS + from * 60_000 + 30_000);
    let mut cfg = LedgerConfig::new("shop", "audit", path);
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(8), every: None };
    cfg.ledger_id = Some([0x5a; 16]);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (ledger, _) = match signing {
        Some(s) => Ledger::open_signed(cfg, key(), s, shared, None).unwrap(),
        None => Ledger::open(cfg, key(), shared, None).unwrap(),
    };
    for i in from..=to {
        ledger.append(&event(i)).unwrap();
        clock.advance(Duration::from_secs(60));
    }
    ledger.close().unwrap();
}

/// Cosigns every signed checkpoint of the ledger with `witness` into `audit.ledger.witnessed`.
fn cosign_all(dir: &Path, witness: &NoteSigner) {
    let file = SignedFile::read(&dir.join("audit.ledger.signed")).unwrap();
    let mut out = String::new();
    for n in file.notes {
        let cp = n.checkpoint.unwrap();
        out.push_str(&n.message);
        out.push_str(&cp.cosign(witness, 1_767_225_600).unwrap().to_line());
        out.push('\n');
    }
    std::fs::write(dir.join("audit.ledger.witnessed"), out).unwrap();
}

/// A folder with the spec (signing key `sk`, and a witness when `witnessed`), the HMAC key
/// `key`, the verifier key `vk`, the witness's verifier key `wk` and a ledger of [`ENTRIES`]
/// signed entries (with its witness cosignatures when `witnessed`).
fn project(witnessed: bool) -> Project {
    project_of(witnessed, ENTRIES)
}

fn project_of(witnessed: bool, entries: u64) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate(LOG_ORIGIN, SignatureType::Ed25519).unwrap();
    let witness = NoteSigner::generate("w1.example.com", SignatureType::CosignatureV1).unwrap();
    let wk = witness.verifier().to_text();
    std::fs::write(dir.path().join("shop.pips"), spec(witnessed.then_some(wk.as_str()))).unwrap();
    write_private(&dir.path().join("key"), KEY_HEX);
    write_private(&dir.path().join("sk"), &signer.to_private_text());
    std::fs::write(dir.path().join("vk"), format!("{}\n", signer.verifier().to_text())).unwrap();
    std::fs::write(dir.path().join("wk"), format!("{wk}\n")).unwrap();
    append(&dir.path().join("audit.ledger"), 1, entries, Some(Signing::new(signer.clone(), LOG_ORIGIN).unwrap()));
    if witnessed {
        cosign_all(dir.path(), &witness);
    }
    Project { dir, signer, witness }
}

fn manifest(files: &BTreeMap<String, Vec<u8>>) -> Manifest {
    serde_json::from_slice(&files["manifest.json"]).unwrap()
}

/// Writes `files` as a ZIP, with `manifest` (and `manifest.sig` signed by `signer` when given).
fn rezip(dir: &Path, name: &str, mut files: BTreeMap<String, Vec<u8>>, m: &Manifest, signer: Option<&NoteSigner>) {
    let bytes = m.to_bytes().unwrap();
    if let Some(s) = signer {
        let origins = m.signature.as_ref().unwrap().origins.clone();
        files.insert(MANIFEST_SIG.into(), note::sign(&signed_text(&origins, &bytes), &[s]).unwrap().into_bytes());
    }
    files.insert("manifest.json".into(), bytes);
    let ordered: Vec<(String, Vec<u8>)> = files.into_iter().collect();
    std::fs::write(dir.join(name), archive::write(&ordered).unwrap()).unwrap();
}

/// Replaces a file and its size and hash in the manifest (a spec part or a signed part).
fn replace(files: &mut BTreeMap<String, Vec<u8>>, m: &mut Manifest, path: &str, bytes: Vec<u8>) {
    let sha = pip_compiler::sha256_hex(&bytes);
    for f in m.files.iter_mut().filter(|f| f.path == path) {
        f.size = bytes.len() as u64;
        f.sha256.clone_from(&sha);
    }
    for l in &mut m.ledgers {
        if let Some(s) = &mut l.signed {
            for r in std::iter::once(&mut s.proof).chain(s.witnessed.as_mut()) {
                if r.path == path {
                    r.size = bytes.len() as u64;
                    r.sha256.clone_from(&sha);
                }
            }
        }
    }
    files.insert(path.to_string(), bytes);
}

fn verify_vk(p: &Project, zip: &str, extra: &[&str], code: i32) -> String {
    let mut a = vec!["verify-bundle", zip, "--verifier-key", "vk"];
    a.extend_from_slice(extra);
    let o = run(p.path(), &a, code);
    if code == 0 { text(&o.stdout) } else { text(&o.stderr) }
}

#[test]
fn a_signed_bundle_verifies_with_the_verifier_key_alone_in_every_window() {
    let p = project(false);
    // (from minute, to minute): the entry of minute i is seq i.
    for (n, (from, to)) in [(1, 41), (1, 6), (3, 9), (9, 17), (12, 30), (20, 41), (33, 34)].into_iter().enumerate() {
        let zip = format!("w{n}.zip");
        p.bundle(from, to, &zip, &[]);
        let m = manifest(&p.files(&zip));
        let l = &m.ledgers[0];
        let s = l.signed.as_ref().expect("a signed part");
        let (first, last) = (l.first_seq, l.last_seq.unwrap());
        assert_eq!((first, last), (from, to - 1));
        // The smallest signed checkpoint at least the slice's end (they are every 8 entries).
        assert_eq!(s.checkpoint_size, last.div_ceil(8) * 8, "{zip}");
        assert_eq!((s.first_leaf, s.end_leaf, s.signed_through), (first - 1, last, last));
        let out = verify_vk(&p, &zip, &[], 0);
        assert!(
            out.contains(&format!(
                "entries {first}..{last} of ledger `audit` covered by the signed checkpoint of size {} (origin {LOG_ORIGIN})",
                s.checkpoint_size
            )),
            "{out}"
        );
        assert!(out.contains("the ledger key was not used"), "{out}");
        // Both keys: both checks run.
        let both = run(p.path(), &["verify-bundle", &zip, "--verifier-key", "vk", "--key-file", "key"], 0);
        assert!(text(&both.stdout).contains("manifest MAC ok") && text(&both.stdout).contains("manifest signature ok"));
        // The ledger key alone still verifies it, as before signing.
        run(p.path(), &["verify-bundle", &zip, "--key-file", "key"], 0);
    }
}

#[test]
fn no_key_enters_the_bundle() {
    let p = project(true);
    p.bundle(1, 41, "all.zip", &[]);
    let raw = std::fs::read(p.path().join("all.zip")).unwrap();
    let files = p.files("all.zip");
    assert!(
        files.contains_key(MANIFEST_SIG) && files.contains_key("ledger/audit.range.json") && files.contains_key("ledger/audit.witnessed")
    );
    let private = p.signer.to_private_text().to_string();
    // The key's base64 (a type byte and the 32-byte seed: 44 characters), whole: base64 itself
    // may hold `+`, so splitting the text on `+` could leave a needle of a character or two.
    let seed = private[private.len() - 44..].to_string();
    let wprivate = p.witness.to_private_text().to_string();
    for secret in [KEY_HEX.to_string(), KEY_HEX.to_uppercase(), private, seed, wprivate] {
        let needle = secret.as_bytes();
        let at = raw.windows(needle.len()).position(|w| w == needle);
        assert!(
            at.is_none(),
            "the ZIP holds a key ({} bytes of it, at {at:?}: {:?})",
            needle.len(),
            String::from_utf8_lossy(&raw[at.unwrap_or(0).saturating_sub(80)..(at.unwrap_or(0) + needle.len() + 20).min(raw.len())])
        );
        for (name, bytes) in &files {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "`{name}` holds a key");
        }
    }
}

#[test]
fn a_bundle_without_a_signing_key_verifies_as_before_and_not_with_a_verifier_key() {
    let p = project(false);
    std::fs::write(p.path().join("plain.pips"), spec(None).replace("  signing_key = file(\"sk\")\n", "")).unwrap();
    let o = run(p.path(), &["bundle", "--spec", "plain.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "plain.zip"], 0);
    let files = p.files("plain.zip");
    assert!(!files.contains_key(MANIFEST_SIG), "{}", text(&o.stderr));
    let m = manifest(&files);
    assert!(m.signature.is_none() && m.ledgers[0].signed.is_none());
    assert!(!text(&files["manifest.json"]).contains("signed"));
    run(p.path(), &["verify-bundle", "plain.zip", "--key-file", "key"], 0);
    let err = verify_vk(&p, "plain.zip", &[], 1);
    assert!(err.contains("carries no manifest signature"), "{err}");
    // `--signing-key` signs it although the spec does not say so.
    run(
        p.path(),
        &["bundle", "--spec", "plain.pips", "--ledger", "audit.ledger", "--key-file", "key", "--signing-key", "sk", "-o", "flag.zip"],
        0,
    );
    verify_vk(&p, "flag.zip", &[], 0);
    // No key at all is a usage error.
    let none = run(p.path(), &["verify-bundle", "flag.zip"], 2);
    assert!(text(&none.stderr).contains("--verifier-key"), "{}", text(&none.stderr));
}

#[test]
fn entries_past_the_last_signed_checkpoint_are_said_to_need_the_ledger_key() {
    let p = project(false);
    // Three more entries written without the signing key: the MACed checkpoints cover them,
    // no signed checkpoint does.
    append(&p.path().join("audit.ledger"), ENTRIES + 1, ENTRIES + 3, None);
    let o = p.bundle(30, 50, "tail.zip", &[]);
    assert!(text(&o.stderr).contains("entries 41..43 are past the last signed checkpoint"), "{}", text(&o.stderr));
    let m = manifest(&p.files("tail.zip"));
    let s = m.ledgers[0].signed.as_ref().unwrap();
    assert_eq!((s.checkpoint_size, s.signed_through, m.ledgers[0].last_seq), (ENTRIES, ENTRIES, Some(ENTRIES + 3)));
    let out = verify_vk(&p, "tail.zip", &[], 0);
    assert!(out.contains("entries 30..40 of ledger `audit` covered by the signed checkpoint of size 40"), "{out}");
    assert!(
        out.contains("entries 41..43 of ledger `audit` are past the signed checkpoint: only checkable with the ledger key (HMAC)"),
        "{out}"
    );
    let both = run(p.path(), &["verify-bundle", "tail.zip", "--verifier-key", "vk", "--key-file", "key"], 0);
    assert!(text(&both.stdout).contains("checked with the ledger key (HMAC) only"), "{}", text(&both.stdout));
}

#[test]
fn a_slice_swapped_for_another_windows_is_refused() {
    let p = project(false);
    p.bundle(1, 9, "a.zip", &[]);
    p.bundle(9, 17, "b.zip", &[]);
    let (mut fa, fb) = (p.files("a.zip"), p.files("b.zip"));
    let (mut ma, mb) = (manifest(&fa), manifest(&fb));
    // The other window's slice and proof, with a manifest that describes them exactly.
    for path in ["ledger/audit.slice", "ledger/audit.range.json", "timeline.html"] {
        replace(&mut fa, &mut ma, path, fb[path].clone());
    }
    ma.window = mb.window;
    ma.ledgers[0] = mb.ledgers[0].clone();
    // The old signature: it signs the other manifest.
    let keep_sig = fa[MANIFEST_SIG].clone();
    rezip(p.path(), "swapped.zip", fa.clone(), &ma, None);
    let err = verify_vk(&p, "swapped.zip", &[], 1);
    assert!(err.contains("`manifest.sig` does not sign this manifest"), "{err}");
    assert_eq!(p.files("swapped.zip")[MANIFEST_SIG], keep_sig);
    // And the MAC fails with the ledger key.
    let mac = run(p.path(), &["verify-bundle", "swapped.zip", "--key-file", "key"], 1);
    assert!(text(&mac.stderr).contains("MAC does not verify"), "{}", text(&mac.stderr));
    // Re-signed by another signing key: not the ledger's.
    let other = NoteSigner::generate(LOG_ORIGIN, SignatureType::Ed25519).unwrap();
    rezip(p.path(), "resigned.zip", fa.clone(), &ma, Some(&other));
    let err = verify_vk(&p, "resigned.zip", &[], 1);
    assert!(err.contains("`manifest.sig` does not verify with the verifier key"), "{err}");
    // Even when the verifier trusts that key too: the checkpoint is not signed by it.
    std::fs::write(p.path().join("both"), format!("{}\n{}\n", p.signer.verifier().to_text(), other.verifier().to_text())).unwrap();
    let o = run(p.path(), &["verify-bundle", "resigned.zip", "--verifier-key", "both"], 1);
    assert!(text(&o.stderr).contains("is signed by another key than the manifest"), "{}", text(&o.stderr));
    // Re-signed by the ledger's own key, the swap is the other bundle, which is genuine.
    rezip(p.path(), "genuine.zip", fa, &ma, Some(&p.signer));
    verify_vk(&p, "genuine.zip", &[], 0);
}

#[test]
fn a_changed_entry_fails_the_range_proof() {
    let p = project(false);
    p.bundle(3, 20, "c.zip", &[]);
    let mut f = p.files("c.zip");
    let mut m = manifest(&f);
    let d = slice::decode(&f["ledger/audit.slice"]).unwrap();
    let mut entries = d.entries.clone();
    entries[5].resource = "acct/999".into();
    let bytes = slice::encode(&d.key_id, &d.identity, &d.anchor, &entries, &d.checkpoints).unwrap();
    let changed = slice::decode(&bytes).unwrap();
    replace(&mut f, &mut m, "ledger/audit.slice", bytes);
    // The description follows the changed chain; a bundler holding the signing key re-signs
    // the manifest: only the range proof against the log's checkpoint can tell.
    let l = &mut m.ledgers[0];
    l.head = changed.entries.last().map(|e| pip_runtime::hex::to_hex(&e.hash));
    for (c, dc) in l.checkpoints.iter_mut().zip(&changed.checkpoints) {
        c.head = pip_runtime::hex::to_hex(&dc.head);
    }
    rezip(p.path(), "changed.zip", f, &m, Some(&p.signer));
    let err = verify_vk(&p, "changed.zip", &[], 1);
    assert!(err.contains("the entries of ledger `audit` are not those of its signed checkpoint"), "{err}");
}

#[test]
fn a_checkpoint_re_signed_with_another_key_is_refused() {
    let p = project(false);
    p.bundle(3, 20, "r.zip", &[]);
    let mut f = p.files("r.zip");
    let mut m = manifest(&f);
    let mut proof: RangeProof = serde_json::from_slice(&f["ledger/audit.range.json"]).unwrap();
    let cp = Checkpoint::parse(&SignedNote::parse(proof.checkpoint.as_bytes()).unwrap().text).unwrap();
    let other = NoteSigner::generate(LOG_ORIGIN, SignatureType::Ed25519).unwrap();
    proof.checkpoint = cp.sign(&[&other]).unwrap();
    let mut bytes = serde_json::to_vec_pretty(&proof).unwrap();
    bytes.push(b'\n');
    replace(&mut f, &mut m, "ledger/audit.range.json", bytes);
    rezip(p.path(), "cp.zip", f, &m, Some(&p.signer));
    let err = verify_vk(&p, "cp.zip", &[], 1);
    assert!(err.contains("the signed checkpoint of ledger `audit` does not verify with the verifier key"), "{err}");
}

#[test]
fn the_witness_quorum_and_a_trusted_checkpoint_are_enforced() {
    let p = project(true);
    p.bundle(3, 20, "w.zip", &[]);
    // The spec's witness and quorum (1) by default.
    let out = verify_vk(&p, "w.zip", &[], 0);
    assert!(out.contains("1 of 1 required witness cosignature(s)"), "{out}");
    // Another witness key: its cosignature is not there.
    let stranger = NoteSigner::generate("w2.example.com", SignatureType::CosignatureV1).unwrap();
    std::fs::write(p.path().join("sk2"), format!("{}\n", stranger.verifier().to_text())).unwrap();
    let err = verify_vk(&p, "w.zip", &["--witness-key", "sk2"], 1);
    assert!(err.contains("has 0 valid witness cosignature(s); 1 are required"), "{err}");
    verify_vk(&p, "w.zip", &["--witness-key", "wk", "--witness-key", "sk2", "--witness-quorum", "1"], 0);
    // Without the cosigned file, the bundle cannot meet the spec's quorum.
    std::fs::remove_file(p.path().join("audit.ledger.witnessed")).unwrap();
    p.bundle(3, 20, "nw.zip", &[]);
    assert!(!p.files("nw.zip").contains_key("ledger/audit.witnessed"));
    let err = verify_vk(&p, "nw.zip", &[], 1);
    assert!(err.contains("has 0 valid witness cosignature(s); 1 are required"), "{err}");
    verify_vk(&p, "nw.zip", &["--witness-quorum", "0"], 0);
    // Trusted checkpoints: the newest signed one is ahead of the bundle's (size 24).
    let file = SignedFile::read(&p.path().join("audit.ledger.signed")).unwrap();
    let note_of = |size: u64| file.notes.iter().find(|n| n.checkpoint.as_ref().unwrap().size == size).unwrap().message.clone();
    std::fs::write(p.path().join("t40"), note_of(40)).unwrap();
    std::fs::write(p.path().join("t24"), note_of(24)).unwrap();
    std::fs::write(p.path().join("t8"), note_of(8)).unwrap();
    let err = verify_vk(&p, "w.zip", &["--trusted-checkpoint", "t40"], 1);
    assert!(err.contains("(size 24) is behind the trusted checkpoint (size 40)"), "{err}");
    verify_vk(&p, "w.zip", &["--trusted-checkpoint", "t24"], 0);
    let out = verify_vk(&p, "w.zip", &["--trusted-checkpoint", "t8"], 0);
    assert!(out.contains("the trusted checkpoint (size 8) is older"), "{out}");
    // The trusted size with another root: a fork.
    let cp = Checkpoint::parse(&SignedNote::parse(note_of(24).as_bytes()).unwrap().text).unwrap();
    let forked = Checkpoint { root: [7; 32], ..cp };
    std::fs::write(p.path().join("fork"), forked.sign(&[&p.signer]).unwrap()).unwrap();
    let err = verify_vk(&p, "w.zip", &["--trusted-checkpoint", "fork"], 1);
    assert!(err.contains("has the trusted checkpoint's size 24 but another root"), "{err}");
}

#[test]
fn ranges_across_the_tiles_of_a_long_ledger_verify() {
    let p = project_of(false, LONG);
    assert!(std::fs::metadata(p.path().join("audit.ledger.tree")).unwrap().len() > 40, "the ledger keeps a tree file");
    for (n, (from, to)) in [(1, LONG + 1), (250, 530), (256, 513), (511, 700), (600, 601)].into_iter().enumerate() {
        let zip = format!("long{n}.zip");
        p.bundle(from, to, &zip, &[]);
        let last = to - 1;
        let out = verify_vk(&p, &zip, &[], 0);
        // Every 8 entries, and the one `close` wrote at the end.
        let size = (last.div_ceil(8) * 8).min(LONG);
        assert!(
            out.contains(&format!("entries {from}..{last} of ledger `audit` covered by the signed checkpoint of size {size}")),
            "{out}"
        );
    }
}

#[test]
fn the_signed_file_can_be_named_and_a_wrong_signing_key_is_a_usage_error() {
    let p = project(false);
    std::fs::rename(p.path().join("audit.ledger.signed"), p.path().join("elsewhere.signed")).unwrap();
    // The spec's key applies to a ledger with signed checkpoints: none at the default path.
    let o = p.bundle(1, 41, "unsigned.zip", &[]);
    assert!(!p.files("unsigned.zip").contains_key(MANIFEST_SIG), "{}", text(&o.stderr));
    p.bundle(1, 41, "named.zip", &["--signed", "elsewhere.signed"]);
    verify_vk(&p, "named.zip", &[], 0);
    let other = NoteSigner::generate(LOG_ORIGIN, SignatureType::Ed25519).unwrap();
    write_private(&p.path().join("sk-other"), &other.to_private_text());
    let o = run(
        p.path(),
        &[
            "bundle",
            "--spec",
            "shop.pips",
            "--ledger",
            "audit.ledger",
            "--key-file",
            "key",
            "--signed",
            "elsewhere.signed",
            "--signing-key",
            "sk-other",
            "-o",
            "wrong.zip",
        ],
        2,
    );
    assert!(
        text(&o.stderr)
            .contains("no checkpoint in `elsewhere.signed` verifies with the signing key `pip/shop/audit` for origin `pip/shop/audit`"),
        "{}",
        text(&o.stderr)
    );
    assert!(!p.path().join("wrong.zip").exists());
}
