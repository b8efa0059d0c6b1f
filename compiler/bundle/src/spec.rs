//! What a bundle takes from the checked spec: the bundle block a name picks, and the
//! `expect subsystem` lines of a ledger as the runtime's gap finder reads them.

use pip_compiler::ir;
use pip_compiler::load;
use pip_runtime::ledger::query::Expectation;

use crate::BundleError;
use crate::error::UsageError;

/// The `expect subsystem` lines of a declared ledger, as [`pip_runtime::ledger::query::evidence_gaps`]
/// takes them (`pipc log gaps` and bundles judge silences alike).
pub fn expectations(ledger: &ir::Ledger) -> Vec<Expectation> {
    ledger
        .expects
        .iter()
        .map(|x| Expectation { subsystem: x.subsystem.clone(), every_ms: x.every.millis, severity: x.severity.as_str().to_string() })
        .collect()
}

/// The bundle `name` picks (`incident` or `payments.incident`), or the only one.
pub(crate) fn pick_bundle<'a>(specs: &'a [ir::Spec], name: Option<&str>) -> Result<(&'a ir::Spec, &'a ir::Bundle), BundleError> {
    load::pick(specs, name, |s| &s.bundles, |b| &b.name).map_err(|e| UsageError::Bundle(e).into())
}
