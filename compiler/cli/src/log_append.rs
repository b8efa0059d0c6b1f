//! `pipc log append`: entries from flags, or streamed from JSON lines of standard input,
//! appended in batches as they arrive (the work is in the runtime's [`Ledger`]).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use pip_runtime::clock::{Clock, SystemClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::key::to_hex;
use pip_runtime::ledger::timefmt::format_millis;
use pip_runtime::ledger::{CheckpointPolicy, Durability, Ledger, LedgerConfig};

use crate::commands::Out;
use crate::ledger_commands::{EntryArgs, KeyArgs, err, spec_ledger};
use crate::{EXIT_OK, EXIT_USAGE};

/// One JSON line of `log append`'s input.
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

fn events_from_flags(e: &EntryArgs) -> Result<Option<Event>, String> {
    let given = [&e.subsystem, &e.actor, &e.action, &e.resource, &e.payload, &e.result];
    if given.iter().all(|f| f.is_none()) {
        return Ok(None);
    }
    let need = |v: &Option<String>, flag: &str| v.clone().ok_or_else(|| format!("`{flag}` is required to append an entry from flags"));
    let payload = match &e.payload {
        Some(text) => serde_json::from_str(text).map_err(|x| format!("`--payload` is not JSON: {x}"))?,
        None => serde_json::Value::Null,
    };
    Ok(Some(Event {
        subsystem: need(&e.subsystem, "--subsystem")?,
        actor: need(&e.actor, "--actor")?,
        action: need(&e.action, "--action")?,
        resource: need(&e.resource, "--resource")?,
        payload,
        result: e.result.clone().unwrap_or_else(ok),
    }))
}

/// Longest input line of `log append`: room for the longest entry, written with spaces and
/// escapes. A longer line is refused without holding more of it.
const MAX_LINE_BYTES: u64 = 4 * pip_runtime::ledger::format::MAX_BODY_LEN as u64;
/// Most parsed entries waiting between the reading thread and the appending one.
const QUEUE_ENTRIES: usize = 8192;
/// Most entries appended (and synced) at once.
const MAX_BATCH: usize = 8192;
/// Most bytes of input lines whose entries are queued or in the batch being appended. A
/// count alone does not bound memory: 8192 lines of a few MiB each would be gigabytes.
const QUEUE_BYTES: u64 = 4 << 20;

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
type Queued = (Result<Event, String>, u64);

/// Reads JSON lines, sending each entry, or the first error (naming its line) after which
/// it stops. Holds one line at a time, and takes each line's length from `budget` before
/// parsing it (the receiver gives it back).
fn read_events(mut input: Box<dyn BufRead + Send>, tx: &std::sync::mpsc::SyncSender<Queued>, budget: &ByteBudget) {
    let mut line = Vec::new();
    for n in 1u64.. {
        line.clear();
        let got = (&mut input).take(MAX_LINE_BYTES + 1).read_until(b'\n', &mut line);
        let cost = line.len() as u64;
        budget.take(cost);
        let item = match got {
            Ok(0) => return,
            Err(e) => Err(format!("cannot read line {n} of standard input: {e}")),
            Ok(_) if line.len() as u64 > MAX_LINE_BYTES => {
                Err(format!("line {n} of standard input is longer than {MAX_LINE_BYTES} bytes; no entry is that long"))
            }
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
                .map_err(|e| format!("line {n} of standard input is not an entry: {e}")),
        };
        let stop = item.is_err();
        if tx.send((item, cost)).is_err() || stop {
            return;
        }
    }
}

/// Where `pipc log append` writes, and the spec that says how to checkpoint.
pub(crate) struct AppendTarget<'a> {
    /// The ledger file.
    pub ledger: &'a Path,
    /// Its checkpoint file, when not the default.
    pub checkpoints: Option<&'a PathBuf>,
    /// Spec files or directories (none: the library's defaults).
    pub specs: &'a [PathBuf],
    /// The ledger's name in the specs.
    pub name: Option<&'a str>,
    /// Start a new checkpoint history when the checkpoint file is missing or empty.
    pub new_checkpoint_history: bool,
}

