//! `pipc log append`: entries from flags, or streamed from JSON lines of standard input,
//! appended in batches as they arrive (the work is in the runtime's
//! [`pip_runtime::ledger::import`]).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pip_compiler::ir::{DEFAULT_WITNESS_SILENCE, KeySource, Sync};
use pip_runtime::clock::{Clock, SystemClock};
use pip_runtime::declared::{LedgerDecl, WitnessDecl};
use pip_runtime::evidence::Event;
use pip_runtime::hex::to_hex;
use pip_runtime::ledger::import::{Imported, Source, import};
use pip_runtime::ledger::timefmt::format_millis;
use pip_runtime::ledger::{Durability, Ledger, LedgerConfig};

use crate::out::Out;
use crate::spec_ledger::spec_ledger;
use crate::{EXIT_OK, EXIT_USAGE};
use crate::{EntryArgs, KeyArgs};

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
        result: e.result.clone().unwrap_or_else(|| "ok".to_string()),
    }))
}

/// Where `pipc log append` writes, and the spec that says how to checkpoint.
pub(crate) struct AppendTarget<'a> {
    /// The ledger file, created when missing (its header naming the spec and ledger when
    /// specs are given).
    pub ledger: &'a Path,
    /// Its checkpoint file, when not the default.
    pub checkpoints: Option<&'a PathBuf>,
    /// Spec files or directories (none: the library's defaults).
    pub specs: &'a [PathBuf],
    /// The ledger's name in the specs.
    pub name: Option<&'a str>,
    /// Start a new checkpoint history when the checkpoint file is missing or empty.
    pub new_checkpoint_history: bool,
    /// The Ed25519 key file that signs the checkpoints (`--signing-key`).
    pub signing_key: Option<&'a Path>,
    /// The signed checkpoints' origin (`--origin`).
    pub origin: Option<&'a str>,
}

impl AppendTarget<'_> {
    /// The ledger's configuration: the spec's declaration when specs are given (as a service
    /// declaring it gets it). Every entry is synced before the command reports it, whatever
    /// the spec's durability.
    fn config(&self) -> Result<LedgerConfig, String> {
        let mut cfg = if self.specs.is_empty() {
            LedgerConfig::new("", "", self.ledger)
        } else {
            let (spec, l) = spec_ledger(self.specs, self.name)?;
            let subsystems: Vec<&str> = l.expects.iter().map(|e| e.subsystem.as_str()).collect();
            let witnesses: Vec<WitnessDecl<'_>> =
                l.signing.iter().flat_map(|s| &s.witnesses).map(|w| WitnessDecl { url: &w.url, key: &w.key }).collect();
            let (sync_every_append, sync_entries, sync_every_millis) = match &l.sync {
                Sync::EveryAppend => (true, None, None),
                Sync::Group { entries, interval } => (false, *entries, interval.as_ref().map(|d| d.millis)),
            };
            let decl = LedgerDecl {
                name: &l.name,
                checkpoint_entries: l.checkpoint.every_entries,
                checkpoint_every_millis: l.checkpoint.every.as_ref().map(|d| d.millis),
                sync_every_append,
                sync_entries,
                sync_every_millis,
                expected_subsystems: &subsystems,
                clock_tolerance_millis: l.clock_tolerance.millis,
                signing_key_env: match l.signing.as_ref().map(|s| &s.key) {
                    Some(KeySource::Env(v)) => Some(v),
                    _ => None,
                },
                signing_key_file: match l.signing.as_ref().map(|s| &s.key) {
                    Some(KeySource::File(p)) => Some(p),
                    _ => None,
                },
                origin: l.signing.as_ref().map(|s| s.origin.as_str()),
                witnesses: &witnesses,
                witness_quorum: l.signing.as_ref().map_or(0, |s| s.quorum),
                witness_silence_millis: l.signing.as_ref().map_or(DEFAULT_WITNESS_SILENCE, |s| s.silence).millis,
            };
            decl.config(&spec, self.ledger)
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
            out.err(format!("{e}; nothing appended"));
            return EXIT_USAGE;
        }
    };
    let from_flags = match events_from_flags(entry) {
        Ok(e) => e,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let key = match key.load(out) {
        Ok(k) => k,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let signing = match crate::signed_commands::append_signing(out, target.signing_key, target.origin, target.specs, target.name) {
        Ok(s) => s,
        Err(e) => {
            out.err(format!("{e}; nothing appended"));
            return EXIT_USAGE;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let opened = match signing {
        Some(signing) => Ledger::open_signed(cfg, key, signing, clock, None),
        None => Ledger::open(cfg, key, clock, None),
    };
    let (handle, report) = match opened {
        Ok(x) => x,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    if let Some(t) = &report.torn_tail {
        out.err(format!(
            "warning: the ledger ended in an unfinished entry ({} bytes at offset {}); it was cut off and saved to `{}`",
            t.len,
            t.offset,
            t.saved_to.display()
        ));
    }
    let source = match from_flags {
        Some(e) => Source::One(e),
        None => Source::Lines { input: stdin, name: "standard input".to_string() },
    };
    let Imported { appended, failure } = import(&handle, source, &mut |receipts| {
        for r in receipts {
            let line = serde_json::json!({ "seq": r.seq, "ts": r.ts_millis, "time": format_millis(r.ts_millis), "hash": to_hex(&r.hash) });
            let _ = writeln!(out.stdout, "{line}");
        }
    });
    let closed = handle.close();
    match (failure, closed) {
        (None, Ok(())) => EXIT_OK,
        (failure, closed) => {
            let done = match appended {
                None => "nothing appended".to_string(),
                Some((a, b)) if a == b => format!("the entry before it was appended (seq {a}), nothing after"),
                Some((a, b)) => format!("the entries before it were appended (seq {a} to {b}), nothing after"),
            };
            let what = failure.map(|e| e.to_string()).or_else(|| closed.err().map(|e| e.to_string())).unwrap_or_default();
            out.err(format!("{what}; {done}"));
            EXIT_USAGE
        }
    }
}
