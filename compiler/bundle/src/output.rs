//! Where a bundle may be written: never over one of its inputs (a bundle must not replace the
//! evidence, the key or the spec it is made from), and over an existing file only when asked.

use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::{BuildOptions, BundleError};

/// Refuses an `output` that exists (unless `force`), is a directory, is one of the inputs of
/// `opts` (a ledger, its checkpoint or signed checkpoint files, `key_file`, the signing key)
/// or lies inside its specs.
pub fn check_output(output: &Path, opts: &BuildOptions, key_file: Option<&Path>, force: bool) -> Result<(), BundleError> {
    let usage = |e: UsageError| Err(BundleError::Usage(e));
    let Ok(meta) = std::fs::metadata(output) else { return Ok(()) };
    if meta.is_dir() {
        return usage(UsageError::OutputIsDirectory { output: output.to_path_buf() });
    }
    // It exists, so it resolves (a failure only skips the input checks below).
    let resolved = std::fs::canonicalize(output).ok();
    let same = |p: &Path| resolved.is_some() && std::fs::canonicalize(p).ok() == resolved;
    let mut inputs: Vec<PathBuf> = opts.ledgers.iter().map(|(_, p)| p.clone()).collect();
    inputs.extend(opts.ledgers.iter().map(|(_, p)| pip_runtime::ledger::checkpoint::default_path(p)));
    inputs.extend(opts.checkpoints.iter().cloned());
    // The signed checkpoint files, their cosigned copies and the signing key.
    inputs.extend(opts.ledgers.iter().map(|(_, p)| pip_runtime::ledger::signed::default_path(p)));
    inputs.extend(opts.ledgers.iter().map(|(_, p)| crate::signed::default_witnessed(p)));
    inputs.extend(opts.signed_file.iter().cloned());
    inputs.extend(opts.signing_key.iter().cloned());
    inputs.extend(key_file.map(Path::to_path_buf));
    if let Some(input) = inputs.iter().find(|p| same(p)) {
        return usage(UsageError::OutputIsInput { output: output.to_path_buf(), input: input.clone() });
    }
    if let Some(canon) = &resolved
        && opts.specs.iter().filter_map(|s| std::fs::canonicalize(s).ok()).any(|s| canon.starts_with(&s))
    {
        return usage(UsageError::OutputInsideSpecs { output: output.to_path_buf() });
    }
    if !force {
        return usage(UsageError::OutputExists { output: output.to_path_buf() });
    }
    Ok(())
}
