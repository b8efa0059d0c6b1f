//! `slo`: an objective over a period, the SLI it measures (`sli`), its grouping labels and its
//! burn-rate alert tiers (`tiers`).

mod sli;
mod tiers;

use super::Ctx;
use super::shared::{doc, misplaced, split};
use crate::ast::{Block, StatementKind, Value, ValueKind};
use crate::ast_to_ir::values::{self, Cx, Settings};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{self, MAX_OBJECTIVE_DECIMAL_PLACES, MAX_PERIOD, MIN_PERIOD, Severity};
use crate::span::Span;
use crate::units::Duration;

/// The settings of an `slo` block.
pub(super) const SETTINGS: [&str; 13] =
    ["doc", "objective", "period", "total", "good", "bad", "latency", "le", "buckets", "by", "severity", "ticket_severity", "runbook"];

/// The severity of the page tiers when the `slo` does not set `severity`.
pub const DEFAULT_SEVERITY: Severity = Severity::P1;
/// The severity of the ticket tiers when the `slo` does not set `ticket_severity`.
pub const DEFAULT_TICKET_SEVERITY: Severity = Severity::P3;

/// Checks an `slo` block into its IR node; `None` when it has errors (each one reported to `cx`).
pub(crate) fn check(cx: &mut Cx<'_>, ctx: &Ctx<'_>, name: &str, span: Span, block: &Block) -> Option<ir::Slo> {
    let before = cx.error_count();
    let (assigns, others) = split(block);
    let s = Settings::collect(cx, "slo", span, &SETTINGS, assigns);
    let doc = doc(cx, &s);
    let objective_value = s.require(cx, "slo", name, "objective", "99.9%");
    let objective = objective_value.and_then(|v| objective(cx, v));
    let period = s.require(cx, "slo", name, "period", "30d").and_then(|v| period(cx, v));
    let sli = sli::check(cx, &s, name, span);
    let group_by = s.get("by").map_or(Some(Vec::new()), |v| group_by(cx, v));
    let severity = s.get("severity").map_or(Some(DEFAULT_SEVERITY), |v| values::severity(cx, v));
    let ticket_severity = s.get("ticket_severity").map_or(Some(DEFAULT_TICKET_SEVERITY), |v| values::severity(cx, v));
    let runbook = ctx.runbook(cx, &s, name);
    let mut lines = Vec::new();
    for st in others {
        match &st.kind {
            StatementKind::Burn { factor, long, short, severity: sv } => {
                lines.extend(tiers::burn_line(cx, tiers::Line { factor, long, short, severity: sv.as_ref(), span: st.span }, severity));
            }
            _ => misplaced(
                cx,
                "slo",
                st,
                "`objective`, `period`, `total` with `good` or `bad`, or `latency` with `le` and `buckets`, `by`, `severity`, `ticket_severity`, `doc`, `runbook` and `burn ... over ... and ...` lines",
            ),
        }
    }
    let written = !lines.is_empty();
    let source = cx.src(span);
    let tiers = match (objective, period) {
        (Some(o), Some(p)) if written => tiers::check_written(cx, lines, o, p),
        (Some(o), Some(p)) => match (severity, ticket_severity, objective_value) {
            (Some(sev), Some(ticket), Some(ov)) => tiers::check_defaults(cx, ov.span, o, p, (sev, ticket), source.clone()),
            _ => None,
        },
        _ => None,
    };
    if cx.error_count() > before {
        return None;
    }
    Some(ir::Slo {
        name: name.to_string(),
        source,
        doc,
        objective: objective?,
        period: period?,
        sli: sli?,
        group_by: group_by?,
        tiers: tiers?,
        default_tiers: !written,
        runbook,
    })
}

/// `objective = 99.9%`: a percentage strictly between 0% and 100% with at most
/// [`MAX_OBJECTIVE_DECIMAL_PLACES`] decimal places as a ratio; a ratio such as `0.999` gets a
/// help that writes it as a percentage.
fn objective(cx: &mut Cx<'_>, v: &Value) -> Option<f64> {
    let text = match &v.kind {
        ValueKind::Percent(p) => p.trim_end_matches('%'),
        ValueKind::Number(n) => {
            let help = match as_percent(n) {
                Some(p) => format!("write the objective as a percentage: `{p}%`"),
                None => "write the objective as a percentage, e.g. `99.9%`".to_string(),
            };
            cx.push(
                Diagnostic::error(Code::InvalidObjective, v.span, format!("an objective is a percentage, not the number `{n}`"))
                    .label("not a percentage")
                    .help(help),
            );
            return None;
        }
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::TypeMismatch,
                    v.span,
                    format!("expected a percentage for `objective`, found {}", v.kind.describe()),
                )
                .label("not a percentage")
                .help("write the share of good events promised, e.g. `objective = 99.9%`"),
            );
            return None;
        }
    };
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let out_of_range = || {
        Diagnostic::error(Code::InvalidObjective, v.span, format!("an objective of {clean}% is not between 0% and 100%"))
            .label("outside (0%, 100%)")
            .help("an objective promises a share of good events strictly between 0% and 100%, e.g. `99.9%`: 100% leaves no error budget to alert on")
    };
    let (int, frac) = clean.split_once('.').unwrap_or((clean.as_str(), ""));
    let places = frac.trim_end_matches('0').len() + 2;
    if clean.starts_with('-') {
        cx.push(out_of_range());
        return None;
    }
    let Ok(whole) = int.parse::<u64>() else {
        cx.push(out_of_range());
        return None;
    };
    if whole >= 100 || (whole == 0 && frac.chars().all(|c| c == '0')) {
        cx.push(out_of_range());
        return None;
    }
    if places > MAX_OBJECTIVE_DECIMAL_PLACES {
        let most = MAX_OBJECTIVE_DECIMAL_PLACES - 2;
        cx.push(
            Diagnostic::error(
                Code::InvalidObjective,
                v.span,
                format!("an objective of {clean}% has more than {most} decimal places"),
            )
            .label(format!("more than {most} decimal places"))
            .help(format!(
                "an objective has at most {most} decimal places (99.{}%): a tighter one leaves an error budget no alert window can measure",
                "9".repeat(most)
            )),
        );
        return None;
    }
    // INVARIANT: `whole < 100` and the fraction has at most a few digits, so the mantissa and
    // the power of ten are exact in f64 and their quotient is the double nearest the decimal.
    let digits = frac.trim_end_matches('0');
    let mantissa: u64 = format!("{whole}{digits}").parse().ok()?;
    let scale = 10u64.checked_pow(u32::try_from(digits.len() + 2).ok()?)?;
    Some(mantissa as f64 / scale as f64)
}

