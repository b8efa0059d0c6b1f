//! Names the anomalies of a sequence of records whose authenticity is already known (by
//! per-entry MAC, or by a hash chain reaching a MACed checkpoint). See the [`crate::ledger`]
//! module docs for the rules; this module implements them.

use std::collections::{BTreeMap, BTreeSet};

use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::format::HASH_LEN;
use crate::ledger::report::{Anchor, Anomaly, AnomalyClass, FileKind, Head, SeqRange};
use crate::ledger::sweep::Remembered;

/// One record (or damaged region) as the classifier sees it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Byte offset of the record (or damaged region) in the ledger file, as anomalies report it.
    pub offset: u64,
    /// Sequence number as stored (`None` for bytes that are not a record).
    pub seq: Option<u64>,
    /// The time as stored, Unix milliseconds (0 for bytes that are not a record).
    pub ts: u64,
    /// The previous entry's hash as stored in the body (zeros for bytes that are not a record).
    pub prev: [u8; HASH_LEN],
    /// SHA-256 of its body.
    pub hash: [u8; HASH_LEN],
    /// Whether the key (or a checkpoint through the chain) vouches for it.
    pub authentic: bool,
}

/// An unfinished record at the end of the ledger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TornTail {
    pub offset: u64,
    pub len: u64,
}

/// What the classifier concluded.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub anomalies: Vec<Anomaly>,
    /// The last in-order authentic entry.
    pub head: Option<Head>,
}

#[derive(Clone, Copy)]
struct Point {
    seq: u64,
    hash: [u8; HASH_LEN],
    ts: u64,
    offset: u64,
}

