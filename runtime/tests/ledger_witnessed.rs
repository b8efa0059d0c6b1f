//! Verification that requires a quorum of witnesses: real ledgers sign their checkpoints, real
//! witnesses ([`Witness::add_checkpoint`]) cosign them as c2sp.org/tlog-witness says, their
//! responses are kept in `<ledger>.witnessed`, and `verify_signed_with` checks the quorum and
//! the attacks a witness cosignature exposes: a cosigned checkpoint over another root (a fork
//! shown to the witnesses), an older copy of the ledger restored behind a cosigned size, a
//! checkpoint of another log, altered cosignatures; and raises no false alarm on clean ledgers.
#![cfg(feature = "signing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use pip_runtime::clock::SystemClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::merkle::{Hash, consistency_proof, leaf_hash, root_of};
use pip_runtime::ledger::note::{Checkpoint, NoteSigner, NoteVerifiers, SignatureType, SignedNote, note_signature};
use pip_runtime::ledger::signed::verify::{SignedProblem, SignedVerification, VerifyOptions, verify_signed, verify_signed_with};
use pip_runtime::ledger::signed::witnessed::{Cosigned, WitnessKeys, WitnessProblem, WitnessRequirement};
use pip_runtime::ledger::signed::{SignedFile, Signing};
use pip_runtime::ledger::tree::TreeReader;
use pip_runtime::ledger::witness::{AddCheckpoint, Witness};
use pip_runtime::ledger::{CheckpointPolicy, HEADER_LEN, Ledger, LedgerConfig, LedgerKey};

const ORIGIN: &str = "pip.example/payments/audit";
/// The time the witnesses cosign at (POSIX seconds), plus the checkpoint's size.
const NOW: u64 = 1_767_225_600;

fn event(tag: &str, i: u64) -> Event {
    Event {
        subsystem: "billing".into(),
        actor: "svc".into(),
        action: "transfer".into(),
        resource: format!("{tag}/{i}"),
        payload: serde_json::json!({ "i": i }),
        result: "ok".into(),
    }
}

fn config(dir: &Path) -> LedgerConfig {
    std::fs::create_dir_all(dir).unwrap();
    let mut cfg = LedgerConfig::new("payments", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(1000), every: None };
    cfg
}

struct Log {
    key: LedgerKey,
    signer: NoteSigner,
    verifiers: NoteVerifiers,
}

impl Log {
    fn new() -> Log {
        let signer = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
        let verifiers = NoteVerifiers::new([signer.verifier()]).unwrap();
        Log { key: LedgerKey::generate().unwrap(), signer, verifiers }
    }

    fn signing(&self) -> Signing {
        Signing::new(NoteSigner::parse_private(&self.signer.to_private_text()).unwrap(), ORIGIN).unwrap()
    }

    fn append(&self, cfg: &LedgerConfig, tag: &str, from: u64, n: u64) {
        let (ledger, _) = Ledger::open_signed(cfg.clone(), self.key.clone(), self.signing(), Arc::new(SystemClock::new()), None).unwrap();
        for i in from..from + n {
            ledger.append(&event(tag, i)).unwrap();
        }
        ledger.close().unwrap();
    }

    /// A checkpoint note of `origin` signed with the log's key, as the `.signed` file stores
    /// notes (without the closing blank line).
    fn sign(&self, origin: &str, size: u64, root: Hash) -> String {
        Checkpoint { origin: origin.into(), size, root, extensions: vec![] }.sign(&[&self.signer]).unwrap()
    }
}

/// A witness with its own state, witnessing the log's origin (and any others given).
struct W {
    witness: Witness,
    key: NoteSigner,
    _dir: tempfile::TempDir,
}

fn witness(name: &str, log: &Log, origins: &[&str]) -> W {
    let dir = tempfile::tempdir().unwrap();
    let key = NoteSigner::generate(name, SignatureType::CosignatureV1).unwrap();
    let logs: BTreeMap<String, NoteVerifiers> = origins.iter().map(|o| (o.to_string(), log.verifiers.clone())).collect();
    let witness = Witness::open(NoteSigner::parse_private(&key.to_private_text()).unwrap(), logs, &dir.path().join("state")).unwrap();
    W { witness, key, _dir: dir }
}

