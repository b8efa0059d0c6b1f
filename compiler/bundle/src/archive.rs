//! The ZIP container: writing a bundle deterministically (deflate, fixed times and modes), and
//! reading an untrusted one into memory without ever touching the disk, refusing everything a
//! hostile archive could use: bytes outside its entries and local headers that disagree with
//! the central directory (the `layout` module), paths that leave the folder, links, duplicate or
//! case-folded duplicate names, encryption, other compression methods, sizes that lie,
//! compression bombs, truncation.

mod layout;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// Limits on what a bundle may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries an archive may hold, the manifest counted; checked before any is read.
    pub max_entries: usize,
    /// Most bytes of all files, uncompressed.
    pub max_total: u64,
    /// Highest uncompressed/compressed ratio of a file larger than `ratio_floor`.
    pub max_ratio: u64,
    /// Files up to this size are not held to the ratio (tiny files compress oddly).
    pub ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 10_000, max_total: 1 << 30, max_ratio: 100, ratio_floor: 1 << 20 }
    }
}

/// Why an archive is refused before any of its content is trusted. Names in it are the
/// archive's own (untrusted) bytes, escaped with [`pip_runtime::untrusted::shown`] where they
/// may not be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// Not a ZIP, or cut short.
    #[error("not a readable ZIP archive (truncated or damaged): {0}")]
    Unreadable(String),
    /// A name that could leave the folder it is extracted into, or is not plain.
    #[error("entry `{name}` has an unsafe path: {why}")]
    UnsafePath {
        /// The entry's name, as lossy UTF-8.
        name: String,
        /// Which rule it breaks (absolute, `..`, a backslash, not UTF-8, …), for the message.
        why: &'static str,
    },
    /// An entry whose Unix mode marks it a symbolic link: an extractor would follow it.
    #[error("entry `{0}` is a symbolic link")]
    Symlink(String),
    /// A directory entry (bundles hold files only).
    #[error("entry `{0}` is a directory; bundles hold files only")]
    Directory(String),
    /// Two entries with the same name (or names equal but for case).
    #[error("entry `{0}` appears more than once")]
    Duplicate(String),
    /// An entry with the encryption flag set: its bytes could not be checked without a password.
    #[error("entry `{0}` is encrypted")]
    Encrypted(String),
    /// A method other than stored or deflated.
    #[error("entry `{name}` uses compression method {method}; bundles use deflate")]
    Method {
        /// The entry's name in the central directory.
        name: String,
        /// The `zip` crate's name for the method (`Bzip2`, `Unsupported(99)`, …).
        method: String,
    },
    /// Too many entries or bytes, or a ratio of a compression bomb.
    #[error("entry `{name}` is refused as a compression bomb: {why}")]
    Bomb {
        /// The entry at which a limit was crossed (the first one, for too many entries).
        name: String,
        /// Which [`Limits`] field was crossed, with the numbers found and allowed.
        why: String,
    },
    /// Bytes of the file outside every entry, the central directory and the end record.
    #[error("{len} bytes at offset {at} are not part of any entry ({place}); a bundle holds nothing but its entries and directory")]
    Unaccounted {
        /// Byte offset in the file where they start.
        at: u64,
        /// Their length in bytes.
        len: u64,
        /// Between which parts they lie (before the first entry, between two named entries,
        /// before the central directory).
        place: String,
    },
    /// An entry starts inside another entry's bytes: two readers could see different content.
    #[error("entry `{name}` starts at offset {at}, inside entry `{inside}`")]
    Overlap {
        /// The entry that starts inside another.
        name: String,
        /// Byte offset of its local header in the file.
        at: u64,
        /// The entry whose bytes that offset falls inside.
        inside: String,
    },
    /// An entry's local header and its central directory record disagree.
    #[error(
        "entry `{name}`: its local header and the central directory disagree on its {field}: {local} in the local header, {central} in the central directory"
    )]
    Mismatch {
        /// The name in the central directory.
        name: String,
        /// Which header field differs (`name`, `extra field`, `compressed size`, …).
        field: &'static str,
        /// The local header's value.
        local: String,
        /// The central directory's value.
        central: String,
    },
    /// A ZIP feature bundles never use (ZIP64, data descriptors, comments, several disks).
    #[error("the archive uses {0}, which bundles never do")]
    Unsupported(String),
    /// The bytes do not match what the archive declares.
    #[error("entry `{name}` is damaged: {why}")]
    Damaged {
        /// The entry's name in the central directory.
        name: String,
        /// What reading it found: a size or CRC other than declared, a deflate stream that
        /// does not end with the entry's bytes.
        why: String,
    },
}

