//! Known-answer tests against the RFC 6962 reference vectors of Go's
//! `transparency-dev/merkle` (commit 417fb0c314750d94e53942e9f92e79b6d35915db), the
//! successor of Certificate Transparency's Go and C++ test data: the 8-leaf tree of
//! `testonly/constants.go` and the happy-path proofs of `testdata/inclusion/N/` and
//! `testdata/consistency/N/` (base64 there, hex here).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::*;

/// Decodes a hex string of the vectors.
fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Decodes a 32-byte hash of the vectors.
fn h(s: &str) -> Hash {
    hex(s).try_into().unwrap()
}

/// `testonly.LeafInputs()` in `testonly/constants.go`.
const LEAF_INPUTS: [&str; 8] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

/// `testonly.NodeHashes()[0]`: the leaf hashes of [`LEAF_INPUTS`].
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// `testonly.RootHashes()`: the root of the first `i` leaves, sizes 0 to 8.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// `testonly.CompactTrees()` as indexes into `NodeHashes()` (level, index): the frontier of
/// each size 0 to 8.
const COMPACT_TREES: [&[&str]; 9] = [
    &[],
    &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    ],
    &["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// `testdata/inclusion/{0..4}/happy-path.json`: (leaf index, tree size, proof).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// `testdata/consistency/{0..4}/happy-path.json`: (old size, new size, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn leaves() -> Vec<Hash> {
    LEAF_INPUTS.iter().map(|input| leaf_hash(&hex(input))).collect()
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| h(s)).collect()
}

#[test]
fn leaf_hashes_match_the_reference_tree() {
    assert_eq!(leaves(), hashes(&LEAF_HASHES));
}

#[test]
fn frontier_root_and_nodes_match_the_reference_for_every_size() {
    let mut frontier = Frontier::new();
    for (size, root) in ROOTS.iter().enumerate() {
        if size > 0 {
            frontier.append(leaves()[size - 1]).unwrap();
        }
        assert_eq!(frontier.size(), size as u64);
        assert_eq!(frontier.root(), h(root), "size {size}");
        assert_eq!(frontier.nodes(), hashes(COMPACT_TREES[size]), "size {size}");
    }
    assert_eq!(empty_root(), h(ROOTS[0]));
}

#[test]
fn reference_inclusion_proofs_are_produced_and_verify() {
    let leaves = leaves();
    for (index, size, proof) in INCLUSION {
        let want = hashes(proof);
        assert_eq!(inclusion_proof(index, size, &leaves).unwrap(), want, "leaf {index} of {size}");
        let root = h(ROOTS[size as usize]);
        assert_eq!(verify_inclusion(&leaves[index as usize], index, size, &want, &root), Ok(()));
    }
}

