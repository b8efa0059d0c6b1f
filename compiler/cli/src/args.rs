//! The command line's shape: every command, subcommand and flag as clap types. Nothing here
//! does work but loading the key the key flags name.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use pip_bundle::timeline;
use pip_runtime::ledger::{KeySource, LedgerKey};

use crate::DEFAULT_OUT;
use crate::out::Out;

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
    /// Serve the Language Server Protocol on stdin/stdout, for editors: diagnostics as you
    /// type, hover, go to definition, references, completion, outline and formatting.
    Lsp,
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
    ///
    /// With the HMAC key (`--key-file`/`--key-env`) every entry is checked. With the verifier
    /// key alone (`--verifier-key`, public) the signed checkpoints are checked: the entries
    /// they cover are proven, those after the last one are not. With both, both run. With
    /// witnesses (`--witness-key`, or `--spec` for the ledger's `witness` lines), a quorum of
    /// them must have cosigned a checkpoint that agrees with the ledger (`LEDGER.witnessed`).
    #[command(group(clap::ArgGroup::new("any_key").required(true).multiple(true).args(["key_file", "key_env", "verifier_key"])))]
    VerifyLog {
        /// The ledger file.
        ledger: PathBuf,
        /// The HMAC key (optional with `--verifier-key`).
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// The signed checkpoints.
        #[command(flatten)]
        signed: SignedCheckArgs,
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
    /// Verify an incident bundle offline (exit 1 with the reason if it does not verify), with
    /// the ledger key, the verifier key (a signed bundle), or both.
    VerifyBundle {
        /// The bundle.
        bundle: PathBuf,
        /// The ledger key (optional with `--verifier-key`).
        #[command(flatten)]
        key: OptionalKeyArgs,
        /// The bundle's signature checks.
        #[command(flatten)]
        signed: BundleSignedArgs,
    },
    /// Write a new random ledger key (hex, mode 0600) to a file that must not exist; with
    /// `--signing`, an Ed25519 checkpoint signing key instead, and print its verifier key.
    Keygen {
        /// The key file to create.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Write a checkpoint signing key (Go `sumdb/note` private key text) and print the
        /// verifier key line (`name+id+key`, public: give it to auditors) on stdout.
        #[arg(long)]
        signing: bool,
        /// With `--signing`: a witness's `cosignature/v1` key (for `pipc witness serve`)
        /// instead of a checkpoint signing key; name it with `--name`.
        #[arg(long, requires = "signing", requires = "name", conflicts_with = "specs")]
        cosigner: bool,
        /// The signing key's name (default: the origin of the ledger `--spec`/`--ledger` name).
        #[arg(long, value_name = "NAME", requires = "signing")]
        name: Option<String>,
        /// Spec files or directories: name the key after the ledger's checkpoint origin.
        #[arg(long = "spec", value_name = "PATH", requires = "signing")]
        specs: Vec<PathBuf>,
        /// The ledger's name in the spec (needed when the specs declare several).
        #[arg(long = "ledger", value_name = "NAME", requires = "specs")]
        ledger: Option<String>,
    },
    /// Run a witness of C2SP signed checkpoints (c2sp.org/tlog-witness).
    Witness {
        /// What to do.
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Check a proof made by `pipc log prove` or `pipc log consistency` with the verifier key
    /// alone (exit 1 if it does not verify).
    ///
    /// With `--trusted-checkpoint`, the proof must also be of the trusted checkpoint's log
    /// and reach at least its size: an inclusion proof's checkpoint must have the same origin
    /// and a tree size no smaller than the trusted one's (pair it with a consistency proof from
    /// the trusted size to show the two trees agree); a consistency proof must end at or beyond
    /// the trusted size and, where one of its checkpoints has the trusted size, have the
    /// trusted root.
    VerifyProof {
        /// The proof (JSON).
        proof: PathBuf,
        /// A file of verifier key lines, or a verifier key itself (repeatable).
        #[arg(long, value_name = "VKEY", required = true)]
        verifier_key: Vec<String>,
        /// A signed checkpoint note kept from an earlier verification.
        #[arg(long, value_name = "FILE")]
        trusted_checkpoint: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
}

/// `pipc witness` subcommands.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Serve the tlog-witness protocol over HTTP: `POST /add-checkpoint` cosigns a log's
    /// signed checkpoint when it is consistent with the latest one cosigned, which is kept in
    /// the state file. Stops on SIGINT or SIGTERM.
    Serve {
        /// The witness's cosigning key (`pipc keygen --signing --cosigner` writes one).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A log to witness: its checkpoint origin and a file of its verifier key lines, or a
        /// verifier key itself (repeatable; repeat an origin to give it several keys).
        #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
        logs: Vec<String>,
        /// The file that keeps the latest cosigned size and root of each log (created when
        /// missing).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// The address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7380")]
        listen: String,
    },
}

/// The signed-checkpoint flags of `verify-log`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SignedCheckArgs {
    /// A file of verifier key lines (`name+id+key`, as `pipc keygen --signing` prints), or a
    /// verifier key itself (repeatable): check the ledger against its signed checkpoints.
    #[arg(long, value_name = "VKEY")]
    pub verifier_key: Vec<String>,
    /// The signed checkpoint file (default: LEDGER.signed).
    #[arg(long = "signed", value_name = "FILE", requires = "verifier_key")]
    pub signed_file: Option<PathBuf>,
    /// The ledger's checkpoint origin (default: the first verified checkpoint's).
    #[arg(long, value_name = "ORIGIN", requires = "verifier_key")]
    pub origin: Option<String>,
    /// A signed checkpoint note kept from an earlier run: fail when the ledger is shorter than
    /// it or does not agree with it (an older copy restored, or a fork).
    #[arg(long, value_name = "FILE", requires = "verifier_key")]
    pub trusted_checkpoint: Option<PathBuf>,
    /// Write the latest verified signed checkpoint here (when the signed check is clean), to
    /// pass as `--trusted-checkpoint` next time.
    #[arg(long, value_name = "FILE", requires = "verifier_key")]
    pub save_checkpoint: Option<PathBuf>,
    /// A witness's cosignature verifier key (`name+id+key`, as `pipc keygen --signing
    /// --cosigner` prints), or a file of them (repeatable): require `--witness-quorum` of these
    /// witnesses to have cosigned a checkpoint of the ledger (default: the spec's witnesses).
    #[arg(long, value_name = "VKEY", requires = "verifier_key")]
    pub witness_key: Vec<String>,
    /// How many of the witnesses must have cosigned (default: the spec's `witness_quorum` with
    /// the spec's witnesses; every `--witness-key` given).
    #[arg(long, value_name = "N", requires = "verifier_key")]
    pub witness_quorum: Option<u32>,
    /// The cosigned checkpoint file (default: LEDGER.witnessed).
    #[arg(long = "witnessed", value_name = "FILE", requires = "verifier_key")]
    pub witnessed_file: Option<PathBuf>,
    /// Spec files or directories: take the ledger's origin, witnesses and quorum from its
    /// `ledger` block.
    #[arg(long = "spec", value_name = "PATH")]
    pub specs: Vec<PathBuf>,
    /// The ledger's name in the spec (needed when the specs declare several).
    #[arg(long = "ledger-name", value_name = "NAME", requires = "specs")]
    pub ledger_name: Option<String>,
}

