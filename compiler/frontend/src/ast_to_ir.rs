//! Stage 2: AST → checked IR. Groups files into specs, resolves names and references,
//! checks units, values and embedded PromQL/Rust, and reports every problem at once.

mod constructs;
mod promql;
mod rust_expr;
mod values;

pub use values::did_you_mean;

use std::collections::BTreeMap;

use crate::ast::{self, Item, StatementKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, ConstructKind, Provenance, Severity, SeverityPolicy, SourceFileHash};
use crate::source::Sources;
use crate::span::{FileId, Span};
use values::{Cx, Settings};

pub use rust_expr::{OK, RESULT};

/// The settings of the `spec` block (`owner = ...`).
pub const SPEC_SETTINGS: [&str; 6] = ["owner", "runbook", "doc", "evidence_values", "receiver", "page_receiver"];

/// The settings whose value names a construct of the spec, with the kinds it may name
/// (editors resolve, complete and rename these; the checks resolve them the same way).
pub const REFERENCE_SETTINGS: [(&str, &[ConstructKind]); 1] = [(constructs::EVIDENCE, &constructs::EVIDENCE_KINDS)];

/// The settings (`key = value` lines) a block of `kind` accepts: the one list per kind that
/// its check reads them with (editors complete and explain them from here).
pub fn settings(kind: ConstructKind) -> &'static [&'static str] {
    constructs::settings(kind)
}

/// A parsed file ready for checking.
pub struct ParsedFile<'a> {
    /// The file's id in the [`Sources`] the spans of `ast` point into.
    pub id: FileId,
    /// The file's syntax tree, from [`text_to_ast`](crate::text_to_ast).
    pub ast: &'a ast::File,
}

/// Checks parsed files, grouped into specs by their `spec <name>` line, and returns the
/// specs that have no errors together with every diagnostic.
pub fn check(sources: &Sources, files: &[ParsedFile<'_>]) -> (Vec<ir::Spec>, Vec<Diagnostic>) {
    let mut cx = Cx::new(sources);
    let groups = group(&mut cx, files);
    let mut specs = Vec::new();
    for (name, members) in &groups {
        let before = cx.error_count();
        let spec = check_spec(&mut cx, name, members);
        if let Some(spec) = spec.filter(|_| cx.error_count() == before) {
            specs.push(spec);
        }
    }
    check_across_specs(&mut cx, &groups);
    (specs, cx.diags)
}

/// The files of one spec with their `spec` lines.
struct Member<'a> {
    id: FileId,
    header: &'a Item,
    items: &'a [Item],
}

fn group<'a>(cx: &mut Cx<'_>, files: &'a [ParsedFile<'a>]) -> BTreeMap<String, Vec<Member<'a>>> {
    let mut groups: BTreeMap<String, Vec<Member<'a>>> = BTreeMap::new();
    for f in files {
        let Some((first, rest)) = f.ast.items.split_first() else {
            cx.push(
                Diagnostic::error(Code::SpecHeader, Span::new(f.id, 0, 0), "the file has no `spec` line")
                    .label("expected `spec <name>` here")
                    .help("a spec file starts with `spec <name> version \"1.0.0\" { ... }`, or `spec <name>` to continue a spec in another file of the same directory"),
            );
            continue;
        };
        if first.kind.name != "spec" {
            cx.push(
                Diagnostic::error(Code::SpecHeader, first.kind.span, "the file does not start with a `spec` line")
                    .label(format!("`{}` before any `spec`", first.kind.name))
                    .help("start the file with `spec <name> version \"1.0.0\" { ... }`, or `spec <name>` to continue a spec defined in another file of the same directory"),
            );
            continue;
        }
        let mut broken = false;
        for other in rest.iter().filter(|i| i.kind.name == "spec") {
            broken = true;
            cx.push(
                Diagnostic::error(Code::SpecHeader, other.kind.span, "a file belongs to one spec; `spec` may only start it")
                    .label("second `spec` line")
                    .also(first.kind.span, "the file's spec is named here")
                    .help("put each spec in its own file"),
            );
        }
        if !values::check_name(cx, &first.name, "spec") || broken {
            continue;
        }
        groups.entry(first.name.name.clone()).or_default().push(Member { id: f.id, header: first, items: rest });
    }
    groups
}

