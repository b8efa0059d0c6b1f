//! Untrusted text made safe to print: a ledger's names and event fields, a bundle's file
//! names and a header's identity come from files anyone may have written, and reach a
//! terminal through `pipc verify-log`, `pipc verify-bundle` and their error messages.

/// `bytes` as lossy UTF-8 with control characters, zero-width marks and bidirectional
/// overrides escaped as `\u{1b}`, so that a hostile file cannot drive the terminal (colours,
/// cursor moves, a cleared screen) or reorder what it shows. Every tool printing such text
/// calls this one function, so that they escape alike.
pub fn shown(bytes: &[u8]) -> String {
    let hostile = |c: char| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        if hostile(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn plain_text_is_shown_as_it_is() {
        assert_eq!(shown("spec `shop`, ledger `audit` — ok".as_bytes()), "spec `shop`, ledger `audit` — ok");
    }

    #[test]
    fn terminal_controls_and_direction_overrides_are_escaped() {
        assert_eq!(shown(b"a\x1b[2Jb\nc"), "a\\u{1b}[2Jb\\u{a}c");
        assert_eq!(shown("x\u{202e}y\u{200b}z\u{2066}".as_bytes()), "x\\u{202e}y\\u{200b}z\\u{2066}");
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        assert_eq!(shown(b"a\xffb"), "a\u{fffd}b");
    }
}
