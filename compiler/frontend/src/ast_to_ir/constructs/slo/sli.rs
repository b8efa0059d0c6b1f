//! An slo's SLI: two event counters (`total` with `good` or `bad`), or a histogram with a
//! latency bound that is one of its buckets (`latency`, `le`, `buckets`).

use crate::ast::{Value, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{CounterSelector, EventsCounted, Sli};
use crate::span::Span;
use crate::units::Duration;

const EVENTS: [&str; 3] = ["total", "good", "bad"];
const LATENCY: [&str; 3] = ["latency", "le", "buckets"];

/// The SLI of an slo's settings; `None` after reporting what is wrong.
pub(super) fn check(cx: &mut Cx<'_>, s: &Settings<'_>, name: &str, span: Span) -> Option<Sli> {
    let events = EVENTS.iter().filter_map(|k| s.assign(k)).next();
    let latency = LATENCY.iter().filter_map(|k| s.assign(k)).next();
    match (events, latency) {
        (Some(e), Some(l)) => {
            cx.push(
                Diagnostic::error(
                    Code::SliMix,
                    l.key.span,
                    format!("slo `{name}` mixes an events SLI (`{}`) with a latency SLI (`{}`)", e.key.name, l.key.name),
                )
                .label("latency SLI")
                .also(e.key.span, "events SLI")
                .help("an slo measures events (`total` with `good` or `bad`) or latency (`latency` with `le` and `buckets`); write two slos to measure both"),
            );
            None
        }
        (Some(_), None) => events_sli(cx, s, name, span),
        (None, Some(_)) => latency_sli(cx, s, name),
        (None, None) => {
            cx.push(
                Diagnostic::error(Code::MissingSetting, span, format!("slo `{name}` has no SLI"))
                    .label("needs `total` with `good` or `bad`, or `latency`")
                    .help("add e.g. `total = `http_requests_total`` and `bad = `http_requests_total{code=~\"5..\"}``, or `latency = `http_request_duration_seconds`` with `le` and `buckets`"),
            );
            None
        }
    }
}

fn events_sli(cx: &mut Cx<'_>, s: &Settings<'_>, name: &str, span: Span) -> Option<Sli> {
    let total = s.require(cx, "slo", name, "total", "`http_requests_total{job=\"api\"}`").and_then(|v| selector(cx, v, Role::Counter));
    let counted = match (s.assign("good"), s.assign("bad")) {
        (Some(g), Some(b)) => {
            let (first, second) = if g.span.start < b.span.start { (g, b) } else { (b, g) };
            cx.push(
                Diagnostic::error(Code::SliMix, second.key.span, "`good` and `bad` are both set")
                    .label("second")
                    .also(first.key.span, "first")
                    .help("give one of them: the error ratio is `bad / total`, or `1 − good / total`"),
            );
            None
        }
        (Some(g), None) => Some((EventsCounted::Good, &g.value)),
        (None, Some(b)) => Some((EventsCounted::Bad, &b.value)),
        (None, None) => {
            cx.push(
                Diagnostic::error(Code::MissingSetting, span, format!("slo `{name}` has `total` but no `good` or `bad`"))
                    .label("needs `good` or `bad`")
                    .help("add the counter of failed events, e.g. `bad = `http_requests_total{code=~\"5..\"}``, or of good ones with `good = ...`"),
            );
            None
        }
    };
    let events = counted.and_then(|(c, v)| selector(cx, v, Role::Counter).map(|sel| (c, sel)));
    let (counted, events) = events?;
    Some(Sli::Events { counted, events, total: total? })
}

fn latency_sli(cx: &mut Cx<'_>, s: &Settings<'_>, name: &str) -> Option<Sli> {
    let histogram = s
        .require(cx, "slo", name, "latency", "`http_request_duration_seconds{job=\"api\"}`")
        .and_then(|v| selector(cx, v, Role::Histogram));
    let le = s.require(cx, "slo", name, "le", "300ms").and_then(|v| values::positive_duration(cx, v, "`le`").map(|d| (d, v)));
    let buckets = s.require(cx, "slo", name, "buckets", "[100ms, 300ms, 1s]").and_then(|v| buckets(cx, v));
    let (le, le_value) = le?;
    let buckets = buckets?;
    if !buckets.contains(&le) {
        let below = buckets.iter().rev().find(|b| **b < le);
        let above = buckets.iter().find(|b| **b > le);
        let nearest = match (below, above) {
            (Some(b), Some(a)) => format!("the nearest declared buckets are {b} and {a}"),
            (Some(b), None) => format!("the largest declared bucket is {b}"),
            (None, Some(a)) => format!("the smallest declared bucket is {a}"),
            (None, None) => "no bucket is declared".to_string(),
        };
        cx.push(
            Diagnostic::error(Code::LatencyBound, le_value.span, format!("`le = {le}` is not one of the `buckets`"))
                .label("not a bucket bound")
                .help(format!(
                    "{nearest}; a histogram only counts requests at its bucket bounds, so a query on any other bound matches no series and the SLO would silently read nothing"
                )),
        );
        return None;
    }
    Some(Sli::Latency { histogram: histogram?, le: le.as_secs_f64(), buckets: buckets.iter().map(Duration::as_secs_f64).collect() })
}

/// `buckets = [5ms, 10ms, 25ms]`: durations greater than zero, strictly ascending.
fn buckets(cx: &mut Cx<'_>, v: &Value) -> Option<Vec<Duration>> {
    let ValueKind::List(items) = &v.kind else {
        cx.push(
            Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a list of bucket bounds, found {}", v.kind.describe()))
                .label("not a list")
                .help(
                    "write the histogram's bucket bounds in brackets, as its instrumentation declares them: `buckets = [100ms, 300ms, 1s]`",
                ),
        );
        return None;
    };
    if items.is_empty() {
        cx.push(
            Diagnostic::error(Code::Buckets, v.span, "`buckets` is empty")
                .label("no bucket")
                .help("list the histogram's bucket bounds, as its instrumentation declares them: `buckets = [100ms, 300ms, 1s]`"),
        );
        return None;
    }
    let before = cx.error_count();
    let mut out: Vec<(Duration, Span)> = Vec::new();
    for item in items {
        let Some(d) = values::duration(cx, item, "a bucket bound") else { continue };
        if d.is_zero() {
            cx.push(
                Diagnostic::error(Code::Buckets, item.span, "a bucket bound of zero")
                    .label("zero")
                    .help("latency bucket bounds are greater than zero"),
            );
            continue;
        }
        if let Some((prev, prev_span)) = out.last()
            && d <= *prev
        {
            cx.push(
                Diagnostic::error(Code::Buckets, item.span, format!("bucket {d} does not come after {prev}"))
                    .label("not ascending")
                    .also(*prev_span, "previous bucket")
                    .help("list the bucket bounds in strictly ascending order, each once"),
            );
            continue;
        }
        out.push((d, item.span));
    }
    (cx.error_count() == before).then(|| out.into_iter().map(|(d, _)| d).collect())
}

/// What a selector counts: events (a counter) or requests by latency (a histogram).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Counter,
    Histogram,
}

