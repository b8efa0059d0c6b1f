//! One shard of a limiter: a swiss table from key to admission log, and a queue of idle
//! candidates in time order, so that idle keys are found and evicted in O(1) amortized.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;

use super::log::{AdmitLog, Verdict};
use crate::metrics::Totals;

/// The limit, in the units the shard works in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Params {
    /// Most admissions in any window.
    pub(super) limit: usize,
    /// Window length in nanoseconds (> 0).
    pub(super) window: u64,
}

impl Params {
    /// A key's queue record is renewed at most once per this many nanoseconds of activity:
    /// each key has at most three records queued, and an idle key is evicted at most half a
    /// window after it went idle.
    fn requeue_after(self) -> u64 {
        (self.window / 2).max(1)
    }
}

/// The keys a limiter may still take on, shared by its shards; exported as the
/// `pip_rate_limit_keys` gauge. Touched only when a key is added or evicted.
#[derive(Debug)]
pub(super) struct KeyBudget {
    pub(super) tracked: AtomicUsize,
    pub(super) max: usize,
}

impl KeyBudget {
    /// Takes one key from the budget; `false` at the cap.
    fn take(&self) -> bool {
        self.tracked.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1)).is_ok()
    }

    /// Gives back `n` evicted keys.
    pub(super) fn give_back(&self, n: usize) {
        if n > 0 {
            self.tracked.fetch_sub(n, Ordering::AcqRel);
        }
    }
}

/// What a shard decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Admitted; the time is recorded in the key's log and counted as `allowed`.
    Admitted,
    /// Refused: the key's log holds `limit` admissions inside the window; counted as `rejected`.
    Rejected {
        /// Nanoseconds until a request would be admitted.
        retry_after_nanos: u64,
    },
    /// The key is new and the limiter tracks its maximum number of keys.
    NeedsRoom,
}

/// A key and its log. A line of its own (64 bytes for a `u64` key): the one line a
/// rejection reads after the table's control bytes.
#[derive(Debug)]
#[repr(align(64))]
struct Entry<K> {
    key: K,
    hash: u64,
    /// Distinguishes this entry from an earlier one of the same key.
    id: u64,
    /// Time of this entry's latest queue record.
    queued_at: u64,
    log: AdmitLog,
}

/// "Entry `id` (of hash `hash`) was admitted at `at`": a candidate for eviction once `at` is
/// a window old.
#[derive(Debug, Clone, Copy)]
struct Record {
    hash: u64,
    id: u64,
    at: u64,
}

/// One shard. Every method runs under the shard's mutex.
///
/// `repr(C)`, fields in order of use: what every decision reads or writes comes first, so
/// that it shares a cache line (or its 128-byte pair) with the mutex's own state, and a
/// decision on a shard last used by another core moves as few lines as possible.
#[derive(Debug)]
#[repr(C)]
pub(super) struct Shard<K> {
    table: HashTable<Entry<K>>,
    /// The latest time this shard has seen; every decision uses `max(clock, reading)`.
    clock: u64,
    /// After a decision that left its key's log full: the oldest of its `limit` admissions
    /// (all of them at or before the decision's time; what a hint publishes), else `None`.
    full: Option<u64>,
    // INVARIANT: `idle_at == queue.front().map_or(u64::MAX, |r| r.at.saturating_add(window))`:
    // a decision learns whether any key may be idle without reading the queue.
    idle_at: u64,
    /// The decisions this shard took, for the limiter's metrics: counted under the shard's
    /// lock, which the decision holds anyway, so counting shares no cache line between
    /// threads.
    allowed: u64,
    rejected: u64,
    key_cap: u64,
    // INVARIANT: records are in non-decreasing order of `at` (they are pushed at the shard's
    // clock, which never goes backwards), and every entry has a record with
    // `at == entry.queued_at <= its latest admission`. So when the first record is less
    // than a window old, no entry is idle.
    queue: VecDeque<Record>,
    next_id: u64,
}

impl<K> Default for Shard<K> {
    fn default() -> Self {
        Shard {
            table: HashTable::new(),
            clock: 0,
            full: None,
            idle_at: u64::MAX,
            allowed: 0,
            rejected: 0,
            key_cap: 0,
            queue: VecDeque::new(),
            next_id: 0,
        }
    }
}

impl<K> Shard<K> {
    /// Moves the shard's clock to `reading` unless it is already past it; returns the time
    /// to decide at. Readings taken on other threads may arrive out of order: clamping keeps
    /// every admission log sorted.
    pub(super) fn advance(&mut self, reading: u64) -> u64 {
        self.clock = self.clock.max(reading);
        self.clock
    }

