//! `invariant`, `rate_limit`, `threshold` and `versioned`: the constructs that alert.

use super::{Ctx, misplaced, split};
use crate::ast::{Block, Condition, StatementKind, Value, ValueKind};
use crate::ast_to_ir::promql;
use crate::ast_to_ir::rust_expr::{self, Clause};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::Diagnostic;
use crate::ir::{self, Comparator, ConstructKind, Level, MAX_FOR, MAX_RATIO_DECIMAL_PLACES, OnViolation, Severity};
use crate::span::Span;
use crate::units::Duration;
use pip_conventions::rate_limit;

/// Keys tracked by a rate limiter when the spec does not say.
pub const DEFAULT_MAX_KEYS: u64 = rate_limit::DEFAULT_MAX_KEYS;

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

fn evidence(cx: &mut Cx<'_>, ctx: &Ctx<'_>, s: &Settings<'_>) -> Option<Option<String>> {
    match s.get("evidence") {
        None => Some(None),
        Some(v) => {
            let (target, span) = values::reference(cx, v, "the evidence ledger")?;
            ctx.names.resolve(cx, target, span, &[ConstructKind::Ledger], "`evidence`").map(|r| Some(r.name))
        }
    }
}

fn doc(cx: &mut Cx<'_>, s: &Settings<'_>) -> Option<String> {
    s.get("doc").and_then(|v| values::string_value(cx, v))
}

pub(crate) fn invariant(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Invariant> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s =
        Settings::collect(cx, "invariant", span, &["doc", "severity", "on_violation", "evidence", "evidence_values", "runbook"], assigns);
    let doc = doc(cx, &s);
    let severity = s.require(cx, "invariant", name, "severity", "P1").and_then(|v| values::severity(cx, v));
    let on_violation = match s.get("on_violation") {
        None => Some(OnViolation::Deny),
        Some(v) => values::choice(cx, v, "violation policy", &["deny", "record"])
            .map(|c| if c == "deny" { OnViolation::Deny } else { OnViolation::Record }),
    };
    let evidence = evidence(cx, ctx, &s);
    let evidence_values = match s.get("evidence_values") {
        None => Some(ctx.evidence_values),
        Some(v) => values::evidence_values(cx, v),
    };
    let runbook = ctx.runbook(cx, &s, name);
    let mut requires = Vec::new();
    let mut ensures = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Requires(e) => requires.extend(rust_expr::check(cx, e, Clause::Requires)),
            StatementKind::Ensures(e) => ensures.extend(rust_expr::check(cx, e, Clause::Ensures)),
            _ => misplaced(
                cx,
                "invariant",
                st,
                "`requires`, `ensures`, `severity`, `on_violation`, `evidence`, `evidence_values`, `doc` and `runbook`",
            ),
        }
    }
    if block.statements.iter().all(|st| !matches!(st.kind, StatementKind::Requires(_) | StatementKind::Ensures(_))) {
        cx.push(
            Diagnostic::error("pips::missing-setting", span, format!("invariant `{name}` checks nothing"))
                .label("no `requires` or `ensures`")
                .help("add `requires <expr>` (checked on entry) or `ensures <expr>` (checked on every return)"),
        );
    }
    if cx.error_count() > before {
        return None;
    }
    if matches!(evidence, Some(None)) {
        cx.push(
            Diagnostic::warning("pips::no-evidence", span, format!("violations of `{name}` leave no evidence"))
                .label("no `evidence` ledger")
                .help("add `evidence = <ledger>` so that each violation is appended to a tamper-evident ledger"),
        );
    }
    Some(ir::Invariant {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        severity: severity?,
        requires,
        ensures,
        on_violation: on_violation?,
        evidence: evidence?,
        evidence_values: evidence_values?,
        runbook,
    })
}