fn parent_dir(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn check_spec(cx: &mut Cx<'_>, name: &str, members: &[Member<'_>]) -> Option<ir::Spec> {
    let first = members.first()?;
    // One directory per spec.
    let dir_of = |cx: &Cx<'_>, id: FileId| cx.sources.get(id).map(|f| parent_dir(&f.name).to_string()).unwrap_or_default();
    let home = dir_of(cx, first.id);
    for m in members.iter().skip(1) {
        if dir_of(cx, m.id) != home {
            cx.push(
                Diagnostic::error(Code::SpecDirectory, m.header.name.span, format!("spec `{name}` is also declared in another directory"))
                    .label("declared here")
                    .also(first.header.name.span, "and here")
                    .help("a spec's files share one directory; rename one of the specs if they are different specs"),
            );
            return None;
        }
    }
    // Exactly one defining header.
    let defining: Vec<&Member<'_>> = members.iter().filter(|m| m.header.block.is_some()).collect();
    let def = match defining.as_slice() {
        [] => {
            cx.push(
                Diagnostic::error(Code::SpecHeader, first.header.name.span, format!("spec `{name}` is never defined"))
                    .label("only continued here")
                    .help(format!("give one of its files `spec {name} version \"1.0.0\" {{ owner = \"...\" runbook = \"https://...\" }}`")),
            );
            return None;
        }
        [one] => *one,
        [one, more @ ..] => {
            for m in more {
                cx.push(
                    Diagnostic::error(Code::SpecHeader, m.header.name.span, format!("spec `{name}` is defined twice"))
                        .label("defined again here")
                        .also(one.header.name.span, "first defined here")
                        .help(format!("continue a spec in another file with a bare `spec {name}` line")),
                );
            }
            return None;
        }
    };
    for m in members.iter().filter(|m| m.header.block.is_none()) {
        if let Some(v) = &m.header.version {
            cx.push(
                Diagnostic::error(Code::SpecHeader, v.span, "`version` belongs on the spec's definition")
                    .label("on a continuation line")
                    .also(def.header.name.span, "the definition"),
            );
        }
    }
    let header = def.header;
    let version = match &header.version {
        Some(v) => values::string(cx, v).filter(|s| !s.trim().is_empty()),
        None => {
            cx.push(
                Diagnostic::error(Code::MissingSetting, header.name.span, format!("spec `{name}` has no version"))
                    .label("needs `version \"...\"`")
                    .help(format!("write `spec {name} version \"1.0.0\" {{ ... }}`")),
            );
            None
        }
    };
    let block = header.block.as_ref()?;
    let mut assigns = Vec::new();
    let mut overrides = Vec::new();
    let mut labels: Option<&[ast::Assign]> = None;
    for s in &block.statements {
        match &s.kind {
            StatementKind::Assign(a) => assigns.push(a),
            StatementKind::SeverityOverride { severity, settings } => overrides.push((severity, settings)),
            StatementKind::Labels(l) if labels.is_none() => labels = Some(l),
            StatementKind::Labels(_) => cx.push(
                Diagnostic::error(Code::DuplicateSetting, s.span, "`labels` is given twice")
                    .label("second `labels` block")
                    .help("merge the two blocks"),
            ),
            _ => constructs::misplaced(
                cx,
                "spec",
                s,
                "`owner`, `runbook`, `doc`, `evidence_values`, `receiver`, `page_receiver`, `labels { ... }` and `severity P0 { ... }` overrides",
            ),
        }
    }
    let settings = Settings::collect(cx, "spec", header.name.span, &SPEC_SETTINGS, assigns);
    let owner = settings.require(cx, "spec", name, "owner", "\"team-name\"").and_then(|v| values::nonempty_string(cx, v, "the owner"));
    let runbook = settings.require(cx, "spec", name, "runbook", "\"https://runbooks.example.com/...\"").and_then(|v| values::url(cx, v));
    if let Some(v) = settings.get("doc") {
        values::string_value(cx, v);
    }
    let evidence_values = match settings.get("evidence_values") {
        None => Some(ir::EvidenceValues::default()),
        Some(v) => values::evidence_values(cx, v),
    };
    let severities = severity_overrides(cx, &overrides);
    let routing = routing(cx, &settings, owner.as_deref(), settings.get("owner"));
    let labels = labels.map(|l| spec_labels(cx, l)).unwrap_or_default();

    let items: Vec<&Item> = members.iter().flat_map(|m| m.items.iter()).collect();
    // The constructs are checked even when the header has errors, so that one run reports
    // every error (their default runbook only matters when the spec is valid).
    let body = constructs::check_items(cx, name, &items, runbook.as_deref().unwrap_or_default(), evidence_values.unwrap_or_default());
    let (owner, runbook, version, body, _, routing) = (owner?, runbook?, version?, body?, evidence_values?, routing?);
    let provenance = provenance(cx, members);
    let constructs::Body { ledgers, invariants, rate_limits, thresholds, slos, versioned, bundles, dashboards } = body;
    Some(ir::Spec {
        name: name.to_string(),
        version,
        owner,
        runbook,
        source: cx.src(header.name.span),
        provenance,
        severities,
        routing,
        labels,
        ledgers,
        invariants,
        rate_limits,
        thresholds,
        slos,
        versioned,
        bundles,
        dashboards,
    })
}

