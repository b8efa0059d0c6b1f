//! Picking a ledger declared in the specs, for the commands that take `--spec` and `--ledger`.

use std::path::PathBuf;

use pip_compiler::load::{self, Unpicked};

/// The named ledger (or the only ledger) of the specs, with its spec's id.
pub(crate) fn spec_ledger(specs: &[PathBuf], name: Option<&str>) -> Result<(String, pip_compiler::ir::Ledger), String> {
    spec_ledger_named_by(specs, name, "--ledger")
}

/// [`spec_ledger`] for a command whose flag that names the ledger is `flag`.
pub(crate) fn spec_ledger_named_by(
    specs: &[PathBuf],
    name: Option<&str>,
    flag: &str,
) -> Result<(String, pip_compiler::ir::Ledger), String> {
    let c = load::load(specs).map_err(|e| e.to_string())?;
    match load::pick(c.specs(), name, |s| &s.ledgers, |l| &l.name) {
        Ok((s, l)) => Ok((s.name.clone(), l.clone())),
        Err(Unpicked::NoneDeclared) => Err("the spec declares no ledger".to_string()),
        Err(Unpicked::NotFound { name, all }) => Err(format!("no ledger `{name}` in the spec; it has {all}")),
        Err(Unpicked::Several { all }) => Err(format!("the spec has several ledgers ({all}); name one with `{flag}`")),
    }
}
