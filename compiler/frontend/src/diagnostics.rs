//! Diagnostics: one type for every stage's errors and warnings, rendered with miette
//! (`file:line:col`, the snippet with the span underlined, `help`) or as JSON lines.

use std::fmt;

use miette::{LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use serde::Serialize;

use crate::source::{SourceFile, Sources, ceil_char_boundary, floor_char_boundary};
use crate::span::Span;

mod code;

pub use code::Code;

/// How bad a diagnostic is; errors sort before warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The spec is wrong; nothing is generated.
    Error,
    /// The spec compiles, but something is probably not what the author meant.
    Warning,
}

/// A problem found in a spec, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// An error blocks the spec's output; a warning does not.
    pub level: Level,
    /// Stable machine-readable code, e.g. `pips::unresolved`.
    pub code: Code,
    /// Lowercase, no final period, identifiers in backticks.
    pub message: String,
    /// The offending text, underlined with [`Diagnostic::label`]; diagnostics sort by it.
    pub span: Span,
    /// Text under the primary underline.
    pub label: Option<String>,
    /// Other places that explain the problem (e.g. the first definition of a duplicate).
    pub secondary: Vec<(Span, String)>,
    /// One line of advice on the fix, shown as `help:`.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with no label, secondary spans or help yet (add them with the builders below).
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Error, code, message: message.into(), span, label: None, secondary: Vec::new(), help: None }
    }

    /// A warning with no label, secondary spans or help yet.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Warning, ..Diagnostic::error(code, span, message) }
    }

    /// Sets the text under the primary underline.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the advice line (a second call replaces the first).
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary span with its label.
    #[must_use]
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    /// Whether this is an error, which makes the spec produce nothing.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }
}

/// Sorts diagnostics into a stable order: errors before warnings, then by file and position.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.level, a.span.file, a.span.start, a.code.as_str(), &a.message).cmp(&(
            b.level,
            b.span.file,
            b.span.start,
            b.code.as_str(),
            &b.message,
        ))
    });
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// For people: miette's graphical report, or its narrated plain form without the `fancy`
    /// feature (see [`render_human`]).
    #[default]
    Human,
    /// One [`JsonDiagnostic`] object per line, for editors and CI (see [`render_json`]).
    Json,
}

/// Options for human rendering.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Whether to use ANSI colors (off by default, e.g. when not writing to a terminal).
    pub color: bool,
    /// Unicode box drawing (otherwise ASCII).
    pub unicode: bool,
    /// Column at which miette wraps messages, default 100.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style { color: false, unicode: true, width: 100 }
    }
}

/// Renders diagnostics for people, each as miette draws it: graphically with the `fancy`
/// feature, otherwise in miette's narrated plain form (the proc-macro's build, where the
/// text ends up inside a `compile_error!`).
pub fn render_human(sources: &Sources, diagnostics: &[Diagnostic], style: Style) -> String {
    #[cfg(feature = "fancy")]
    let handler = {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let theme = match (style.unicode, style.color) {
            (true, true) => GraphicalTheme::unicode(),
            (true, false) => GraphicalTheme::unicode_nocolor(),
            (false, true) => GraphicalTheme::ascii(),
            (false, false) => GraphicalTheme::none(),
        };
        GraphicalReportHandler::new_themed(theme).with_width(style.width).with_links(false)
    };
    #[cfg(not(feature = "fancy"))]
    let handler = {
        let _ = style;
        miette::NarratableReportHandler::new()
    };
    let mut out = String::new();
    for d in diagnostics {
        let report = Report::new(sources, d);
        if handler.render_report(&mut out, &report).is_err() {
            // Rendering can only fail on a span outside its file; fall back to the plain form.
            out.push_str(&format!("{}: {}\n", d.code, d.message));
        }
        out.push('\n');
    }
    out
}

