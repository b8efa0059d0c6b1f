//! Signed checkpoints as an auditor uses them, through the real `pipc` binary: `keygen
//! --signing`, `log append --signing-key`, `verify-log --verifier-key` (alone, with the HMAC
//! key, with a trusted checkpoint), `log prove`, `log consistency` and `verify-proof`; and the
//! attacks each must catch, asserted on the named problem. With witnesses (`--witness-key`,
//! `--witness-quorum`, or the spec's `witness` lines): the quorum of their cosignatures in
//! `<ledger>.witnessed`, cosigned here by real witnesses ([`Witness::add_checkpoint`]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use pip_runtime::ledger::note::{Checkpoint, NoteSigner, NoteVerifier, NoteVerifiers, SignatureType, SignedNote};
use pip_runtime::ledger::signed::SignedFile;
use pip_runtime::ledger::signed::proof::Prover;
use pip_runtime::ledger::witness::{AddCheckpoint, Witness};

fn pipc(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: not the test's error.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `pipc` and asserts its exit code, showing both streams when it differs.
fn run(dir: &Path, args: &[&str], stdin: &str, code: i32) -> Output {
    let o = pipc(dir, args, stdin);
    assert_eq!(o.status.code(), Some(code), "pipc {args:?}\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
    o
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

/// JSON lines of events `from..=to`, each naming `tag` in its resource.
fn events(tag: &str, from: u64, to: u64) -> String {
    (from..=to)
        .map(|i| format!("{{\"subsystem\":\"billing\",\"actor\":\"svc\",\"action\":\"charge\",\"resource\":\"{tag}/{i}\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect()
}

/// A spec whose ledger checkpoints every 1000 entries (and when `log append` ends).
const SPEC: &str = "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nledger audit {\n  key = env(\"K\")\n  checkpoint every 1000 entries\n}\n";

/// A folder with the spec, an HMAC key `key`, a signing key `sk` named after the ledger's
/// origin and its verifier key in `vk`.
fn keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("demo.pips"), SPEC).unwrap();
    run(dir.path(), &["keygen", "-o", "key"], "", 0);
    let k = run(dir.path(), &["keygen", "--signing", "-o", "sk", "--spec", "demo.pips"], "", 0);
    std::fs::write(dir.path().join("vk"), &k.stdout).unwrap();
    dir
}

/// Appends events `from..=to` to `ledger`, signed with `sk`.
fn append(dir: &Path, ledger: &str, tag: &str, from: u64, to: u64) -> Output {
    let args = ["log", "append", ledger, "--key-file", "key", "--signing-key", "sk", "--spec", "demo.pips"];
    run(dir, &args, &events(tag, from, to), 0)
}

/// A folder with [`keys`] and `audit.ledger` of 2500 signed entries.
fn project() -> tempfile::TempDir {
    let dir = keys();
    append(dir.path(), "audit.ledger", "acct", 1, 2500);
    dir
}

fn copy(dir: &Path, from: &str, to: &str) {
    for ext in ["", ".ckpt", ".signed", ".tree"] {
        std::fs::copy(dir.join(format!("{from}{ext}")), dir.join(format!("{to}{ext}"))).unwrap();
    }
}

#[test]
fn keygen_prints_only_the_verifier_key_and_writes_the_private_key_owner_only() {
    let dir = keys();
    let vk = std::fs::read_to_string(dir.path().join("vk")).unwrap();
    assert_eq!(vk.lines().count(), 1, "{vk}");
    let verifier = NoteVerifier::parse(vk.trim()).unwrap();
    // Named after the spec ledger's default origin.
    assert_eq!(verifier.name(), "pip/demo/audit");
    let private = std::fs::read_to_string(dir.path().join("sk")).unwrap();
    let signer = NoteSigner::parse_private(private.trim()).unwrap();
    assert_eq!(signer.verifier(), verifier);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("sk")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never over an existing file, as `keygen` for the HMAC key.
    let again = run(dir.path(), &["keygen", "--signing", "-o", "sk", "--name", "other"], "", 2);
    assert!(text(&again.stderr).contains("key file `sk` exists already; pipc never overwrites a key"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("sk")).unwrap(), private);
    // A name is needed, and must be a valid origin.
    let unnamed = run(dir.path(), &["keygen", "--signing", "-o", "sk2"], "", 2);
    assert!(text(&unnamed.stderr).contains("`--name`"), "{}", text(&unnamed.stderr));
    let spaced = run(dir.path(), &["keygen", "--signing", "-o", "sk2", "--name", "a b"], "", 2);
    assert!(text(&spaced.stderr).contains("cannot name a signing key"), "{}", text(&spaced.stderr));
    assert!(!dir.path().join("sk2").exists());
    let named = run(dir.path(), &["keygen", "--signing", "-o", "sk2", "--name", "example.com/audit"], "", 0);
    assert!(text(&named.stdout).starts_with("example.com/audit+"), "{}", text(&named.stdout));
}

#[test]
fn a_signed_ledger_verifies_with_the_verifier_key_alone_and_says_what_it_covers() {
    let dir = project();
    let d = dir.path();
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 0);
    let out = text(&o.stdout);
    assert!(
        out.contains("audit.ledger: signed checkpoints of `pip/demo/audit` in `audit.ledger.signed`: 3 verified; the signatures cover entries 1..=2500 of 2500; clean"),
        "{out}"
    );
    assert!(!out.contains("come after the last signed checkpoint"), "{out}");
    let j = json(&run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--format", "json"], "", 0));
    assert_eq!(
        (j["clean"].as_bool(), j["signed"]["covered"].as_u64(), j["signed"]["checkpoints"].as_u64()),
        (Some(true), Some(2500), Some(3))
    );
    assert!(j.get("authentic").is_none(), "no HMAC check without the HMAC key: {j}");

    // The verifier key given as text works as the file does.
    let vk = std::fs::read_to_string(d.join("vk")).unwrap();
    run(d, &["verify-log", "audit.ledger", "--verifier-key", vk.trim()], "", 0);

    // Entries after the last signed checkpoint: counted, and said to need the HMAC key.
    let signed = std::fs::read(d.join("audit.ledger.signed")).unwrap();
    let file = SignedFile::parse(&signed);
    assert_eq!(file.notes.len(), 3);
    std::fs::write(d.join("audit.ledger.signed"), &signed[..file.notes[2].offset as usize]).unwrap();
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 0);
    let out = text(&o.stdout);
    assert!(out.contains("2 verified; the signatures cover entries 1..=2000 of 2500; clean"), "{out}");
    assert!(
        out.contains("entries 2001..=2500 come after the last signed checkpoint: only the HMAC key checks them (`--key-file`)"),
        "{out}"
    );

    // Both keys: both checks run and are reported.
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key"], "", 0);
    let out = text(&o.stdout);
    assert!(out.contains("2500 entries (2500 authentic)"), "{out}");
    assert!(out.contains("the signatures cover entries 1..=2000 of 2500; clean"), "{out}");
    assert!(out.contains("entries 2001..=2500 come after the last signed checkpoint: the HMAC key checked them above"), "{out}");
    let j = json(&run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key", "--format", "json"], "", 0));
    assert_eq!((j["authentic"].as_u64(), j["signed"]["uncovered"]["from"].as_u64()), (Some(2500), Some(2001)));

    // The HMAC key alone: as before, no word of signatures.
    let o = run(d, &["verify-log", "audit.ledger", "--key-file", "key"], "", 0);
    assert!(!text(&o.stdout).contains("signed"), "{}", text(&o.stdout));
    // No key at all is a usage error.
    run(d, &["verify-log", "audit.ledger"], "", 2);
}

#[test]
fn clean_signed_ledgers_across_reopens_raise_no_false_alarm() {
    let dir = keys();
    let d = dir.path();
    for (from, to) in [(1, 1200), (1201, 2500), (2501, 2501), (2502, 3999)] {
        append(d, "audit.ledger", "acct", from, to);
        let both = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key", "--format", "json"], "", 0);
        let j = json(&both);
        assert_eq!(j["clean"], true, "{j}");
        assert_eq!(j["signed"]["covered"].as_u64(), Some(to), "{j}");
        assert_eq!(j["signed"]["problems"].as_array().map(Vec::len), Some(0), "{j}");
    }
    // Every consistency proof between its signed checkpoints verifies.
    let file = SignedFile::parse(&std::fs::read(d.join("audit.ledger.signed")).unwrap());
    let sizes: Vec<u64> = file.notes.iter().map(|n| n.checkpoint.as_ref().unwrap().size).collect();
    for old in &sizes {
        let old = old.to_string();
        run(d, &["log", "consistency", "audit.ledger", "--old", &old, "-o", "c.json"], "", 0);
        run(d, &["verify-proof", "c.json", "--verifier-key", "vk"], "", 0);
    }
}

#[test]
fn a_restored_older_copy_fails_against_the_checkpoint_kept_from_a_later_run() {
    let dir = keys();
    let d = dir.path();
    append(d, "audit.ledger", "acct", 1, 1500);
    copy(d, "audit.ledger", "old.ledger");
    append(d, "audit.ledger", "acct", 1501, 2500);
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--save-checkpoint", "trusted.note"], "", 0);
    assert!(text(&o.stdout).contains("latest verified checkpoint (size 2500) saved to `trusted.note`"), "{}", text(&o.stdout));
    // The next audit starts from it: the current ledger agrees.
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--trusted-checkpoint", "trusted.note"], "", 0);
    assert!(
        text(&o.stdout).contains("reaches the trusted checkpoint `trusted.note` (size 2500) and agrees with it"),
        "{}",
        text(&o.stdout)
    );

    // The older copy restored with all its files: consistent in itself...
    copy(d, "old.ledger", "audit.ledger");
    run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 0);
    // ...but behind what the auditor has seen.
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--trusted-checkpoint", "trusted.note"], "", 1);
    let out = text(&o.stdout);
    assert!(
        out.contains("behind_trusted: the trusted checkpoint covers 2500 entries but the ledger has 1500: an older copy was restored"),
        "{out}"
    );
    let j = json(&run(
        d,
        &["verify-log", "audit.ledger", "--verifier-key", "vk", "--trusted-checkpoint", "trusted.note", "--format", "json"],
        "",
        1,
    ));
    assert_eq!(j["signed"]["problems"][0]["class"], "behind_trusted", "{j}");
    // Nothing is saved from a ledger that fails.
    let o = run(
        d,
        &[
            "verify-log",
            "audit.ledger",
            "--verifier-key",
            "vk",
            "--trusted-checkpoint",
            "trusted.note",
            "--save-checkpoint",
            "trusted.note",
        ],
        "",
        1,
    );
    assert!(text(&o.stdout).contains("latest checkpoint not saved"), "{}", text(&o.stdout));
    assert!(std::fs::read_to_string(d.join("trusted.note")).unwrap().contains("\n2500\n"));
    // An old proof is refused against the trusted checkpoint.
    run(d, &["log", "prove", "audit.ledger", "--seq", "7", "-o", "p.json"], "", 0);
    run(d, &["verify-proof", "p.json", "--verifier-key", "vk"], "", 0);
    let o = run(d, &["verify-proof", "p.json", "--verifier-key", "vk", "--trusted-checkpoint", "trusted.note"], "", 1);
    assert!(text(&o.stdout).contains("fewer than the trusted checkpoint's 2500"), "{}", text(&o.stdout));
}

#[test]
fn a_fork_with_the_same_key_and_origin_is_caught_by_the_trusted_checkpoint_and_by_consistency() {
    let dir = keys();
    let d = dir.path();
    // Two histories signed with one key under one origin.
    append(d, "a.ledger", "alice", 1, 1000);
    append(d, "b.ledger", "bob", 1, 1000);
    append(d, "b.ledger", "bob", 1001, 2000);
    for l in ["a.ledger", "b.ledger"] {
        let j = json(&run(d, &["verify-log", l, "--verifier-key", "vk", "--origin", "pip/demo/audit", "--format", "json"], "", 0));
        assert_eq!(j["signed"]["clean"], true, "{j}");
    }
    run(d, &["verify-log", "a.ledger", "--verifier-key", "vk", "--save-checkpoint", "a.note"], "", 0);
    let o = run(d, &["verify-log", "b.ledger", "--verifier-key", "vk", "--trusted-checkpoint", "a.note"], "", 1);
    let out = text(&o.stdout);
    assert!(
        out.contains("forked_from_trusted: the ledger's first 1000 entries are not the ones the trusted checkpoint commits to"),
        "{out}"
    );

    // B's own consistency proof 1000 -> 2000 verifies, but not from A's checkpoint.
    run(d, &["log", "consistency", "b.ledger", "--old", "1000", "--new", "2000", "-o", "b.json"], "", 0);
    run(d, &["verify-proof", "b.json", "--verifier-key", "vk"], "", 0);
    let o = run(d, &["verify-proof", "b.json", "--verifier-key", "vk", "--trusted-checkpoint", "a.note"], "", 1);
    assert!(
        text(&o.stdout).contains("has another root than the trusted checkpoint of that size: the log was forked"),
        "{}",
        text(&o.stdout)
    );
    let mut proof = json_file(&d.join("b.json"));
    proof["old_checkpoint"] = std::fs::read_to_string(d.join("a.note")).unwrap().into();
    std::fs::write(d.join("fork.json"), proof.to_string()).unwrap();
    let o = run(d, &["verify-proof", "fork.json", "--verifier-key", "vk"], "", 1);
    assert!(text(&o.stdout).contains("fork.json: does not verify: the proof does not lead to the signed root"), "{}", text(&o.stdout));
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn checkpoints_signed_again_with_another_key_are_bad_signatures() {
    let dir = project();
    let d = dir.path();
    let other = NoteSigner::generate("pip/demo/audit", SignatureType::Ed25519).unwrap();
    let file = SignedFile::parse(&std::fs::read(d.join("audit.ledger.signed")).unwrap());
    let mut forged = String::new();
    for n in &file.notes {
        forged.push_str(&n.checkpoint.as_ref().unwrap().sign(&[&other]).unwrap());
        forged.push('\n');
    }
    std::fs::write(d.join("audit.ledger.signed"), forged).unwrap();
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 1);
    let out = text(&o.stdout);
    assert_eq!(out.lines().filter(|l| l.starts_with("bad_signature: ")).count(), 3, "{out}");
    assert!(out.contains("0 verified; the signatures cover none of the 2500 entries"), "{out}");
    let j = json(&run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--format", "json"], "", 1));
    assert_eq!(j["signed"]["problems"][0]["class"], "bad_signature", "{j}");
    // The ledger itself is intact: the HMAC key alone finds nothing.
    run(d, &["verify-log", "audit.ledger", "--key-file", "key"], "", 0);
    // A missing signed file proves nothing either.
    std::fs::remove_file(d.join("audit.ledger.signed")).unwrap();
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 1);
    let out = text(&o.stdout);
    assert!(out.contains("unsigned: the ledger has 2500 entries but no signed checkpoint covers any of them"), "{out}");
    assert!(!out.contains("come after the last signed checkpoint"), "{out}");
}

#[test]
fn a_modified_entry_byte_is_a_root_mismatch() {
    let dir = project();
    let d = dir.path();
    let path = d.join("audit.ledger");
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"acct/2500";
    let at = bytes.windows(needle.len()).rposition(|w| w == needle).unwrap();
    bytes[at + 8] = b'1';
    std::fs::write(&path, &bytes).unwrap();
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk"], "", 1);
    let out = text(&o.stdout);
    assert!(out.contains("root_mismatch: entries 1..=2500 are not the ones the signed checkpoint of size 2500 commits to"), "{out}");
    assert!(out.contains("the signatures cover entries 1..=2000 of 2500; 1 problem(s)"), "{out}");
    let j = json(&run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key", "--format", "json"], "", 1));
    assert_eq!(j["signed"]["problems"][0]["class"], "root_mismatch", "{j}");
    assert!(j["anomaly_count"].as_u64().unwrap() > 0, "the HMAC check finds it too: {j}");
    // No proof is made from a ledger that disagrees with its signed checkpoint.
    run(d, &["log", "prove", "audit.ledger", "--seq", "5", "--size", "2500"], "", 1);
}

#[test]
fn inclusion_and_consistency_proofs_verify_and_tampered_ones_do_not() {
    let dir = project();
    let d = dir.path();
    run(d, &["log", "prove", "audit.ledger", "--seq", "42", "-o", "p.json"], "", 0);
    let o = run(d, &["verify-proof", "p.json", "--verifier-key", "vk"], "", 0);
    let out = text(&o.stdout);
    assert!(out.contains("verified: entry seq 42 ("), "{out}");
    assert!(
        out.contains("billing svc charge acct/42 -> ok; payload {\"i\":42}) is in the tree of size 2500 signed for `pip/demo/audit`"),
        "{out}"
    );
    let j = json(&run(d, &["verify-proof", "p.json", "--verifier-key", "vk", "--format", "json"], "", 0));
    assert_eq!((j["verified"].as_bool(), j["entry"]["seq"].as_u64(), j["tree_size"].as_u64()), (Some(true), Some(42), Some(2500)));
    // Against an older signed checkpoint, by size.
    run(d, &["log", "prove", "audit.ledger", "--seq", "42", "--size", "1000", "-o", "p1000.json"], "", 0);
    let o = run(d, &["verify-proof", "p1000.json", "--verifier-key", "vk"], "", 0);
    assert!(text(&o.stdout).contains("is in the tree of size 1000"), "{}", text(&o.stdout));

    let proof = json_file(&d.join("p.json"));
    let check = |name: &str, p: &serde_json::Value, says: &str| {
        std::fs::write(d.join(name), p.to_string()).unwrap();
        let o = run(d, &["verify-proof", name, "--verifier-key", "vk"], "", 1);
        assert!(text(&o.stdout).contains(says), "{name}: {}", text(&o.stdout));
    };
    // The fields changed, not the bytes.
    let mut p = proof.clone();
    p["fields"]["resource"] = "acct/43".into();
    check("fields.json", &p, "the entry's fields do not match its bytes");
    // The bytes and the fields changed alike.
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut body = b64.decode(proof["entry"].as_str().unwrap()).unwrap();
    let at = body.windows(7).position(|w| w == b"acct/42").unwrap();
    body[at + 6] = b'3';
    let mut p = proof.clone();
    p["entry"] = b64.encode(&body).into();
    p["fields"]["resource"] = "acct/43".into();
    check("entry.json", &p, "the proof does not lead to the signed root");
    // Another kind, and not JSON.
    let mut p = proof.clone();
    p["kind"] = "pip.other".into();
    check("kind.json", &p, "not a valid proof");
    std::fs::write(d.join("junk.json"), "{").unwrap();
    run(d, &["verify-proof", "junk.json", "--verifier-key", "vk"], "", 1);

    // Sizes no signed checkpoint has are refused, naming those there are.
    let o = run(d, &["log", "consistency", "audit.ledger", "--old", "999"], "", 2);
    assert!(text(&o.stderr).contains("help: signed checkpoints have tree sizes 1000, 2000, 2500"), "{}", text(&o.stderr));
    run(d, &["log", "prove", "audit.ledger", "--seq", "0"], "", 2);
    run(d, &["log", "consistency", "audit.ledger", "--old", "1000", "-o", "c.json"], "", 0);
    let o = run(d, &["verify-proof", "c.json", "--verifier-key", "vk"], "", 0);
    assert!(
        text(&o.stdout).contains("verified: the signed tree of size 1000 is a prefix of the signed tree of size 2500 of `pip/demo/audit`"),
        "{}",
        text(&o.stdout)
    );
    let c = json_file(&d.join("c.json"));
    let mut p = c.clone();
    let hashes = p["proof"].as_array_mut().unwrap();
    assert!(hashes.len() >= 2, "{c}");
    hashes.swap(0, 1);
    check("swapped.json", &p, "does not verify");
    let mut p = c.clone();
    p["new_checkpoint"] = p["old_checkpoint"].clone();
    check("same.json", &p, "does not verify");
    // With a verifier key that did not sign it, nothing verifies.
    run(d, &["keygen", "--signing", "-o", "sk2", "--name", "pip/demo/audit"], "", 0);
    let other = text(&run(d, &["keygen", "--signing", "-o", "sk3", "--name", "pip/demo/audit"], "", 0).stdout);
    let o = run(d, &["verify-proof", "c.json", "--verifier-key", other.trim()], "", 1);
    assert!(text(&o.stdout).contains("the signed checkpoint does not verify"), "{}", text(&o.stdout));
}

#[test]
fn the_private_key_appears_in_no_output_and_no_ledger_file() {
    let dir = keys();
    let d = dir.path();
    let private = std::fs::read_to_string(d.join("sk")).unwrap();
    let secret = private.trim().splitn(5, '+').last().unwrap().to_string();
    assert!(secret.len() > 40, "{secret}");
    let keygen = run(d, &["keygen", "--signing", "-o", "sk2", "--name", "example.com/x"], "", 0);
    let private2 = std::fs::read_to_string(d.join("sk2")).unwrap();
    let secret2 = private2.trim().splitn(5, '+').last().unwrap().to_string();
    let outputs = vec![
        append(d, "audit.ledger", "acct", 1, 1100),
        run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key", "--save-checkpoint", "t.note"], "", 0),
        run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--format", "json"], "", 0),
        run(d, &["log", "prove", "audit.ledger", "--seq", "3"], "", 0),
        run(d, &["log", "consistency", "audit.ledger", "--old", "1000"], "", 0),
        // The private key given where the verifier key goes: refused without being echoed.
        run(d, &["verify-log", "audit.ledger", "--verifier-key", "sk"], "", 2),
        run(d, &["verify-log", "audit.ledger", "--verifier-key", private.trim()], "", 2),
        keygen,
    ];
    assert!(text(&outputs[5].stderr).contains("is a private key"), "{}", text(&outputs[5].stderr));
    for o in &outputs {
        for stream in [&o.stdout, &o.stderr] {
            assert!(!text(stream).contains(&secret) && !text(stream).contains(&secret2), "{}", text(stream));
        }
    }
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "sk" && path.file_name().unwrap() != "sk2" {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!text(&bytes).contains(&secret), "{}", path.display());
            assert!(!text(&bytes).contains("PRIVATE+KEY"), "{}", path.display());
        }
    }
}

#[test]
fn a_signing_key_open_to_others_is_warned_about_and_a_spec_that_signs_needs_one() {
    let dir = keys();
    let d = dir.path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("sk"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = append(d, "audit.ledger", "acct", 1, 3);
        let err = text(&o.stderr);
        assert!(
            err.contains("warning: signing key file `sk` is accessible to its group and others (mode 0644); a signing key must be private to its owner"),
            "{err}"
        );
        assert!(err.contains("run `chmod 600 sk`"), "{err}");
    }
    // Without a spec the key's name is the origin; `--origin` overrides it.
    run(d, &["log", "append", "x.ledger", "--key-file", "key", "--signing-key", "sk", "--origin", "example.com/x"], &events("x", 1, 2), 0);
    let j = json(&run(d, &["verify-log", "x.ledger", "--verifier-key", "vk", "--format", "json"], "", 0));
    assert_eq!(j["signed"]["origin"], "example.com/x", "{j}");
    // A spec whose ledger has a signing key refuses to append unsigned.
    std::fs::write(
        d.join("signing.pips"),
        SPEC.replace("key = env(\"K\")", "key = env(\"K\")\n  signing_key = env(\"S\")\n  origin = \"example.com/audit\""),
    )
    .unwrap();
    let o = run(d, &["log", "append", "s.ledger", "--key-file", "key", "--spec", "signing.pips"], &events("s", 1, 2), 2);
    assert!(text(&o.stderr).contains("give the key with `--signing-key`"), "{}", text(&o.stderr));
    assert!(!d.join("s.ledger").exists());
    // ...and signs under the spec's origin; keygen names the key after it.
    let k = run(d, &["keygen", "--signing", "-o", "sk-s", "--spec", "signing.pips"], "", 0);
    assert!(text(&k.stdout).starts_with("example.com/audit+"), "{}", text(&k.stdout));
}

/// When the test witnesses cosign (POSIX seconds): 2026-01-01T00:00:00Z.
const COSIGNED_AT: u64 = 1_767_225_600;

/// A witness key from `keygen --signing --cosigner`: the private key in `<name>.key`, the
/// verifier key in `<name>.vk`.
fn cosigner(dir: &Path, name: &str) -> String {
    let o = run(dir, &["keygen", "--signing", "--cosigner", "--name", name, "-o", &format!("{name}.key")], "", 0);
    std::fs::write(dir.join(format!("{name}.vk")), &o.stdout).unwrap();
    text(&o.stdout).trim().to_string()
}

/// Each named witness (its state in `<name>.state`, kept across calls) cosigns the signed
/// checkpoints of `ledger` it has not cosigned yet, with the consistency proof from the last
/// one it did; its responses are appended to `<ledger>.witnessed` as the ledger keeps them.
fn cosign(dir: &Path, ledger: &str, names: &[&str]) {
    let vk = NoteVerifier::parse(std::fs::read_to_string(dir.join("vk")).unwrap().trim()).unwrap();
    let signed = dir.join(format!("{ledger}.signed"));
    let notes: Vec<String> = SignedFile::read(&signed).unwrap().notes.into_iter().map(|n| n.message).collect();
    let mut prover = Prover::open(&dir.join(ledger), &signed, &dir.join(format!("{ledger}.tree"))).unwrap();
    let witnessed = dir.join(format!("{ledger}.witnessed"));
    let mut text = std::fs::read_to_string(&witnessed).unwrap_or_default();
    for name in names {
        let key = NoteSigner::parse_private(std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap().trim()).unwrap();
        let logs = [("pip/demo/audit".to_string(), NoteVerifiers::new([vk.clone()]).unwrap())].into_iter().collect();
        let mut w = Witness::open(key, logs, &dir.join(format!("{name}.state"))).unwrap();
        for note in &notes {
            let size = Checkpoint::parse(&SignedNote::parse(note.as_bytes()).unwrap().text).unwrap().size;
            let old = w.latest("pip/demo/audit").map_or(0, |(s, _)| s);
            if old >= size {
                continue;
            }
            let proof = if old == 0 { Vec::new() } else { prover.consistency(old, Some(size)).unwrap().proof };
            let b64 = base64::engine::general_purpose::STANDARD;
            let proof = proof.iter().map(|h| b64.decode(h).unwrap().try_into().unwrap()).collect();
            let req = AddCheckpoint { old, proof, checkpoint: note.clone() };
            let resp = w.add_checkpoint(req.encode().as_bytes(), COSIGNED_AT).unwrap();
            assert_eq!(resp.status, 200, "{}", resp.body);
            text.push_str(&format!("{note}{}\n", resp.body));
        }
    }
    std::fs::write(&witnessed, text).unwrap();
}

#[test]
fn verify_log_requires_the_quorum_of_the_witness_keys_given() {
    let dir = project();
    let d = dir.path();
    for w in ["w1", "w2", "w3"] {
        cosigner(d, w);
    }
    cosign(d, "audit.ledger", &["w1", "w2"]);
    let base = [
        "verify-log",
        "audit.ledger",
        "--verifier-key",
        "vk",
        "--witness-key",
        "w1.vk",
        "--witness-key",
        "w2.vk",
        "--witness-key",
        "w3.vk",
    ];
    let with = |extra: &[&'static str]| -> Vec<&str> { base.iter().copied().chain(extra.iter().copied()).collect() };
    // 2 of 3 cosigned every checkpoint.
    let o = run(d, &with(&["--witness-quorum", "2"]), "", 0);
    let out = text(&o.stdout);
    assert!(out.contains("3 verified; the signatures cover entries 1..=2500 of 2500; clean"), "{out}");
    assert!(out.contains("cosigned checkpoints in `audit.ledger.witnessed`: 6 notes read; the quorum is met"), "{out}");
    assert!(out.lines().any(|l| l == "2500 entries covered by checkpoints cosigned by 2 of 3 witnesses"), "{out}");
    assert!(out.contains("witness `w1` cosigned size 2500 at 2026-01-01T00:00:00.000Z"), "{out}");
    assert!(out.contains("witness `w2` cosigned size 2500 at 2026-01-01T00:00:00.000Z"), "{out}");
    assert!(out.contains("witness `w3` cosigned nothing"), "{out}");
    let j = json(&run(d, &with(&["--witness-quorum", "2", "--format", "json"]), "", 0));
    let w = &j["signed"]["witnessed"];
    assert_eq!(
        (w["covered"].as_u64(), w["quorum"].as_u64(), w["witness_count"].as_u64(), w["quorum_met"].as_bool(), w["cosigners"].as_u64()),
        (Some(2500), Some(2), Some(3), Some(true), Some(2)),
        "{j}"
    );
    assert_eq!((w["witnesses"][0]["name"].as_str(), w["witnesses"][0]["size"].as_u64()), (Some("w1"), Some(2500)), "{j}");
    assert_eq!(
        (w["witnesses"][0]["time"].as_str(), w["witnesses"][0]["timestamp"].as_u64()),
        (Some("2026-01-01T00:00:00.000Z"), Some(COSIGNED_AT))
    );
    assert!(w["witnesses"][2]["size"].is_null(), "{j}");
    assert_eq!(j["clean"], true, "{j}");

    // The default quorum is every witness given: 3 of 3 is not met.
    let o = run(d, &with(&[]), "", 1);
    let out = text(&o.stdout);
    assert!(out.contains("no_witness_quorum: no checkpoint that agrees with the ledger is cosigned by 3 of the 3 witnesses"), "{out}");
    assert!(out.lines().any(|l| l == "0 entries covered by checkpoints cosigned by 3 of 3 witnesses"), "{out}");
    let j = json(&run(d, &with(&["--format", "json"]), "", 1));
    assert_eq!((j["clean"].as_bool(), j["signed"]["problems"][0]["class"].as_str()), (Some(false), Some("no_witness_quorum")), "{j}");
    // w3 catches up, from the checkpoint it last saw (none): now 3 of 3.
    cosign(d, "audit.ledger", &["w3"]);
    run(d, &with(&[]), "", 0);
    // Another cosigned file that does not exist holds no cosignature.
    let o = run(d, &with(&["--witnessed", "none.witnessed"]), "", 1);
    assert!(
        text(&o.stdout).contains("cosigned checkpoints in `none.witnessed`: 0 notes read; the quorum is not met"),
        "{}",
        text(&o.stdout)
    );
    // Without witnesses, or with a quorum of 0: no word of them.
    let o = run(d, &with(&["--witness-quorum", "0"]), "", 0);
    assert!(!text(&o.stdout).contains("witness"), "{}", text(&o.stdout));

    // Usage errors: a quorum above the witnesses, a key that is not a witness key, a private key.
    let o = run(d, &with(&["--witness-quorum", "4"]), "", 2);
    assert!(text(&o.stderr).contains("the witness quorum 4 is more than the 3 witness key(s)"), "{}", text(&o.stderr));
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--witness-key", "vk"], "", 2);
    assert!(text(&o.stderr).contains("`pip/demo/audit` is not a witness key"), "{}", text(&o.stderr));
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--witness-key", "w1.key"], "", 2);
    assert!(text(&o.stderr).contains("is a private key: give the witness key (public)"), "{}", text(&o.stderr));
    let o = run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--witnessed", "audit.ledger.witnessed"], "", 2);
    assert!(text(&o.stderr).contains("`--witnessed` needs the witnesses' keys"), "{}", text(&o.stderr));
}

#[test]
fn verify_log_catches_an_older_copy_restored_behind_what_the_witnesses_cosigned() {
    let dir = keys();
    let d = dir.path();
    cosigner(d, "w1");
    cosigner(d, "w2");
    append(d, "audit.ledger", "acct", 1, 1500);
    copy(d, "audit.ledger", "old.ledger");
    append(d, "audit.ledger", "acct", 1501, 2500);
    cosign(d, "audit.ledger", &["w1", "w2"]);
    let check = ["verify-log", "audit.ledger", "--verifier-key", "vk", "--witness-key", "w1.vk", "--witness-key", "w2.vk"];
    run(d, &check, "", 0);
    // The old copy with all of its own files verifies against its signed checkpoints alone...
    copy(d, "old.ledger", "audit.ledger");
    run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--key-file", "key"], "", 0);
    // ...but the witnesses' cosignatures of size 2500 remain.
    let o = run(d, &check, "", 1);
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "cosigned_beyond_ledger: witnesses (`w1`, `w2`) cosigned a checkpoint of size 2500 but the ledger has 1500 well-formed entries"
        ),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "1500 entries covered by checkpoints cosigned by 2 of 2 witnesses"), "{out}");
    let j = json(&run(d, &[&check[..], &["--format", "json"]].concat(), "", 1));
    assert_eq!(j["signed"]["problems"][0]["class"], "cosigned_beyond_ledger", "{j}");
}

