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
//! The slice carries its ledger's identity ([`pip_runtime::ledger::identity`]): checkpoint MACs
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

use std::collections::HashMap;

use pip_runtime::ledger::format::{Entry, HASH_LEN, MAC_LEN, PreparedEvent, hash_body, write_body};
use pip_runtime::ledger::key::KEY_ID_LEN;
use pip_runtime::ledger::{Anchor, Checkpoint, Identity};

/// First bytes of a slice.
pub const SLICE_MAGIC: [u8; 8] = *b"PIPSLICE";
/// The slice format version (2: the ledger's identity after the key id).
pub const SLICE_VERSION: u16 = 2;

const STR: char = '\u{1}';
const INT: char = '\u{2}';
const NUM: char = '\u{3}';
const RAW: char = '\u{4}';

/// Why a slice cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliceError {
    /// The bytes are not a slice.
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
    /// The ledger's identity.
    pub identity: Identity,
    /// Where the slice starts.
    pub anchor: Anchor,
    /// The entries (`mac` is zero: slices carry none; `offset` is the index in the slice).
    pub entries: Vec<Entry>,
    /// The checkpoints.
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

fn rebuild_payloads(templates: &[String], values: &mut Reader<'_>) -> Result<Vec<String>, SliceError> {
    // Columns come per distinct template, in order of first use.
    let mut order: Vec<&str> = Vec::new();
    let mut users: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in templates.iter().enumerate() {
        let u = users.entry(t.as_str()).or_insert_with(|| {
            order.push(t.as_str());
            Vec::new()
        });
        u.push(i);
    }
    let mut slots: Vec<Vec<String>> = vec![Vec::new(); templates.len()];
    for t in order {
        let who = users.get(t).map(Vec::as_slice).unwrap_or_default();
        for kind in slot_kinds(t) {
            let col = get_values(values, who.len(), kind)?;
            for (&i, v) in who.iter().zip(col) {
                if let Some(s) = slots.get_mut(i) {
                    s.push(v);
                }
            }
        }
    }
    Ok(templates.iter().zip(slots).map(|(t, s)| fill(t, &s)).collect())
}

/// One value cut out of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot<'a> {
    Str(&'a str),
    Int(i64),
}

/// Splits a payload into its template and values; a text the template cannot reproduce is
/// one raw slot.
fn shred(text: &str) -> (String, Vec<Slot<'_>>) {
    match tokenize(text) {
        Some((t, s)) if fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()) == text => (t, s),
        _ => (RAW.to_string(), vec![Slot::Str(text)]),
    }
}

fn slot_text(s: &Slot<'_>) -> String {
    match s {
        Slot::Str(x) => (*x).to_string(),
        Slot::Int(n) => n.to_string(),
    }
}

fn tokenize(text: &str) -> Option<(String, Vec<Slot<'_>>)> {
    if text.contains([STR, INT, NUM, RAW]) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut template = String::with_capacity(text.len() / 2);
    let mut slots = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            let mut j = i + 1;
            loop {
                match bytes.get(j)? {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            let inner = text.get(i + 1..j)?;
            let next = bytes.get(j + 1..)?.iter().find(|c| !c.is_ascii_whitespace());
            if next == Some(&b':') {
                template.push_str(text.get(i..=j)?);
            } else {
                template.push(STR);
                slots.push(Slot::Str(inner));
            }
            i = j + 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let mut j = i + 1;
            while bytes.get(j).is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
                j += 1;
            }
            let lit = text.get(i..j)?;
            match lit.parse::<i64>() {
                Ok(n) if n.to_string() == lit => {
                    template.push(INT);
                    slots.push(Slot::Int(n));
                }
                _ => {
                    template.push(NUM);
                    slots.push(Slot::Str(lit));
                }
            }
            i = j;
        } else {
            let ch = text.get(i..)?.chars().next()?;
            template.push(ch);
            i += ch.len_utf8();
        }
    }
    Some((template, slots))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

fn slot_kinds(template: &str) -> Vec<Kind> {
    template
        .chars()
        .filter_map(|c| match c {
            INT => Some(Kind::Int),
            STR | NUM | RAW => Some(Kind::Text),
            _ => None,
        })
        .collect()
}

fn fill(template: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(String::len).sum::<usize>() + 8);
    let mut v = values.iter();
    for c in template.chars() {
        match c {
            STR => {
                out.push('"');
                out.push_str(v.next().map_or("", String::as_str));
                out.push('"');
            }
            INT | NUM | RAW => out.push_str(v.next().map_or("", String::as_str)),
            c => out.push(c),
        }
    }
    out
}

