//! The constructs of a spec: the name table, reference resolution, and dispatch to the
//! check of each kind.

mod alerting;
mod evidence;
mod layout;

use std::collections::BTreeMap;

use super::values::{self, Cx, Settings};
use crate::ast::{Block, Item, Statement, StatementKind};
use crate::diagnostics::Diagnostic;
use crate::ir::{self, ConstructKind, ConstructRef};
use crate::span::Span;

/// The construct kinds a spec body may contain, with their keywords.
const KINDS: [(&str, ConstructKind); 7] = [
    ("ledger", ConstructKind::Ledger),
    ("invariant", ConstructKind::Invariant),
    ("rate_limit", ConstructKind::RateLimit),
    ("threshold", ConstructKind::Threshold),
    ("versioned", ConstructKind::Versioned),
    ("bundle", ConstructKind::Bundle),
    ("dashboard", ConstructKind::Dashboard),
];

/// The checked constructs of one spec.
#[derive(Default)]
pub(crate) struct Body {
    pub ledgers: Vec<ir::Ledger>,
    pub invariants: Vec<ir::Invariant>,
    pub rate_limits: Vec<ir::RateLimit>,
    pub thresholds: Vec<ir::Threshold>,
    pub versioned: Vec<ir::Versioned>,
    pub bundles: Vec<ir::Bundle>,
    pub dashboards: Vec<ir::Dashboard>,
}

/// Every construct name of a spec with its kind and where it is defined.
pub(crate) struct Names(BTreeMap<String, (ConstructKind, Span)>);

impl Names {
    /// Resolves a reference that must name a construct of one of `kinds`.
    pub fn resolve(&self, cx: &mut Cx<'_>, name: &str, span: Span, kinds: &[ConstructKind], what: &str) -> Option<ConstructRef> {
        match self.0.get(name) {
            Some((kind, _)) if kinds.contains(kind) => Some(ConstructRef { kind: *kind, name: name.to_string() }),
            Some((kind, defined)) => {
                let expected: Vec<String> = kinds.iter().map(|k| format!("`{}`", k.keyword())).collect();
                let message = format!("`{name}` is a `{}`, but {what} must be a {}", kind.keyword(), expected.join(" or "));
                cx.push(
                    Diagnostic::error("pips::wrong-kind", span, message)
                        .label(format!("a `{}`", kind.keyword()))
                        .also(*defined, format!("`{name}` is defined here")),
                );
                None
            }
            None => {
                let candidates = self.0.iter().filter(|(_, (k, _))| kinds.contains(k)).map(|(n, _)| n.as_str());
                let message = match kinds {
                    [one] => format!("no `{}` named `{name}` in this spec", one.keyword()),
                    _ => format!("nothing named `{name}` in this spec"),
                };
                let mut d = Diagnostic::error("pips::unresolved", span, message).label("not defined");
                d = match values::did_you_mean(name, candidates) {
                    Some(h) => d.help(h),
                    None => d.help(format!("define it with `{} {name} {{ ... }}`", kinds.first().map_or("ledger", |k| k.keyword()))),
                };
                cx.push(d);
                None
            }
        }
    }
}

/// What every construct check needs.
pub(crate) struct Ctx<'n> {
    pub names: &'n Names,
    pub runbook: &'n str,
    /// The spec's `evidence_values`, for invariants that do not set their own.
    pub evidence_values: crate::ir::EvidenceValues,
}

impl Ctx<'_> {
    /// The construct's runbook: its own `runbook` setting, or the spec's with `#name`.
    pub fn runbook(&self, cx: &mut Cx<'_>, settings: &Settings<'_>, name: &str) -> String {
        if let Some(v) = settings.get("runbook")
            && let Some(u) = values::url(cx, v)
        {
            return u;
        }
        if self.runbook.contains('#') { self.runbook.to_string() } else { format!("{}#{name}", self.runbook) }
    }
}

/// Reports a statement that does not belong in this kind of block.
pub(crate) fn misplaced(cx: &mut Cx<'_>, kind: &str, s: &Statement, accepted: &str) {
    cx.push(
        Diagnostic::error("pips::misplaced-statement", s.span, format!("{} does not belong in a `{kind}`", values::describe_statement(s)))
            .label(format!("not part of `{kind}`"))
            .help(format!("a `{kind}` takes {accepted}")),
    );
}

/// The assignments of a block, and the other statements in order.
pub(crate) fn split(block: &Block) -> (Vec<&crate::ast::Assign>, Vec<&Statement>) {
    let mut assigns = Vec::new();
    let mut others = Vec::new();
    for s in &block.statements {
        match &s.kind {
            StatementKind::Assign(a) => assigns.push(a),
            _ => others.push(s),
        }
    }
    (assigns, others)
}

