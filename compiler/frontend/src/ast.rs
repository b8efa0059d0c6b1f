//! The syntax tree: what was written, with spans, before any meaning is checked.
//!
//! No pest type appears here; `text_to_ast` strips them. Literals keep their source text
//! (strings still escaped, quantities unparsed) so that the checker can point at the exact
//! character that is wrong and the formatter can reprint them verbatim.

use crate::span::Span;

/// One parsed `.pips` file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Top-level items in source order; the checker requires the first to be `spec <name>`.
    pub items: Vec<Item>,
    /// Every comment, in source order, kept apart from the items so that `pipc fmt` can put
    /// them back.
    pub comments: Vec<Comment>,
}

/// `kind name [version "x"] [{ ... }]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The first word: `spec` or a construct keyword (an unknown word is the checker's error).
    pub kind: Ident,
    /// The construct's name (for `spec`, the spec's), an identifier that may contain `-`.
    pub name: Ident,
    /// `version "1.4.0"` (only meaningful on `spec`).
    pub version: Option<Str>,
    /// The `{ ... }` block, absent on a spec's continuation files.
    pub block: Option<Block>,
    /// From the kind to the end of the item (its block's `}` when it has one); `pipc fmt` places
    /// comments by it.
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

/// An identifier as written: a letter or `_`, then letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The identifier's text, unchanged.
    pub name: String,
    /// The identifier's bytes, for diagnostics that point at a name.
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

/// A statement inside a block (one line, except for nested braces and bracketed Rust).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The statement's form and its parts.
    pub kind: StatementKind,
    /// From its first token to its last; `pipc fmt` places comments by it.
    pub span: Span,
}

/// The statement forms of the grammar; which block accepts which is decided by the checker.
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
        /// The quoted subsystem name, still escaped.
        subsystem: Str,
        /// The value after `every`: the longest allowed silence, checked to be a duration.
        every: Value,
        /// `severity <P0..P3>` of the gap alert, if written.
        severity: Option<Value>,
    },
    /// `witness "https://w1.example/" key "w1.example+0a1b2c3d+BAAA..."` (a ledger's witness).
    Witness {
        /// The value after `witness`: the witness's URL, checked to be an http(s) string.
        url: Value,
        /// The value after `key`: the witness's public verifier key, checked to be a string
        /// `name+hexid+base64`.
        key: Value,
    },
    /// `warn when > 0.01 for 10m severity P2`, `alert when rejected_ratio > 0.05 for 5m`.
    Condition(Condition),
    /// `burn 14.4x over 1h and 5m [severity P0]` (an slo's burn-rate alert tier).
    Burn {
        /// The value after `burn`, checked to be a factor such as `14.4x`.
        factor: Value,
        /// The value after `over`: the long window, checked to be a duration.
        long: Value,
        /// The value after `and`: the short window, checked to be a duration.
        short: Value,
        /// `severity <P0..P3>` of the tier's alert, if written.
        severity: Option<Value>,
    },
    /// `include ledger audit, specs, ...`.
    Include(Vec<IncludeItem>),
    /// `row "title" { a, b }`.
    Row {
        /// The quoted row title, still escaped.
        title: Str,
        /// The comma-separated names in the braces, unresolved.
        members: Vec<Ident>,
    },
    /// `severity P1 { level = "high" ... }`.
    SeverityOverride {
        /// The severity name after `severity`, checked to be `P0`..`P3`.
        severity: Ident,
        /// The `level`, `respond` and `page` assignments in the braces.
        settings: Vec<Assign>,
    },
    /// `labels { team = "payments" }`.
    Labels(Vec<Assign>),
}

/// `key = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assign {
    /// The setting's name, left of `=`.
    pub key: Ident,
    /// The value right of `=`, its type checked per setting.
    pub value: Value,
    /// From the key to the end of the value; `pipc fmt` places comments by it.
    pub span: Span,
}

/// A Rust expression after `requires`/`ensures`, as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustExpr {
    /// The expression's text up to the end of its line (further inside brackets), for `syn`.
    pub text: String,
    /// The expression's bytes: `syn`'s error positions are mapped into it.
    pub span: Span,
}

/// One trigger of `checkpoint every` / `sync every`.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `1000 entries`.
    Entries {
        /// The integer as written, `_` separators included; the checker parses it.
        count: String,
        /// From the count to `entries`.
        span: Span,
    },
    /// `append` (sync after every append).
    Append(Span),
    /// A value, which must be a duration.
    Value(Value),
}

/// A `<level> when [<measure>] <op> <value> [for <d>] [severity <P>]` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// `warn`, `critical` or `alert`.
    pub level: Ident,
    /// The measured quantity, e.g. `rejected_ratio`.
    pub metric: Option<Ident>,
    /// `>`, `>=`, `<`, `<=`, `==` or `!=` (the checker refuses the last two).
    pub op: Ident,
    /// The value compared with, checked to be a number.
    pub value: Value,
    /// The value after `for`, checked to be a duration.
    pub for_: Option<Value>,
    /// The value after `severity`, checked to be `P0`..`P3`.
    pub severity: Option<Value>,
}

/// One item of an `include` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeItem {
    /// `ledger` in `ledger audit` (two words only on one line); `None` for one-word parts.
    pub kind: Option<Ident>,
    /// The part (`specs`, `rules`, ...) or, after `ledger`, the ledger's name.
    pub name: Ident,
    /// From the first word to the last.
    pub span: Span,
}

/// A value as written, right of `=` or in a statement's slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Its syntactic form; its meaning depends on the setting it is given to.
    pub kind: ValueKind,
    /// The value's bytes, where type and range errors point.
    pub span: Span,
}

/// The value forms, told apart by their first characters.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// A plain number such as `0.05` or `10000`, as written.
    Number(String),
    /// A number with a unit such as `10s`, `5MiB`, `1h30m`, as written.
    Quantity(String),
    /// `100 per 1s`.
    Rate {
        /// The part before `per`: a number or quantity (checked to be a whole number).
        count: Box<Value>,
        /// The part after `per`: a number, quantity or name (checked to be a duration).
        per: Box<Value>,
    },
    /// A percentage such as `99.9%`, as written (with its `%`).
    Percent(String),
    /// `[a, b, c]`: a bracketed list of values (possibly empty).
    List(Vec<Value>),
    /// A double-quoted string literal, still escaped.
    Str(Str),
    /// A PromQL expression between backticks (without them).
    Promql(String),
    /// `env("NAME")`, `file("path")`.
    Call {
        /// The function's name (`env` or `file` are the only ones the checker accepts).
        name: Ident,
        /// The comma-separated arguments in the parentheses.
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
            ValueKind::Percent(_) => "a percentage",
            ValueKind::List(_) => "a list",
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
    /// The comment's bytes, compared with the items' spans to put it back in place.
    pub span: Span,
}