fn provenance(cx: &Cx<'_>, members: &[Member<'_>]) -> Provenance {
    let mut files: Vec<(&str, &[u8])> =
        members.iter().filter_map(|m| cx.sources.get(m.id)).map(|f| (f.spec_path.as_str(), f.text.as_bytes())).collect();
    files.sort();
    Provenance {
        files: files.iter().map(|(name, bytes)| SourceFileHash { file: (*name).to_string(), sha256: crate::sha256_hex(bytes) }).collect(),
        sha256: crate::spec_hash(&files),
        compiler: crate::VERSION.to_string(),
    }
}

fn severity_overrides(cx: &mut Cx<'_>, overrides: &[(&ast::Ident, &Vec<ast::Assign>)]) -> Vec<SeverityPolicy> {
    let mut policies: Vec<SeverityPolicy> = Severity::ALL.iter().map(|s| SeverityPolicy::default_for(*s)).collect();
    let mut seen: Vec<(Severity, Span)> = Vec::new();
    for (sev, settings) in overrides {
        let Some(s) = values::severity_name(cx, &sev.name, sev.span) else { continue };
        if let Some((_, first)) = seen.iter().find(|(x, _)| *x == s) {
            cx.push(
                Diagnostic::error(Code::SeverityOverride, sev.span, format!("`{s}` is overridden twice"))
                    .label("second override")
                    .also(*first, "first override")
                    .help("merge the two blocks"),
            );
            continue;
        }
        seen.push((s, sev.span));
        let set = Settings::collect(cx, &format!("severity {s}"), sev.span, &["level", "respond", "page", "receiver"], settings.iter());
        let Some(policy) = policies.iter_mut().find(|p| p.severity == s) else { continue };
        policy.overridden = true;
        if let Some(v) = set.get("level")
            && let Some(level) = values::nonempty_string(cx, v, "the level")
        {
            policy.level = level;
        }
        if let Some(v) = set.get("respond") {
            if matches!(&v.kind, ast::ValueKind::Path(p) if p == "next_business_day") {
                policy.respond = ir::Respond::NextBusinessDay;
            } else if let Some(d) = values::positive_duration(cx, v, "the response time") {
                policy.respond = ir::Respond::Within(d);
            }
        }
        if let Some(v) = set.get("page")
            && let Some(b) = values::boolean(cx, v, "`page` value")
        {
            policy.page = b;
        }
        if let Some(v) = set.get("receiver") {
            policy.receiver = receiver_name(cx, v);
        }
    }
    policies
}

