//! The constructs of a spec: the name table, reference resolution, and dispatch to the
//! check of each kind. Each kind's check is its own module (`ledger`, `invariant`, ...) with
//! one `check` function; `check_all` matches on every [`ConstructKind`], so a kind without a
//! check does not compile.

mod bundle;
mod dashboard;
mod invariant;
mod ledger;
mod rate_limit;
mod shared;
mod slo;
mod threshold;
mod versioned;

use std::collections::BTreeMap;

use super::values::{self, Cx, Settings};
use crate::ast::{Block, Item};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, ConstructKind, ConstructRef};
use crate::span::Span;

pub(crate) use shared::{EVIDENCE, EVIDENCE_KINDS, misplaced};

/// The checked constructs of one spec, one list per kind in the spec's order (the fields of
/// [`ir::Spec`] of the same names).
#[derive(Default)]
pub(crate) struct Body {
    pub ledgers: Vec<ir::Ledger>,
    pub invariants: Vec<ir::Invariant>,
    pub rate_limits: Vec<ir::RateLimit>,
    pub thresholds: Vec<ir::Threshold>,
    pub slos: Vec<ir::Slo>,
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
                    Diagnostic::error(Code::WrongKind, span, message)
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
                let mut d = Diagnostic::error(Code::Unresolved, span, message).label("not defined");
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
    /// The spec's name (a ledger's default checkpoint origin is `pip/<spec>/<ledger>`).
    pub spec: &'n str,
    /// Every construct of the spec, for resolving references.
    pub names: &'n Names,
    /// The spec's `runbook` URL, the base of a construct's default runbook.
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

/// Checks the items of a spec (all its files, header lines excluded).
pub(crate) fn check_items(
    cx: &mut Cx<'_>,
    spec: &str,
    items: &[&Item],
    runbook: &str,
    evidence_values: crate::ir::EvidenceValues,
) -> Option<Body> {
    let before = cx.error_count();
    let mut names = Names(BTreeMap::new());
    let mut checked: Vec<(&Item, ConstructKind, &Block)> = Vec::new();
    for item in items {
        if item.kind.name == "spec" {
            continue; // reported when grouping
        }
        let Some(kind) = ConstructKind::from_keyword(&item.kind.name) else {
            let mut d = Diagnostic::error(Code::UnknownConstruct, item.kind.span, format!("unknown construct `{}`", item.kind.name))
                .label("not a construct");
            let keywords = ConstructKind::ALL.map(ConstructKind::keyword);
            d = match values::did_you_mean(&item.kind.name, keywords) {
                Some(h) => d.help(h),
                None => d.help(format!("constructs are {}", values::one_of(&keywords))),
            };
            cx.push(d);
            continue;
        };
        if let Some(v) = &item.version {
            cx.push(Diagnostic::error(Code::MisplacedStatement, v.span, "only `spec` has a version").label("not allowed here"));
        }
        let valid = values::check_name(cx, &item.name, item.kind.name.as_str());
        if let Some((_, first)) = names.0.get(&item.name.name) {
            cx.push(
                Diagnostic::error(Code::DuplicateName, item.name.span, format!("`{}` is defined twice", item.name.name))
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
                    Code::MissingBlock,
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
    let ctx = Ctx { spec, names: &names, runbook, evidence_values };
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

/// The settings (`key = value` lines) a block of `kind` accepts: the very list its check
/// reads them with.
pub(super) fn settings(kind: ConstructKind) -> &'static [&'static str] {
    match kind {
        ConstructKind::Ledger => &ledger::SETTINGS,
        ConstructKind::Invariant => &invariant::SETTINGS,
        ConstructKind::RateLimit => &rate_limit::SETTINGS,
        ConstructKind::Threshold => &threshold::SETTINGS,
        ConstructKind::Slo => &slo::SETTINGS,
        ConstructKind::Versioned => &versioned::SETTINGS,
        ConstructKind::Bundle => &bundle::SETTINGS,
        ConstructKind::Dashboard => &dashboard::SETTINGS,
    }
}

/// Specs with fewer constructs are checked on one thread.
const PARALLEL_MIN_CONSTRUCTS: usize = 256;

fn check_all(cx: &mut Cx<'_>, ctx: &Ctx<'_>, checked: &[(&Item, ConstructKind, &Block)]) -> Body {
    let mut body = Body::default();
    for &(item, kind, block) in checked {
        let name = item.name.name.as_str();
        let span = item.name.span;
        match kind {
            ConstructKind::Ledger => body.ledgers.extend(ledger::check(cx, ctx, name, span, block)),
            ConstructKind::Invariant => body.invariants.extend(invariant::check(cx, ctx, name, span, block)),
            ConstructKind::RateLimit => body.rate_limits.extend(rate_limit::check(cx, ctx, name, span, block)),
            ConstructKind::Threshold => body.thresholds.extend(threshold::check(cx, ctx, name, span, block)),
            ConstructKind::Slo => body.slos.extend(slo::check(cx, ctx, name, span, block)),
            ConstructKind::Versioned => body.versioned.extend(versioned::check(cx, ctx, name, span, block)),
            ConstructKind::Bundle => body.bundles.extend(bundle::check(cx, ctx, name, span, block)),
            ConstructKind::Dashboard => body.dashboards.extend(dashboard::check(cx, ctx, name, span, block)),
        }
    }
    body
}

impl Body {
    /// Appends another part's constructs after this part's. The pattern names every field,
    /// so a kind added to [`Body`] cannot be forgotten here.
    fn append(&mut self, other: Body) {
        let Body { mut ledgers, mut invariants, mut rate_limits, mut thresholds, mut slos, mut versioned, mut bundles, mut dashboards } =
            other;
        self.ledgers.append(&mut ledgers);
        self.invariants.append(&mut invariants);
        self.rate_limits.append(&mut rate_limits);
        self.thresholds.append(&mut thresholds);
        self.slos.append(&mut slos);
        self.versioned.append(&mut versioned);
        self.bundles.append(&mut bundles);
        self.dashboards.append(&mut dashboards);
    }
}
