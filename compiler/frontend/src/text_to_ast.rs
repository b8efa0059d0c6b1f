//! Stage 1: text → AST. Runs the pest grammar and strips its pairs into [`crate::ast`].
//!
//! A syntax error does not stop the file: the parser resumes at the next line that starts
//! a construct, so one run reports every broken construct of a file.

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use crate::ast::{
    Assign, Block, Comment, Condition, File, Ident, IncludeItem, Item, RustExpr, Statement, StatementKind, Str, Trigger, Value, ValueKind,
};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::ConstructKind;
use crate::span::{FileId, Span};

mod grammar {
    #![allow(missing_docs)]
    //! The pest parser generated from `grammar.pest`.
    #[derive(pest_derive::Parser)]
    #[grammar = "grammar.pest"]
    pub struct PipsParser;
}

use grammar::{PipsParser, Rule};

/// Deepest bracket nesting accepted. Real specs nest two or three levels; the limit keeps
/// the recursive parts of parsing (pest's bracket groups, syn, the PromQL parser) far from
/// the end of the stack whatever the input.
pub const MAX_NESTING: usize = 64;

/// The keywords that start a top-level item: `spec`, then the keyword of every construct kind
/// in registry order. A line starting with one is where parsing resumes after an error.
pub fn construct_keywords() -> impl Iterator<Item = &'static str> {
    std::iter::once("spec").chain(ConstructKind::ALL.map(ConstructKind::keyword))
}

/// Runs only the grammar (no AST), for measuring the parser.
pub fn parse_only(text: &str) -> bool {
    PipsParser::parse(Rule::file, text).is_ok()
}

/// Parses one file. Returns the AST when the file has no syntax errors, otherwise every
/// syntax error found.
pub fn parse(file: FileId, text: &str) -> Result<File, Vec<Diagnostic>> {
    parse_recovering(file, text).map_err(|(errors, _)| errors)
}

/// [`parse`], and on syntax errors also the constructs that did parse (each parsed on its own
/// between the errors, comments left out), so that their own mistakes can be reported in the
/// same run.
pub fn parse_recovering(file: FileId, text: &str) -> Result<File, (Vec<Diagnostic>, File)> {
    let empty = || File { items: Vec::new(), comments: Vec::new() };
    if let Some(at) = too_deep(text) {
        return Err((
            vec![
                Diagnostic::error(Code::TooDeep, Span::new(file, at, at + 1), format!("brackets nest deeper than {MAX_NESTING} levels"))
                    .label("this bracket is too deep")
                    .help("specs never need this much nesting; split the expression"),
            ],
            empty(),
        ));
    }
    if text.len() >= PARALLEL_MIN_BYTES
        && let Some(file) = parse_in_chunks(file, text, crate::parallelism())
    {
        return Ok(file);
    }
    match PipsParser::parse(Rule::file, text) {
        Ok(pairs) => build(file, 0, pairs).map_err(|at| (vec![internal(at)], empty())),
        Err(first) => {
            // Error details (the literal tokens that were expected) cost time on every parse,
            // so they are switched on only once a file fails, and then stay on: the setting
            // is process-wide, and switching it off could race with another thread's error.
            pest::set_error_detail(true);
            let first = PipsParser::parse(Rule::file, text).err().unwrap_or(first);
            let (errors, items) = recover(file, text, first);
            Err((errors, File { items, comments: Vec::new() }))
        }
    }
}

/// Files smaller than this are parsed on one thread.
const PARALLEL_MIN_BYTES: usize = 64 * 1024;

