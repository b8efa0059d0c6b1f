//! The syntax tree: what was written, with spans, before any meaning is checked.
//!
//! No pest type appears here; `text_to_ast` strips them. Literals keep their source text
//! (strings still escaped, quantities unparsed) so that the checker can point at the exact
//! character that is wrong and the formatter can reprint them verbatim.

use crate::span::Span;

/// One parsed `.pips` file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
    /// Every comment, in source order.
    pub comments: Vec<Comment>,
}

/// `kind name [version "x"] [{ ... }]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `spec`, `ledger`, `invariant`, ...
    pub kind: Ident,
    /// The construct's name.
    pub name: Ident,
    /// `version "1.4.0"` (only meaningful on `spec`).
    pub version: Option<Str>,
    /// The `{ ... }` block, absent on a spec's continuation files.
    pub block: Option<Block>,
    /// The whole item.
    pub span: Span,
}

/// `{ statement* }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Statements in source order.
    pub statements: Vec<Statement>,
    /// From `{` to `}` inclusive.
    pub span: Span,
}

/// An identifier as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// Its text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A string literal, still escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str {
    /// The text between the quotes, escapes not yet decoded.
    pub raw: String,
    /// The literal including its quotes.
    pub span: Span,
}

/// A statement inside a block.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What kind of statement.
    pub kind: StatementKind,
    /// The whole statement.
    pub span: Span,
}

/// The statement forms.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `key = value`.
    Assign(Assign),
    /// `requires <rust expression>`.
    Requires(RustExpr),
    /// `ensures <rust expression>`.
    Ensures(RustExpr),
    /// `checkpoint every ...` or `sync every ...`.
    Every {
        /// `checkpoint` or `sync`.
        keyword: Ident,
        /// The triggers joined by `or`.
        triggers: Vec<Trigger>,
    },
    /// `expect subsystem "billing" every 15m [severity P1]`.
    Expect {
        /// The subsystem.
        subsystem: Str,
        /// Longest allowed silence.
        every: Value,
        /// Severity of the gap alert.
        severity: Option<Value>,
    },
    /// `warn when > 0.01 for 10m severity P2`, `alert when rejected_ratio > 0.05 for 5m`.
    Condition(Condition),
    /// `include ledger audit, specs, ...`.
    Include(Vec<IncludeItem>),
    /// `row "title" { a, b }`.
    Row {
        /// Row title.
        title: Str,
        /// Constructs shown in the row.
        members: Vec<Ident>,
    },
    /// `severity P1 { level = "high" ... }`.
    SeverityOverride {
        /// Which severity.
        severity: Ident,
        /// Its settings.
        settings: Vec<Assign>,
    },
    /// `labels { team = "payments" }`.
    Labels(Vec<Assign>),
}

/// `key = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: Value,
    /// The whole assignment.
    pub span: Span,
}

/// A Rust expression after `requires`/`ensures`, as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustExpr {
    /// The expression text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// One trigger of `checkpoint every` / `sync every`.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `1000 entries`.
    Entries {
        /// The count as written.
        count: String,
        /// Where.
        span: Span,
    },
    /// `append` (sync after every append).
    Append(Span),
    /// A value, which must be a duration.
    Value(Value),
}

/// A comparison condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// `warn`, `critical` or `alert`.
    pub level: Ident,
    /// The measured quantity, e.g. `rejected_ratio`.
    pub metric: Option<Ident>,
    /// `>`, `>=`, `<`, `<=`, `==`, `!=`.
    pub op: Ident,
    /// The threshold value.
    pub value: Value,
    /// `for <duration>`.
    pub for_: Option<Value>,
    /// `severity <P0..P3>`.
    pub severity: Option<Value>,
}

/// One item of an `include` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeItem {
    /// `ledger` in `ledger audit`.
    pub kind: Option<Ident>,
    /// The included thing.
    pub name: Ident,
    /// The whole item.
    pub span: Span,
}

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Its form.
    pub kind: ValueKind,
    /// Where.
    pub span: Span,
}

/// The value forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A plain number such as `0.05` or `10000`, as written.
    Number(String),
    /// A number with a unit such as `10s`, `5MiB`, `1h30m`, as written.
    Quantity(String),
    /// `100 per 1s`.
    Rate {
        /// The count.
        count: Box<Value>,
        /// The period.
        per: Box<Value>,
    },
    /// A string literal.
    Str(Str),
    /// A PromQL expression between backticks (without them).
    Promql(String),
    /// `env("NAME")`, `file("path")`.
    Call {
        /// The function.
        name: Ident,
        /// Its arguments.
        args: Vec<Value>,
    },
    /// An identifier or a dotted path: `audit`, `P0`, `deny`, `req.tenant`.
    Path(String),
}

impl ValueKind {
    /// What this value is, in words, for messages like "expected a duration, found a size".
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Number(_) => "a number",
            ValueKind::Quantity(q) => crate::units::describe_quantity(q),
            ValueKind::Rate { .. } => "a rate",
            ValueKind::Str(_) => "a string",
            ValueKind::Promql(_) => "a PromQL expression",
            ValueKind::Call { .. } => "a function call",
            ValueKind::Path(_) => "a name",
        }
    }
}

/// A `//` or `/* */` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment including its delimiters.
    pub text: String,
    /// Where.
    pub span: Span,
}
