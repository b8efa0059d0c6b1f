//! Diffs between byte states: what a version changed, kept so that it can be undone.
//!
//! A [`Diff`] is a list of [`Edit`]s, each replacing `old` by `new` at an offset of the state
//! it applies to (an insertion has an empty `old`, a removal an empty `new`). Both sides are
//! stored, so [`Diff::apply`] and [`Diff::revert`] are exact inverses, and each checks the
//! bytes it replaces before writing anything: a diff never silently lands on the wrong state.

pub(super) mod between;

use std::ops::Range;

/// One change: at `offset`, the bytes `old` are replaced by `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Where, in the state the diff applies to.
    pub offset: usize,
    /// The bytes that were there (empty for an insertion).
    pub old: Vec<u8>,
    /// The bytes that replace them (empty for a removal).
    pub new: Vec<u8>,
}

/// Why a diff could not be built, applied or reverted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// Edits must be in offset order and must not overlap.
    #[error("edit {index} overlaps or precedes the edit before it")]
    Overlap {
        /// Index of the offending edit.
        index: usize,
    },
    /// An edit that neither removes nor inserts anything.
    #[error("edit {index} changes nothing")]
    EmptyEdit {
        /// Index of the offending edit.
        index: usize,
    },
    /// The state does not hold the bytes the edit replaces.
    #[error("the state does not hold the bytes an edit replaces at offset {offset}")]
    Mismatch {
        /// Offset, in the state being changed.
        offset: usize,
    },
    /// The edit reaches past the end of the state.
    #[error("an edit at offset {offset} reaches past the end of the state ({len} bytes)")]
    OutOfBounds {
        /// Offset, in the state being changed.
        offset: usize,
        /// The state's length in bytes, which the edit's end passes (`usize::MAX` when the end overflows).
        len: usize,
    },
}

/// The changes from one state to the next (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    // INVARIANT: no edit is empty on both sides, and
    // `edits[i].offset + edits[i].old.len() <= edits[i + 1].offset`.
    edits: Vec<Edit>,
}

/// What a diff runs on: a byte vector, or a store's chunked state.
pub(crate) trait Bytes {
    /// Length in bytes; an edit may not reach past it.
    fn len(&self) -> usize;
    /// Whether the bytes at `at` are `expected`; `None` when they would reach past the end.
    fn holds(&self, at: usize, expected: &[u8]) -> Option<bool>;
    /// Replaces, at each `(position, expected, with)` (verified, in order, not
    /// overlapping, positions in the bytes before any replacement), `expected.len()` bytes
    /// by `with`.
    fn replace(&mut self, ops: &[(usize, &[u8], &[u8])]);
}

impl Bytes for Vec<u8> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn holds(&self, at: usize, expected: &[u8]) -> Option<bool> {
        self.get(at..at.checked_add(expected.len())?).map(|found| found == expected)
    }

    fn replace(&mut self, ops: &[(usize, &[u8], &[u8])]) {
        replace(self, ops);
    }
}

/// Which side of each [`Edit`] is written over the other; both check the side they replace first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Replace each edit's `old` by its `new` ([`Diff::apply`], an upgrade).
    Apply,
    /// Replace each edit's `new` by its `old` ([`Diff::revert`], one step of a rollback).
    Revert,
}

impl Diff {
    /// A diff of `edits`, which must be in offset order, not overlap, and each change
    /// something.
    pub fn new(edits: Vec<Edit>) -> Result<Diff, DiffError> {
        let mut end = 0;
        for (index, e) in edits.iter().enumerate() {
            if e.old.is_empty() && e.new.is_empty() {
                return Err(DiffError::EmptyEdit { index });
            }
            if e.offset < end {
                return Err(DiffError::Overlap { index });
            }
            end = e.offset.checked_add(e.old.len()).ok_or(DiffError::OutOfBounds { offset: e.offset, len: usize::MAX })?;
        }
        Ok(Diff { edits })
    }

    /// The diff that replaces each `range` of `base` by its bytes (ranges in order, not
    /// overlapping).
    pub fn from_changes(base: &[u8], changes: &[(Range<usize>, &[u8])]) -> Result<Diff, DiffError> {
        let edits = changes
            .iter()
            .map(|(range, bytes)| {
                let old = base.get(range.clone()).ok_or(DiffError::OutOfBounds { offset: range.start, len: base.len() })?;
                Ok(Edit { offset: range.start, old: old.to_vec(), new: bytes.to_vec() })
            })
            .collect::<Result<Vec<_>, DiffError>>()?;
        Diff::new(edits)
    }

    /// The diff from `old` to `new`, proportional to what changed: the common prefix and
    /// suffix are skipped, in-place changes become their changed runs, and insertions and
    /// removals are found by aligning content-defined chunks (then bytes) with Myers. O(n)
    /// plus O(chunks · changes) for the alignment; edits closer than 16 bytes are merged.
    pub fn between(old: &[u8], new: &[u8]) -> Diff {
        Diff { edits: between::edits(old, new) }
    }

    /// [`Diff::between`] of two regions that start at `offset` of states equal outside them.
    pub(crate) fn between_at(old: &[u8], new: &[u8], offset: usize) -> Diff {
        let mut edits = between::edits(old, new);
        edits.iter_mut().for_each(|e| e.offset += offset);
        Diff { edits }
    }

    /// The edits in offset order, none overlapping and none empty, as [`Diff::new`] checks.
    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// Whether the diff changes nothing.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Bytes the diff holds: both sides of every edit plus its bookkeeping.
    pub fn stored_bytes(&self) -> usize {
        self.edits.iter().map(|e| e.old.capacity() + e.new.capacity() + size_of::<Edit>()).sum::<usize>() + size_of::<Diff>()
    }

