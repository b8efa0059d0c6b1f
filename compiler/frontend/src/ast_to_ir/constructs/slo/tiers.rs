//! An slo's burn-rate alert tiers: its `burn` lines, or the four default tiers scaled to its
//! period, each checked to be able to fire.

use crate::ast::{Value, ValueKind};
use crate::ast_to_ir::values::{self, Cx};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::{BurnTier, Severity};
use crate::span::{SourceRef, Span};
use crate::units::Duration;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// One default tier: the share of the error budget (in permille) it spends in its long window,
/// its long and short windows, and whether it pages (`severity`) or makes a ticket
/// (`ticket_severity`). The factor is `share × period / long`.
struct DefaultTier {
    permille: u64,
    long: Duration,
    short: Duration,
    page: bool,
}

/// The default tiers (the Google SRE workbook's multiwindow, multi-burn-rate alerts): 2 % of the
/// budget in 1h and 5 % in 6h page; 10 % in 1d and 10 % in 3d make tickets.
const DEFAULT_TIERS: [DefaultTier; 4] = [
    DefaultTier { permille: 20, long: Duration::from_millis(HOUR), short: Duration::from_millis(5 * MINUTE), page: true },
    DefaultTier { permille: 50, long: Duration::from_millis(6 * HOUR), short: Duration::from_millis(30 * MINUTE), page: true },
    DefaultTier { permille: 100, long: Duration::from_millis(DAY), short: Duration::from_millis(2 * HOUR), page: false },
    DefaultTier { permille: 100, long: Duration::from_millis(3 * DAY), short: Duration::from_millis(6 * HOUR), page: false },
];

/// The default tiers of an slo with this period, fastest first: those whose long window fits in
/// the period, each with factor `share × period / long`. The factor is one division of two
/// integers exact in f64, so it is the double nearest the exact quotient (30d gives exactly the
/// `14.4` a spec would write).
pub(super) fn default_tiers(period: Duration, severity: Severity, ticket_severity: Severity, source: &SourceRef) -> Vec<BurnTier> {
    DEFAULT_TIERS
        .iter()
        .filter(|t| t.long <= period)
        .map(|t| BurnTier {
            // INVARIANT: permille ≤ 100 and period ≤ 90d, so both products are below 2^53.
            factor: t.permille.saturating_mul(period.millis) as f64 / 1000u64.saturating_mul(t.long.millis) as f64,
            long: t.long,
            short: t.short,
            severity: if t.page { severity } else { ticket_severity },
            source: source.clone(),
        })
        .collect()
}

/// A duration for messages: whole days in days (`30d`, `45d`, where Prometheus would write
/// `4w2d`), others as Prometheus writes them.
pub(super) fn show(d: Duration) -> String {
    if d.millis >= DAY && d.millis.is_multiple_of(DAY) { format!("{}d", d.millis / DAY) } else { d.to_string() }
}

/// A `burn` line's parts, as written.
pub(super) struct Line<'a> {
    pub factor: &'a Value,
    pub long: &'a Value,
    pub short: &'a Value,
    pub severity: Option<&'a Value>,
    pub span: Span,
}

/// A checked `burn` line and where its parts are, for the checks across lines.
pub(super) struct Written {
    tier: BurnTier,
    factor_span: Span,
    long_span: Span,
    windows_span: Span,
}

/// Checks one `burn` line on its own; its severity defaults to the slo's `severity`
/// (`default`, `None` when that setting has an error of its own).
pub(super) fn burn_line(cx: &mut Cx<'_>, line: Line<'_>, default: Option<Severity>) -> Option<Written> {
    let before = cx.error_count();
    let factor = factor(cx, line.factor);
    let long = values::positive_duration(cx, line.long, "the long window");
    let short = values::positive_duration(cx, line.short, "the short window");
    if let (Some(l), Some(s)) = (long, short)
        && s >= l
    {
        cx.push(
            Diagnostic::error(Code::BurnTier, line.short.span, format!("the short window {} is not shorter than the long window {}", show(s), show(l)))
                .label("not shorter")
                .also(line.long.span, "long window")
                .help("the short window lets the alert stop soon after the burn does; it is usually a twelfth of the long one, as in `over 1h and 5m`"),
        );
    }
    let severity = match line.severity {
        Some(v) => values::severity(cx, v),
        None => default,
    };
    if cx.error_count() > before {
        return None;
    }
    Some(Written {
        tier: BurnTier { factor: factor?, long: long?, short: short?, severity: severity?, source: cx.src(line.span) },
        factor_span: line.factor.span,
        long_span: line.long.span,
        windows_span: line.long.span.to(line.short.span),
    })
}