impl W {
    /// Sends `note` (a checkpoint of tree size `size` over `leaves`) with the consistency proof
    /// from what the witness cosigned last; the `.witnessed` record of its 200 response.
    fn cosign(&mut self, note: &str, leaves: &[Hash]) -> String {
        let cp = Checkpoint::parse(&SignedNote::parse(note.as_bytes()).unwrap().text).unwrap();
        let old = self.witness.latest(&cp.origin).map_or(0, |(s, _)| s);
        let proof = if old == 0 || old == cp.size { vec![] } else { consistency_proof(old, cp.size, leaves).unwrap() };
        let req = AddCheckpoint { old, proof, checkpoint: note.to_string() };
        let resp = self.witness.add_checkpoint(req.encode().as_bytes(), NOW + cp.size).unwrap();
        assert_eq!(resp.status, 200, "{}", resp.body);
        format!("{note}{}\n", resp.body)
    }
}

fn leaves(cfg: &LedgerConfig) -> Vec<Hash> {
    let mut r = TreeReader::without_tiles(&cfg.path, HEADER_LEN as u64).unwrap();
    let mut out = Vec::new();
    let mut n = 0;
    while r.entries(n, 1, |_, b| out.push(leaf_hash(b))).is_ok() {
        n += 1;
    }
    out
}

fn notes(cfg: &LedgerConfig) -> Vec<String> {
    SignedFile::read(&cfg.signed_path()).unwrap().notes.into_iter().map(|n| n.message).collect()
}

/// Has each witness cosign each of the ledger's signed checkpoints, in order, and appends the
/// responses to the ledger's `.witnessed` file.
fn witness_all(cfg: &LedgerConfig, ws: &mut [&mut W]) {
    let leaves = leaves(cfg);
    let mut text = std::fs::read_to_string(cfg.witnessed_path()).unwrap_or_default();
    for note in notes(cfg) {
        for w in ws.iter_mut() {
            text.push_str(&w.cosign(&note, &leaves));
        }
    }
    std::fs::write(cfg.witnessed_path(), text).unwrap();
}

fn keys(ws: &[&W]) -> WitnessKeys {
    WitnessKeys::new(ws.iter().map(|w| w.key.verifier())).unwrap()
}

fn verify(cfg: &LedgerConfig, log: &Log, keys: &WitnessKeys, quorum: u32) -> SignedVerification {
    let witnessed = cfg.witnessed_path();
    let options =
        VerifyOptions { origin: Some(ORIGIN), trusted: None, witnesses: Some(WitnessRequirement { file: &witnessed, keys, quorum }) };
    verify_signed_with(&cfg.path, &cfg.signed_path(), &log.verifiers, &options).unwrap()
}

fn witness_problems(v: &SignedVerification) -> Vec<WitnessProblem> {
    v.problems
        .iter()
        .map(|p| match p {
            SignedProblem::Witness(w) => w.clone(),
            other => panic!("not a witness problem: {other:?}"),
        })
        .collect()
}

fn latest(v: &SignedVerification) -> Vec<Option<u64>> {
    v.witnessed.as_ref().unwrap().witnesses.iter().map(|w| w.latest.map(|c| c.size)).collect()
}

