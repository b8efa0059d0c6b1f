//! The ledger's binary file format: the header, one entry's canonical bytes, its frame, and
//! decoding. All integers are little-endian.
//!
//! ```text
//! file   = header record*
//! header = "PIPLEDGR" u16:version(=2) ... (206 bytes, MACed: see [`header`])
//! record = u32:body_len body mac[32]
//! body   = u8:entry_version(=1) u64:seq u64:unix_millis prev[32]
//!          u16:len subsystem  u16:len actor  u16:len action  u16:len resource
//!          u16:len result     u32:len payload (JSON text)
//! hash   = SHA-256(body)            prev of entry n+1 = hash of entry n; prev of the first =
//!                                   the ledger's identity digest
//! mac    = HMAC-SHA256(key, hash)
//! ```
//!
//! `body` is the entry's canonical bytes: it is what is hashed, so verification never
//! re-serialises anything. The MAC is taken over the body's SHA-256 rather than over the body
//! itself: the hash has to be computed anyway for the chain, and HMAC over a collision-
//! resistant digest binds the body just as well, at two compression-function calls instead
//! of one per 64 body bytes plus one.

use std::borrow::Cow;

use crate::evidence::Event;
use crate::ledger::hashing::sha256;
use crate::ledger::key::LedgerKey;

pub mod header;

pub use header::{HEADER_LEN, Header, ledger_header};

/// First bytes of every ledger file.
pub const LEDGER_MAGIC: [u8; 8] = *b"PIPLEDGR";
/// The file format version this code writes and reads (2: ledger identity in the header,
/// the chain and the checkpoints; 1 had none).
pub const FORMAT_VERSION: u16 = 2;
/// The version byte at the start of every body.
pub const ENTRY_VERSION: u8 = 1;
/// Length of a SHA-256 hash: an entry's hash, its `prev`, a ledger identity digest.
pub const HASH_LEN: usize = 32;
/// Length of an HMAC-SHA256 tag: an entry's MAC, a header's, a checkpoint's.
pub const MAC_LEN: usize = 32;
/// Bytes of a body with empty fields.
pub const FIXED_BODY_LEN: usize = 1 + 8 + 8 + HASH_LEN + 5 * 2 + 4;
/// Longest subsystem, actor, action, resource or result, in bytes.
pub const MAX_FIELD_LEN: usize = u16::MAX as usize;
/// Longest payload, in bytes of JSON text.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// Longest body: the fixed part, five fields of `MAX_FIELD_LEN` and a payload of `MAX_PAYLOAD_LEN`; a longer prefix is damage.
pub const MAX_BODY_LEN: usize = FIXED_BODY_LEN + 5 * MAX_FIELD_LEN + MAX_PAYLOAD_LEN;
/// Bytes of a record around its body (length prefix and MAC).
pub const FRAME_OVERHEAD: usize = 4 + MAC_LEN;

/// Why bytes are not a ledger, or an event cannot become an entry.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file does not start with the ledger magic.
    #[error("not a pip ledger (the file does not start with `PIPLEDGR`)")]
    NotALedger,
    /// The file does not start with the checkpoint file magic.
    #[error("not a pip checkpoint file (the file does not start with `PIPCKPTS`)")]
    NotACheckpointFile,
    /// The file is shorter than a header.
    #[error("not a pip ledger (the file is {0} bytes, shorter than a ledger header)")]
    TooShort(usize),
    /// The header's format version is not `FORMAT_VERSION` (version 1 predates ledger identities).
    #[error("{}", unsupported(*.0))]
    UnsupportedVersion(u16),
    /// A field of the event is longer than an entry can hold; nothing was written.
    #[error("the {field} of an entry has {len} bytes; at most {max} are allowed")]
    FieldTooLong {
        /// The field's name as in [`Event`] (`subsystem`, ..., `payload`).
        field: &'static str,
        /// The field's length in bytes as given.
        len: usize,
        /// The field's limit: 65535 bytes (`MAX_FIELD_LEN`), or 1 MiB for the payload (`MAX_PAYLOAD_LEN`).
        max: usize,
    },
    /// The payload could not be serialised.
    #[error("the payload cannot be written as JSON: {0}")]
    Payload(String),
    /// An entry's text fields are not UTF-8 or its payload is not JSON.
    #[error("the entry at offset {offset} has {what}")]
    BadContent {
        /// Byte offset of the record's length prefix in its file.
        offset: u64,
        /// The fault in words (`a payload that is not UTF-8`, ...), as the message shows it.
        what: &'static str,
    },
}

