//! The rules of `slo` blocks: per SLO its error ratio over every window of its tiers and its
//! period (`pip:slo_errors:ratio_rate<w>`), the burn rate over each
//! (`pip:slo_burn_rate:rate<w>`), the remaining error budget
//! (`pip:slo_error_budget:remaining_ratio`), one `PipSloBurnRate` alert per tier, and for a
//! latency SLO `PipSloBucketMissing`.
//!
//! - **No traffic is no sample, never NaN** (sloth#531): every ratio divides by
//!   `(sum(rate(total[w])) > 0)`, so a window without events has no ratio, no burn rate and no
//!   alert; the remaining budget is then 1, not absent.
//! - **A missing bad (or good) series is 0 bad (or good) events**: client libraries create a
//!   labelled counter at its first increment, so `code="500"` has no series before the first
//!   error. The numerator falls back to `0 * total`. A latency SLI does not fall back: a
//!   histogram exposes all its buckets together, so a bucket missing beside its `_count` is a
//!   wrong `le`, not good news or bad news; the ratio is then absent and `PipSloBucketMissing`
//!   says why (sloth#506, slo-libsonnet#46).
//! - **`le` in every spelling**: the bucket is matched with `le=~"<every spelling>"`
//!   ([`promql::le_regex`](crate::emit::promql::le_regex)): clients write `1`, `1.0` or `1e+06`,
//!   and Prometheus 3 rewrites the text form's bounds to `1.0` on ingestion, so a period that
//!   spans an upgrade holds both spellings. The spellings never coexist in one scrape, so the
//!   `sum` does not double count.
//! - **The period window is a direct `rate(...[<period>])`**, not Sloth's average of the 5m
//!   ratios (`sum_over_time(ratio_rate5m[30d]) / count_over_time(...)`): an average of ratios
//!   weighs a quiet night's five minutes like a busy noon's, and it only starts counting when
//!   the rule is deployed. The direct rate is the share of bad events over the period, exactly
//!   what the objective promises, from the first day the rules run on retained data. Its cost:
//!   each evaluation reads the period's raw samples of the SLI's series (86,400 per series for
//!   30 days at a 30 s scrape interval); for SLIs over thousands of series, give the rule group
//!   a longer `interval`. The burn alerts never
//!   read it (their windows are at most 3 days by default).
//! - **No `for`** on the burn alerts: the short window is what keeps a burn alert from firing
//!   on a blip and makes it resolve soon after the burn stops (the SRE workbook's
//!   multiwindow, multi-burn-rate alerts need no `for`); a `for` would only delay the page of
//!   the fastest tier.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, record};

use super::{AlertPlan, Ctx, RecordPlan, RulePlan, Signal};
use crate::emit::promql::{Decimal, duration, escape, le_regex, map, number, selector};
use crate::ir::{BurnTier, Comparator, ConstructKind, CounterSelector, EventsCounted, LabelMatcher, Sli, Slo};
use crate::units::Duration;

/// The last part of the rule group's name, `pip:<spec>:slos` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "slos";

/// The value the generated tests give each grouping label of an SLO (`by = [...]`) that its
/// selectors do not fix.
pub const SYNTHETIC: &str = "pip_synthetic";

/// What an SLO's rule reads, for its tests: the SLO itself and the role of the rule.
#[derive(Debug, Clone)]
pub struct SloSignal {
    /// The spec's name.
    pub spec: String,
    /// The SLO.
    pub slo: Slo,
    /// Which of its rules this is.
    pub role: SloRole,
}

/// Which rule of an SLO a [`SloSignal`] drives.
#[derive(Debug, Clone)]
pub enum SloRole {
    /// A recording rule (error ratio, burn rate, remaining budget).
    Record,
    /// The burn-rate alert of `slo.tiers[tier]`.
    Burn {
        /// The tier's index in `slo.tiers` (its `burn_tier` label is one more).
        tier: usize,
    },
    /// `PipSloBucketMissing`.
    BucketMissing,
}