/// Builds the AST of a successful parse of text that starts at byte `base` of the file.
fn build(file: FileId, base: usize, mut pairs: pest::iterators::Pairs<'_, Rule>) -> Result<File, Span> {
    let top = pairs.next().ok_or(Span::new(file, base, base))?;
    let comment_pairs: Vec<Pair<'_, Rule>> = top.clone().into_inner().flatten().filter(|q| q.as_rule() == Rule::COMMENT).collect();
    let b = Builder { file, base, comments: comment_pairs.iter().map(|q| (q.as_span().start(), q.as_span().end())).collect() };
    let comments = comment_pairs
        .iter()
        .map(|q| Comment { text: q.as_str().to_string(), span: Span::new(file, base + q.as_span().start(), base + q.as_span().end()) })
        .collect();
    let items = top.into_inner().filter(|p| p.as_rule() == Rule::item).map(|p| b.item(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(File { items, comments })
}

/// Parses a large file as `threads` runs of whole constructs on as many threads. The runs
/// start at lines that begin with a construct keyword; a line that only looks like one (inside
/// a block comment or a multi-line expression) leaves its run unterminated, so that run fails
/// to parse and the caller parses the file in one piece instead. `None` means: do that.
fn parse_in_chunks(file: FileId, text: &str, threads: usize) -> Option<File> {
    if threads < 2 {
        return None;
    }
    let mut cuts = vec![0];
    for i in 1..threads {
        let target = text.len() * i / threads;
        let cut = next_construct_line(text, target.saturating_sub(1))?;
        if cut > *cuts.last()? && cut < text.len() {
            cuts.push(cut);
        }
    }
    cuts.push(text.len());
    let parts: Vec<Option<File>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .filter_map(|w| match w {
                [a, b] => Some((*a, *b)),
                _ => None,
            })
            .map(|(a, b)| {
                scope.spawn(move || {
                    let piece = text.get(a..b)?;
                    let pairs = PipsParser::parse(Rule::file, piece).ok()?;
                    build(file, a, pairs).ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let mut whole = File { items: Vec::new(), comments: Vec::new() };
    for part in parts {
        let mut part = part?;
        whole.items.append(&mut part.items);
        whole.comments.append(&mut part.comments);
    }
    Some(whole)
}

/// Parses item by item after a syntax error, skipping from each error to the next line that
/// starts a construct, and returns all the errors.
fn recover(file: FileId, text: &str, first: pest::error::Error<Rule>) -> (Vec<Diagnostic>, Vec<Item>) {
    let mut errors = vec![syntax_error(file, text, 0, &first)];
    let mut items = Vec::new();
    let first_at = error_offset(&first);
    // The constructs before the first error, parsed one by one from the start.
    let mut pos = Some(0);
    while let Some(start) = pos.filter(|p| *p < first_at) {
        let rest = text.get(start..).unwrap_or("");
        match PipsParser::parse(Rule::item_at, rest) {
            Ok(pairs) => {
                let end = start + pairs.clone().last().map_or(rest.len(), |p| p.as_span().end()).max(1);
                if end > first_at {
                    break;
                }
                items.extend(item_of(file, start, pairs));
                pos = next_item_start(text, end);
            }
            Err(_) => break,
        }
    }
    // Resume after the line of the first error.
    let mut pos = next_construct_line(text, first_at);
    while let Some(start) = pos {
        let rest = text.get(start..).unwrap_or("");
        match PipsParser::parse(Rule::item_at, rest) {
            Ok(pairs) => {
                // INVARIANT: an item is at least two words long, so `end > 0` and the loop advances.
                let end = start + pairs.clone().last().map_or(rest.len(), |p| p.as_span().end()).max(1);
                items.extend(item_of(file, start, pairs));
                if PipsParser::parse(Rule::tail, text.get(end..).unwrap_or("")).is_ok() {
                    break;
                }
                pos = Some(end);
            }
            Err(e) => {
                errors.push(syntax_error(file, text, start, &e));
                pos = next_construct_line(text, start + error_offset(&e));
            }
        }
    }
    (errors, items)
}

/// The item of an `item_at` parse of the text at `base`.
fn item_of(file: FileId, base: usize, pairs: pest::iterators::Pairs<'_, Rule>) -> Option<Item> {
    let top = pairs.into_iter().next()?;
    let b = Builder { file, base, comments: Vec::new() };
    top.into_inner().find(|p| p.as_rule() == Rule::item).and_then(|p| b.item(p).ok())
}

/// Where the next item starts after `end`: past whitespace and comments (`None` at the end).
fn next_item_start(text: &str, end: usize) -> Option<usize> {
    let mut i = end;
    loop {
        let rest = text.get(i..)?;
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if let Some(r) = trimmed.strip_prefix("//") {
            i += 2 + r.find('\n').unwrap_or(r.len());
        } else if let Some(r) = trimmed.strip_prefix("/*") {
            i += 2 + r.find("*/").map_or(r.len(), |n| n + 2);
        } else {
            return (!trimmed.is_empty()).then_some(i);
        }
    }
}

/// The start of the first line after `offset` that begins (at column 0) with a construct keyword.
fn next_construct_line(text: &str, offset: usize) -> Option<usize> {
    let mut line_start = text.get(offset..)?.find('\n').map(|i| offset + i + 1)?;
    loop {
        let rest = text.get(line_start..)?;
        if construct_keywords().any(|k| rest.strip_prefix(k).is_some_and(|after| after.starts_with([' ', '\t']))) {
            return Some(line_start);
        }
        line_start += rest.find('\n')? + 1;
    }
}

fn error_offset(e: &pest::error::Error<Rule>) -> usize {
    match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::error(Code::Internal, span, "internal parser error").help("please report this with the spec that caused it")
}

/// Turns a pest error into a diagnostic that says what was expected and what was found.
fn syntax_error(file: FileId, text: &str, base: usize, e: &pest::error::Error<Rule>) -> Diagnostic {
    let at = base + error_offset(e);
    let found = found_token(text, at);
    let span = Span::new(file, at, at + found.len());
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let meaningful: Vec<Rule> = positives.iter().copied().filter(|r| !matches!(r, Rule::COMMENT | Rule::WHITESPACE)).collect();
            // `when` is only expected after a level word such as `warn`; listing it next to
            // what the statement really needs only confuses.
            let focused: Vec<Rule> =
                if meaningful.len() > 1 { meaningful.iter().copied().filter(|r| *r != Rule::kw_when).collect() } else { meaningful };
            let mut names: Vec<String> = focused.iter().map(|r| describe_rule(*r).to_string()).collect();
            if let Some(attempts) = e.parse_attempts() {
                // Structural punctuation (keywords come as rules above). Tokens that only start a
                // value or an expression, and comment openers, would be noise.
                let inside_value = focused.iter().any(|r| matches!(r, Rule::value | Rule::rust_expr));
                for t in attempts.expected_tokens() {
                    let token = t.to_string();
                    let structural = matches!(token.as_str(), "=" | "}" | ")" | ",") || (token == "{" && !inside_value);
                    if structural {
                        names.push(format!("`{token}`"));
                    }
                }
            }
            if names.len() > 1 {
                names.retain(|n| n != "`when`");
            }
            names.sort_unstable();
            names.dedup();
            names
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let found_text = if found.is_empty() {
        "end of file".to_string()
    } else if found.chars().all(|c| !c.is_control()) {
        format!("`{found}`")
    } else {
        format!("`{}`", found.escape_debug())
    };
    let message = match expected.as_slice() {
        [] => format!("unexpected {found_text}"),
        [one] => format!("expected {one}, found {found_text}"),
        [init @ .., last] => format!("expected {} or {last}, found {found_text}", init.join(", ")),
    };
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let mut d = Diagnostic::error(Code::Syntax, span, message).label("unexpected here");
    if found.is_empty()
        && expected.contains(&"`}`")
        && let Some(open) = unclosed_brace(text)
    {
        // Point at the block that is still open: its first line, up to its `{`.
        let line_start = text.get(..open).and_then(|b| b.rfind('\n')).map_or(0, |i| i + 1);
        let head = text.get(line_start..=open).unwrap_or("{");
        let lead = head.len() - head.trim_start().len();
        return d
            .also(Span::new(file, line_start + lead, open + 1), "this block is still open")
            .help("close it with `}` (every `{` needs its `}`)");
    }
    if let Some(help) = syntax_help(text, at, &expected) {
        d = d.help(help);
    }
    d
}

/// The byte offset of the innermost `{` left open at the end of `text`, skipping strings,
/// backtick expressions and comments.
fn unclosed_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' | b'`' => i = skip_quoted(bytes, i, b) + 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = text.get(i..).and_then(|r| r.find('\n')).map_or(bytes.len(), |n| i + n),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text.get(i + 2..).and_then(|r| r.find("*/")).map_or(bytes.len(), |n| i + 2 + n + 2)
            }
            b'{' => {
                open.push(i);
                i += 1;
            }
            b'}' => {
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    open.last().copied()
}

fn syntax_help(text: &str, at: usize, expected: &[&str]) -> Option<String> {
    let before = text.get(..at).unwrap_or("").trim_end();
    if let Some(count) = rate_slip(text, at) {
        return Some(format!("a rate is `<count> per <window>`: write `limit = {count} per 1s` (or per 1m, per 1h, ...)"));
    }
    if (expected.contains(&"a string") || expected.contains(&"a value")) && text.get(at..).is_some_and(|r| r.starts_with('\'')) {
        return Some("strings use double quotes: \"...\"".into());
    }
    if before.ends_with("requires") || before.ends_with("ensures") {
        return Some("write a Rust expression on the same line, e.g. `requires amount > 0`".into());
    }
    if expected.contains(&"a construct") {
        return Some(format!("a spec file holds constructs: {}", construct_keywords().collect::<Vec<_>>().join(", ")));
    }
    None
}

/// `limit = 100/s`, `limit = 100 rps`: a rate written another way. The error is at `at`, on
/// the rate's line (at `/`) or at the start of the next statement (after `rps`, taken for a
/// setting's name). Returns the count.
fn rate_slip(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let on_line = before.get(line_start..)?;
    // At the start of a line: the slip is the end of the line before.
    let line = if on_line.trim().is_empty() {
        let prev = before.get(..line_start)?.trim_end();
        prev.get(prev.rfind('\n').map_or(0, |i| i + 1)..)?
    } else {
        on_line
    };
    let rest = line.trim_start().strip_prefix("limit")?.trim_start().strip_prefix('=')?.trim();
    let count = rest.split(|c: char| !(c.is_ascii_digit() || c == '_')).next()?;
    let after = rest.get(count.len()..)?.trim();
    let unit = ["rps", "qps", "rpm", "rph", "req", "reqs", "requests", "calls"];
    let slip = if on_line.trim().is_empty() {
        unit.contains(&after.to_ascii_lowercase().as_str())
    } else {
        after.is_empty() && (found_token(text, at) == "/" || unit.contains(&found_token(text, at).to_ascii_lowercase().as_str()))
    };
    (!count.is_empty() && slip).then_some(count)
}

/// The token at `at`, for "found `...`": a word, a number, or one character.
fn found_token(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let Some(c) = rest.chars().next() else { return "" };
    let len = if c.is_alphanumeric() || c == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len())
    } else {
        c.len_utf8()
    };
    rest.get(..len.min(40)).unwrap_or("")
}

fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::item | Rule::item_at => "a construct",
        Rule::ident | Rule::path => "a name",
        Rule::block => "`{`",
        Rule::statement | Rule::assign => "a setting",
        Rule::version => "`version`",
        Rule::value | Rule::numeric | Rule::call => "a value",
        Rule::quantity => "a quantity such as `10s` or `5MiB`",
        Rule::percent => "a percentage such as `99.9%`",
        Rule::list => "a list `[...]`",
        Rule::burn_stmt => "a burn-rate tier",
        Rule::number | Rule::integer | Rule::digits => "a number",
        Rule::string | Rule::string_inner => "a string",
        Rule::promql | Rule::promql_inner => "a PromQL expression in backticks",
        Rule::rust_expr => "a Rust expression",
        Rule::trigger | Rule::entries_trigger | Rule::append_trigger => "`<n> entries`, `append` or a duration",
        Rule::comparator => "a comparison (`>`, `>=`, `<`, `<=`)",
        Rule::for_clause => "`for`",
        Rule::severity_clause => "`severity`",
        Rule::include_item => "a bundle part",
        Rule::kw_version => "`version`",
        Rule::kw_requires => "`requires`",
        Rule::kw_ensures => "`ensures`",
        Rule::kw_checkpoint => "`checkpoint`",
        Rule::kw_sync => "`sync`",
        Rule::kw_every => "`every`",
        Rule::kw_or => "`or`",
        Rule::kw_entries => "`entries`",
        Rule::kw_append => "`append`",
        Rule::kw_expect => "`expect`",
        Rule::kw_subsystem => "`subsystem`",
        Rule::kw_witness => "`witness`",
        Rule::kw_key => "`key`",
        Rule::kw_when => "`when`",
        Rule::kw_for => "`for`",
        Rule::kw_severity => "`severity`",
        Rule::kw_include => "`include`",
        Rule::kw_row => "`row`",
        Rule::kw_labels => "`labels`",
        Rule::kw_per => "`per`",
        Rule::kw_burn => "`burn`",
        Rule::kw_over => "`over`",
        Rule::kw_and => "`and`",
        Rule::EOI => "end of file",
        _ => "more input",
    }
}

/// Offset of a bracket nested deeper than [`MAX_NESTING`], skipping strings and comments.
/// Linear, no recursion.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => i = skip_quoted(bytes, i, b'"'),
            // PromQL between backticks is counted too: its parser's tree is recursive.
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes.get(i) == Some(&b'*') && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the closing `quote` of a literal opening at `start` (or the end of input).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote || b == b'\n' {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

struct Builder {
    file: FileId,
    base: usize,
    /// (start, end) of every comment, relative to the parsed text, in order.
    comments: Vec<(usize, usize)>,
}

/// Builder results: the error is the span of an impossible parse tree (a grammar bug).
type R<T> = Result<T, Span>;

impl Builder {
    /// The pair's span without the whitespace and comments pest skips after a trailing
    /// optional element (`a ~ b?` consumes the whitespace before a `b` that is absent). No
    /// token ends in whitespace or a comment, so trimming both from the end is always right.
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        let input = p.get_input().as_bytes();
        let mut end = s.end();
        loop {
            while end > s.start() && input.get(end - 1).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                end -= 1;
            }
            // INVARIANT: `comments` is sorted and non-overlapping, so sorted by end as well.
            match self.comments.binary_search_by_key(&end, |c| c.1) {
                Ok(i) => match self.comments.get(i) {
                    Some(&(start, _)) if start >= s.start() && start < end => end = start,
                    _ => break,
                },
                Err(_) => break,
            }
        }
        Span::new(self.file, self.base + s.start(), self.base + end)
    }

    /// Children that carry meaning: no comments, no keyword tokens.
    fn children<'i>(&self, p: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> + use<'i> {
        p.into_inner().filter(|q| !matches!(q.as_rule(), Rule::COMMENT) && !is_keyword(q.as_rule()))
    }

    fn next<'i>(&self, it: &mut impl Iterator<Item = Pair<'i, Rule>>, within: Span) -> R<Pair<'i, Rule>> {
        it.next().ok_or(within)
    }

    fn ident(&self, p: &Pair<'_, Rule>) -> Ident {
        Ident { name: p.as_str().to_string(), span: self.span(p) }
    }

    fn item(&self, p: Pair<'_, Rule>) -> R<Item> {
        let span = self.span(&p);
        let mut it = self.children(p);
        let kind = self.ident(&self.next(&mut it, span)?);
        let name = self.ident(&self.next(&mut it, span)?);
        let mut version = None;
        let mut block = None;
        for q in it {
            match q.as_rule() {
                Rule::version => {
                    let s = self.next(&mut self.children(q), span)?;
                    version = Some(self.string(s)?);
                }
                Rule::block => block = Some(self.block(q)?),
                _ => return Err(span),
            }
        }
        // Without a block the grammar's lookahead has consumed the whitespace after the item;
        // the item ends at its last word.
        let span = match (&block, &version) {
            (Some(_), _) => span,
            (None, Some(v)) => Span::new(span.file, span.start, v.span.end),
            (None, None) => Span::new(span.file, span.start, name.span.end),
        };
        Ok(Item { kind, name, version, block, span })
    }

    fn block(&self, p: Pair<'_, Rule>) -> R<Block> {
        let span = self.span(&p);
        let statements = self.children(p).map(|q| self.statement(q)).collect::<R<Vec<_>>>()?;
        Ok(Block { statements, span })
    }

    fn statement(&self, p: Pair<'_, Rule>) -> R<Statement> {
        let span = self.span(&p);
        let inner = p;
        let kind = match inner.as_rule() {
            Rule::assign => StatementKind::Assign(self.assign(inner)?),
            Rule::requires_stmt => StatementKind::Requires(self.rust(inner, span)?),
            Rule::ensures_stmt => StatementKind::Ensures(self.rust(inner, span)?),
            Rule::checkpoint_stmt | Rule::sync_stmt => {
                let keyword = inner
                    .clone()
                    .into_inner()
                    .find(|q| matches!(q.as_rule(), Rule::kw_checkpoint | Rule::kw_sync))
                    .map(|q| self.ident(&q))
                    .ok_or(span)?;
                let triggers = self.children(inner).map(|t| self.trigger(t)).collect::<R<Vec<_>>>()?;
                StatementKind::Every { keyword, triggers }
            }
            Rule::expect_stmt => {
                let mut it = self.children(inner);
                let subsystem = self.string(self.next(&mut it, span)?)?;
                let every = self.value(self.next(&mut it, span)?)?;
                let severity = match it.next() {
                    Some(c) => Some(self.clause(c, span)?),
                    None => None,
                };
                StatementKind::Expect { subsystem, every, severity }
            }
            Rule::witness_stmt => {
                let mut it = self.children(inner);
                let url = self.value(self.next(&mut it, span)?)?;
                let key = self.value(self.next(&mut it, span)?)?;
                StatementKind::Witness { url, key }
            }
            Rule::condition_stmt => StatementKind::Condition(self.condition(inner, span)?),
            Rule::burn_stmt => {
                let mut it = self.children(inner);
                let factor = self.value(self.next(&mut it, span)?)?;
                let long = self.value(self.next(&mut it, span)?)?;
                let short = self.value(self.next(&mut it, span)?)?;
                let severity = match it.next() {
                    Some(c) => Some(self.clause(c, span)?),
                    None => None,
                };
                StatementKind::Burn { factor, long, short, severity }
            }
            Rule::include_stmt => {
                let items = self
                    .children(inner)
                    .map(|q| {
                        let ispan = self.span(&q);
                        let words: Vec<Ident> = q.into_inner().map(|w| self.ident(&w)).collect();
                        match words.as_slice() {
                            [name] => Ok(IncludeItem { kind: None, name: name.clone(), span: ispan }),
                            [kind, name] => Ok(IncludeItem { kind: Some(kind.clone()), name: name.clone(), span: ispan }),
                            _ => Err(ispan),
                        }
                    })
                    .collect::<R<Vec<_>>>()?;
                StatementKind::Include(items)
            }
            Rule::row_stmt => {
                let mut it = self.children(inner);
                let title = self.string(self.next(&mut it, span)?)?;
                let members = it.map(|q| self.ident(&q)).collect();
                StatementKind::Row { title, members }
            }
            Rule::override_stmt => {
                let mut it = self.children(inner);
                let severity = self.ident(&self.next(&mut it, span)?);
                let settings = it.map(|q| self.assign(q)).collect::<R<Vec<_>>>()?;
                StatementKind::SeverityOverride { severity, settings }
            }
            Rule::labels_stmt => {
                let settings = self.children(inner).map(|q| self.assign(q)).collect::<R<Vec<_>>>()?;
                StatementKind::Labels(settings)
            }
            _ => return Err(span),
        };
        Ok(Statement { kind, span })
    }

    fn assign(&self, p: Pair<'_, Rule>) -> R<Assign> {
        let span = self.span(&p);
        let mut it = self.children(p);
        let key = self.ident(&self.next(&mut it, span)?);
        let value = self.value(self.next(&mut it, span)?)?;
        Ok(Assign { key, value, span })
    }

    fn rust(&self, p: Pair<'_, Rule>, span: Span) -> R<RustExpr> {
        let e = self.next(&mut self.children(p), span)?;
        let s = self.span(&e);
        let raw = e.as_str();
        let trimmed = raw.trim_end();
        Ok(RustExpr { text: trimmed.to_string(), span: Span::new(self.file, s.start, s.start + trimmed.len()) })
    }

    fn trigger(&self, p: Pair<'_, Rule>) -> R<Trigger> {
        let span = self.span(&p);
        let inner = p;
        Ok(match inner.as_rule() {
            Rule::entries_trigger => {
                let n = self.next(&mut self.children(inner), span)?;
                Trigger::Entries { count: n.as_str().to_string(), span }
            }
            Rule::append_trigger => Trigger::Append(span),
            _ => Trigger::Value(self.value(inner)?),
        })
    }

    fn clause(&self, p: Pair<'_, Rule>, span: Span) -> R<Value> {
        self.value(self.next(&mut self.children(p), span)?)
    }

    fn condition(&self, p: Pair<'_, Rule>, span: Span) -> R<Condition> {
        let mut it = self.children(p).peekable();
        let level = self.ident(&self.next(&mut it, span)?);
        let metric = match it.peek() {
            Some(q) if q.as_rule() == Rule::ident => {
                let m = self.ident(q);
                it.next();
                Some(m)
            }
            _ => None,
        };
        let op = self.ident(&self.next(&mut it, span)?);
        let value = self.value(self.next(&mut it, span)?)?;
        let mut for_ = None;
        let mut severity = None;
        for q in it {
            match q.as_rule() {
                Rule::for_clause => for_ = Some(self.clause(q, span)?),
                Rule::severity_clause => severity = Some(self.clause(q, span)?),
                _ => return Err(span),
            }
        }
        Ok(Condition { level, metric, op, value, for_, severity })
    }

    fn string(&self, p: Pair<'_, Rule>) -> R<Str> {
        let span = self.span(&p);
        let raw = p.into_inner().next().map(|q| q.as_str().to_string()).unwrap_or_default();
        Ok(Str { raw, span })
    }

    fn value(&self, p: Pair<'_, Rule>) -> R<Value> {
        let span = self.span(&p);
        let inner = p;
        let kind = match inner.as_rule() {
            Rule::number => ValueKind::Number(inner.as_str().to_string()),
            Rule::quantity => ValueKind::Quantity(inner.as_str().to_string()),
            Rule::percent => ValueKind::Percent(inner.as_str().to_string()),
            Rule::list => ValueKind::List(self.children(inner).map(|q| self.value(q)).collect::<R<Vec<_>>>()?),
            Rule::path => ValueKind::Path(inner.as_str().to_string()),
            Rule::string => ValueKind::Str(self.string(inner)?),
            Rule::promql => ValueKind::Promql(inner.into_inner().next().map(|q| q.as_str().to_string()).unwrap_or_default()),
            Rule::numeric => {
                let mut it = self.children(inner);
                let count = self.value(self.next(&mut it, span)?)?;
                match it.next() {
                    Some(per) => ValueKind::Rate { count: Box::new(count), per: Box::new(self.value(per)?) },
                    None => return Ok(count),
                }
            }
            Rule::call => {
                let mut it = self.children(inner);
                let name = self.ident(&self.next(&mut it, span)?);
                let args = it.map(|q| self.value(q)).collect::<R<Vec<_>>>()?;
                ValueKind::Call { name, args }
            }
            _ => return Err(span),
        };
        Ok(Value { kind, span })
    }
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_version
            | Rule::kw_requires
            | Rule::kw_ensures
            | Rule::kw_checkpoint
            | Rule::kw_sync
            | Rule::kw_every
            | Rule::kw_or
            | Rule::kw_entries
            | Rule::kw_append
            | Rule::kw_expect
            | Rule::kw_subsystem
            | Rule::kw_witness
            | Rule::kw_key
            | Rule::kw_when
            | Rule::kw_for
            | Rule::kw_severity
            | Rule::kw_include
            | Rule::kw_row
            | Rule::kw_labels
            | Rule::kw_per
            | Rule::kw_burn
            | Rule::kw_over
            | Rule::kw_and
            | Rule::EOI
    )
}