fn put_values(out: &mut Vec<u8>, column: &[&Slot<'_>]) -> Result<(), SliceError> {
    let ints: Option<Vec<i64>> = column.iter().map(|s| if let Slot::Int(n) = s { Some(*n) } else { None }).collect();
    match ints {
        Some(ints) => {
            let raw = encode_ints(&ints, false).ok_or_else(|| bad("payload integer out of range"))?;
            // Deltas between far-apart integers may not fit an i64: raw values then.
            let (how, bytes) = match encode_ints(&ints, true) {
                Some(delta) if delta.len() < raw.len() => (1u8, delta),
                _ => (0u8, raw),
            };
            out.push(how);
            put_column(out, &bytes)
        }
        None => {
            out.push(2);
            let texts: Vec<String> = column.iter().map(|s| slot_text(s)).collect();
            put_column(out, &encode_strings(texts.iter().map(String::as_str))?)
        }
    }
}

fn get_values(r: &mut Reader<'_>, n: usize, kind: Kind) -> Result<Vec<String>, SliceError> {
    let how = r.take(1)?.first().copied().unwrap_or(u8::MAX);
    let bytes = r.column()?;
    match (how, kind) {
        (0 | 1, Kind::Int) => {
            let mut c = Reader { rest: bytes };
            let mut prev: i64 = 0;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let d = unzigzag(c.varint()?);
                let v = if how == 1 { i128::from(prev) + d } else { d };
                prev = i64::try_from(v).map_err(|_| bad("payload integer out of range"))?;
                out.push(prev.to_string());
            }
            c.end("payload integer column")?;
            Ok(out)
        }
        (2, Kind::Text) => decode_strings(bytes, n, "payload value"),
        _ => Err(bad("a payload column has the wrong kind")),
    }
}

/// The values (or their differences) zigzag-varint encoded; `None` when a difference does
/// not fit an i64 (the decoder accepts exactly that range).
fn encode_ints(values: &[i64], delta: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(values.len() * 2);
    let mut prev: i64 = 0;
    for &v in values {
        let d = if delta { i128::from(v) - i128::from(prev) } else { i128::from(v) };
        put_varint(&mut out, zigzag(d)?);
        prev = v;
    }
    Some(out)
}

fn encode_strings<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, SliceError> {
    encode_dict(values.map(str::as_bytes))
}

/// Values as dictionary codes: 0 introduces the next new dictionary entry, `k` repeats entry
/// `k - 1`. Frequent values appear early and get small codes.
fn encode_dict<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>, SliceError> {
    let mut ids: HashMap<&'a [u8], u64> = HashMap::new();
    let (mut codes, mut dict) = (Vec::new(), Vec::new());
    for v in values {
        match ids.get(v) {
            Some(&k) => put_varint(&mut codes, k + 1),
            None => {
                ids.insert(v, ids.len() as u64);
                codes.push(0);
                put_varint(&mut dict, v.len() as u64);
                dict.extend_from_slice(v);
            }
        }
    }
    let mut out = Vec::with_capacity(codes.len() + dict.len() + 8);
    put_column(&mut out, &codes)?;
    put_column(&mut out, &dict)?;
    Ok(out)
}

/// The dictionary and, per value, its index in it.
fn decode_dict(bytes: &[u8], n: usize, what: &str) -> Result<(Vec<Vec<u8>>, Vec<usize>), SliceError> {
    let mut r = Reader { rest: bytes };
    let mut codes = Reader { rest: r.column()? };
    let mut dict = Reader { rest: r.column()? };
    r.end(what)?;
    let mut known: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let code = codes.varint()?;
        if code == 0 {
            let len = usize::try_from(dict.varint()?).map_err(|_| bad("string length"))?;
            known.push(dict.take(len)?.to_vec());
            out.push(known.len() - 1);
        } else {
            let k =
                usize::try_from(code - 1).ok().filter(|&k| k < known.len()).ok_or_else(|| bad(format!("a {what} refers to no entry")))?;
            out.push(k);
        }
    }
    codes.end(what)?;
    dict.end(what)?;
    Ok((known, out))
}

fn strings((dict, idx): (Vec<Vec<u8>>, Vec<usize>), what: &str) -> Result<Vec<String>, SliceError> {
    let dict: Vec<String> =
        dict.into_iter().map(|d| String::from_utf8(d).map_err(|_| bad(format!("a {what} is not UTF-8")))).collect::<Result<_, _>>()?;
    Ok(idx.into_iter().filter_map(|k| dict.get(k).cloned()).collect())
}

