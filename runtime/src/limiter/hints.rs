//! Rejections without the shard's lock, for keys of an integer type.
//!
//! A key over its limit is refused again and again until its oldest admission leaves the
//! window: the common decision of a limiter under pressure. Each such refusal used to take its
//! shard's mutex (two atomic read-modify-writes, and the shard's cache line moving between
//! cores when two threads decide on one shard). When a locked decision leaves a key's log
//! full, the shard publishes a *hint* for it: "this key has `R` admissions at times in
//! `[oldest, newest]`". A later request of the key at a reading `t` with
//! `newest <= t < oldest + τ` is refused by reading the hint alone: those `R` admissions all
//! lie in `(t − τ, t]`, so the exact sliding window refuses it too. An admission never
//! un-happens, so a hint is never wrong about its key, however stale: a stale hint only
//! misses more often (and the request takes the locked path, which decides as before and
//! publishes a newer hint). The rejection is counted in a stripe of counters that each thread
//! mostly has for itself, so a refusal writes no line that another core is reading.
//!
//! The hint names its key by the key's own bits, not by a hash: two keys never share a hint,
//! so the limiter stays exact. That is why this path exists only for keys of an integer type
//! (`u64`, `i32`, …, whose `Hash` writes the value once; the macro's limit sites key by a
//! 64-bit digest of the request's attributes); other key types take the locked path always.
//!
//! Hints live in a table of two-slot buckets (64 bytes, one cache line), indexed by a
//! multiply-shift of the key with per-limiter random constants; a slot is a seqlock over
//! atomics (a reader that sees the sequence change, or odd, treats it as a miss). Keys that
//! collide in a bucket take turns: the cost of a collision is the locked path, never a wrong
//! decision.

use std::any::TypeId;
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

/// The integer key types whose `Hash` writes exactly one integer, so that its bits are the key.
pub(super) fn integer_key<K: 'static>() -> bool {
    [
        TypeId::of::<u64>(),
        TypeId::of::<i64>(),
        TypeId::of::<u32>(),
        TypeId::of::<i32>(),
        TypeId::of::<u16>(),
        TypeId::of::<i16>(),
        TypeId::of::<u8>(),
        TypeId::of::<i8>(),
        TypeId::of::<usize>(),
        TypeId::of::<isize>(),
    ]
    .contains(&TypeId::of::<K>())
}

/// A `Hasher` that keeps the one integer a key's `Hash` writes: `Some(bits)` when exactly one
/// integer of at most 64 bits was written, `None` otherwise (then the key takes the locked path).
#[derive(Debug, Default)]
pub(super) struct KeyBits {
    bits: Option<u64>,
    writes: u32,
}

impl KeyBits {
    /// The key's bits, when it wrote exactly one integer.
    #[inline]
    pub(super) fn get(&self) -> Option<u64> {
        if self.writes == 1 { self.bits } else { None }
    }

    #[inline]
    fn record(&mut self, bits: u64) {
        self.bits = Some(bits);
        self.writes += 1;
    }
}

impl Hasher for KeyBits {
    fn finish(&self) -> u64 {
        self.bits.unwrap_or(0)
    }

