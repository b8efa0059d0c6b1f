//! Hovers: on a construct keyword, its section of the language reference; on a setting, what
//! the reference says of it; on a construct's name or a use of it, what it names.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use pip_frontend::ast_to_ir::{SPEC_SETTINGS, settings};
use pip_frontend::ir::ConstructKind;
use pip_frontend::span::FileId;

use crate::docs;
use crate::index::{Index, Target};
use crate::lexical;
use crate::position;
use crate::workspace::Folder;

/// The hover at byte `offset` of file `file` of `folder`.
pub fn hover(folder: &Folder, index: &Index, file: FileId, offset: usize) -> Option<Hover> {
    let text = folder.text(file);
    if let Some(target) = index.at(file, offset) {
        let (name, spec) = target.name();
        let span = match target {
            Target::Definition(d) => d.name_span,
            Target::Reference(r) => r.span,
        };
        let value = match index.definition(name, spec) {
            Some(d) => {
                let at = folder.sources.source_ref(d.name_span);
                let mut s = format!("**{}** `{}`", d.keyword, d.name);
                if let Some(doc) = &d.doc {
                    s.push_str(&format!("\n\n{}", unescape(doc)));
                }
                s.push_str(&format!("\n\ndefined at `{}:{}`", at.file, at.line));
                s
            }
            None => format!("`{name}` names no construct of this spec"),
        };
        return Some(markdown(value, Some(position::range(text, span.start, span.end))));
    }
    let (start, end, word) = lexical::word_at(text, offset)?;
    let context = lexical::context(text, start);
    if context.in_literal {
        return None;
    }
    let range = Some(position::range(text, start, end));
    let line_before = lexical::line_prefix(text, start);
    if context.depth == 0 && line_before.trim().is_empty() && (word == "spec" || ConstructKind::from_keyword(word).is_some()) {
        return docs::section(word).map(|s| markdown(s.to_string(), range));
    }
    let keyword = context.enclosing.as_deref()?;
    let is_setting = match ConstructKind::from_keyword(keyword) {
        Some(kind) => settings(kind).contains(&word),
        None => keyword == "spec" && SPEC_SETTINGS.contains(&word),
    };
    if context.depth == 1 && is_setting && line_before.trim().is_empty() {
        let text = docs::setting(keyword, word)?;
        return Some(markdown(format!("**{keyword}** setting `{word}`\n\n{text}"), range));
    }
    None
}

fn markdown(value: String, range: Option<lsp_types::Range>) -> Hover {
    Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }), range }
}

/// A string literal's text for display: the common escapes decoded, others kept.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
