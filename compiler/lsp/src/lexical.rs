//! What can be told from the text alone, without parsing: the construct around a position,
//! whether it lies in a string or comment, the word under it, and the constructs a file
//! names. Completion and hover need this while the file is being typed and does not parse.

use pip_frontend::ir::ConstructKind;

/// Where a position lies, read from the text before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// How many braces are open (0 at top level).
    pub depth: usize,
    /// The keyword of the top-level item whose block holds the position (`spec` or a
    /// construct keyword), if any.
    pub enclosing: Option<String>,
    /// Whether the position lies inside a string, a backtick expression or a comment.
    pub in_literal: bool,
}

/// A construct name a file defines, found by its `keyword name` line at top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The construct's keyword.
    pub keyword: String,
    /// Its name.
    pub name: String,
    /// The name's bytes.
    pub start: usize,
    /// One past the name's last byte.
    pub end: usize,
}

/// The context of byte offset `at` of `text`.
pub fn context(text: &str, at: usize) -> Context {
    scan(text, at).0
}

/// The constructs `text` defines at top level (also when it does not parse).
pub fn definitions(text: &str) -> Vec<Definition> {
    scan(text, text.len()).1
}

/// The spec a file belongs to, from its first `spec <name>` line.
pub fn spec_name(text: &str) -> Option<String> {
    let mut defs = Vec::new();
    top_level_words(text, text.len(), &mut |first, second, _| {
        if first == "spec" {
            defs.push(second.to_string());
        }
    });
    defs.into_iter().next()
}

/// The identifier under (or just before) byte offset `at`, with its byte range.
pub fn word_at(text: &str, at: usize) -> Option<(usize, usize, &str)> {
    let at = at.min(text.len());
    let bytes = text.as_bytes();
    let mut start = at;
    while start > 0 && bytes.get(start - 1).is_some_and(|b| is_word(*b)) {
        start -= 1;
    }
    let mut end = at;
    while bytes.get(end).is_some_and(|b| is_word(*b)) {
        end += 1;
    }
    let word = text.get(start..end)?;
    (!word.is_empty()).then_some((start, end, word))
}

/// The text of the line holding byte offset `at`, up to `at`.
pub fn line_prefix(text: &str, at: usize) -> &str {
    let before = text.get(..at.min(text.len())).unwrap_or("");
    before.rsplit('\n').next().unwrap_or("")
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether a top-level word starts a construct (the registry's keywords, or `spec`).
fn is_item_keyword(word: &str) -> bool {
    word == "spec" || ConstructKind::from_keyword(word).is_some()
}

fn scan(text: &str, at: usize) -> (Context, Vec<Definition>) {
    let mut defs = Vec::new();
    let mut enclosing = None;
    let mut last_item: Option<String> = None;
    let (depth, in_literal) = top_level_words(text, at, &mut |first, second, start| {
        if is_item_keyword(first) {
            last_item = Some(first.to_string());
            if first != "spec" {
                defs.push(Definition { keyword: first.to_string(), name: second.to_string(), start, end: start + second.len() });
            }
        }
    });
    if depth > 0 {
        enclosing = last_item;
    }
    (Context { depth, enclosing, in_literal }, defs)
}

/// Walks `text` up to byte `at`, skipping strings, backticks and comments, and calls `item`
/// with the first two words of every statement that starts at brace depth 0 (and the second
/// word's offset). Returns the depth at `at` and whether `at` lies in a literal or comment.
fn top_level_words(text: &str, at: usize, item: &mut dyn FnMut(&str, &str, usize)) -> (usize, bool) {
    let bytes = text.as_bytes();
    let end = at.min(bytes.len());
    let mut depth = 0usize;
    let mut i = 0usize;
    let mut line_start = true;
    while i < end {
        let b = bytes.get(i).copied().unwrap_or(b'\n');
        match b {
            b'"' | b'`' => {
                let close = skip_quoted(bytes, i, b);
                if close >= end {
                    return (depth, true);
                }
                i = close;
                line_start = false;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let close = text.get(i..).and_then(|r| r.find('\n')).map_or(bytes.len(), |n| i + n);
                if close >= end {
                    return (depth, true);
                }
                i = close;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let close = text.get(i + 2..).and_then(|r| r.find("*/")).map_or(bytes.len(), |n| i + 2 + n + 2);
                if close > end {
                    return (depth, true);
                }
                i = close;
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        if line_start && depth == 0 && is_word(b) {
            let first_end = (i..bytes.len()).find(|&j| !bytes.get(j).copied().is_some_and(is_word)).unwrap_or(bytes.len());
            let mut second_start = first_end;
            while bytes.get(second_start).is_some_and(|c| *c == b' ' || *c == b'\t') {
                second_start += 1;
            }
            let second_end = (second_start..bytes.len()).find(|&j| !bytes.get(j).copied().is_some_and(is_word)).unwrap_or(bytes.len());
            if let (Some(first), Some(second)) = (text.get(i..first_end), text.get(second_start..second_end))
                && !second.is_empty()
            {
                item(first, second, second_start);
            }
            line_start = false;
            i = first_end.max(i + 1);
            continue;
        }
        if !b.is_ascii_whitespace() {
            line_start = false;
        }
        i += 1;
    }
    (depth, false)
}

/// The offset just past the literal opened by `quote` at `open` (the text's end if it is
/// never closed); strings honor backslash escapes, backticks do not.
fn skip_quoted(bytes: &[u8], open: usize, quote: u8) -> usize {
    let mut j = open + 1;
    while let Some(&c) = bytes.get(j) {
        if c == b'\\' && quote == b'"' {
            j += 2;
            continue;
        }
        if c == quote {
            return j + 1;
        }
        if c == b'\n' && quote == b'"' {
            return j;
        }
        j += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_the_enclosing_construct_and_skips_literals() {
        let text = "spec p {\n}\nrate_limit r {\n  doc = \"a { b\"\n  \n}\n";
        let inside = text.find("  \n").unwrap_or(0) + 2;
        let c = context(text, inside);
        assert_eq!((c.depth, c.enclosing.as_deref(), c.in_literal), (1, Some("rate_limit"), false));
        let in_string = text.find("a {").unwrap_or(0);
        assert!(context(text, in_string).in_literal);
        assert_eq!(context(text, text.len()).depth, 0);
        let defs = definitions(text);
        assert_eq!(defs.len(), 1);
        assert_eq!(defs.first().map(|d| d.name.as_str()), Some("r"));
        assert_eq!(spec_name(text).as_deref(), Some("p"));
    }

    #[test]
    fn word_at_finds_identifiers_with_dashes() {
        assert_eq!(word_at("x = per-tenant ", 6).map(|w| w.2), Some("per-tenant"));
        assert_eq!(word_at("a  b", 2), None);
    }
}
