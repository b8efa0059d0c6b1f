//! `pipc fmt`: prints a parsed file in the canonical layout, keeping every comment.
//!
//! Layout: one blank line between constructs, two-space indentation, `=` aligned within a
//! run of consecutive settings, single blank lines inside blocks kept where the author put
//! them. Literals (strings, quantities, PromQL, Rust expressions) are printed exactly as
//! written, so formatting never changes what a spec means.
//!
//! Comments stay where they were relative to the code: a comment on its own line stays
//! before the construct or statement that follows it, a comment after code on the same line
//! stays at the end of that line, and a comment inside a statement moves to the end of the
//! statement's line.

use crate::ast::{Assign, Comment, File, Item, Statement, StatementKind, Trigger, Value, ValueKind};

const INDENT: &str = "  ";

/// Formats a file. `text` is the source the AST was parsed from.
pub fn format(text: &str, file: &File) -> String {
    let mut f = Formatter { text, comments: &file.comments, used: vec![false; file.comments.len()], out: String::new() };
    let nodes: Vec<Node<'_>> = file.items.iter().map(Node::Item).collect();
    f.region(&nodes, 0, text.len(), 0, true);
    // Comments not placed anywhere (cannot happen for a file that parsed; kept as a guard
    // against ever losing one).
    let rest: Vec<String> = f.comments.iter().zip(&f.used).filter(|(_, u)| !**u).map(|(c, _)| c.text.clone()).collect();
    for c in rest {
        f.out.push_str(&c);
        f.out.push('\n');
    }
    // Only line breaks are trimmed: a comment's trailing spaces are part of the comment.
    let trimmed = f.out.trim_end_matches('\n');
    if trimmed.is_empty() { String::new() } else { format!("{trimmed}\n") }
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Stmt(&'a Statement),
    Assign(&'a Assign),
}

impl Node<'_> {
    fn start(&self) -> usize {
        match self {
            Node::Item(i) => i.span.start,
            Node::Stmt(s) => s.span.start,
            Node::Assign(a) => a.span.start,
        }
    }

    fn end(&self) -> usize {
        match self {
            Node::Item(i) => i.span.end,
            Node::Stmt(s) => s.span.end,
            Node::Assign(a) => a.span.end,
        }
    }

    fn assign_key_len(&self) -> Option<usize> {
        match self {
            Node::Stmt(Statement { kind: StatementKind::Assign(a), .. }) => Some(a.key.name.chars().count()),
            Node::Assign(a) => Some(a.key.name.chars().count()),
            _ => None,
        }
    }
}

struct Formatter<'a> {
    text: &'a str,
    comments: &'a [Comment],
    used: Vec<bool>,
    out: String,
}

/// What goes into a region, in order.
enum Element<'a> {
    Comment(usize),
    Node(Node<'a>, Vec<usize>),
}

impl<'a> Formatter<'a> {
    fn has_newline(&self, from: usize, to: usize) -> bool {
        self.text.get(from.min(to)..to).is_some_and(|s| s.contains('\n'))
    }

    fn blank_between(&self, from: usize, to: usize) -> bool {
        self.text.get(from.min(to)..to).is_some_and(|s| s.matches('\n').count() >= 2)
    }

    /// The brace-delimited region nested in a node, whose comments the node prints itself.
    fn nested(&self, n: &Node<'a>) -> Option<(usize, usize)> {
        match n {
            Node::Item(i) => i.block.as_ref().map(|b| (b.span.start, b.span.end)),
            Node::Stmt(s) => match &s.kind {
                StatementKind::SeverityOverride { .. } | StatementKind::Labels(_) => {
                    let brace = self.text.get(s.span.start..s.span.end)?.find('{')?;
                    Some((s.span.start + brace, s.span.end))
                }
                _ => None,
            },
            Node::Assign(_) => None,
        }
    }

