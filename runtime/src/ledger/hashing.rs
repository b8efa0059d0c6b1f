//! SHA-256 and HMAC-SHA256 as the ledger computes them, directly on `sha2`'s compression
//! function: bodies are hashed where they lie (whole blocks straight from the buffer or the
//! file, only the padded last block or two copied), the key's HMAC inner and outer states
//! are computed once per key (RFC 2104: an entry MAC then costs exactly two compressions,
//! one per state), and verification hashes two records at a time, alternating their
//! compression calls so that the CPU overlaps the two independent dependency chains (one
//! SHA-NI compression is latency-bound; two interleaved ones take ~20% less time each).
//!
//! The results are standard SHA-256 and HMAC-SHA256; tests compare them with the `sha2`
//! and `hmac` crates.

use std::slice;

use sha2::block_api::compress256;

/// A SHA-256 chaining state.
type State = [u32; 8];
/// A SHA-256 input block.
type Block = [u8; 64];

/// Length of a SHA-256 digest, and of the 32-byte messages the entry MAC's fast path takes.
pub(crate) const DIGEST_LEN: usize = 32;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: State = [0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19];

/// The block size, which is also HMAC's key block size for SHA-256.
const BLOCK_LEN: usize = 64;

/// Padding after a 32-byte message that follows one block (an HMAC key block): `0x80`, zeros,
/// and the bit length of 96 bytes, 768, big-endian. Both HMAC compressions of a 32-byte
/// message use it: the inner hashes key block + message, the outer key block + inner digest.
const PAD_AFTER_32: [u8; 32] = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x00];

fn compress(state: &mut State, block: &Block) {
    compress256(state, slice::from_ref(block));
}

fn digest_of(state: &State) -> [u8; DIGEST_LEN] {
    let mut out = [0u8; DIGEST_LEN];
    for (dst, word) in out.chunks_exact_mut(4).zip(state) {
        dst.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The one or two padded blocks that end a message of `total` bytes, of which `rest`
/// (shorter than a block) are not compressed yet.
struct Tail {
    bytes: [u8; 2 * BLOCK_LEN],
    blocks: usize,
}

impl Tail {
    fn new(rest: &[u8], total: usize) -> Tail {
        let mut bytes = [0u8; 2 * BLOCK_LEN];
        if let Some(dst) = bytes.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        if let Some(b) = bytes.get_mut(rest.len()) {
            *b = 0x80;
        }
        let blocks = if rest.len() < BLOCK_LEN - 8 { 1 } else { 2 };
        let end = blocks * BLOCK_LEN;
        let bits = (total as u64).wrapping_mul(8);
        if let Some(dst) = bytes.get_mut(end - 8..end) {
            dst.copy_from_slice(&bits.to_be_bytes());
        }
        Tail { bytes, blocks }
    }

    fn blocks(&self) -> &[Block] {
        self.bytes.as_chunks::<BLOCK_LEN>().0.get(..self.blocks).unwrap_or_default()
    }
}

/// SHA-256 of `message`.
pub(crate) fn sha256(message: &[u8]) -> [u8; DIGEST_LEN] {
    let (whole, rest) = message.as_chunks::<BLOCK_LEN>();
    let mut state = IV;
    compress256(&mut state, whole);
    compress256(&mut state, Tail::new(rest, message.len()).blocks());
    digest_of(&state)
}

/// SHA-256 of two messages, their compressions interleaved.
pub(crate) fn sha256_pair(a: &[u8], b: &[u8]) -> ([u8; DIGEST_LEN], [u8; DIGEST_LEN]) {
    let (whole_a, rest_a) = a.as_chunks::<BLOCK_LEN>();
    let (whole_b, rest_b) = b.as_chunks::<BLOCK_LEN>();
    let (tail_a, tail_b) = (Tail::new(rest_a, a.len()), Tail::new(rest_b, b.len()));
    let mut blocks_a = whole_a.iter().chain(tail_a.blocks());
    let mut blocks_b = whole_b.iter().chain(tail_b.blocks());
    let (mut sa, mut sb) = (IV, IV);
    loop {
        match (blocks_a.next(), blocks_b.next()) {
            (Some(x), Some(y)) => {
                compress(&mut sa, x);
                compress(&mut sb, y);
            }
            (Some(x), None) => compress(&mut sa, x),
            (None, Some(y)) => compress(&mut sb, y),
            (None, None) => break,
        }
    }
    (digest_of(&sa), digest_of(&sb))
}

/// The block of a 32-byte message that follows a key block.
fn block_of(message: &[u8; DIGEST_LEN]) -> Block {
    let mut block = [0u8; BLOCK_LEN];
    let (head, pad) = block.split_at_mut(DIGEST_LEN);
    head.copy_from_slice(message);
    pad.copy_from_slice(&PAD_AFTER_32);
    block
}

/// An HMAC-SHA256 key as its two precomputed states: SHA-256 after the key block XOR ipad
/// (inner) and after the key block XOR opad (outer). They stand for the key: whoever has them
/// can compute MACs, so they are as secret as the key itself.
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: State,
    outer: State,
}

impl HmacKey {
    /// The states of `key` (keys longer than a block are hashed first, as RFC 2104 says).
    pub(crate) fn new(key: &[u8]) -> HmacKey {
        let mut block = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            let (head, _) = block.split_at_mut(DIGEST_LEN);
            head.copy_from_slice(&sha256(key));
        } else if let Some(dst) = block.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let (mut inner, mut outer) = (IV, IV);
        compress(&mut inner, &block.map(|b| b ^ 0x36));
        compress(&mut outer, &block.map(|b| b ^ 0x5c));
        HmacKey { inner, outer }
    }

    /// HMAC-SHA256 of a 32-byte message: two compressions.
    pub(crate) fn mac32(&self, message: &[u8; DIGEST_LEN]) -> [u8; DIGEST_LEN] {
        let mut inner = self.inner;
        compress(&mut inner, &block_of(message));
        let mut outer = self.outer;
        compress(&mut outer, &block_of(&digest_of(&inner)));
        digest_of(&outer)
    }

    /// HMAC-SHA256 of two 32-byte messages, their compressions interleaved.
    pub(crate) fn mac32_pair(&self, a: &[u8; DIGEST_LEN], b: &[u8; DIGEST_LEN]) -> ([u8; DIGEST_LEN], [u8; DIGEST_LEN]) {
        let (mut ia, mut ib) = (self.inner, self.inner);
        compress(&mut ia, &block_of(a));
        compress(&mut ib, &block_of(b));
        let (mut oa, mut ob) = (self.outer, self.outer);
        compress(&mut oa, &block_of(&digest_of(&ia)));
        compress(&mut ob, &block_of(&digest_of(&ib)));
        (digest_of(&oa), digest_of(&ob))
    }
}

