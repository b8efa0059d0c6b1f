//! A small payments service built on pip, enforcing `specs/payments.pips`:
//!
//! - [`bank`]: the books, with `#[pip_invariant]` on the functions that move money (the
//!   spec's three invariants) and on payment admission (its per-tenant rate limit);
//! - [`evidence`]: the spec's ledger `audit` (every payment, transfer, refund, settlement,
//!   invariant violation and configuration change), verified periodically;
//! - [`config`]: the fee schedule in the spec's versioned store `config_store`, on disk;
//! - [`http`]: the HTTP API, and `/metrics` (`pip_runtime::http::metrics`: pip's metrics and
//!   the HTTP metrics the spec's thresholds read, in the format the client asks for).
//!
//! The binary (`main.rs`) parses its arguments and calls [`serve`].
#![warn(missing_docs)]

pub mod bank;
pub mod config;
pub mod evidence;
pub mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pip_runtime::ledger::{LedgerError, LedgerKey, key::KeyError};

/// What `main.rs` builds from its arguments and hands to [`serve`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0: any free port; the address is printed).
    pub listen: SocketAddr,
    /// Folder of the ledger, its checkpoints and the configuration.
    pub data_dir: PathBuf,
    /// How often the ledger is verified.
    pub verify_every: Duration,
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The ledger key is missing or malformed.
    #[error("the audit ledger key: {0}")]
    Key(#[from] KeyError),
    /// The ledger could not be opened or closed.
    #[error("the audit ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The configuration could not be loaded.
    #[error("the configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// Listening or serving failed.
    #[error("cannot {op}: {source}")]
    Io {
        /// What was being done, as a phrase for the message (`listen on 127.0.0.1:8080`, `serve`).
        op: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Runs the service until `shutdown` completes, then closes the ledger (which writes its
/// final checkpoint). The ledger key is read from `$PIP_AUDIT_KEY` and the checkpoint signing
/// key from `$PIP_AUDIT_SIGNING_KEY`, as the spec says.
pub async fn serve(settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServiceError> {
    let io = |op: String| move |source| ServiceError::Io { op, source };
    std::fs::create_dir_all(&settings.data_dir).map_err(io(format!("create `{}`", settings.data_dir.display())))?;
    let key = LedgerKey::from_env(evidence::KEY_ENV)?;
    let (ledger, report) = evidence::open(&settings.data_dir, key)?;
    if let Some(t) = &report.torn_tail {
        eprintln!("payments-service: cut a torn tail of {} bytes off the ledger (saved to {})", t.len, t.saved_to.display());
    }
    let sink: Arc<dyn pip_runtime::evidence::EvidenceSink> = Arc::new(ledger.clone());
    let config = config::ConfigStore::load(evidence::SPEC, &settings.data_dir.join("config.json"), pip_runtime::runtime().metrics(), sink)?;
    let verifier = evidence::Verifier::start(ledger.clone(), settings.verify_every).map_err(io("start the ledger verifier".into()))?;
    let app = Arc::new(http::App { books: Mutex::new(bank::Books::default()), config: Mutex::new(config), ledger: ledger.clone() });
    let router = http::router(app, http::HttpMetrics::register());
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(io(format!("listen on {}", settings.listen)))?;
    let addr = listener.local_addr().map_err(io("read the listening address".into()))?;
    println!("payments-service listening on http://{addr} (ledger head seq {})", report.head_seq);
    let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await.map_err(io("serve".into()));
    drop(verifier);
    ledger.close()?;
    served
}
