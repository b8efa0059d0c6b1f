//! The `pipc` commands as library functions, so that tests call exactly what the binary runs.
#![warn(missing_docs)]

mod commands;

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
        /// Diagnostic format.
        #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
        error_format: ErrorFormat,
    },
}

/// Runs `pipc` with these arguments (the first is the program name) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let to_stdout = !e.use_stderr();
            let text = if to_stdout { e.render().to_string() } else { e.render().ansi().to_string() };
            let target: &mut dyn Write = if to_stdout { stdout } else { stderr };
            let _ = write!(target, "{text}");
            return if to_stdout { EXIT_OK } else { EXIT_USAGE };
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut out = commands::Out { stdout, stderr, color };
    match cli.command {
        Command::Check { paths, error_format } => commands::check(&mut out, &paths, error_format),
        Command::Fmt { paths, check, error_format } => commands::fmt(&mut out, &paths, check, error_format),
        Command::Build { paths, out: dir, check, error_format } => commands::build(&mut out, &paths, &dir, check, error_format),
    }
}
