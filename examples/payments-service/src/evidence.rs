//! The spec's ledger `audit`: opening it as the spec configures it, registering it as the
//! evidence sink of the invariants, and verifying it periodically so that tampering shows in
//! `pip_ledger_anomalies_total`, and a ledger that cannot be verified at all in
//! `pip_ledger_verification_errors_total` (`PipLedgerVerificationFailed` alerts on both).

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use pip_runtime::clock::SystemClock;
use pip_runtime::declared::SpecDecl;
use pip_runtime::evidence::Event;
use pip_runtime::ledger::{Ledger, LedgerConfig, LedgerError, LedgerKey, OpenReport};
use pip_runtime::runtime;

/// The spec id, as `specs/payments.pips` declares it (`spec payments`).
pub const SPEC: &str = "payments";
/// The ledger's name in the spec (`ledger audit`), the `ledger` label of its metrics.
pub const LEDGER: &str = "audit";
/// The ledger file's name in the data folder (checkpoints are next to it, `.ckpt`).
pub const LEDGER_FILE: &str = "audit.ledger";
/// Where the spec says the key is: `key = env("PIP_AUDIT_KEY")`.
pub const KEY_ENV: &str = "PIP_AUDIT_KEY";
/// Where the spec says the checkpoint signing key is: `signing_key = env("PIP_AUDIT_SIGNING_KEY")`
/// (the `PRIVATE+KEY+...` text `pipc keygen --signing` writes).
pub const SIGNING_KEY_ENV: &str = "PIP_AUDIT_SIGNING_KEY";

/// What `specs/payments.pips` declares, read at compile time: the invariants' and the rate
/// limit's series, and the ledger's figures (`checkpoint every 1000 entries or 10s`,
/// `sync every 64 entries or 5ms`, the subsystems it expects evidence from).
pub static SPEC_DECL: SpecDecl = pip_runtime::pip_spec!("payments");

/// The ledger as the spec configures it, in `data_dir`.
pub fn ledger_config(data_dir: &Path) -> LedgerConfig {
    // The spec names ledger `audit` (checked when the spec is read at compile time too: a
    // test below compares with the generated IR).
    SPEC_DECL
        .ledger_config(LEDGER, data_dir.join(LEDGER_FILE))
        .unwrap_or_else(|| LedgerConfig::new(SPEC, LEDGER, data_dir.join(LEDGER_FILE)))
}

/// Opens the ledger with the process's metrics and registers it as the evidence sink of spec
/// `payments`, after exporting every series the spec declares at zero (the ledger exports
/// its anomaly classes at zero itself), so that the first violation, refusal or anomaly is an
/// *increase* Prometheus can see.
///
/// When the spec gives the ledger a `signing_key`, it is loaded from there and the ledger
/// signs its checkpoints (`<ledger>.signed`); a key file open to others is warned about on
/// stderr.
pub fn open(data_dir: &Path, key: LedgerKey) -> Result<(Ledger, OpenReport), LedgerError> {
    SPEC_DECL.declare().map_err(|e| LedgerError::Config(e.to_string()))?;
    let config = ledger_config(data_dir);
    let clock = Arc::new(SystemClock::new());
    let signing = SPEC_DECL.ledgers.iter().find(|l| l.name == LEDGER).and_then(|l| l.signing(SPEC));
    let (ledger, report) = match signing {
        None => Ledger::open(config, key, clock, Some(runtime().metrics()))?,
        Some(Err(e)) => return Err(LedgerError::Config(e.to_string())),
        Some(Ok((signing, warning))) => {
            if let Some(w) = warning {
                eprintln!("payments-service: warning: {w}");
            }
            Ledger::open_signed(config, key, signing, clock, Some(runtime().metrics()))?
        }
    };
    runtime().register_ledger(SPEC, LEDGER, Arc::new(ledger.clone()));
    Ok((ledger, report))
}

/// An event of the service itself (a payment, a transfer, a settlement...).
pub fn event(subsystem: &str, actor: &str, action: &str, resource: &str, payload: serde_json::Value) -> Event {
    Event {
        subsystem: subsystem.into(),
        actor: actor.into(),
        action: action.into(),
        resource: resource.into(),
        payload,
        result: "ok".into(),
    }
}

