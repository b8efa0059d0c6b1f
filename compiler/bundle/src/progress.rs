//! [`Progress`]: how [`crate::build`] reports its stages, so that a command line can draw a
//! progress bar while a service passes [`Silent`].

/// Receives the stages of a build: compiling the spec, reading the ledgers, verifying each
/// ledger, rendering the timeline, writing the archive (four plus one per ledger).
pub trait Progress {
    /// A stage starts; `message` is lowercase prose (`compiling the spec`), fit for a bar's label.
    fn stage(&self, message: &str);
    /// The stage last started is done: called once per [`Progress::stage`], after it.
    fn advance(&self);
}

/// A [`Progress`] that discards every report: for services and tests, which have no one to show a bar to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str) {}
    fn advance(&self) {}
}
