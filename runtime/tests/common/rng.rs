//! splitmix64: a small deterministic generator for the runtime's tests and benches, so that
//! a randomized trace or state is the same on every run and every machine. A test crate
//! includes it with `#[path = "common/rng.rs"] mod rng;` and may add its own methods.
#![allow(dead_code, reason = "each test crate uses some of the methods")]

/// A splitmix64 stream from a seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// In [0, n) (with the negligible modulo bias of n ≪ 2⁶⁴).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index in [0, n) (0 when n is 0).
    pub fn index(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