    /// Turns the old state into the new one; checks every replaced byte first and changes
    /// nothing when one differs.
    pub fn apply(&self, state: &mut Vec<u8>) -> Result<(), DiffError> {
        self.run(state, Direction::Apply)
    }

    /// Turns the new state back into the old one; the exact inverse of [`Diff::apply`], with
    /// the same checks.
    pub fn revert(&self, state: &mut Vec<u8>) -> Result<(), DiffError> {
        self.run(state, Direction::Revert)
    }

    /// The edits, to damage a stored diff in tests.
    #[cfg(test)]
    pub(crate) fn edits_mut(&mut self) -> &mut Vec<Edit> {
        &mut self.edits
    }

    /// Runs the diff one way: checks every replaced byte, then replaces them all.
    pub(crate) fn run(&self, state: &mut impl Bytes, direction: Direction) -> Result<(), DiffError> {
        // Positions in the state being changed: for a revert, each edit has moved by what the
        // edits before it added or removed.
        let (mut grown, mut shrunk) = (0usize, 0usize);
        let mut ops: Vec<(usize, &[u8], &[u8])> = Vec::with_capacity(self.edits.len());
        for e in &self.edits {
            let (expect, with) = match direction {
                Direction::Apply => (e.old.as_slice(), e.new.as_slice()),
                Direction::Revert => (e.new.as_slice(), e.old.as_slice()),
            };
            let at = match direction {
                Direction::Apply => Some(e.offset),
                Direction::Revert => e.offset.checked_add(grown).and_then(|p| p.checked_sub(shrunk)),
            };
            let at = at.ok_or(DiffError::OutOfBounds { offset: e.offset, len: state.len() })?;
            match state.holds(at, expect) {
                Some(true) => {}
                Some(false) => return Err(DiffError::Mismatch { offset: at }),
                None => return Err(DiffError::OutOfBounds { offset: at, len: state.len() }),
            }
            grown += e.new.len();
            shrunk += e.old.len();
            ops.push((at, expect, with));
        }
        state.replace(&ops);
        Ok(())
    }
}

/// Replaces, at each `(position, expected, with)` (verified, in order, not overlapping),
/// `expected.len()` bytes by `with`.
fn replace(state: &mut Vec<u8>, ops: &[(usize, &[u8], &[u8])]) {
    let resizing = ops.iter().filter(|(_, e, w)| e.len() != w.len()).count();
    if resizing == 0 {
        for &(at, _, with) in ops {
            if let Some(target) = state.get_mut(at..at + with.len()) {
                target.copy_from_slice(with);
            }
        }
    } else if resizing <= 2 {
        // From the back, so that earlier positions stay valid; each resize moves the tail once.
        for &(at, expect, with) in ops.iter().rev() {
            state.splice(at..at + expect.len(), with.iter().copied());
        }
    } else {
        let new_len = state.len() + ops.iter().map(|(_, _, w)| w.len()).sum::<usize>() - ops.iter().map(|(_, e, _)| e.len()).sum::<usize>();
        let mut out = Vec::with_capacity(new_len);
        let mut cursor = 0;
        for &(at, expect, with) in ops {
            out.extend_from_slice(state.get(cursor..at).unwrap_or_default());
            out.extend_from_slice(with);
            cursor = at + expect.len();
        }
        out.extend_from_slice(state.get(cursor..).unwrap_or_default());
        *state = out;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_one_byte_change_in_a_large_state_stores_one_byte_each_way() {
        let old = vec![0u8; 1 << 20];
        let mut new = old.clone();
        new[700_000] = 1;
        let d = Diff::between(&old, &new);
        assert_eq!(d.edits(), &[Edit { offset: 700_000, old: vec![0], new: vec![1] }]);
    }

    #[test]
    fn distant_changes_of_different_lengths_become_separate_small_edits() {
        let old: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut new = old.clone();
        new.splice(10..10, *b"inserted");
        new.drain(90_000..90_003);
        let d = Diff::between(&old, &new);
        assert_eq!(d.edits().len(), 2, "{:?}", d.edits().iter().map(|e| (e.offset, e.old.len(), e.new.len())).collect::<Vec<_>>());
        assert!(d.stored_bytes() < 300);
        let mut s = old.clone();
        d.apply(&mut s).unwrap();
        assert_eq!(s, new);
    }

    #[test]
    fn edits_out_of_order_or_empty_are_refused() {
        let e = |offset, old: &[u8], new: &[u8]| Edit { offset, old: old.to_vec(), new: new.to_vec() };
        assert_eq!(Diff::new(vec![e(5, b"ab", b"x"), e(6, b"", b"y")]), Err(DiffError::Overlap { index: 1 }));
        assert_eq!(Diff::new(vec![e(5, b"", b"")]), Err(DiffError::EmptyEdit { index: 0 }));
        assert!(Diff::new(vec![e(5, b"", b"x"), e(5, b"", b"y")]).is_ok(), "two insertions at one offset are fine");
    }

    #[test]
    fn a_diff_applied_to_a_state_that_lacks_its_old_bytes_changes_nothing() {
        let d = Diff::between(b"hello world", b"hello there");
        let mut s = b"hullo world".to_vec();
        assert!(d.apply(&mut s).is_ok(), "the first byte is outside the edit");
        let mut s = b"hello earth".to_vec();
        assert_eq!(d.apply(&mut s), Err(DiffError::Mismatch { offset: 6 }));
        assert_eq!(s, b"hello earth");
        let mut short = b"hello".to_vec();
        assert_eq!(d.revert(&mut short), Err(DiffError::OutOfBounds { offset: 6, len: 5 }));
    }
}