fn unsupported(version: u16) -> String {
    let why = if version < FORMAT_VERSION { "; it predates ledger identities: keep it as evidence and start a new ledger" } else { "" };
    format!("format version {version} is not supported (this pip reads version {FORMAT_VERSION}){why}")
}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

/// A cursor over bytes whose reads return `None` past the end instead of panicking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { rest: bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = self.rest.split_at_checked(n)?;
        self.rest = b;
        Some(a)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (a, b) = self.rest.split_first_chunk::<N>()?;
        self.rest = b;
        Some(a)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|a| u8::from_le_bytes(*a))
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array::<2>().map(|a| u16::from_le_bytes(*a))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array::<4>().map(|a| u32::from_le_bytes(*a))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array::<8>().map(|a| u64::from_le_bytes(*a))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// The fields of one entry as borrowed bytes, read from a body without copying or
/// validating text.
#[derive(Debug, Clone, Copy)]
pub struct RawBody<'a> {
    /// The seq as stored, not yet checked against the chain.
    pub seq: u64,
    /// The append time as stored, Unix milliseconds, not yet checked for order.
    pub ts_millis: u64,
    /// SHA-256 of the previous entry's body, or the ledger's identity digest for the first entry.
    pub prev: &'a [u8; HASH_LEN],
    /// The subsystem as stored, not checked to be UTF-8.
    pub subsystem: &'a [u8],
    /// The actor as stored, not checked to be UTF-8.
    pub actor: &'a [u8],
    /// The action as stored, not checked to be UTF-8.
    pub action: &'a [u8],
    /// The resource as stored, not checked to be UTF-8.
    pub resource: &'a [u8],
    /// The result as stored, not checked to be UTF-8.
    pub result: &'a [u8],
    /// The payload's JSON text byte for byte, not checked to be UTF-8 or JSON.
    pub payload: &'a [u8],
}

impl<'a> RawBody<'a> {
    /// Parses a body; `None` when its version is unknown or its field lengths do not add up
    /// to exactly its length.
    pub fn parse(body: &'a [u8]) -> Option<RawBody<'a>> {
        let mut c = Cursor::new(body);
        if c.u8()? != ENTRY_VERSION {
            return None;
        }
        let seq = c.u64()?;
        let ts_millis = c.u64()?;
        let prev = c.array::<HASH_LEN>()?;
        let mut short = || {
            let n = c.u16()?;
            c.take(usize::from(n))
        };
        let subsystem = short()?;
        let actor = short()?;
        let action = short()?;
        let resource = short()?;
        let result = short()?;
        let n = usize::try_from(c.u32()?).ok()?;
        if n > MAX_PAYLOAD_LEN {
            return None;
        }
        let payload = c.take(n)?;
        if !c.is_empty() {
            return None;
        }
        Some(RawBody { seq, ts_millis, prev, subsystem, actor, action, resource, result, payload })
    }
}

/// An event checked against the format's limits and with its payload serialised, ready to be
/// encoded (done outside the ledger's lock).
#[derive(Debug, Clone)]
pub struct PreparedEvent<'a> {
    pub(crate) subsystem: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) result: &'a str,
    pub(crate) payload: Cow<'a, [u8]>,
}

impl<'a> PreparedEvent<'a> {
    /// Checks the event's field lengths and serialises its payload.
    pub fn new(event: &'a Event) -> Result<PreparedEvent<'a>, FormatError> {
        let payload = serde_json::to_vec(&event.payload).map_err(|e| FormatError::Payload(e.to_string()))?;
        Self::with_raw_payload(&event.subsystem, &event.actor, &event.action, &event.resource, &event.result, payload)
    }

    /// An event whose payload is JSON text already (it is stored byte for byte).
    pub fn with_raw_payload(
        subsystem: &'a str,
        actor: &'a str,
        action: &'a str,
        resource: &'a str,
        result: &'a str,
        payload: Vec<u8>,
    ) -> Result<PreparedEvent<'a>, FormatError> {
        Self::checked(subsystem, actor, action, resource, result, Cow::Owned(payload))
    }