/// The SLO rules of the spec: per SLO its recording rules, then its alerts.
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let s = cx.spec.name.as_str();
    let mut rules = Vec::new();
    for slo in &cx.spec.slos {
        let labels = map(&[(label::SPEC, s), (label::SLO, &slo.name)]);
        let signal = |role: SloRole| Signal::Slo(Box::new(SloSignal { spec: s.to_string(), slo: slo.clone(), role }));
        for w in slo.windows() {
            rules.push(RulePlan::Record(RecordPlan {
                record: record::slo_error_ratio(&duration(w)),
                expr: ratio_expr(slo, w),
                labels: labels.clone(),
                signal: signal(SloRole::Record),
                construct: slo.name.clone(),
            }));
        }
        for w in slo.windows() {
            rules.push(RulePlan::Record(RecordPlan {
                record: record::slo_burn_rate(&duration(w)),
                expr: format!("{} / {}", ratio_record(s, slo, w), budget_text(slo)),
                labels: labels.clone(),
                signal: signal(SloRole::Record),
                construct: slo.name.clone(),
            }));
        }
        rules.push(RulePlan::Record(RecordPlan {
            record: record::SLO_BUDGET_REMAINING.into(),
            expr: format!(
                "1 - {} / {} or on ({}) ({} == 0) + 1",
                ratio_record(s, slo, slo.period),
                budget_text(slo),
                slo.group_by.join(", "),
                sum_rate(&total_text(slo), slo, slo.period)
            ),
            labels: labels.clone(),
            signal: signal(SloRole::Record),
            construct: slo.name.clone(),
        }));
        for (i, tier) in slo.tiers.iter().enumerate() {
            rules.push(RulePlan::Alert(burn_alert(cx, slo, i, tier)));
        }
        if let Sli::Latency { histogram, le, .. } = &slo.sli {
            rules.push(RulePlan::Alert(bucket_missing(cx, slo, histogram, *le)));
        }
    }
    rules
}

/// The error budget `1 − objective` as PromQL writes it, computed in decimal (`0.001`, not
/// `0.0010000000000000009`).
pub fn budget_text(slo: &Slo) -> String {
    match Decimal::of(slo.objective).and_then(Decimal::one_minus) {
        Some(d) => d.text(),
        None => number(slo.budget()),
    }
}

/// The error budget as Prometheus reads [`budget_text`].
pub fn budget_value(slo: &Slo) -> f64 {
    budget_text(slo).parse().unwrap_or_else(|_| slo.budget())
}

/// The error ratio a tier alerts above, `factor × budget`: computed in decimal when the factor
/// is a short decimal (`14.4 × 0.001 = 0.0144`), else in one rounded f64 product (a default
/// factor such as `28/30`).
pub fn tier_threshold(slo: &Slo, factor: f64) -> f64 {
    let budget = Decimal::of(slo.objective).and_then(Decimal::one_minus);
    match (Decimal::of(factor).filter(|d| d.places <= 9), budget) {
        (Some(f), Some(b)) => f.times(b).map_or(factor * budget_value(slo), Decimal::value),
        _ => factor * budget_value(slo),
    }
}

/// `<op> by (a, b) ` (the aggregation, ready for its parenthesized argument), or `<op>` for an
/// SLO over everything.
fn by(op: &str, slo: &Slo) -> String {
    if slo.group_by.is_empty() { op.to_string() } else { format!("{op} by ({}) ", slo.group_by.join(", ")) }
}

/// `sum by (<group_by>) (rate(<selector>[<w>]))`.
fn sum_rate(selector: &str, slo: &Slo, w: Duration) -> String {
    format!("{}(rate({selector}[{}]))", by("sum", slo), duration(w))
}

/// `name op "value"` for each matcher, values escaped.
fn matcher_texts(matchers: &[LabelMatcher]) -> Vec<String> {
    matchers.iter().map(|m| format!("{}{}\"{}\"", m.name, m.op, escape(&m.value))).collect()
}

/// The selector of every event of the SLI: `total`, or the histogram's `_count`.
pub fn total_text(slo: &Slo) -> String {
    match &slo.sli {
        Sli::Events { total, .. } => total.text.clone(),
        Sli::Latency { histogram, .. } => format!("{}_count{{{}}}", histogram.metric, matcher_texts(&histogram.matchers).join(",")),
    }
}

/// The selector of a latency SLI's good bucket, its `le` in every spelling.
pub fn bucket_text(histogram: &CounterSelector, le: f64) -> String {
    let mut m = matcher_texts(&histogram.matchers);
    m.push(format!("le=~\"{}\"", escape(&le_regex(le))));
    format!("{}_bucket{{{}}}", histogram.metric, m.join(","))
}