/// A thread verifying the ledger every `interval`; stops when dropped.
#[derive(Debug)]
pub struct Verifier {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Verifier {
    /// Starts verifying `ledger` every `interval`. Each run adds the anomalies it finds to
    /// `pip_ledger_anomalies_total`, and a run that cannot verify at all (an unreadable,
    /// emptied or unrecognizable ledger) adds one to `pip_ledger_verification_errors_total`
    /// ([`Ledger::verify`] counts both); `PipLedgerVerificationFailed` reads both. A damaged
    /// ledger keeps counting for as long as it stays damaged, so the alert keeps firing. Each
    /// change of what verification says is logged to stderr once.
    pub fn start(ledger: Ledger, interval: Duration) -> std::io::Result<Verifier> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("audit-verifier".into()).spawn(move || {
            let mut reported = 0u64;
            let mut failed: Option<String> = None;
            loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                match ledger.verify(1) {
                    Ok(report) => {
                        failed = None;
                        if news(&mut reported, &report) {
                            for a in &report.anomalies {
                                eprintln!("payments-service: ledger verification: {}", a.to_json());
                            }
                        }
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if failed.as_deref() != Some(text.as_str()) {
                            eprintln!("payments-service: ledger verification failed: {text}");
                            failed = Some(text);
                        }
                    }
                }
            }
        })?;
        Ok(Verifier { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether `report` says something else than the last one logged (whose anomaly count is
/// `reported`, updated): counted by anomalies, not by the runs that summarize them, so a run
/// that grows is news.
fn news(reported: &mut u64, report: &pip_runtime::ledger::Report) -> bool {
    let count = report.anomaly_count();
    let changed = count != *reported;
    *reported = count;
    changed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// The spec's IR, as `pipc build` wrote it.
    fn ir() -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../generated/ir/payments.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn the_ledger_and_store_settings_are_the_specs() {
        let ir = ir();
        let spec = &ir["spec"];
        assert_eq!(spec["name"], SPEC);
        let ledger = &spec["ledgers"][0];
        assert_eq!(ledger["name"], LEDGER);
        assert_eq!(ledger["key"]["env"], KEY_ENV);
        assert_eq!(ledger["signing"]["key"]["env"], SIGNING_KEY_ENV);
        let decl = SPEC_DECL.ledgers.iter().find(|l| l.name == LEDGER).unwrap();
        assert_eq!(decl.signing_key_env, Some(SIGNING_KEY_ENV));
        assert_eq!(decl.origin, ledger["signing"]["origin"].as_str());
        let config = ledger_config(Path::new("/data"));
        assert_eq!(config.path, Path::new("/data/audit.ledger"));
        let expects: Vec<&str> = ledger["expects"].as_array().unwrap().iter().map(|e| e["subsystem"].as_str().unwrap()).collect();
        assert_eq!(config.expected_subsystems, expects);
        assert_eq!(expects, ["billing", "settlement"]);
        assert_eq!(config.checkpoint.every_entries, ledger["checkpoint"]["every_entries"].as_u64());
        assert_eq!(ledger["checkpoint"]["every"], "10s");
        assert_eq!(config.checkpoint.every, Some(Duration::from_secs(10)));
        let pip_runtime::ledger::Durability::Group { entries, interval } = config.durability else { unreachable!("group commit") };
        assert_eq!(entries, ledger["sync"]["group"]["entries"].as_u64());
        assert_eq!(ledger["sync"]["group"]["interval"], "5ms");
        assert_eq!(interval, Some(Duration::from_millis(5)));
        let store = &spec["versioned"][0];
        assert_eq!(store["name"], crate::config::STORE);
        assert_eq!(store["history"].as_u64(), Some(crate::config::HISTORY));
        assert_eq!(store["evidence"], LEDGER);
    }

    #[test]
    fn a_growing_run_of_anomalies_is_news() {
        use pip_runtime::ledger::verify::FileKind;
        use pip_runtime::ledger::{Anomaly, AnomalyClass, Report};
        let mut run = Anomaly::new(AnomalyClass::Modified, FileKind::Ledger, 10, None, "mac 1".into());
        let mut report = Report { anomalies: vec![run.clone()], ..Report::default() };
        let mut reported = 0;
        assert!(news(&mut reported, &report));
        assert!(!news(&mut reported, &report), "the same report is logged once");
        run.absorb(&Anomaly::new(AnomalyClass::Modified, FileKind::Ledger, 20, None, "mac 2".into()));
        report.anomalies = vec![run];
        assert_eq!(report.anomalies.len(), 1, "still one run");
        assert!(news(&mut reported, &report), "a run that grew is logged again");
    }
}
