//! The documents the editor holds open, and the set of files a document is checked with:
//! the `.pips` files of its folder as they are on disk, each replaced by its open text when
//! the editor holds it — the files `pipc check <folder>` would read, as the user sees them.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use lsp_types::Url;
use pip_frontend::source::{EXTENSION, MAX_FILE_BYTES, SourceFile, Sources};
use pip_frontend::span::FileId;

/// The open documents, by URI.
#[derive(Debug, Default)]
pub struct Documents {
    open: BTreeMap<Url, String>,
}

impl Documents {
    /// Records an opened document or its new full text.
    pub fn set(&mut self, uri: Url, text: String) {
        self.open.insert(uri, text);
    }

    /// Forgets a closed document.
    pub fn close(&mut self, uri: &Url) {
        self.open.remove(uri);
    }

    /// The text of a document: the open text, else the file on disk.
    pub fn text(&self, uri: &Url) -> Option<String> {
        if let Some(t) = self.open.get(uri) {
            return Some(t.clone());
        }
        let path = uri.to_file_path().ok()?;
        read_bounded(&path).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The files `uri` is checked with (see the module docs).
    pub fn folder_of(&self, uri: &Url) -> Folder {
        let mut folder = Folder::default();
        let own_path = uri.to_file_path().ok();
        let dir = own_path.as_deref().and_then(Path::parent);
        let mut paths: Vec<PathBuf> = dir.map(spec_files).unwrap_or_default();
        if let Some(own) = &own_path
            && !paths.contains(own)
        {
            paths.push(own.clone());
            paths.sort();
        }
        for path in paths {
            let Ok(file_uri) = Url::from_file_path(&path) else { continue };
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            let file = match self.open.get(&file_uri) {
                Some(text) => SourceFile::new(name.clone(), text.as_str()),
                None => match read_bounded(&path) {
                    Some(bytes) => SourceFile::from_bytes(name.clone(), path.clone(), bytes),
                    None => continue,
                },
            };
            folder.add(file_uri, file.with_spec_path(name));
        }
        if own_path.is_none()
            && let Some(text) = self.open.get(uri)
        {
            // Not a file (an unsaved buffer): checked alone, named by its URI's last segment.
            let name = uri.path_segments().and_then(|mut s| s.next_back()).filter(|s| !s.is_empty()).unwrap_or("untitled.pips");
            folder.add(uri.clone(), SourceFile::new(name, text.as_str()));
        }
        folder
    }
}

/// A document's folder as sources, with the URI of each file (by [`FileId`]).
#[derive(Debug, Default)]
pub struct Folder {
    /// The files, as the front end reads them.
    pub sources: Sources,
    uris: Vec<Url>,
}

impl Folder {
    fn add(&mut self, uri: Url, file: SourceFile) {
        self.sources.add(file);
        self.uris.push(uri);
    }

    /// The URI of a file of the folder.
    pub fn uri(&self, id: FileId) -> Option<&Url> {
        self.uris.get(id.0)
    }

    /// The id of the file at `uri`.
    pub fn id(&self, uri: &Url) -> Option<FileId> {
        self.uris.iter().position(|u| u == uri).map(FileId)
    }

    /// The text of a file of the folder ("" for an unknown id).
    pub fn text(&self, id: FileId) -> &str {
        self.sources.get(id).map_or("", |f| &f.text)
    }

    /// Every file's id and URI.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &Url)> {
        self.uris.iter().enumerate().map(|(i, u)| (FileId(i), u))
    }
}

/// The `.pips` regular files directly in `dir`, sorted (a spec's files share one folder).
fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXTENSION))
        .collect();
    paths.sort();
    paths
}

/// A regular file's bytes, or `None` if it cannot be read or is larger than the front end
/// accepts.
fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}
