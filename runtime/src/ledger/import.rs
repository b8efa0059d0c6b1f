//! Streaming entries into a ledger: JSON lines read and parsed on one thread while the
//! caller's thread appends what has arrived as one batch and syncs it, so that memory stays
//! bounded whatever the input's length and each line is durable soon after it is read, even
//! while the input stays open. `pipc log append` is this function plus printing.
//!
//! The queue between the threads is bounded in entries and in bytes (`ByteBudget`): a
//! count alone does not bound memory, since 8192 lines of a few MiB each would be gigabytes.

use std::io::{BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::evidence::Event;
use crate::ledger::format::MAX_BODY_LEN;
use crate::ledger::{Ledger, LedgerError, Receipt};

/// Longest input line: room for the longest entry, written with spaces and escapes. A longer
/// line is refused without holding more of it.
pub const MAX_LINE_BYTES: u64 = 4 * MAX_BODY_LEN as u64;
/// Most parsed entries waiting between the reading thread and the appending one.
const QUEUE_ENTRIES: usize = 8192;
/// Most entries appended (and synced) at once.
const MAX_BATCH: usize = 8192;
/// Most bytes of input lines whose entries are queued or in the batch being appended.
const QUEUE_BYTES: u64 = 4 << 20;

/// The input of an [`import`]: one event, or a stream of JSON lines (`pipc log append`).
pub enum Source {
    /// One event, appended and synced alone.
    One(Event),
    /// One entry per JSON line (`subsystem`, `actor`, `action`, `resource`, and optionally
    /// `payload` and `result`, which defaults to `ok`); blank lines are skipped.
    Lines {
        /// The reader, read line by line on a thread of its own until it ends.
        input: Box<dyn BufRead + Send>,
        /// What to call it in errors (`standard input`).
        name: String,
    },
}

/// Why an import stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the input failed at that line.
    #[error("cannot read line {line} of {input}: {source}")]
    Read {
        /// The input's name as the caller gave it (`standard input`, a path).
        input: String,
        /// The line number (from 1).
        line: u64,
        /// The I/O error from the input.
        source: std::io::Error,
    },
    /// A line is longer than any entry.
    #[error("line {line} of {input} is longer than {MAX_LINE_BYTES} bytes; no entry is that long")]
    TooLong {
        /// The input's name as the caller gave it (`standard input`, a path).
        input: String,
        /// The line number (from 1).
        line: u64,
    },
    /// A line is not JSON, or lacks a required field, or has one of the wrong type.
    #[error("line {line} of {input} is not an entry: {source}")]
    NotAnEntry {
        /// The input's name as the caller gave it (`standard input`, a path).
        input: String,
        /// The line number (from 1).
        line: u64,
        /// serde_json's error, which says where in the line and what it expected.
        source: serde_json::Error,
    },
    /// Appending or syncing a batch failed.
    #[error("{0}")]
    Append(#[from] LedgerError),
}

/// How an import ended: the seqs appended (first and last), and the error that stopped it.
/// The entries of the lines before a bad one are appended, none from it on.
#[derive(Debug)]
pub struct Imported {
    /// The first and last seq appended, if any.
    pub appended: Option<(u64, u64)>,
    /// Why it stopped before the end of the input.
    pub failure: Option<ImportError>,
}

/// One JSON line of the input.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLine {
    subsystem: String,
    actor: String,
    action: String,
    resource: String,
    #[serde(default)]
    payload: serde_json::Value,
    #[serde(default = "ok")]
    result: String,
}

fn ok() -> String {
    "ok".to_string()
}

/// The bytes of input lines held between reading a line and appending its entry: the reader
/// takes a line's length before parsing it, the appender gives a batch's back once it is
/// appended. A line longer than the whole budget is let through alone, when nothing else is
/// held, so that every entry can be appended; so at most `max(cap, one line)` input bytes
/// (and their parsed entries, a small multiple of them) are held at once.
#[derive(Debug)]
struct ByteBudget {
    cap: u64,
    held: Mutex<u64>,
    freed: Condvar,
}

impl ByteBudget {
    fn new(cap: u64) -> Self {
        Self { cap, held: Mutex::new(0), freed: Condvar::new() }
    }

    fn fits(&self, held: u64, n: u64) -> bool {
        held == 0 || held.saturating_add(n) <= self.cap
    }