    /// Prints `nodes` (which lie in `start..end`) with the comments of that range.
    fn region(&mut self, nodes: &[Node<'a>], start: usize, end: usize, depth: usize, top: bool) {
        // Comments in this region and not inside a nested region of one of its nodes.
        let mut free: Vec<usize> = Vec::new();
        let mut inner: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (ci, c) in self.comments.iter().enumerate() {
            if self.used.get(ci).copied().unwrap_or(true) || c.span.start < start || c.span.start >= end {
                continue;
            }
            match nodes.iter().position(|n| n.start() <= c.span.start && c.span.start < n.end()) {
                Some(ni) => {
                    let node = nodes.get(ni).copied();
                    let in_nested = node.and_then(|n| self.nested(&n)).is_some_and(|(s, e)| s < c.span.start && c.span.start < e);
                    if !in_nested && let Some(v) = inner.get_mut(ni) {
                        v.push(ci);
                    }
                }
                None => free.push(ci),
            }
        }
        let mut elements: Vec<Element<'a>> = Vec::new();
        let mut fi = free.iter().peekable();
        for (ni, n) in nodes.iter().enumerate() {
            while let Some(&&ci) = fi.peek() {
                if self.comments.get(ci).is_some_and(|c| c.span.start < n.start()) {
                    elements.push(Element::Comment(ci));
                    fi.next();
                } else {
                    break;
                }
            }
            elements.push(Element::Node(*n, inner.get(ni).cloned().unwrap_or_default()));
        }
        elements.extend(fi.map(|&ci| Element::Comment(ci)));

        let indent = INDENT.repeat(depth);
        let mut prev_end: Option<usize> = None;
        let mut line_open = false; // the last printed line may take a trailing comment
        let mut i = 0;
        while i < elements.len() {
            match elements.get(i) {
                Some(Element::Comment(ci)) => {
                    let ci = *ci;
                    let Some(c) = self.comments.get(ci) else { break };
                    if let Some(u) = self.used.get_mut(ci) {
                        *u = true;
                    }
                    let trailing = line_open && prev_end.is_some_and(|p| !self.has_newline(p, c.span.start));
                    if trailing {
                        self.out.push(' ');
                        self.out.push_str(&c.text);
                    } else {
                        self.newline_if_open(&mut line_open);
                        let after_item = top && i > 0 && matches!(elements.get(i - 1), Some(Element::Node(Node::Item(_), _)));
                        if after_item || prev_end.is_some_and(|p| self.blank_between(p, c.span.start)) {
                            self.out.push('\n');
                        }
                        self.out.push_str(&indent);
                        self.out.push_str(&c.text);
                        line_open = true;
                    }
                    // A line comment ends the line; a block comment on its own line does too.
                    prev_end = Some(c.span.end);
                    if c.text.starts_with("//") || !trailing {
                        self.out.push('\n');
                        line_open = false;
                        // Anything after a line comment is on a new line in the source too.
                    }
                    i += 1;
                }
                Some(Element::Node(n, inner_comments)) => {
                    let n = *n;
                    let inner_comments = inner_comments.clone();
                    self.newline_if_open(&mut line_open);
                    let blank = match prev_end {
                        Some(p) => {
                            top && matches!(n, Node::Item(_)) && self.last_was_node(&elements, i) || self.blank_between(p, n.start())
                        }
                        None => false,
                    };
                    if blank && !self.out.is_empty() {
                        self.out.push('\n');
                    }
                    // Alignment group: consecutive assignments with no blank line or own-line
                    // comment between them.
                    let width = self.group_width(&elements, i);
                    // Comments inside a node: line comments (and anything inside a construct's
                    // header) go on their own lines before it; block comments after it.
                    let (before, after): (Vec<usize>, Vec<usize>) = inner_comments
                        .iter()
                        .partition(|&&ci| matches!(n, Node::Item(_)) || self.comments.get(ci).is_some_and(|c| c.text.starts_with("//")));
                    for ci in before {
                        if let (Some(c), Some(u)) = (self.comments.get(ci), self.used.get_mut(ci)) {
                            *u = true;
                            self.out.push_str(&indent);
                            self.out.push_str(&c.text);
                            self.out.push('\n');
                        }
                    }
                    if let Node::Item(item) = n {
                        self.item(item, depth);
                    } else {
                        self.out.push_str(&indent);
                        self.statement(n, depth, width);
                    }
                    for ci in after {
                        if let (Some(c), Some(u)) = (self.comments.get(ci), self.used.get_mut(ci)) {
                            *u = true;
                            self.out.push(' ');
                            self.out.push_str(&c.text);
                        }
                    }
                    line_open = true;
                    prev_end = Some(n.end());
                    i += 1;
                }
                None => break,
            }
        }
        self.newline_if_open(&mut line_open);
    }

    fn last_was_node(&self, elements: &[Element<'a>], i: usize) -> bool {
        // Between constructs there is always one blank line, unless comments directly precede
        // the construct (then the blank line goes before those comments, as written).
        i > 0 && matches!(elements.get(i - 1), Some(Element::Node(..)))
    }

    fn newline_if_open(&mut self, line_open: &mut bool) {
        if *line_open {
            self.out.push('\n');
            *line_open = false;
        }
    }

    fn group_width(&self, elements: &[Element<'a>], i: usize) -> usize {
        let is_assign = |e: &Element<'a>| matches!(e, Element::Node(n, _) if n.assign_key_len().is_some());
        if !elements.get(i).is_some_and(is_assign) {
            return 0;
        }
        // A line comment inside a setting (e.g. in a multi-line list) is printed on its own line
        // before it, so it ends the group as an own-line comment does: otherwise the next
        // formatting would align differently.
        let own_line_comment = |inner: &[usize]| inner.iter().any(|ci| self.comments.get(*ci).is_some_and(|c| c.text.starts_with("//")));
        let joined = |a: &Element<'a>, b: &Element<'a>| match (a, b) {
            (Element::Node(x, _), Element::Node(y, inner)) => {
                x.assign_key_len().is_some()
                    && y.assign_key_len().is_some()
                    && !self.blank_between(x.end(), y.start())
                    && !own_line_comment(inner)
            }
            _ => false,
        };
        let mut lo = i;
        while lo > 0 && elements.get(lo - 1).zip(elements.get(lo)).is_some_and(|(a, b)| joined(a, b)) {
            lo -= 1;
        }
        let mut hi = i;
        while elements.get(hi).zip(elements.get(hi + 1)).is_some_and(|(a, b)| joined(a, b)) {
            hi += 1;
        }
        elements
            .get(lo..=hi)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| match e {
                Element::Node(n, _) => n.assign_key_len(),
                Element::Comment(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    fn item(&mut self, item: &'a Item, depth: usize) {
        let indent = INDENT.repeat(depth);
        self.out.push_str(&indent);
        self.out.push_str(&item.kind.name);
        self.out.push(' ');
        self.out.push_str(&item.name.name);
        if let Some(v) = &item.version {
            self.out.push_str(" version \"");
            self.out.push_str(&v.raw);
            self.out.push('"');
        }
        if let Some(b) = &item.block {
            let nodes: Vec<Node<'a>> = b.statements.iter().map(Node::Stmt).collect();
            self.braced(&nodes, b.span.start, b.span.end, depth);
        }
    }

    /// ` {`, the region's lines, `}` — or ` {}` when there is nothing inside.
    fn braced(&mut self, nodes: &[Node<'a>], start: usize, end: usize, depth: usize) {
        let has_comment = self.comments.iter().zip(&self.used).any(|(c, u)| !u && c.span.start > start && c.span.start < end);
        if nodes.is_empty() && !has_comment {
            self.out.push_str(" {}");
            return;
        }
        self.out.push_str(" {\n");
        self.region(nodes, start + 1, end.saturating_sub(1), depth + 1, false);
        self.out.push_str(&INDENT.repeat(depth));
        self.out.push('}');
    }

    fn statement(&mut self, n: Node<'a>, depth: usize, width: usize) {
        let s = match n {
            Node::Assign(a) => {
                self.assign(a, width);
                return;
            }
            Node::Stmt(s) => s,
            Node::Item(_) => return,
        };
        match &s.kind {
            StatementKind::Assign(a) => self.assign(a, width),
            StatementKind::Requires(e) => {
                self.out.push_str("requires ");
                self.out.push_str(&e.text);
            }
            StatementKind::Ensures(e) => {
                self.out.push_str("ensures ");
                self.out.push_str(&e.text);
            }
            StatementKind::Every { keyword, triggers } => {
                self.out.push_str(&keyword.name);
                self.out.push_str(" every ");
                let parts: Vec<String> = triggers
                    .iter()
                    .map(|t| match t {
                        Trigger::Entries { count, .. } => format!("{count} entries"),
                        Trigger::Append(_) => "append".to_string(),
                        Trigger::Value(v) => value(v),
                    })
                    .collect();
                self.out.push_str(&parts.join(" or "));
            }
            StatementKind::Expect { subsystem, every, severity } => {
                self.out.push_str(&format!("expect subsystem \"{}\" every {}", subsystem.raw, value(every)));
                if let Some(sv) = severity {
                    self.out.push_str(" severity ");
                    self.out.push_str(&value(sv));
                }
            }
            StatementKind::Witness { url, key } => {
                self.out.push_str(&format!("witness {} key {}", value(url), value(key)));
            }
            StatementKind::Condition(c) => {
                self.out.push_str(&c.level.name);
                self.out.push_str(" when ");
                if let Some(m) = &c.metric {
                    self.out.push_str(&m.name);
                    self.out.push(' ');
                }
                self.out.push_str(&c.op.name);
                self.out.push(' ');
                self.out.push_str(&value(&c.value));
                if let Some(f) = &c.for_ {
                    self.out.push_str(" for ");
                    self.out.push_str(&value(f));
                }
                if let Some(sv) = &c.severity {
                    self.out.push_str(" severity ");
                    self.out.push_str(&value(sv));
                }
            }
            StatementKind::Burn { factor, long, short, severity } => {
                self.out.push_str(&format!("burn {} over {} and {}", value(factor), value(long), value(short)));
                if let Some(sv) = severity {
                    self.out.push_str(" severity ");
                    self.out.push_str(&value(sv));
                }
            }
            StatementKind::Include(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|i| match &i.kind {
                        Some(k) => format!("{} {}", k.name, i.name.name),
                        None => i.name.name.clone(),
                    })
                    .collect();
                self.out.push_str("include ");
                self.out.push_str(&parts.join(", "));
            }
            StatementKind::Row { title, members } => {
                self.out.push_str(&format!("row \"{}\" ", title.raw));
                if members.is_empty() {
                    self.out.push_str("{}");
                } else {
                    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                    self.out.push_str(&format!("{{ {} }}", names.join(", ")));
                }
            }
            StatementKind::SeverityOverride { severity, settings } => {
                self.out.push_str("severity ");
                self.out.push_str(&severity.name);
                let (start, end) = self.nested(&n).unwrap_or((s.span.end, s.span.end));
                let nodes: Vec<Node<'a>> = settings.iter().map(Node::Assign).collect();
                self.braced(&nodes, start, end, depth);
            }
            StatementKind::Labels(settings) => {
                self.out.push_str("labels");
                let (start, end) = self.nested(&n).unwrap_or((s.span.end, s.span.end));
                let nodes: Vec<Node<'a>> = settings.iter().map(Node::Assign).collect();
                self.braced(&nodes, start, end, depth);
            }
        }
    }

    fn assign(&mut self, a: &Assign, width: usize) {
        self.out.push_str(&a.key.name);
        let pad = width.saturating_sub(a.key.name.chars().count());
        self.out.push_str(&" ".repeat(pad));
        self.out.push_str(" = ");
        self.out.push_str(&value(&a.value));
    }
}

/// A value as it is printed (its source form).
fn value(v: &Value) -> String {
    match &v.kind {
        ValueKind::Number(n) | ValueKind::Quantity(n) | ValueKind::Percent(n) | ValueKind::Path(n) => n.clone(),
        ValueKind::List(items) => {
            let items: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        ValueKind::Rate { count, per } => format!("{} per {}", value(count), value(per)),
        ValueKind::Str(s) => format!("\"{}\"", s.raw),
        ValueKind::Promql(p) => format!("`{p}`"),
        ValueKind::Call { name, args } => {
            let args: Vec<String> = args.iter().map(value).collect();
            format!("{}({})", name.name, args.join(", "))
        }
    }
}

/// Checks that `formatted` is a faithful rewrite of the file `ast` was parsed from: it
/// parses, has the same syntax tree (positions aside), the same comments, and formats to
/// itself. `pipc fmt` writes nothing unless this holds, so a formatter bug can never lose
/// a line of a spec.
pub fn verify(original: &str, ast: &File, formatted: &str) -> Result<(), String> {
    let _ = original;
    let file = crate::span::FileId(0);
    let again = crate::text_to_ast::parse(file, formatted).map_err(|_| "the output does not parse".to_string())?;
    if without_positions(&format!("{:?}", again.items)) != without_positions(&format!("{:?}", ast.items)) {
        return Err("the output parses to a different spec".into());
    }
    let mut a: Vec<&str> = ast.comments.iter().map(|c| c.text.as_str()).collect();
    let mut b: Vec<&str> = again.comments.iter().map(|c| c.text.as_str()).collect();
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        return Err("comments were lost or changed".into());
    }
    if format(formatted, &again) != formatted {
        return Err("the output is not stable under formatting".into());
    }
    Ok(())
}

/// A debug dump with every span's numbers and file id removed.
fn without_positions(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span {") {
        out.push_str(rest.get(..i).unwrap_or(""));
        rest = rest.get(i..).unwrap_or("");
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        rest = rest.get(end..).unwrap_or("");
    }
    out.push_str(rest);
    out
}
