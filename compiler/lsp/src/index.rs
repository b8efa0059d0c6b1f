//! The names of a folder: every construct a file defines and every place a name is used, from
//! the syntax trees' spans (from the text alone for a file that does not parse, which then
//! contributes its definitions but no uses). Names are per spec: the files of one folder can
//! belong to different specs, and a name means the construct of the reader's own spec.

use pip_frontend::ast::{self, StatementKind, ValueKind};
use pip_frontend::ast_to_ir::REFERENCE_SETTINGS;
use pip_frontend::ir::ConstructKind;
use pip_frontend::span::{FileId, Span};
use pip_frontend::text_to_ast;

use crate::lexical;
use crate::workspace::Folder;

/// A construct's definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The construct's name.
    pub name: String,
    /// Its keyword, as written.
    pub keyword: String,
    /// The spec of its file.
    pub spec: Option<String>,
    /// The name's bytes.
    pub name_span: Span,
    /// The whole item (the name's bytes for a file that does not parse).
    pub item_span: Span,
    /// Its `doc` setting, still escaped.
    pub doc: Option<String>,
}

/// A use of a construct's name.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The name used.
    pub name: String,
    /// The spec of the file it is used in.
    pub spec: Option<String>,
    /// The name's bytes.
    pub span: Span,
}

/// Every definition and use of the folder's files.
#[derive(Debug, Default)]
pub struct Index {
    /// Definitions, in file order.
    pub definitions: Vec<Definition>,
    /// Uses, in file order.
    pub references: Vec<Reference>,
    /// The syntax tree of each file that parses (by file id).
    pub trees: Vec<Option<ast::File>>,
}

/// What a position points at.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A construct's name where it is defined.
    Definition(&'a Definition),
    /// A use of a name.
    Reference(&'a Reference),
}

impl Target<'_> {
    /// The name pointed at and the spec it is read in.
    pub fn name(&self) -> (&str, Option<&str>) {
        match self {
            Target::Definition(d) => (&d.name, d.spec.as_deref()),
            Target::Reference(r) => (&r.name, r.spec.as_deref()),
        }
    }
}

impl Index {
    /// Indexes every file of `folder`.
    pub fn build(folder: &Folder) -> Index {
        let mut index = Index::default();
        for (id, file) in folder.sources.iter() {
            let spec = lexical::spec_name(&file.text);
            match text_to_ast::parse(id, &file.text) {
                Ok(tree) => {
                    index.add_tree(&tree, spec.as_deref());
                    index.trees.push(Some(tree));
                }
                Err(_) => {
                    for d in lexical::definitions(&file.text) {
                        let span = Span::new(id, d.start, d.end);
                        index.definitions.push(Definition {
                            name: d.name,
                            keyword: d.keyword,
                            spec: spec.clone(),
                            name_span: span,
                            item_span: span,
                            doc: None,
                        });
                    }
                    index.trees.push(None);
                }
            }
        }
        index
    }

    fn add_tree(&mut self, tree: &ast::File, spec: Option<&str>) {
        for item in &tree.items {
            if item.kind.name != "spec" {
                self.definitions.push(Definition {
                    name: item.name.name.clone(),
                    keyword: item.kind.name.clone(),
                    spec: spec.map(str::to_string),
                    name_span: item.name.span,
                    item_span: item.span,
                    doc: doc_of(item),
                });
            }
            let statements = item.block.iter().flat_map(|b| &b.statements);
            for st in statements {
                for (name, span) in uses(&st.kind) {
                    self.references.push(Reference { name, spec: spec.map(str::to_string), span });
                }
            }
        }
    }

    /// What byte `offset` of file `file` points at (a name's end counts as on it).
    pub fn at(&self, file: FileId, offset: usize) -> Option<Target<'_>> {
        let on = |s: &Span| s.file == file && s.start <= offset && offset <= s.end;
        self.definitions
            .iter()
            .find(|d| on(&d.name_span))
            .map(Target::Definition)
            .or_else(|| self.references.iter().find(|r| on(&r.span)).map(Target::Reference))
    }

    /// The definition of `name` in `spec`.
    pub fn definition(&self, name: &str, spec: Option<&str>) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.name == name && d.spec.as_deref() == spec)
    }

    /// Every use of `name` in `spec`.
    pub fn references_to<'a>(&'a self, name: &'a str, spec: Option<&'a str>) -> impl Iterator<Item = &'a Reference> + 'a {
        self.references.iter().filter(move |r| r.name == name && r.spec.as_deref() == spec)
    }

    /// The constructs of `spec` of one of `kinds`, in file order.
    pub fn names_of<'a>(&'a self, spec: Option<&'a str>, kinds: &'a [ConstructKind]) -> impl Iterator<Item = &'a Definition> + 'a {
        self.definitions
            .iter()
            .filter(move |d| d.spec.as_deref() == spec && ConstructKind::from_keyword(&d.keyword).is_some_and(|k| kinds.contains(&k)))
    }
}

/// The names a statement uses, with their spans: reference settings (`evidence = audit`),
/// dashboard row members and `include ledger <name>`.
fn uses(kind: &StatementKind) -> Vec<(String, Span)> {
    match kind {
        StatementKind::Assign(a) if REFERENCE_SETTINGS.iter().any(|(s, _)| *s == a.key.name) => match &a.value.kind {
            ValueKind::Path(p) => vec![(p.clone(), a.value.span)],
            _ => Vec::new(),
        },
        StatementKind::Row { members, .. } => members.iter().map(|m| (m.name.clone(), m.span)).collect(),
        StatementKind::Include(items) => items
            .iter()
            .filter(|i| i.kind.as_ref().is_some_and(|k| k.name == ConstructKind::Ledger.keyword()))
            .map(|i| (i.name.name.clone(), i.name.span))
            .collect(),
        _ => Vec::new(),
    }
}

/// An item's `doc = "..."`, still escaped.
fn doc_of(item: &ast::Item) -> Option<String> {
    item.block.as_ref()?.statements.iter().find_map(|st| match &st.kind {
        StatementKind::Assign(a) if a.key.name == "doc" => match &a.value.kind {
            ValueKind::Str(s) => Some(s.raw.clone()),
            _ => None,
        },
        _ => None,
    })
}
