//! `pipc log append`: entries from flags, or streamed from JSON lines of standard input,
//! appended in batches as they arrive (the work is in the runtime's [`Ledger`]).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Reads JSON lines, sending each entry, or the first error (naming its line) after which
/// it stops. Holds one line at a time.
fn read_events(mut input: Box<dyn BufRead + Send>, tx: &std::sync::mpsc::SyncSender<Result<Event, String>>) {
    let mut line = Vec::new();
    for n in 1u64.. {
        line.clear();
        let got = (&mut input).take(MAX_LINE_BYTES + 1).read_until(b'\n', &mut line);
        let item = match got {
            Ok(0) => return,
            Err(e) => Err(format!("cannot read line {n} of standard input: {e}")),
            Ok(_) if line.len() as u64 > MAX_LINE_BYTES => {
                Err(format!("line {n} of standard input is longer than {MAX_LINE_BYTES} bytes; no entry is that long"))
            }
            Ok(_) if line.trim_ascii().is_empty() => continue,
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
        if tx.send(item).is_err() || stop {
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
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_ENTRIES);
    match from_flags {
        Some(e) => {
            let _ = tx.send(Ok(e));
            drop(tx);
        }
        // Not joined: after a failed append the process ends without waiting for more input.
        None => drop(std::thread::spawn(move || read_events(stdin, &tx))),
    }
    let mut appended: Option<(u64, u64)> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let failure = loop {
        batch.clear();
        let mut stop = match rx.recv() {
            Ok(Ok(e)) => {
                batch.push(e);
                None
            }
            Ok(Err(e)) => Some(e),
            Err(_) => break None,
        };
        while stop.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Ok(e)) => batch.push(e),
                Ok(Err(e)) => stop = Some(e),
                Err(_) => break,
            }
        }
        let receipts = match handle.append_batch(&batch).and_then(|r| handle.sync().map(|_| r)) {
            Ok(r) => r,
            Err(e) => break Some(format!("{e}")),
        };
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