    /// Decides one request for `key` at `now` (from [`Shard::advance`]) and counts it when
    /// admitted or rejected; [`Step::NeedsRoom`] is not a decision yet (see
    /// [`Shard::refuse_new_key`]).
    #[inline]
    pub(super) fn decide<Q>(&mut self, hash: u64, key: &Q, now: u64, p: Params, budget: &KeyBudget) -> Step
    where
        K: Borrow<Q>,
        Q: Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.full = None;
        let step = self.step(hash, key, now, p, budget);
        match step {
            Step::Admitted => self.allowed += 1,
            Step::Rejected { .. } => self.rejected += 1,
            Step::NeedsRoom => {}
        }
        step
    }

    /// The oldest admission of the key the last decision was about, when its log holds
    /// `limit` of them (all at or before that decision's time).
    pub(super) fn full_since(&self) -> Option<u64> {
        self.full
    }

    /// Counts a request refused because its key was new and the limiter at its key cap.
    pub(super) fn refuse_new_key(&mut self) {
        self.rejected += 1;
        self.key_cap += 1;
    }

    /// The decisions counted so far (`keys` is left at 0: the budget knows them).
    pub(super) fn counts(&self) -> Totals {
        Totals { allowed: self.allowed, rejected: self.rejected, key_cap: self.key_cap, keys: 0 }
    }

    #[inline]
    fn step<Q>(&mut self, hash: u64, key: &Q, now: u64, p: Params, budget: &KeyBudget) -> Step
    where
        K: Borrow<Q>,
        Q: Eq + ToOwned<Owned = K> + ?Sized,
    {
        // Amortized idle eviction: each decision retires up to two idle keys, so the shard
        // sheds idle keys at least as fast as it takes on new ones.
        if now >= self.idle_at {
            budget.give_back(self.evict_idle(now, p, 2));
        }

        if let Some(entry) = self.table.find_mut(hash, |e| e.key.borrow() == key) {
            let verdict = entry.log.decide(now, p.limit, p.window);
            self.full = entry.log.full_since(p.limit);
            return match verdict {
                Verdict::Admitted => {
                    if now - entry.queued_at >= p.requeue_after() {
                        entry.queued_at = now;
                        let record = Record { hash, id: entry.id, at: now };
                        self.enqueue(record, p.window);
                    }
                    Step::Admitted
                }
                Verdict::Rejected { retry_after_nanos } => Step::Rejected { retry_after_nanos },
            };
        }
        if !budget.take() {
            return Step::NeedsRoom;
        }
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry { key: key.to_owned(), hash, id, queued_at: now, log: AdmitLog::first(now, p.limit) };
        self.table.insert_unique(hash, entry, |e| e.hash);
        self.enqueue(Record { hash, id, at: now }, p.window);
        Step::Admitted
    }

    fn enqueue(&mut self, record: Record, window: u64) {
        if self.queue.is_empty() {
            self.idle_at = record.at.saturating_add(window);
        }
        self.queue.push_back(record);
    }

    /// Evicts up to `max` keys that have been idle for at least a window: none of their
    /// admissions counts any more, so forgetting them changes no decision.
    pub(super) fn evict_idle(&mut self, now: u64, p: Params, max: usize) -> usize {
        let mut evicted = 0;
        while evicted < max {
            let Some(&Record { hash, id, at }) = self.queue.front() else { break };
            if now.saturating_sub(at) < p.window {
                break;
            }
            self.queue.pop_front();
            let Ok(found) = self.table.find_entry(hash, |e| e.id == id) else { continue };
            let entry = found.get();
            if entry.queued_at != at {
                // A later record of this entry is queued.
                continue;
            }
            let newest = entry.log.newest();
            if now.saturating_sub(newest) < p.window {
                // Admitted since this record: queue it again at its latest admission.
                let entry = found.into_mut();
                entry.queued_at = newest;
                // `idle_at` follows the queue's new front after the loop.
                self.queue.push_back(Record { hash, id, at: newest });
            } else {
                found.remove();
                evicted += 1;
            }
        }
        self.idle_at = self.next_idle_at(p.window).unwrap_or(u64::MAX);
        // Give memory back after a flood of keys has gone idle (amortized: a table shrinks
        // only after losing three quarters of its capacity).
        if evicted > 0 && self.table.capacity() > 64 && self.table.len() < self.table.capacity() / 4 {
            self.table.shrink_to(self.table.len() * 2, |e| e.hash);
        }
        if self.queue.capacity() > 64 && self.queue.len() < self.queue.capacity() / 4 {
            self.queue.shrink_to(self.queue.len() * 2);
        }
        evicted
    }

    /// No key goes idle before this time (`None` when the shard is empty).
    pub(super) fn next_idle_at(&self, window: u64) -> Option<u64> {
        self.queue.front().map(|r| r.at.saturating_add(window))
    }

    /// Keys in this shard's table, idle ones not yet evicted included.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Heap bytes held, keys' own heap data excluded.
    pub(super) fn heap_bytes(&self) -> usize {
        let logs: usize = self.table.iter().map(|e| e.log.heap_bytes()).sum();
        self.table.capacity() * (size_of::<Entry<K>>() + 1) + self.queue.capacity() * size_of::<Record>() + logs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn budget(max: usize) -> KeyBudget {
        KeyBudget { tracked: AtomicUsize::new(0), max }
    }

    const P: Params = Params { limit: 2, window: 100 };

    #[test]
    fn idle_keys_leave_the_shard_and_free_their_budget() {
        let b = budget(10);
        let mut s: Shard<u64> = Shard::default();
        for (k, t) in [(1u64, 0u64), (2, 10), (3, 20)] {
            assert_eq!(s.decide(k, &k, t, P, &b), Step::Admitted);
        }
        // Key 1 is admitted again at 60, so key 2 is now the first to go idle.
        assert_eq!(s.decide(1, &1, 60, P, &b), Step::Admitted);
        assert_eq!(s.evict_idle(115, P, usize::MAX), 1);
        b.give_back(1);
        assert_eq!((s.len(), b.tracked.load(Ordering::SeqCst)), (2, 2));
        assert_eq!(s.evict_idle(159, P, usize::MAX), 1, "key 3 is idle, key 1 not yet");
        assert_eq!(s.evict_idle(160, P, usize::MAX), 1);
        assert_eq!(s.len(), 0);
        assert_eq!(s.next_idle_at(100), None);
    }

    #[test]
    fn a_key_in_use_is_never_evicted_and_keeps_at_most_three_records() {
        let b = budget(10);
        let mut s: Shard<u64> = Shard::default();
        let p = Params { limit: 1_000, window: 100 };
        for t in 0..10_000u64 {
            assert_eq!(s.decide(7, &7, t, p, &b), Step::Admitted);
            assert_eq!(s.len(), 1);
            assert!(s.queue.len() <= 3, "{} records at {t}", s.queue.len());
        }
    }

    #[test]
    fn a_key_evicted_and_seen_again_starts_a_fresh_log() {
        let b = budget(1_000);
        let mut s: Shard<u64> = Shard::default();
        for round in 0..5u64 {
            let t = round * 1_000;
            for k in 0..100u64 {
                assert_eq!(s.decide(k, &k, t, P, &b), Step::Admitted);
                assert_eq!(s.decide(k, &k, t, P, &b), Step::Admitted);
                assert!(matches!(s.decide(k, &k, t, P, &b), Step::Rejected { retry_after_nanos: 100 }));
            }
            assert_eq!(s.len(), 100);
        }
    }

    #[test]
    fn a_new_key_at_the_cap_needs_room_and_takes_nothing() {
        let b = budget(1);
        let mut s: Shard<u64> = Shard::default();
        assert_eq!(s.decide(1, &1, 0, P, &b), Step::Admitted);
        assert_eq!(s.decide(2, &2, 1, P, &b), Step::NeedsRoom);
        assert_eq!(s.len(), 1);
        // Once key 1 is idle, the next decision evicts it and key 2 fits.
        assert_eq!(s.decide(2, &2, 100, P, &b), Step::Admitted);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_cached_idle_time_follows_the_queue_and_every_decision_is_counted() {
        let b = budget(20);
        let mut s: Shard<u64> = Shard::default();
        let p = Params { limit: 3, window: 100 };
        let (mut x, mut now) = (7u64, 0u64);
        let (mut admitted, mut rejected, mut refused) = (0, 0, 0);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now = s.advance(now + x % 7);
            let key = x % 40;
            match s.decide(key, &key, now, p, &b) {
                Step::Admitted => admitted += 1,
                Step::Rejected { .. } => rejected += 1,
                Step::NeedsRoom => {
                    s.refuse_new_key();
                    refused += 1;
                }
            }
            if x % 97 == 0 {
                b.give_back(s.evict_idle(now, p, usize::MAX));
            }
            assert_eq!(s.idle_at, s.next_idle_at(p.window).unwrap_or(u64::MAX), "at {now}");
            assert_eq!(b.tracked.load(Ordering::SeqCst), s.len());
        }
        assert!(admitted > 0 && rejected > 0 && refused > 0, "{admitted} {rejected} {refused}");
        let c = s.counts();
        assert_eq!((c.allowed, c.rejected, c.key_cap), (admitted, rejected + refused, refused));
    }

    #[test]
    fn a_u64_key_entry_is_one_cache_line() {
        assert_eq!((size_of::<Entry<u64>>(), align_of::<Entry<u64>>()), (64, 64));
    }
}