/// A selector setting: PromQL in backticks that is one plain vector selector.
fn selector(cx: &mut Cx<'_>, v: &Value, role: Role) -> Option<CounterSelector> {
    let ValueKind::Promql(text) = &v.kind else {
        cx.push(
            Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a series selector in backticks, found {}", v.kind.describe()))
                .label("not a selector")
                .help("write the selector between backticks: `http_requests_total{job=\"api\"}`"),
        );
        return None;
    };
    let sel = parse(cx, text.trim(), v.span)?;
    let before = cx.error_count();
    match role {
        // A histogram's `_count` and `_bucket` series are counters too (`bad` over a bucket, say).
        Role::Counter if !["_total", "_count", "_bucket"].iter().any(|s| sel.metric.ends_with(s)) => cx.push(
            Diagnostic::warning(Code::CounterName, v.span, format!("`{}` is not named like a counter", sel.metric))
                .label("no `_total`")
                .help("Prometheus counters end in `_total` (a histogram's in `_count` and `_bucket`); the SLI takes the `rate()` of this metric, which is meaningless for a gauge"),
        ),
        Role::Counter => {}
        Role::Histogram => {
            if let Some(suffix) = ["_bucket", "_count", "_sum"].into_iter().find(|s| sel.metric.ends_with(s)) {
                let base = sel.metric.trim_end_matches(suffix);
                cx.push(
                    Diagnostic::error(Code::SloSelector, v.span, format!("`{}` names one series of a histogram", sel.metric))
                        .label(format!("`{suffix}` series"))
                        .help(format!("name the histogram without its suffix: `{base}`; pip reads its `_bucket` and `_count` series")),
                );
            }
            if sel.matchers.iter().any(|m| m.name == "le") {
                cx.push(
                    Diagnostic::error(Code::SloSelector, v.span, "a latency selector matches on `le`")
                        .label("`le` matcher")
                        .help("remove the `le` matcher: the slo's `le = ...` setting chooses the bucket"),
                );
            }
        }
    }
    (cx.error_count() == before).then_some(sel)
}