/// A diagnostic in its JSON-lines form.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// `error` or `warning`.
    pub level: Level,
    /// Stable code, e.g. `pips::unresolved` ([`Code::as_str`]).
    pub code: &'a str,
    /// The message: lowercase, no final period.
    pub message: &'a str,
    /// The file as shown in diagnostics ([`SourceFile::name`](crate::source::SourceFile::name)),
    /// empty for a span outside the sources.
    pub file: &'a str,
    /// 1-based line of the span's start.
    pub line: usize,
    /// 1-based column (characters) of the span's start.
    pub column: usize,
    /// 1-based line of the span's end.
    pub end_line: usize,
    /// 1-based column of the span's end (exclusive).
    pub end_column: usize,
    /// Text under the primary underline, if any.
    pub label: Option<&'a str>,
    /// The advice line, if any.
    pub help: Option<&'a str>,
    /// The offending text (clipped to 200 bytes).
    pub snippet: String,
    /// The other places that explain it (a first definition, the block still open), each with
    /// its text: the human report's secondary labels.
    pub related: Vec<JsonLocation<'a>>,
}

/// A related location of a [`JsonDiagnostic`].
#[derive(Debug, Serialize)]
pub struct JsonLocation<'a> {
    /// The file as shown in diagnostics, empty for a span outside the sources.
    pub file: &'a str,
    /// 1-based line of the span's start.
    pub line: usize,
    /// 1-based column (characters) of the span's start.
    pub column: usize,
    /// 1-based line of the span's end.
    pub end_line: usize,
    /// 1-based column of the span's end (exclusive).
    pub end_column: usize,
    /// What this place says.
    pub label: &'a str,
}

/// Renders diagnostics as JSON lines.
pub fn render_json(sources: &Sources, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let (file, (line, column), (end_line, end_column), snippet) = match sources.get(d.span.file) {
            Some(f) => {
                let text = f.slice(d.span);
                let clip = floor_char_boundary(text, 200);
                (f.name.as_str(), f.line_col(d.span.start), f.line_col(d.span.end), text.get(..clip).unwrap_or("").to_string())
            }
            None => ("", (0, 0), (0, 0), String::new()),
        };
        let j = JsonDiagnostic {
            level: d.level,
            code: d.code.as_str(),
            message: &d.message,
            file,
            line,
            column,
            end_line,
            end_column,
            label: d.label.as_deref(),
            help: d.help.as_deref(),
            snippet,
            related: d
                .secondary
                .iter()
                .map(|(span, label)| {
                    let (file, (line, column), (end_line, end_column)) = match sources.get(span.file) {
                        Some(f) => (f.name.as_str(), f.line_col(span.start), f.line_col(span.end)),
                        None => ("", (0, 0), (0, 0)),
                    };
                    JsonLocation { file, line, column, end_line, end_column, label }
                })
                .collect(),
        };
        if let Ok(s) = serde_json::to_string(&j) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    out
}

/// A one-line count such as `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, w: &str| if n == 1 { format!("{n} {w}") } else { format!("{n} {w}s") };
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

/// Longest label drawn; longer spans are underlined up to here (a 10 MB token must not
/// become a 10 MB underline).
const MAX_LABEL_BYTES: usize = 160;
/// Lines longer than this are shown as a window around the span.
const MAX_LINE_BYTES: usize = 240;
/// Bytes of context kept on each side of a span in a clipped line.
const CLIP_CONTEXT: usize = 60;

/// Adapts a [`Diagnostic`] to miette.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Option<Clipped<'a>>,
    related: Vec<Related<'a>>,
}

/// A secondary span in another file, rendered as a related note.
struct Related<'a> {
    label: String,
    span: Span,
    source: Option<Clipped<'a>>,
}

impl<'a> Report<'a> {
    fn new(sources: &'a Sources, diagnostic: &'a Diagnostic) -> Self {
        let related = diagnostic
            .secondary
            .iter()
            .filter(|(s, _)| s.file != diagnostic.span.file)
            .map(|(span, label)| Related { label: label.clone(), span: *span, source: sources.get(span.file).map(Clipped::new) })
            .collect();
        Report { diagnostic, source: sources.get(diagnostic.span.file).map(Clipped::new), related }
    }
}

