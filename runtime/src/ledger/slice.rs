//! The compact ledger slice of a bundle: entries without their per-entry MACs, in columns,
//! bound by the hash chain to MACed checkpoints.
//!
//! A per-entry MAC is 32 random bytes that no compressor shrinks, and each stored `prev` and
//! checkpoint head is another 32; together they are several times what the entries' fields
//! compress to. They are not needed: the chain is recomputed from the fields (entry `n`'s
//! `prev` is the SHA-256 of entry `n-1`'s canonical bytes, from the anchor's hash on), each
//! checkpoint's head is the recomputed hash of the entry it names, and its MAC (kept, 32 bytes)
//! vouches for that head, so for every entry before it. The last entry is always covered: by
//! a ledger checkpoint or by one the bundle builder writes after checking every entry's MAC.
//! The slice carries its ledger's identity ([`crate::ledger::identity`]): checkpoint MACs
//! bind its digest (and a slice from seq 1 starts from it), so a slice of another ledger
//! written with the same key does not verify under this one's identity.
//!
//! ```text
//! slice      = "PIPSLICE" u16:version(=2) u16:0 key_id[16]
//!              ledger_id[16] u8:len spec u8:len ledger_name          (the ledger's identity)
//!              u64:first_seq u64:count prev[32] u64:min_ts u32:checkpoints
//!              checkpoint* column{4}
//! checkpoint = varint:seq_delta zigzag:time_delta mac[32]      (deltas from the previous one; the first from first_seq and min_ts)
//! column     = u32:len bytes
//! columns    = time deltas (varint per entry, the first from min_ts)
//!              kinds (dictionary of (subsystem, actor, action, result, payload template))
//!              resources (strings), payload values
//! strings    = u32:len codes u32:len dictionary                 code 0: the next new dictionary string; k: the (k-1)th
//! dictionary = (varint:len bytes)*
//! values     = for each template in dictionary order, for each slot: u8:how column
//! ```
//!
//! A payload's template is its JSON text with every string value replaced by `\u{1}`, every
//! integer by `\u{2}` and every other number by `\u{3}` (a text the tokenizer cannot
//! reproduce exactly is one `\u{4}` slot); the values go to per-template, per-slot columns:
//! integers as zigzag varints (raw or delta, whichever is smaller: `how` 0 or 1), the others as
//! strings (`how` 2). Deflate in the ZIP then sees long runs of similar values.
//!
//! Decoding is strict: [`decode`] re-encodes what it read and refuses bytes that are not
//! exactly that encoding, so no byte of a slice can change without changing an entry or a
//! checkpoint, which the chain and the MACs then reveal.

//!
//! The codec is split along its layers: `payload` cuts payloads into templates and value
//! columns, [`column`] holds the byte-level pieces (length-prefixed columns, dictionaries,
//! varints and a bounds-checked reader).

mod column;
mod payload;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::ledger::format::{HASH_LEN, MAC_LEN, PreparedEvent, hash_body, write_body};
use crate::ledger::key::KEY_ID_LEN;
use crate::ledger::{Anchor, Checkpoint, Entry, Identity};

use column::{Reader, decode_dict, encode_dict, put_column, put_varint, strings, unzigzag, zigzag};
use payload::{Slot, put_values, rebuild_payloads, shred, slot_kinds};

/// The magic every encoded slice starts with, which [`decode`] requires.
pub const SLICE_MAGIC: [u8; 8] = *b"PIPSLICE";
/// The slice format version (2: the ledger's identity after the key id).
pub const SLICE_VERSION: u16 = 2;

/// Why a slice cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliceError {
    /// The bytes are not exactly a slice's encoding: wrong magic or version, cut short, or not what re-encoding gives.
    #[error("the ledger slice is malformed: {0}")]
    Malformed(String),
    /// The entries cannot be written compactly.
    #[error("the entries cannot be written as a compact slice: {0}")]
    Unencodable(String),
}

fn bad(what: impl Into<String>) -> SliceError {
    SliceError::Malformed(what.into())
}

/// A decoded slice: entries with their chain recomputed, and checkpoints with their heads
/// taken from the recomputed chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The id of the key the ledger was written with.
    pub key_id: [u8; KEY_ID_LEN],
    /// The identity of the ledger the entries come from, as the slice stores it; checkpoint MACs bind its digest.
    pub identity: Identity,
    /// The first seq and the hash and time of the entry before it, as the slice stores them.
    pub anchor: Anchor,
    /// The entries (`mac` is zero: slices carry none; `offset` is the index in the slice).
    pub entries: Vec<Entry>,
    /// The checkpoints covering seqs inside the slice, their heads taken from the recomputed chain.
    pub checkpoints: Vec<Checkpoint>,
}

