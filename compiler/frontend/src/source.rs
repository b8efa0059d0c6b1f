//! Spec sources: loading `.pips` files from paths, their names, and line lookup.
//!
//! A file has two names. [`SourceFile::name`] is for people: the path as typed, shown in
//! diagnostics. [`SourceFile::spec_path`] is for artifacts: the path below the file's *spec
//! root*, with `/` on every OS, so that the spec hash, every `spec_source`, the IR, the
//! dashboards, the bundle manifests and the macro's evidence are the same bytes whatever
//! the working directory or the path the specs were reached through.
//!
//! The spec root of a file is the path argument that found it: the folder given (a file
//! below it is named by its path from there, `gateway/limits.pips`), or, for a file given
//! directly, the folder it lies in (it is named by its file name). A file reached through
//! two arguments is loaded once, named by the first; two different files with one name are
//! refused, since artifacts could not tell them apart.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::span::{FileId, SourceRef, Span};

/// Files larger than this are refused rather than parsed (a spec is text a person writes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The extension of spec files, without the dot: [`Sources::load`] reads only these from a
/// folder and refuses a file given directly without it.
pub const EXTENSION: &str = "pips";

/// One source file, with its line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Name shown in diagnostics (for the terminal, never written into an artifact): the
    /// path as given, relative to the working directory where possible, with `/` separators.
    pub name: String,
    /// Name written into artifacts and hashed into the spec hash: the path below the spec
    /// root, with `/` separators (see the module docs).
    pub spec_path: String,
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
        let name = name.into();
        SourceFile { spec_path: name.clone(), name, path: PathBuf::new(), text, invalid_utf8_at: None, line_starts }
    }

    /// The same source named `spec_path` in artifacts (by default it is named as shown).
    #[must_use]
    pub fn with_spec_path(mut self, spec_path: impl Into<String>) -> Self {
        self.spec_path = spec_path.into();
        self
    }

    /// A source from raw bytes; invalid UTF-8 is replaced and its position remembered. Its
    /// [`spec_path`](Self::spec_path) is `name` until [`with_spec_path`](Self::with_spec_path).
    pub fn from_bytes(name: impl Into<String>, path: PathBuf, bytes: Vec<u8>) -> Self {
        let (text, invalid_utf8_at): (Arc<str>, _) = match String::from_utf8(bytes) {
            Ok(s) => (s.into(), None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                (String::from_utf8_lossy(e.as_bytes()).into_owned().into(), Some(at))
            }
        };
        let line_starts = line_starts(&text);
        let name = name.into();
        SourceFile { spec_path: name.clone(), name, path, text, invalid_utf8_at, line_starts }
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

    /// Number of lines: line breaks plus one (an empty file has one empty line).
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
        /// The path as shown in diagnostics (relative to the working directory where possible).
        path: String,
        /// The OS error (not found, permission denied, not a regular file, ...).
        source: std::io::Error,
    },
    /// A path given on the command line does not exist.
    #[error("`{0}` does not exist")]
    Missing(String),
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("`{path}` is {size} bytes; spec files are limited to {MAX_FILE_BYTES} bytes")]
    TooLarge {
        /// The path as shown in diagnostics.
        path: String,
        /// The file's size in bytes, as the opened descriptor reports it.
        size: u64,
    },
    /// A path names a file that is not a `.pips` file.
    #[error("`{0}` is not a `.pips` file")]
    NotASpec(String),
    /// Two different files have the same path below their spec roots.
    #[error("`{first}` and `{second}` are both named `{spec_path}` below their spec roots; give the folder that holds both instead")]
    SameName {
        /// The [`SourceFile::spec_path`] they share.
        spec_path: String,
        /// The first file's path as shown in diagnostics.
        first: String,
        /// The second file's path as shown in diagnostics.
        second: String,
    },
}

impl Sources {
    /// An empty set, for callers that [`add`](Self::add) files held in memory (tests, bundles).
    pub fn new() -> Self {
        Sources::default()
    }

    /// Adds a file and returns its id, the next index (ids are never reused).
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

    /// Number of files added.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The `file:line:col` of a span's start, the file named by its path below the spec root
    /// (this goes into artifacts).
    pub fn source_ref(&self, span: Span) -> SourceRef {
        match self.get(span.file) {
            Some(f) => {
                let (line, column) = f.line_col(span.start);
                SourceRef { file: f.spec_path.clone(), line, column }
            }
            None => SourceRef::default(),
        }
    }