fn comparator(cx: &mut Cx<'_>, op: &crate::ast::Ident) -> Option<Comparator> {
    let c = match op.name.as_str() {
        ">" => Comparator::Gt,
        ">=" => Comparator::Ge,
        "<" => Comparator::Lt,
        "<=" => Comparator::Le,
        other => {
            cx.push(
                Diagnostic::error("pips::comparator", op.span, format!("`{other}` cannot bound a threshold"))
                    .label("not an ordering")
                    .help("use `>`, `>=`, `<` or `<=`"),
            );
            return None;
        }
    };
    Some(c)
}

fn for_duration(cx: &mut Cx<'_>, v: Option<&Value>) -> Option<Duration> {
    match v {
        None => Some(Duration::default()),
        Some(v) => {
            let why = format!(
                "an alert's `for` is at most {MAX_FOR}: the generated promtool tests evaluate the alert through its whole pending period"
            );
            values::duration_at_most(cx, v, "the `for` duration", MAX_FOR, &why)
        }
    }
}

pub(crate) fn rate_limit(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::RateLimit> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "rate_limit", span, &["doc", "key", "limit", "max_keys", "severity", "runbook"], assigns);
    let doc = doc(cx, &s);
    let key = s.require(cx, "rate_limit", name, "key", "tenant").and_then(|v| match &v.kind {
        ValueKind::Path(p) => Some(p.clone()),
        ValueKind::Str(st) => values::string(cx, st),
        _ => {
            cx.push(
                Diagnostic::error(
                    "pips::type-mismatch",
                    v.span,
                    format!("expected the name of the request key, found {}", v.kind.describe()),
                )
                .label("not a key name")
                .help("name what requests are counted by, e.g. `key = tenant` or `key = client_ip`"),
            );
            None
        }
    });
    let limit = s.require(cx, "rate_limit", name, "limit", "100 per 1s").and_then(|v| rate(cx, v));
    let max_keys = s.get("max_keys").map_or(Some(DEFAULT_MAX_KEYS), |v| {
        let why = format!("the runtime tracks at most {} keys per rate limit", rate_limit::MAX_KEYS_MAX);
        values::count_at_most(cx, v, "`max_keys`", rate_limit::MAX_KEYS_MAX, &why)
    });
    let severity = s.require(cx, "rate_limit", name, "severity", "P2").and_then(|v| values::severity(cx, v));
    let runbook = ctx.runbook(cx, &s, name);
    let mut alert: Option<Option<ir::RatioAlert>> = None;
    for st in others {
        match &st.kind {
            StatementKind::Condition(c) if alert.is_none() => alert = Some(ratio_alert(cx, c, severity, st.span)),
            StatementKind::Condition(_) => {
                cx.push(
                    Diagnostic::error("pips::duplicate-setting", st.span, "a rate limit has one alert condition").label("second condition"),
                );
            }
            _ => misplaced(
                cx,
                "rate_limit",
                st,
                "`key`, `limit`, `max_keys`, `severity`, `doc`, `runbook` and `alert when rejected_ratio > ...`",
            ),
        }
    }
    if cx.error_count() > before {
        return None;
    }
    let (limit, window) = limit?;
    Some(ir::RateLimit {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        key: key?,
        limit,
        window,
        max_keys: max_keys?,
        severity: severity?,
        // An erroneous condition returned above, so only "no condition" remains as None.
        alert: alert.flatten(),
        runbook,
    })
}

