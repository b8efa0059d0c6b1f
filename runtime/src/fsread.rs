//! Opening the files pip reads by path (ledgers, checkpoint files, key files, bundles) only
//! when they are regular files, and reading them within the size their format allows.
//!
//! A path given to pip may name anything: a FIFO blocks a reader forever (and blocks even
//! `open` until a writer appears), `/dev/zero` or `/dev/urandom` feed it without end, a
//! socket or a terminal does worse. So every such path is opened here:
//! - after links are resolved, it must name a regular file. A first `stat` refuses the
//!   common case without opening anything (opening a device can have effects of its own);
//! - the file is opened with `O_NONBLOCK` (and `O_NOCTTY`), so that a FIFO swapped in after
//!   that `stat` cannot block the open itself, and the opened descriptor is checked with
//!   `fstat`: the type that counts is that of the file actually opened, so there is no race
//!   between a check and the open. `O_NONBLOCK` is then cleared (it means nothing for a
//!   regular file, but the descriptor is handed on);
//! - [`read`] refuses a file larger than the caller's bound before reading a byte, and reads
//!   at most the length the file had when it was opened (a file that grows meanwhile is read
//!   as it was: a snapshot).
//!
//! Refusals are [`std::io::Error`]s of kind `InvalidInput` carrying a [`Refused`], so that
//! every error type that wraps an I/O error carries them unchanged, and [`refusal`] finds
//! them again (the CLI maps them to its usage exit code).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// Why [`open`], [`open_rw`] or [`read`] refused a path, carried inside the [`io::Error`] they return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a regular file once links are resolved.
    NotRegular {
        /// What it is instead (`a named pipe (FIFO)`, `a character device`, ...).
        kind: &'static str,
    },
    /// Larger than its format allows.
    TooLarge {
        /// The file's length when it was opened.
        size: u64,
        /// The caller's bound for `what` (a key file, a ledger), above which nothing is read.
        max: u64,
        /// What the file was read as (`a key file`).
        what: &'static str,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotRegular { kind } => write!(f, "it is {kind}, not a regular file"),
            Refused::TooLarge { size, max, what } => write!(f, "it has {size} bytes, more than {what} can have ({max})"),
        }
    }
}

impl std::error::Error for Refused {}

impl From<Refused> for io::Error {
    fn from(r: Refused) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, r)
    }
}

/// The refusal an I/O error carries, when it is one of this module's.
pub fn refusal(e: &io::Error) -> Option<&Refused> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Refused>())
}

/// What a file that is not regular is, in words.
fn kind_of(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a file")
}

/// Refuses what is not a regular file.
fn regular(meta: &Metadata) -> io::Result<()> {
    match kind_of(meta) {
        None => Ok(()),
        Some(kind) => Err(Refused::NotRegular { kind }.into()),
    }
}

/// Refuses a path that resolves to something other than a regular file, without opening it.
/// A missing file passes (the open that follows says so, or creates it).
fn precheck(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => regular(&meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn open_with(path: &Path, write: bool, create: bool) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    precheck(path)?;
    let mut flags = OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    flags |= if write { OFlags::RDWR } else { OFlags::RDONLY };
    if create {
        flags |= OFlags::CREATE;
    }
    // 0o666 less the umask: what `std::fs::OpenOptions` creates files with.
    let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(0o666))?;
    let file = File::from(fd);
    // INVARIANT: the type checked is the opened descriptor's, not the path's.
    regular(&file.metadata()?)?;
    let now = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, now.difference(OFlags::NONBLOCK))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_with(path: &Path, write: bool, create: bool) -> io::Result<File> {
    precheck(path)?;
    let file = std::fs::OpenOptions::new().read(true).write(write).create(create).truncate(false).open(path)?;
    regular(&file.metadata()?)?;
    Ok(file)
}

/// Opens a regular file for reading; anything else is refused with a [`Refused`].
pub fn open(path: &Path) -> io::Result<File> {
    open_with(path, false, false)
}

/// Opens a regular file for reading and writing, creating it when `create` and it is
/// missing (mode 0666 less the umask); anything else is refused with a [`Refused`].
pub fn open_rw(path: &Path, create: bool) -> io::Result<File> {
    open_with(path, true, create)
}

/// Reads an opened file from where it stands, at most `max` bytes and at most its length
/// when it was opened; a longer file is refused as `what` before anything is read.
pub fn read_opened(file: &mut File, max: u64, what: &'static str) -> io::Result<Vec<u8>> {
    let meta = file.metadata()?;
    regular(&meta)?;
    let size = meta.len();
    if size > max {
        return Err(Refused::TooLarge { size, max, what }.into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(size).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a whole regular file of at most `max` bytes (`what` names it in the refusal of a
/// longer one), returning its bytes and the metadata of the file actually read.
pub fn read_with_metadata(path: &Path, max: u64, what: &'static str) -> io::Result<(Vec<u8>, Metadata)> {
    let mut file = open(path)?;
    let meta = file.metadata()?;
    let bytes = read_opened(&mut file, max, what)?;
    Ok((bytes, meta))
}

/// Reads a whole regular file of at most `max` bytes (`what` names it in the refusal of a
/// longer one).
pub fn read(path: &Path, max: u64, what: &'static str) -> io::Result<Vec<u8>> {
    read_with_metadata(path, max, what).map(|(bytes, _)| bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn regular_files_are_read_and_longer_ones_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read(&p, 5, "a test file").unwrap(), b"hello");
        let e = read(&p, 4, "a test file").unwrap_err();
        assert_eq!(refusal(&e), Some(&Refused::TooLarge { size: 5, max: 4, what: "a test file" }));
        assert_eq!(e.to_string(), "it has 5 bytes, more than a test file can have (4)");
        assert_eq!(read(&dir.path().join("missing"), 5, "x").unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn directories_are_refused_and_a_missing_file_is_created_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path()).unwrap_err();
        assert_eq!(refusal(&e), Some(&Refused::NotRegular { kind: "a directory" }));
        let p = dir.path().join("new");
        assert!(open_rw(&p, false).is_err());
        assert!(!p.exists());
        open_rw(&p, true).unwrap();
        assert!(p.is_file());
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_even_through_links_and_never_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let link = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        for (p, kind) in [(&fifo, "a named pipe (FIFO)"), (&link, "a character device")] {
            for e in [open(p).unwrap_err(), open_rw(p, true).unwrap_err(), read(p, u64::MAX, "x").unwrap_err()] {
                assert_eq!(refusal(&e), Some(&Refused::NotRegular { kind }), "{}: {e}", p.display());
            }
        }
    }

    /// The descriptor's type is what counts: a FIFO opened with `O_NONBLOCK` (as one swapped
    /// in after the first `stat` would be) is refused by `fstat`, and the open returned.
    #[cfg(unix)]
    #[test]
    fn an_opened_fifo_is_refused_by_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let fd = rustix::fs::open(&fifo, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK, rustix::fs::Mode::empty()).unwrap();
        let mut file = File::from(fd);
        let e = read_opened(&mut file, u64::MAX, "x").unwrap_err();
        assert_eq!(refusal(&e), Some(&Refused::NotRegular { kind: "a named pipe (FIFO)" }));
    }
}