/// The spec's [`ir::Routing`]: `receiver` (else the owner) and `page_receiver` (else
/// `<receiver>-page`), each a valid receiver name; `None` after an error, or without an owner
/// to derive from. `owner_value` is where the owner is written, for the error when a derived
/// name is not valid.
fn routing(cx: &mut Cx<'_>, settings: &Settings<'_>, owner: Option<&str>, owner_value: Option<&ast::Value>) -> Option<ir::Routing> {
    // Both settings are checked before either error returns, so one run reports both.
    let given = settings.get("receiver").map(|v| receiver_name(cx, v));
    let given_page = settings.get("page_receiver").map(|v| receiver_name(cx, v));
    let receiver = match given {
        Some(r) => r?,
        // No owner: its own error is reported.
        None => {
            let owner = owner?;
            if ir::is_valid_receiver(owner) {
                owner.to_string()
            } else {
                if let Some(v) = owner_value {
                    let help = format!(
                        "name the receiver of the spec's alerts: `receiver = \"{}\"` in the spec block (ASCII letters, digits and `. _ - : / @`)",
                        suggest_receiver(owner)
                    );
                    // The owner is shown as text, never as terminal control sequences.
                    let message = format!("the owner `{}` cannot name an Alertmanager receiver", owner.escape_debug());
                    cx.push(
                        Diagnostic::error(Code::InvalidReceiver, v.span, message)
                            .label("the spec's alerts would go to a receiver of this name")
                            .help(help),
                    );
                }
                return None;
            }
        }
    };
    let page_receiver = match given_page {
        Some(r) => r?,
        None => {
            let derived = format!("{receiver}{}", ir::PAGE_RECEIVER_SUFFIX);
            if !ir::is_valid_receiver(&derived) {
                if let Some(v) = settings.get("receiver").or(owner_value) {
                    cx.push(
                        Diagnostic::error(
                            Code::InvalidReceiver,
                            v.span,
                            format!("the page receiver `{derived}` derived from this name is too long"),
                        )
                        .label(format!("paging alerts would go to `{derived}`"))
                        .help(format!("name it: `page_receiver = \"...\"` in the spec block (at most {} bytes)", ir::MAX_RECEIVER_LEN)),
                    );
                }
                return None;
            }
            derived
        }
    };
    Some(ir::Routing { receiver, page_receiver })
}

/// A receiver name (`receiver = "payments-pager"`): a string [`ir::is_valid_receiver`] accepts.
fn receiver_name(cx: &mut Cx<'_>, v: &ast::Value) -> Option<String> {
    let name = values::nonempty_string(cx, v, "the receiver name")?;
    if ir::is_valid_receiver(&name) {
        return Some(name);
    }
    let why = if name.len() > ir::MAX_RECEIVER_LEN {
        format!("longer than {} bytes", ir::MAX_RECEIVER_LEN)
    } else if let Some(first) = name.chars().next().filter(|c| !c.is_ascii_alphanumeric()) {
        format!("starts with {}", describe_char(first))
    } else {
        let bad = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@')));
        format!("holds {}", bad.map_or_else(|| "a character receiver names do not".to_string(), describe_char))
    };
    cx.push(
        Diagnostic::error(Code::InvalidReceiver, v.span, format!("`{}` is not a valid receiver name", name.escape_debug()))
            .label(why)
            .help(format!(
                "receiver names start with an ASCII letter or digit and hold only letters, digits and `. _ - : / @`, e.g. `{}`",
                suggest_receiver(&name)
            )),
    );
    None
}

/// A character as a label says it: `` `#` ``, or "a space".
fn describe_char(c: char) -> String {
    if c == ' ' { "a space".to_string() } else { format!("`{}`", c.escape_default()) }
}

/// A valid receiver name close to `text`: other characters as `-`, runs of `-` merged, trimmed.
fn suggest_receiver(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '@') { c } else { '-' };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let trimmed: String = out.trim_end_matches('-').chars().take(ir::MAX_RECEIVER_LEN).collect();
    if trimmed.is_empty() || !ir::is_valid_receiver(&trimmed) { "team-oncall".to_string() } else { trimmed }
}