/// The files of an archive, by name.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Writes files (in the order given) into a deflated ZIP, with a fixed time and mode so that
/// the same files give the same bytes.
pub fn write(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ZipError> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(name.as_str(), options)?;
        w.write_all(bytes)?;
    }
    Ok(w.finish()?.into_inner())
}

/// Whether a name is a plain relative path: no `..`, `.`, empty parts, leading `/`, drive
/// letters, backslashes or control characters.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.starts_with('/') {
        return Err("it is absolute");
    }
    if name.contains('\\') {
        return Err("it contains a backslash");
    }
    if name.contains(':') {
        return Err("it contains a drive or stream separator `:`");
    }
    if name.chars().any(char::is_control) {
        return Err("it contains a control character");
    }
    for part in name.split('/') {
        match part {
            ".." => return Err("it climbs out with `..`"),
            "." => return Err("it has a `.` component"),
            "" => return Err("it has an empty component"),
            _ => {}
        }
    }
    Ok(())
}

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;

/// Reads every file of an untrusted archive into memory.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Files, ArchiveError> {
    // First the layout, from the raw bytes: the reader below trusts the central directory.
    let records = layout::check(bytes, limits.max_entries)?;
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::Bomb {
            name: "(archive)".into(),
            why: format!("{} entries, more than {}", zip.len(), limits.max_entries),
        });
    }
    // The reader keeps one entry per name: find a repeated one in the raw directory.
    let mut seen = BTreeSet::new();
    if let Some(dup) = records.iter().find(|c| !seen.insert(c.name.as_slice())) {
        return Err(ArchiveError::Duplicate(pip_runtime::untrusted::shown(&dup.name)));
    }
    if zip.len() != records.len() {
        return Err(ArchiveError::Unreadable(format!(
            "the central directory holds {} entries, the reader found {}",
            records.len(),
            zip.len()
        )));
    }
    let mut seen_folded = BTreeSet::new();
    let mut declared_total: u64 = 0;
    let mut names = Vec::with_capacity(zip.len());
    // First every header, without decompressing anything.
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        let name = match std::str::from_utf8(f.name_raw()) {
            Ok(n) => n.to_string(),
            Err(_) => {
                return Err(ArchiveError::UnsafePath { name: String::from_utf8_lossy(f.name_raw()).into_owned(), why: "it is not UTF-8" });
            }
        };
        if f.name().map(|n| n != name).unwrap_or(true) {
            return Err(ArchiveError::UnsafePath { name, why: "its Unicode path field disagrees with its name" });
        }
        if name.ends_with('/') || f.is_dir() {
            return Err(ArchiveError::Directory(name));
        }
        check_name(&name).map_err(|why| ArchiveError::UnsafePath { name: name.clone(), why })?;
        let mode = f.unix_mode().unwrap_or(0);
        if f.is_symlink() || mode & S_IFMT == S_IFLNK {
            return Err(ArchiveError::Symlink(name));
        }
        if mode & S_IFMT == S_IFDIR {
            return Err(ArchiveError::Directory(name));
        }
        if f.encrypted() || f.flags().is_encrypted() {
            return Err(ArchiveError::Encrypted(name));
        }
        if !matches!(f.compression(), CompressionMethod::Stored | CompressionMethod::Deflated) {
            return Err(ArchiveError::Method { name, method: format!("{:?}", f.compression()) });
        }
        if !seen_folded.insert(name.to_lowercase()) {
            return Err(ArchiveError::Duplicate(name));
        }
        let (size, packed) = (f.size(), f.compressed_size());
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.max_total {
            return Err(ArchiveError::Bomb { name, why: format!("the files would expand to more than {} bytes", limits.max_total) });
        }
        if size > limits.ratio_floor && size / packed.max(1) > limits.max_ratio {
            return Err(ArchiveError::Bomb { name, why: format!("{size} bytes from {packed} (more than {}:1)", limits.max_ratio) });
        }
        let deflated = f.compression() == CompressionMethod::Deflated;
        names.push((name, size, deflated));
    }
    // Then the contents, never more than declared.
    let mut files = Files::new();
    for (i, (name, size, deflated)) in names.into_iter().enumerate() {
        let damaged = |why: String| ArchiveError::Damaged { name: name.clone(), why };
        if deflated {
            // The reader stops at the stream's last block: bytes after it would go unread.
            let mut raw = Vec::new();
            let f = zip.by_index_raw(i).map_err(|e| damaged(e.to_string()))?;
            let packed = f.compressed_size();
            f.take(packed).read_to_end(&mut raw).map_err(|e| damaged(e.to_string()))?;
            deflate_fills(&raw, size).map_err(damaged)?;
        }
        let f = zip.by_index(i).map_err(|e| damaged(e.to_string()))?;
        let mut out = Vec::with_capacity(usize::try_from(size.min(1 << 26)).unwrap_or(0));
        f.take(size.saturating_add(1)).read_to_end(&mut out).map_err(|e| damaged(e.to_string()))?;
        if out.len() as u64 != size {
            return Err(damaged(format!("it declares {size} bytes but holds {} or more", out.len())));
        }
        if files.insert(name.clone(), out).is_some() {
            return Err(ArchiveError::Duplicate(name));
        }
    }
    Ok(files)
}

