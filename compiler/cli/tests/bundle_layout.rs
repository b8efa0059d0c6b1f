//! Hostile ZIP layouts, built byte by byte: a bundle whose local headers say something other
//! than its central directory, or that holds bytes outside its entries, is refused with the
//! reason before anything is read from it, and `pipc verify-bundle` writes nothing.
//!
//! The archives start as ones `pipc` writes, are split into their parts by [`Zip::parse`],
//! changed, and put back together by [`Zip::build`], which recomputes every offset and length
//! so that each archive differs from a valid one only in the way the test names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pip_bundle::archive::{self, ArchiveError, Limits};

/// One entry: its local header (30 fixed bytes), name, extra field and data; its central
/// record (46 fixed bytes), name, extra field and comment.
#[derive(Debug, Clone)]
struct Entry {
    local: Vec<u8>,
    local_name: Vec<u8>,
    local_extra: Vec<u8>,
    data: Vec<u8>,
    central: Vec<u8>,
    central_name: Vec<u8>,
    central_extra: Vec<u8>,
    comment: Vec<u8>,
    /// Bytes written after this entry's data (a gap).
    after: Vec<u8>,
    /// When set, the central record points at this entry's local header instead.
    local_of: Option<usize>,
}

#[derive(Debug, Clone)]
struct Zip {
    prefix: Vec<u8>,
    entries: Vec<Entry>,
    /// Bytes between the central directory and the end record.
    before_end: Vec<u8>,
    /// The end record's comment.
    comment: Vec<u8>,
    /// Bytes after the end record.
    suffix: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn put_u16(b: &mut [u8], at: usize, v: usize) {
    b[at..at + 2].copy_from_slice(&u16::try_from(v).unwrap().to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: usize) {
    b[at..at + 4].copy_from_slice(&u32::try_from(v).unwrap().to_le_bytes());
}

impl Zip {
    /// Splits an archive written by `archive::write` (entries from offset 0, in order).
    fn parse(bytes: &[u8]) -> Zip {
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], b"PK\x05\x06");
        let (count, cd) = (u16_at(bytes, end + 10), u32_at(bytes, end + 16));
        let mut entries = Vec::new();
        let mut c = cd;
        for _ in 0..count {
            assert_eq!(&bytes[c..c + 4], b"PK\x01\x02");
            let (n, m, k) = (u16_at(bytes, c + 28), u16_at(bytes, c + 30), u16_at(bytes, c + 32));
            let l = u32_at(bytes, c + 42);
            let (ln, lm) = (u16_at(bytes, l + 26), u16_at(bytes, l + 28));
            let packed = u32_at(bytes, c + 20);
            let data_at = l + 30 + ln + lm;
            entries.push(Entry {
                local: bytes[l..l + 30].to_vec(),
                local_name: bytes[l + 30..l + 30 + ln].to_vec(),
                local_extra: bytes[l + 30 + ln..data_at].to_vec(),
                data: bytes[data_at..data_at + packed].to_vec(),
                central: bytes[c..c + 46].to_vec(),
                central_name: bytes[c + 46..c + 46 + n].to_vec(),
                central_extra: bytes[c + 46 + n..c + 46 + n + m].to_vec(),
                comment: bytes[c + 46 + n + m..c + 46 + n + m + k].to_vec(),
                after: Vec::new(),
                local_of: None,
            });
            c += 46 + n + m + k;
        }
        Zip { prefix: Vec::new(), entries, before_end: Vec::new(), comment: Vec::new(), suffix: Vec::new() }
    }

    /// Puts the archive together, with every offset and length recomputed.
    fn build(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let mut offsets = Vec::new();
        for e in &self.entries {
            offsets.push(out.len());
            let mut local = e.local.clone();
            put_u16(&mut local, 26, e.local_name.len());
            put_u16(&mut local, 28, e.local_extra.len());
            out.extend_from_slice(&local);
            out.extend_from_slice(&e.local_name);
            out.extend_from_slice(&e.local_extra);
            out.extend_from_slice(&e.data);
            out.extend_from_slice(&e.after);
        }
        let cd = out.len();
        for (i, e) in self.entries.iter().enumerate() {
            let mut central = e.central.clone();
            put_u16(&mut central, 28, e.central_name.len());
            put_u16(&mut central, 30, e.central_extra.len());
            put_u16(&mut central, 32, e.comment.len());
            put_u32(&mut central, 42, offsets[e.local_of.unwrap_or(i)]);
            out.extend_from_slice(&central);
            out.extend_from_slice(&e.central_name);
            out.extend_from_slice(&e.central_extra);
            out.extend_from_slice(&e.comment);
        }
        let cd_size = out.len() - cd;
        out.extend_from_slice(&self.before_end);
        let mut end = vec![0u8; 22];
        end[..4].copy_from_slice(b"PK\x05\x06");
        put_u16(&mut end, 8, self.entries.len());
        put_u16(&mut end, 10, self.entries.len());
        put_u32(&mut end, 12, cd_size);
        put_u32(&mut end, 16, cd);
        put_u16(&mut end, 20, self.comment.len());
        out.extend_from_slice(&end);
        out.extend_from_slice(&self.comment);
        out.extend_from_slice(&self.suffix);
        out
    }

