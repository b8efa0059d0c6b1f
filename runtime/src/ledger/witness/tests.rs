#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::ledger::merkle::{consistency_proof, leaf_hash, root_of};

const ORIGIN: &str = "pip.example/payments/audit";

struct Setup {
    log: NoteSigner,
    witness: Witness,
    witness_keys: NoteVerifiers,
    leaves: Vec<Hash>,
    _dir: tempfile::TempDir,
    state: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let cosigner = NoteSigner::generate("witness.example/w1", SignatureType::CosignatureV1).unwrap();
    let witness_keys = NoteVerifiers::new([cosigner.verifier()]).unwrap();
    let logs = BTreeMap::from([(ORIGIN.to_string(), NoteVerifiers::new([log.verifier()]).unwrap())]);
    let state = dir.path().join("witness.state");
    let witness = Witness::open(cosigner, logs, &state).unwrap();
    let leaves = (0..40u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    Setup { log, witness, witness_keys, leaves, _dir: dir, state }
}

fn signed(signer: &NoteSigner, origin: &str, size: u64, root: Hash) -> String {
    Checkpoint { origin: origin.into(), size, root, extensions: vec![] }.sign(&[signer]).unwrap()
}

impl Setup {
    fn checkpoint(&self, size: u64) -> String {
        signed(&self.log, ORIGIN, size, root_of(&self.leaves[..size as usize]))
    }

    fn add(&mut self, old: u64, size: u64) -> (AddCheckpoint, Response) {
        let proof = if old == 0 || old == size { vec![] } else { consistency_proof(old, size, &self.leaves).unwrap() };
        let req = AddCheckpoint { old, proof, checkpoint: self.checkpoint(size) };
        let resp = self.witness.add_checkpoint(req.encode().as_bytes(), 1_767_225_600).unwrap();
        (req, resp)
    }
}

#[test]
fn requests_round_trip_and_malformed_ones_are_400() {
    let s = setup();
    let req = AddCheckpoint { old: 7, proof: vec![[1; 32], [2; 32]], checkpoint: s.checkpoint(9) };
    assert_eq!(AddCheckpoint::parse(req.encode().as_bytes()).unwrap(), req);
    for bad in ["", "old 01\n\nx", "old -1\n\nx", "new 1\n\nx", "old 1\nnotbase64\n\nx", "old 1\nAAAA\n\nx", "old 1"] {
        assert!(AddCheckpoint::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    let many = AddCheckpoint { old: 1, proof: vec![[3; 32]; 64], checkpoint: s.checkpoint(2) };
    assert!(AddCheckpoint::parse(many.encode().as_bytes()).unwrap_err().contains("63"));
}

#[test]
fn a_witness_cosigns_consistent_growth_and_keeps_its_state_across_restarts() {
    let mut s = setup();
    let (req, resp) = s.add(0, 5);
    assert_eq!(resp.status, 200, "{}", resp.body);
    let cosigned = cosignatures(&req.checkpoint, &resp.body, &s.witness_keys).unwrap();
    assert_eq!(cosigned.len(), 1);
    assert_eq!(cosigned[0].timestamp, Some(1_767_225_600));
    let (_, resp) = s.add(5, 12);
    assert_eq!(resp.status, 200, "{}", resp.body);
    // The same checkpoint again is cosigned again.
    assert_eq!(s.add(12, 12).1.status, 200);
    // Restarted from its state file, it knows where the log was.
    let cosigner = NoteSigner::generate("witness.example/w2", SignatureType::CosignatureV1).unwrap();
    let logs = BTreeMap::from([(ORIGIN.to_string(), NoteVerifiers::new([s.log.verifier()]).unwrap())]);
    let again = Witness::open(cosigner, logs, &s.state).unwrap();
    assert_eq!(again.latest(ORIGIN), Some((12, root_of(&s.leaves[..12]))));
}

#[test]
fn a_stale_old_size_is_409_with_the_latest_size() {
    let mut s = setup();
    assert_eq!(s.add(0, 5).1.status, 200);
    let (_, resp) = s.add(0, 9);
    assert_eq!((resp.status, resp.content_type, resp.body.as_str()), (409, SIZE_CONTENT_TYPE, "5\n"));
    let (_, resp) = s.add(3, 9);
    assert_eq!((resp.status, resp.body.as_str()), (409, "5\n"));
}

#[test]
fn a_bad_proof_a_fork_and_a_rollback_are_refused_and_change_nothing() {
    let mut s = setup();
    assert_eq!(s.add(0, 10).1.status, 200);
    // A wrong proof hash.
    let mut proof = consistency_proof(10, 20, &s.leaves).unwrap();
    proof[0][0] ^= 1;
    let req = AddCheckpoint { old: 10, proof, checkpoint: s.checkpoint(20) };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 422);
    // A fork: the log signs a tree whose leaf 3 differs; no proof from the cosigned 10 holds.
    let mut forked = s.leaves.clone();
    forked[3] = leaf_hash(b"forged");
    let req = AddCheckpoint {
        old: 10,
        proof: consistency_proof(10, 20, &forked).unwrap(),
        checkpoint: signed(&s.log, ORIGIN, 20, root_of(&forked[..20])),
    };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 422);
    // The same size with another root.
    let req = AddCheckpoint { old: 10, proof: vec![], checkpoint: signed(&s.log, ORIGIN, 10, root_of(&forked[..10])) };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 409);
    // A rollback: old larger than the checkpoint.
    let req = AddCheckpoint { old: 10, proof: vec![], checkpoint: s.checkpoint(4) };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 400);
    assert_eq!(s.witness.latest(ORIGIN), Some((10, root_of(&s.leaves[..10]))));
    assert_eq!(read_state(&s.state).unwrap()[ORIGIN], (10, root_of(&s.leaves[..10])));
}

#[test]
fn unknown_logs_are_404_and_checkpoints_of_other_keys_403() {
    let mut s = setup();
    let other = NoteSigner::generate("elsewhere.example/log", SignatureType::Ed25519).unwrap();
    let req = AddCheckpoint { old: 0, proof: vec![], checkpoint: signed(&other, "elsewhere.example/log", 3, root_of(&s.leaves[..3])) };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 404);
    let impostor = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let req = AddCheckpoint { old: 0, proof: vec![], checkpoint: signed(&impostor, ORIGIN, 3, root_of(&s.leaves[..3])) };
    assert_eq!(s.witness.add_checkpoint(req.encode().as_bytes(), 1).unwrap().status, 403);
    assert_eq!(s.witness.latest(ORIGIN), None);
    assert!(!s.state.exists());
}

#[test]
fn a_witness_needs_a_cosigning_key_and_a_readable_state() {
    let dir = tempfile::tempdir().unwrap();
    let ed = NoteSigner::generate("w", SignatureType::Ed25519).unwrap();
    assert!(matches!(Witness::open(ed, BTreeMap::new(), &dir.path().join("s")), Err(WitnessError::NotACosigner(_))));
    let path = dir.path().join("bad.state");
    std::fs::write(&path, "origin notanumber AAAA\n").unwrap();
    let w = NoteSigner::generate("w", SignatureType::CosignatureV1).unwrap();
    assert!(matches!(Witness::open(w, BTreeMap::new(), &path), Err(WitnessError::State { line: 1, .. })));
}
