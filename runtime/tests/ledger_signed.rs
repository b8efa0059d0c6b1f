//! Signed checkpoints end to end: a ledger with a signing key writes C2SP checkpoint notes
//! over the Merkle tree of its entries, recovers the tree on open (from its tiles, or from the
//! entries when the tiles are gone or wrong), and anyone with the verifier key checks the
//! ledger, proofs and attacks on them: restoring an old copy, forking, re-signing, modifying.
#![cfg(feature = "signing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use pip_runtime::clock::SystemClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::merkle::{leaf_hash, root_of};
use pip_runtime::ledger::note::{self, NoteSigner, NoteVerifiers, SignatureType};
use pip_runtime::ledger::signed::proof::{self, Prover};
use pip_runtime::ledger::signed::verify::{SignedProblem, Trusted, verify_signed};
use pip_runtime::ledger::signed::{SignedFile, Signing};
use pip_runtime::ledger::tree::TreeReader;
use pip_runtime::ledger::{CheckpointPolicy, HEADER_LEN, Ledger, LedgerConfig, LedgerKey};

const ORIGIN: &str = "pip.example/payments/audit";

fn event(i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc".into(),
        action: "transfer".into(),
        resource: format!("account/{i}"),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

fn config(dir: &Path) -> LedgerConfig {
    let mut cfg = LedgerConfig::new("payments", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(1000), every: None };
    cfg
}

struct Keys {
    key: LedgerKey,
    signer_text: String,
    verifiers: NoteVerifiers,
}

impl Keys {
    fn new() -> Keys {
        let signer = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
        let verifiers = NoteVerifiers::new([signer.verifier()]).unwrap();
        Keys { key: LedgerKey::generate().unwrap(), signer_text: signer.to_private_text().to_string(), verifiers }
    }

    fn signing(&self) -> Signing {
        Signing::new(NoteSigner::parse_private(&self.signer_text).unwrap(), ORIGIN).unwrap()
    }
}

fn append(cfg: &LedgerConfig, keys: &Keys, from: u64, n: u64) {
    let (ledger, _) = Ledger::open_signed(cfg.clone(), keys.key.clone(), keys.signing(), Arc::new(SystemClock::new()), None).unwrap();
    for i in from..from + n {
        ledger.append(&event(i)).unwrap();
    }
    ledger.close().unwrap();
}

fn leaves(cfg: &LedgerConfig) -> Vec<[u8; 32]> {
    let mut r = TreeReader::without_tiles(&cfg.path, HEADER_LEN as u64).unwrap();
    let mut out = Vec::new();
    let mut n = 0;
    while r.entries(n, 1, |_, b| out.push(leaf_hash(b))).is_ok() {
        n += 1;
    }
    out
}

fn sizes(cfg: &LedgerConfig) -> Vec<u64> {
    SignedFile::read(&cfg.signed_path()).unwrap().notes.iter().map(|n| n.checkpoint.as_ref().unwrap().size).collect()
}

fn verify(cfg: &LedgerConfig, keys: &Keys, trusted: Option<&Trusted>) -> pip_runtime::ledger::signed::verify::SignedVerification {
    verify_signed(&cfg.path, &cfg.signed_path(), &keys.verifiers, Some(ORIGIN), trusted).unwrap()
}

fn copy_files(cfg: &LedgerConfig, to: &Path) -> LedgerConfig {
    std::fs::create_dir_all(to).unwrap();
    let mut c = cfg.clone();
    c.path = to.join("audit.ledger");
    for (a, b) in [
        (cfg.path.clone(), c.path.clone()),
        (cfg.checkpoint_path(), c.checkpoint_path()),
        (cfg.signed_path(), c.signed_path()),
        (cfg.tree_path(), c.tree_path()),
    ] {
        std::fs::copy(a, b).unwrap();
    }
    c
}

#[test]
fn every_checkpoint_is_signed_over_the_merkle_root_of_its_entries_and_verifies_with_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 2500);
    assert_eq!(sizes(&cfg), vec![1000, 2000, 2500]);
    let leaves = leaves(&cfg);
    assert_eq!(leaves.len(), 2500);
    for n in SignedFile::read(&cfg.signed_path()).unwrap().notes {
        let (cp, _) = note::Checkpoint::open(n.message.as_bytes(), &keys.verifiers).unwrap();
        assert_eq!(cp.origin, ORIGIN);
        assert_eq!(cp.root, root_of(&leaves[..cp.size as usize]), "size {}", cp.size);
    }
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!((v.checkpoints, v.covered, v.entries, v.uncovered()), (3, 2500, 2500, 0));
}