/// SHA-256 of `message` and, interleaved with its first two compressions, the HMAC of a
/// 32-byte message `mac_of` (appending hashes an entry while it MACs the entry before).
pub(crate) fn sha256_and_mac32(message: &[u8], key: &HmacKey, mac_of: &[u8; DIGEST_LEN]) -> ([u8; DIGEST_LEN], [u8; DIGEST_LEN]) {
    let (whole, rest) = message.as_chunks::<BLOCK_LEN>();
    let tail = Tail::new(rest, message.len());
    let mut blocks = whole.iter().chain(tail.blocks());
    let mut state = IV;
    let mut inner = key.inner;
    if let Some(b) = blocks.next() {
        compress(&mut state, b);
    }
    compress(&mut inner, &block_of(mac_of));
    let mut outer = key.outer;
    if let Some(b) = blocks.next() {
        compress(&mut state, b);
    }
    compress(&mut outer, &block_of(&digest_of(&inner)));
    for b in blocks {
        compress(&mut state, b);
    }
    (digest_of(&state), digest_of(&outer))
}

/// The blocks of `prefix || message` (a one-byte domain prefix, as RFC 6962 leaves and nodes
/// take): the first block is the prefix and the message's first 63 bytes, copied; after it the
/// message is block-aligned again and hashed where it lies.
struct Prefixed<'a> {
    first: Block,
    has_first: bool,
    whole: &'a [Block],
    tail: Tail,
}