/// `14.4x`: a finite factor greater than zero.
fn factor(cx: &mut Cx<'_>, v: &Value) -> Option<f64> {
    let parsed = match &v.kind {
        ValueKind::Quantity(q) => q.strip_suffix('x').and_then(|n| n.chars().filter(|c| *c != '_').collect::<String>().parse::<f64>().ok()),
        _ => None,
    };
    let Some(f) = parsed else {
        let help = match &v.kind {
            ValueKind::Number(n) => format!("write the factor with an `x`: `{n}x`"),
            _ => "a burn factor is how many times faster than an even spend over the period the budget burns, e.g. `14.4x`".to_string(),
        };
        cx.push(
            Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a burn factor such as `14.4x`, found {}", v.kind.describe()))
                .label("not a factor")
                .help(help),
        );
        return None;
    };
    if !(f.is_finite() && f > 0.0) {
        cx.push(
            Diagnostic::error(Code::BurnTier, v.span, format!("a burn factor of {f}x is not greater than zero"))
                .label("not positive")
                .help("a burn factor is how many times faster than an even spend over the period the budget burns, e.g. `14.4x`"),
        );
        return None;
    }
    Some(f)
}

/// The error budget in millionths: `objective` has at most six decimal places, so this is
/// exact, and "can this factor ever be reached" is decided without rounding at the boundary.
fn budget_micros(objective: f64) -> u64 {
    // INVARIANT: 0 < objective < 1, so the rounded product is in 1..1_000_000.
    1_000_000u64.saturating_sub((objective * 1e6).round() as u64)
}

/// Whether an error ratio (at most 1) can exceed `factor × budget`.
fn reachable(factor: f64, budget_micros: u64) -> bool {
    factor * (budget_micros as f64) < 1e6
}

/// The largest factor an error ratio of 1 reaches, for help lines (`1000` for 99.9 %), rounded
/// down to two decimal places so that "below it" stays true.
fn max_factor(budget_micros: u64) -> String {
    let max = (1e6 / budget_micros.max(1) as f64 * 100.0).floor() / 100.0;
    format!("{max}")
}

/// The objective as a percentage, from its budget in millionths (`99.9` for 1000).
fn percent(budget_micros: u64) -> String {
    let micros = 1_000_000u64.saturating_sub(budget_micros);
    let frac = format!("{:04}", micros % 10_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { format!("{}", micros / 10_000) } else { format!("{}.{frac}", micros / 10_000) }
}

/// Checks the `burn` lines together: long windows within the period, no two tiers on the
/// same windows, factors that an error ratio can reach. Returns them fastest first (by factor,
/// ties in the order written).
pub(super) fn check_written(cx: &mut Cx<'_>, lines: Vec<Written>, objective: f64, period: Duration) -> Option<Vec<BurnTier>> {
    let before = cx.error_count();
    let budget = budget_micros(objective);
    let mut seen: Vec<&Written> = Vec::new();
    for w in &lines {
        let t = &w.tier;
        if t.long > period {
            cx.push(
                Diagnostic::error(
                    Code::BurnTier,
                    w.long_span,
                    format!("the long window {} is longer than the period {}", show(t.long), show(period)),
                )
                .label("longer than the period")
                .help("a tier's windows measure the budget spent over the period, so its long window is at most the period"),
            );
        }
        if let Some(first) = seen.iter().find(|f| f.tier.long == t.long && f.tier.short == t.short) {
            cx.push(
                Diagnostic::error(Code::BurnTier, w.windows_span, format!("two tiers alert over {} and {}", show(t.long), show(t.short)))
                    .label("same windows again")
                    .also(first.windows_span, "first here")
                    .help("the tier with the smaller factor fires whenever the other does; keep one of them"),
            );
        }
        if !reachable(t.factor, budget) {
            cx.push(unreachable(w.factor_span, t.factor, budget));
        }
        seen.push(w);
    }
    if cx.error_count() > before {
        return None;
    }
    let mut tiers: Vec<BurnTier> = lines.into_iter().map(|w| w.tier).collect();
    tiers.sort_by(|a, b| b.factor.total_cmp(&a.factor));
    Some(tiers)
}

/// The default tiers of a valid objective and period; an error on `objective` (at
/// `objective_span`) when the fastest of them can never fire.
pub(super) fn check_defaults(
    cx: &mut Cx<'_>,
    objective_span: Span,
    objective: f64,
    period: Duration,
    (severity, ticket_severity): (Severity, Severity),
    source: SourceRef,
) -> Option<Vec<BurnTier>> {
    let tiers = default_tiers(period, severity, ticket_severity, &source);
    let budget = budget_micros(objective);
    if let Some(t) = tiers.iter().find(|t| !reachable(t.factor, budget)) {
        let max = max_factor(budget);
        cx.push(
            Diagnostic::error(
                Code::BurnTier,
                objective_span,
                format!("with an objective of {}% the default tier {}x over {} can never fire", percent(budget), t.factor, show(t.long)),
            )
            .label("too low for the default tiers")
            .help(format!(
                "an error ratio is at most 1, which burns this budget at {max}x; raise the objective, or write `burn` lines with factors below {max}x"
            )),
        );
        return None;
    }
    Some(tiers)
}

fn unreachable(span: Span, factor: f64, budget: u64) -> Diagnostic {
    let max = max_factor(budget);
    Diagnostic::error(Code::BurnTier, span, format!("a burn rate of {factor}x can never be reached with an objective of {}%", percent(budget)))
        .label("never fires")
        .help(format!(
            "even when every event fails the error ratio is 1, which burns this budget at {max}x: an alert that can never fire guards nothing; choose a factor below {max}x"
        ))
}
