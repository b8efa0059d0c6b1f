//! `threshold`: a checked PromQL expression, its Grafana unit, recording rule and warn and
//! critical conditions.

use super::Ctx;
use super::shared::{comparator, doc, for_duration, misplaced, split};
use crate::ast::{Block, Condition, StatementKind, ValueKind};
use crate::ast_to_ir::promql;
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, Level, Severity};
use crate::span::Span;

/// Grafana unit ids that pip knows; others are passed through with a warning.
pub const GRAFANA_UNITS: [&str; 36] = [
    "none",
    "short",
    "percent",
    "percentunit",
    "ns",
    "µs",
    "ms",
    "s",
    "m",
    "h",
    "d",
    "dtdurations",
    "bytes",
    "decbytes",
    "bits",
    "decbits",
    "kbytes",
    "mbytes",
    "gbytes",
    "Bps",
    "bps",
    "binBps",
    "reqps",
    "rps",
    "wps",
    "ops",
    "opm",
    "iops",
    "cps",
    "hertz",
    "locale",
    "bool",
    "bool_yes_no",
    "currencyUSD",
    "currencyEUR",
    "dateTimeAsIso",
];

/// The settings (`key = value` lines) a `threshold` block accepts.
pub(super) const SETTINGS: [&str; 5] = ["doc", "expr", "unit", "record", "runbook"];

/// Checks a `threshold` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Threshold> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "threshold", span, &SETTINGS, assigns);
    let doc = doc(cx, &s);
    let query = s.require(cx, "threshold", name, "expr", "`sum(rate(errors_total[5m]))`").and_then(|v| match &v.kind {
        ValueKind::Promql(text) => promql::check(cx, text, v.span).map(|q| (text.clone(), q)),
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    v.span,
                    format!("expected a PromQL expression in backticks, found {}", v.kind.describe()),
                )
                .label("not PromQL")
                .help("write the query between backticks: expr = `sum(rate(http_requests_total[5m]))`"),
            );
            None
        }
    });
    let unit = match s.get("unit") {
        None => Some("none".to_string()),
        Some(v) => {
            let u = match &v.kind {
                ValueKind::Path(p) => Some(p.clone()),
                ValueKind::Str(st) => values::string(cx, st),
                _ => {
                    cx.push(
                        Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a Grafana unit, found {}", v.kind.describe()))
                            .label("not a unit"),
                    );
                    None
                }
            };
            if let Some(u) = &u
                && !GRAFANA_UNITS.contains(&u.as_str())
            {
                let mut d = Diagnostic::warning(Code::UnknownUnit, v.span, format!("`{u}` is not a Grafana unit pip knows"))
                    .label("passed to Grafana as is");
                d = match values::did_you_mean(u, GRAFANA_UNITS) {
                    Some(h) => d.help(h),
                    None => d.help("common units: none, short, percent, percentunit, s, ms, bytes, reqps, ops"),
                };
                cx.push(d);
            }
            u
        }
    };
    let record = match s.get("record") {
        None => Some(None),
        Some(v) => values::nonempty_string(cx, v, "the recording rule name").and_then(|r| {
            if pip_conventions::is_valid_metric_name(&r) {
                Some(Some(r))
            } else {
                cx.push(
                    Diagnostic::error(Code::InvalidMetricName, v.span, format!("`{r}` is not a valid Prometheus metric name"))
                        .label("invalid metric name")
                        .help("metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, e.g. \"job:http_errors:ratio_rate5m\""),
                );
                None
            }
        }),
    };
    let runbook = ctx.runbook(cx, &s, name);
    let mut conditions: Vec<(ir::ThresholdCondition, Span)> = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Condition(c) => {
                if let Some(cond) = threshold_condition(cx, c, st.span) {
                    if let Some((_, first)) = conditions.iter().find(|(x, _)| x.level == cond.level) {
                        cx.push(
                            Diagnostic::error(Code::DuplicateSetting, c.level.span, format!("`{}` is given twice", cond.level.as_str()))
                                .label("again")
                                .also(*first, "first here"),
                        );
                        continue;
                    }
                    conditions.push((cond, st.span));
                }
            }
            _ => misplaced(cx, "threshold", st, "`expr`, `unit`, `record`, `doc`, `runbook`, `warn when ...` and `critical when ...`"),
        }
    }
    if conditions.is_empty() && cx.error_count() == before {
        cx.push(
            Diagnostic::error(Code::MissingSetting, span, format!("threshold `{name}` has no condition"))
                .label("needs `warn when ...` or `critical when ...`")
                .help("add e.g. `critical when > 0.05 for 2m severity P0`"),
        );
    }
    check_order(cx, &conditions);
    if cx.error_count() > before {
        return None;
    }
    conditions.sort_by_key(|(c, _)| c.level);
    let (expr, q) = query?;
    Some(ir::Threshold {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        expr,
        expr_normalized: q.normalized,
        metrics: q.metrics,
        selectors: q.selectors,
        unit: unit?,
        record: record?,
        conditions: conditions.into_iter().map(|(c, _)| c).collect(),
        runbook,
    })
}

