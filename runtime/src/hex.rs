//! Lowercase hex text of bytes, and back: how the ledger writes hashes, MACs, key ids and
//! ledger ids, how evidence writes hashed values, and how keys are read.

/// Why [`from_hex`] refused its text: the first character that is no hex digit, or an odd digit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character is not a hex digit.
    #[error("character {position} is not a hex digit")]
    NotHex {
        /// 1-based position (in characters) of the first one that is not.
        position: usize,
    },
    /// The text has an odd number of hex digits.
    #[error("the text has an odd number of hex digits")]
    OddLength,
}

/// Two lowercase digits per byte, high nibble first: the form the ledger writes hashes, MACs and ids in.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            s.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// The bytes of hex text (either case, nothing else: no sign, prefix or whitespace).
pub fn from_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let digits = text.as_bytes();
    if let Some(bad) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(HexError::NotHex { position: text.char_indices().take_while(|(i, _)| *i < bad).count() + 1 });
    }
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength);
    }
    Ok(digits.chunks_exact(2).map(|pair| pair.iter().fold(0u8, |acc, &d| (acc << 4) | digit_value(d))).collect())
}

/// The value of an ASCII hex digit (checked by the caller).
fn digit_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bytes_round_trip_through_lowercase_hex() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = to_hex(&bytes);
        assert_eq!(&text[..8], "00010203");
        assert_eq!(&text[text.len() - 4..], "feff");
        assert_eq!(from_hex(&text).unwrap(), bytes);
        assert_eq!(from_hex(&text.to_uppercase()).unwrap(), bytes);
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn signs_odd_lengths_and_other_characters_are_refused_where_they_are() {
        assert_eq!(from_hex("+f"), Err(HexError::NotHex { position: 1 }));
        assert_eq!(from_hex("abc"), Err(HexError::OddLength));
        assert_eq!(from_hex("ab é0"), Err(HexError::NotHex { position: 3 }));
        assert_eq!(from_hex("abé0"), Err(HexError::NotHex { position: 3 }));
        assert_eq!(from_hex("0x00"), Err(HexError::NotHex { position: 2 }));
    }
}