/// `100 per 1s` → (100, 1s).
fn rate(cx: &mut Cx<'_>, v: &Value) -> Option<(u64, Duration)> {
    let ValueKind::Rate { count, per } = &v.kind else {
        cx.push(
            Diagnostic::error("pips::type-mismatch", v.span, format!("expected a rate such as `100 per 1s`, found {}", v.kind.describe()))
                .label("not a rate")
                .help("write `<requests> per <window>`, e.g. `100 per 1s`"),
        );
        return None;
    };
    let n = match &count.kind {
        ValueKind::Number(n) => {
            let clean: String = n.chars().filter(|c| *c != '_').collect();
            match clean.parse::<u64>() {
                Ok(0) => {
                    cx.push(
                        Diagnostic::error("pips::zero-rate", count.span, "a rate limit of zero admits nothing")
                            .label("zero")
                            .help("the limit must be at least 1 request per window; to block everything, do not route the traffic"),
                    );
                    None
                }
                Ok(x) if x <= rate_limit::LIMIT_MAX => Some(x),
                Ok(_) => too_large_limit(cx, count.span),
                Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => too_large_limit(cx, count.span),
                Err(_) => {
                    cx.push(
                        Diagnostic::error("pips::type-mismatch", count.span, format!("expected a whole number of requests, found `{n}`"))
                            .label("not a whole number"),
                    );
                    None
                }
            }
        }
        _ => {
            cx.push(
                Diagnostic::error(
                    "pips::type-mismatch",
                    count.span,
                    format!("expected a number of requests, found {}", count.kind.describe()),
                )
                .label("not a count"),
            );
            None
        }
    };
    let window = values::positive_duration(cx, per, "the rate window");
    Some((n?, window?))
}

fn too_large_limit(cx: &mut Cx<'_>, span: Span) -> Option<u64> {
    let max = rate_limit::LIMIT_MAX;
    cx.push(
        Diagnostic::error("pips::too-large", span, format!("the limit is larger than {max} requests per window"))
            .label("too large")
            .help(format!(
                "the runtime keeps the time of each request it admits for a key and counts them in 32 bits, so a limit is at most {max} per window"
            )),
    );
    None
}

fn ratio_alert(cx: &mut Cx<'_>, c: &Condition, default: Option<Severity>, span: Span) -> Option<ir::RatioAlert> {
    let before = cx.error_count();
    if c.level.name != "alert" {
        cx.push(
            Diagnostic::error(
                "pips::condition-level",
                c.level.span,
                format!("a rate limit's condition is `alert when ...`, not `{} when ...`", c.level.name),
            )
            .label("expected `alert`")
            .help("write `alert when rejected_ratio > 0.05 for 5m`"),
        );
    }
    match &c.metric {
        Some(m) if m.name == "rejected_ratio" => {}
        Some(m) => {
            let mut d =
                Diagnostic::error("pips::condition-metric", m.span, format!("a rate limit alerts on `rejected_ratio`, not `{}`", m.name))
                    .label("unknown measure");
            if let Some(h) = values::did_you_mean(&m.name, ["rejected_ratio"]) {
                d = d.help(h);
            }
            cx.push(d);
        }
        None => cx.push(
            Diagnostic::error("pips::condition-metric", c.op.span, "say what the alert measures")
                .label("expected `rejected_ratio` before the comparison")
                .help("write `alert when rejected_ratio > 0.05 for 5m`"),
        ),
    }
    let op = comparator(cx, &c.op);
    if let Some(o) = op.filter(|o| !o.is_upper_bound()) {
        cx.push(
            Diagnostic::error("pips::comparator", c.op.span, format!("`rejected_ratio {}` alerts when rejections are rare", o.as_str()))
                .label("alerts on the healthy side")
                .help("use `>` or `>=`"),
        );
    }
    let ratio = values::number(cx, &c.value, "the rejected ratio");
    if let Some(r) = ratio.filter(|r| !(*r > 0.0 && *r < 1.0)) {
        cx.push(
            Diagnostic::error("pips::invalid-ratio", c.value.span, format!("a ratio threshold of {r} can never be crossed usefully"))
                .label("outside (0, 1)")
                .help("the rejected ratio is between 0 and 1; e.g. `0.05` alerts when more than 5% of requests are rejected"),
        );
    }
    if let Some(r) = ratio.filter(|r| *r > 0.0 && *r < 1.0 && ir::decimal_places(*r) > MAX_RATIO_DECIMAL_PLACES) {
        let places = MAX_RATIO_DECIMAL_PLACES;
        let smallest = format!("0.{}1", "0".repeat(places.saturating_sub(1)));
        cx.push(
            Diagnostic::error(
                "pips::invalid-ratio",
                c.value.span,
                format!("a ratio threshold of {r} has {} decimal places, more than {places}", ir::decimal_places(r)),
            )
            .label(format!("more than {places} decimal places"))
            .help(format!(
                "a rejected-ratio threshold has at most {places} decimal places (the smallest is {smallest}), so that the generated promtool tests count requests exactly; try `{}`",
                rounded_ratio(r, places)
            )),
        );
    }
    let for_ = for_duration(cx, c.for_.as_ref());
    let severity = match &c.severity {
        Some(v) => values::severity(cx, v),
        None => default,
    };
    if cx.error_count() > before {
        return None;
    }
    Some(ir::RatioAlert { op: op?, ratio: ratio?, for_: for_?, severity: severity?, source: cx.src(span) })
}