fn threshold_condition(cx: &mut Cx<'_>, c: &Condition, span: Span) -> Option<ir::ThresholdCondition> {
    let before = cx.error_count();
    let level = match c.level.name.as_str() {
        "warn" => Some(Level::Warn),
        "critical" => Some(Level::Critical),
        other => {
            let mut d =
                Diagnostic::error(Code::ConditionLevel, c.level.span, format!("`{other}` is not a threshold level")).label("unknown level");
            d = match values::did_you_mean(other, ["warn", "critical"]) {
                Some(h) => d.help(h),
                None => d.help("a threshold has `warn when ...` and/or `critical when ...`"),
            };
            cx.push(d);
            None
        }
    };
    if let Some(m) = &c.metric {
        cx.push(
            Diagnostic::error(Code::ConditionMetric, m.span, "a threshold compares its `expr`; it names no other measure")
                .label("unexpected name")
                .help("write `warn when > 0.01 for 10m`"),
        );
    }
    let op = comparator(cx, &c.op);
    let value = values::number(cx, &c.value, "the threshold");
    let for_ = for_duration(cx, c.for_.as_ref());
    let severity = match (&c.severity, level) {
        (Some(v), _) => values::severity(cx, v),
        (None, Some(Level::Critical)) => Some(Severity::P1),
        (None, _) => Some(Severity::P2),
    };
    if cx.error_count() > before {
        return None;
    }
    Some(ir::ThresholdCondition { level: level?, op: op?, value: value?, for_: for_?, severity: severity?, source: cx.src(span) })
}

/// warn fires before critical: for upper bounds warn < critical, for lower bounds warn > critical.
fn check_order(cx: &mut Cx<'_>, conditions: &[(ir::ThresholdCondition, Span)]) {
    let warn = conditions.iter().find(|(c, _)| c.level == Level::Warn);
    let crit = conditions.iter().find(|(c, _)| c.level == Level::Critical);
    let (Some((w, ws)), Some((c, cs))) = (warn, crit) else { return };
    if w.op.is_upper_bound() != c.op.is_upper_bound() {
        cx.push(
            Diagnostic::error(Code::ThresholdOrder, *cs, "`warn` and `critical` bound the value from opposite sides")
                .label("this bound")
                .also(*ws, "and this one")
                .help("both should use `>`/`>=` (too high is bad) or both `<`/`<=` (too low is bad)"),
        );
        return;
    }
    let ordered = if w.op.is_upper_bound() { w.value < c.value } else { w.value > c.value };
    if !ordered {
        let (rel, side) = if w.op.is_upper_bound() { ("below", "lower") } else { ("above", "higher") };
        cx.push(
            Diagnostic::error(
                Code::ThresholdOrder,
                *ws,
                format!("the warn threshold {} must be {rel} the critical threshold {}", w.value, c.value),
            )
            .label("warn threshold")
            .also(*cs, "critical threshold")
            .help(format!("warn should fire first: give it the {side} value")),
        );
    }
}
