//! Our Merkle tree, checkpoints and proofs checked by an implementation nobody here wrote:
//! Cloudflare azul's `tlog_tiles` (a port of Go's `golang.org/x/mod/sumdb/tlog`, the code
//! behind the Go checksum database and the C2SP tlog-tiles/tlog-checkpoint specifications).
//!
//! - Every checkpoint note our ledger signs parses as a C2SP checkpoint with `tlog_tiles`, and
//!   its root is the tree hash `tlog_tiles` computes from the entries' bodies (its own
//!   `record_hash`/`stored_hashes`/`tree_hash`, no code of ours on that side).
//! - Every node our tree file stores (any complete subtree) equals the stored hash
//!   `tlog_tiles` keeps at the same level and index.
//! - Every inclusion proof `pipc log prove` writes passes `tlog_tiles::check_record`, and every
//!   consistency proof passes `check_tree`; a proof for a modified entry and a proof against
//!   another tree size fail there too.
#![cfg(feature = "signing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use pip_runtime::clock::SystemClock;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::note::{NoteSigner, SignatureType};
use pip_runtime::ledger::signed::proof::Prover;
use pip_runtime::ledger::signed::{SignedFile, Signing};
use pip_runtime::ledger::tree::TreeReader;
use pip_runtime::ledger::{CheckpointPolicy, HEADER_LEN, Ledger, LedgerConfig, LedgerKey};
use tlog_tiles::{Checkpoint, Hash, HashReader, check_record, check_tree, record_hash, stored_hash_index, stored_hashes, tree_hash};

const ORIGIN: &str = "pip.example/interop/audit";

fn event(i: u64) -> Event {
    Event {
        subsystem: if i.is_multiple_of(3) { "billing".into() } else { "ledger-sync".into() },
        actor: "svc".into(),
        action: "transfer".into(),
        resource: format!("account/{i}"),
        payload: serde_json::json!({ "i": i, "pad": "x".repeat((i % 17) as usize) }),
        result: "ok".into(),
    }
}

/// A signed ledger of `n` entries with a checkpoint every `every` entries, and its identity digest.
fn ledger(dir: &Path, n: u64, every: u64) -> (LedgerConfig, [u8; 32]) {
    let mut cfg = LedgerConfig::new("interop", "audit", dir.join("audit.ledger"));
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(every), every: None };
    let signer = NoteSigner::generate(ORIGIN, SignatureType::Ed25519).unwrap();
    let signing = Signing::new(signer, ORIGIN).unwrap();
    let (l, _) = Ledger::open_signed(cfg.clone(), LedgerKey::generate().unwrap(), signing, Arc::new(SystemClock::new()), None).unwrap();
    for i in 0..n {
        l.append(&event(i)).unwrap();
    }
    let digest = l.identity().digest();
    l.close().unwrap();
    (cfg, digest)
}

/// The entries' body bytes (the Merkle leaves' data), in order.
fn bodies(cfg: &LedgerConfig) -> Vec<Vec<u8>> {
    let mut r = TreeReader::without_tiles(&cfg.path, HEADER_LEN as u64).unwrap();
    let n = r.entry_count().unwrap();
    let mut out = Vec::new();
    r.entries(0, n, |_, b| out.push(b.to_vec())).unwrap();
    out
}

/// `tlog_tiles`' own store of every stored hash, built record by record with its code.
struct Store(Vec<Hash>);

impl HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

fn store(bodies: &[Vec<u8>]) -> Store {
    let mut s = Store(Vec::new());
    for (n, b) in bodies.iter().enumerate() {
        let add = stored_hashes(n as u64, b, &s).unwrap();
        s.0.extend(add);
    }
    s
}

fn hash(b64: &str) -> Hash {
    use base64::Engine as _;
    Hash(base64::engine::general_purpose::STANDARD.decode(b64).unwrap().try_into().unwrap())
}

/// Parses the checkpoint body of a signed note with `tlog_tiles`.
fn their_checkpoint(note: &str) -> Checkpoint {
    let body = &note[..note.find("\n\n").unwrap() + 1];
    Checkpoint::from_bytes(body.as_bytes()).unwrap()
}