fn spec_labels(cx: &mut Cx<'_>, assigns: &[ast::Assign]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut seen: Vec<&ast::Assign> = Vec::new();
    for a in assigns {
        let key = &a.key.name;
        if !pip_conventions::is_valid_label_name(key) || key.starts_with("__") {
            cx.push(
                Diagnostic::error(Code::InvalidLabel, a.key.span, format!("`{key}` is not a valid Prometheus label name"))
                    .label("invalid label name")
                    .help("label names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with `__`"),
            );
            continue;
        }
        if pip_conventions::RESERVED_LABELS.contains(&key.as_str()) {
            cx.push(
                Diagnostic::error(Code::ReservedLabel, a.key.span, format!("`{key}` is a label pip sets itself"))
                    .label("reserved")
                    .help(format!("reserved labels: {}", values::one_of(&pip_conventions::RESERVED_LABELS))),
            );
            continue;
        }
        if let Some(first) = seen.iter().find(|f| f.key.name == *key) {
            cx.push(
                Diagnostic::error(Code::DuplicateSetting, a.key.span, format!("label `{key}` is set twice"))
                    .label("again")
                    .also(first.key.span, "first"),
            );
            continue;
        }
        seen.push(a);
        if let Some(v) = values::string_value(cx, &a.value) {
            out.insert(key.clone(), v);
        }
    }
    out
}

fn check_across_specs(cx: &mut Cx<'_>, groups: &BTreeMap<String, Vec<Member<'_>>>) {
    // Dashboards are written to generated/grafana/<name>.json: names are global. A spec
    // without a `dashboard` gets a default one named after the spec.
    let mut dashboards: BTreeMap<&str, (&str, Span)> = BTreeMap::new();
    for (spec, members) in groups {
        let items: Vec<&Item> =
            members.iter().flat_map(|m| m.items.iter()).filter(|i| i.kind.name == ConstructKind::Dashboard.keyword()).collect();
        let named: Vec<(&str, Span)> = if items.is_empty() {
            members.iter().find(|m| m.header.block.is_some()).map(|m| (spec.as_str(), m.header.name.span)).into_iter().collect()
        } else {
            items.iter().map(|i| (i.name.name.as_str(), i.name.span)).collect()
        };
        for (name, span) in named {
            match dashboards.get(name) {
                Some((other, first)) if *other != spec.as_str() => cx.push(
                    Diagnostic::error(Code::DuplicateDashboard, span, format!("dashboard `{name}` is also defined by spec `{other}`"))
                        .label("defined again here")
                        .also(*first, "first defined here")
                        .help("dashboards share one folder and uid space (a spec without a `dashboard` gets one named after it); give them different names"),
                ),
                Some(_) => {}
                None => {
                    dashboards.insert(name, (spec, span));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SPEC_SETTINGS, settings};
    use crate::diagnostics::Code;
    use crate::ir::ConstructKind;

    /// The public tables are the lists the checks read: every setting listed is known to the
    /// check (whatever it thinks of the value), and a setting not listed is not.
    #[test]
    fn every_listed_setting_is_one_the_check_knows() {
        for kind in ConstructKind::ALL {
            let lines: String = settings(kind).iter().map(|s| format!("  {s} = 1\n")).collect();
            let spec_lines: String = SPEC_SETTINGS.iter().map(|s| format!("  {s} = 1\n")).collect();
            let text = format!("spec s version \"1.0.0\" {{\n{spec_lines}}}\n{} x {{\n{lines}  not_a_setting = 1\n}}\n", kind.keyword());
            let (_, c) = crate::compile_str("s.pips", &text);
            let unknown: Vec<&str> = c.diagnostics.iter().filter(|d| d.code == Code::UnknownSetting).map(|d| d.message.as_str()).collect();
            assert_eq!(unknown.len(), 1, "{}: {unknown:?}", kind.keyword());
            assert!(unknown.iter().all(|m| m.contains("not_a_setting")), "{}: {unknown:?}", kind.keyword());
        }
    }
}
