//! `payments-service`: see the library's docs and the README's walkthrough.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// A payments service enforcing specs/payments.pips. The audit ledger's key is read from
/// $PIP_AUDIT_KEY (hex), its checkpoint signing key from $PIP_AUDIT_SIGNING_KEY (the text
/// `pipc keygen --signing` writes).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder of the audit ledger, its checkpoints and the configuration.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// How often the audit ledger is verified, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    verify_every_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = payments_service::Settings {
        listen: args.listen,
        data_dir: args.data_dir,
        verify_every: Duration::from_millis(args.verify_every_ms),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("payments-service: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(payments_service::serve(settings, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payments-service: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // Without a SIGTERM handler, wait for Ctrl-C alone.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