impl<'a> Prefixed<'a> {
    fn new(prefix: u8, message: &'a [u8]) -> Prefixed<'a> {
        let total = message.len() + 1;
        let mut first = [0u8; BLOCK_LEN];
        if let Some(b) = first.first_mut() {
            *b = prefix;
        }
        match message.split_at_checked(BLOCK_LEN - 1) {
            Some((head, after)) => {
                if let Some(dst) = first.get_mut(1..) {
                    dst.copy_from_slice(head);
                }
                let (whole, rest) = after.as_chunks::<BLOCK_LEN>();
                Prefixed { first, has_first: true, whole, tail: Tail::new(rest, total) }
            }
            None => {
                if let Some(dst) = first.get_mut(1..total) {
                    dst.copy_from_slice(message);
                }
                Prefixed { first, has_first: false, whole: &[], tail: Tail::new(first.get(..total).unwrap_or_default(), total) }
            }
        }
    }

    fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.has_first.then_some(&self.first).into_iter().chain(self.whole.iter()).chain(self.tail.blocks())
    }
}

/// SHA-256 of `prefix || message`.
pub(crate) fn sha256_prefixed(prefix: u8, message: &[u8]) -> [u8; DIGEST_LEN] {
    let mut state = IV;
    for b in Prefixed::new(prefix, message).blocks() {
        compress(&mut state, b);
    }
    digest_of(&state)
}

/// SHA-256 of `prefix || a` and of `prefix || b`, their compressions interleaved.
pub(crate) fn sha256_prefixed_pair(prefix: u8, a: &[u8], b: &[u8]) -> ([u8; DIGEST_LEN], [u8; DIGEST_LEN]) {
    let (pa, pb) = (Prefixed::new(prefix, a), Prefixed::new(prefix, b));
    let (mut blocks_a, mut blocks_b) = (pa.blocks(), pb.blocks());
    let (mut sa, mut sb) = (IV, IV);
    loop {
        match (blocks_a.next(), blocks_b.next()) {
            (Some(x), Some(y)) => {
                compress(&mut sa, x);
                compress(&mut sb, y);
            }
            (Some(x), None) => compress(&mut sa, x),
            (None, Some(y)) => compress(&mut sb, y),
            (None, None) => break,
        }
    }
    (digest_of(&sa), digest_of(&sb))
}

/// The two blocks of `prefix || left || right` for two 32-byte hashes (65 bytes): the prefix,
/// `left` and the first 31 bytes of `right`; then `right`'s last byte, `0x80`, zeros and the
/// bit length, 520, big-endian.
fn two_blocks(prefix: u8, left: &[u8; DIGEST_LEN], right: &[u8; DIGEST_LEN]) -> [Block; 2] {
    let mut first = [0u8; BLOCK_LEN];
    let mut second = [0u8; BLOCK_LEN];
    let (p, rest) = first.split_at_mut(1);
    let (l, r) = rest.split_at_mut(DIGEST_LEN);
    p.copy_from_slice(&[prefix]);
    l.copy_from_slice(left);
    let (head, last) = right.split_at(DIGEST_LEN - 1);
    r.copy_from_slice(head);
    let (start, _) = second.split_at_mut(2);
    start.copy_from_slice(&[last.first().copied().unwrap_or(0), 0x80]);
    let (_, bits) = second.split_at_mut(BLOCK_LEN - 2);
    bits.copy_from_slice(&520u16.to_be_bytes());
    [first, second]
}

/// SHA-256 of `prefix || left || right` for two 32-byte hashes (an RFC 6962 interior node):
/// exactly two compressions, on blocks built in place.
pub(crate) fn sha256_prefixed_two(prefix: u8, left: &[u8; DIGEST_LEN], right: &[u8; DIGEST_LEN]) -> [u8; DIGEST_LEN] {
    let [x, y] = two_blocks(prefix, left, right);
    let mut state = IV;
    compress(&mut state, &x);
    compress(&mut state, &y);
    digest_of(&state)
}

/// [`sha256_prefixed_two`] of two pairs of hashes, their compressions interleaved.
pub(crate) fn sha256_prefixed_two_pair(
    prefix: u8,
    a: (&[u8; DIGEST_LEN], &[u8; DIGEST_LEN]),
    b: (&[u8; DIGEST_LEN], &[u8; DIGEST_LEN]),
) -> ([u8; DIGEST_LEN], [u8; DIGEST_LEN]) {
    let [a1, a2] = two_blocks(prefix, a.0, a.1);
    let [b1, b2] = two_blocks(prefix, b.0, b.1);
    let (mut sa, mut sb) = (IV, IV);
    compress(&mut sa, &a1);
    compress(&mut sb, &b1);
    compress(&mut sa, &a2);
    compress(&mut sb, &b2);
    (digest_of(&sa), digest_of(&sb))
}

