//! The ledger's own entries: facts about the ledger itself that an auditor must see next to
//! the evidence, written by the writer as ordinary (chained, MACed) entries with subsystem
//! `pip` and actor `pip-ledger`, and reported by the verifier as events.
//!
//! - `clock_jump`: the wall clock read for an entry was more than the tolerance away from
//!   where it should be: behind the last entry's time (the entry is pinned to that time,
//!   since times never go back), or ahead of the time the monotonic clock says has passed
//!   since the last reading. One entry per jump, before the entry that saw it.
//! - `new_checkpoint_history`: the checkpoint file of an existing ledger was missing or empty
//!   and a new one was started on request; the checkpoints before the break are gone, so
//!   entries cut off before it cannot be detected from the files.

use crate::ledger::format::{FormatError, PreparedEvent, RawBody};
use crate::ledger::report::LedgerEvent;

/// The subsystem of the ledger's own entries.
pub const SUBSYSTEM: &str = "pip";
/// The actor of the ledger's own entries.
pub const ACTOR: &str = "pip-ledger";
/// The action of a clock jump entry.
pub const CLOCK_JUMP: &str = "clock_jump";
/// The action of a new checkpoint history entry.
pub const NEW_CHECKPOINT_HISTORY: &str = "new_checkpoint_history";

/// One of the ledger's own entries (`clock_jump`, `new_checkpoint_history`), before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub action: &'static str,
    pub payload: String,
}

impl Note {
    /// The entry's fields (resource: the ledger's name).
    pub(crate) fn prepared<'a>(&'a self, ledger: &'a str) -> Result<PreparedEvent<'a>, FormatError> {
        PreparedEvent::with_raw_payload(SUBSYSTEM, ACTOR, self.action, ledger, "recorded", self.payload.clone().into_bytes())
    }

    /// A new checkpoint history after the file was `why` (`missing`, `empty`, `incomplete`).
    pub(crate) fn new_checkpoint_history(why: &str, head_seq: u64) -> Note {
        let payload = serde_json::json!({ "checkpoint_file": why, "head_seq": head_seq }).to_string();
        Note { action: NEW_CHECKPOINT_HISTORY, payload }
    }
}

/// The event an authentic entry at `offset` stands for, when it is one of the ledger's own.
pub(crate) fn event_of(raw: &RawBody<'_>, offset: u64) -> Option<LedgerEvent> {
    if raw.subsystem != SUBSYSTEM.as_bytes() || raw.actor != ACTOR.as_bytes() {
        return None;
    }
    Some(LedgerEvent {
        seq: raw.seq,
        offset,
        ts_millis: raw.ts_millis,
        action: String::from_utf8_lossy(raw.action).into_owned(),
        payload: String::from_utf8_lossy(raw.payload).into_owned(),
    })
}

/// What the writer remembers to recognise a clock jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClockWatch {
    /// A wall clock reading (Unix ms) and the monotonic time (ns) it was taken at.
    pub anchor: Option<(u64, u64)>,
    /// A jump behind the last entry was recorded and the clock has not caught up yet.
    pub behind_noted: bool,
    /// [`LedgerConfig::clock_tolerance`](crate::ledger::LedgerConfig::clock_tolerance) in milliseconds: the largest jump left unrecorded.
    pub tolerance_ms: u64,
}

impl ClockWatch {
    pub(crate) fn new(tolerance_ms: u64) -> ClockWatch {
        ClockWatch { anchor: None, behind_noted: false, tolerance_ms }
    }

    /// Checks the wall time `now` read for an entry after one at `last_ts` (0: none yet);
    /// `mono` reads the monotonic clock (only called when the wall clock moved on by more
    /// than the tolerance). Cheap when nothing jumped: two comparisons.
    pub(crate) fn check(&mut self, now: u64, last_ts: u64, mono: impl FnOnce() -> u64) -> Option<Note> {
        let tol = self.tolerance_ms;
        if now.saturating_add(tol) < last_ts {
            if self.behind_noted {
                return None;
            }
            self.behind_noted = true;
            return Some(jump("behind", now, last_ts, None, tol));
        }
        if now >= last_ts {
            self.behind_noted = false;
        }
        let (wall, at) = self.anchor?;
        if now <= wall.saturating_add(tol) {
            return None;
        }
        let expected = wall.saturating_add((mono().saturating_sub(at)) / 1_000_000);
        if now > expected.saturating_add(tol) {
            // The next check measures from here: one note per jump.
            self.anchor = None;
            return Some(jump("ahead", now, last_ts, Some(expected), tol));
        }
        None
    }
}

fn jump(direction: &str, now: u64, last_ts: u64, expected: Option<u64>, tol: u64) -> Note {
    let payload = serde_json::json!({
        "direction": direction,
        "clock_ms": now,
        "last_entry_ms": last_ts,
        "expected_ms": expected,
        "tolerance_ms": tol,
    })
    .to_string();
    Note { action: CLOCK_JUMP, payload }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_clock_behind_the_last_entry_is_noted_once_until_it_catches_up() {
        let mut w = ClockWatch::new(1000);
        assert_eq!(w.check(10_000, 10_500, || 0), None, "within the tolerance");
        assert_eq!(w.check(5_000, 10_000, || 0).map(|n| n.action), Some(CLOCK_JUMP));
        assert_eq!(w.check(5_001, 10_000, || 0), None, "noted already");
        assert_eq!(w.check(10_000, 10_000, || 0), None);
        assert!(w.check(5_000, 10_000, || 0).is_some(), "a second jump");
    }

    #[test]
    fn a_clock_ahead_of_the_monotonic_clock_is_noted_but_an_idle_gap_is_not() {
        let mut w = ClockWatch::new(1000);
        w.anchor = Some((1_000_000, 0));
        // An hour idle: wall and monotonic clocks moved together.
        assert_eq!(w.check(1_000_000 + 3_600_000, 1_000_000, || 3_600_000 * 1_000_000), None);
        // A day ahead after one second.
        let n = w.check(1_000_000 + 86_400_000, 1_000_000, || 1_000_000_000).unwrap();
        assert!(n.payload.contains("\"direction\":\"ahead\""), "{}", n.payload);
        assert_eq!(w.anchor, None);
    }
}