/// The raw deflate stream `raw` ends exactly at its last byte, decoding to at most `size`
/// bytes (the output is decoded into a small buffer and dropped: the entry is read again).
fn deflate_fills(raw: &[u8], size: u64) -> Result<(), String> {
    let mut d = flate2::Decompress::new(false);
    let mut scratch = vec![0u8; 1 << 16];
    loop {
        let used = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let before = (d.total_in(), d.total_out());
        let status = d
            .decompress(raw.get(used..).unwrap_or_default(), &mut scratch, flate2::FlushDecompress::None)
            .map_err(|e| format!("its compressed data is not deflate: {e}"))?;
        if d.total_out() > size {
            return Err(format!("it declares {size} bytes but holds {} or more", d.total_out()));
        }
        if status == flate2::Status::StreamEnd {
            let left = (raw.len() as u64).saturating_sub(d.total_in());
            return match left {
                0 => Ok(()),
                n => Err(format!("{n} bytes of its compressed size follow the end of its deflate stream")),
            };
        }
        if (d.total_in(), d.total_out()) == before {
            return Err("its deflate stream ends before its last block".into());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn names_that_are_not_plain_relative_paths_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\..\\x", "C:x", "a//b", "./a", "a\u{0}b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["manifest.json", "spec/specs/payments.pips", "generated/grafana/payments.json", "a..b"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn written_archives_read_back_and_are_deterministic() {
        let files = vec![("a.txt".to_string(), b"hello".repeat(100)), ("b/c.json".to_string(), b"{}".to_vec())];
        let a = write(&files).unwrap();
        assert_eq!(a, write(&files).unwrap());
        let back = read(&a, &Limits::default()).unwrap();
        assert_eq!(back.get("a.txt").unwrap(), &b"hello".repeat(100));
        assert_eq!(back.len(), 2);
    }
}