    fn entry(&mut self, name: &str) -> &mut Entry {
        self.entries.iter_mut().find(|e| e.central_name == name.as_bytes()).unwrap()
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("manifest.json".to_string(), br#"{"format":"pip-incident-bundle"}"#.repeat(20)),
        ("timeline.html".to_string(), b"<!doctype html><p>events</p>".repeat(50)),
        ("spec/shop.pips".to_string(), b"spec shop version \"1.0.0\" {}\n".to_vec()),
    ]
}

fn valid() -> (Vec<u8>, Zip) {
    let bytes = archive::write(&files()).unwrap();
    let zip = Zip::parse(&bytes);
    (bytes, zip)
}

fn refused(bytes: &[u8]) -> ArchiveError {
    match archive::read(bytes, &Limits::default()) {
        Err(e) => e,
        Ok(f) => panic!("expected a refusal, read {:?}", f.keys().collect::<Vec<_>>()),
    }
}

#[test]
fn the_test_archives_differ_from_valid_ones_only_where_a_test_changes_them() {
    let (bytes, zip) = valid();
    assert_eq!(zip.build(), bytes);
    assert_eq!(archive::read(&bytes, &Limits::default()).unwrap().len(), 3);
}

#[test]
fn a_local_header_that_names_another_path_than_the_central_directory_is_refused() {
    let (_, mut zip) = valid();
    zip.entry("timeline.html").local_name = b"../../evil".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Mismatch { name, field: "name", .. } if name == "timeline.html"), "{e}");
    assert_eq!(
        e.to_string(),
        "entry `timeline.html`: its local header and the central directory disagree on its name: `../../evil` in the local header, `timeline.html` in the central directory"
    );
}

#[test]
fn local_and_central_headers_must_agree_on_every_field_they_repeat() {
    /// A field, its offset in the local header, and a change to it.
    type Case = (&'static str, usize, fn(&mut [u8]));
    let cases: [Case; 7] = [
        ("version needed to extract", 4, |b| b[0] ^= 1),
        ("flags", 6, |b| b[1] ^= 0x08), // bit 11 (UTF-8 names)
        ("compression method", 8, |b| b[0] = 0),
        ("modification time", 10, |b| b[0] ^= 1),
        ("CRC-32", 14, |b| b[0] ^= 1),
        ("compressed size", 18, |b| b[0] ^= 1),
        ("uncompressed size", 22, |b| b[0] ^= 1),
    ];
    for (field, at, change) in cases {
        let (_, mut zip) = valid();
        change(&mut zip.entry("manifest.json").local[at..]);
        let e = refused(&zip.build());
        assert!(matches!(&e, ArchiveError::Mismatch { field: f, name, .. } if *f == field && name == "manifest.json"), "{field}: {e}");
    }
    // The extra fields too (one could carry another name for the file: a Unicode path field).
    let (_, mut zip) = valid();
    let mut unicode_path = vec![0x75, 0x70, 15, 0, 1, 0, 0, 0, 0];
    unicode_path.extend_from_slice(b"../e.sh");
    unicode_path[2] = u8::try_from(unicode_path.len() - 4).unwrap();
    zip.entry("timeline.html").local_extra = unicode_path;
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Mismatch { field: "extra field", .. }), "{e}");
}

#[test]
fn a_data_descriptor_is_refused_even_when_both_headers_agree() {
    let (_, mut zip) = valid();
    let e = zip.entry("manifest.json");
    e.local[6] |= 0x08;
    e.central[8] |= 0x08;
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unsupported(w) if w.contains("data descriptor")), "{e}");
}

