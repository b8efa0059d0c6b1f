//! Ten thousand successive upgrades and rollbacks of a 1 MiB state leave it bit-identical,
//! checked with plain SHA-256 over the bytes (independent of the store's own digests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use pip_runtime::metrics::Metrics;
use pip_runtime::versioned::{StoreConfig, VersionedStore, state_digest};
use sha2::{Digest, Sha256};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const STATE: usize = (1 << 20) + 123;
const OPERATIONS: usize = 10_000;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Plain SHA-256 over the store's bytes, chunk after chunk.
fn state_sha256(store: &VersionedStore) -> [u8; 32] {
    store.state().chunks().fold(Sha256::new(), |h, c| h.chain_update(c)).finalize().into()
}

/// One upgrade: mostly in-place rewrites of up to 64 bytes, sometimes an insertion or a
/// removal (which shift the rest of the state).
fn upgrade(store: &mut VersionedStore, rng: &mut Rng) {
    let len = store.state().len();
    let at = rng.index(len);
    match rng.index(20) {
        0 => {
            let n = 1 + rng.index(32);
            let bytes = rng.bytes(n);
            store.replace(at..at, &bytes).unwrap();
        }
        1 => {
            let end = (at + 1 + rng.index(32)).min(len);
            store.replace(at..end, &[]).unwrap();
        }
        _ => {
            let end = (at + 1 + rng.index(64)).min(len);
            let bytes = rng.bytes(end - at);
            store.replace(at..end, &bytes).unwrap();
        }
    }
}

fn initial() -> Vec<u8> {
    let mut rng = Rng(7);
    rng.bytes(STATE)
}

#[test]
fn ten_thousand_interleaved_upgrades_and_rollbacks_keep_every_version_bit_identical() {
    let start = initial();
    let original = sha256(&start);
    let mut store = VersionedStore::new(StoreConfig::new("payments", "config_store", 10_000), start, &Metrics::default()).unwrap();
    let mut rng = Rng(42);
    // SHA-256 of every version from 0 to the current one.
    let mut expected = vec![original];
    let (mut upgrades, mut rollbacks) = (0, 0);
    for _ in 0..OPERATIONS {
        let dice = rng.index(1_000);
        if dice < 700 || store.version() == 0 {
            upgrade(&mut store, &mut rng);
            expected.push(state_sha256(&store));
            upgrades += 1;
        } else {
            // Mostly one or two versions back, now and then up to 200.
            let back = if dice < 999 { 1 + rng.index(2) } else { 1 + rng.index(200) };
            let target = store.version().saturating_sub(back as u64);
            store.rollback_to(target).unwrap();
            expected.truncate(usize::try_from(target).unwrap() + 1);
            assert_eq!(state_sha256(&store), expected[usize::try_from(target).unwrap()], "after rolling back to {target}");
            rollbacks += 1;
        }
    }
    println!("{upgrades} upgrades, {rollbacks} rollbacks, ended at version {}", store.version());
    assert_eq!(store.digest(), state_digest(&store.state().to_vec()));
    store.rollback_to(0).unwrap();
    assert_eq!(state_sha256(&store), original);
    assert_eq!(store.state(), initial().as_slice());
}

#[test]
fn ten_thousand_upgrades_roll_back_in_one_verified_walk_to_the_original_bytes() {
    let start = initial();
    let original = sha256(&start);
    let mut store = VersionedStore::new(StoreConfig::new("payments", "config_store", 10_000), start, &Metrics::default()).unwrap();
    let mut rng = Rng(43);
    let mut checkpoints = Vec::new();
    for v in 1..=OPERATIONS as u64 {
        upgrade(&mut store, &mut rng);
        if v % 1_000 == 0 {
            checkpoints.push((v, state_sha256(&store)));
        }
    }
    assert_eq!((store.oldest_version(), store.version()), (0, 10_000));
    for &(v, sha) in checkpoints.iter().rev() {
        store.rollback_to(v).unwrap();
        assert_eq!(state_sha256(&store), sha, "version {v}");
    }
    store.rollback_to(0).unwrap();
    assert_eq!(state_sha256(&store), original);
}
