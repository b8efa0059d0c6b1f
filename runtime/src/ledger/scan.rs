//! Splits a ledger's bytes into records without trusting them: finds damaged regions, resumes
//! at the next good record, and tells a torn tail (an unfinished last write) from damage.
//!
//! Rules, applied at each record boundary:
//! - A frame whose length prefix is in range and whose body's field lengths add up exactly
//!   is a record.
//! - A frame whose declared length runs past the end of the file is *incomplete*. If the
//!   bytes up to the end still hold a well-formed body followed by a MAC, the record is kept
//!   and only its length prefix was altered (`frame_damaged`). Otherwise, when a good record
//!   follows somewhere after it, the region is damage; when none does, it is a torn tail.
//! - Any other frame is damaged: the scan resumes at the next offset that holds a record
//!   confirmed by its MAC (or, without a key, by a well-formed frame or the end of the file
//!   right after it). Trailing zero bytes (a file extended by a crash but never written) are
//!   a torn tail, never damage.

use crate::ledger::format::{FIXED_BODY_LEN, FormatError, HASH_LEN, HEADER_LEN, Header, MAC_LEN, MAX_BODY_LEN, RawBody, hash_body};
use crate::ledger::key::LedgerKey;

/// One record found in the file.
#[derive(Debug, Clone)]
pub struct Span {
    /// Offset of the record's length prefix.
    pub offset: usize,
    /// Length of its body in bytes: from the length prefix, or when `frame_damaged` from where the file ends.
    pub body_len: usize,
    /// The seq as stored, not checked against the chain.
    pub seq: u64,
    /// The append time as stored, Unix milliseconds.
    pub ts_millis: u64,
    /// The previous entry's hash as stored in the body, not checked against the chain.
    pub prev: [u8; HASH_LEN],
    /// Whether the length prefix did not match the body (the record was kept anyway).
    pub frame_damaged: bool,
}

impl Span {
    /// The body's bytes within the file.
    pub fn body<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes.get(self.offset + 4..self.offset + 4 + self.body_len).unwrap_or_default()
    }

    /// The MAC's bytes within the file.
    pub fn mac(&self, bytes: &[u8]) -> [u8; MAC_LEN] {
        let at = self.offset + 4 + self.body_len;
        bytes.get(at..at + MAC_LEN).and_then(|m| <[u8; MAC_LEN]>::try_from(m).ok()).unwrap_or([0; MAC_LEN])
    }

    /// Offset just past the record.
    pub fn end(&self) -> usize {
        self.offset + 4 + self.body_len + MAC_LEN
    }
}

/// What the scan found at one place of the file.
#[derive(Debug, Clone)]
pub enum Item {
    /// A well-formed record.
    Record(Span),
    /// Bytes that do not form a record.
    Damaged {
        /// Offset of the first byte that does not belong to a record.
        offset: usize,
        /// Bytes up to the next record the scan confirmed, or to the end of the file.
        len: usize,
    },
}

/// An unfinished record at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Offset of the unfinished record's length prefix.
    pub offset: usize,
    /// Bytes from `offset` to the end of the file.
    pub len: usize,
}

/// A whole ledger file, split.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The decoded file header (key id, ledger identity, MAC), not yet verified with a key.
    pub header: Header,
    /// Records and damaged regions in file order.
    pub items: Vec<Item>,
    /// The torn tail, if the file ends in one.
    pub tail: Option<Tail>,
}

/// Splits a ledger file. `key` confirms where good records resume after damage.
pub fn scan(bytes: &[u8], key: Option<&LedgerKey>) -> Result<Scan, FormatError> {
    let header = Header::decode(bytes)?;
    let (items, tail) = scan_region(bytes, HEADER_LEN, key);
    Ok(Scan { header, items, tail })
}

enum Frame {
    Ok(Span),
    Incomplete,
    Bad,
}

fn frame_at(bytes: &[u8], o: usize) -> Frame {
    let Some(rest) = bytes.get(o..) else { return Frame::Incomplete };
    let Some(len) = rest.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)) else { return Frame::Incomplete };
    let Ok(body_len) = usize::try_from(len) else { return Frame::Bad };
    if !(FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&body_len) {
        return Frame::Bad;
    }
    if rest.len() < 4 + body_len + MAC_LEN {
        return Frame::Incomplete;
    }
    match span_with_body(bytes, o, body_len) {
        Some(span) => Frame::Ok(span),
        None => Frame::Bad,
    }
}

/// A well-formed record, borrowed from the file's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The body's bytes.
    pub body: &'a [u8],
    /// The MAC as stored, not yet checked.
    pub mac: &'a [u8; MAC_LEN],
    /// The body's fields.
    pub raw: RawBody<'a>,
    /// Offset just past the record.
    pub end: usize,
}

/// The record at `o`, when there is a well-formed one: exactly when the scan sees one
/// (`frame_at` is `Frame::Ok`), without copying anything.
pub(crate) fn record_at(bytes: &[u8], o: usize) -> Option<Record<'_>> {
    let len = bytes.get(o..)?.first_chunk::<4>().map(|b| u32::from_le_bytes(*b))?;
    let body_len = usize::try_from(len).ok()?;
    if !(FIXED_BODY_LEN..=MAX_BODY_LEN).contains(&body_len) {
        return None;
    }
    record_with_body(bytes, o, body_len)
}

fn record_with_body(bytes: &[u8], o: usize, body_len: usize) -> Option<Record<'_>> {
    let body = bytes.get(o + 4..o + 4 + body_len)?;
    let end = o + 4 + body_len + MAC_LEN;
    let mac = bytes.get(o + 4 + body_len..end)?.first_chunk::<MAC_LEN>()?;
    let raw = RawBody::parse(body)?;
    Some(Record { body, mac, raw, end })
}

