//! Where a command's output goes ([`Out`]: stdout, stderr, color) and how it replaces files.

use std::io::Write;
use std::path::Path;

use pip_compiler::diagnostics::{self, Diagnostic, Style};
use pip_compiler::source::Sources;

use crate::ErrorFormat;

/// A command's two streams and whether stderr may be colored: real ones in `main`, buffers
/// in tests, so that every byte a command prints can be pinned.
pub(crate) struct Out<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    pub color: bool,
}

impl Out<'_> {
    pub(crate) fn err(&mut self, msg: impl std::fmt::Display) {
        let _ = writeln!(self.stderr, "pipc: {msg}");
    }

    pub(crate) fn diagnostics(&mut self, sources: &Sources, diags: &[Diagnostic], format: ErrorFormat) {
        if diags.is_empty() {
            return;
        }
        // The human report is for a person, beside the program's other messages (stderr); the
        // JSON lines are the program's output, for a tool to read (stdout).
        match format {
            ErrorFormat::Human => {
                let text = diagnostics::render_human(sources, diags, Style { color: self.color, ..Style::default() });
                let _ = self.stderr.write_all(text.as_bytes());
            }
            ErrorFormat::Json => {
                let _ = self.stdout.write_all(diagnostics::render_json(sources, diags).as_bytes());
            }
        }
    }
}

/// Writes `bytes` to `tmp`, then renames it over `path`, so that a reader never sees half a
/// file. Whatever is at `tmp` already (left by a crash, or planted: a FIFO there would block
/// the open for writing until a reader came) is removed first, never opened, and `tmp` is
/// created anew. On failure nothing is left at `tmp`.
pub(crate) fn write_atomic(path: &Path, tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}