/// Whether two MACs are equal, in time that does not depend on where they differ (the
/// comparison `hmac`'s `verify_slice` uses).
pub(crate) fn ct_eq(a: &[u8; DIGEST_LEN], b: &[u8; DIGEST_LEN]) -> bool {
    use hmac::digest::{CtOutput, Output};
    CtOutput::<sha2::Sha256>::new(Output::<sha2::Sha256>::from(*a)) == CtOutput::new(Output::<sha2::Sha256>::from(*b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn prefixed_sha256_is_sha2s_of_the_prefixed_message_for_every_length() {
        for n in 0..300 {
            let (a, b) = (bytes(n, 1), bytes(300 - n, 2));
            let expect = |m: &[u8]| -> [u8; 32] { Sha256::new().chain_update([0u8]).chain_update(m).finalize().into() };
            assert_eq!(sha256_prefixed(0, &a), expect(&a), "length {n}");
            assert_eq!(sha256_prefixed_pair(0, &a, &b), (expect(&a), expect(&b)), "lengths {n}, {}", 300 - n);
        }
        let (l, r) = ([3u8; 32], [4u8; 32]);
        let expect: [u8; 32] = Sha256::new().chain_update([1u8]).chain_update(l).chain_update(r).finalize().into();
        assert_eq!(sha256_prefixed_two(1, &l, &r), expect);
        assert_eq!(sha256_prefixed_two_pair(1, (&l, &r), (&r, &l)), (expect, sha256_prefixed_two(1, &r, &l)));
        for seed in 0..8u8 {
            let (l, r): ([u8; 32], [u8; 32]) = (bytes(32, seed).try_into().unwrap(), bytes(32, seed + 50).try_into().unwrap());
            let want = |p: u8, l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
                Sha256::new().chain_update([p]).chain_update(l).chain_update(r).finalize().into()
            };
            assert_eq!(sha256_prefixed_two(seed, &l, &r), want(seed, &l, &r), "seed {seed}");
            assert_eq!(sha256_prefixed_two_pair(1, (&l, &r), (&r, &l)), (want(1, &l, &r), want(1, &r, &l)), "seed {seed}");
        }
    }

    #[test]
    fn sha256_is_sha2s_for_every_length_around_the_block_boundaries() {
        for n in 0..=300 {
            let m = bytes(n, 7);
            let want: [u8; 32] = Sha256::digest(&m).into();
            assert_eq!(sha256(&m), want, "length {n}");
            let other = bytes(300 - n, 9);
            let (a, b) = sha256_pair(&m, &other);
            assert_eq!(a, want, "pair, length {n}");
            assert_eq!(b, <[u8; 32]>::from(Sha256::digest(&other)), "pair, length {}", 300 - n);
        }
    }

    #[test]
    fn hmac_of_32_bytes_is_the_hmac_crates_for_short_block_sized_and_long_keys() {
        for key_len in [1, 32, 63, 64, 65, 100, 1024] {
            let key = bytes(key_len, 3);
            let k = HmacKey::new(&key);
            for seed in 0..4 {
                let msg: [u8; 32] = bytes(32, seed).try_into().unwrap();
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
                m.update(&msg);
                let want: [u8; 32] = m.finalize().into_bytes().into();
                assert_eq!(k.mac32(&msg), want, "key length {key_len}");
                let other: [u8; 32] = bytes(32, seed + 100).try_into().unwrap();
                assert_eq!(k.mac32_pair(&msg, &other), (want, k.mac32(&other)));
                for n in [0, 55, 56, 64, 140, 300] {
                    let body = bytes(n, seed);
                    assert_eq!(sha256_and_mac32(&body, &k, &msg), (sha256(&body), want), "key length {key_len}, body {n}");
                }
            }
        }
    }

    #[test]
    fn macs_compare_equal_only_when_every_byte_is() {
        let a = [5u8; 32];
        assert!(ct_eq(&a, &a));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 1;
            assert!(!ct_eq(&a, &b), "byte {i}");
        }
    }
}