#[test]
fn clean_cosigned_ledgers_of_several_sizes_raise_no_false_alarm() {
    for (n, reopen_at) in [(1u64, None), (42, None), (1000, None), (2500, Some(1300)), (3001, Some(999))] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let log = Log::new();
        let mut ws = [witness("w1.example", &log, &[ORIGIN]), witness("w2.example", &log, &[ORIGIN]), witness("w3", &log, &[ORIGIN])];
        let [a, b, c] = &mut ws;
        if let Some(k) = reopen_at {
            // Reopened: the witnesses cosign the first run's checkpoints, then go on from their
            // state with the second run's.
            log.append(&cfg, "a", 0, k);
            witness_all(&cfg, &mut [a, b, c]);
            log.append(&cfg, "a", k, n - k);
            witness_all_from_latest(&cfg, &mut [a, b, c]);
        } else {
            log.append(&cfg, "a", 0, n);
            witness_all(&cfg, &mut [a, b, c]);
        }
        let k = keys(&[&ws[0], &ws[1], &ws[2]]);
        let without = verify_signed(&cfg.path, &cfg.signed_path(), &log.verifiers, Some(ORIGIN), None).unwrap();
        assert!(without.is_clean(), "{:?}", without.problems);
        for quorum in 1..=3 {
            let v = verify(&cfg, &log, &k, quorum);
            assert!(v.is_clean(), "n {n} quorum {quorum}: {:?}", v.problems);
            let w = v.witnessed.clone().unwrap();
            assert_eq!((w.covered, w.cosigners, w.quorum_met, w.quorum, w.torn_bytes), (n, 3, true, quorum, 0), "n {n}");
            assert_eq!(latest(&v), vec![Some(n); 3]);
            assert_eq!(w.witnesses[0].latest, Some(Cosigned { size: n, timestamp: NOW + n }));
            assert_eq!(w.witnesses[2].name, "w3");
            // The signed check itself is what it is without witnesses.
            assert_eq!(
                (v.checkpoints, v.covered, v.entries, &v.latest, &v.origin),
                (without.checkpoints, without.covered, without.entries, &without.latest, &without.origin)
            );
        }
        // Quorum 0, or no requirement: today's check exactly.
        let v = verify(&cfg, &log, &k, 0);
        assert_eq!(v, without);
        assert!(without.witnessed.is_none());
    }
}

/// Like [`witness_all`], but each witness only gets the checkpoints after the one it cosigned last.
fn witness_all_from_latest(cfg: &LedgerConfig, ws: &mut [&mut W]) {
    let leaves = leaves(cfg);
    let mut text = std::fs::read_to_string(cfg.witnessed_path()).unwrap_or_default();
    for note in notes(cfg) {
        let size = Checkpoint::parse(&SignedNote::parse(note.as_bytes()).unwrap().text).unwrap().size;
        for w in ws.iter_mut() {
            if w.witness.latest(ORIGIN).is_none_or(|(s, _)| s < size) {
                text.push_str(&w.cosign(&note, &leaves));
            }
        }
    }
    std::fs::write(cfg.witnessed_path(), text).unwrap();
}

#[test]
fn a_quorum_of_two_of_three_is_met_by_two_and_not_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = Log::new();
    let (mut a, mut b, c) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]), witness("w3", &log, &[ORIGIN]));
    log.append(&cfg, "a", 0, 1000);
    witness_all(&cfg, &mut [&mut a]);
    log.append(&cfg, "a", 1000, 1500);
    let k = keys(&[&a, &b, &c]);
    // One witness: 2 of 3 is not met.
    let v = verify(&cfg, &log, &k, 2);
    assert_eq!(witness_problems(&v), vec![WitnessProblem::NoQuorum { quorum: 2, witnesses: 3, best: 1 }]);
    assert_eq!(v.problems[0].class(), "no_witness_quorum");
    assert_eq!((v.witnessed.as_ref().unwrap().covered, v.witnessed.as_ref().unwrap().quorum_met), (0, false));
    assert_eq!(latest(&v), vec![Some(1000), None, None]);
    // But 1 of 3 is.
    let v = verify(&cfg, &log, &k, 1);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.witnessed.unwrap().covered, 1000);
    // w1 goes on, w2 cosigns everything: 2 of 3 covers all 2500; 3 of 3 is not met.
    witness_all_from_latest(&cfg, &mut [&mut a, &mut b]);
    let v = verify(&cfg, &log, &k, 2);
    assert!(v.is_clean(), "{:?}", v.problems);
    let w = v.witnessed.clone().unwrap();
    assert_eq!((w.covered, w.cosigners), (2500, 2));
    assert_eq!(latest(&v), vec![Some(2500), Some(2500), None]);
    let v = verify(&cfg, &log, &k, 3);
    assert_eq!(witness_problems(&v), vec![WitnessProblem::NoQuorum { quorum: 3, witnesses: 3, best: 2 }]);
    assert_eq!(v.witnessed.unwrap().covered, 0);
    // No cosigned file at all: no quorum either, and nothing else wrong.
    std::fs::remove_file(cfg.witnessed_path()).unwrap();
    let v = verify(&cfg, &log, &k, 1);
    assert_eq!(witness_problems(&v), vec![WitnessProblem::NoQuorum { quorum: 1, witnesses: 3, best: 0 }]);
}