/// Classifies `nodes` (in file order) that continue from `anchor`, checked against the
/// verified `checkpoints`.
pub(crate) fn classify(
    nodes: &[Node],
    anchor: &Anchor,
    checkpoints: &[Checkpoint],
    torn: Option<TornTail>,
    end_offset: u64,
    unauthentic: &str,
) -> Outcome {
    let mut out = Vec::new();
    let first = anchor.next_seq;
    // Authentic records in file order; those before the start are replays of older entries.
    let mut authentic: Vec<usize> = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if !n.authentic {
            continue;
        }
        match n.seq {
            Some(s) if s >= first => authentic.push(i),
            Some(s) => out.push(anomaly(
                AnomalyClass::Replayed,
                n.offset,
                Some(SeqRange::one(s)),
                format!("entry seq {s} comes from before the first entry (seq {first})"),
            )),
            None => {}
        }
    }
    let seq_of = |i: usize| nodes.get(i).and_then(|n| n.seq).unwrap_or(0);
    let in_order = longest_increasing(&authentic, &seq_of);
    let mut in_lis = vec![false; nodes.len()];
    for &i in &in_order {
        if let Some(f) = in_lis.get_mut(i) {
            *f = true;
        }
    }
    let order_seqs: Vec<u64> = in_order.iter().map(|&i| seq_of(i)).collect();
    // Authentic records out of place: a second copy of a seq is a replay, a seq seen nowhere
    // else in order was moved.
    let mut moved: BTreeMap<u64, usize> = BTreeMap::new();
    let mut previous_seq: Option<u64> = None;
    for &i in &authentic {
        let s = seq_of(i);
        let offset = nodes.get(i).map_or(0, |n| n.offset);
        if !in_lis.get(i).copied().unwrap_or(false) {
            if let Ok(k) = order_seqs.binary_search(&s) {
                let original = in_order.get(k).and_then(|&j| nodes.get(j)).map_or(0, |n| n.offset);
                out.push(anomaly(
                    AnomalyClass::Replayed,
                    offset,
                    Some(SeqRange::one(s)),
                    format!("entry seq {s} appears again (first at offset {original})"),
                ));
            } else if let Some(&j) = moved.get(&s) {
                let original = nodes.get(j).map_or(0, |n| n.offset);
                out.push(anomaly(
                    AnomalyClass::Replayed,
                    offset,
                    Some(SeqRange::one(s)),
                    format!("entry seq {s} appears again (first at offset {original})"),
                ));
            } else {
                let after = previous_seq.map_or_else(|| "the start".to_string(), |p| format!("seq {p}"));
                out.push(anomaly(
                    AnomalyClass::Reordered,
                    offset,
                    Some(SeqRange::one(s)),
                    format!("entry seq {s} is out of order: it follows {after}"),
                ));
                moved.insert(s, i);
            }
        }
        previous_seq = Some(s);
    }
    let moved_seqs: BTreeSet<u64> = moved.keys().copied().collect();
    let ctx = RunContext { nodes, moved: &moved_seqs, unauthentic };

    // Walk anchors (in-order authentic records) and judge the runs between them.
    let genesis = Point { seq: first.saturating_sub(1), hash: anchor.prev, ts: anchor.min_ts, offset: 0 };
    let mut a = genesis;
    let mut a_is_genesis = true;
    let mut bad: Vec<usize> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if in_lis.get(i).copied().unwrap_or(false) {
            let b = Point { seq: n.seq.unwrap_or(0), hash: n.hash, ts: n.ts, offset: n.offset };
            // The common case, an intact stretch, needs no judging.
            if !bad.is_empty() || b.seq != a.seq + 1 {
                judge_run(&ctx, &a, Some(&b), &bad, None, &mut out);
            }
            if bad.is_empty() && b.seq == a.seq + 1 && n.prev != a.hash {
                let what = if a_is_genesis { "the start of the ledger".to_string() } else { format!("entry seq {}", a.seq) };
                out.push(anomaly(
                    AnomalyClass::Inserted,
                    b.offset,
                    Some(SeqRange::one(b.seq)),
                    format!("entry seq {} does not link to {what}: it was spliced in from another chain", b.seq),
                ));
            }
            if b.ts < a.ts {
                out.push(anomaly(
                    AnomalyClass::TimestampReversal,
                    b.offset,
                    Some(SeqRange::one(b.seq)),
                    format!("entry seq {} has time {} ms, earlier than {} ms of the entry before it", b.seq, b.ts, a.ts),
                ));
            }
            a = b;
            a_is_genesis = false;
            bad.clear();
        } else if !n.authentic {
            bad.push(i);
        }
    }
    let covered = checkpoints.iter().map(|c| c.seq).max();
    judge_run(&ctx, &a, None, &bad, Some(Tail { covered, torn, end_offset }), &mut out);

    // Checkpoints must agree with the entries they name.
    for (k, cp) in checkpoints.iter().enumerate() {
        let found =
            order_seqs.binary_search(&cp.seq).ok().and_then(|p| in_order.get(p)).or_else(|| moved.get(&cp.seq)).and_then(|&i| nodes.get(i));
        if let Some(n) = found
            && n.hash != cp.head
        {
            out.push(checkpoint_disagrees(k, cp, n.offset));
        }
    }
    let head = (!a_is_genesis).then_some(Head { seq: a.seq, hash: a.hash, ts_millis: a.ts });
    Outcome { anomalies: out, head }
}

/// What [`classify`] concludes when every record is authentic and they form one unbroken
/// chain from `anchor` (seqs up by one, each `prev` the hash of the record before, times
/// never going back), ending in `last`: then no record is out of place, damaged or forged,
/// and only the end of the ledger (truncation, a torn tail) and the checkpoints can disagree.
/// `named` holds the entries whose seqs the checkpoints name, sorted by seq.
pub(crate) fn classify_chain(
    last: Option<&Remembered>,
    named: &[Remembered],
    anchor: &Anchor,
    checkpoints: &[Checkpoint],
    torn: Option<TornTail>,
    end_offset: u64,
    unauthentic: &str,
) -> Outcome {
    let mut out = Vec::new();
    let genesis = Point { seq: anchor.next_seq.saturating_sub(1), hash: anchor.prev, ts: anchor.min_ts, offset: 0 };
    let a = last.map_or(genesis, |l| Point { seq: l.seq, hash: l.hash, ts: l.ts, offset: l.offset });
    let nothing_moved = BTreeSet::new();
    let ctx = RunContext { nodes: &[], moved: &nothing_moved, unauthentic };
    let covered = checkpoints.iter().map(|c| c.seq).max();
    judge_run(&ctx, &a, None, &[], Some(Tail { covered, torn, end_offset }), &mut out);
    for (k, cp) in checkpoints.iter().enumerate() {
        if let Ok(i) = named.binary_search_by_key(&cp.seq, |n| n.seq)
            && let Some(n) = named.get(i)
            && n.hash != cp.head
        {
            out.push(checkpoint_disagrees(k, cp, n.offset));
        }
    }
    let head = last.map(|l| Head { seq: l.seq, hash: l.hash, ts_millis: l.ts });
    Outcome { anomalies: out, head }
}

