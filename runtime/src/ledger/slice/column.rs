//! The byte-level pieces of a slice: length-prefixed columns, dictionary-coded strings,
//! varints and zigzag numbers, and a bounds-checked reader.

use std::collections::HashMap;

use super::{SliceError, bad};

pub(super) fn encode_strings<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, SliceError> {
    encode_dict(values.map(str::as_bytes))
}

/// Values as dictionary codes: 0 introduces the next new dictionary entry, `k` repeats entry
/// `k - 1`. Frequent values appear early and get small codes.
pub(super) fn encode_dict<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>, SliceError> {
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
pub(super) fn decode_dict(bytes: &[u8], n: usize, what: &str) -> Result<(Vec<Vec<u8>>, Vec<usize>), SliceError> {
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

pub(super) fn strings((dict, idx): (Vec<Vec<u8>>, Vec<usize>), what: &str) -> Result<Vec<String>, SliceError> {
    let dict: Vec<String> =
        dict.into_iter().map(|d| String::from_utf8(d).map_err(|_| bad(format!("a {what} is not UTF-8")))).collect::<Result<_, _>>()?;
    Ok(idx.into_iter().filter_map(|k| dict.get(k).cloned()).collect())
}

pub(super) fn decode_strings(bytes: &[u8], n: usize, what: &str) -> Result<Vec<String>, SliceError> {
    strings(decode_dict(bytes, n, what)?, what)
}

pub(super) fn put_column(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), SliceError> {
    let len = u32::try_from(bytes.len()).map_err(|_| SliceError::Unencodable("a column is larger than 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn zigzag(v: i128) -> Option<u64> {
    let v = i64::try_from(v).ok()?;
    Some(((v << 1) ^ (v >> 63)) as u64)
}

pub(super) fn unzigzag(v: u64) -> i128 {
    i128::from(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// A cursor over a slice's bytes: a read past the end is [`SliceError::Malformed`], never a panic.
pub(super) struct Reader<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], SliceError> {
        let (a, b) = self.rest.split_at_checked(n).ok_or_else(|| bad("it ends too early"))?;
        self.rest = b;
        Ok(a)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], SliceError> {
        self.take(N)?.try_into().map_err(|_| bad("it ends too early"))
    }

    pub(super) fn u16(&mut self) -> Result<u16, SliceError> {
        self.array().map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self) -> Result<u32, SliceError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, SliceError> {
        self.array().map(u64::from_le_bytes)
    }

    pub(super) fn varint(&mut self) -> Result<u64, SliceError> {
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

    pub(super) fn column(&mut self) -> Result<&'a [u8], SliceError> {
        let n = usize::try_from(self.u32()?).map_err(|_| bad("column length"))?;
        self.take(n)
    }

    pub(super) fn end(&self, what: &str) -> Result<(), SliceError> {
        if self.rest.is_empty() { Ok(()) } else { Err(bad(format!("{} unexpected bytes after the {what}", self.rest.len()))) }
    }
}
