//! Spec sources: loading `.pips` files from paths, display names, and line lookup.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::span::{FileId, SourceRef, Span};

/// Files larger than this are refused rather than parsed (a spec is text a person writes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The extension of spec files.
pub const EXTENSION: &str = "pips";

/// One source file, with its line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name shown in diagnostics and written into artifacts: the path as given, relative to
    /// the working directory where possible, with `/` separators.
    pub name: String,
    /// Where the file was read from (empty for in-memory sources).
    pub path: PathBuf,
    /// The text. Invalid UTF-8 is replaced (and reported, see [`SourceFile::invalid_utf8_at`]).
    pub text: Arc<str>,
    /// Byte offset of the first invalid UTF-8 sequence, if the file was not valid UTF-8.
    pub invalid_utf8_at: Option<usize>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A source from a name and text held in memory.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = line_starts(&text);
        SourceFile { name: name.into(), path: PathBuf::new(), text, invalid_utf8_at: None, line_starts }
    }

    /// A source from raw bytes; invalid UTF-8 is replaced and its position remembered.
    pub fn from_bytes(name: impl Into<String>, path: PathBuf, bytes: Vec<u8>) -> Self {
        let (text, invalid_utf8_at): (Arc<str>, _) = match String::from_utf8(bytes) {
            Ok(s) => (s.into(), None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                (String::from_utf8_lossy(e.as_bytes()).into_owned().into(), Some(at))
            }
        };
        let line_starts = line_starts(&text);
        SourceFile { name: name.into(), path, text, invalid_utf8_at, line_starts }
    }

    /// 0-based line index of a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Byte offset where the 0-based line `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line).copied().unwrap_or(self.text.len())
    }

    /// Byte offset where the 0-based line `line` ends (before its line break).
    pub fn line_end(&self, line: usize) -> usize {
        let next = self.line_starts.get(line + 1).copied().unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        let mut end = next;
        while end > self.line_start(line) && matches!(bytes.get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        end
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_index(offset);
        let start = self.line_start(line);
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// The text of a span (empty if the span does not fall on character boundaries).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

/// Largest char boundary `<= offset`.
pub(crate) fn floor_char_boundary(s: &str, mut offset: usize) -> usize {
    if offset >= s.len() {
        return s.len();
    }
    while offset > 0 && !s.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Smallest char boundary `>= offset`.
pub(crate) fn ceil_char_boundary(s: &str, mut offset: usize) -> usize {
    if offset >= s.len() {
        return s.len();
    }
    while offset < s.len() && !s.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
    starts
}

/// All the files of one compiler run.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

/// A failure to read the inputs (exit code 2, not a spec error).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A path given on the command line does not exist.
    #[error("`{0}` does not exist")]
    Missing(String),
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("`{path}` is {size} bytes; spec files are limited to {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
    },
    /// A path names a file that is not a `.pips` file.
    #[error("`{0}` is not a `.pips` file")]
    NotASpec(String),
}

impl Sources {
    /// An empty set of sources.
    pub fn new() -> Self {
        Sources::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() - 1)
    }

    /// The file with this id (`None` only for an id from another `Sources`).
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0)
    }

    /// All files with their ids, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The `file:line:col` of a span's start.
    pub fn source_ref(&self, span: Span) -> SourceRef {
        match self.get(span.file) {
            Some(f) => {
                let (line, column) = f.line_col(span.start);
                SourceRef { file: f.name.clone(), line, column }
            }
            None => SourceRef::default(),
        }
    }

    /// Loads every `.pips` file under `paths` (files as given, directories recursively,
    /// in sorted order so that runs are deterministic).
    pub fn load(paths: &[PathBuf]) -> Result<Sources, LoadError> {
        let mut found = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    LoadError::Missing(display_name(path))
                } else {
                    LoadError::Io { path: display_name(path), source: e }
                }
            })?;
            if meta.is_dir() {
                collect_dir(path, &mut found)?;
            } else if path.extension().is_some_and(|e| e == EXTENSION) {
                found.push(path.clone());
            } else {
                return Err(LoadError::NotASpec(display_name(path)));
            }
        }
        found.sort();
        found.dedup();
        let mut sources = Sources::new();
        for path in found {
            let name = display_name(&path);
            let bytes = read_spec_file(&path, &name)?;
            sources.add(SourceFile::from_bytes(name, path, bytes));
        }
        Ok(sources)
    }
}

/// Reads a spec file, which must be a regular file (links resolved) of at most
/// [`MAX_FILE_BYTES`]: a FIFO would block the compiler forever, `/dev/zero` feed it without
/// end. The file is opened without blocking (a FIFO cannot hold up the open itself) and the
/// opened descriptor's type and size are what is checked, so swapping the file after a check
/// gains nothing. (The runtime's `fsread` module does the same for ledgers and keys; the
/// compiler does not depend on the runtime.)
fn read_spec_file(path: &Path, name: &str) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io { path: name.to_string(), source };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK changes nothing when reading a regular file, the only kind read here.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a directory" } else { "a FIFO, a device or a socket" };
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {kind}, not a regular file"))));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: name.to_string(), size: meta.len() });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(meta.len()).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

fn collect_dir(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io { path: display_name(dir), source: e })?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Io { path: display_name(dir), source: e })?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| LoadError::Io { path: display_name(&path), source: e })?;
        if kind.is_dir() {
            collect_dir(&path, found)?;
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            found.push(path);
        }
    }
    Ok(())
}

/// The name a path is shown under: relative to the working directory when it lies below
/// it, `.` components removed, `/` as separator. Artifacts embed this name, so building
/// from the repository root gives the same bytes on every machine.
pub fn display_name(path: &Path) -> String {
    let relative = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in relative.components() {
        match c {
            Component::CurDir => {}
            Component::RootDir => parts.push(String::new()),
            Component::Prefix(p) => parts.push(p.as_os_str().to_string_lossy().into_owned()),
            Component::ParentDir => parts.push("..".into()),
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
        }
    }
    let joined = parts.join("/");
    if joined.is_empty() { ".".into() } else { joined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("a.pips", "ab\nçd\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (2, 2));
        assert_eq!(f.line_col(99), (3, 1));
        assert_eq!(f.line_end(0), 2);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_located() {
        let f = SourceFile::from_bytes("g.pips", PathBuf::new(), vec![b's', 0xff, b'x']);
        assert_eq!(f.invalid_utf8_at, Some(1));
        assert!(f.text.contains('\u{FFFD}'));
    }

    #[test]
    fn display_names_drop_dot_components() {
        assert_eq!(display_name(Path::new("./specs/a.pips")), "specs/a.pips");
    }
}
