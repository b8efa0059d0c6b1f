//! The byte layout of an untrusted bundle, checked before anything is read from it: every
//! byte of the file belongs to exactly one part, and each entry's local header says what
//! its central directory record says.
//!
//! A ZIP names each file twice: in the local header before its data, and in the central
//! directory at the end. A reader that trusts only the central directory (as the `zip`
//! crate does) checks one name while a streaming extractor writes the other: a local
//! header naming `../../evil` behind a central record naming `timeline.html` would pass.
//! Bytes outside the entries (prepended or appended, a gap between entries, a comment)
//! can carry a second archive that another tool sees. So the file must be, in order and
//! with nothing else: the entries (local header, name, extra field, data) from offset 0,
//! each starting where the one before ends; the central directory; the end record, with no
//! comment, ending the file. Every field the two headers repeat must be equal, byte for
//! byte. Bundles use none of ZIP64, data descriptors, comments or spanning, so these are
//! refused rather than interpreted.

use pip_runtime::untrusted::shown;

use super::ArchiveError;

const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const END_SIG: &[u8; 4] = b"PK\x05\x06";
const LOCAL_LEN: usize = 30;
const CENTRAL_LEN: usize = 46;
const END_LEN: usize = 22;
/// Bit 3 of the flags: sizes and CRC follow the data in a data descriptor.
const DATA_DESCRIPTOR: u16 = 1 << 3;

/// One central directory record, as far as the layout needs it.
#[derive(Debug, Clone)]
pub(super) struct Central {
    /// Byte offset of the record in the file, to check the directory follows the last entry.
    at: usize,
    /// The name's bytes.
    pub name: Vec<u8>,
    /// Where its local header starts.
    local: usize,
    /// The entry's compressed size in bytes: where its data ends, so where the next entry must start.
    packed: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes)
}

fn unreadable(why: impl Into<String>) -> ArchiveError {
    ArchiveError::Unreadable(why.into())
}

fn unsupported(what: impl Into<String>) -> ArchiveError {
    ArchiveError::Unsupported(what.into())
}

fn widen(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Finds the end record, which must end the file with no comment, and returns its offset.
fn end_record(bytes: &[u8]) -> Result<usize, ArchiveError> {
    let len = bytes.len();
    let at = len.checked_sub(END_LEN).ok_or_else(|| unreadable("the file is too short to be a ZIP archive"))?;
    let is_end = |i: usize| bytes.get(i..i + 4) == Some(END_SIG.as_slice());
    if is_end(at) {
        return match u16_at(bytes, at + 20) {
            Some(0) => Ok(at),
            _ => Err(unreadable("the end record's comment runs past the end of the file")),
        };
    }
    // Not at the very end: say what follows the last end record, when there is one.
    let earliest = at.saturating_sub(usize::from(u16::MAX));
    match (earliest..at).rev().find(|&i| is_end(i)) {
        Some(e) if u16_at(bytes, e + 20).map(usize::from) == Some(len - e - END_LEN) => {
            Err(unsupported(format!("an archive comment ({} bytes)", len - e - END_LEN)))
        }
        Some(e) => Err(ArchiveError::Unaccounted {
            at: (e + END_LEN) as u64,
            len: (len - e - END_LEN) as u64,
            place: "after the end of central directory record".into(),
        }),
        None => Err(unreadable("no end of central directory record ends the file (truncated, or not a ZIP archive)")),
    }
}

/// Reads the central directory records between `start` and `end`, which they must fill.
fn central_records(bytes: &[u8], start: usize, end: usize, count: usize) -> Result<Vec<Central>, ArchiveError> {
    let mut records = Vec::with_capacity(count.min(1 << 16));
    let mut at = start;
    while at < end {
        if bytes.get(at..at + 4) != Some(CENTRAL_SIG.as_slice()) {
            return Err(unreadable(format!("no central directory record at offset {at}")));
        }
        let field =
            |off: usize| u16_at(bytes, at + off).map(usize::from).ok_or_else(|| unreadable("a central directory record is cut short"));
        let (n, m, k) = (field(28)?, field(30)?, field(32)?);
        let next = at + CENTRAL_LEN + n + m + k;
        let name = bytes
            .get(at + CENTRAL_LEN..at + CENTRAL_LEN + n)
            .filter(|_| next <= end)
            .ok_or_else(|| unreadable(format!("the central directory record at offset {at} runs past the directory's end")))?;
        if k > 0 {
            return Err(unsupported(format!("a comment on entry `{}`", shown(name))));
        }
        if field(34)? != 0 {
            return Err(unsupported(format!("several disks (entry `{}`)", shown(name))));
        }
        let local = u32_at(bytes, at + 42).unwrap_or(0);
        let packed = u32_at(bytes, at + 20).unwrap_or(0);
        let size = u32_at(bytes, at + 24).unwrap_or(0);
        if [local, packed, size].contains(&u32::MAX) {
            return Err(unsupported(format!("ZIP64 sizes or offsets (entry `{}`)", shown(name))));
        }
        if u16_at(bytes, at + 8).unwrap_or(0) & DATA_DESCRIPTOR != 0 {
            return Err(unsupported(format!("a data descriptor (entry `{}`)", shown(name))));
        }
        records.push(Central { at, name: name.to_vec(), local: widen(local), packed: widen(packed) });
        at = next;
    }
    if records.len() != count {
        return Err(unreadable(format!("the end record counts {count} entries, the central directory holds {}", records.len())));
    }
    Ok(records)
}

/// The local header of `c` agrees with it; returns where the entry's data ends.
fn check_local(bytes: &[u8], c: &Central) -> Result<usize, ArchiveError> {
    let name = shown(&c.name);
    let at = c.local;
    if bytes.get(at..at.saturating_add(4)) != Some(LOCAL_SIG.as_slice()) {
        return Err(unreadable(format!("entry `{name}` has no local header at offset {at}")));
    }
    // Offsets come from the file: every sum is checked (a wrapped one would point anywhere).
    let cut = || unreadable(format!("the local header of entry `{name}` is cut short"));
    let header = bytes.get(at..at.checked_add(LOCAL_LEN).ok_or_else(cut)?).ok_or_else(cut)?;
    let central = bytes.get(c.at..c.at + CENTRAL_LEN).unwrap_or_default();
    let mismatch =
        |field: &'static str, local: String, central: String| ArchiveError::Mismatch { name: name.clone(), field, local, central };
    // (field, offset in the local header, offset in the central record, width)
    for (field, l, r, w) in [
        ("version needed to extract", 4, 6, 2),
        ("flags", 6, 8, 2),
        ("compression method", 8, 10, 2),
        ("modification time", 10, 12, 4),
        ("CRC-32", 14, 16, 4),
        ("compressed size", 18, 20, 4),
        ("uncompressed size", 22, 24, 4),
    ] {
        let (a, b) = (header.get(l..l + w).unwrap_or_default(), central.get(r..r + w).unwrap_or_default());
        if a != b {
            let num = |s: &[u8]| s.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)).to_string();
            return Err(mismatch(field, num(a), num(b)));
        }
    }
    let n = usize::from(u16_at(header, 26).unwrap_or(0));
    let m = usize::from(u16_at(header, 28).unwrap_or(0));
    let name_at = at.checked_add(LOCAL_LEN).ok_or_else(cut)?;
    let local_name = bytes.get(name_at..name_at.checked_add(n).ok_or_else(cut)?).ok_or_else(cut)?;
    if local_name != c.name.as_slice() {
        return Err(mismatch("name", format!("`{}`", shown(local_name)), format!("`{name}`")));
    }
    let extra_at = name_at.checked_add(n).ok_or_else(cut)?;
    let data_at = extra_at.checked_add(m).ok_or_else(cut)?;
    let local_extra = bytes.get(extra_at..data_at).ok_or_else(cut)?;
    let cn = usize::from(u16_at(bytes, c.at + 28).unwrap_or(0));
    let cm = usize::from(u16_at(bytes, c.at + 30).unwrap_or(0));
    let central_extra = bytes.get(c.at + CENTRAL_LEN + cn..c.at + CENTRAL_LEN + cn + cm).unwrap_or_default();
    if local_extra != central_extra {
        return Err(mismatch("extra field", format!("{} bytes", local_extra.len()), format!("{} bytes", central_extra.len())));
    }
    data_at.checked_add(c.packed).ok_or_else(|| ArchiveError::Damaged { name, why: "its data runs past any offset".into() })
}