/// Checkpoint `k` (0-based) names an authentic entry, at `offset`, with another hash.
fn checkpoint_disagrees(k: usize, cp: &Checkpoint, offset: u64) -> Anomaly {
    anomaly(
        AnomalyClass::Modified,
        offset,
        Some(SeqRange::one(cp.seq)),
        format!("entry seq {} is not the entry checkpoint {} commits to", cp.seq, k + 1),
    )
}

struct Tail {
    covered: Option<u64>,
    torn: Option<TornTail>,
    end_offset: u64,
}

/// Judges the non-authentic records between two anchors (or after the last one).
struct RunContext<'a> {
    nodes: &'a [Node],
    /// Seqs of authentic records off the spine (present, though out of place).
    moved: &'a BTreeSet<u64>,
    /// How a non-authentic record is described.
    unauthentic: &'a str,
}

fn judge_run(ctx: &RunContext<'_>, a: &Point, b: Option<&Point>, bad: &[usize], tail: Option<Tail>, out: &mut Vec<Anomaly>) {
    let (nodes, moved, unauthentic) = (ctx.nodes, ctx.moved, ctx.unauthentic);
    let upper = match (b, &tail) {
        (Some(b), _) => b.seq.saturating_sub(1),
        (None, Some(t)) => t.covered.unwrap_or(0),
        (None, None) => 0,
    };
    let mut missing = Missing::new(a.seq + 1, upper, moved);
    let bad_nodes: Vec<&Node> = bad.iter().filter_map(|&i| nodes.get(i)).collect();
    // Pair bad records with missing seqs: first those whose stored seq is missing, then in order.
    let mut modified = vec![false; bad_nodes.len()];
    for (n, m) in bad_nodes.iter().zip(modified.iter_mut()) {
        if let Some(s) = n.seq {
            *m = missing.take(s);
        }
    }
    for m in modified.iter_mut() {
        if !*m && missing.take_first().is_some() {
            *m = true;
        }
    }
    for (n, m) in bad_nodes.iter().zip(&modified) {
        let seq = n.seq.map(SeqRange::one);
        let what = if n.seq.is_some() { unauthentic } else { "is not a well-formed entry" };
        if *m {
            let name = n.seq.map_or_else(|| "the entry here".to_string(), |s| format!("entry seq {s}"));
            out.push(anomaly(AnomalyClass::Modified, n.offset, seq, format!("{name} {what}")));
        } else {
            let why = if b.is_some() {
                "the entries around it link to each other without it"
            } else {
                "no later entry or checkpoint vouches for it"
            };
            let name = n.seq.map_or_else(|| "bytes here".to_string(), |s| format!("entry seq {s}"));
            out.push(anomaly(AnomalyClass::Inserted, n.offset, seq, format!("{name} {what} and {why}")));
        }
    }
    let rest = missing.ranges();
    match (b, tail) {
        (Some(b), _) => {
            for r in rest {
                out.push(anomaly(
                    AnomalyClass::Deleted,
                    b.offset,
                    Some(r),
                    format!("{} entr{} missing before entry seq {} (seq {})", r.len(), if r.len() == 1 { "y" } else { "ies" }, b.seq, r),
                ));
            }
        }
        (None, Some(t)) => {
            let torn_note = t.torn.map(|tt| format!("; the file ends mid-entry at offset {}", tt.offset)).unwrap_or_default();
            for r in &rest {
                out.push(anomaly(
                    AnomalyClass::Truncated,
                    t.end_offset,
                    Some(*r),
                    format!(
                        "the ledger ends at seq {} but a checkpoint covers seq {}: {} entr{} cut off{torn_note}",
                        a.seq,
                        t.covered.unwrap_or(0),
                        r.len(),
                        if r.len() == 1 { "y" } else { "ies" }
                    ),
                ));
            }
            if rest.is_empty()
                && let Some(tt) = t.torn
            {
                out.push(anomaly(
                    AnomalyClass::TornTail,
                    tt.offset,
                    None,
                    format!("the last {} bytes are an unfinished entry (a write cut short); they were never acknowledged", tt.len),
                ));
            }
        }
        (None, None) => {}
    }
}

