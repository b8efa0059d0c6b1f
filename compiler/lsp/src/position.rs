//! Positions both ways: the protocol's `(line, UTF-16 column)` and the front end's byte
//! offsets. Every conversion clamps, so a position past a line's end or the file's end (a
//! client that is ahead of us, a hostile one) lands on the nearest valid offset.

use lsp_types::{Position, Range};

/// The byte offset of a protocol position in `text`, clamped to the text.
pub fn offset(text: &str, pos: Position) -> usize {
    let start = line_start(text, pos.line as usize);
    let line = text.get(start..).unwrap_or("");
    let line = line.split('\n').next().unwrap_or("");
    let mut units = 0usize;
    for (i, c) in line.char_indices() {
        if units >= pos.character as usize || c == '\r' {
            return start + i;
        }
        units += c.len_utf16();
    }
    start + line.len()
}

/// The protocol position of a byte offset in `text` (clamped; inside a character, its start).
pub fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column: usize = before.get(line_start..).unwrap_or("").chars().map(char::len_utf16).sum();
    Position { line: saturate(line), character: saturate(column) }
}

/// The protocol range of the bytes `start..end` of `text`.
pub fn range(text: &str, start: usize, end: usize) -> Range {
    Range { start: position(text, start), end: position(text, end.max(start)) }
}

/// The range covering all of `text`.
pub fn whole(text: &str) -> Range {
    range(text, 0, text.len())
}

/// Byte offset where the 0-based `line` starts (the text's end past its last line).
fn line_start(text: &str, line: usize) -> usize {
    if line == 0 {
        return 0;
    }
    text.match_indices('\n').nth(line - 1).map_or(text.len(), |(i, _)| i + 1)
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_round_trip() {
        let text = "ab\né𝄞x\n";
        let x = text.find('x').unwrap_or(0);
        assert_eq!(position(text, x), Position { line: 1, character: 3 });
        assert_eq!(offset(text, Position { line: 1, character: 3 }), x);
        assert_eq!(offset(text, Position { line: 9, character: 9 }), text.len());
        assert_eq!(offset(text, Position { line: 0, character: 99 }), 2);
    }
}