/// The error ratio of the SLO over `w` (the expression of `pip:slo_errors:ratio_rate<w>`).
pub fn ratio_expr(slo: &Slo, w: Duration) -> String {
    let total = sum_rate(&total_text(slo), slo, w);
    let some_traffic = format!("({total} > 0)");
    match &slo.sli {
        Sli::Events { counted: EventsCounted::Bad, events, .. } => {
            format!("({} or 0 * {total}) / {some_traffic}", sum_rate(&events.text, slo, w))
        }
        Sli::Events { counted: EventsCounted::Good, events, .. } => {
            format!("1 - ({} or 0 * {total}) / {some_traffic}", sum_rate(&events.text, slo, w))
        }
        Sli::Latency { histogram, le, .. } => format!("1 - {} / {some_traffic}", sum_rate(&bucket_text(histogram, *le), slo, w)),
    }
}

/// The recorded error ratio of the SLO over `w`: `pip:slo_errors:ratio_rate<w>{spec=...,slo=...}`.
pub fn ratio_record(spec: &str, slo: &Slo, w: Duration) -> String {
    selector(&record::slo_error_ratio(&duration(w)), &[(label::SPEC, spec), (label::SLO, &slo.name)])
}

/// The error ratio over `w` with the labels of the recorded one: the recorded series when `w`
/// is one of the SLO's windows, else its expression labelled like it (the mutation check
/// tries windows the rules do not record).
pub fn ratio_over(spec: &str, slo: &Slo, w: Duration) -> String {
    if slo.windows().contains(&w) {
        ratio_record(spec, slo, w)
    } else {
        format!(
            "label_replace(label_replace(({}), \"{}\", \"{}\", \"\", \"\"), \"{}\", \"{}\", \"\", \"\")",
            ratio_expr(slo, w),
            label::SPEC,
            escape(spec),
            label::SLO,
            escape(&slo.name)
        )
    }
}

/// The labels of the SLO's rules' output for the tests' input series: `spec`, `slo`, and each
/// grouping label at the value the tests give it.
pub fn output_labels(spec: &str, slo: &Slo) -> BTreeMap<String, String> {
    let mut out = map(&[(label::SPEC, spec), (label::SLO, &slo.name)]);
    for g in &slo.group_by {
        out.insert(g.clone(), group_value(slo, g));
    }
    out
}

/// The value the tests' input series carry for grouping label `g`: the value an `=` matcher
/// of the SLI fixes, else [`SYNTHETIC`].
pub fn group_value(slo: &Slo, g: &str) -> String {
    let selectors: Vec<&CounterSelector> = match &slo.sli {
        Sli::Events { events, total, .. } => vec![events, total],
        Sli::Latency { histogram, .. } => vec![histogram],
    };
    selectors
        .iter()
        .flat_map(|s| s.matchers.iter())
        .find(|m| m.name == g && m.op == "=")
        .map_or_else(|| SYNTHETIC.to_string(), |m| m.value.clone())
}

/// A share as a percentage to four decimal places: `0.02` is `2%`.
fn percent(x: f64) -> String {
    format!("{}%", number((x * 1e6).round() / 1e4))
}

/// `PipSloBurnRate` of one tier.
fn burn_alert(cx: &Ctx<'_>, slo: &Slo, i: usize, tier: &BurnTier) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let threshold = tier_threshold(slo, tier.factor);
    let (long, short) = (duration(tier.long), duration(tier.short));
    let mut labels = cx.labels(ConstructKind::Slo, &slo.name, tier.severity);
    labels.insert(label::BURN_TIER.into(), (i + 1).to_string());
    labels.insert(label::LONG_WINDOW.into(), long.clone());
    labels.insert(label::SHORT_WINDOW.into(), short.clone());
    let share = tier.factor * tier.long.as_secs_f64() / slo.period.as_secs_f64();
    // INVARIANT: a factor is finite and above 0 (the checker), so this is a finite duration.
    let exhaust = Duration::from_secs((slo.period.as_secs_f64() / tier.factor).round() as u64);
    let mut description = slo.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "SLO `{}` promises {} good events over {}. Over both the last {long} and the last {short} its error ratio was above {} ({}x its error budget of {}): at this rate this tier spends {} of the budget in {long}, and all of it in {}.",
        slo.name,
        percent(slo.objective),
        duration(slo.period),
        number(threshold),
        number(tier.factor),
        budget_text(slo),
        percent(share),
        duration(exhaust),
    ));
    AlertPlan {
        alert: alert::SLO_BURN_RATE.into(),
        lhs: ratio_record(s, slo, tier.long),
        op: Comparator::Gt,
        threshold,
        step: threshold / 100.0,
        for_: Duration::default(),
        labels,
        annotations: cx.annotations(
            format!("{s}: SLO {} burns its error budget {}x too fast ({long}/{short})", slo.name, number(tier.factor)),
            description,
            &slo.runbook,
            &tier.source,
            tier.severity,
        ),
        signal: Signal::Slo(Box::new(SloSignal { spec: s.to_string(), slo: slo.clone(), role: SloRole::Burn { tier: i } })),
        output_labels: output_labels(s, slo),
        absence: None,
        kind: ConstructKind::Slo,
        construct: slo.name.clone(),
    }
}

