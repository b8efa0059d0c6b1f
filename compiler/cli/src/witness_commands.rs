//! `pipc witness serve`: a C2SP tlog-witness (c2sp.org/tlog-witness) over HTTP/1.1. The
//! protocol — judging an `add-checkpoint` request, cosigning, keeping the state — is
//! [`pip_runtime::ledger::witness::Witness`]; here keys are loaded and the requests carried.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pip_runtime::ledger::KeySource;
use pip_runtime::ledger::key::KeyWarning;
use pip_runtime::ledger::note::{NoteSigner, NoteVerifiers, SignatureType};
use pip_runtime::ledger::signed::{is_valid_origin, load_signer};
use pip_runtime::ledger::witness::{MAX_REQUEST_BYTES, Witness};

use crate::out::Out;
use crate::signed_commands::load_verifiers;
use crate::{EXIT_OK, EXIT_USAGE};

/// What the request handlers share: the one witness, whose requests take turns (which makes
/// each check-and-update of the state atomic, as [`Witness::add_checkpoint`] requires), and
/// where errors are logged.
#[derive(Clone)]
struct Shared {
    witness: Arc<Mutex<Witness>>,
    // `main` holds stderr locked while a command runs, so the handlers' threads cannot write
    // to it: they send their lines to the thread that serves, which prints them.
    log: tokio::sync::mpsc::UnboundedSender<String>,
}

/// `pipc witness serve`: loads the cosigning key and the logs' verifier keys, opens the state
/// and serves `POST /add-checkpoint` on `listen` until SIGINT or SIGTERM.
pub(crate) fn serve(out: &mut Out<'_>, key: &Path, logs: &[String], state: &Path, listen: &str) -> u8 {
    let signer = match load_cosigner(out, key) {
        Ok(s) => s,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let logs = match load_logs(logs) {
        Ok(l) => l,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let verifier = signer.verifier().to_text();
    let origins: Vec<String> = logs.keys().cloned().collect();
    let witness = match Witness::open(signer, logs, state) {
        Ok(w) => w,
        Err(e) => {
            out.err(e);
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            out.err(format!("cannot start the server: {e}"));
            return EXIT_USAGE;
        }
    };
    let listener = match runtime.block_on(tokio::net::TcpListener::bind(listen)) {
        Ok(l) => l,
        Err(e) => {
            out.err(format!("cannot listen on `{listen}`: {e}"));
            return EXIT_USAGE;
        }
    };
    let address = listener.local_addr().map_or_else(|_| listen.to_string(), |a| a.to_string());
    let _ = writeln!(
        out.stderr,
        "pipc witness: listening on http://{address}/add-checkpoint as `{verifier}`, witnessing {}; state in `{}`",
        origins.iter().map(|o| format!("`{}`", pip_runtime::untrusted::shown(o.as_bytes()))).collect::<Vec<_>>().join(", "),
        state.display()
    );
    let _ = out.stderr.flush();
    let (log, mut logged) = tokio::sync::mpsc::unbounded_channel();
    let app = router(Shared { witness: Arc::new(Mutex::new(witness)), log });
    let served = runtime.block_on(async {
        let serving = std::future::IntoFuture::into_future(axum::serve(listener, app).with_graceful_shutdown(shutdown()));
        tokio::pin!(serving);
        loop {
            tokio::select! {
                r = &mut serving => break r,
                Some(line) = logged.recv() => {
                    let _ = writeln!(out.stderr, "pipc witness: error: {line}");
                }
            }
        }
    });
    match served {
        Ok(()) => {
            let _ = writeln!(out.stderr, "pipc witness: stopped");
            EXIT_OK
        }
        Err(e) => {
            out.err(format!("the server stopped: {e}"));
            EXIT_USAGE
        }
    }
}

/// The routes: `POST /add-checkpoint`; axum answers 405 to another method there and 404 to
/// another path, and 413 to a body larger than a request may be.
fn router(witness: Shared) -> Router {
    Router::new().route("/add-checkpoint", post(add_checkpoint)).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)).with_state(witness)
}

/// `POST /add-checkpoint`: the witness's answer, or 500 when it cannot keep its state.
async fn add_checkpoint(State(shared): State<Shared>, body: Bytes) -> Response {
    let internal = |why: String| internal(&shared.log, why);
    let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return internal("the clock is before 1970".into());
    };
    let witness = Arc::clone(&shared.witness);
    // The state file is synced before an answer: blocking work, kept off the async workers.
    let judged = tokio::task::spawn_blocking(move || {
        // A panic while holding the lock cannot leave a half-updated witness: its state is
        // replaced only after the file is written.
        let mut w = witness.lock().unwrap_or_else(PoisonError::into_inner);
        w.add_checkpoint(&body, now.as_secs())
    })
    .await;
    match judged {
        Ok(Ok(r)) => match StatusCode::from_u16(r.status) {
            Ok(status) => (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response(),
            Err(_) => internal(format!("the witness answered status {}", r.status)),
        },
        Ok(Err(e)) => internal(e.to_string()),
        Err(e) => internal(format!("the request was not judged: {e}")),
    }
}

/// A 500 answer, the reason logged on stderr too.
fn internal(log: &tokio::sync::mpsc::UnboundedSender<String>, why: String) -> Response {
    let _ = log.send(why.clone());
    (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{why}\n")).into_response()
}

/// Resolves at SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Loads the witness's key, which must be a `cosignature/v1` key, warning on stderr when its
/// file is open to its group or others.
fn load_cosigner(out: &mut Out<'_>, path: &Path) -> Result<NoteSigner, String> {
    let (signer, warning) = load_signer(&KeySource::File(path.to_path_buf())).map_err(|e| e.to_string())?;
    if let Some(KeyWarning::Exposed { path, mode, who }) = warning {
        out.err(format!(
            "warning: witness key file `{}` is accessible to {who} (mode {mode:04o}); a cosigning key must be private to its owner",
            path.display()
        ));
        let _ = writeln!(out.stderr, "  help: whoever can read the key can cosign as this witness; run `chmod 600 {}`", path.display());
    }
    if signer.signature_type() != SignatureType::CosignatureV1 {
        return Err(format!("`{}` is a checkpoint signing key, not a witness cosigning key (cosignature/v1)", path.display())
            + "; write one with `pipc keygen --signing --cosigner --name NAME -o FILE`");
    }
    Ok(signer)
}

/// The logs of `--log ORIGIN=VKEY` flags, an origin given several times getting every key.
fn load_logs(flags: &[String]) -> Result<BTreeMap<String, NoteVerifiers>, String> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for flag in flags {
        let Some((origin, vkey)) = flag.split_once('=') else {
            return Err(format!("`--log {}` is not `ORIGIN=VKEY`", pip_runtime::untrusted::shown(flag.as_bytes())));
        };
        if !is_valid_origin(origin) {
            return Err(format!(
                "`{}` is not a checkpoint origin: it must be non-empty, at most 255 bytes, without spaces, `+` or control characters",
                pip_runtime::untrusted::shown(origin.as_bytes())
            ));
        }
        keys.entry(origin.to_string()).or_default().push(vkey.to_string());
    }
    keys.into_iter()
        .map(|(origin, vkeys)| {
            let verifiers = load_verifiers(&vkeys).map_err(|e| format!("log `{origin}`: {e}"))?;
            Ok((origin, verifiers))
        })
        .collect()
}