/// Encodes a contiguous run of entries (seqs from `anchor.next_seq` on, times never going
/// back) with the checkpoints that cover seqs inside it.
pub fn encode(
    key_id: &[u8; KEY_ID_LEN],
    identity: &Identity,
    anchor: &Anchor,
    entries: &[Entry],
    checkpoints: &[Checkpoint],
) -> Result<Vec<u8>, SliceError> {
    let unenc = |m: String| SliceError::Unencodable(m);
    let last_seq = anchor.next_seq + entries.len() as u64;
    let mut out = Vec::new();
    out.extend_from_slice(&SLICE_MAGIC);
    out.extend_from_slice(&SLICE_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(key_id);
    out.extend_from_slice(&identity.id);
    for name in [&identity.spec, &identity.ledger] {
        out.push(u8::try_from(name.len()).map_err(|_| unenc("a name of the ledger's identity is too long".into()))?);
        out.extend_from_slice(name.as_bytes());
    }
    out.extend_from_slice(&anchor.next_seq.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    out.extend_from_slice(&anchor.prev);
    out.extend_from_slice(&anchor.min_ts.to_le_bytes());
    out.extend_from_slice(&u32::try_from(checkpoints.len()).map_err(|_| unenc("too many checkpoints".into()))?.to_le_bytes());
    let (mut seq, mut time) = (anchor.next_seq, anchor.min_ts);
    for c in checkpoints {
        if c.seq < seq || c.seq >= last_seq {
            return Err(unenc(format!("checkpoint seq {} is out of order or outside the slice", c.seq)));
        }
        put_varint(&mut out, c.seq - seq);
        put_varint(&mut out, zigzag(i128::from(c.time_millis) - i128::from(time)).ok_or_else(|| unenc("checkpoint time".into()))?);
        out.extend_from_slice(&c.mac);
        (seq, time) = (c.seq, c.time_millis);
    }
    let mut times = Vec::with_capacity(entries.len() * 2);
    let mut prev_ts = anchor.min_ts;
    for (i, e) in entries.iter().enumerate() {
        if e.seq != anchor.next_seq + i as u64 {
            return Err(unenc(format!("entry seq {} does not follow seq {}", e.seq, anchor.next_seq + i as u64 - 1)));
        }
        let delta = e.ts_millis.checked_sub(prev_ts).ok_or_else(|| unenc(format!("the time of entry seq {} goes back", e.seq)))?;
        put_varint(&mut times, delta);
        prev_ts = e.ts_millis;
    }
    put_column(&mut out, &times)?;
    let shredded: Vec<(String, Vec<Slot<'_>>)> = entries.iter().map(|e| shred(&e.payload)).collect();
    // Subsystem, actor, action, result and payload template go together (an actor does a
    // few actions in one subsystem): one symbol per entry costs far less than five.
    let kinds: Vec<Vec<u8>> =
        entries.iter().zip(&shredded).map(|(e, (t, _))| kind_bytes([e.subsystem.as_str(), &e.actor, &e.action, &e.result, t])).collect();
    put_column(&mut out, &encode_dict(kinds.iter().map(Vec::as_slice))?)?;
    put_column(&mut out, &encode_dict(entries.iter().map(|e| e.resource.as_bytes()))?)?;
    let mut template_ids: HashMap<&str, usize> = HashMap::new();
    let mut templates: Vec<&str> = Vec::new();
    let mut per_template: Vec<Vec<usize>> = Vec::new();
    for (i, (t, _)) in shredded.iter().enumerate() {
        let id = *template_ids.entry(t.as_str()).or_insert_with(|| {
            templates.push(t.as_str());
            per_template.push(Vec::new());
            templates.len() - 1
        });
        if let Some(v) = per_template.get_mut(id) {
            v.push(i);
        }
    }
    let mut values = Vec::new();
    for (t, users) in templates.iter().zip(&per_template) {
        for slot in 0..slot_kinds(t).len() {
            let column: Vec<&Slot<'_>> = users.iter().filter_map(|&i| shredded.get(i).and_then(|(_, s)| s.get(slot))).collect();
            put_values(&mut values, &column)?;
        }
    }
    put_column(&mut out, &values)?;
    Ok(out)
}

/// Decodes a slice, recomputing the chain from the anchor; refuses any encoding but the one
/// [`encode`] writes.
pub fn decode(bytes: &[u8]) -> Result<Decoded, SliceError> {
    let mut r = Reader { rest: bytes };
    if r.take(8)? != SLICE_MAGIC {
        return Err(bad("it does not start with `PIPSLICE`"));
    }
    let version = r.u16()?;
    if version != SLICE_VERSION {
        return Err(bad(format!("format version {version} is not supported (this pipc reads version {SLICE_VERSION})")));
    }
    if r.u16()? != 0 {
        return Err(bad("reserved header bytes are not zero"));
    }
    let key_id: [u8; KEY_ID_LEN] = r.array()?;
    let id: [u8; 16] = r.array()?;
    let mut names = [String::new(), String::new()];
    for name in &mut names {
        let len = usize::from(r.take(1)?.first().copied().unwrap_or(0));
        *name = String::from_utf8(r.take(len)?.to_vec()).map_err(|_| bad("a name of the ledger's identity is not UTF-8"))?;
    }
    let [spec, ledger] = names;
    let identity = Identity::with_id(&spec, &ledger, id).map_err(|e| bad(e.to_string()))?;
    let first_seq = r.u64()?;
    let count = r.u64()?;
    let prev: [u8; HASH_LEN] = r.array()?;
    let min_ts = r.u64()?;
    let n_cp = r.u32()?;
    if u64::from(n_cp) > bytes.len() as u64 / (MAC_LEN as u64 + 2) || count > bytes.len() as u64 {
        return Err(bad("it declares more entries or checkpoints than it has bytes for"));
    }
    let count = usize::try_from(count).map_err(|_| bad("entry count"))?;
    let anchor = Anchor { next_seq: first_seq, prev, min_ts };
    let mut cps = Vec::with_capacity(n_cp as usize);
    let (mut seq, mut time) = (first_seq, min_ts);
    for _ in 0..n_cp {
        seq = seq.checked_add(r.varint()?).ok_or_else(|| bad("checkpoint seq overflows"))?;
        let t = i128::from(time) + unzigzag(r.varint()?);
        time = u64::try_from(t).map_err(|_| bad("checkpoint time out of range"))?;
        let mac: [u8; MAC_LEN] = r.array()?;
        cps.push((seq, time, mac));
    }
    let mut times = Reader { rest: r.column()? };
    let mut ts = Vec::with_capacity(count);
    let mut at = min_ts;
    for _ in 0..count {
        at = at.checked_add(times.varint()?).ok_or_else(|| bad("entry time overflows"))?;
        ts.push(at);
    }
    times.end("time column")?;
    let (kind_dict, kind_of) = decode_dict(r.column()?, count, "event kind")?;
    let kinds: Vec<[String; 5]> = kind_dict.iter().map(|k| parse_kind(k)).collect::<Result<_, _>>()?;
    let resources = strings(decode_dict(r.column()?, count, "resource")?, "resource")?;
    let kind = |i: usize| kind_of.get(i).and_then(|&k| kinds.get(k));
    let templates: Vec<String> = (0..count).map(|i| kind(i).map(|k| k[4].clone()).unwrap_or_default()).collect();
    let mut values = Reader { rest: r.column()? };
    r.end("slice")?;
    let payloads = rebuild_payloads(&templates, &mut values)?;
    values.end("payload value column")?;
    let mut entries = Vec::with_capacity(count);
    let mut chain = prev;
    for (i, ((resource, payload), ts_millis)) in resources.into_iter().zip(payloads).zip(ts).enumerate() {
        let [subsystem, actor, action, result, _] = kind(i).cloned().ok_or_else(|| bad("event kind"))?;
        let seq = first_seq.checked_add(i as u64).ok_or_else(|| bad("entry seq overflows"))?;
        let event = PreparedEvent::with_raw_payload(&subsystem, &actor, &action, &resource, &result, payload.clone().into_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let mut body = Vec::new();
        write_body(&mut body, seq, ts_millis, &chain, &event);
        let hash = hash_body(&body);
        entries.push(Entry {
            seq,
            ts_millis,
            subsystem,
            actor,
            action,
            resource,
            result,
            payload,
            prev: chain,
            hash,
            mac: [0; MAC_LEN],
            offset: i as u64,
        });
        chain = hash;
    }
    let checkpoints = cps
        .into_iter()
        .map(|(seq, time_millis, mac)| {
            let head = seq.checked_sub(first_seq).and_then(|k| entries.get(usize::try_from(k).ok()?)).map(|e| e.hash);
            head.map(|head| Checkpoint { seq, time_millis, head, mac })
                .ok_or_else(|| bad(format!("checkpoint seq {seq} is outside the slice")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let again = encode(&key_id, &identity, &anchor, &entries, &checkpoints).map_err(|e| bad(e.to_string()))?;
    if again != bytes {
        return Err(bad("it is not in canonical form (bytes were altered or added)"));
    }
    Ok(Decoded { key_id, identity, anchor, entries, checkpoints })
}

fn kind_bytes(fields: [&str; 5]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 2).sum());
    for f in fields {
        put_varint(&mut out, f.len() as u64);
        out.extend_from_slice(f.as_bytes());
    }
    out
}

fn parse_kind(bytes: &[u8]) -> Result<[String; 5], SliceError> {
    let mut r = Reader { rest: bytes };
    let mut field = || -> Result<String, SliceError> {
        let n = usize::try_from(r.varint()?).map_err(|_| bad("field length"))?;
        String::from_utf8(r.take(n)?.to_vec()).map_err(|_| bad("an entry field is not UTF-8"))
    };
    let out = [field()?, field()?, field()?, field()?, field()?];
    r.end("event kind")?;
    Ok(out)
}