    /// An event whose payload was serialised into a buffer the caller keeps (appending
    /// serialises into a per-thread buffer instead of allocating one per entry).
    pub(crate) fn with_payload_in(event: &'a Event, payload: &'a [u8]) -> Result<PreparedEvent<'a>, FormatError> {
        Self::checked(&event.subsystem, &event.actor, &event.action, &event.resource, &event.result, Cow::Borrowed(payload))
    }

    fn checked(
        subsystem: &'a str,
        actor: &'a str,
        action: &'a str,
        resource: &'a str,
        result: &'a str,
        payload: Cow<'a, [u8]>,
    ) -> Result<PreparedEvent<'a>, FormatError> {
        for (field, value) in [("subsystem", subsystem), ("actor", actor), ("action", action), ("resource", resource), ("result", result)] {
            if value.len() > MAX_FIELD_LEN {
                return Err(FormatError::FieldTooLong { field, len: value.len(), max: MAX_FIELD_LEN });
            }
        }
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(FormatError::FieldTooLong { field: "payload", len: payload.len(), max: MAX_PAYLOAD_LEN });
        }
        Ok(PreparedEvent { subsystem, actor, action, resource, result, payload })
    }

    /// The event's subsystem: the writer refuses the reserved `pip` one and counts appends per subsystem.
    pub fn subsystem(&self) -> &str {
        self.subsystem
    }

    /// Bytes of the entry's body.
    fn body_len(&self) -> usize {
        FIXED_BODY_LEN
            + self.subsystem.len()
            + self.actor.len()
            + self.action.len()
            + self.resource.len()
            + self.result.len()
            + self.payload.len()
    }
}

/// Appends one record (frame, body, MAC) to `out` and returns the entry's hash. The body is
/// hashed where it was written.
pub fn encode_record(
    out: &mut Vec<u8>,
    key: &LedgerKey,
    seq: u64,
    ts_millis: u64,
    prev: &[u8; HASH_LEN],
    event: &PreparedEvent<'_>,
) -> [u8; HASH_LEN] {
    let body_start = put_frame_and_body(out, seq, ts_millis, prev, event);
    let hash = hash_body(out.get(body_start..).unwrap_or_default());
    out.extend_from_slice(&key.mac_entry(&hash));
    hash
}

/// Appends a record's length prefix and body; returns where the body starts.
fn put_frame_and_body(out: &mut Vec<u8>, seq: u64, ts_millis: u64, prev: &[u8; HASH_LEN], event: &PreparedEvent<'_>) -> usize {
    let body_len = event.body_len();
    out.reserve(4 + body_len + MAC_LEN);
    // INVARIANT: PreparedEvent bounds every field, so a body is at most MAX_BODY_LEN (< 2^32).
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
    let body_start = out.len();
    write_body(out, seq, ts_millis, prev, event);
    body_start
}

/// A record in a buffer whose MAC is not written yet: where the MAC goes, and the record's
/// hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwedMac {
    at: usize,
    hash: [u8; HASH_LEN],
}

/// Appends one record like [`encode_record`], but leaves its MAC owed (zeros until paid by
/// the next call or [`pay_mac`]); the MAC `owed` by an earlier record in `out` is computed
/// alongside this body's hash, which is faster than one after the other, and written.
pub(crate) fn encode_record_owing(
    out: &mut Vec<u8>,
    key: &LedgerKey,
    seq: u64,
    ts_millis: u64,
    prev: &[u8; HASH_LEN],
    event: &PreparedEvent<'_>,
    owed: Option<OwedMac>,
) -> ([u8; HASH_LEN], OwedMac) {
    let body_start = put_frame_and_body(out, seq, ts_millis, prev, event);
    let body = out.get(body_start..).unwrap_or_default();
    let hash = match owed {
        Some(owed) => {
            let (hash, mac) = key.hash_body_and_mac_entry(body, &owed.hash);
            write_mac(out, owed.at, &mac);
            hash
        }
        None => hash_body(body),
    };
    let at = out.len();
    out.extend_from_slice(&[0; MAC_LEN]);
    (hash, OwedMac { at, hash })
}

/// Computes and writes an owed MAC.
pub(crate) fn pay_mac(out: &mut [u8], key: &LedgerKey, owed: OwedMac) {
    write_mac(out, owed.at, &key.mac_entry(&owed.hash));
}

