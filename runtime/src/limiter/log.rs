//! The admission log of one key: the times of its most recent admissions, at most `limit`.

/// What the log says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Admitted; its time was recorded.
    Admitted,
    /// Refused: the window already holds `limit` admissions. The oldest of them leaves the
    /// window `retry_after_nanos` from now.
    Rejected {
        /// Nanoseconds until a request would be admitted.
        retry_after_nanos: u64,
    },
}

/// The last (up to) `limit` admission times of one key: a ring, oldest at `head`.
///
/// Memory grows with use: a key admitted `n` times holds `min(n, limit)` times (8 bytes
/// each; the ring doubles as it fills, up to exactly `limit`). Once full, an admission
/// overwrites the oldest time in place, and the oldest time is also kept beside the ring, so
/// that a rejection (the common case of a key over its limit) reads nothing but the entry.
/// 32 bytes, so that a `u64` key's whole entry fits one cache line.
#[derive(Debug)]
pub(super) struct AdmitLog {
    // INVARIANT: `times[(head + i) % times.len()]` for `i < len` are the admission times,
    // oldest first, non-decreasing (the shard's clock never goes backwards);
    // `1 <= len <= limit <= u32::MAX`; when `len == limit`, `times.len() == limit` and
    // `oldest == times[head]`.
    times: Box<[u64]>,
    head: u32,
    len: u32,
    oldest: u64,
}

impl AdmitLog {
    /// A log whose only admission is at `now`.
    pub(super) fn first(now: u64, limit: usize) -> AdmitLog {
        let mut times = vec![0; limit.min(2)].into_boxed_slice();
        if let Some(t) = times.first_mut() {
            *t = now;
        }
        AdmitLog { times, head: 0, len: 1, oldest: now }
    }

    /// The time of the key's most recent admission, which eviction measures idleness from.
    pub(super) fn newest(&self) -> u64 {
        let (head, len, cap) = (self.head as usize, self.len as usize, self.times.len().max(1));
        self.times.get((head + len + cap - 1) % cap).copied().unwrap_or(self.oldest)
    }

    /// The oldest of the last `limit` admissions, when the log holds `limit` (read beside the
    /// ring: no slot is touched).
    #[inline]
    pub(super) fn full_since(&self, limit: usize) -> Option<u64> {
        (self.len as usize == limit).then_some(self.oldest)
    }

    /// Decides a request at `now` and records it when admitted.
    ///
    /// Admitted iff fewer than `limit` admissions lie in `(now - window, now]`. The log holds
    /// the last `limit` admissions, so that count is `limit` exactly when the log is full and
    /// its oldest time is still inside, that is `now - oldest < window`: O(1).
    #[inline]
    pub(super) fn decide(&mut self, now: u64, limit: usize, window: u64) -> Verdict {
        let (head, len) = (self.head as usize, self.len as usize);
        if len < limit {
            if len == self.times.len() {
                self.grow(limit);
            }
            let cap = self.times.len();
            if let Some(slot) = self.times.get_mut((self.head as usize + len) % cap) {
                *slot = now;
            }
            // `len < limit <= u32::MAX`.
            self.len += 1;
            if self.len as usize == limit {
                self.oldest = self.times.get(self.head as usize).copied().unwrap_or(now);
            }
            return Verdict::Admitted;
        }
        if now.saturating_sub(self.oldest) < window {
            return Verdict::Rejected { retry_after_nanos: self.oldest.saturating_add(window).saturating_sub(now) };
        }
        // Full: the new time replaces the oldest, and the next one becomes the oldest.
        let cap = self.times.len();
        if let Some(slot) = self.times.get_mut(head) {
            *slot = now;
        }
        let next = (head + 1) % cap;
        // `next < cap == limit <= u32::MAX`.
        self.head = u32::try_from(next).unwrap_or(0);
        self.oldest = self.times.get(next).copied().unwrap_or(now);
        Verdict::Admitted
    }

    /// Doubles the ring (up to `limit`), unrolled so that the oldest time comes first.
    #[cold]
    fn grow(&mut self, limit: usize) {
        let cap = self.times.len();
        let mut times = vec![0; (cap * 2).clamp(2, limit)];
        for (i, t) in times.iter_mut().take(self.len as usize).enumerate() {
            *t = self.times.get((self.head as usize + i) % cap.max(1)).copied().unwrap_or(0);
        }
        self.times = times.into_boxed_slice();
        self.head = 0;
    }

    /// Bytes of the ring's allocation: 8 per slot, grown to at most `limit` slots.
    pub(super) fn heap_bytes(&self) -> usize {
        self.times.len() * size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_log_admits_limit_requests_then_waits_for_the_oldest_to_leave_the_window() {
        let mut log = AdmitLog::first(0, 3);
        assert_eq!(log.decide(1, 3, 10), Verdict::Admitted);
        assert_eq!(log.decide(2, 3, 10), Verdict::Admitted);
        assert_eq!(log.decide(9, 3, 10), Verdict::Rejected { retry_after_nanos: 1 });
        // At exactly `oldest + window` the oldest admission no longer counts.
        assert_eq!(log.decide(10, 3, 10), Verdict::Admitted);
        assert_eq!(log.decide(10, 3, 10), Verdict::Rejected { retry_after_nanos: 1 });
        assert_eq!(log.decide(11, 3, 10), Verdict::Admitted);
        assert_eq!(log.decide(12, 3, 10), Verdict::Admitted);
        assert_eq!(log.decide(19, 3, 10), Verdict::Rejected { retry_after_nanos: 1 });
        assert_eq!(log.newest(), 12);
    }

    #[test]
    fn the_ring_grows_to_exactly_the_limit_and_keeps_the_last_limit_times() {
        for limit in [1usize, 2, 3, 5, 8, 100] {
            let mut log = AdmitLog::first(0, limit);
            let mut admitted = vec![0u64];
            for t in 1..2_000u64 {
                if log.decide(t * 7, limit, 50) == Verdict::Admitted {
                    admitted.push(t * 7);
                }
                assert!(log.len as usize <= limit);
                assert_eq!(log.newest(), *admitted.last().unwrap(), "limit {limit} at {t}");
            }
            assert_eq!(log.heap_bytes(), limit * 8, "limit {limit}");
            let kept: Vec<u64> = (0..log.len as usize).map(|i| log.times[(log.head as usize + i) % log.times.len()]).collect();
            assert_eq!(kept, admitted[admitted.len() - limit..], "limit {limit}");
        }
    }
}