/// Seqs in `from..=to` that no authentic record has, as ranges.
struct Missing {
    ranges: Vec<(u64, u64)>,
}

impl Missing {
    fn new(from: u64, to: u64, present: &BTreeSet<u64>) -> Missing {
        let mut ranges = Vec::new();
        if from <= to {
            let mut start = from;
            for &p in present.range(from..=to) {
                if p > start {
                    ranges.push((start, p - 1));
                }
                start = p + 1;
            }
            if start <= to {
                ranges.push((start, to));
            }
        }
        Missing { ranges }
    }

    /// Removes `seq` if it is missing.
    fn take(&mut self, seq: u64) -> bool {
        let Some(k) = self.ranges.iter().position(|&(a, b)| a <= seq && seq <= b) else { return false };
        let Some(&(a, b)) = self.ranges.get(k) else { return false };
        let mut replacement = Vec::with_capacity(2);
        if a < seq {
            replacement.push((a, seq - 1));
        }
        if seq < b {
            replacement.push((seq + 1, b));
        }
        self.ranges.splice(k..=k, replacement);
        true
    }

    fn take_first(&mut self) -> Option<u64> {
        let &(a, _) = self.ranges.first()?;
        self.take(a).then_some(a)
    }

    fn ranges(&self) -> Vec<SeqRange> {
        self.ranges.iter().map(|&(first, last)| SeqRange { first, last }).collect()
    }
}

/// Indices (into `nodes`, in file order) of a longest strictly increasing run of seqs.
fn longest_increasing(idx: &[usize], seq_of: &dyn Fn(usize) -> u64) -> Vec<usize> {
    if idx.windows(2).all(|w| matches!(w, [x, y] if seq_of(*x) < seq_of(*y))) {
        return idx.to_vec();
    }
    const NONE: usize = usize::MAX;
    let mut tails: Vec<usize> = Vec::new(); // positions in idx
    let mut parent = vec![NONE; idx.len()];
    for (p, &i) in idx.iter().enumerate() {
        let s = seq_of(i);
        let at = tails.partition_point(|&t| idx.get(t).map_or(0, |&j| seq_of(j)) < s);
        if at > 0
            && let (Some(par), Some(&prev)) = (parent.get_mut(p), tails.get(at - 1))
        {
            *par = prev;
        }
        match tails.get_mut(at) {
            Some(slot) => *slot = p,
            None => tails.push(p),
        }
    }
    let mut chain = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied().unwrap_or(NONE);
    while cur != NONE {
        if let Some(&i) = idx.get(cur) {
            chain.push(i);
        }
        cur = parent.get(cur).copied().unwrap_or(NONE);
    }
    chain.reverse();
    chain
}

fn anomaly(class: AnomalyClass, offset: u64, seq: Option<SeqRange>, detail: String) -> Anomaly {
    Anomaly::new(class, FileKind::Ledger, offset, seq, detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_longest_increasing_run_skips_moved_and_repeated_seqs() {
        let seqs = [1u64, 2, 9, 3, 4, 4, 5];
        let idx: Vec<usize> = (0..seqs.len()).collect();
        let run = longest_increasing(&idx, &|i| seqs[i]);
        let picked: Vec<u64> = run.iter().map(|&i| seqs[i]).collect();
        assert_eq!(picked, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn missing_ranges_leave_out_present_seqs_and_split_when_taken() {
        let present: BTreeSet<u64> = [3, 4].into_iter().collect();
        let mut m = Missing::new(1, 8, &present);
        assert_eq!(m.ranges, vec![(1, 2), (5, 8)]);
        assert!(m.take(6));
        assert!(!m.take(6));
        assert_eq!(m.ranges, vec![(1, 2), (5, 5), (7, 8)]);
        assert_eq!(m.take_first(), Some(1));
        assert_eq!(m.ranges, vec![(2, 2), (5, 5), (7, 8)]);
    }
}