#[test]
fn reference_consistency_proofs_are_produced_and_verify() {
    let leaves = leaves();
    for (old, new, proof) in CONSISTENCY {
        let want = hashes(proof);
        assert_eq!(consistency_proof(old, new, &leaves).unwrap(), want, "{old} to {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        assert_eq!(verify_consistency(old, new, &old_root, &new_root, &want), Ok(()));
    }
}

/// The cases of `testdata/consistency/additional/` that typed 32-byte roots can express.
#[test]
fn reference_consistency_edge_cases_are_rejected_as_upstream() {
    let e = h(ROOTS[0]);
    let other = leaf_hash(b"other");
    // consistency-check-on-empty-tree-size1-is-zero-is-useless, size1-is-zero-and-size2-is-not-zero
    assert_eq!(verify_consistency(0, 1, &e, &e, &[e]), Err(ProofError::EmptyOldTree));
    assert_eq!(verify_consistency(0, 1, &e, &other, &[]), Err(ProofError::EmptyOldTree));
    // sizes-are-equal-zero-*, sizes-match-but-proof-is-not-empty-and-sizes-are-zero
    assert_eq!(verify_consistency(0, 0, &e, &e, &[]), Err(ProofError::EmptyOldTree));
    // size1-is-greater-than-size2(-again)
    assert_eq!(verify_consistency(1, 0, &e, &e, &[]), Err(ProofError::SizesOutOfOrder { old_size: 1, new_size: 0 }));
    assert_eq!(verify_consistency(2, 1, &e, &e, &[]), Err(ProofError::SizesOutOfOrder { old_size: 2, new_size: 1 }));
    // sizes-are-equal-one-and-proof-is-empty, sizes-are-equal-one-but-roots-are-not
    assert_eq!(verify_consistency(1, 1, &other, &other, &[]), Ok(()));
    assert_eq!(verify_consistency(1, 1, &e, &other, &[]), Err(ProofError::NewRootMismatch));
    // sizes-match-but-proof-is-not-empty-and-sizes-are-one
    assert_eq!(verify_consistency(1, 1, &e, &e, &[e]), Err(ProofError::WrongProofLength { expected: 0, actual: 1 }));
    // sizes-do-not-watch-and-proof-is-empty
    assert_eq!(verify_consistency(1, 2, &e, &other, &[]), Err(ProofError::WrongProofLength { expected: 1, actual: 0 }));
}

/// A hash that is in no reference tree, standing in for upstream's empty-slice and
/// `"WrongLeaf"`/`"WrongRoot"` garbage (32-byte hashes cannot be shorter).
const GARBAGE: Hash = [0x5a; HASH_LEN];

/// One upstream probe: description, index or old size, size or new size, two hashes (root
/// and leaf, or old and new root) and the proof.
type Probe = (&'static str, u64, u64, Hash, Hash, Vec<Hash>);

/// Upstream's `invalidInclusionProof` probes (`cmd/proofgen/main.go`) applied to every
/// reference inclusion proof: each must be rejected.
#[test]
fn upstream_inclusion_probes_are_all_rejected() {
    let leaves = leaves();
    for (index, size, proof) in INCLUSION {
        let proof = hashes(proof);
        let root = h(ROOTS[size as usize]);
        let leaf = leaves[index as usize];
        let mut probes: Vec<Probe> = vec![
            ("leafIdx sub @1", index.wrapping_sub(1), size, root, leaf, proof.clone()),
            ("leafIdx plus @1", index + 1, size, root, leaf, proof.clone()),
            ("leafIdx XOR @2", index ^ 2, size, root, leaf, proof.clone()),
            ("treeSize mul @2", index, size * 2, root, leaf, proof.clone()),
            ("treeSize div @2", index, size / 2, root, leaf, proof.clone()),
            ("wrong leaf", index, size, root, GARBAGE, proof.clone()),
            ("empty root", index, size, empty_root(), leaf, proof.clone()),
            ("random root", index, size, GARBAGE, leaf, proof.clone()),
            ("trailing garbage", index, size, root, leaf, [&proof[..], &[GARBAGE]].concat()),
            ("trailing root", index, size, root, leaf, [&proof[..], &[root]].concat()),
            ("preceding garbage", index, size, root, leaf, [&[GARBAGE], &proof[..]].concat()),
            ("preceding root", index, size, root, leaf, [&[root], &proof[..]].concat()),
        ];
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i][0] ^= 8;
            probes.push(("modified proof bit @3", index, size, root, leaf, wrong));
        }
        if let Some((_, rest)) = proof.split_last() {
            probes.push(("removed component", index, size, root, leaf, rest.to_vec()));
        }
        if proof.len() > 1 {
            let inserted = [&[proof[0], GARBAGE], &proof[1..]].concat();
            probes.push(("inserted component", index, size, root, leaf, inserted));
        }
        for (desc, i, s, r, l, p) in probes {
            assert!(verify_inclusion(&l, i, s, &p, &r).is_err(), "{desc} accepted for leaf {index} of {size}");
        }
    }
}

/// Upstream's `invalidConsistencyProof` probes applied to every non-trivial reference
/// consistency proof: each must be rejected.
#[test]
fn upstream_consistency_probes_are_all_rejected() {
    for (old, new, proof) in CONSISTENCY {
        let proof = hashes(proof);
        if proof.is_empty() {
            continue;
        }
        let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        let mut probes: Vec<Probe> = vec![
            ("size1 sub @1", old - 1, new, r1, r2, proof.clone()),
            ("size1 plus @1", old + 1, new, r1, r2, proof.clone()),
            ("size1 XOR @2", old ^ 2, new, r1, r2, proof.clone()),
            ("size2 mul @2", old, new * 2, r1, r2, proof.clone()),
            ("size2 div @2", old, new / 2, r1, r2, proof.clone()),
            ("wrong root1", old, new, GARBAGE, r2, proof.clone()),
            ("wrong root2", old, new, r1, GARBAGE, proof.clone()),
            ("swapped roots", old, new, r2, r1, proof.clone()),
            ("empty proof", old, new, r1, r2, Vec::new()),
            ("trailing garbage", old, new, r1, r2, [&proof[..], &[GARBAGE]].concat()),
            ("trailing root1", old, new, r1, r2, [&proof[..], &[r1]].concat()),
            ("trailing root2", old, new, r1, r2, [&proof[..], &[r2]].concat()),
            ("preceding garbage", old, new, r1, r2, [&[GARBAGE], &proof[..]].concat()),
            ("preceding root1", old, new, r1, r2, [&[r1], &proof[..]].concat()),
            ("preceding root2", old, new, r1, r2, [&[r2], &proof[..]].concat()),
            ("preceding proof @0", old, new, r1, r2, [&[proof[0]], &proof[..]].concat()),
            ("truncated proof", old, new, r1, r2, proof[..proof.len() - 1].to_vec()),
        ];
        for i in 0..proof.len() {
            let mut wrong = proof.clone();
            wrong[i][0] ^= 16;
            probes.push(("modified proof bit @4", old, new, r1, r2, wrong));
        }
        for (desc, s1, s2, a, b, p) in probes {
            assert!(verify_consistency(s1, s2, &a, &b, &p).is_err(), "{desc} accepted for {old} to {new}");
        }
    }
}
