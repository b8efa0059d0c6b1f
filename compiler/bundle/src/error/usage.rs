//! [`UsageError`]: a bundle request that is wrong in itself (unreadable specs, a bundle or
//! ledger the specs do not have, an empty window, an output that would overwrite evidence).
//! Nothing was judged: `pipc` exits with its usage code.

use std::path::PathBuf;

use pip_compiler::load::Unpicked;
use pip_compiler::source::LoadError;
use pip_runtime::ledger::checkpoint::CheckpointError;
use pip_runtime::ledger::query::QueryError;
use pip_runtime::ledger::{Identity, VerifyError};

use pip_runtime::untrusted::shown;

/// What is wrong with the request; each variant names the option or path to change.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The spec paths could not be read (missing, unreadable, not `.pips`).
    #[error(transparent)]
    Specs(LoadError),
    /// `--bundle` picks no bundle block (none declared, none of that name, or several and no
    /// name given).
    #[error("{}", unpicked(.0))]
    Bundle(Unpicked),
    /// `--window` parses as a duration too long for milliseconds in a `u64`.
    #[error("window `{text}` is too long")]
    WindowTooLong {
        /// The `--window` text as typed, quoted back in the message.
        text: String,
    },
    /// `--window` is not a positive duration.
    #[error("`{text}` is not a positive duration (like `24h`, `90m` or `7d`)")]
    NotADuration {
        /// The `--window` text as typed, quoted back in the message.
        text: String,
    },
    /// No `--to` was given and no ledger has an entry to end the window after.
    #[error("the ledger has no entries; give the window with `--from` and `--to`")]
    NoEntries,
    /// The window's start is not before its end.
    #[error("the window is empty: `--from` must be before `--to`")]
    EmptyWindow,
    /// `--ledger NAME=PATH` names a ledger the bundle block does not include.
    #[error("`--ledger {name}={}`: the bundle includes no ledger `{name}`; it includes {}", path.display(), listed(included))]
    UnknownLedger {
        /// The NAME of `--ledger NAME=PATH`, as typed.
        name: String,
        /// The PATH of `--ledger NAME=PATH`.
        path: PathBuf,
        /// The ledgers the bundle block includes, in its order.
        included: Vec<String>,
    },
    /// The same ledger name is given twice with `--ledger NAME=…`.
    #[error("ledger `{name}` is given twice with `--ledger {name}=…`")]
    LedgerTwice {
        /// The name given twice, as typed.
        name: String,
    },
    /// An unnamed `--ledger PATH` that no ledger is left for.
    #[error("{}", spare(path, included))]
    SpareLedger {
        /// The unnamed `--ledger` path left over.
        path: PathBuf,
        /// The ledgers the bundle block includes: with one, it was already given; with
        /// several, each must be named.
        included: Vec<String>,
    },
    /// `--checkpoints` with a bundle of several ledgers, where it would be ambiguous.
    #[error(
        "`--checkpoints` names the checkpoint file of a bundle's only ledger; with several, each ledger's checkpoints are read from `LEDGER.ckpt`"
    )]
    CheckpointsWithSeveral,
    /// A ledger the bundle includes was given no file.
    #[error("give the file of ledger `{name}` with `--ledger {name}=PATH`")]
    LedgerNotGiven {
        /// The ledger's name in the bundle block.
        name: String,
    },
    /// Two ledgers are given the same file (compared after resolving links).
    #[error("ledgers `{first}` and `{second}` are both given as `{}`; each ledger has its own file", path.display())]
    SameLedgerFile {
        /// The ledger given the file first.
        first: String,
        /// The ledger whose `--ledger` names the file a second time.
        second: String,
        /// The path as given the second time.
        path: PathBuf,
    },
    /// The ledger file is missing, a folder, or not a ledger.
    #[error("ledger `{name}`: {source}")]
    OpenLedger {
        /// The ledger's name in the bundle block.
        name: String,
        /// Why the reader refused it (missing, a folder, no ledger header).
        source: QueryError,
    },
    /// The ledger file could not be read to verify it (a FIFO, a device, a permission).
    #[error("ledger `{name}`: {source}")]
    ReadLedger {
        /// The ledger's name in the bundle block.
        name: String,
        /// The I/O failure, as [`VerifyError::Io`].
        source: VerifyError,
    },
    /// The checkpoint file could not be read.
    #[error("ledger `{name}`: {source}")]
    ReadCheckpoints {
        /// The ledger's name in the bundle block.
        name: String,
        /// The I/O failure, as [`CheckpointError::Io`].
        source: CheckpointError,
    },
    /// The ledger file was made for another spec or ledger (its verified header says so).
    #[error(
        "ledger `{name}` (`{}`) belongs to {}, not to spec `{spec}`, ledger `{name}`",
        path.display(),
        shown(identity.to_string().as_bytes())
    )]
    ForeignLedger {
        /// The ledger's name in the bundle block.
        name: String,
        /// The file given for it with `--ledger`.
        path: PathBuf,
        /// The identity its header carries (untrusted text: escaped when shown).
        identity: Box<Identity>,
        /// The spec whose bundle is built.
        spec: String,
    },
    /// The output path is a directory.
    #[error("`{}` is a directory; name the ZIP file to write", output.display())]
    OutputIsDirectory {
        /// The `-o` path as given (not resolved).
        output: PathBuf,
    },
    /// The output path is one of the inputs (a ledger, a checkpoint file, the key file).
    #[error("`-o {}` is one of the inputs (`{}`); a bundle never replaces its evidence or key", output.display(), input.display())]
    OutputIsInput {
        /// The `-o` path as given (not resolved).
        output: PathBuf,
        /// The input it resolves to, as given.
        input: PathBuf,
    },
    /// The output path lies inside a spec folder, where `pipc build` would read it.
    #[error("`-o {}` is inside the specs it bundles; write the bundle elsewhere", output.display())]
    OutputInsideSpecs {
        /// The `-o` path as given (not resolved).
        output: PathBuf,
    },
    /// The checkpoint signing key of a ledger cannot be loaded.
    #[error("ledger `{name}`: {source}")]
    SigningKey {
        /// The ledger's name.
        name: String,
        /// Why.
        source: Box<pip_runtime::ledger::signed::SigningKeyError>,
    },
    /// A signed or cosigned checkpoint file cannot be read.
    #[error("ledger `{name}`: cannot read `{}`: {source}", path.display())]
    ReadSigned {
        /// The ledger's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No signed checkpoint of the ledger verifies with its signing key (a wrong key or file).
    #[error(
        "ledger `{name}`: no checkpoint in `{}` verifies with the signing key `{key}`{}",
        path.display(),
        origin.as_ref().map(|o| format!(" for origin `{o}`")).unwrap_or_default()
    )]
    NoSignedCheckpoint {
        /// The ledger's name.
        name: String,
        /// The signed checkpoint file.
        path: PathBuf,
        /// The signing key's name.
        key: String,
        /// The origin the spec declares.
        origin: Option<String>,
    },
    /// `--signed` names the signed checkpoint file of a bundle's only ledger.
    #[error(
        "`--signed` names the signed checkpoint file of a bundle's only ledger; with several, each ledger's are read from `LEDGER.signed`"
    )]
    SignedWithSeveral,
    /// Verification was asked for with neither the ledger key nor a verifier key.
    #[error("give the ledger key (`--key-file` or `--key-env`) or a verifier key (`--verifier-key`), or both")]
    NoVerificationKey,
    /// The output file exists and replacing it was not asked for.
    #[error("`{}` exists; pass `--force` to replace it", output.display())]
    OutputExists {
        /// The `-o` path as given (not resolved).
        output: PathBuf,
    },
}

fn unpicked(u: &Unpicked) -> String {
    match u {
        Unpicked::NoneDeclared => "the specs declare no `bundle` block".to_string(),
        Unpicked::NotFound { name, all } => format!("no bundle `{name}` in the specs; they have {all}"),
        Unpicked::Several { all } => format!("the specs have several bundles ({all}); name one with `--bundle`"),
    }
}

fn listed(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn spare(path: &std::path::Path, included: &[String]) -> String {
    if included.len() == 1 {
        format!("`--ledger {}`: the bundle includes one ledger, and it is already given", path.display())
    } else {
        format!(
            "`--ledger {}`: the bundle includes several ledgers ({}); name each one with `--ledger NAME=PATH`",
            path.display(),
            listed(included)
        )
    }
}