#[test]
fn a_cosignature_over_another_root_at_a_real_size_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = Log::new();
    let (mut a, mut b) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]));
    let mut c = witness("w3", &log, &[ORIGIN]);
    log.append(&cfg, "a", 0, 2000);
    witness_all(&cfg, &mut [&mut a, &mut b]);
    // The log key signs a checkpoint of size 1000 over other entries, and a witness that has
    // not seen the log yet cosigns it: the history the witness saw is not the ledger's.
    let other: Vec<Hash> = (0..1000u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let forged = log.sign(ORIGIN, 1000, root_of(&other));
    let mut text = std::fs::read_to_string(cfg.witnessed_path()).unwrap();
    text.push_str(&c.cosign(&forged, &other));
    std::fs::write(cfg.witnessed_path(), &text).unwrap();
    let k = keys(&[&a, &b, &c]);
    let v = verify(&cfg, &log, &k, 2);
    let found = witness_problems(&v);
    assert_eq!(
        found,
        vec![WitnessProblem::CosignedOtherRoot { size: 1000, witnesses: "`w3`".into() }, WitnessProblem::ForkedCheckpoints { size: 1000 }]
    );
    assert_eq!(v.problems.iter().map(SignedProblem::class).collect::<Vec<_>>(), ["cosigned_other_root", "forked_checkpoints"]);
    // The quorum of the others still covers the ledger: the problem is the fork, not the quorum.
    assert_eq!(v.witnessed.unwrap().covered, 2000);
    // An auditor who does not list w3 does not take its cosignature as evidence.
    let v = verify(&cfg, &log, &keys(&[&a, &b]), 2);
    assert!(v.is_clean(), "{:?}", v.problems);
}

#[test]
fn a_fork_signed_by_the_same_key_and_shown_to_the_witnesses_is_caught() {
    let root = tempfile::tempdir().unwrap();
    let log = Log::new();
    let a = config(&root.path().join("a"));
    log.append(&a, "a", 0, 1000);
    // A second history with the same key and origin: the same first 1000 entries, then others.
    let b = config(&root.path().join("b"));
    for (x, y) in [(a.path.clone(), b.path.clone()), (a.checkpoint_path(), b.checkpoint_path()), (a.signed_path(), b.signed_path())] {
        std::fs::copy(x, y).unwrap();
    }
    log.append(&a, "a", 1000, 1000);
    log.append(&b, "b", 1000, 1000);
    let (mut w1, mut w2) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]));
    // The witnesses are shown history b (consistent growth from 1000 to 2000): they cosign it.
    witness_all(&b, &mut [&mut w1, &mut w2]);
    let k = keys(&[&w1, &w2]);
    let v = verify(&b, &log, &k, 2);
    assert!(v.is_clean(), "{:?}", v.problems);
    // Ledger a, with b's cosigned checkpoints: its signed checkpoints verify, but the
    // witnesses cosigned another root at 2000, and the log signed both.
    std::fs::copy(b.witnessed_path(), a.witnessed_path()).unwrap();
    let v = verify(&a, &log, &k, 2);
    assert_eq!(
        witness_problems(&v),
        vec![
            WitnessProblem::CosignedOtherRoot { size: 2000, witnesses: "`w1`, `w2`".into() },
            WitnessProblem::ForkedCheckpoints { size: 2000 }
        ]
    );
    // Only the common prefix is covered by the witnesses.
    assert_eq!((v.covered, v.witnessed.unwrap().covered), (2000, 1000));
    let signed_only = verify_signed(&a.path, &a.signed_path(), &log.verifiers, Some(ORIGIN), None).unwrap();
    assert!(signed_only.is_clean(), "without the witnesses the fork is invisible: {:?}", signed_only.problems);
}