    /// Takes `n` bytes, waiting until they fit.
    fn take(&self, n: u64) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held = self.freed.wait_while(held, |h| !self.fits(*h, n)).unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_add(n);
    }

    /// Takes `n` bytes if they fit now.
    #[cfg(test)]
    fn try_take(&self, n: u64) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let fits = self.fits(*held, n);
        if fits {
            *held = held.saturating_add(n);
        }
        fits
    }

    /// Gives back `n` bytes taken before.
    fn give(&self, n: u64) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(n);
        self.freed.notify_all();
    }

    #[cfg(test)]
    fn held(&self) -> u64 {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One queued entry, with the bytes of budget its line took.
type Queued = (Result<Event, ImportError>, u64);

/// Reads JSON lines, sending each entry, or the first error (naming its line) after which
/// it stops. Holds one line at a time, and takes each line's length from `budget` before
/// parsing it (the receiver gives it back).
fn read_events(mut input: Box<dyn BufRead + Send>, name: &str, tx: &SyncSender<Queued>, budget: &ByteBudget) {
    let mut line = Vec::new();
    for n in 1u64.. {
        line.clear();
        let got = (&mut input).take(MAX_LINE_BYTES + 1).read_until(b'\n', &mut line);
        let cost = line.len() as u64;
        budget.take(cost);
        let item = match got {
            Ok(0) => return,
            Err(source) => Err(ImportError::Read { input: name.to_string(), line: n, source }),
            Ok(_) if line.len() as u64 > MAX_LINE_BYTES => Err(ImportError::TooLong { input: name.to_string(), line: n }),
            Ok(_) if line.trim_ascii().is_empty() => {
                budget.give(cost);
                continue;
            }
            Ok(_) => serde_json::from_slice::<EventLine>(&line)
                .map(|e| Event {
                    subsystem: e.subsystem,
                    actor: e.actor,
                    action: e.action,
                    resource: e.resource,
                    payload: e.payload,
                    result: e.result,
                })
                .map_err(|source| ImportError::NotAnEntry { input: name.to_string(), line: n, source }),
        };
        let stop = item.is_err();
        if tx.send((item, cost)).is_err() || stop {
            return;
        }
    }
}

/// Appends the entries of `source` to `ledger` in batches, each appended and synced before
/// `on_synced` gets its receipts. A bad line stops the import there: the entries of the lines
/// before it are appended (and reported), none from it on. The ledger is left open.
pub fn import(ledger: &Ledger, source: Source, on_synced: &mut dyn FnMut(&[Receipt])) -> Imported {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Queued>(QUEUE_ENTRIES);
    let budget = Arc::new(ByteBudget::new(QUEUE_BYTES));
    match source {
        Source::One(e) => {
            let _ = tx.send((Ok(e), 0));
            drop(tx);
        }
        // Not joined: after a failed append the caller may end without waiting for more input.
        Source::Lines { input, name } => {
            let budget = Arc::clone(&budget);
            drop(std::thread::spawn(move || read_events(input, &name, &tx, &budget)));
        }
    }
    append_queued(ledger, &rx, &budget, on_synced)
}

fn append_queued(ledger: &Ledger, rx: &Receiver<Queued>, budget: &ByteBudget, on_synced: &mut dyn FnMut(&[Receipt])) -> Imported {
    let mut appended: Option<(u64, u64)> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let failure = loop {
        batch.clear();
        let (first, mut held) = match rx.recv() {
            Ok(x) => x,
            Err(_) => break None,
        };
        let mut stop = match first {
            Ok(e) => {
                batch.push(e);
                None
            }
            Err(e) => Some(e),
        };
        while stop.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((item, cost)) => {
                    held = held.saturating_add(cost);
                    match item {
                        Ok(e) => batch.push(e),
                        Err(e) => stop = Some(e),
                    }
                }
                Err(_) => break,
            }
        }
        let receipts = match ledger.append_batch(&batch).and_then(|r| ledger.sync().map(|_| r)) {
            Ok(r) => r,
            Err(e) => break Some(ImportError::Append(e)),
        };
        // The batch is written and dropped: its lines' budget lets the reader parse more.
        batch.clear();
        budget.give(held);
        on_synced(&receipts);
        if let (Some(first), Some(last)) = (receipts.first(), receipts.last()) {
            appended = Some((appended.map_or(first.seq, |(a, _)| a), last.seq));
        }
        if let Some(e) = stop {
            break Some(e);
        }
    };
    Imported { appended, failure }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    fn line(i: usize, pad: usize) -> String {
        format!("{{\"subsystem\":\"s\",\"actor\":\"a\",\"action\":\"x\",\"resource\":\"r/{i}\",\"payload\":\"{}\"}}\n", "p".repeat(pad))
    }

    #[test]
    fn the_budget_holds_at_most_its_cap_or_one_larger_item() {
        let b = ByteBudget::new(100);
        assert!(b.try_take(60));
        assert!(b.try_take(40));
        assert!(!b.try_take(1), "full");
        b.give(40);
        assert!(!b.try_take(41));
        assert!(b.try_take(40));
        b.give(100);
        assert_eq!(b.held(), 0);
        // Longer than the whole budget: only alone.
        assert!(b.try_take(1000));
        assert!(!b.try_take(1));
        b.give(1000);
        assert!(b.try_take(1));
    }

    /// The reader stops taking lines once the queued ones fill the budget, whatever the
    /// count: with 3 lines' worth of budget, a 4th line is not sent until one is given back.
    #[test]
    fn the_reader_queues_lines_up_to_the_byte_budget_not_a_count() {
        let lines: Vec<String> = (0..6).map(|i| line(i, 10_000)).collect();
        let len = lines[0].len() as u64;
        let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(lines.concat().into_bytes()));
        let budget = Arc::new(ByteBudget::new(3 * len));
        let (tx, rx) = std::sync::mpsc::sync_channel::<Queued>(QUEUE_ENTRIES);
        let reader = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || read_events(input, "standard input", &tx, &budget))
        };
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(rx.recv().unwrap());
        }
        // The reader holds the whole budget, so it cannot have parsed (let alone sent) a 4th.
        assert_eq!(budget.held(), 3 * len);
        assert!(rx.try_recv().is_err(), "a line past the byte budget was queued");
        budget.give(got[0].1);
        got.push(rx.recv().unwrap());
        for (_, cost) in &got[1..] {
            budget.give(*cost);
        }
        got.push(rx.recv().unwrap());
        got.push(rx.recv().unwrap());
        reader.join().unwrap();
        assert!(got.iter().all(|(e, cost)| e.is_ok() && *cost == len));
        let resources: Vec<String> = got.into_iter().map(|(e, _)| e.unwrap().resource).collect();
        assert_eq!(resources, (0..6).map(|i| format!("r/{i}")).collect::<Vec<_>>());
    }
}