#[test]
fn the_tree_is_recovered_on_open_from_its_tiles_or_without_them_and_goes_on_signing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1300);
    append(&cfg, &keys, 1300, 10);
    // No tree file at all: rebuilt from the entries.
    std::fs::remove_file(cfg.tree_path()).unwrap();
    append(&cfg, &keys, 1310, 700);
    // A wrong tile: the cache is not trusted, the tree is rebuilt and the roots still agree.
    let mut tree = std::fs::read(cfg.tree_path()).unwrap();
    tree[40 + 5] ^= 1;
    std::fs::write(cfg.tree_path(), &tree).unwrap();
    append(&cfg, &keys, 2010, 1);
    // Count-based checkpoints count from the last one at open (1310), so none at 2000.
    assert_eq!(sizes(&cfg), vec![1000, 1300, 1310, 2010, 2011]);
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.covered, 2011);
    let leaves = leaves(&cfg);
    let mut p = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
    for seq in [1, 256, 257, 1311, 2011] {
        let proof = p.inclusion(seq, None).unwrap();
        let ok = proof::verify_inclusion(&proof, &keys.verifiers).unwrap();
        assert_eq!((ok.fields.seq, ok.tree_size), (seq, 2011));
        assert_eq!(leaf_hash(&base64_decode(&proof.entry)), leaves[seq as usize - 1]);
    }
}

#[test]
fn a_ledger_that_gets_a_signing_key_later_is_covered_whole_by_its_first_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    let (ledger, _) = Ledger::open(cfg.clone(), keys.key.clone(), Arc::new(SystemClock::new()), None).unwrap();
    for i in 0..42 {
        ledger.append(&event(i)).unwrap();
    }
    ledger.close().unwrap();
    assert!(!cfg.signed_path().exists());
    let (ledger, _) = Ledger::open_signed(cfg.clone(), keys.key.clone(), keys.signing(), Arc::new(SystemClock::new()), None).unwrap();
    ledger.close().unwrap();
    assert_eq!(sizes(&cfg), vec![42]);
    // No second MACed checkpoint at 42 (a repeated seq would read as a replayed checkpoint).
    let report = pip_runtime::ledger::verify_files(&cfg.path, Some(&cfg.checkpoint_path()), &keys.key, 1).unwrap();
    assert!(report.anomalies.is_empty(), "{:?}", report.anomalies);
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.covered, 42);
}

#[test]
fn entries_after_the_last_signed_checkpoint_are_counted_as_uncovered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1200);
    // Drop the last note (size 1200): entries 1001..=1200 are not covered by a signature.
    let file = SignedFile::read(&cfg.signed_path()).unwrap();
    let bytes = std::fs::read(cfg.signed_path()).unwrap();
    std::fs::write(cfg.signed_path(), &bytes[..file.notes[1].offset as usize]).unwrap();
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!((v.covered, v.entries, v.uncovered()), (1000, 1200, 200));
}

