//! Time sources. Production code uses [`SystemClock`]; tests use [`ManualClock`] so that
//! every run sees the same times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: Send + Sync {
    /// Monotonic time in nanoseconds since an arbitrary, fixed origin. Never goes backwards.
    fn monotonic_nanos(&self) -> u64;
    /// Wall-clock time in milliseconds since the Unix epoch (may jump; callers that need
    /// order must enforce it themselves).
    fn unix_millis(&self) -> u64;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        SystemClock { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn unix_millis(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
    unix_origin_millis: u64,
}

impl ManualClock {
    /// A clock at monotonic time zero whose wall clock reads `unix_origin_millis` at zero.
    pub fn new(unix_origin_millis: u64) -> Self {
        ManualClock { nanos: Arc::new(AtomicU64::new(0)), unix_origin_millis }
    }

    /// Moves time forward.
    pub fn advance_nanos(&self, nanos: u64) {
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Moves time forward.
    pub fn advance(&self, d: std::time::Duration) {
        self.advance_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Sets the monotonic time (it must not go backwards; earlier values are ignored).
    pub fn set_nanos(&self, nanos: u64) {
        self.nanos.fetch_max(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn monotonic_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }

    fn unix_millis(&self) -> u64 {
        self.unix_origin_millis + self.nanos.load(Ordering::SeqCst) / 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward_and_clones_share_time() {
        let c = ManualClock::new(1_000);
        let d = c.clone();
        c.advance_nanos(2_000_000);
        assert_eq!(d.monotonic_nanos(), 2_000_000);
        assert_eq!(d.unix_millis(), 1_002);
        c.set_nanos(1);
        assert_eq!(c.monotonic_nanos(), 2_000_000);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock::new();
        let a = c.monotonic_nanos();
        let b = c.monotonic_nanos();
        assert!(b >= a);
        assert!(c.unix_millis() > 1_600_000_000_000);
    }
}