impl AppendTarget<'_> {
    /// The ledger's configuration: the spec's checkpoint policy when specs are given. Every
    /// entry is synced before the command reports it, whatever the spec's durability.
    fn config(&self) -> Result<LedgerConfig, String> {
        let mut cfg = if self.specs.is_empty() {
            LedgerConfig::new("", "", self.ledger)
        } else {
            let (spec, l) = spec_ledger(self.specs, self.name)?;
            let mut cfg = LedgerConfig::new(spec, l.name.as_str(), self.ledger);
            cfg.checkpoint = CheckpointPolicy {
                every_entries: l.checkpoint.every_entries,
                every: l.checkpoint.every.as_ref().map(|d| std::time::Duration::from_millis(d.millis)),
            };
            cfg.clock_tolerance = std::time::Duration::from_millis(l.clock_tolerance.millis);
            cfg
        };
        cfg.new_checkpoint_history = self.new_checkpoint_history;
        cfg.checkpoint_path = self.checkpoints.cloned();
        cfg.durability = Durability::Group { entries: None, interval: Some(std::time::Duration::from_secs(1)) };
        Ok(cfg)
    }
}

/// `pipc log append`: one entry from flags, or one per JSON line of `stdin`, streamed. A
/// thread reads and parses the lines while this one appends what has arrived as one batch,
/// syncs it and prints one JSON line per entry: memory stays bounded whatever the input's
/// length, and each line is durable soon after it is read, even while the input stays open.
/// A bad line stops the command there: the entries of the lines before it are appended
/// (and printed), none from it on, and the error names its line.
pub(crate) fn append(out: &mut Out<'_>, stdin: Box<dyn BufRead + Send>, target: &AppendTarget<'_>, key: &KeyArgs, entry: &EntryArgs) -> u8 {
    let cfg = match target.config() {
        Ok(c) => c,
        Err(e) => {
            err(out, format!("{e}; nothing appended"));
            return EXIT_USAGE;
        }
    };
    let from_flags = match events_from_flags(entry) {
        Ok(e) => e,
        Err(e) => {
            err(out, e);
            return EXIT_USAGE;
        }
    };
    let key = match key.load(out) {
        Ok(k) => k,
        Err(e) => {
            err(out, e);
            return EXIT_USAGE;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let (handle, report) = match Ledger::open(cfg, key, clock, None) {
        Ok(x) => x,
        Err(e) => {
            err(out, e);
            return EXIT_USAGE;
        }
    };
    if let Some(t) = &report.torn_tail {
        err(
            out,
            format!(
                "warning: the ledger ended in an unfinished entry ({} bytes at offset {}); it was cut off and saved to `{}`",
                t.len,
                t.offset,
                t.saved_to.display()
            ),
        );
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Queued>(QUEUE_ENTRIES);
    let budget = Arc::new(ByteBudget::new(QUEUE_BYTES));
    match from_flags {
        Some(e) => {
            let _ = tx.send((Ok(e), 0));
            drop(tx);
        }
        // Not joined: after a failed append the process ends without waiting for more input.
        None => {
            let budget = Arc::clone(&budget);
            drop(std::thread::spawn(move || read_events(stdin, &tx, &budget)));
        }
    }
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
        let receipts = match handle.append_batch(&batch).and_then(|r| handle.sync().map(|_| r)) {
            Ok(r) => r,
            Err(e) => break Some(format!("{e}")),
        };
        // The batch is written and dropped: its lines' budget lets the reader parse more.
        batch.clear();
        budget.give(held);
        for r in &receipts {
            let line = serde_json::json!({ "seq": r.seq, "ts": r.ts_millis, "time": format_millis(r.ts_millis), "hash": to_hex(&r.hash) });
            let _ = writeln!(out.stdout, "{line}");
        }
        if let (Some(first), Some(last)) = (receipts.first(), receipts.last()) {
            appended = Some((appended.map_or(first.seq, |(a, _)| a), last.seq));
        }
        if let Some(e) = stop {
            break Some(e);
        }
    };
    let closed = handle.close();
    match (failure, closed) {
        (None, Ok(())) => EXIT_OK,
        (failure, closed) => {
            let done = match appended {
                None => "nothing appended".to_string(),
                Some((a, b)) if a == b => format!("the entry before it was appended (seq {a}), nothing after"),
                Some((a, b)) => format!("the entries before it were appended (seq {a} to {b}), nothing after"),
            };
            let what = failure.or_else(|| closed.err().map(|e| e.to_string())).unwrap_or_default();
            err(out, format!("{what}; {done}"));
            EXIT_USAGE
        }
    }
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
            std::thread::spawn(move || read_events(input, &tx, &budget))
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