/// Checks the layout of `bytes` (see the module docs) and returns the central directory's
/// records in their order. At most `max_entries` records are read.
pub(super) fn check(bytes: &[u8], max_entries: usize) -> Result<Vec<Central>, ArchiveError> {
    let end = end_record(bytes)?;
    let field = |off: usize| u16_at(bytes, end + off).unwrap_or(0);
    let (disk, cd_disk, here, total) = (field(4), field(6), field(8), field(10));
    if disk != 0 || cd_disk != 0 || here != total {
        return Err(unsupported("several disks"));
    }
    let (cd_size, cd_start) = (u32_at(bytes, end + 12).unwrap_or(0), u32_at(bytes, end + 16).unwrap_or(0));
    if total == u16::MAX || cd_size == u32::MAX || cd_start == u32::MAX {
        return Err(unsupported("ZIP64 records"));
    }
    let count = usize::from(total);
    if count > max_entries {
        return Err(ArchiveError::Bomb { name: "(archive)".into(), why: format!("{count} entries, more than {max_entries}") });
    }
    let (cd_start, cd_end) = (widen(cd_start), widen(cd_start).saturating_add(widen(cd_size)));
    if cd_end > end {
        return Err(unreadable("the central directory runs into the end record"));
    }
    if cd_end < end {
        return Err(ArchiveError::Unaccounted {
            at: cd_end as u64,
            len: (end - cd_end) as u64,
            place: "between the central directory and the end record".into(),
        });
    }
    let records = central_records(bytes, cd_start, cd_end, count)?;
    let mut by_offset: Vec<&Central> = records.iter().collect();
    by_offset.sort_by_key(|c| c.local);
    let mut next = 0usize;
    let mut previous: Option<&Central> = None;
    for c in by_offset {
        if c.local > next {
            let place = match previous {
                None => "before the first entry".to_string(),
                Some(p) => format!("between entries `{}` and `{}`", shown(&p.name), shown(&c.name)),
            };
            return Err(ArchiveError::Unaccounted { at: next as u64, len: (c.local - next) as u64, place });
        }
        if let Some(p) = previous
            && c.local < next
        {
            return Err(ArchiveError::Overlap { name: shown(&c.name), at: c.local as u64, inside: shown(&p.name) });
        }
        next = check_local(bytes, c)?;
        previous = Some(c);
    }
    if next > cd_start {
        let name = previous.map(|p| shown(&p.name)).unwrap_or_default();
        return Err(ArchiveError::Damaged { name, why: "its data runs into the central directory".into() });
    }
    if next < cd_start {
        let place = match previous {
            None => "before the central directory of an archive with no entries".to_string(),
            Some(p) => format!("between entry `{}` and the central directory", shown(&p.name)),
        };
        return Err(ArchiveError::Unaccounted { at: next as u64, len: (cd_start - next) as u64, place });
    }
    Ok(records)
}
