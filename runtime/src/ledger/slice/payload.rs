//! Payloads as templates and value columns: a payload's JSON text with every string value
//! replaced by `\u{1}`, every integer by `\u{2}` and every other number by `\u{3}` (a text the
//! tokenizer cannot reproduce exactly is one `\u{4}` slot), and its values in per-template,
//! per-slot columns, so that deflate sees long runs of similar values.

use std::collections::HashMap;

use super::column::{Reader, decode_strings, encode_strings, put_column, put_varint, unzigzag, zigzag};
use super::{SliceError, bad};

const STR: char = '\u{1}';
const INT: char = '\u{2}';
const NUM: char = '\u{3}';
const RAW: char = '\u{4}';

pub(super) fn rebuild_payloads(templates: &[String], values: &mut Reader<'_>) -> Result<Vec<String>, SliceError> {
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
pub(super) enum Slot<'a> {
    Str(&'a str),
    Int(i64),
}

/// Splits a payload into its template and values; a text the template cannot reproduce is
/// one raw slot.
pub(super) fn shred(text: &str) -> (String, Vec<Slot<'_>>) {
    match tokenize(text) {
        Some((t, s)) if fill(&t, &s.iter().map(slot_text).collect::<Vec<_>>()) == text => (t, s),
        _ => (RAW.to_string(), vec![Slot::Str(text)]),
    }
}

pub(super) fn slot_text(s: &Slot<'_>) -> String {
    match s {
        Slot::Str(x) => (*x).to_string(),
        Slot::Int(n) => n.to_string(),
    }
}

pub(super) fn tokenize(text: &str) -> Option<(String, Vec<Slot<'_>>)> {
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
pub(super) enum Kind {
    Int,
    Text,
}

pub(super) fn slot_kinds(template: &str) -> Vec<Kind> {
    template
        .chars()
        .filter_map(|c| match c {
            INT => Some(Kind::Int),
            STR | NUM | RAW => Some(Kind::Text),
            _ => None,
        })
        .collect()
}

pub(super) fn fill(template: &str, values: &[String]) -> String {
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

pub(super) fn put_values(out: &mut Vec<u8>, column: &[&Slot<'_>]) -> Result<(), SliceError> {
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

pub(super) fn get_values(r: &mut Reader<'_>, n: usize, kind: Kind) -> Result<Vec<String>, SliceError> {
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