#[test]
fn a_modified_entry_breaks_every_signed_root_that_covers_it_and_refuses_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1500);
    let modify = |payload: &[u8], digit: u8| {
        let mut bytes = std::fs::read(&cfg.path).unwrap();
        let at = bytes.windows(payload.len()).position(|w| w == payload).unwrap();
        bytes[at + 5] = digit;
        std::fs::write(&cfg.path, &bytes).unwrap();
    };
    // Entry 1400 lies after the tree file's last whole tile (1280): opening reads it, and
    // refuses to sign on top of it.
    modify(b"{\"i\":1399}", b'8');
    let v = verify(&cfg, &keys, None);
    assert_eq!(v.problems, vec![SignedProblem::RootMismatch { size: 1500 }]);
    assert_eq!(v.covered, 1000);
    let err = Ledger::open_signed(cfg.clone(), keys.key.clone(), keys.signing(), Arc::new(SystemClock::new()), None).unwrap_err();
    assert!(err.to_string().contains("not the ones the last signed checkpoint commits to"), "{err}");
    modify(b"{\"i\":8399}", b'1');
    // Entry 700: both signed roots break. (Opening reads only the tail, as for the MACs: the
    // tiles carry on the signed history, and verification names the change.)
    modify(b"{\"i\":699}", b'5');
    let v = verify(&cfg, &keys, None);
    assert_eq!(v.problems, vec![SignedProblem::RootMismatch { size: 1000 }, SignedProblem::RootMismatch { size: 1500 }]);
    assert_eq!(v.covered, 0);
}

#[test]
fn cut_off_entries_are_truncation_and_a_restored_old_copy_fails_against_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1000);
    let old = copy_files(&cfg, &dir.path().join("old"));
    append(&cfg, &keys, 1000, 1000);
    let latest = verify(&cfg, &keys, None).latest.unwrap();
    let trusted = Trusted::open(latest.as_bytes(), &keys.verifiers).unwrap();
    assert_eq!(trusted.checkpoint.size, 2000);
    // The old copy is self-consistent: without the trusted checkpoint it verifies...
    let v = verify(&old, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    // ...with it, it is caught.
    let v = verify(&old, &keys, Some(&trusted));
    assert_eq!(v.problems, vec![SignedProblem::BehindTrusted { trusted: 2000, entries: 1000 }]);
    // Cutting whole entries off the ledger alone (its signed notes kept) is truncation...
    let bytes = std::fs::read(&cfg.path).unwrap();
    let start = record_start(&bytes, 1991);
    std::fs::write(&cfg.path, &bytes[..start]).unwrap();
    let v = verify(&cfg, &keys, None);
    assert_eq!(v.problems, vec![SignedProblem::Truncated { size: 2000, entries: 1990 }]);
    // ...and cutting into a record leaves the checkpoint beyond the damage.
    std::fs::write(&cfg.path, &bytes[..bytes.len() - 100]).unwrap();
    let v = verify(&cfg, &keys, None);
    assert_eq!(
        v.problems,
        vec![
            SignedProblem::Unreadable { seq: 2000, what: "the file ends inside a record".into() },
            SignedProblem::BeyondDamage { size: 2000, readable_to: 1999 }
        ]
    );
}

#[test]
fn a_fork_signed_by_the_same_key_fails_consistency_with_the_other_branch() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let a = config(&dir.path().join("a"));
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    append(&a, &keys, 0, 1000);
    let b = copy_files(&a, &dir.path().join("b"));
    append(&a, &keys, 1000, 500);
    append(&b, &keys, 5000, 500);
    let ta = Trusted::open(verify(&a, &keys, None).latest.unwrap().as_bytes(), &keys.verifiers).unwrap();
    let tb = Trusted::open(verify(&b, &keys, None).latest.unwrap().as_bytes(), &keys.verifiers).unwrap();
    assert_eq!((ta.checkpoint.size, tb.checkpoint.size), (1500, 1500));
    assert_ne!(ta.checkpoint.root, tb.checkpoint.root);
    assert_eq!(verify(&b, &keys, Some(&ta)).problems, vec![SignedProblem::ForkedFromTrusted { trusted: 1500 }]);
    // Branch b grows on: it still cannot be shown consistent with a's checkpoint.
    append(&b, &keys, 6000, 600);
    assert_eq!(verify(&b, &keys, Some(&ta)).problems, vec![SignedProblem::ForkedFromTrusted { trusted: 1500 }]);
    // And a consistency proof from b's own 1500 to its 2100 does not carry a's root.
    let mut p = Prover::open(&b.path, &b.signed_path(), &b.tree_path()).unwrap();
    let mut c = p.consistency(1500, None).unwrap();
    proof::verify_consistency(&c, &keys.verifiers).unwrap();
    c.old_checkpoint = verify(&a, &keys, None).latest.unwrap();
    assert!(proof::verify_consistency(&c, &keys.verifiers).is_err());
}

