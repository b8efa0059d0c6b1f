//! `rate_limit`: the limit, the keys it tracks, and its rejected-ratio alert.

use super::Ctx;
use super::shared::{comparator, doc, for_duration, misplaced, split};
use crate::ast::{Block, Condition, StatementKind, Value, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, MAX_RATIO_DECIMAL_PLACES, Severity};
use crate::span::Span;
use crate::units::Duration;
use pip_conventions::rate_limit;

/// Keys tracked by a rate limiter when the spec does not say.
pub const DEFAULT_MAX_KEYS: u64 = rate_limit::DEFAULT_MAX_KEYS;

/// The settings of a `rate_limit` block.
pub(super) const SETTINGS: [&str; 8] = ["doc", "key", "limit", "max_keys", "on_backend_failure", "backend_timeout", "severity", "runbook"];

/// Checks a `rate_limit` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::RateLimit> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "rate_limit", span, &SETTINGS, assigns);
    let doc = doc(cx, &s);
    let key = s.require(cx, "rate_limit", name, "key", "tenant").and_then(|v| match &v.kind {
        ValueKind::Path(p) => Some(p.clone()),
        ValueKind::Str(st) => values::string(cx, st),
        _ => {
            cx.push(
                Diagnostic::error(Code::TypeMismatch, v.span, format!("expected the name of the request key, found {}", v.kind.describe()))
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
    let on_backend_failure = s.get("on_backend_failure").map_or(Some(ir::BackendFailure::default()), |v| backend_failure(cx, v));
    let backend_timeout = s.get("backend_timeout").map_or(Some(ir::DEFAULT_BACKEND_TIMEOUT), |v| backend_timeout(cx, v));
    let severity = s.require(cx, "rate_limit", name, "severity", "P2").and_then(|v| values::severity(cx, v));
    let runbook = ctx.runbook(cx, &s, name);
    let mut alert: Option<Option<ir::RatioAlert>> = None;
    for st in others {
        match &st.kind {
            StatementKind::Condition(c) if alert.is_none() => alert = Some(ratio_alert(cx, c, severity, st.span)),
            StatementKind::Condition(_) => {
                cx.push(
                    Diagnostic::error(Code::DuplicateSetting, st.span, "a rate limit has one alert condition").label("second condition"),
                );
            }
            _ => misplaced(
                cx,
                "rate_limit",
                st,
                "`key`, `limit`, `max_keys`, `on_backend_failure`, `backend_timeout`, `severity`, `doc`, `runbook` and `alert when rejected_ratio > ...`",
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
        on_backend_failure: on_backend_failure?,
        backend_timeout: backend_timeout?,
        severity: severity?,
        // An erroneous condition returned above, so only "no condition" remains as None.
        alert: alert.flatten(),
        runbook,
    })
}

/// `on_backend_failure = allow | deny`.
fn backend_failure(cx: &mut Cx<'_>, v: &Value) -> Option<ir::BackendFailure> {
    let words = ir::BackendFailure::ALL.map(ir::BackendFailure::as_str);
    let ValueKind::Path(word) = &v.kind else {
        cx.push(
            Diagnostic::error(
                Code::TypeMismatch,
                v.span,
                format!("expected `allow` or `deny` for `on_backend_failure`, found {}", v.kind.describe()),
            )
            .label("not a policy")
            .help(BACKEND_FAILURE_HELP),
        );
        return None;
    };
    if let Some(p) = ir::BackendFailure::ALL.into_iter().find(|p| p.as_str() == word.as_str()) {
        return Some(p);
    }
    let help = values::did_you_mean(word, words).unwrap_or_else(|| BACKEND_FAILURE_HELP.to_string());
    cx.push(
        Diagnostic::error(Code::UnknownValue, v.span, format!("`{word}` is not a backend failure policy"))
            .label(format!("expected {}", values::one_of(&words)))
            .help(help),
    );
    None
}

/// What the two backend failure policies mean, for a help line.
const BACKEND_FAILURE_HELP: &str = "`allow` admits requests while the shared backend fails (fail open: the limit does not hold meanwhile); `deny` refuses them (fail closed: every request is refused meanwhile)";

/// `backend_timeout = 50ms`: longer than zero, at most [`ir::MAX_BACKEND_TIMEOUT`].
fn backend_timeout(cx: &mut Cx<'_>, v: &Value) -> Option<Duration> {
    let why = format!(
        "the timeout is spent on the request's path at every decision while the backend is down; at most {} (choose `on_backend_failure = deny` to refuse rather than wait)",
        ir::MAX_BACKEND_TIMEOUT
    );
    let d = values::duration_at_most(cx, v, "`backend_timeout`", ir::MAX_BACKEND_TIMEOUT, &why)?;
    if d.is_zero() {
        cx.push(
            Diagnostic::error(Code::ZeroWindow, v.span, "`backend_timeout` is zero")
                .label("zero")
                .help(format!("a decision needs time to reach the backend; the default is {}", ir::DEFAULT_BACKEND_TIMEOUT)),
        );
        return None;
    }
    Some(d)
}

/// `100 per 1s` → (100, 1s).
fn rate(cx: &mut Cx<'_>, v: &Value) -> Option<(u64, Duration)> {
    let ValueKind::Rate { count, per } = &v.kind else {
        cx.push(
            Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a rate such as `100 per 1s`, found {}", v.kind.describe()))
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
                        Diagnostic::error(Code::ZeroRate, count.span, "a rate limit of zero admits nothing")
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
                        Diagnostic::error(Code::TypeMismatch, count.span, format!("expected a whole number of requests, found `{n}`"))
                            .label("not a whole number"),
                    );
                    None
                }
            }
        }
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::TypeMismatch,
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
        Diagnostic::error(Code::TooLarge, span, format!("the limit is larger than {max} requests per window"))
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
                Code::ConditionLevel,
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
                Diagnostic::error(Code::ConditionMetric, m.span, format!("a rate limit alerts on `rejected_ratio`, not `{}`", m.name))
                    .label("unknown measure");
            if let Some(h) = values::did_you_mean(&m.name, ["rejected_ratio"]) {
                d = d.help(h);
            }
            cx.push(d);
        }
        None => cx.push(
            Diagnostic::error(Code::ConditionMetric, c.op.span, "say what the alert measures")
                .label("expected `rejected_ratio` before the comparison")
                .help("write `alert when rejected_ratio > 0.05 for 5m`"),
        ),
    }
    let op = comparator(cx, &c.op);
    if let Some(o) = op.filter(|o| !o.is_upper_bound()) {
        cx.push(
            Diagnostic::error(Code::Comparator, c.op.span, format!("`rejected_ratio {}` alerts when rejections are rare", o.as_str()))
                .label("alerts on the healthy side")
                .help("use `>` or `>=`"),
        );
    }
    let ratio = values::number(cx, &c.value, "the rejected ratio");
    if let Some(r) = ratio.filter(|r| !(*r > 0.0 && *r < 1.0)) {
        cx.push(
            Diagnostic::error(Code::InvalidRatio, c.value.span, format!("a ratio threshold of {r} can never be crossed usefully"))
                .label("outside (0, 1)")
                .help("the rejected ratio is between 0 and 1; e.g. `0.05` alerts when more than 5% of requests are rejected"),
        );
    }
    if let Some(r) = ratio.filter(|r| *r > 0.0 && *r < 1.0 && ir::decimal_places(*r) > MAX_RATIO_DECIMAL_PLACES) {
        let places = MAX_RATIO_DECIMAL_PLACES;
        let smallest = format!("0.{}1", "0".repeat(places.saturating_sub(1)));
        cx.push(
            Diagnostic::error(
                Code::InvalidRatio,
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
