//! The front end's diagnostics as the protocol's: the primary label's bytes become the range,
//! every secondary label a related location, the code the diagnostic's code, and the label
//! and help follow the message, so an editor shows what `pipc check` prints.

use std::collections::BTreeMap;

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};
use pip_frontend::diagnostics::{Diagnostic, Level};
use pip_frontend::span::FileId;

use crate::position;
use crate::workspace::Folder;

/// Every file's diagnostics after checking `folder` as `pipc check` does (every file of the
/// folder gets an entry, empty when it has none, so that old ones are cleared).
pub fn check(folder: &Folder) -> BTreeMap<Url, Vec<lsp_types::Diagnostic>> {
    let compilation = pip_frontend::compile(&folder.sources);
    let mut out: BTreeMap<Url, Vec<lsp_types::Diagnostic>> = folder.files().map(|(_, u)| (u.clone(), Vec::new())).collect();
    for d in &compilation.diagnostics {
        if let Some(uri) = folder.uri(d.span.file)
            && let Some(list) = out.get_mut(uri)
        {
            list.push(convert(folder, d));
        }
    }
    out
}

fn convert(folder: &Folder, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    if let Some(label) = &d.label {
        message.push_str(&format!("\n{label}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|(span, label)| {
            Some(DiagnosticRelatedInformation {
                location: Location { uri: folder.uri(span.file)?.clone(), range: range(folder, span.file, span.start, span.end) },
                message: label.clone(),
            })
        })
        .collect();
    lsp_types::Diagnostic {
        range: range(folder, d.span.file, d.span.start, d.span.end),
        severity: Some(match d.level {
            Level::Error => DiagnosticSeverity::ERROR,
            Level::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("pipc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

fn range(folder: &Folder, file: FileId, start: usize, end: usize) -> lsp_types::Range {
    position::range(folder.text(file), start, end)
}