    fn write(&mut self, _bytes: &[u8]) {
        // Not one integer: never a hint.
        self.bits = None;
        self.writes += 2;
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.record(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.record(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.record(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.record(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.record(i as u64);
    }
    #[inline]
    fn write_i8(&mut self, i: i8) {
        self.record(i64::from(i) as u64);
    }
    #[inline]
    fn write_i16(&mut self, i: i16) {
        self.record(i64::from(i) as u64);
    }
    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.record(i64::from(i) as u64);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.record(i as u64);
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.record(i as u64);
    }
}

/// One hint: a seqlock over the key's bits and the span of its full log. `until == 0` is an
/// empty slot (no reading is below 0).
#[derive(Debug, Default)]
struct Slot {
    // INVARIANT: odd while a writer is changing the other fields; a reader that reads the same
    // even value before and after reading them read one writer's values.
    seq: AtomicU64,
    key: AtomicU64,
    /// The newest of the `R` admissions.
    from: AtomicU64,
    /// The oldest of the `R` admissions plus the window: when the first of them stops counting.
    until: AtomicU64,
}

/// Two slots: one cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Bucket([Slot; 2]);

/// What a hint says about a request at a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    /// Nanoseconds until the oldest of the key's `R` admissions leaves the window.
    pub(super) retry_after_nanos: u64,
}

/// The hints of one limiter.
#[derive(Debug)]
pub(super) struct Hints {
    buckets: Box<[Bucket]>,
    /// `64 - log2(buckets.len())`.
    shift: u32,
    seed: u64,
    multiplier: u64,
}

impl Hints {
    /// A table for a limiter that tracks up to `max_keys` keys: a bucket per key up to 8192
    /// buckets (512 KiB), at least 32.
    pub(super) fn new(max_keys: u64) -> Hints {
        let count = usize::try_from(max_keys).unwrap_or(usize::MAX).clamp(32, 8192).next_power_of_two();
        let random = std::collections::hash_map::RandomState::new();
        let seed = random.hash_one(0x5eed_u64);
        let multiplier = random.hash_one(0x6d75_6c74_u64) | 1;
        Hints { buckets: (0..count).map(|_| Bucket::default()).collect(), shift: 64 - count.trailing_zeros(), seed, multiplier }
    }

    #[inline]
    fn bucket(&self, key: u64) -> &Bucket {
        let index = ((key ^ self.seed).wrapping_mul(self.multiplier) >> self.shift) as usize;
        #[expect(clippy::indexing_slicing, reason = "the index has log2(len) bits")]
        &self.buckets[index]
    }

    /// Whether a hint refuses a request of `key` at `reading`: `R` admissions of the key lie in
    /// `[from, until - τ]` with `from <= reading < until`.
    #[inline]
    pub(super) fn refuses(&self, key: u64, reading: u64) -> Option<Refusal> {
        for slot in &self.bucket(key).0 {
            let seq = slot.seq.load(Ordering::Acquire);
            let (k, from, until) =
                (slot.key.load(Ordering::Relaxed), slot.from.load(Ordering::Relaxed), slot.until.load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if seq & 1 == 1 || slot.seq.load(Ordering::Relaxed) != seq {
                // A writer is (or was) changing it: not a hint now.
                continue;
            }
            if k == key && from <= reading && reading < until {
                return Some(Refusal { retry_after_nanos: until - reading });
            }
        }
        None
    }

    /// Publishes "`key` has `R` admissions from `oldest` to `now`": called under the key's shard
    /// lock when a decision at `now` leaves its log full (every admission so far is at or before
    /// `now`). Takes the key's own slot, else an expired or empty one, else the second; gives up
    /// (a hint is optional) when another shard is writing the bucket at the same moment.
    pub(super) fn publish(&self, key: u64, oldest: u64, now: u64, window: u64) {
        let until = oldest.saturating_add(window);
        let bucket = self.bucket(key);
        let [a, b] = &bucket.0;
        let pick = |s: &Slot| s.key.load(Ordering::Relaxed) == key && s.until.load(Ordering::Relaxed) != 0;
        let slot = if pick(a) {
            a
        } else if pick(b) {
            b
        } else if a.until.load(Ordering::Relaxed) <= now {
            a
        } else {
            b
        };
        let seq = slot.seq.load(Ordering::Relaxed);
        if seq & 1 == 1 || slot.seq.compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        fence(Ordering::Release);
        slot.key.store(key, Ordering::Relaxed);
        slot.from.store(now, Ordering::Relaxed);
        slot.until.store(until, Ordering::Relaxed);
        slot.seq.store(seq + 2, Ordering::Release);
    }

    /// Heap bytes of the table.
    pub(super) fn heap_bytes(&self) -> usize {
        self.buckets.len() * size_of::<Bucket>()
    }
}

/// A counter in stripes on lines of their own: each thread adds to the stripe of its own index
/// (threads take indices in turn), so threads running at once rarely write one line.
pub(super) struct Stripes {
    cells: Box<[super::Padded<AtomicU64>]>,
}

impl std::fmt::Debug for Stripes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripes").field("stripes", &self.cells.len()).field("sum", &self.sum()).finish()
    }
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

impl Stripes {
    /// Twice as many stripes as cores (a power of two, 4 to 64).
    pub(super) fn new(cores: usize) -> Stripes {
        let count = (cores * 2).next_power_of_two().clamp(4, 64);
        Stripes { cells: (0..count).map(|_| super::Padded(AtomicU64::new(0))).collect() }
    }

    /// Adds one in this thread's stripe.
    #[inline]
    pub(super) fn add_one(&self) {
        let mut index = STRIPE.get();
        if index == usize::MAX {
            index = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            STRIPE.set(index);
        }
        #[expect(clippy::indexing_slicing, reason = "masked by len - 1, len a power of two")]
        self.cells[index & (self.cells.len() - 1)].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of the stripes: every `add_one` that returned before the call is in it.
    pub(super) fn sum(&self) -> u64 {
        self.cells.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::hash::Hash;
    use std::sync::Arc;

    fn bits<T: Hash>(value: &T) -> Option<u64> {
        let mut h = KeyBits::default();
        value.hash(&mut h);
        h.get()
    }

    #[test]
    fn integer_keys_are_their_bits_and_nothing_else_is() {
        assert_eq!(bits(&7u64), Some(7));
        assert_eq!(bits(&-1i32), Some(u64::MAX));
        assert_eq!(bits(&3usize), Some(3));
        assert_eq!(bits(&"7"), None);
        assert_eq!(bits(&(1u64, 2u64)), None);
        assert!(integer_key::<u64>() && integer_key::<i8>());
        assert!(!integer_key::<String>() && !integer_key::<(u64, u64)>() && !integer_key::<u128>());
    }

    #[test]
    fn a_hint_refuses_exactly_inside_its_span_and_only_its_key() {
        let h = Hints::new(100);
        assert_eq!(h.refuses(1, 50), None);
        // R admissions from 10 to 40, window 100: refused from 40 (the newest) until 110.
        h.publish(1, 10, 40, 100);
        assert_eq!(h.refuses(1, 39), None, "before the newest admission: not vouched for");
        assert_eq!(h.refuses(1, 40), Some(Refusal { retry_after_nanos: 70 }));
        assert_eq!(h.refuses(1, 109), Some(Refusal { retry_after_nanos: 1 }));
        assert_eq!(h.refuses(1, 110), None, "the oldest left the window");
        assert_eq!(h.refuses(2, 50), None);
        // A newer span replaces the key's own slot.
        h.publish(1, 110, 120, 100);
        assert_eq!(h.refuses(1, 150), Some(Refusal { retry_after_nanos: 60 }));
    }

    #[test]
    fn keys_sharing_a_bucket_take_turns_and_never_answer_for_each_other() {
        let h = Hints::new(32);
        // 32 buckets of two slots; 200 keys must collide.
        for k in 0..200u64 {
            h.publish(k, k, k + 1, 1_000);
        }
        for k in 0..200u64 {
            if let Some(r) = h.refuses(k, k + 1) {
                assert_eq!(r.retry_after_nanos, 999, "key {k} answered with another key's span");
            }
        }
    }

    #[test]
    fn readers_never_see_a_torn_hint() {
        // A writer publishes spans that encode their key (from = key * 3, until = key * 3 + 1000)
        // into 32 buckets for 64 keys, so slots change keys all the time; a reader that got
        // a hint from two writes mixed would see a span of another key.
        let h = Arc::new(Hints::new(32));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let published = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..1u64)
            .map(|w| {
                let (h, stop, published) = (Arc::clone(&h), Arc::clone(&stop), Arc::clone(&published));
                std::thread::spawn(move || {
                    let mut k = w;
                    while !stop.load(Ordering::Relaxed) {
                        k = (k + 1) % 64;
                        h.publish(k, k * 3, k * 3, 1_000);
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let (mut hits, mut rounds) = (0u64, 0u64);
        // Until both sides have done enough work together (however the threads are scheduled).
        while rounds < 5_000_000 || hits < 1_000 || published.load(Ordering::Relaxed) < 100_000 {
            let k = rounds % 64;
            if let Some(r) = h.refuses(k, k * 3) {
                assert_eq!(r.retry_after_nanos, 1_000, "key {k}");
                hits += 1;
            }
            // A reading at the end of the key's own span is refused by no hint of any key.
            assert_eq!(h.refuses(k, k * 3 + 1_000), None, "key {k}");
            rounds += 1;
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }

    #[test]
    fn stripes_count_every_addition_from_every_thread() {
        let s = Arc::new(Stripes::new(2));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || (0..10_000).for_each(|_| s.add_one()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(s.sum(), 80_000);
    }
}
