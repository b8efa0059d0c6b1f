//! Byte spans into source files, and the `file:line:col` positions they map to.

use serde::Serialize;

/// Index of a file in [`crate::source::Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub usize);

/// A byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range belongs to, an index into the run's [`Sources`](crate::source::Sources).
    pub file: FileId,
    /// Byte offset of the first byte, from the start of the file.
    pub start: usize,
    /// Byte offset one past the last byte; [`Span::new`] keeps it at least [`Span::start`].
    pub end: usize,
}

impl Span {
    /// A span covering `start..end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start, end: end.max(start) }
    }

    /// The smallest span covering both `self` and `other` (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span::new(self.file, self.start.min(other.start), self.end.max(other.end))
    }

    /// Length in bytes (zero for an empty span, e.g. at the end of a file).
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A position written into artifacts: the file's path below its spec root, 1-based line and 1-based column (in characters).
///
/// Equality ignores the position entirely, so that two IRs that differ only in where
/// things were written (for instance before and after `pipc fmt`) compare equal.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SourceRef {
    /// The file's path below its spec root (`SourceFile::spec_path`), `/`-separated.
    pub file: String,
    /// 1-based line, as editors number them.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl PartialEq for SourceRef {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for SourceRef {}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
