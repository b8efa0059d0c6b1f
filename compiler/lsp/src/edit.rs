//! Whole-document answers: the outline (each construct with its kind and range) and
//! formatting through the front end's formatter, which refuses a file with syntax errors.

use lsp_types::{DocumentSymbol, SymbolKind, TextEdit};
use pip_frontend::span::{FileId, Span};
use pip_frontend::{fmt, text_to_ast};

use crate::index::Index;
use crate::position;
use crate::workspace::Folder;

/// The constructs of file `file`, in source order.
pub fn symbols(folder: &Folder, index: &Index, file: FileId) -> Vec<DocumentSymbol> {
    let text = folder.text(file);
    let range = |s: Span| position::range(text, s.start, s.end);
    let mut out = Vec::new();
    if let Some(Some(tree)) = index.trees.get(file.0)
        && let Some(spec) = tree.items.first().filter(|i| i.kind.name == "spec")
    {
        out.push(symbol(&spec.name.name, "spec", SymbolKind::NAMESPACE, range(spec.span), range(spec.name.span)));
    }
    for d in index.definitions.iter().filter(|d| d.name_span.file == file) {
        out.push(symbol(&d.name, &d.keyword, SymbolKind::OBJECT, range(d.item_span), range(d.name_span)));
    }
    out
}

#[expect(deprecated, reason = "the protocol's `deprecated` field has no replacement in this struct; it is left unset")]
fn symbol(name: &str, keyword: &str, kind: SymbolKind, range: lsp_types::Range, selection: lsp_types::Range) -> DocumentSymbol {
    DocumentSymbol {
        name: name.to_string(),
        detail: Some(keyword.to_string()),
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range: selection,
        children: None,
    }
}

/// The edits that format `text` (none when it is formatted), or why it cannot be.
pub fn format(text: &str) -> Result<Vec<TextEdit>, String> {
    let tree = text_to_ast::parse(FileId(0), text).map_err(|errors| {
        let first = errors.first().map_or_else(String::new, |e| format!(": {}", e.message));
        format!("pipc: not formatted, the file has syntax errors{first}")
    })?;
    let formatted = fmt::format(text, &tree);
    if formatted == text {
        return Ok(Vec::new());
    }
    fmt::verify(text, &tree, &formatted).map_err(|why| format!("pipc: not formatted, internal formatter error ({why})"))?;
    Ok(vec![TextEdit { range: position::whole(text), new_text: formatted }])
}