    /// Loads every `.pips` file under `paths` (files as given, directories recursively),
    /// each named below its spec root (see the module docs), in the order of those names
    /// so that runs are deterministic.
    pub fn load(paths: &[PathBuf]) -> Result<Sources, LoadError> {
        let mut found: Vec<Found> = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    LoadError::Missing(display_name(path))
                } else {
                    LoadError::Io { path: display_name(path), source: e }
                }
            })?;
            let mut here = Vec::new();
            if meta.is_dir() {
                collect_dir(path, &mut here)?;
            } else if path.extension().is_some_and(|e| e == EXTENSION) {
                here.push(path.clone());
            } else {
                return Err(LoadError::NotASpec(display_name(path)));
            }
            here.sort();
            for file in here {
                // A folder names its files from itself; a file given directly is named by
                // its file name (its root is the folder it lies in).
                let below =
                    if meta.is_dir() { file.strip_prefix(path).unwrap_or(&file) } else { Path::new(file.file_name().unwrap_or_default()) };
                let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                found.push(Found { spec_path: slash_path(below), identity, path: file });
            }
        }
        let mut kept: Vec<Found> = Vec::with_capacity(found.len());
        for f in found {
            if kept.iter().any(|k| k.identity == f.identity) {
                continue; // reached through an earlier argument: keep that name
            }
            if let Some(k) = kept.iter().find(|k| k.spec_path == f.spec_path) {
                return Err(LoadError::SameName { spec_path: f.spec_path, first: display_name(&k.path), second: display_name(&f.path) });
            }
            kept.push(f);
        }
        kept.sort_by(|a, b| a.spec_path.cmp(&b.spec_path));
        let mut sources = Sources::new();
        for Found { spec_path, path, .. } in kept {
            let name = display_name(&path);
            let bytes = read_spec_file(&path, &name)?;
            sources.add(SourceFile::from_bytes(name, path, bytes).with_spec_path(spec_path));
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
    let (file, meta) = open_regular(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { path: name.to_string(), size: meta.len() });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(meta.len()).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Opens a file for reading only if it is a regular file once links are resolved (an error
/// of kind `InvalidInput` names what it is otherwise): opened without blocking, so that a
/// FIFO cannot hold up the open, and judged by the opened descriptor, so that swapping the
/// file after a check gains nothing.
pub fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    // Judged by the path first too: opening a device can act on it (a tape rewinds, a
    // terminal is claimed) even when it is refused right after.
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", kind_of(&before))));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK changes nothing when reading a regular file, the only kind read here.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {}, not a regular file", kind_of(&meta))));
    }
    Ok((file, meta))
}

/// Reads a small regular file (a manifest, a configuration) of at most `max` bytes: anything
/// else (a FIFO, a device, a longer file) is refused with an error of kind `InvalidInput`
/// before its contents are read.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, meta) = open_regular(path)?;
    if meta.len() > max {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {} bytes, more than {max}", meta.len())));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(meta.len()).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What a file that is not regular is, in the runtime's words.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a directory" } else { "not a file" }
}

/// A file found by [`Sources::load`].
struct Found {
    /// Its name below its spec root, which becomes [`SourceFile::spec_path`].
    spec_path: String,
    /// The file itself (its canonical path), to load a file reached twice once.
    identity: PathBuf,
    /// The path it was found under, shown in diagnostics and read from.
    path: PathBuf,
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

/// A relative path's components joined with `/` (whatever the OS's separator), `.`
/// components dropped.
fn slash_path(path: &Path) -> String {
    let parts: Vec<String> =
        path.components().filter(|c| !matches!(c, Component::CurDir)).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}

/// The name a path is shown under in diagnostics: relative to the working directory when it
/// lies below it, `.` components removed, `/` as separator. Artifacts never embed it (they
/// use [`SourceFile::spec_path`]): it depends on where pipc runs.
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
    /// A manifest read by the macro: a FIFO is refused without blocking, a longer file
    /// before its bytes are read, a regular one read whole.
    #[cfg(unix)]
    #[test]
    #[expect(clippy::unwrap_used, reason = "a test")]
    fn read_regular_reads_only_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("Cargo.toml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = super::read_regular(&fifo, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("it is a named pipe (FIFO), not a regular file"), "{e}");
        let file = dir.path().join("big.toml");
        std::fs::write(&file, vec![b'#'; 101]).unwrap();
        assert!(super::read_regular(&file, 100).unwrap_err().to_string().contains("it is 101 bytes, more than 100"));
        assert_eq!(super::read_regular(&file, 101).unwrap().len(), 101);
    }

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