/// `PipSloBucketMissing`: the histogram's `_count` has series that no bucket at `le` (in any
/// spelling) accompanies. Its severity is the slowest tier's (the ticket): the SLO is blind,
/// nothing is known to burn.
fn bucket_missing(cx: &Ctx<'_>, slo: &Slo, histogram: &CounterSelector, le: f64) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let severity = slo.tiers.last().map_or(crate::ir::Severity::P3, |t| t.severity);
    let count = total_text(slo);
    let by_g = by("count", slo);
    let mut description = slo.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
    description.push_str(&format!(
        "Latency SLO `{}` reads the bucket `le` = {} of histogram `{}`, but some of its `_count` series have no such bucket (in any of the spellings {}): its error ratio cannot be computed there. The histogram's bucket bounds changed, or the SLO's `le` and `buckets` no longer match the instrumentation.",
        slo.name,
        number(le),
        histogram.metric,
        crate::emit::promql::le_spellings(le).join(", "),
    ));
    AlertPlan {
        alert: alert::SLO_BUCKET_MISSING.into(),
        lhs: format!("({by_g}({count} unless ignoring (le) {}) or 0 * {by_g}({count}))", bucket_text(histogram, le)),
        op: Comparator::Gt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: {
            let mut l = cx.labels(ConstructKind::Slo, &slo.name, severity);
            l.insert(label::SLO.into(), slo.name.clone());
            l
        },
        annotations: cx.annotations(
            format!("{s}: SLO {} cannot read its latency bucket le={}", slo.name, number(le)),
            description,
            &slo.runbook,
            &slo.source,
            severity,
        ),
        signal: Signal::Slo(Box::new(SloSignal { spec: s.to_string(), slo: slo.clone(), role: SloRole::BucketMissing })),
        output_labels: slo.group_by.iter().map(|g| (g.clone(), group_value(slo, g))).collect(),
        absence: None,
        kind: ConstructKind::Slo,
        construct: slo.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::emit::plan::{RecordPlan, plan};

    fn rules_of(slos: &str) -> Vec<RulePlan> {
        let text = format!(
            "spec shop version \"1.0.0\" {{\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/shop\"\n}}\n\n{slos}"
        );
        let (_, c) = crate::compile_str("shop.pips", &text);
        assert!(!c.has_errors(), "{:#?}", c.diagnostics);
        plan(&c.specs[0]).groups.into_iter().flat_map(|g| g.rules).collect()
    }

    fn record<'a>(rules: &'a [RulePlan], name: &str) -> &'a RecordPlan {
        rules.iter().find_map(|r| if let RulePlan::Record(r) = r { (r.record == name).then_some(r) } else { None }).unwrap()
    }

    fn alerts(rules: &[RulePlan]) -> Vec<&AlertPlan> {
        rules.iter().filter_map(|r| if let RulePlan::Alert(a) = r { Some(a) } else { None }).collect()
    }

    const EVENTS: &str = "slo api {\n  objective = 99.9%\n  period = 30d\n  total = `http_requests_total{job=\"api\"}`\n  bad = `http_requests_total{job=\"api\",code=~\"5..\"}`\n}\n";

    #[test]
    fn an_events_ratio_has_no_sample_without_traffic_and_zero_without_bad_series() {
        let rules = rules_of(EVENTS);
        assert_eq!(
            record(&rules, "pip:slo_errors:ratio_rate5m").expr,
            r#"(sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) or 0 * sum(rate(http_requests_total{job="api"}[5m]))) / (sum(rate(http_requests_total{job="api"}[5m])) > 0)"#
        );
        assert_eq!(
            record(&rules, "pip:slo_error_budget:remaining_ratio").expr,
            r#"1 - pip:slo_errors:ratio_rate30d{spec="shop",slo="api"} / 0.001 or on () (sum(rate(http_requests_total{job="api"}[30d])) == 0) + 1"#
        );
        assert_eq!(record(&rules, "pip:slo_burn_rate:rate3d").expr, r#"pip:slo_errors:ratio_rate3d{spec="shop",slo="api"} / 0.001"#);
        let windows: Vec<&str> = rules
            .iter()
            .filter_map(|r| if let RulePlan::Record(r) = r { r.record.strip_prefix("pip:slo_errors:ratio_rate") } else { None })
            .collect();
        assert_eq!(windows, ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]);
    }

    #[test]
    fn tier_thresholds_are_exact_decimals() {
        let rules = rules_of(EVENTS);
        let alerts = alerts(&rules);
        let thresholds: Vec<f64> = alerts.iter().map(|a| a.threshold).collect();
        assert_eq!(thresholds, [0.0144, 0.006, 0.003, 0.001]);
        assert_eq!(
            alerts[0].expr(),
            r#"pip:slo_errors:ratio_rate1h{spec="shop",slo="api"} > 0.0144 and pip:slo_errors:ratio_rate5m{spec="shop",slo="api"} > 0.0144"#
        );
        let l = &alerts[3].labels;
        assert_eq!((l["burn_tier"].as_str(), l["long_window"].as_str(), l["short_window"].as_str()), ("4", "3d", "6h"));
        assert!(alerts[0].annotations["description"].contains("spends 2% of the budget in 1h"), "{}", alerts[0].annotations["description"]);
    }

    #[test]
    fn a_window_mutation_reads_an_unrecorded_window_with_the_recorded_labels() {
        let rules = rules_of(EVENTS);
        let a = alerts(&rules)[0];
        let ms = a.mutations();
        let long = ms.iter().find(|m| m.what == "long window 1h → 2h").unwrap();
        assert!(long.expr.starts_with(r#"pip:slo_errors:ratio_rate2h{spec="shop",slo="api"} > 0.0144 and"#), "{}", long.expr);
        let half = ms.iter().find(|m| m.what == "long window 1h → 30m").unwrap();
        assert!(half.expr.starts_with("pip:slo_errors:ratio_rate30m"), "{}", half.expr);
        let short = ms.iter().find(|m| m.what == "short window 5m → 2m30s").unwrap();
        assert!(
            short.expr.contains(r#"label_replace(label_replace(((sum(rate(http_requests_total{job="api",code=~"5.."}[2m30s]))"#),
            "{}",
            short.expr
        );
        assert!(short.expr.ends_with(r#""spec", "shop", "", ""), "slo", "api", "", "") > 0.0144"#), "{}", short.expr);
    }

    #[test]
    fn a_latency_sli_matches_every_spelling_of_its_bound_and_watches_for_its_bucket() {
        let rules = rules_of(
            "slo fast {\n  objective = 99%\n  period = 7d\n  latency = `req_seconds{job=\"api\"}`\n  le = 1s\n  buckets = [100ms, 1s]\n  by = [route]\n}\n",
        );
        assert_eq!(
            record(&rules, "pip:slo_errors:ratio_rate1h").expr,
            r#"1 - sum by (route) (rate(req_seconds_bucket{job="api",le=~"1|1\\.0"}[1h])) / (sum by (route) (rate(req_seconds_count{job="api"}[1h])) > 0)"#
        );
        let missing = alerts(&rules).into_iter().find(|a| a.alert == alert::SLO_BUCKET_MISSING).unwrap();
        assert_eq!(
            missing.expr(),
            r#"(count by (route) (req_seconds_count{job="api"} unless ignoring (le) req_seconds_bucket{job="api",le=~"1|1\\.0"}) or 0 * count by (route) (req_seconds_count{job="api"})) > 0"#
        );
    }
}
