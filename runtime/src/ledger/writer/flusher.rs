//! The flusher thread: writes what appenders buffered, syncs it, publishes the new durable
//! seq, and writes checkpoints once the entries they cover are synced.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::ledger::checkpoint::{CHECKPOINT_LEN, Checkpoint};
use crate::ledger::config::Durability;
use crate::ledger::format::{HASH_LEN, pay_mac};
use crate::ledger::meters::Batch;
use crate::ledger::writer::{Shared, State};

/// What the flusher starts from.
pub(crate) struct Start {
    /// The ledger file's length (where the next record goes).
    pub ledger_len: u64,
    #[cfg(feature = "signing")]
    pub signed: Option<crate::ledger::signed::recover::SignedStart>,
    pub ledger: File,
    pub checkpoints: File,
    pub last_checkpoint_seq: u64,
    pub head_hash: [u8; HASH_LEN],
    pub head_ts: u64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

struct Flusher<'a> {
    s: &'a Shared,
    ledger_len: u64,
    #[cfg(feature = "signing")]
    signed: Option<crate::ledger::signed::recover::SignedStart>,
    ledger: File,
    checkpoints: File,
    durable: u64,
    durable_hash: [u8; HASH_LEN],
    durable_ts: u64,
    last_cp_seq: u64,
    last_cp_at: u64,
}

/// Runs until the ledger closes or an I/O error stops it.
pub(crate) fn run(s: &Shared, start: Start) {
    let mut f = Flusher {
        s,
        ledger_len: start.ledger_len,
        #[cfg(feature = "signing")]
        signed: start.signed,
        ledger: start.ledger,
        checkpoints: start.checkpoints,
        durable: s.durable_seq.load(Ordering::Acquire),
        durable_hash: start.head_hash,
        durable_ts: start.head_ts,
        last_cp_seq: start.last_checkpoint_seq,
        last_cp_at: s.clock.monotonic_nanos(),
    };
    // Entries recovered on open that no checkpoint covers yet get one now; so does a ledger
    // whose entries no signed checkpoint covers yet (one that just got a signing key).
    if f.durable > f.last_cp_seq || f.unsigned() {
        let cp = Checkpoint::new(&s.key, &s.digest, f.durable, s.clock.unix_millis().max(f.durable_ts), f.durable_hash);
        if let Err(e) = f.sign(&[], &[cp]) {
            return fail(s, &e);
        }
        // A MACed checkpoint at a seq the last one has already would read as a replayed one.
        if f.durable > f.last_cp_seq {
            if let Err(e) = f.write_checkpoints(&[cp]) {
                return fail(s, &e);
            }
            let mut st = s.lock();
            publish_checkpoints(s, &mut st, 1, f.last_cp_seq);
        }
    }
    let mut spare: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut counts = Batch::new();
    loop {
        let mut st = s.lock();
        loop {
            if st.failed.is_some() {
                st.closed = true;
                s.done.notify_all();
                return;
            }
            let now = s.clock.monotonic_nanos();
            if st.closing || f.flush_due(&st, now) || f.timed_checkpoint_due(now) {
                break;
            }
            let wait = f.next_deadline(&st, now);
            st = match wait {
                Some(d) => s.work.wait_timeout(st, d).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0),
                None => s.work.wait(st).unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
        let flush = st.buf_entries > 0;
        let (batch_last, batch_hash, batch_ts) = (st.next_seq - 1, st.head_hash, st.last_ts);
        if let Some(owed) = st.owed.take() {
            pay_mac(&mut st.buf, &s.key, owed);
        }
        std::mem::swap(&mut st.buf, &mut spare);
        st.subsystems.take_batch(&mut counts);
        st.buf_entries = 0;
        st.buf_since = None;
        let due = std::mem::take(&mut st.due);
        let closing = st.closing;
        drop(st);

        if flush && let Err(e) = f.ledger.write_all(&spare).and_then(|()| f.ledger.sync_data()) {
            return fail(s, &format!("cannot write `{}`: {e}", s.config.path.display()));
        }
        let batch: &[u8] = if flush { &spare } else { &[] };
        let (new_durable, new_hash, new_ts) =
            if flush { (batch_last, batch_hash, batch_ts) } else { (f.durable, f.durable_hash, f.durable_ts) };
        let now_ms = s.clock.unix_millis();
        let mut cps: Vec<Checkpoint> =
            due.iter().map(|&(seq, hash, ts)| Checkpoint::new(&s.key, &s.digest, seq, now_ms.max(ts), hash)).collect();
        let covered = cps.last().map_or(f.last_cp_seq, |c| c.seq);
        if new_durable > covered && (closing || f.timed_checkpoint_due_at(new_durable, s.clock.monotonic_nanos())) {
            cps.push(Checkpoint::new(&s.key, &s.digest, new_durable, now_ms.max(new_ts), new_hash));
        }
        // Signed checkpoints first: a MACed checkpoint is never ahead of the signed ones.
        if let Err(e) = f.sign(batch, &cps) {
            return fail(s, &e);
        }
        f.ledger_len += batch.len() as u64;
        if !cps.is_empty()
            && let Err(e) = f.write_checkpoints(&cps)
        {
            return fail(s, &e);
        }

        let mut st = s.lock();
        if flush {
            f.durable = new_durable;
            f.durable_hash = new_hash;
            f.durable_ts = new_ts;
            st.durable_len += spare.len() as u64;
            st.stats.syncs += 1;
            // Metrics first: an appender that sees its entry durable sees it counted.
            st.subsystems.publish(&counts);
            s.metrics.head.set(i64::try_from(new_durable).unwrap_or(i64::MAX));
            s.durable_seq.store(new_durable, Ordering::Release);
        }
        if !cps.is_empty() {
            publish_checkpoints(s, &mut st, cps.len(), f.last_cp_seq);
        }
        spare.clear();
        if closing && st.buf_entries == 0 {
            st.closed = true;
            s.done.notify_all();
            return;
        }
        s.done.notify_all();
    }
}

/// Whether an open file no longer has a name.
#[cfg(unix)]
fn unlinked(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|m| m.nlink() == 0)
}

