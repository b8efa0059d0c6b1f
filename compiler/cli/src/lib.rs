//! `pipc`, a thin shell over the libraries: [`run`] parses the command line ([`args`]) and
//! hands each command to a module that calls `pip_compiler`, `pip_bundle` or `pip_runtime`,
//! prints the outcome and picks the exit code. Tests call [`run`], exactly what the binary runs.
#![warn(missing_docs)]

mod args;
mod bundle_commands;
mod commands;
mod ledger_commands;
mod log_append;
mod out;
mod signed_commands;
mod spec_ledger;
mod witness_commands;

pub use args::{
    BundleArgs, BundleSignedArgs, Cli, Color, Command, EntryArgs, ErrorFormat, FilterArgs, KeyArgs, LogCommand, OptionalKeyArgs,
    ReportFormat, SignedCheckArgs, WitnessCommand,
};

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, ValueEnum};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: spec errors, stale output, or (for verifiers) anomalies found.
pub const EXIT_FAIL: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_USAGE: u8 = 2;

/// The folder `pipc` reads specs from when given no paths.
pub const DEFAULT_SPECS: &str = "specs";
/// The folder `pipc build` writes to by default.
pub const DEFAULT_OUT: &str = "generated";

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The `--color` choice of arguments clap refused, so that its error is colored as asked.
fn color_arg(args: &[OsString]) -> Color {
    let mut choice = Color::Auto;
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--color") {
            Some("") => it.next(),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        choice = value.and_then(|v| Color::from_str(v, false).ok()).unwrap_or(choice);
    }
    choice
}

/// Runs `pipc` with these arguments (the first is the program name) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let to_stdout = !e.use_stderr();
            let text = if !to_stdout && use_color(color_arg(&args)) { e.render().ansi().to_string() } else { e.render().to_string() };
            let target: &mut dyn Write = if to_stdout { stdout } else { stderr };
            let _ = write!(target, "{text}");
            return if to_stdout { EXIT_OK } else { EXIT_USAGE };
        }
    };
    let color = use_color(cli.color);
    let mut out = out::Out { stdout, stderr, color };
    match cli.command {
        Command::Check { paths, error_format } => commands::check(&mut out, &paths, error_format),
        Command::Lsp => match pip_lsp::run_stdio() {
            Ok(()) => EXIT_OK,
            Err(e) => {
                out.err(e);
                EXIT_USAGE
            }
        },
        Command::Fmt { paths, check, error_format } => commands::fmt(&mut out, &paths, check, error_format),
        Command::Build { paths, out: dir, check, prune, error_format } => {
            let others = if prune || paths.is_empty() { pip_compiler::build::Others::Prune } else { pip_compiler::build::Others::Keep };
            commands::build(&mut out, &paths, &dir, check, others, error_format)
        }
        Command::VerifyLog { ledger, key, signed, checkpoints, format, threads, expect_id } => {
            ledger_commands::verify_log(&mut out, &ledger, &key, &signed, checkpoints.as_ref(), format, threads, expect_id.as_deref())
        }
        Command::Log { command } => match command {
            LogCommand::Append { ledger, key, checkpoints, specs, name, new_checkpoint_history, signing_key, origin, entry } => {
                let target = log_append::AppendTarget {
                    ledger: &ledger,
                    checkpoints: checkpoints.as_ref(),
                    specs: &specs,
                    name: name.as_deref(),
                    new_checkpoint_history,
                    signing_key: signing_key.as_deref(),
                    origin: origin.as_deref(),
                };
                log_append::append(&mut out, Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin())), &target, &key, &entry)
            }
            LogCommand::Show { ledger, filter } => ledger_commands::show(&mut out, &ledger, &filter),
            LogCommand::Summary { ledger, since, until, format } => {
                ledger_commands::summary(&mut out, &ledger, since.as_ref(), until.as_ref(), format)
            }
            LogCommand::Gaps { ledger, specs, name, now, since, format } => {
                ledger_commands::gaps(&mut out, &ledger, &specs, name.as_deref(), now.as_ref(), since.as_ref(), format)
            }
            LogCommand::Dump { ledger } => ledger_commands::show(&mut out, &ledger, &FilterArgs::default()),
            LogCommand::Prove { ledger, seq, size, output } => signed_commands::prove(&mut out, &ledger, seq, size, output.as_deref()),
            LogCommand::Consistency { ledger, old, new, output } => {
                signed_commands::consistency(&mut out, &ledger, old, new, output.as_deref())
            }
        },
        Command::Keygen { output, signing: false, .. } => ledger_commands::keygen(&mut out, &output),
        Command::Keygen { output, signing: true, cosigner: false, name, specs, ledger } => {
            signed_commands::keygen(&mut out, &output, name.as_deref(), &specs, ledger.as_deref())
        }
        Command::Keygen { output, signing: true, cosigner: true, name, .. } => {
            signed_commands::keygen_cosigner(&mut out, &output, name.as_deref())
        }
        Command::Witness { command: WitnessCommand::Serve { key, logs, state, listen } } => {
            witness_commands::serve(&mut out, &key, &logs, &state, &listen)
        }
        Command::VerifyProof { proof, verifier_key, trusted_checkpoint, format } => {
            signed_commands::verify_proof(&mut out, &proof, &verifier_key, trusted_checkpoint.as_deref(), format)
        }
        Command::Bundle(args) => bundle_commands::bundle(&mut out, &args),
        Command::VerifyBundle { bundle, key, signed } => bundle_commands::verify_bundle(&mut out, &bundle, &key, &signed),
    }
}