/// Checks the items of a spec (all its files, header lines excluded).
pub(crate) fn check_items(cx: &mut Cx<'_>, items: &[&Item], runbook: &str, evidence_values: crate::ir::EvidenceValues) -> Option<Body> {
    let before = cx.error_count();
    let mut names = Names(BTreeMap::new());
    let mut checked: Vec<(&Item, ConstructKind, &Block)> = Vec::new();
    for item in items {
        if item.kind.name == "spec" {
            continue; // reported when grouping
        }
        let Some(kind) = KINDS.iter().find(|(k, _)| *k == item.kind.name).map(|(_, k)| *k) else {
            let mut d = Diagnostic::error("pips::unknown-construct", item.kind.span, format!("unknown construct `{}`", item.kind.name))
                .label("not a construct");
            d = match values::did_you_mean(&item.kind.name, KINDS.iter().map(|(k, _)| *k)) {
                Some(h) => d.help(h),
                None => d.help(format!("constructs are {}", values::one_of(&KINDS.map(|(k, _)| k)))),
            };
            cx.push(d);
            continue;
        };
        if let Some(v) = &item.version {
            cx.push(Diagnostic::error("pips::misplaced-statement", v.span, "only `spec` has a version").label("not allowed here"));
        }
        let valid = values::check_name(cx, &item.name, item.kind.name.as_str());
        if let Some((_, first)) = names.0.get(&item.name.name) {
            cx.push(
                Diagnostic::error("pips::duplicate-name", item.name.span, format!("`{}` is defined twice", item.name.name))
                    .label("defined again here")
                    .also(*first, "first defined here")
                    .help("every construct of a spec needs its own name"),
            );
            continue;
        }
        names.0.insert(item.name.name.clone(), (kind, item.name.span));
        let Some(block) = &item.block else {
            cx.push(
                Diagnostic::error(
                    "pips::missing-block",
                    item.kind.span.to(item.name.span),
                    format!("`{} {}` has no `{{ ... }}` block", item.kind.name, item.name.name),
                )
                .label("block expected after this")
                .help(format!("write `{} {} {{ ... }}`", item.kind.name, item.name.name)),
            );
            continue;
        };
        if valid {
            checked.push((item, kind, block));
        }
    }
    let ctx = Ctx { names: &names, runbook, evidence_values };
    // Constructs are checked independently once the name table exists; large specs are
    // split across the machine's cores (the embedded Rust and PromQL parsers dominate).
    let threads = if checked.len() >= PARALLEL_MIN_CONSTRUCTS { crate::parallelism() } else { 1 };
    let body = if threads <= 1 {
        check_all(cx, &ctx, &checked)
    } else {
        let per = checked.len().div_ceil(threads);
        let sources = cx.sources;
        let results: Vec<(Body, Vec<Diagnostic>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = checked
                .chunks(per)
                .map(|chunk| {
                    let ctx = &ctx;
                    scope.spawn(move || {
                        let mut local = Cx::new(sources);
                        let body = check_all(&mut local, ctx, chunk);
                        (body, local.diags)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let mut body = Body::default();
        for (part, diags) in results {
            body.append(part);
            cx.diags.extend(diags);
        }
        body
    };
    (cx.error_count() == before).then_some(body)
}

/// Specs with fewer constructs are checked on one thread.
const PARALLEL_MIN_CONSTRUCTS: usize = 256;

fn check_all(cx: &mut Cx<'_>, ctx: &Ctx<'_>, checked: &[(&Item, ConstructKind, &Block)]) -> Body {
    let mut body = Body::default();
    for &(item, kind, block) in checked {
        let name = item.name.name.as_str();
        let span = item.name.span;
        match kind {
            ConstructKind::Ledger => body.ledgers.extend(evidence::ledger(cx, ctx, name, span, block)),
            ConstructKind::Invariant => body.invariants.extend(alerting::invariant(cx, ctx, name, span, block)),
            ConstructKind::RateLimit => body.rate_limits.extend(alerting::rate_limit(cx, ctx, name, span, block)),
            ConstructKind::Threshold => body.thresholds.extend(alerting::threshold(cx, ctx, name, span, block)),
            ConstructKind::Versioned => body.versioned.extend(alerting::versioned(cx, ctx, name, span, block)),
            ConstructKind::Bundle => body.bundles.extend(evidence::bundle(cx, ctx, name, span, block)),
            ConstructKind::Dashboard => body.dashboards.extend(layout::dashboard(cx, ctx, name, span, block)),
        }
    }
    body
}

impl Body {
    fn append(&mut self, mut other: Body) {
        self.ledgers.append(&mut other.ledgers);
        self.invariants.append(&mut other.invariants);
        self.rate_limits.append(&mut other.rate_limits);
        self.thresholds.append(&mut other.thresholds);
        self.versioned.append(&mut other.versioned);
        self.bundles.append(&mut other.bundles);
        self.dashboards.append(&mut other.dashboards);
    }
}