#[cfg(not(unix))]
fn unlinked(_file: &File) -> bool {
    false
}

fn publish_checkpoints(s: &Shared, st: &mut State, n: usize, seq: u64) {
    st.checkpoints_len += (n * CHECKPOINT_LEN) as u64;
    st.stats.checkpoints += n as u64;
    s.metrics.checkpoint.set(i64::try_from(seq).unwrap_or(i64::MAX));
}

fn fail(s: &Shared, what: &str) {
    let mut st = s.lock();
    st.failed.get_or_insert_with(|| what.to_string());
    st.closed = true;
    s.done.notify_all();
}

impl Flusher<'_> {
    /// Whether the ledger signs and its durable entries are not all covered by a signed checkpoint.
    fn unsigned(&self) -> bool {
        #[cfg(feature = "signing")]
        if let Some(sg) = &self.signed {
            return sg.last_signed < self.durable;
        }
        false
    }

    /// Folds the records of `batch` (written at the ledger's current length) into the Merkle
    /// tree and signs a checkpoint note at each of `cps`' seqs; writes the new tiles and
    /// syncs the signed notes. Does nothing for a ledger without a signing key.
    #[cfg(feature = "signing")]
    fn sign(&mut self, batch: &[u8], cps: &[Checkpoint]) -> Result<(), String> {
        use crate::ledger::format::MAC_LEN;
        let (Some(sg), Some(signing)) = (self.signed.as_mut(), self.s.signing.as_ref()) else { return Ok(()) };
        let mut notes = String::new();
        // Where the last note starts in `notes`: the one the witnesses get.
        let mut last_note = 0;
        let mut tiles = Vec::new();
        let signed_before = sg.last_signed;
        let mut sizes = cps.iter().map(|c| c.seq).filter(|&n| n > signed_before).peekable();
        let mut sign_at = |sg: &mut crate::ledger::signed::recover::SignedStart, notes: &mut String| -> Result<(), String> {
            while let Some(&n) = sizes.peek() {
                if n > sg.builder.size() {
                    break;
                }
                if n == sg.builder.size() {
                    last_note = notes.len();
                    notes.push_str(&signing.sign_record(n, sg.builder.root()).map_err(|e| format!("cannot sign a checkpoint: {e}"))?);
                    sg.last_signed = n;
                }
                sizes.next();
            }
            Ok(())
        };
        sign_at(sg, &mut notes)?;
        // The batch's records: where each body lies, and the record's offset in the ledger.
        let mut bodies: Vec<(usize, usize)> = Vec::new();
        let mut at = 0usize;
        while let Some(len) = batch.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) {
            let body_len = len as usize;
            if batch.get(at + 4..at + 4 + body_len).is_none() {
                break;
            }
            bodies.push((at, body_len));
            at += 4 + body_len + MAC_LEN;
        }
        // Each body with the byte before it, its length's high byte: 0x00, the leaf prefix (the
        // leaf hashes read the batch where the bodies lie).
        let body = |&(at, len): &(usize, usize)| batch.get(at + 3..at + 4 + len).unwrap_or_default();
        // Leaves two at a time (their hashes' compressions interleave), folded in order.
        let (pairs, odd) = bodies.as_chunks::<2>();
        let leaves = pairs
            .iter()
            .flat_map(|[x, y]| {
                let (lx, ly) = crate::ledger::merkle::leaf_hash_pair_in_place(body(x), body(y));
                [(lx, x.0), (ly, y.0)]
            })
            .chain(odd.iter().map(|r| (crate::ledger::merkle::leaf_hash_in_place(body(r)), r.0)));
        for (leaf, at) in leaves {
            sg.builder.append_leaf(leaf, self.ledger_len + at as u64, &mut tiles);
            sign_at(sg, &mut notes)?;
        }
        // The tree file is a cache, rebuilt on open when it is behind: written, not synced.
        if !tiles.is_empty() {
            sg.tree.write_all(&tiles).map_err(|e| format!("cannot write `{}`: {e}", self.s.config.tree_path().display()))?;
        }
        if !notes.is_empty() {
            let path = self.s.config.signed_path();
            sg.signed
                .write_all(notes.as_bytes())
                .and_then(|()| sg.signed.sync_data())
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            // INVARIANT: the entries and tiles this note covers are on disk before the pusher
            // reads them to prove consistency (entries synced above, tiles written above).
            #[cfg(feature = "witness")]
            if let Some(mailbox) = &self.s.witness {
                mailbox.offer(sg.last_signed, notes.get(last_note..).unwrap_or_default());
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "signing"))]
    #[expect(clippy::unnecessary_wraps, clippy::unused_self, reason = "the signing build's signature")]
    fn sign(&mut self, _batch: &[u8], _cps: &[Checkpoint]) -> Result<(), String> {
        Ok(())
    }

    fn flush_due(&self, st: &State, now: u64) -> bool {
        if st.buf_entries == 0 {
            return false;
        }
        if st.requested > self.durable || st.buf.len() >= self.s.config.max_pending_bytes / 2 {
            return true;
        }
        match self.s.config.durability {
            Durability::EveryAppend => true,
            Durability::Group { entries, interval } => {
                entries.is_some_and(|n| st.buf_entries >= n)
                    || interval.is_some_and(|d| now.saturating_sub(st.buf_since.unwrap_or(now)) >= nanos(d))
            }
        }
    }

    fn timed_checkpoint_due(&self, now: u64) -> bool {
        self.timed_checkpoint_due_at(self.durable, now)
    }

    fn timed_checkpoint_due_at(&self, head: u64, now: u64) -> bool {
        head > self.last_cp_seq && self.s.config.checkpoint.every.is_some_and(|d| now.saturating_sub(self.last_cp_at) >= nanos(d))
    }

    /// How long to sleep before something may be due (`None`: until woken).
    fn next_deadline(&self, st: &State, now: u64) -> Option<Duration> {
        let mut next: Option<u64> = None;
        if let (Durability::Group { interval: Some(d), .. }, Some(since)) = (self.s.config.durability, st.buf_since)
            && st.buf_entries > 0
        {
            next = Some((since + nanos(d)).saturating_sub(now));
        }
        if let Some(d) = self.s.config.checkpoint.every
            && self.durable > self.last_cp_seq
        {
            let left = (self.last_cp_at + nanos(d)).saturating_sub(now);
            next = Some(next.map_or(left, |n| n.min(left)));
        }
        next.map(|n| Duration::from_nanos(n.max(100_000)))
    }

    fn write_checkpoints(&mut self, cps: &[Checkpoint]) -> Result<(), String> {
        let mut bytes = Vec::with_capacity(cps.len() * CHECKPOINT_LEN);
        for cp in cps {
            bytes.extend_from_slice(&cp.encode());
        }
        let path = self.s.config.checkpoint_path();
        self.checkpoints
            .write_all(&bytes)
            .and_then(|()| self.checkpoints.sync_data())
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        // A file deleted while it is open is still written, to nowhere anyone can read: the
        // checkpoints would be lost without a word. Stop instead, as opening would refuse.
        for (file, path) in [(&self.checkpoints, &path), (&self.ledger, &self.s.config.path)] {
            if unlinked(file) {
                return Err(format!(
                    "`{}` was deleted while the ledger was open; no more entries are taken (restore it, or reopen with a new checkpoint history)",
                    path.display()
                ));
            }
        }
        if let Some(last) = cps.last() {
            self.last_cp_seq = last.seq;
        }
        self.last_cp_at = self.s.clock.monotonic_nanos();
        Ok(())
    }
}