#[test]
fn checkpoints_re_signed_with_another_key_do_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1000);
    // Another key with the same name re-signs every note.
    let other = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let mut out = String::new();
    for n in SignedFile::read(&cfg.signed_path()).unwrap().notes {
        let cp = n.checkpoint.unwrap();
        out.push_str(&cp.sign(&[&other]).unwrap());
        out.push('\n');
    }
    std::fs::write(cfg.signed_path(), out).unwrap();
    let v = verify(&cfg, &keys, None);
    assert!(
        matches!(v.problems.as_slice(), [SignedProblem::BadSignature { .. }, SignedProblem::Unsigned { entries: 1000 }]),
        "{:?}",
        v.problems
    );
    assert_eq!(v.covered, 0);
}

#[test]
fn proofs_verify_with_the_public_key_and_fail_for_a_modified_entry_or_path() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 2300);
    let mut p = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
    for (seq, size) in [(1, None), (999, Some(1000)), (1000, Some(1000)), (2300, None), (1501, Some(2000))] {
        let proof = p.inclusion(seq, size).unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        let back: proof::InclusionProof = serde_json::from_str(&json).unwrap();
        let ok = proof::verify_inclusion(&back, &keys.verifiers).unwrap();
        assert_eq!(ok.fields.seq, seq);
        assert_eq!(ok.fields.resource, format!("account/{}", seq - 1));
    }
    let good = p.inclusion(700, None).unwrap();
    // The entry's bytes changed (and its fields with them): no longer on the path.
    let mut body = base64_decode(&good.entry);
    while let Some(at) = body.windows(3).position(|w| w == b"699") {
        body[at] = b'5';
    }
    let mut bad = good.clone();
    bad.entry = base64_encode(&body);
    bad.fields.resource = "account/599".into();
    bad.fields.payload = bad.fields.payload.replace("699", "599");
    assert!(matches!(proof::verify_inclusion(&bad, &keys.verifiers), Err(proof::ProofCheckError::Proof(_))));
    // Fields that disagree with the bytes.
    let mut bad = good.clone();
    bad.fields.actor = "someone else".into();
    assert_eq!(proof::verify_inclusion(&bad, &keys.verifiers), Err(proof::ProofCheckError::FieldsDisagree));
    // A changed path hash.
    let mut bad = good.clone();
    bad.audit_path[3] = base64_encode(&[7; 32]);
    assert!(proof::verify_inclusion(&bad, &keys.verifiers).is_err());
    // Another verifier key: the checkpoint does not open.
    let stranger = NoteVerifiers::new([NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap().verifier()]).unwrap();
    assert!(matches!(proof::verify_inclusion(&good, &stranger), Err(proof::ProofCheckError::Checkpoint(_))));
    // Consistency 1000 -> 2300 verifies; a changed hash does not.
    let c = p.consistency(1000, None).unwrap();
    let ok = proof::verify_consistency(&c, &keys.verifiers).unwrap();
    assert_eq!((ok.old_size, ok.new_size), (1000, 2300));
    let mut bad = c.clone();
    bad.proof[0] = base64_encode(&[1; 32]);
    assert!(proof::verify_consistency(&bad, &keys.verifiers).is_err());
}