/// `0.999` → `99.9`: a ratio in (0, 1) written as a percentage, by moving the decimal point
/// (no float arithmetic, so no `99.89999999999999`).
fn as_percent(number: &str) -> Option<String> {
    let clean: String = number.chars().filter(|c| *c != '_').collect();
    let x: f64 = clean.parse().ok()?;
    if !(x > 0.0 && x < 1.0) || clean.contains(['e', 'E']) {
        return None;
    }
    let (_, frac) = clean.split_once('.')?;
    let padded = format!("{frac:0<2}");
    let (int, rest) = padded.split_at(2);
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let rest = rest.trim_end_matches('0');
    Some(if rest.is_empty() { int.to_string() } else { format!("{int}.{rest}") })
}

/// `period = 30d`: from [`MIN_PERIOD`] to [`MAX_PERIOD`].
fn period(cx: &mut Cx<'_>, v: &Value) -> Option<Duration> {
    let d = values::duration(cx, v, "`period`")?;
    if d < MIN_PERIOD || d > MAX_PERIOD {
        let (message, label) = if d < MIN_PERIOD {
            (format!("a period of {} is shorter than {}", tiers::show(d), tiers::show(MIN_PERIOD)), "too short")
        } else {
            (format!("a period of {} is longer than {}", tiers::show(d), tiers::show(MAX_PERIOD)), "too long")
        };
        cx.push(Diagnostic::error(Code::SloPeriod, v.span, message).label(label).help(format!(
            "an SLO's period is from {} (room for its slowest alert tier) to {} (longer ranges are rarely retained and slow to query); `30d` and `28d` are common",
            tiers::show(MIN_PERIOD),
            tiers::show(MAX_PERIOD)
        )));
        return None;
    }
    Some(d)
}

/// `by = tenant` or `by = [tenant, route]`: valid label names, none reserved, none repeated.
fn group_by(cx: &mut Cx<'_>, v: &Value) -> Option<Vec<String>> {
    let items: Vec<&Value> = match &v.kind {
        ValueKind::List(items) => items.iter().collect(),
        _ => vec![v],
    };
    let before = cx.error_count();
    let mut labels: Vec<(String, Span)> = Vec::new();
    for item in items {
        let ValueKind::Path(label) = &item.kind else {
            cx.push(
                Diagnostic::error(Code::TypeMismatch, item.span, format!("expected a label name for `by`, found {}", item.kind.describe()))
                    .label("not a label name")
                    .help("write the labels bare: `by = [tenant, route]`"),
            );
            continue;
        };
        if !pip_conventions::is_valid_label_name(label) || label.starts_with("__") {
            cx.push(
                Diagnostic::error(Code::GroupLabel, item.span, format!("`{label}` is not a valid Prometheus label name"))
                    .label("invalid label name")
                    .help("label names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with `__`"),
            );
            continue;
        }
        if pip_conventions::RESERVED_LABELS.contains(&label.as_str()) {
            cx.push(
                Diagnostic::error(Code::GroupLabel, item.span, format!("`{label}` is a label pip sets itself")).label("reserved").help(
                    format!("pip's rules set {}; group by the service's own labels", values::one_of(&pip_conventions::RESERVED_LABELS)),
                ),
            );
            continue;
        }
        if let Some((_, first)) = labels.iter().find(|(l, _)| l == label) {
            cx.push(
                Diagnostic::error(Code::GroupLabel, item.span, format!("`{label}` is listed twice"))
                    .label("again")
                    .also(*first, "first here")
                    .help("list each label once"),
            );
            continue;
        }
        labels.push((label.clone(), item.span));
    }
    (cx.error_count() == before).then(|| labels.into_iter().map(|(l, _)| l).collect())
}

#[cfg(test)]
mod tests;