fn labeled(file: Option<&SourceFile>, span: Span, label: Option<String>, primary: bool) -> LabeledSpan {
    let (start, len) = match file {
        Some(f) => {
            let start = floor_char_boundary(&f.text, span.start);
            let line = f.line_index(start);
            let mut end = span.end.min(f.line_end(line).max(start)).min(start + MAX_LABEL_BYTES);
            end = ceil_char_boundary(&f.text, end);
            (start, end - start)
        }
        None => (0, 0),
    };
    let s = SourceSpan::new(start.into(), len);
    if primary { LabeledSpan::new_primary_with_span(label, s) } else { LabeledSpan::new_with_span(label, s) }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report").field("diagnostic", self.diagnostic).finish()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.level {
            Level::Error => miette::Severity::Error,
            Level::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let file = self.source.as_ref().map(|c| c.0);
        let d = self.diagnostic;
        let primary = std::iter::once(labeled(file, d.span, d.label.clone(), true));
        let secondary =
            d.secondary.iter().filter(move |(s, _)| s.file == d.span.file).map(move |(s, l)| labeled(file, *s, Some(l.clone()), false));
        Some(Box::new(primary.chain(secondary)))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
    }
}

impl fmt::Debug for Related<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Display for Related<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl std::error::Error for Related<'_> {}

impl miette::Diagnostic for Related<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let file = self.source.as_ref().map(|c| c.0);
        Some(Box::new(std::iter::once(labeled(file, self.span, None, true))))
    }
}

/// A [`SourceFile`] as miette source code: line lookups through the file's index (miette's
/// own implementation rescans the file for every label), and very long lines shown as a
/// window around the span.
struct Clipped<'a>(&'a SourceFile, std::borrow::Cow<'a, str>);

impl<'a> Clipped<'a> {
    /// The file, with control characters shown as `?` (`¿` for two-byte ones) so that a
    /// snippet never sends a terminal escape sequence; every offset stays where it was.
    fn new(f: &'a SourceFile) -> Self {
        let text: &str = &f.text;
        let visible = |c: char| !c.is_control() || matches!(c, '\n' | '\t' | '\r');
        if text.chars().all(visible) {
            return Clipped(f, std::borrow::Cow::Borrowed(text));
        }
        let shown = text
            .chars()
            .map(|c| {
                if visible(c) {
                    c
                } else if c.len_utf8() == 1 {
                    '?'
                } else {
                    '¿'
                }
            })
            .collect();
        Clipped(f, std::borrow::Cow::Owned(shown))
    }
}

impl SourceCode for Clipped<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let f = self.0;
        let text: &str = &self.1;
        let start = span.offset();
        let end = start + span.len();
        if start > text.len() || end > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first_line = f.line_index(start);
        let last_line = f.line_index(if !span.is_empty() { end - 1 } else { start });
        let ctx_first = first_line.saturating_sub(context_lines_before);
        let ctx_last = (last_line + context_lines_after).min(f.line_count().saturating_sub(1));
        let too_long = (ctx_first..=ctx_last).any(|l| f.line_end(l) - f.line_start(l) > MAX_LINE_BYTES);

        let (data_start, data_end, line) = if too_long {
            // Only the span's own line, cut down to a window around the span.
            let ls = f.line_start(first_line);
            let le = f.line_end(first_line);
            let s = floor_char_boundary(text, start.saturating_sub(CLIP_CONTEXT).max(ls));
            let e = ceil_char_boundary(text, (end.min(start + MAX_LABEL_BYTES) + CLIP_CONTEXT).min(le).max(s));
            (s, e, first_line)
        } else if context_lines_before == 0 {
            let next = if ctx_last + 1 < f.line_count() { f.line_start(ctx_last + 1) } else { text.len() };
            (start, next.max(start), first_line)
        } else {
            let next = if ctx_last + 1 < f.line_count() { f.line_start(ctx_last + 1) } else { text.len() };
            (f.line_start(ctx_first), next, ctx_first)
        };
        let column = text.get(f.line_start(line)..data_start).map_or(0, |s| s.chars().count());
        let data = text.get(data_start..data_end).unwrap_or("").as_bytes();
        let line_count = data.iter().filter(|&&b| b == b'\n').count() + 1;
        Ok(Box::new(MietteSpanContents::new_named(
            f.name.clone(),
            data,
            SourceSpan::new(data_start.into(), data_end - data_start),
            line,
            column,
            line_count,
        )))
    }
}
