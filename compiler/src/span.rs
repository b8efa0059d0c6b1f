//! Byte spans into source files, and the `file:line:col` positions they map to.

use serde::Serialize;

/// Index of a file in [`crate::source::Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileId(pub usize);

/// A byte range `start..end` in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
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

    /// Length in bytes.
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
    /// 1-based line.
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