fn write_mac(out: &mut [u8], at: usize, mac: &[u8; MAC_LEN]) {
    if let Some(slot) = out.get_mut(at..at + MAC_LEN) {
        slot.copy_from_slice(mac);
    }
}

/// Appends an entry's canonical bytes to `out`.
pub fn write_body(out: &mut Vec<u8>, seq: u64, ts_millis: u64, prev: &[u8; HASH_LEN], event: &PreparedEvent<'_>) {
    out.reserve(event.body_len());
    let mut fixed = [0u8; 1 + 8 + 8 + HASH_LEN];
    let mut w = Writer { out: &mut fixed, at: 0 };
    w.put(&[ENTRY_VERSION]);
    w.put(&seq.to_le_bytes());
    w.put(&ts_millis.to_le_bytes());
    w.put(prev);
    out.extend_from_slice(&fixed);
    for field in [event.subsystem, event.actor, event.action, event.resource, event.result] {
        // INVARIANT: PreparedEvent bounds every field by MAX_FIELD_LEN = u16::MAX.
        out.extend_from_slice(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(&u32::try_from(event.payload.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&event.payload);
}

/// SHA-256 of a body.
pub fn hash_body(body: &[u8]) -> [u8; HASH_LEN] {
    sha256(body)
}

/// One entry with its text fields checked as UTF-8, as queries, exports and `pipc log` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Sequence number (the first entry is 1).
    pub seq: u64,
    /// Time of the append, Unix milliseconds (never decreasing along the ledger).
    pub ts_millis: u64,
    /// The part of the service that wrote it, as [`Event::subsystem`].
    pub subsystem: String,
    /// Who or what acted, as [`Event::actor`].
    pub actor: String,
    /// What was done, as [`Event::action`].
    pub action: String,
    /// What it was done to, as [`Event::resource`].
    pub resource: String,
    /// The outcome, as [`Event::result`].
    pub result: String,
    /// Payload, the JSON text exactly as stored (so that the canonical bytes can be rebuilt).
    pub payload: String,
    /// SHA-256 of the previous entry's body, or the ledger's identity digest for the first entry.
    pub prev: [u8; HASH_LEN],
    /// SHA-256 of this entry's canonical bytes.
    pub hash: [u8; HASH_LEN],
    /// The MAC as stored (HMAC-SHA256 of `hash`); decoding does not check it.
    pub mac: [u8; MAC_LEN],
    /// Byte offset of the record in its file (0 when the entry did not come from a file).
    pub offset: u64,
}

impl Entry {
    /// Decodes a well-formed body and its MAC.
    pub fn decode(body: &[u8], mac: &[u8; MAC_LEN], offset: u64) -> Result<Entry, FormatError> {
        let raw = RawBody::parse(body).ok_or(FormatError::BadContent { offset, what: "no valid entry structure" })?;
        let text = |b: &[u8], what: &'static str| String::from_utf8(b.to_vec()).map_err(|_| FormatError::BadContent { offset, what });
        let payload = text(raw.payload, "a payload that is not UTF-8")?;
        Ok(Entry {
            seq: raw.seq,
            ts_millis: raw.ts_millis,
            subsystem: text(raw.subsystem, "a subsystem that is not UTF-8")?,
            actor: text(raw.actor, "an actor that is not UTF-8")?,
            action: text(raw.action, "an action that is not UTF-8")?,
            resource: text(raw.resource, "a resource that is not UTF-8")?,
            result: text(raw.result, "a result that is not UTF-8")?,
            payload,
            prev: *raw.prev,
            hash: hash_body(body),
            mac: *mac,
            offset,
        })
    }

    /// The entry's canonical bytes, rebuilt from its fields.
    pub fn body(&self) -> Vec<u8> {
        let event = PreparedEvent {
            subsystem: &self.subsystem,
            actor: &self.actor,
            action: &self.action,
            resource: &self.resource,
            result: &self.result,
            payload: Cow::Borrowed(self.payload.as_bytes()),
        };
        let mut out = Vec::new();
        write_body(&mut out, self.seq, self.ts_millis, &self.prev, &event);
        out
    }

    /// The payload as a JSON value; [`FormatError::BadContent`] when the stored text is not JSON.
    pub fn payload_json(&self) -> Result<serde_json::Value, FormatError> {
        serde_json::from_str(&self.payload).map_err(|_| FormatError::BadContent { offset: self.offset, what: "a payload that is not JSON" })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::ledger::identity::Identity;

    fn event() -> Event {
        Event {
            subsystem: "billing".into(),
            actor: "svc".into(),
            action: "transfer".into(),
            resource: "acct/1".into(),
            payload: serde_json::json!({"amount": 5}),
            result: "ok".into(),
        }
    }

    #[test]
    fn a_record_decodes_to_the_fields_it_was_encoded_from() {
        let key = LedgerKey::generate().unwrap();
        let ev = event();
        let mut out = Vec::new();
        let hash = encode_record(&mut out, &key, 7, 1234, &[0; HASH_LEN], &PreparedEvent::new(&ev).unwrap());
        let len = u32::from_le_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(out.len(), 4 + len + MAC_LEN);
        let body = &out[4..4 + len];
        let mac: [u8; 32] = out[4 + len..].try_into().unwrap();
        let e = Entry::decode(body, &mac, 0).unwrap();
        assert_eq!((e.seq, e.ts_millis, e.subsystem.as_str(), e.payload.as_str()), (7, 1234, "billing", r#"{"amount":5}"#));
        assert_eq!(e.hash, hash);
        assert!(key.verify_entry(&hash, &mac));
        assert_eq!(e.body(), body);
    }

    #[test]
    fn records_with_owed_macs_are_the_same_bytes_once_paid() {
        let key = LedgerKey::generate().unwrap();
        let ev = event();
        let p = PreparedEvent::new(&ev).unwrap();
        let (mut want, mut got) = (Vec::new(), Vec::new());
        let (mut prev, mut owed) = ([0; HASH_LEN], None);
        for seq in 1..=3 {
            let h = encode_record(&mut want, &key, seq, 10 + seq, &prev, &p);
            let (hash, now_owed) = encode_record_owing(&mut got, &key, seq, 10 + seq, &prev, &p, owed);
            assert_eq!(hash, h);
            (prev, owed) = (h, Some(now_owed));
        }
        assert_ne!(got, want, "the last MAC is owed");
        pay_mac(&mut got, &key, owed.unwrap());
        assert_eq!(got, want);
    }

    #[test]
    fn bodies_whose_lengths_do_not_add_up_are_rejected() {
        let key = LedgerKey::generate().unwrap();
        let ev = event();
        let mut out = Vec::new();
        encode_record(&mut out, &key, 1, 1, &[0; HASH_LEN], &PreparedEvent::new(&ev).unwrap());
        let body = &out[4..out.len() - MAC_LEN];
        assert!(RawBody::parse(body).is_some());
        assert!(RawBody::parse(&body[..body.len() - 1]).is_none());
        let mut longer = body.to_vec();
        longer.push(0);
        assert!(RawBody::parse(&longer).is_none());
        let mut version = body.to_vec();
        version[0] = 2;
        assert!(RawBody::parse(&version).is_none());
    }

    #[test]
    fn oversized_fields_are_refused_with_their_name() {
        let mut ev = event();
        ev.actor = "a".repeat(MAX_FIELD_LEN + 1);
        let err = PreparedEvent::new(&ev).unwrap_err();
        assert_eq!(err.to_string(), format!("the actor of an entry has {} bytes; at most {MAX_FIELD_LEN} are allowed", MAX_FIELD_LEN + 1));
    }

    #[test]
    fn headers_round_trip_and_foreign_files_are_named() {
        let key = LedgerKey::generate().unwrap();
        let ident = Identity::with_id("p", "audit", [3; 16]).unwrap();
        let h = Header::decode(&ledger_header(&key, &ident)).unwrap();
        assert_eq!((h.key_id, &h.identity), (key.id(), &ident));
        assert!(h.verifies(&key));
        assert!(matches!(Header::decode(b"hello world, this is not a ledger"), Err(FormatError::NotALedger)));
        assert!(matches!(Header::decode(b"PIPLE"), Err(FormatError::TooShort(5))));
        let mut v1 = ledger_header(&key, &ident);
        v1[8] = 1;
        let err = Header::decode(&v1).unwrap_err();
        assert!(matches!(err, FormatError::UnsupportedVersion(1)));
        assert_eq!(
            err.to_string(),
            "format version 1 is not supported (this pip reads version 2); it predates ledger identities: keep it as evidence and start a new ledger"
        );
    }
}