#[test]
fn our_signed_checkpoints_verify_with_the_signed_note_crate() {
    use signed_note::{Note, StandardVerifier, VerifierList};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1001);
    let vkey = NoteSigner::parse_private(&keys.signer_text).unwrap().verifier().to_text();
    for n in SignedFile::read(&cfg.signed_path()).unwrap().notes {
        let theirs = StandardVerifier::new(&vkey).unwrap();
        let note = Note::from_bytes(n.message.as_bytes()).unwrap();
        let (verified, _) = note.verify(&VerifierList::new(vec![Box::new(theirs)])).unwrap();
        assert_eq!(verified.len(), 1);
    }
}

/// Byte offset of the record of entry `seq` in a ledger file.
fn record_start(bytes: &[u8], seq: u64) -> usize {
    let mut at = HEADER_LEN;
    for _ in 1..seq {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += len + pip_runtime::ledger::FRAME_OVERHEAD;
    }
    at
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_prover_reads_the_latest_notes_and_finds_older_ones_in_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(5), every: None };
    let keys = Keys::new();
    append(&cfg, &keys, 0, 5000);
    let all = SignedFile::read(&cfg.signed_path()).unwrap();
    assert_eq!(all.notes.len(), 1000);
    let (tail, whole) = SignedFile::read_tail(&cfg.signed_path(), 4096).unwrap();
    assert!(!whole);
    assert!(!tail.notes.is_empty() && tail.notes.len() < 1000);
    // The tail's notes are the file's last ones, at the same offsets.
    assert_eq!(tail.notes[..], all.notes[all.notes.len() - tail.notes.len()..]);
    let mut p = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
    for (seq, size) in [(3, Some(5)), (4999, None), (2500, Some(2500))] {
        let proof = p.inclusion(seq, size).unwrap();
        let ok = proof::verify_inclusion(&proof, &keys.verifiers).unwrap();
        assert_eq!((ok.fields.seq, ok.tree_size), (seq, size.unwrap_or(5000)));
    }
    let c = p.consistency(5, Some(10)).unwrap();
    proof::verify_consistency(&c, &keys.verifiers).unwrap();
    assert!(matches!(p.inclusion(5001, None), Err(proof::ProveError::NoCheckpoint(m)) if m.contains("has 5000 entries")));
}

#[test]
fn a_declared_ledger_loads_its_signing_key_from_where_the_spec_says_and_signs_with_it() {
    use pip_runtime::declared::LedgerDecl;
    use pip_runtime::ledger::signed::SigningKeyError;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let key_file = dir.path().join("audit.signing");
    std::fs::write(&key_file, format!("{}\n", keys.signer_text)).unwrap();
    let path = key_file.to_str().unwrap().to_string();
    let decl = LedgerDecl {
        name: "audit",
        checkpoint_entries: Some(1000),
        checkpoint_every_millis: None,
        sync_every_append: true,
        sync_entries: None,
        sync_every_millis: None,
        expected_subsystems: &[],
        clock_tolerance_millis: 300_000,
        signing_key_env: None,
        signing_key_file: Some(&path),
        origin: None,
        witnesses: &[],
        witness_quorum: 0,
        witness_silence_millis: 3_600_000,
    };
    // A key file open to others loads, with a warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warning) = decl.signing("payments").unwrap().unwrap();
        assert!(warning.is_some());
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (signing, warning) = decl.signing("payments").unwrap().unwrap();
    assert!(warning.is_none());
    assert_eq!(signing.origin(), "pip/payments/audit");
    let cfg = decl.config("payments", dir.path().join("audit.ledger"));
    let (ledger, _) = Ledger::open_signed(cfg.clone(), keys.key.clone(), signing, Arc::new(SystemClock::new()), None).unwrap();
    ledger.append(&event(1)).unwrap();
    ledger.close().unwrap();
    let v = verify_signed(&cfg.path, &cfg.signed_path(), &keys.verifiers, Some("pip/payments/audit"), None).unwrap();
    assert!(v.is_clean() && v.covered == 1, "{:?}", v.problems);
    // No signing key declared: nothing to load. A missing variable and a file that is not a
    // key are named errors, and the key text never appears in them.
    assert!(LedgerDecl { signing_key_file: None, ..decl }.signing("payments").is_none());
    let missing = LedgerDecl { signing_key_file: None, signing_key_env: Some("PIP_TEST_NO_SUCH_SIGNING_KEY_VAR"), ..decl };
    assert!(matches!(missing.signing("payments"), Some(Err(SigningKeyError::MissingEnv(v))) if v == "PIP_TEST_NO_SUCH_SIGNING_KEY_VAR"));
    std::fs::write(&key_file, "not a key\n").unwrap();
    let err = decl.signing("payments").unwrap().unwrap_err();
    assert!(matches!(err, SigningKeyError::Parse { .. }), "{err}");
    // The HMAC key in the signing key's place is refused too, without showing it.
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = decl.signing("payments").unwrap().unwrap_err().to_string();
    assert!(!err.contains(&"ab".repeat(32)), "{err}");
}