fn bad_selector(cx: &mut Cx<'_>, span: Span, message: impl Into<String>, label: &str, help: &str) -> Option<CounterSelector> {
    cx.push(Diagnostic::error(Code::SloSelector, span, message).label(label).help(help));
    None
}

const PLAIN: &str =
    "write one series selector such as `http_requests_total{job=\"api\"}`: pip wraps it in `sum(rate(...[window]))` for each alert window";

/// Parses the selector with the PromQL parser: one vector selector with a metric name, no
/// range, offset, `@`, `or` or `__name__` matcher.
#[cfg(feature = "promql")]
fn parse(cx: &mut Cx<'_>, text: &str, span: Span) -> Option<CounterSelector> {
    use promql_parser::parser::Expr;
    let expr = match promql_parser::parser::parse(text) {
        Ok(e) => e,
        Err(msg) => return bad_selector(cx, span, format!("invalid PromQL: {}", msg.trim()), "does not parse", PLAIN),
    };
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(_) => {
            return bad_selector(
                cx,
                span,
                "an SLI selector has no range",
                "range selector",
                "remove the `[...]`: pip takes the rate over each alert window itself",
            );
        }
        _ => return bad_selector(cx, span, "an SLI selector is one series selector, not an expression", "expression", PLAIN),
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return bad_selector(
            cx,
            span,
            "an SLI selector has no `offset` or `@`",
            "modifier",
            "remove the modifier: an SLO measures the present",
        );
    }
    if !vs.matchers.or_matchers.is_empty() {
        return bad_selector(
            cx,
            span,
            "an SLI selector has no `or` between matchers",
            "`or`",
            "write one set of matchers; use a regular expression matcher (`=~`) for alternatives",
        );
    }
    if vs.matchers.matchers.iter().any(|m| m.name == "__name__") {
        return bad_selector(
            cx,
            span,
            "an SLI selector matches on `__name__`",
            "`__name__` matcher",
            "write the metric name before the braces and no `__name__` matcher",
        );
    }
    let Some(metric) = vs.name else {
        return bad_selector(
            cx,
            span,
            "the selector names no metric",
            "no metric name",
            "write the metric name before the braces: `http_requests_total{job=\"api\"}`",
        );
    };
    let matchers: Vec<crate::ir::LabelMatcher> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| crate::ir::LabelMatcher {
            name: m.name.clone(),
            op: crate::ast_to_ir::promql::op(&m.op).to_string(),
            value: m.value.clone(),
        })
        .collect();
    Some(CounterSelector { text: render(&metric, &matchers), metric, matchers })
}

/// `metric{name="value",...}` with the values escaped as PromQL strings; `metric` alone
/// without matchers.
#[cfg(feature = "promql")]
fn render(metric: &str, matchers: &[crate::ir::LabelMatcher]) -> String {
    if matchers.is_empty() {
        return metric.to_string();
    }
    let parts: Vec<String> = matchers.iter().map(|m| format!("{}{}\"{}\"", m.name, m.op, escape(&m.value))).collect();
    format!("{metric}{{{}}}", parts.join(","))
}

#[cfg(feature = "promql")]
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Without the `promql` feature (the proc-macro's build, which never reads SLOs) only the
/// metric name is read: the matchers stay empty and `text` is the selector as written.
#[cfg(not(feature = "promql"))]
fn parse(cx: &mut Cx<'_>, text: &str, span: Span) -> Option<CounterSelector> {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    let metric = text.get(..end).unwrap_or("");
    if !pip_conventions::is_valid_metric_name(metric) {
        return bad_selector(cx, span, "the selector names no metric", "no metric name", PLAIN);
    }
    Some(CounterSelector { metric: metric.to_string(), matchers: Vec::new(), text: text.to_string() })
}
