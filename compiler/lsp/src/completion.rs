//! Completion, from the text before the cursor (the file is usually mid-edit and does not
//! parse): construct keywords at top level, the settings of the enclosing construct's kind at
//! the start of a line in its block, and the names a reference may take after `evidence =`,
//! `include ledger` and in a dashboard row.

use lsp_types::{CompletionItem, CompletionItemKind};
use pip_frontend::ast_to_ir::{REFERENCE_SETTINGS, SPEC_SETTINGS, settings};
use pip_frontend::ir::{ConstructKind, Severity};
use pip_frontend::span::FileId;

use crate::index::Index;
use crate::lexical;
use crate::workspace::Folder;

/// The completions at byte `offset` of file `file` of `folder`.
pub fn complete(folder: &Folder, index: &Index, file: FileId, offset: usize) -> Vec<CompletionItem> {
    let text = folder.text(file);
    let context = lexical::context(text, offset);
    if context.in_literal {
        return Vec::new();
    }
    let prefix = lexical::line_prefix(text, offset);
    let words: Vec<&str> = prefix.split(|c: char| c.is_whitespace() || c == '=' || c == ',').filter(|w| !w.is_empty()).collect();
    let typing = !prefix.ends_with(|c: char| c.is_whitespace() || c == '=' || c == ',' || c == '{');
    // The words before the one being typed.
    let done: &[&str] = if typing { words.split_last().map_or(&[], |(_, rest)| rest) } else { &words };
    let spec = lexical::spec_name(text);
    let names = |kinds: &[ConstructKind]| -> Vec<CompletionItem> {
        index.names_of(spec.as_deref(), kinds).map(|d| item(&d.name, CompletionItemKind::REFERENCE, &d.keyword)).collect()
    };
    let kind = context.enclosing.as_deref().and_then(ConstructKind::from_keyword);
    match (context.depth, done) {
        (0, []) => std::iter::once("spec")
            .chain(ConstructKind::ALL.map(ConstructKind::keyword))
            .map(|k| item(k, CompletionItemKind::KEYWORD, "construct"))
            .collect(),
        (1, []) => {
            let (keyword, list): (&str, &[&str]) = match (kind, context.enclosing.as_deref()) {
                (Some(k), _) => (k.keyword(), settings(k)),
                (None, Some("spec")) => ("spec", &SPEC_SETTINGS),
                _ => return Vec::new(),
            };
            list.iter().map(|s| item(s, CompletionItemKind::PROPERTY, &format!("{keyword} setting"))).collect()
        }
        (1, [setting]) if prefix.contains('=') => {
            if let Some((_, kinds)) = REFERENCE_SETTINGS.iter().find(|(s, _)| s == setting) {
                names(kinds)
            } else if *setting == "severity" {
                Severity::ALL.iter().map(|s| item(&s.to_string(), CompletionItemKind::ENUM_MEMBER, "severity")).collect()
            } else {
                Vec::new()
            }
        }
        (1, ["include", .., "ledger"]) if kind == Some(ConstructKind::Bundle) => names(&[ConstructKind::Ledger]),
        (2, _) if kind == Some(ConstructKind::Dashboard) => {
            let showable: Vec<ConstructKind> = ConstructKind::ALL.into_iter().filter(|k| k.showable()).collect();
            names(&showable)
        }
        _ => Vec::new(),
    }
}

fn item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem { label: label.to_string(), kind: Some(kind), detail: Some(detail.to_string()), ..CompletionItem::default() }
}