#[test]
fn verify_log_takes_the_origin_witnesses_and_quorum_from_the_spec() {
    let dir = project();
    let d = dir.path();
    let (w1, w2) = (cosigner(d, "w1"), cosigner(d, "w2"));
    // The spec the auditor holds names the witnesses (appends above used one without them).
    std::fs::create_dir(d.join("witnessed")).unwrap();
    let ledger_block = format!(
        "key = env(\"K\")\n  signing_key = env(\"S\")\n  witness \"http://127.0.0.1:9/w1\" key \"{w1}\"\n  witness \"http://127.0.0.1:9/w2\" key \"{w2}\"\n  witness_quorum = 2"
    );
    std::fs::write(d.join("witnessed/demo.pips"), SPEC.replace("key = env(\"K\")", &ledger_block)).unwrap();
    let check = ["verify-log", "audit.ledger", "--verifier-key", "vk", "--spec", "witnessed/demo.pips"];
    cosign(d, "audit.ledger", &["w1"]);
    let o = run(d, &check, "", 1);
    let out = text(&o.stdout);
    assert!(out.contains("signed checkpoints of `pip/demo/audit`"), "{out}");
    assert!(
        out.contains("no_witness_quorum: no checkpoint that agrees with the ledger is cosigned by 2 of the 2 witnesses (at most 1"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "0 entries covered by checkpoints cosigned by 2 of 2 witnesses"), "{out}");
    // The flags override the spec's quorum...
    let o = run(d, &[&check[..], &["--witness-quorum", "1"]].concat(), "", 0);
    assert!(
        text(&o.stdout).lines().any(|l| l == "2500 entries covered by checkpoints cosigned by 1 of 2 witnesses"),
        "{}",
        text(&o.stdout)
    );
    // ...and its witnesses.
    let o = run(d, &[&check[..], &["--witness-key", "w1.vk"]].concat(), "", 0);
    assert!(
        text(&o.stdout).lines().any(|l| l == "2500 entries covered by checkpoints cosigned by 1 of 1 witnesses"),
        "{}",
        text(&o.stdout)
    );
    cosign(d, "audit.ledger", &["w2"]);
    let o = run(d, &check, "", 0);
    let out = text(&o.stdout);
    assert!(out.lines().any(|l| l == "2500 entries covered by checkpoints cosigned by 2 of 2 witnesses"), "{out}");
    assert!(out.contains("witness `w2` cosigned size 2500 at 2026-01-01T00:00:00.000Z"), "{out}");
    // The spec's origin is the one expected: another origin fails.
    let other = SPEC.replace("key = env(\"K\")", "key = env(\"K\")\n  signing_key = env(\"S\")\n  origin = \"example.com/other\"");
    std::fs::write(d.join("witnessed/demo.pips"), other).unwrap();
    let o = run(d, &check, "", 1);
    assert!(text(&o.stdout).contains("wrong_origin: "), "{}", text(&o.stdout));
    // A spec without witnesses asks for none; `--spec` needs the verifier key.
    run(d, &["verify-log", "audit.ledger", "--verifier-key", "vk", "--spec", "demo.pips"], "", 0);
    let o = run(d, &["verify-log", "audit.ledger", "--key-file", "key", "--spec", "demo.pips"], "", 2);
    assert!(text(&o.stderr).contains("give the log's verifier key with `--verifier-key`"), "{}", text(&o.stderr));
}