/// `r` (in (0, 1)) rounded to `places` decimal places, kept inside (0, 1), in its shortest form.
fn rounded_ratio(r: f64, places: usize) -> String {
    let text = format!("{r:.places$}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    match trimmed.parse::<f64>() {
        Ok(x) if x <= 0.0 => format!("0.{}1", "0".repeat(places.saturating_sub(1))),
        Ok(x) if x >= 1.0 => format!("0.{}", "9".repeat(places)),
        _ => trimmed.to_string(),
    }
}

pub(crate) fn threshold(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Threshold> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "threshold", span, &["doc", "expr", "unit", "record", "runbook"], assigns);
    let doc = doc(cx, &s);
    let query = s.require(cx, "threshold", name, "expr", "`sum(rate(errors_total[5m]))`").and_then(|v| match &v.kind {
        ValueKind::Promql(text) => promql::check(cx, text, v.span).map(|q| (text.clone(), q)),
        _ => {
            cx.push(
                Diagnostic::error(
                    "pips::type-mismatch",
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
                        Diagnostic::error("pips::type-mismatch", v.span, format!("expected a Grafana unit, found {}", v.kind.describe()))
                            .label("not a unit"),
                    );
                    None
                }
            };
            if let Some(u) = &u
                && !GRAFANA_UNITS.contains(&u.as_str())
            {
                let mut d = Diagnostic::warning("pips::unknown-unit", v.span, format!("`{u}` is not a Grafana unit pip knows"))
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
                    Diagnostic::error("pips::invalid-metric-name", v.span, format!("`{r}` is not a valid Prometheus metric name"))
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
                            Diagnostic::error("pips::duplicate-setting", c.level.span, format!("`{}` is given twice", cond.level.as_str()))
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
            Diagnostic::error("pips::missing-setting", span, format!("threshold `{name}` has no condition"))
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
            let mut d = Diagnostic::error("pips::condition-level", c.level.span, format!("`{other}` is not a threshold level"))
                .label("unknown level");
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
            Diagnostic::error("pips::condition-metric", m.span, "a threshold compares its `expr`; it names no other measure")
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
            Diagnostic::error("pips::threshold-order", *cs, "`warn` and `critical` bound the value from opposite sides")
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
                "pips::threshold-order",
                *ws,
                format!("the warn threshold {} must be {rel} the critical threshold {}", w.value, c.value),
            )
            .label("warn threshold")
            .also(*cs, "critical threshold")
            .help(format!("warn should fire first: give it the {side} value")),
        );
    }
}

pub(crate) fn versioned(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Versioned> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "versioned", span, &["doc", "history", "severity", "evidence", "runbook"], assigns);
    let doc = doc(cx, &s);
    let history = s.require(cx, "versioned", name, "history", "1000").and_then(|v| values::count(cx, v, "`history`"));
    let severity = s.require(cx, "versioned", name, "severity", "P1").and_then(|v| values::severity(cx, v));
    let evidence = evidence(cx, ctx, &s);
    let runbook = ctx.runbook(cx, &s, name);
    for st in others {
        misplaced(cx, "versioned", st, "`history`, `severity`, `evidence`, `doc` and `runbook`");
    }
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Versioned {
        name: name.to_string(),
        source: cx.src(span),
        doc,
        history: history?,
        severity: severity?,
        evidence: evidence?,
        runbook,
    })
}