#[test]
fn prepended_or_appended_bytes_are_refused() {
    let (bytes, mut zip) = valid();
    zip.prefix = b"#!/bin/sh\nexit 0\n".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unaccounted { at: 0, len: 17, place } if place == "before the first entry"), "{e}");
    assert!(e.to_string().starts_with("17 bytes at offset 0 are not part of any entry (before the first entry)"), "{e}");

    // Junk prepended without moving the offsets (as `cat junk bundle.zip` does).
    let mut shifted = b"junk".to_vec();
    shifted.extend_from_slice(&bytes);
    let e = refused(&shifted);
    assert!(matches!(&e, ArchiveError::Unaccounted { .. } | ArchiveError::Unreadable(_)), "{e}");

    let mut appended = bytes.clone();
    let junk = b"PK\x03\x04 a second archive";
    appended.extend_from_slice(junk);
    let e = refused(&appended);
    assert!(
        matches!(&e, ArchiveError::Unaccounted { at, len, place } if *at == bytes.len() as u64 && *len == junk.len() as u64 && place.contains("after the end")),
        "{e}"
    );

    let (_, mut zip) = valid();
    zip.suffix = vec![0; 1];
    assert!(matches!(refused(&zip.build()), ArchiveError::Unaccounted { len: 1, .. }));
}

#[test]
fn comments_are_refused() {
    let (_, mut zip) = valid();
    zip.comment = b"see also the other archive".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unsupported(w) if w.contains("archive comment")), "{e}");
    assert!(e.to_string().ends_with("which bundles never do"), "{e}");
    let (_, mut zip) = valid();
    zip.entry("timeline.html").comment = b"hi".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unsupported(w) if w.contains("comment on entry `timeline.html`")), "{e}");
}

#[test]
fn gaps_between_parts_are_refused() {
    let (_, mut zip) = valid();
    zip.entry("manifest.json").after = b"hidden".to_vec();
    let e = refused(&zip.build());
    assert!(
        matches!(&e, ArchiveError::Unaccounted { len: 6, place, .. } if place == "between entries `manifest.json` and `timeline.html`"),
        "{e}"
    );
    let (_, mut zip) = valid();
    zip.entry("spec/shop.pips").after = b"hidden".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unaccounted { len: 6, place, .. } if place.contains("and the central directory")), "{e}");
    let (_, mut zip) = valid();
    zip.before_end = b"PK\x06\x07 a zip64 locator".to_vec();
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Unaccounted { place, .. } if place.contains("and the end record")), "{e}");
}

#[test]
fn overlapping_entries_are_refused() {
    // Two central records for one local header (a quine-style bomb does this).
    let (_, mut zip) = valid();
    let second = zip.entries[1].clone();
    zip.entries[1] = Entry { local_of: Some(0), ..second };
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Overlap { .. }), "{e}");
    assert!(e.to_string().contains("inside entry `manifest.json`"), "{e}");

    // A compressed size that runs into the next entry, in both headers.
    let (_, mut zip) = valid();
    let m = zip.entry("manifest.json");
    let longer = u32::from_le_bytes(m.local[18..22].try_into().unwrap()) + 4;
    m.local[18..22].copy_from_slice(&longer.to_le_bytes());
    m.central[20..24].copy_from_slice(&longer.to_le_bytes());
    let e = refused(&zip.build());
    assert!(matches!(&e, ArchiveError::Overlap { name, .. } if name == "timeline.html"), "{e}");
}

fn pipc(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipc")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

#[test]
fn verify_bundle_refuses_a_hostile_layout_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(pipc(d, &["keygen", "-o", "key"]).status.code(), Some(0));
    let (_, mut zip) = valid();
    zip.entry("timeline.html").local_name = b"../../evil".to_vec();
    std::fs::write(d.join("evil.zip"), zip.build()).unwrap();
    let listing = |p: &Path| {
        let mut v: Vec<PathBuf> = walk(p);
        v.sort();
        v
    };
    let before = listing(d);
    let out = pipc(d, &["verify-bundle", "evil.zip", "--key-file", "key"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the archive is refused: entry `timeline.html`: its local header and the central directory disagree on its name: `../../evil`"
        ),
        "{stderr}"
    );
    assert_eq!(listing(d), before);
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// Bytes hidden after an entry's last deflate block, inside its compressed size: the
/// decoder stops at the block and never reads them, so they are refused as any other
/// unaccounted bytes are.
#[test]
fn bytes_after_the_end_of_an_entrys_deflate_stream_are_refused() {
    let (_, mut zip) = valid();
    let last = zip.entries.last_mut().unwrap();
    assert_eq!(u16_at(&last.local, 8), 8, "the test needs a deflated entry");
    last.data.extend_from_slice(&[0xA5; 1024]);
    let packed = last.data.len();
    put_u32(&mut last.local, 18, packed);
    put_u32(&mut last.central, 20, packed);
    let e = refused(&zip.build());
    assert!(
        matches!(&e, ArchiveError::Damaged { name, why } if name == "spec/shop.pips"
            && why == "1024 bytes of its compressed size follow the end of its deflate stream"),
        "{e}"
    );
}