#[test]
fn every_signed_checkpoint_is_a_tlog_checkpoint_whose_root_tlog_tiles_computes_from_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = ledger(dir.path(), 1337, 100);
    let bodies = bodies(&cfg);
    assert_eq!(bodies.len(), 1337);
    let theirs = store(&bodies);
    let notes = SignedFile::read(&cfg.signed_path()).unwrap().notes;
    assert!(notes.len() >= 13, "a checkpoint every 100 entries and one at close: {}", notes.len());
    for n in &notes {
        let cp = their_checkpoint(&n.message);
        assert_eq!(cp.origin(), ORIGIN);
        assert!(cp.size() >= 1 && cp.size() <= 1337);
        assert_eq!(*cp.hash(), tree_hash(cp.size(), &theirs).unwrap(), "root of size {}", cp.size());
        // And our parse of the same note agrees with theirs.
        let ours = n.checkpoint.as_ref().unwrap();
        assert_eq!((ours.size, ours.root), (cp.size(), cp.hash().0));
    }
    // The last note covers every entry.
    assert_eq!(their_checkpoint(&notes.last().unwrap().message).size(), 1337);
}

#[test]
fn every_node_of_our_tree_file_is_the_stored_hash_tlog_tiles_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000u64;
    let (cfg, digest) = ledger(dir.path(), n, 256);
    let theirs = store(&bodies(&cfg));
    let mut ours = TreeReader::open(&cfg.path, HEADER_LEN as u64, &digest, &cfg.tree_path()).unwrap();
    assert!(ours.blocks() > 0, "the tree file is read, not recomputed from the entries");
    for level in 0..=10u8 {
        let width = 1u64 << level;
        for k in 0..n / width {
            let want = theirs.read_hashes(&[stored_hash_index(level, k)]).unwrap()[0];
            assert_eq!(ours.subtree(k * width, (k + 1) * width).unwrap(), want.0, "level {level}, index {k}");
        }
    }
}

#[test]
fn our_inclusion_and_consistency_proofs_pass_tlog_tiles_checks_and_forged_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = ledger(dir.path(), 777, 50);
    let bodies = bodies(&cfg);
    let mut prover = Prover::open(&cfg.path, &cfg.signed_path(), &cfg.tree_path()).unwrap();
    let sizes: Vec<u64> = prover.checkpoints().unwrap().map(|c| c.size).collect();
    let last = *sizes.last().unwrap();
    assert_eq!(last, 777);
    // Inclusion: every entry against the last checkpoint, and a spread against earlier ones.
    for seq in 1..=777u64 {
        let sizes_for: Vec<u64> = if seq % 37 == 0 { sizes.iter().copied().filter(|&s| s >= seq).collect() } else { vec![last] };
        for size in sizes_for {
            let p = prover.inclusion(seq, Some(size)).unwrap();
            let cp = their_checkpoint(&p.checkpoint);
            assert_eq!(cp.size(), size);
            let path: Vec<Hash> = p.audit_path.iter().map(|h| hash(h)).collect();
            let leaf = record_hash(&bodies[(seq - 1) as usize]);
            check_record(&path, cp.size(), *cp.hash(), seq - 1, leaf).unwrap_or_else(|e| panic!("seq {seq} in {size}: {e:?}"));
            if seq == 400 && size == last {
                // A modified entry, and the right entry claimed at another index, fail.
                let mut changed = bodies[399].clone();
                changed[10] ^= 1;
                assert!(check_record(&path, cp.size(), *cp.hash(), 399, record_hash(&changed)).is_err());
                assert!(check_record(&path, cp.size(), *cp.hash(), 398, leaf).is_err());
            }
        }
    }
    // Consistency: every pair of checkpoints.
    for (i, &old) in sizes.iter().enumerate() {
        for &new in &sizes[i..] {
            let p = prover.consistency(old, Some(new)).unwrap();
            let (o, n) = (their_checkpoint(&p.old_checkpoint), their_checkpoint(&p.new_checkpoint));
            assert_eq!((o.size(), n.size()), (old, new));
            let proof: Vec<Hash> = p.proof.iter().map(|h| hash(h)).collect();
            check_tree(&proof, n.size(), *n.hash(), o.size(), *o.hash()).unwrap_or_else(|e| panic!("{old} -> {new}: {e:?}"));
            if old < new {
                // The old root of another history (a fork) does not pass.
                let mut forked = o.hash().0;
                forked[0] ^= 1;
                assert!(check_tree(&proof, n.size(), *n.hash(), o.size(), Hash(forked)).is_err());
            }
        }
    }
}
