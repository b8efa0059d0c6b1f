//! Writing artifacts into the output directory, and `--check`: comparing them with what is
//! there without writing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::emit::{Artifact, EMITTERS};

/// What [`write()`] did to one file of the output directory; `pipc build` prints a count of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Written where no file was before.
    Created,
    /// Overwritten with different bytes.
    Updated,
    /// Already up to date (not rewritten, so its mtime is kept).
    Unchanged,
    /// Removed: it lay in a folder pipc owns but no spec produces it any more.
    Removed,
    /// Not produced by the specs built, and left in place ([`Others::Keep`]).
    Kept,
}

/// Why `build --check` finds the output directory stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// A file that should exist does not.
    Missing,
    /// A file's bytes differ from what the specs produce.
    Differs,
    /// A file in a pipc-owned folder that no spec produces.
    Unexpected,
}

impl std::fmt::Display for Staleness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Staleness::Missing => "missing",
            Staleness::Differs => "stale",
            Staleness::Unexpected => "not produced by any spec",
        })
    }
}

/// An I/O failure with the path it happened on.
#[derive(Debug, thiserror::Error)]
#[error("`{path}`: {source}")]
pub struct IoError {
    /// The file or folder the operation failed on, as displayed (not relative to the output directory).
    pub path: String,
    /// The operating system's error, shown after the path.
    pub source: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError { path: path.display().to_string(), source }
}

/// Files currently in the folders the emitters own, relative to `out`.
fn owned_files(out: &Path) -> Result<BTreeSet<String>, IoError> {
    let mut found = BTreeSet::new();
    for e in EMITTERS {
        let dir = out.join(e.dir);
        if dir.is_dir() {
            walk(out, &dir, &mut found)?;
        }
    }
    Ok(found)
}

fn walk(out: &Path, dir: &Path, found: &mut BTreeSet<String>) -> Result<(), IoError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            walk(out, &path, found)?;
        } else if kind.is_file()
            && let Ok(rel) = path.strip_prefix(out)
        {
            found.insert(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
    Ok(())
}

/// Whether the file at `path` holds exactly `want`. Only a regular file is read (a FIFO
/// left in the output folder would block the build, a link to `/dev/zero` never end), and
/// no further than one byte past `want`'s length.
fn holds(path: &Path, want: &[u8]) -> std::io::Result<bool> {
    use std::io::Read;
    let (file, _) = crate::source::open_regular(path)?;
    let mut got = Vec::with_capacity(want.len());
    file.take(want.len() as u64 + 1).read_to_end(&mut got)?;
    Ok(got == want)
}

fn target(out: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(out.to_path_buf(), |p, c| p.join(c))
}

/// Whether files in the owned folders that the artifacts do not include are the build's to
/// remove (and `--check`'s to report): yes when the build covers every spec of the output
/// folder, no when it builds some specs into a folder shared with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// Remove them (`--check`: report them as unexpected).
    Prune,
    /// Leave them (`--check`: ignore them); `write` reports them as [`Change::Kept`].
    Keep,
}

/// Writes the artifacts (only those whose bytes changed) and, with [`Others::Prune`], removes
/// files in owned folders that no spec produces any more.
pub fn write(out: &Path, artifacts: &[Artifact], others: Others) -> Result<Vec<(String, Change)>, IoError> {
    let mut changes = Vec::new();
    let before = owned_files(out)?;
    for a in artifacts {
        let path = target(out, &a.path);
        let change = match holds(&path, &a.contents) {
            Ok(true) => Change::Unchanged,
            Ok(false) => Change::Updated,
            // A FIFO or a device where an artifact belongs is not replaced: say so.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return Err(io(&path)(e)),
            Err(_) => Change::Created,
        };
        if change != Change::Unchanged {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            // Write then rename, so a reader never sees half a file. Whatever is at the
            // temporary path (left by a crash, or a planted FIFO that would block the open) is
            // removed, never opened, and the file created anew.
            let tmp = path.with_extension("pipc-tmp");
            match std::fs::remove_file(&tmp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&tmp)(e)),
                _ => {}
            }
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io(&tmp))?;
            std::io::Write::write_all(&mut f, &a.contents).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io(&path))?;
        }
        changes.push((a.path.clone(), change));
    }
    let produced: BTreeSet<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
    for old in before.iter().filter(|p| !produced.contains(p.as_str())) {
        if others == Others::Keep {
            changes.push((old.clone(), Change::Kept));
            continue;
        }
        let path = target(out, old);
        std::fs::remove_file(&path).map_err(io(&path))?;
        changes.push((old.clone(), Change::Removed));
    }
    Ok(changes)
}

/// Compares the artifacts with the output directory without writing anything; with
/// [`Others::Prune`], files no spec produces are stale too.
pub fn check(out: &Path, artifacts: &[Artifact], others: Others) -> Result<Vec<(String, Staleness)>, IoError> {
    let mut stale = Vec::new();
    for a in artifacts {
        let path = target(out, &a.path);
        match holds(&path, &a.contents) {
            Ok(true) => {}
            Ok(false) => stale.push((a.path.clone(), Staleness::Differs)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => stale.push((a.path.clone(), Staleness::Missing)),
            Err(e) => return Err(IoError { path: path.display().to_string(), source: e }),
        }
    }
    if others == Others::Keep {
        return Ok(stale);
    }
    let produced: BTreeSet<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
    for extra in owned_files(out)?.into_iter().filter(|p| !produced.contains(p.as_str())) {
        stale.push((extra, Staleness::Unexpected));
    }
    Ok(stale)
}
