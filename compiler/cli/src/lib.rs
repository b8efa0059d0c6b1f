//! The `pipc` commands as library functions, so that tests call exactly what the binary runs.
#![warn(missing_docs)]

pub mod bundle;
mod bundle_commands;
mod commands;
mod ledger_commands;
mod log_append;

pub use bundle_commands::BundleArgs;
pub use ledger_commands::{EntryArgs, FilterArgs, KeyArgs, ReportFormat};

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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

/// pip's specification compiler: checks `.pips` specs and generates Prometheus rules,
/// promtool tests, Grafana dashboards and bundle manifests from them.
#[derive(Debug, Parser)]
#[command(name = "pipc", version, about, max_term_width = 100)]
pub struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// When to use color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ErrorFormat {
    /// Source snippets with the problem underlined.
    Human,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check specs; report every error and warning.
    Check {
        /// Spec files or directories (default: specs/).
        paths: Vec<PathBuf>,
        /// Diagnostic format.
        #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
        error_format: ErrorFormat,
    },
    /// Rewrite specs in the canonical layout, keeping every comment.
    Fmt {
        /// Spec files or directories (default: specs/).
        paths: Vec<PathBuf>,
        /// Do not write; exit 1 and name the files that are not formatted.
        #[arg(long)]
        check: bool,
        /// Diagnostic format.
        #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
        error_format: ErrorFormat,
    },
    /// Check specs and generate every artifact into the output folder.
    Build {
        /// Spec files or directories (default: specs/).
        paths: Vec<PathBuf>,
        /// Output folder; pipc owns its ir/, prometheus/, grafana/ and bundles/ folders.
        #[arg(long, default_value = DEFAULT_OUT)]
        out: PathBuf,
        /// Do not write; exit 1 and name each missing or stale file.
        #[arg(long)]
        check: bool,
        /// Remove (with `--check`: report) files in the output folders that the specs built do
        /// not produce. The default without PATHS; with PATHS, the specs built may share the
        /// folder with others, whose files are kept.
        #[arg(long)]
        prune: bool,
        /// Diagnostic format.
        #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
        error_format: ErrorFormat,
    },
    /// Verify a ledger: name every anomaly with its class and position (exit 1 if any).
    VerifyLog {
        /// The ledger file.
        ledger: PathBuf,
        /// The key.
        #[command(flatten)]
        key: KeyArgs,
        /// The checkpoint file (default: LEDGER.ckpt when it exists).
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        /// Threads that hash entries (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Refuse (exit 1) unless the ledger's id is this one (32 hex digits, as verify-log
        /// prints it): another ledger written with the same key verifies too.
        #[arg(long, value_name = "ID")]
        expect_id: Option<String>,
    },
    /// Append to, read and summarise a ledger.
    Log {
        /// What to do.
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Build an incident bundle: a ZIP of the window's ledger slice, the spec, its artifacts
    /// and an HTML timeline, with a MACed manifest.
    Bundle(Box<BundleArgs>),
    /// Verify an incident bundle offline (exit 1 with the reason if it does not verify).
    VerifyBundle {
        /// The bundle.
        bundle: PathBuf,
        /// The key.
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Write a new random ledger key (hex, mode 0600) to a file that must not exist.
    Keygen {
        /// The key file to create.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// `pipc log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Append one entry from flags, or one per JSON line of stdin, streamed; prints each
    /// entry's seq once it is synced. A bad line stops there: the lines before it are appended.
    Append {
        /// The ledger file (created when missing).
        ledger: PathBuf,
        /// The key.
        #[command(flatten)]
        key: KeyArgs,
        /// The checkpoint file (default: LEDGER.ckpt).
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// Spec files or directories: checkpoint as the spec's `ledger` block says (default:
        /// every 1000 entries or 10 s, and when the command ends).
        #[arg(long = "spec", value_name = "PATH")]
        specs: Vec<PathBuf>,
        /// The ledger's name in the spec (`audit` or `payments.audit`; needed when the specs
        /// declare several).
        #[arg(long = "ledger", value_name = "NAME", requires = "specs")]
        name: Option<String>,
        /// When the checkpoint file of an existing ledger is missing or empty, start a new
        /// checkpoint history (recorded in the ledger as an entry) instead of refusing.
        #[arg(long)]
        new_checkpoint_history: bool,
        /// The entry, when given as flags.
        #[command(flatten)]
        entry: EntryArgs,
    },
    /// Print the entries that match, as JSON lines.
    Show {
        /// The ledger file.
        ledger: PathBuf,
        /// Filters.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Count entries per subsystem, actor and action.
    Summary {
        /// The ledger file.
        ledger: PathBuf,
        /// From this time on (RFC 3339, a date, or Unix milliseconds).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Before this time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Name the subsystems that were silent longer than the spec expects (exit 1 if any).
    Gaps {
        /// The ledger file.
        ledger: PathBuf,
        /// Spec files or directories.
        #[arg(long = "spec", value_name = "PATH", required = true)]
        specs: Vec<PathBuf>,
        /// The ledger's name in the spec (`audit` or `payments.audit`; needed when the specs
        /// declare several).
        #[arg(long = "ledger", value_name = "NAME")]
        name: Option<String>,
        /// Judge silences up to this time (default: now).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Start of the period (default: the ledger's first entry).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Print every entry with its hashes and MAC, as JSON lines.
    Dump {
        /// The ledger file.
        ledger: PathBuf,
    },
}

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
    let mut out = commands::Out { stdout, stderr, color };
    match cli.command {
        Command::Check { paths, error_format } => commands::check(&mut out, &paths, error_format),
        Command::Fmt { paths, check, error_format } => commands::fmt(&mut out, &paths, check, error_format),
        Command::Build { paths, out: dir, check, prune, error_format } => {
            let others = if prune || paths.is_empty() { pip_compiler::build::Others::Prune } else { pip_compiler::build::Others::Keep };
            commands::build(&mut out, &paths, &dir, check, others, error_format)
        }
        Command::VerifyLog { ledger, key, checkpoints, format, threads, expect_id } => {
            ledger_commands::verify_log(&mut out, &ledger, &key, checkpoints.as_ref(), format, threads, expect_id.as_deref())
        }
        Command::Log { command } => match command {
            LogCommand::Append { ledger, key, checkpoints, specs, name, new_checkpoint_history, entry } => {
                let target = log_append::AppendTarget {
                    ledger: &ledger,
                    checkpoints: checkpoints.as_ref(),
                    specs: &specs,
                    name: name.as_deref(),
                    new_checkpoint_history,
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
        },
        Command::Keygen { output } => ledger_commands::keygen(&mut out, &output),
        Command::Bundle(args) => bundle_commands::bundle(&mut out, &args),
        Command::VerifyBundle { bundle, key } => bundle_commands::verify_bundle(&mut out, &bundle, &key),
    }
}