/// The signature flags of `verify-bundle`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BundleSignedArgs {
    /// A file of verifier key lines, or a verifier key itself (repeatable): check the signed
    /// manifest, the signed checkpoints and the slices' proofs without any secret.
    #[arg(long, value_name = "VKEY")]
    pub verifier_key: Vec<String>,
    /// A witness's cosignature verifier key, or a file of them (repeatable): require
    /// `--witness-quorum` of them to have cosigned the bundle's checkpoint (default: the
    /// witnesses of the bundled spec).
    #[arg(long, value_name = "VKEY", requires = "verifier_key")]
    pub witness_key: Vec<String>,
    /// How many witnesses must have cosigned (default: the bundled spec's `witness_quorum`).
    #[arg(long, value_name = "N", requires = "verifier_key")]
    pub witness_quorum: Option<u32>,
    /// A signed checkpoint note kept from an earlier run: fail when the bundle's checkpoint is
    /// behind it or not consistent with it.
    #[arg(long, value_name = "FILE", requires = "verifier_key")]
    pub trusted_checkpoint: Option<PathBuf>,
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
        /// Sign checkpoints with this Ed25519 key file (`pipc keygen --signing` writes one),
        /// into LEDGER.signed, so that the verifier key alone checks them.
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
        /// The signed checkpoints' origin (default: the spec's `origin`, else
        /// `pip/<spec>/<ledger>` with `--spec`, else the signing key's name).
        #[arg(long, value_name = "ORIGIN", requires = "signing_key")]
        origin: Option<String>,
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
    /// Write the proof (JSON) that entry SEQ is in the tree a signed checkpoint commits to;
    /// `pipc verify-proof` checks it with the verifier key alone.
    Prove {
        /// The ledger file (with its LEDGER.signed and LEDGER.tree).
        ledger: PathBuf,
        /// The entry's seq.
        #[arg(long, value_name = "N")]
        seq: u64,
        /// The tree size of the signed checkpoint to prove against (default: the latest).
        #[arg(long, value_name = "S")]
        size: Option<u64>,
        /// Write the proof here (default: stdout).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write the proof (JSON) that the signed checkpoint of size OLD is a prefix of a later
    /// one: nothing before OLD was changed, dropped or added since.
    Consistency {
        /// The ledger file (with its LEDGER.signed and LEDGER.tree).
        ledger: PathBuf,
        /// The older signed checkpoint's tree size.
        #[arg(long, value_name = "S")]
        old: u64,
        /// The newer signed checkpoint's tree size (default: the latest).
        #[arg(long, value_name = "S2")]
        new: Option<u64>,
        /// Write the proof here (default: stdout).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Lines for people.
    Human,
    /// JSON.
    Json,
}

/// Where the ledger key comes from (exactly one).
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// File holding the key as hex (`pipc keygen` writes one).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Environment variable holding the key as hex.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

impl KeyArgs {
    /// Loads the key; a key file open to its group or others is warned about on stderr.
    pub(crate) fn load(&self, out: &mut Out<'_>) -> Result<LedgerKey, String> {
        let source = match (&self.key_file, &self.key_env) {
            (Some(f), _) => KeySource::File(f.clone()),
            (None, Some(v)) => KeySource::Env(v.clone()),
            (None, None) => return Err("give the key with `--key-file` or `--key-env`".into()),
        };
        let (key, warning) = source.load_checked().map_err(|e| e.to_string())?;
        if let Some(w) = warning {
            out.err(format!("warning: {w}"));
            let _ = writeln!(out.stderr, "  help: {}", w.help());
        }
        Ok(key)
    }
}

/// The ledger key of `verify-log`, optional there when a verifier key is given (at most one).
#[derive(Debug, Clone, Default, clap::Args)]
#[group(required = false, multiple = false)]
pub struct OptionalKeyArgs {
    /// File holding the key as hex (`pipc keygen` writes one).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Environment variable holding the key as hex.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

impl OptionalKeyArgs {
    /// The key flags, when one was given.
    pub(crate) fn given(&self) -> Option<KeyArgs> {
        (self.key_file.is_some() || self.key_env.is_some())
            .then(|| KeyArgs { key_file: self.key_file.clone(), key_env: self.key_env.clone() })
    }
}

/// The fields of one entry given as flags to `log append`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EntryArgs {
    /// Subsystem (with `--actor`, `--action` and `--resource`: append one entry from flags
    /// instead of JSON lines from stdin).
    #[arg(long)]
    pub subsystem: Option<String>,
    /// Actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Action.
    #[arg(long)]
    pub action: Option<String>,
    /// Resource.
    #[arg(long)]
    pub resource: Option<String>,
    /// Payload, as JSON text.
    #[arg(long, value_name = "JSON")]
    pub payload: Option<String>,
    /// Result.
    #[arg(long)]
    pub result: Option<String>,
}

/// Filters of `log show`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only this subsystem.
    #[arg(long)]
    pub subsystem: Option<String>,
    /// Only this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this resource.
    #[arg(long)]
    pub resource: Option<String>,
    /// From this time on (RFC 3339, a date, or Unix milliseconds).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// The arguments of `pipc bundle`.
#[derive(Debug, Clone, clap::Args)]
pub struct BundleArgs {
    /// Spec files or directories (default: specs/).
    #[arg(long = "spec", value_name = "PATH")]
    pub specs: Vec<PathBuf>,
    /// The bundle (`incident` or `payments.incident`; needed when the specs declare several).
    #[arg(long)]
    pub bundle: Option<String>,
    /// The ledger file, or `NAME=FILE` for each ledger when the bundle includes several.
    #[arg(long = "ledger", value_name = "[NAME=]FILE", required = true)]
    pub ledgers: Vec<String>,
    /// The checkpoint file (default: LEDGER.ckpt when it exists).
    #[arg(long, value_name = "FILE")]
    pub checkpoints: Option<PathBuf>,
    /// The key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Window length ending at `--to` (default: the spec's `window`).
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub window: Option<String>,
    /// Start of the window (RFC 3339, a date, or Unix milliseconds; inclusive).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the window (exclusive; default: just after the ledger's last entry).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Most events the timeline lists (every event is in the ledger slice regardless).
    #[arg(long, value_name = "N", default_value_t = timeline::DEFAULT_MAX_ROWS)]
    pub timeline_rows: usize,
    /// Bundle the window even when the rest of the ledger does not verify (entries cut off
    /// after a checkpoint, a changed entry, a forged checkpoint): the anomalies are recorded
    /// in the manifest and the timeline, and `verify-bundle` reports them and exits 1. The
    /// window's own entries must verify regardless.
    #[arg(long)]
    pub allow_anomalies: bool,
    /// The checkpoint signing key (default: the spec's `signing_key`, when it declares one):
    /// sign the manifest and carry the signed checkpoints and proofs of each slice, so that the
    /// bundle verifies with the verifier key alone.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// The signed checkpoint file of a single ledger (default: LEDGER.signed).
    #[arg(long = "signed", value_name = "FILE")]
    pub signed_file: Option<PathBuf>,
    /// A Prometheus (`http://host:9090`) to read the spec's alert history over the window
    /// from (`ALERTS{spec="..."}`): the bundle then holds `alerts.json`, bound by its manifest,
    /// and the timeline draws each alert's pending and firing intervals. An unreachable or
    /// slow Prometheus, or a partial answer, is an error and nothing is written.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// How long the alert query may take (default: 30s).
    #[arg(long, value_name = "DURATION", requires = "prometheus")]
    pub prometheus_timeout: Option<String>,
    /// The ZIP to write (never one of the command's inputs; an existing file only with `--force`).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace the output file when it exists.
    #[arg(long)]
    pub force: bool,
}