fn span_with_body(bytes: &[u8], o: usize, body_len: usize) -> Option<Span> {
    let r = record_with_body(bytes, o, body_len)?;
    Some(Span { offset: o, body_len, seq: r.raw.seq, ts_millis: r.raw.ts_millis, prev: *r.raw.prev, frame_damaged: false })
}

/// Splits `bytes[start..]` into records.
pub(crate) fn scan_region(bytes: &[u8], start: usize, key: Option<&LedgerKey>) -> (Vec<Item>, Option<Tail>) {
    let mut items = Vec::with_capacity(bytes.len().saturating_sub(start) / 128);
    let mut o = start;
    let end = bytes.len();
    while o < end {
        match frame_at(bytes, o) {
            Frame::Ok(span) => {
                o = span.end();
                items.push(Item::Record(span));
            }
            Frame::Incomplete => {
                if all_zero(bytes, o) {
                    return (items, Some(Tail { offset: o, len: end - o }));
                }
                // A complete body and MAC up to the end of the file: only the prefix changed.
                if let Some(body_len) = (end - o).checked_sub(4 + MAC_LEN)
                    && body_len >= FIXED_BODY_LEN
                    && let Some(mut span) = span_with_body(bytes, o, body_len)
                {
                    span.frame_damaged = true;
                    items.push(Item::Record(span));
                    return (items, None);
                }
                match resync(bytes, o + 1, key) {
                    Some(next) => {
                        items.push(Item::Damaged { offset: o, len: next - o });
                        o = next;
                    }
                    None => return (items, Some(Tail { offset: o, len: end - o })),
                }
            }
            Frame::Bad => {
                if all_zero(bytes, o) {
                    return (items, Some(Tail { offset: o, len: end - o }));
                }
                let next = resync(bytes, o + 1, key).unwrap_or(end);
                items.push(Item::Damaged { offset: o, len: next - o });
                o = next;
            }
        }
    }
    (items, None)
}

fn all_zero(bytes: &[u8], from: usize) -> bool {
    bytes.get(from..).is_some_and(|rest| rest.iter().all(|&b| b == 0))
}

/// The first offset at or after `from` where a confirmed record starts.
fn resync(bytes: &[u8], from: usize, key: Option<&LedgerKey>) -> Option<usize> {
    (from..bytes.len()).find(|&q| match frame_at(bytes, q) {
        Frame::Ok(span) => {
            let confirmed = key.is_some_and(|k| k.verify_entry(&hash_body(span.body(bytes)), &span.mac(bytes)));
            confirmed || span.end() == bytes.len() || matches!(frame_at(bytes, span.end()), Frame::Ok(_))
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::evidence::Event;
    use crate::ledger::format::{PreparedEvent, encode_record, ledger_header};
    use crate::ledger::identity::Identity;

    fn ledger(n: u64) -> (Vec<u8>, LedgerKey, Vec<usize>) {
        let key = LedgerKey::generate().unwrap();
        let ident = Identity::generate("t", "audit").unwrap();
        let mut out = ledger_header(&key, &ident).to_vec();
        let mut prev = ident.digest();
        let mut starts = Vec::new();
        for seq in 1..=n {
            let ev = Event {
                subsystem: "s".into(),
                actor: "a".into(),
                action: "x".into(),
                resource: "r".into(),
                payload: serde_json::json!({ "i": seq }),
                result: "ok".into(),
            };
            starts.push(out.len());
            prev = encode_record(&mut out, &key, seq, seq, &prev, &PreparedEvent::new(&ev).unwrap());
        }
        (out, key, starts)
    }

    fn records(items: &[Item]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Record(s) => Some(s.seq),
                Item::Damaged { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_clean_file_is_all_records() {
        let (bytes, key, _) = ledger(5);
        let s = scan(&bytes, Some(&key)).unwrap();
        assert_eq!(records(&s.items), vec![1, 2, 3, 4, 5]);
        assert!(s.tail.is_none());
    }

    #[test]
    fn a_cut_at_every_offset_of_the_last_record_is_a_torn_tail() {
        let (bytes, key, starts) = ledger(3);
        let last = starts[2];
        for cut in last + 1..bytes.len() {
            let s = scan(&bytes[..cut], Some(&key)).unwrap();
            assert_eq!(records(&s.items), vec![1, 2], "cut at {cut}");
            assert_eq!(s.tail, Some(Tail { offset: last, len: cut - last }), "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_length_prefix_mid_file_resumes_at_the_next_record() {
        let (mut bytes, key, starts) = ledger(4);
        bytes[starts[1]] ^= 0x40;
        let s = scan(&bytes, Some(&key)).unwrap();
        assert_eq!(records(&s.items), vec![1, 3, 4]);
        assert!(matches!(s.items[1], Item::Damaged { offset, len } if offset == starts[1] && len == starts[2] - starts[1]));
        assert!(s.tail.is_none());
    }

    #[test]
    fn an_enlarged_length_prefix_on_the_last_record_keeps_the_record() {
        let (mut bytes, key, starts) = ledger(3);
        bytes[starts[2] + 1] ^= 0x01;
        let s = scan(&bytes, Some(&key)).unwrap();
        assert_eq!(records(&s.items), vec![1, 2, 3]);
        assert!(matches!(&s.items[2], Item::Record(span) if span.frame_damaged));
    }

    #[test]
    fn trailing_zeros_are_a_torn_tail() {
        let (mut bytes, key, _) = ledger(2);
        let end = bytes.len();
        bytes.extend_from_slice(&[0u8; 300]);
        let s = scan(&bytes, Some(&key)).unwrap();
        assert_eq!(s.tail, Some(Tail { offset: end, len: 300 }));
    }
}