fn decode_strings(bytes: &[u8], n: usize, what: &str) -> Result<Vec<String>, SliceError> {
    strings(decode_dict(bytes, n, what)?, what)
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

fn put_column(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), SliceError> {
    let len = u32::try_from(bytes.len()).map_err(|_| SliceError::Unencodable("a column is larger than 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i128) -> Option<u64> {
    let v = i64::try_from(v).ok()?;
    Some(((v << 1) ^ (v >> 63)) as u64)
}

fn unzigzag(v: u64) -> i128 {
    i128::from(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// A bounds-checked reader.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SliceError> {
        let (a, b) = self.rest.split_at_checked(n).ok_or_else(|| bad("it ends too early"))?;
        self.rest = b;
        Ok(a)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SliceError> {
        self.take(N)?.try_into().map_err(|_| bad("it ends too early"))
    }

    fn u16(&mut self) -> Result<u16, SliceError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, SliceError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, SliceError> {
        self.array().map(u64::from_le_bytes)
    }

    fn varint(&mut self) -> Result<u64, SliceError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first().unwrap_or(&0);
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("a number is too long"))
    }

    fn column(&mut self) -> Result<&'a [u8], SliceError> {
        let n = usize::try_from(self.u32()?).map_err(|_| bad("column length"))?;
        self.take(n)
    }

    fn end(&self, what: &str) -> Result<(), SliceError> {
        if self.rest.is_empty() { Ok(()) } else { Err(bad(format!("{} unexpected bytes after the {what}", self.rest.len()))) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn payloads_are_cut_into_templates_and_values_that_rebuild_them_exactly() {
        for text in [
            r#"{"amount":5,"currency":"EUR","ratio":0.25,"tags":["a","b\"c"],"neg":-7,"big":123456789012345678901}"#,
            "null",
            r#""just a string""#,
            r#"{"zero":0,"minus_zero":-0,"exp":1e5,"lead":"x"}"#,
            "{\"k\" : \"v\" , \"n\":  12 }",
            "not json at all \u{1}",
            r#"{"unterminated":"x"#,
            "",
        ] {
            let (t, s) = shred(text);
            assert_eq!(fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()), text, "{text}");
        }
        assert_eq!(shred(r#"{"a":1,"b":"x"}"#).0, "{\"a\":\u{2},\"b\":\u{1}}");
    }

    use proptest::prelude::*;

    /// Payload texts: JSON the runtime writes (nested objects and arrays of strings, integers
    /// of every size, floats) and arbitrary text, which must survive byte for byte too.
    fn payload() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e12f64..1e12).prop_map(serde_json::Value::from),
            "[a-z0-9 \"\\\u{1}-\u{4}é€😀]{0,12}".prop_map(serde_json::Value::from),
        ];
        let json = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z\u{1}\u{2}]{1,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        });
        prop_oneof![4 => json.prop_map(|v| v.to_string()), 1 => any::<String>()]
    }

    type Fields = (u64, String, String, String, String, String, String);

    fn fields() -> impl Strategy<Value = Fields> {
        let word = || prop::sample::select(vec!["", "billing", "auth", "svc-billing", "charge", "ok", "denied", "acct/17", "é\u{1}"]);
        let time = prop_oneof![Just(0u64), 0..2_000u64, 0..u64::from(u32::MAX)];
        (time, word(), word(), word(), prop_oneof![word().prop_map(String::from), any::<String>()], word(), payload())
            .prop_map(|(t, s, a, c, r, o, p)| (t, s.into(), a.into(), c.into(), r, o.into(), p))
    }

    /// The identity of the test slices.
    fn ident() -> Identity {
        Identity::with_id("shop", "audit", [9; 16]).unwrap()
    }

    /// A run of entries after `anchor`, with checkpoints at `marks` (indices into it).
    fn run(anchor: &Anchor, fields: &[Fields], marks: &[prop::sample::Index]) -> (Vec<Entry>, Vec<Checkpoint>) {
        let mut ts = anchor.min_ts;
        let entries: Vec<Entry> = fields
            .iter()
            .enumerate()
            .map(|(i, (dt, subsystem, actor, action, resource, result, payload))| {
                ts += dt;
                Entry {
                    seq: anchor.next_seq + i as u64,
                    ts_millis: ts,
                    subsystem: subsystem.clone(),
                    actor: actor.clone(),
                    action: action.clone(),
                    resource: resource.clone(),
                    result: result.clone(),
                    payload: payload.clone(),
                    prev: [0; HASH_LEN],
                    hash: [0; HASH_LEN],
                    mac: [0; MAC_LEN],
                    offset: 0,
                }
            })
            .collect();
        let mut at: Vec<usize> = marks.iter().map(|m| m.index(entries.len())).collect();
        at.sort_unstable();
        let cps = at
            .iter()
            .map(|&k| Checkpoint {
                seq: entries[k].seq,
                time_millis: entries[k].ts_millis + 5,
                head: [0; HASH_LEN],
                mac: [k as u8; MAC_LEN],
            })
            .collect();
        (entries, cps)
    }

    fn anchor() -> impl Strategy<Value = Anchor> {
        (prop_oneof![Just(1u64), 1..1u64 << 40], any::<[u8; HASH_LEN]>(), 0..1u64 << 42).prop_map(|(next_seq, prev, min_ts)| Anchor {
            next_seq,
            prev,
            min_ts,
        })
    }

    #[test]
    fn payload_integers_whose_differences_overflow_an_i64_round_trip() {
        // Found by the property below: a delta between far-apart integers does not fit an
        // i64, and was written as garbage that the decoder then refused.
        let anchor = Anchor { next_seq: 1, prev: [0; HASH_LEN], min_ts: 0 };
        let payloads = [i64::MIN, i64::MAX, -337_431_093_001_454_998, 8_885_940_943_853_320_810, 0];
        let fields: Vec<Fields> = payloads
            .iter()
            .map(|p| (0, String::new(), String::new(), String::new(), String::new(), String::new(), p.to_string()))
            .collect();
        let (entries, cps) = run(&anchor, &fields, &[]);
        let d = decode(&encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap()).unwrap();
        let got: Vec<_> = d.entries.iter().map(|e| e.payload.clone()).collect();
        assert_eq!(got, entries.iter().map(|e| e.payload.clone()).collect::<Vec<_>>());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn shredding_any_text_rebuilds_it_exactly(text in any::<String>()) {
            let (t, s) = shred(&text);
            prop_assert_eq!(fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()), text);
        }

        #[test]
        fn any_run_of_entries_decodes_to_what_was_encoded(
            anchor in anchor(),
            fields in prop::collection::vec(fields(), 1..40),
            marks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let (entries, cps) = run(&anchor, &fields, &marks);
            let bytes = encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap();
            let d = decode(&bytes).unwrap();
            prop_assert_eq!(d.key_id, [7; KEY_ID_LEN]);
            prop_assert_eq!(&d.identity, &ident());
            prop_assert_eq!(&d.anchor, &anchor);
            prop_assert_eq!(d.entries.len(), entries.len());
            let mut chain = anchor.prev;
            for (got, want) in d.entries.iter().zip(&entries) {
                let fields = |e: &Entry| (e.seq, e.ts_millis, e.subsystem.clone(), e.actor.clone(), e.action.clone(), e.resource.clone(), e.result.clone(), e.payload.clone());
                prop_assert_eq!(fields(got), fields(want));
                prop_assert_eq!(got.prev, chain, "the chain is recomputed from the anchor");
                chain = got.hash;
            }
            let cp = |c: &Checkpoint| (c.seq, c.time_millis, c.mac);
            prop_assert_eq!(d.checkpoints.iter().map(cp).collect::<Vec<_>>(), cps.iter().map(cp).collect::<Vec<_>>());
            for c in &d.checkpoints {
                let e = d.entries.iter().find(|e| e.seq == c.seq).unwrap();
                prop_assert_eq!(c.head, e.hash, "a checkpoint's head is its entry's recomputed hash");
            }
        }

        /// Changing, inserting or cutting bytes of a slice either fails to decode or decodes
        /// to different entries or checkpoints (which the chain and MACs then reveal); it
        /// never panics and never decodes to the same content.
        #[test]
        fn no_edit_of_a_slice_decodes_to_the_same_content(
            anchor in anchor(),
            fields in prop::collection::vec(fields(), 1..12),
            marks in prop::collection::vec(any::<prop::sample::Index>(), 1..3),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let (entries, cps) = run(&anchor, &fields, &marks);
            let bytes = encode(&[7; KEY_ID_LEN], &ident(), &anchor, &entries, &cps).unwrap();
            let original = decode(&bytes).unwrap();
            let mut changed = bytes.clone();
            for (at, byte, how) in edits {
                let i = at.index(changed.len().max(1));
                match how {
                    0 => { if let Some(b) = changed.get_mut(i) { *b ^= byte | 1; } }
                    1 => changed.insert(i, byte),
                    _ => changed.truncate(i),
                }
            }
            prop_assume!(changed != bytes);
            if let Ok(d) = decode(&changed) {
                prop_assert!(d != original, "an edited slice decoded to the same content");
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused_without_panicking(tail in prop::collection::vec(any::<u8>(), 0..512), header in any::<bool>()) {
            let mut bytes = Vec::new();
            if header {
                bytes.extend_from_slice(&SLICE_MAGIC);
                bytes.extend_from_slice(&SLICE_VERSION.to_le_bytes());
                bytes.extend_from_slice(&0u16.to_le_bytes());
            }
            bytes.extend_from_slice(&tail);
            // Whatever decodes is, by the strict check, exactly what encode writes.
            if let Ok(d) = decode(&bytes) {
                prop_assert_eq!(encode(&d.key_id, &d.identity, &d.anchor, &d.entries, &d.checkpoints).unwrap(), bytes);
            }
        }
    }
}