#[test]
fn an_older_copy_restored_behind_a_cosigned_size_is_caught() {
    let root = tempfile::tempdir().unwrap();
    let log = Log::new();
    let cfg = config(&root.path().join("live"));
    log.append(&cfg, "a", 0, 1500);
    let old = config(&root.path().join("old"));
    for (x, y) in
        [(cfg.path.clone(), old.path.clone()), (cfg.checkpoint_path(), old.checkpoint_path()), (cfg.signed_path(), old.signed_path())]
    {
        std::fs::copy(x, y).unwrap();
    }
    log.append(&cfg, "a", 1500, 1000);
    let (mut w1, mut w2) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]));
    witness_all(&cfg, &mut [&mut w1, &mut w2]);
    let k = keys(&[&w1, &w2]);
    // The old copy with its own signed checkpoints is self-consistent...
    let signed_only = verify_signed(&old.path, &old.signed_path(), &log.verifiers, Some(ORIGIN), None).unwrap();
    assert!(signed_only.is_clean(), "{:?}", signed_only.problems);
    // ...but the witnesses cosigned size 2500 (the second run checkpoints at its end), beyond it.
    std::fs::copy(cfg.witnessed_path(), old.witnessed_path()).unwrap();
    let v = verify(&old, &log, &k, 2);
    let beyond = |size| WitnessProblem::CosignedBeyondLedger { size, entries: 1500, witnesses: "`w1`, `w2`".into() };
    assert_eq!(witness_problems(&v), vec![beyond(2500)]);
    assert_eq!(v.problems[0].class(), "cosigned_beyond_ledger");
    // What it does hold agrees with the witnesses up to 1500.
    assert_eq!(v.witnessed.unwrap().covered, 1500);
}

#[test]
fn a_torn_last_note_is_tolerated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = Log::new();
    let (mut w1, mut w2) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]));
    log.append(&cfg, "a", 0, 2000);
    witness_all(&cfg, &mut [&mut w1, &mut w2]);
    let bytes = std::fs::read(cfg.witnessed_path()).unwrap();
    let file = SignedFile::parse(&bytes);
    assert_eq!(file.notes.len(), 4);
    // The last response (w2's of size 2000) cut off in its cosignature line.
    let cut = bytes.len() - 30;
    std::fs::write(cfg.witnessed_path(), &bytes[..cut]).unwrap();
    let k = keys(&[&w1, &w2]);
    let v = verify(&cfg, &log, &k, 2);
    assert!(v.is_clean(), "{:?}", v.problems);
    let w = v.witnessed.clone().unwrap();
    assert_eq!((w.torn_bytes, w.notes), ((cut - file.notes[3].offset as usize) as u64, 3));
    // 2000 has one cosignature left: the quorum covers 1000.
    assert_eq!((w.covered, w.cosigners), (1000, 2));
    assert_eq!(latest(&v), vec![Some(2000), Some(1000)]);
}

/// The records of a `.witnessed` file: each note with its closing blank line.
fn records(cfg: &LedgerConfig) -> Vec<String> {
    SignedFile::read(&cfg.witnessed_path()).unwrap().notes.into_iter().map(|n| format!("{}\n", n.message)).collect()
}