#[test]
fn a_torn_note_is_cut_off_on_open_and_the_ledger_goes_on_clean() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let keys = Keys::new();
    append(&cfg, &keys, 0, 1200);
    let whole = std::fs::read(cfg.signed_path()).unwrap();
    let last = SignedFile::read(&cfg.signed_path()).unwrap().notes.last().unwrap().message.clone();
    // A crash in the middle of writing the next note.
    let mut torn = whole.clone();
    torn.extend_from_slice(&last.as_bytes()[..last.len() / 2]);
    std::fs::write(cfg.signed_path(), &torn).unwrap();
    assert!(verify(&cfg, &keys, None).problems.iter().any(|p| matches!(p, SignedProblem::TornNote { .. })));
    let (ledger, report) = Ledger::open_signed(cfg.clone(), keys.key.clone(), keys.signing(), Arc::new(SystemClock::new()), None).unwrap();
    assert_eq!(report.signed_torn_bytes, (last.len() / 2) as u64);
    ledger.append(&event(5000)).unwrap();
    ledger.close().unwrap();
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.covered, 1201);
}

#[test]
fn a_ledger_cut_below_its_tiles_reopens_when_its_checkpoints_are_cut_with_it_and_refuses_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(100), every: None };
    let keys = Keys::new();
    append(&cfg, &keys, 0, 700);
    // Cut entries 501.. off the ledger (its tiles cover 512).
    let bytes = std::fs::read(&cfg.path).unwrap();
    std::fs::write(&cfg.path, &bytes[..record_start(&bytes, 501)]).unwrap();
    // With the signed checkpoints kept, opening refuses: they cover entries that are gone.
    let err = Ledger::open_signed(cfg.clone(), keys.key.clone(), keys.signing(), Arc::new(SystemClock::new()), None).unwrap_err();
    assert!(err.to_string().contains("cut off"), "{err}");
    // Cut the MACed and signed checkpoints past 500 too (what an intruder would do): it opens,
    // rebuilds its tree, and signs on consistently.
    let notes = SignedFile::read(&cfg.signed_path()).unwrap().notes;
    let cut = notes.iter().find(|n| n.checkpoint.as_ref().unwrap().size > 500).unwrap().offset;
    std::fs::OpenOptions::new().write(true).open(cfg.signed_path()).unwrap().set_len(cut).unwrap();
    let ckpt = std::fs::read(cfg.checkpoint_path()).unwrap();
    let keep = pip_runtime::ledger::checkpoint::CHECKPOINT_HEADER_LEN + 5 * pip_runtime::ledger::checkpoint::CHECKPOINT_LEN;
    std::fs::write(cfg.checkpoint_path(), &ckpt[..keep]).unwrap();
    append(&cfg, &keys, 9000, 10);
    let v = verify(&cfg, &keys, None);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.covered, 510);
}
