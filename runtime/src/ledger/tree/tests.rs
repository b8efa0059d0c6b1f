#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::ledger::format::{HEADER_LEN, PreparedEvent, encode_record, ledger_header};
use crate::ledger::identity::Identity;
use crate::ledger::key::LedgerKey;
use crate::ledger::merkle::{leaf_hash, root_of, verify_consistency, verify_inclusion};

/// A ledger of `n` entries written by hand, its tree file from a builder, and the leaf hashes.
fn ledger(dir: &Path, n: u64) -> (PathBuf, PathBuf, [u8; 32], Vec<Hash>) {
    let key = LedgerKey::generate().unwrap();
    let identity = Identity::generate("p", "l").unwrap();
    let mut bytes = ledger_header(&key, &identity).to_vec();
    let mut prev = identity.digest();
    let mut leaves = Vec::new();
    let mut builder = TreeBuilder::new();
    let mut tree = header(&identity.digest()).to_vec();
    for seq in 1..=n {
        let offset = bytes.len() as u64;
        let resource = format!("r{}", seq % 97);
        let payload = format!("{{\"n\":{}}}", seq * 7919 % 1000);
        let ev = PreparedEvent::with_raw_payload("s", "a", "act", &resource, "ok", payload.into_bytes()).unwrap();
        prev = encode_record(&mut bytes, &key, seq, 1_000 + seq, &prev, &ev);
        let body_start = offset as usize + 4;
        let body = &bytes[body_start..bytes.len() - MAC_LEN];
        leaves.push(leaf_hash(body));
        builder.append_body(body, offset, &mut tree);
    }
    assert_eq!(builder.root(), root_of(&leaves));
    let path = dir.join("l.ledger");
    std::fs::write(&path, &bytes).unwrap();
    let tree_path = default_path(&path);
    std::fs::write(&tree_path, &tree).unwrap();
    (path, tree_path, identity.digest(), leaves)
}

#[test]
fn records_sit_where_position_says_in_completion_order() {
    let n = 2 * 65_536 + 3 * 256 + 5;
    let leaves: Vec<Hash> = (0..n).map(|i: u64| leaf_hash(&i.to_le_bytes())).collect();
    let mut b = TreeBuilder::new();
    let mut out = Vec::new();
    for (i, l) in leaves.iter().enumerate() {
        b.append_leaf(*l, i as u64, &mut out);
    }
    let records = (out.len() / RECORD_LEN) as u64;
    let blocks = n / TILE_WIDTH;
    assert_eq!(records_for(blocks), Some(records));
    assert_eq!(blocks_in(records), blocks);
    let at = |p: u64| TreeRecord::decode(&out[p as usize * RECORD_LEN..][..RECORD_LEN]).unwrap();
    for i in 0..blocks {
        let r = at(position(1, i).unwrap());
        assert_eq!(r.offset, i * 256);
        assert_eq!(r.hash, root_of(&leaves[(i * 256) as usize..((i + 1) * 256) as usize]));
    }
    for k in 0..2 {
        let r = at(position(2, k).unwrap());
        assert_eq!(r.offset, k * 65_536);
        assert_eq!(r.hash, root_of(&leaves[(k * 65_536) as usize..((k + 1) * 65_536) as usize]));
    }
    assert_eq!(b.root(), root_of(&leaves));
}

#[test]
fn blocks_in_inverts_records_for_and_ignores_a_partial_group() {
    for b in 0..3000u64 {
        let r = records_for(b).unwrap();
        assert_eq!(blocks_in(r), b);
        // The records of block b without the higher nodes it completes are not block b yet.
        if let Some(next) = records_for(b + 1) {
            for partial in r..next {
                assert_eq!(blocks_in(partial), b, "records {partial}");
            }
        }
    }
    assert_eq!(position(1, 256), Some(257));
    assert_eq!(position(2, 0), Some(256));
}

#[test]
fn subtrees_and_proofs_read_from_tiles_match_the_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3 * 256 + 17;
    let (path, tree_path, digest, leaves) = ledger(dir.path(), n);
    for with_tree in [true, false] {
        if !with_tree {
            std::fs::remove_file(&tree_path).unwrap();
        }
        let mut r = TreeReader::open(&path, HEADER_LEN as u64, &digest, &tree_path).unwrap();
        assert_eq!(r.blocks(), if with_tree { 3 } else { 0 });
        for (lo, hi) in [(0, n), (0, 256), (256, 512), (0, 512), (512, 785), (3, 9), (700, 785), (0, 1), (784, 785)] {
            assert_eq!(r.subtree(lo, hi).unwrap(), root_of(&leaves[lo as usize..hi as usize]), "{lo}..{hi}");
        }
        for size in [1, 2, 255, 256, 257, 600, n] {
            let root = root_of(&leaves[..size as usize]);
            assert_eq!(r.root(size).unwrap(), root);
            for index in [0, size / 2, size - 1] {
                let proof = r.inclusion_proof(index, size).unwrap();
                verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
            }
            for old in [1, size / 3 + 1, size] {
                let proof = r.consistency_proof(old, size).unwrap();
                verify_consistency(old, size, &root_of(&leaves[..old as usize]), &root, &proof).unwrap();
            }
        }
        assert!(matches!(r.root(n + 1), Err(TreeError::Ledger { seq, .. }) if seq == n + 1));
    }
}

#[test]
fn a_builder_resumed_from_the_tree_file_goes_on_like_one_that_never_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let n = 65_536 + 2 * 256 + 40;
    let (path, tree_path, digest, leaves) = ledger(dir.path(), n);
    let mut r = TreeReader::open(&path, HEADER_LEN as u64, &digest, &tree_path).unwrap();
    assert_eq!(r.blocks(), n / 256);
    let (b, next) = r.builder().unwrap();
    assert_eq!(b.size(), (n / 256) * 256);
    assert_eq!(b.root(), root_of(&leaves[..b.size() as usize]));
    // The next offset is where entry size + 1 starts.
    let mut seqs = Vec::new();
    r.entries(b.size(), 1, |seq, _| seqs.push(seq)).unwrap();
    assert_eq!(seqs, vec![b.size() + 1]);
    let bytes = std::fs::read(&path).unwrap();
    let body_len = u32::from_le_bytes(bytes[next as usize..next as usize + 4].try_into().unwrap()) as usize;
    let raw = RawBody::parse(&bytes[next as usize + 4..next as usize + 4 + body_len]).unwrap();
    assert_eq!(raw.seq, b.size() + 1);
    // Deep proofs come from the height-16 record.
    let size = n;
    let root = root_of(&leaves);
    for index in [0, 65_535, 65_536, n - 1] {
        let proof = r.inclusion_proof(index, size).unwrap();
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
    }
}

#[test]
fn a_tree_file_of_another_ledger_or_with_a_torn_end_is_not_used_beyond_what_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2 * 256 + 1;
    let (path, tree_path, digest, leaves) = ledger(dir.path(), n);
    let mut bytes = std::fs::read(&tree_path).unwrap();
    bytes.truncate(bytes.len() - 7);
    std::fs::write(&tree_path, &bytes).unwrap();
    let mut r = TreeReader::open(&path, HEADER_LEN as u64, &digest, &tree_path).unwrap();
    assert_eq!(r.blocks(), 1);
    assert_eq!(r.root(n).unwrap(), root_of(&leaves));
    let mut r = TreeReader::open(&path, HEADER_LEN as u64, &[9; 32], &tree_path).unwrap();
    assert_eq!(r.blocks(), 0);
    assert_eq!(r.root(n).unwrap(), root_of(&leaves));
}