#[test]
fn unknown_cosigners_are_ignored_and_altered_cosignatures_or_log_signatures_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = Log::new();
    let (mut w1, mut w2, mut stranger) = (witness("w1", &log, &[ORIGIN]), witness("w2", &log, &[ORIGIN]), witness("w9", &log, &[ORIGIN]));
    log.append(&cfg, "a", 0, 1000);
    witness_all(&cfg, &mut [&mut w1, &mut stranger, &mut w2]);
    let k = keys(&[&w1, &w2]);
    let v = verify(&cfg, &log, &k, 2);
    assert!(v.is_clean(), "an unknown cosigner is not an error: {:?}", v.problems);
    assert_eq!(v.witnessed.as_ref().unwrap().cosigners, 2);
    let r = records(&cfg);
    assert_eq!(r.len(), 3);
    let last_line = |record: &str| record.trim_end_matches('\n').lines().last().unwrap().to_string();
    // A stranger's line inside a listed witness's note is ignored too.
    let mixed = format!("{}{}\n\n", r[0].trim_end_matches('\n').to_owned() + "\n", last_line(&r[1]));
    std::fs::write(cfg.witnessed_path(), format!("{mixed}{}", r[2])).unwrap();
    let v = verify(&cfg, &log, &k, 2);
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.witnessed.unwrap().cosigners, 2);

    // w1's cosignature altered (one base64 character of its signature): bad_cosignature, and
    // w1 no longer counts.
    let w1_line = last_line(&r[0]);
    let mut altered = w1_line.clone();
    let at = altered.len() - 5;
    let ch = if &altered[at..=at] == "A" { "B" } else { "A" };
    altered.replace_range(at..=at, ch);
    std::fs::write(cfg.witnessed_path(), format!("{}{}", r[0].replace(&w1_line, &altered), r[2])).unwrap();
    let v = verify(&cfg, &log, &k, 2);
    assert_eq!(
        witness_problems(&v),
        vec![
            WitnessProblem::BadCosignature { offset: 0, witness: "w1".into() },
            WitnessProblem::NoQuorum { quorum: 2, witnesses: 2, best: 1 }
        ]
    );
    assert_eq!(v.problems[0].class(), "bad_cosignature");

    // w2's note re-signed by another key of the log's name: its log signature does not verify,
    // and w2's cosignature does not count.
    let impostor = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let mut resigned = SignedNote::parse(r[2].strip_suffix('\n').unwrap().as_bytes()).unwrap();
    resigned.signatures[0] = note_signature(&impostor, &resigned.text).unwrap();
    std::fs::write(cfg.witnessed_path(), format!("{}{}\n", r[0], resigned.to_text().unwrap())).unwrap();
    let v = verify(&cfg, &log, &k, 1);
    let found = witness_problems(&v);
    assert!(matches!(found.as_slice(), [WitnessProblem::BadLogSignature { .. }]), "{found:?}");
    assert_eq!(v.problems[0].class(), "witnessed_bad_signature");
    // w1's note alone still meets a quorum of 1.
    let w = v.witnessed.unwrap();
    assert_eq!((w.covered, w.cosigners), (1000, 1));
}

#[test]
fn a_cosigned_checkpoint_of_another_origin_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = Log::new();
    let other_origin = "pip.example/payments/other";
    let (mut w1, mut w2) = (witness("w1", &log, &[ORIGIN, other_origin]), witness("w2", &log, &[ORIGIN]));
    log.append(&cfg, "a", 0, 1000);
    witness_all(&cfg, &mut [&mut w1, &mut w2]);
    let leaves = leaves(&cfg);
    let other = log.sign(other_origin, 1000, root_of(&leaves));
    let mut text = std::fs::read_to_string(cfg.witnessed_path()).unwrap();
    let at = text.len() as u64;
    text.push_str(&w1.cosign(&other, &leaves));
    std::fs::write(cfg.witnessed_path(), &text).unwrap();
    let v = verify(&cfg, &log, &keys(&[&w1, &w2]), 2);
    assert_eq!(
        witness_problems(&v),
        vec![WitnessProblem::CosignedOtherOrigin {
            offset: at,
            found: other_origin.into(),
            expected: ORIGIN.into(),
            witnesses: "`w1`".into()
        }]
    );
    assert_eq!(v.problems[0].class(), "cosigned_other_origin");
}

#[test]
fn witness_keys_must_be_cosigner_keys_and_unambiguous() {
    let ed = NoteSigner::generate("w1", SignatureType::Ed25519).unwrap();
    assert!(WitnessKeys::new([ed.verifier()]).is_err());
    let w = NoteSigner::generate("w1", SignatureType::CosignatureV1).unwrap();
    let k = WitnessKeys::new([w.verifier(), w.verifier()]).unwrap();
    assert_eq!(k.len(), 1, "an identical duplicate is one witness");
}
