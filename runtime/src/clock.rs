//! Time sources. Production code uses [`SystemClock`] (or [`TscClock`] where the time is
//! read on every request, as the rate limiter does); tests use [`ManualClock`] so that every
//! run sees the same times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the runtime reads time: a monotonic reading for order and windows, a wall clock for timestamps.
pub trait Clock: Send + Sync {
    /// Monotonic time in nanoseconds since an arbitrary, fixed origin. Never goes backwards.
    fn monotonic_nanos(&self) -> u64;
    /// Wall-clock time in milliseconds since the Unix epoch (may jump; callers that need
    /// order must enforce it themselves).
    fn unix_millis(&self) -> u64;
}

/// The operating system's clocks: `Instant` since creation for monotonic time, `SystemTime` for the wall clock.
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

/// Monotonic time from the CPU's time-stamp counter through [`quanta`], which calibrates it
/// against the operating system's monotonic clock and uses that clock instead where the
/// counter is not invariant. Reading it takes a few nanoseconds, against ~20–40 ns for
/// `clock_gettime`: the cheapest time source for a rate limiter, which reads the time on
/// every decision (the limiter's exactness holds for any monotonic clock, since it compares
/// only the clock's own readings). Its wall clock is the operating system's.
#[derive(Debug, Clone)]
pub struct TscClock {
    clock: quanta::Clock,
    /// Raw counter value at the origin.
    origin: u64,
}

impl TscClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> TscClock {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        TscClock { clock, origin }
    }
}

impl Default for TscClock {
    fn default() -> Self {
        TscClock::new()
    }
}

impl Clock for TscClock {
    #[inline]
    fn monotonic_nanos(&self) -> u64 {
        // Raw counter and one scaling, as governor's clock does; `delta_as_nanos` is 0 for a
        // reading at or before the origin.
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
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

    /// Moves the monotonic time, and with it the wall clock, `nanos` forward for this clock and all its clones.
    pub fn advance_nanos(&self, nanos: u64) {
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// [`ManualClock::advance_nanos`] by a [`Duration`](std::time::Duration), saturating at `u64::MAX` nanoseconds.
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

    #[test]
    fn the_tsc_clock_never_goes_backwards_and_follows_real_time() {
        // The clock's interval lies inside `start..elapsed` (read before it is created and
        // after it is last read), so only its calibration can make it run ahead, however
        // the thread is scheduled.
        let start = Instant::now();
        let c = TscClock::new();
        let mut last = c.monotonic_nanos();
        for _ in 0..100_000 {
            let now = c.monotonic_nanos();
            assert!(now >= last);
            last = now;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let measured = c.monotonic_nanos();
        let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        assert!(measured >= 15_000_000 && measured <= elapsed + elapsed / 20 + 1_000_000, "{measured} ns of {elapsed}");
        assert!(c.unix_millis() > 1_600_000_000_000);
    }
}
