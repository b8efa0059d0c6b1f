//! The tests of an `slo`'s rules.
//!
//! **Burn-rate tiers** are tested in files of their own, `prometheus/<spec>.slo_<interval>.test.yml`:
//! promtool evaluates every rule of the rules file at every evaluation step, and a tier's long
//! window (3 days for the slowest default tier) must pass in full before its alert can be
//! timed, which at the main file's 15 s steps would take minutes per test group. Each tier's
//! evaluation and sample interval is its short window over five or more (1m for 1h/5m, 1h12m
//! for 3d/6h), so every tier's test groups take about a hundred steps. Per tier:
//!
//! - **fires just above its factor**: healthy traffic for one long window, then an error ratio
//!   1 % above `factor × budget`; checked one step before its first firing and at it (a
//!   changed long window moves the firing), and at the end.
//! - **silent just below**: an error ratio 1 % below from the start, for a long window and more.
//! - **a short spike alone does not fire**: for the last short window of a long one, an error
//!   ratio well above the threshold whose share of the long window stays below it.
//! - **resolves when the burn stops**: a burn ten times the threshold for one long window,
//!   then none; checked at the last firing step and the first silent one (a changed short
//!   window moves the resolution).
//!
//! What each evaluation should show is computed here, not assumed: [`rate`] is Prometheus's
//! `extrapolatedRate`, run for both range semantics (2.x closes the range on the left, 3.x
//! opens it), and only times at which both agree are checked; a sibling tier that fires on the
//! same input is expected too. The SLO's recording rules get a `promql_expr_test` group of
//! their values with traffic, with traffic but no bad series (0, not nothing), and without
//! traffic (no ratio, no burn rate, no alert, and a full budget); those run in the file of
//! the fastest tier.
//!
//! **`PipSloBucketMissing`** is tested in the main test file like other kinds' alerts:
//! a histogram whose buckets lack `le` (fires), one with it (silent), and one with `le` in
//! another spelling (silent: the boundary of the `le=~` match).

use std::collections::BTreeMap;

use super::{Scenario, evals_around, unexpected};
use crate::emit::plan::slo::{SYNTHETIC, SloRole, SloSignal, group_value, output_labels, tier_threshold};
use crate::emit::plan::{AlertPlan, Signal};
use crate::emit::promql::{duration, le_spellings, number, series};
use crate::emit::promtool::{AlertTest, ExpSample, ExprTest, InputSeries, STEP, TestGroup, describe, expected, regex_example, run, secs};
use crate::ir::{CounterSelector, EventsCounted, LabelMatcher, Sli, Slo};
use pip_conventions::record;

/// The scenarios of `PipSloBucketMissing` in the main test file.
pub(super) fn scenarios(alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    let Signal::Slo(sig) = &alert.signal else { return Err(unexpected(alert, name)) };
    let (SloRole::BucketMissing, Sli::Latency { histogram, le, buckets }) = (&sig.role, &sig.slo.sli) else {
        return Err(unexpected(alert, name));
    };
    let end = for_s + 300;
    let n = end / STEP + 1;
    let base = base_labels(&sig.slo, &histogram.matchers)?;
    let count = InputSeries { series: series(&format!("{}_count", histogram.metric), &base), values: run(0.0, 10.0, n) };
    let bucket = |le_text: &str| {
        let mut l = base.clone();
        l.insert("le".into(), le_text.into());
        InputSeries { series: series(&format!("{}_bucket", histogram.metric), &l), values: run(0.0, 9.0, n) }
    };
    // Another bound of the histogram, or `+Inf`: a bucket that is there, but not at `le`.
    let other = buckets.iter().find(|b| **b != *le).map_or_else(|| "+Inf".to_string(), |b| number(*b));
    let spellings = le_spellings(*le);
    let first = spellings.first().cloned().unwrap_or_else(|| number(*le));
    let last = spellings.last().cloned().unwrap_or_else(|| number(*le));
    let scenario = |title: String, inputs: Vec<InputSeries>, missing: bool, evals: Vec<u64>| Scenario {
        title,
        interval: STEP,
        inputs,
        value: Box::new(move |_| Some(if missing { 1.0 } else { 0.0 })),
        absent_from: None,
        evals,
    };
    let mut out = vec![
        scenario(
            format!("{name} fires when the histogram has no bucket at le={}", number(*le)),
            vec![count.clone(), bucket(&other)],
            true,
            {
                let mut e = evals_around(STEP, for_s);
                e.push(end);
                e
            },
        ),
        scenario(format!("{name} stays silent when the bucket le={first} is there"), vec![count.clone(), bucket(&first)], false, vec![end]),
    ];
    if last != first {
        out.push(scenario(
            format!("{name} at the boundary: the bucket written le={last} is the same bound"),
            vec![count, bucket(&last)],
            false,
            vec![end],
        ));
    }
    Ok(out)
}

/// The labels every input series of an SLO carries: its grouping labels at their test values.
fn group_labels(slo: &Slo) -> BTreeMap<String, String> {
    slo.group_by.iter().map(|g| (g.clone(), group_value(slo, g))).collect()
}

/// Labels that `matchers` select, with the SLO's grouping labels.
fn base_labels(slo: &Slo, matchers: &[LabelMatcher]) -> Result<BTreeMap<String, String>, String> {
    let mut l = BTreeMap::new();
    satisfy(matchers, &mut l)?;
    l.extend(group_labels(slo));
    Ok(l)
}

/// Sets each matcher's label to a value it selects.
fn satisfy(matchers: &[LabelMatcher], into: &mut BTreeMap<String, String>) -> Result<(), String> {
    for m in matchers {
        let v = match m.op.as_str() {
            "=" => m.value.clone(),
            "=~" => regex_example(&m.value).ok_or_else(|| format!("no label value matches `{}=~\"{}\"`", m.name, m.value))?,
            _ => format!("{SYNTHETIC}_{}", m.name),
        };
        into.insert(m.name.clone(), v);
    }
    Ok(())
}

/// A value of `m`'s label that `m` does not select.
fn violate(m: &LabelMatcher) -> Option<String> {
    match m.op.as_str() {
        "=" | "=~" => Some(format!("{SYNTHETIC}_other")),
        "!=" => Some(m.value.clone()),
        _ => regex_example(&m.value),
    }
}

/// Which of an interval's events an input series counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counts {
    Bad,
    Good,
    All,
}

/// One input series of an SLI and what it counts.
struct Input {
    series: String,
    /// Counts toward the numerator (bad events, good events, the good bucket).
    numerator: bool,
    /// Counts toward the denominator (every event).
    denominator: bool,
    counts: Counts,
}

/// How an SLI reads: which input series it writes and whether the ratio is `num/den` or
/// `1 − num/den`.
struct Shape {
    inputs: Vec<Input>,
    /// The ratio is `1 − num/den` (good events, latency).
    inverted: bool,
    /// A missing numerator counts as 0 (events SLIs), else there is no ratio (latency).
    numerator_fallback: bool,
}

fn shape(slo: &Slo) -> Result<Shape, String> {
    let g = group_labels(slo);
    let mk = |metric: &str, mut l: BTreeMap<String, String>| {
        l.extend(g.clone());
        series(metric, &l)
    };
    match &slo.sli {
        Sli::Events { counted, events, total } => {
            let same = events.metric == total.metric;
            let (ev_labels, other_labels) = split(events, total, same)?;
            let ev = mk(&events.metric, ev_labels);
            let other = mk(&total.metric, other_labels);
            if ev == other {
                return Err(format!("SLO `{}`: no input series counts in `total` without counting in the events too", slo.name));
            }
            let (mine, rest) = match counted {
                EventsCounted::Bad => (Counts::Bad, Counts::Good),
                EventsCounted::Good => (Counts::Good, Counts::Bad),
            };
            Ok(Shape {
                inputs: vec![
                    Input { series: ev, numerator: true, denominator: same, counts: mine },
                    // With separate metrics, the total's series counts every event.
                    Input { series: other, numerator: false, denominator: true, counts: if same { rest } else { Counts::All } },
                ],
                inverted: *counted == EventsCounted::Good,
                numerator_fallback: true,
            })
        }
        Sli::Latency { histogram, le, .. } => {
            let mut l = BTreeMap::new();
            satisfy(&histogram.matchers, &mut l)?;
            let mut bucket = l.clone();
            // Not the rules' first spelling: the tests show the match holds for the others.
            bucket.insert("le".into(), le_spellings(*le).last().cloned().unwrap_or_else(|| number(*le)));
            Ok(Shape {
                inputs: vec![
                    Input {
                        series: mk(&format!("{}_bucket", histogram.metric), bucket),
                        numerator: true,
                        denominator: false,
                        counts: Counts::Good,
                    },
                    Input {
                        series: mk(&format!("{}_count", histogram.metric), l),
                        numerator: false,
                        denominator: true,
                        counts: Counts::All,
                    },
                ],
                inverted: true,
                numerator_fallback: false,
            })
        }
    }
}

/// The labels of the events' series and of the other events' series. With one metric, the
/// events' series also satisfies `total`, and the other's violates a matcher of the events
/// that `total` leaves free.
fn split(events: &CounterSelector, total: &CounterSelector, same: bool) -> Result<(Labels, Labels), String> {
    let mut ev = BTreeMap::new();
    let mut other = BTreeMap::new();
    satisfy(&total.matchers, &mut other)?;
    if same {
        ev = other.clone();
    }
    satisfy(&events.matchers, &mut ev)?;
    if same {
        for m in &events.matchers {
            if !total.matchers.iter().any(|t| t.name == m.name)
                && let Some(v) = violate(m)
            {
                other.insert(m.name.clone(), v);
            }
        }
    }
    Ok((ev, other))
}

/// A series' labels.
type Labels = BTreeMap<String, String>;

/// Events per interval: `(all, bad)`.
type Events = Vec<(u64, u64)>;

/// The cumulative values of each input, one sample per interval boundary (`events.len() + 1`).
fn cumulative(shape: &Shape, events: &Events) -> Vec<Vec<f64>> {
    shape
        .inputs
        .iter()
        .map(|i| {
            let mut v = vec![0.0];
            let mut acc: u64 = 0;
            for &(all, bad) in events {
                acc = acc.saturating_add(match i.counts {
                    Counts::Bad => bad,
                    Counts::Good => all.saturating_sub(bad),
                    Counts::All => all,
                });
                v.push(acc as f64);
            }
            v
        })
        .collect()
}

/// promtool's expanding notation of a list of samples: runs of equal increments.
fn notation(values: &[f64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let start = values.get(i).copied().unwrap_or(0.0);
        let inc = values.get(i + 1).map_or(0.0, |n| n - start);
        let mut j = i + 1;
        while j < values.len() && values.get(j).zip(values.get(j - 1)).is_some_and(|(a, b)| a - b == inc) {
            j += 1;
        }
        let count = (j - i - 1) as u64;
        parts.push(run(start, inc, count + 1));
        i = j;
    }
    parts.join(" ")
}

/// Prometheus's `rate(x[window])` at `t` over samples `interval` apart from 0 (milliseconds),
/// as `extrapolatedRate` computes it; `left_open` for 3.x ranges `(t - window, t]`, else 2.x
/// ranges `[t - window, t]`. `None` with fewer than two samples in the range.
pub fn rate(values: &[f64], interval: u64, t: u64, window: u64, left_open: bool) -> Option<f64> {
    let start = t as i128 - window as i128;
    let pts: Vec<(i128, f64)> = values
        .iter()
        .enumerate()
        .map(|(j, v)| (j as i128 * interval as i128, *v))
        .filter(|(ts, _)| (if left_open { *ts > start } else { *ts >= start }) && *ts <= t as i128)
        .collect();
    let (first, last) = (pts.first()?, pts.last()?);
    if pts.len() < 2 {
        return None;
    }
    let mut result = last.1 - first.1;
    let mut prev = 0.0;
    for (_, v) in &pts {
        if *v < prev {
            result += prev;
        }
        prev = *v;
    }
    let secs = |ms: i128| ms as f64 / 1000.0;
    let mut to_start = secs(first.0 - start);
    let to_end = secs(t as i128 - last.0);
    let sampled = secs(last.0 - first.0);
    let avg = sampled / (pts.len() - 1) as f64;
    if result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut extrapolate = sampled;
    extrapolate += if to_start < threshold { to_start } else { avg / 2.0 };
    extrapolate += if to_end < threshold { to_end } else { avg / 2.0 };
    Some(result * (extrapolate / sampled) / (window as f64 / 1000.0))
}

/// The SLI's error ratio at `t` over `window` (milliseconds), as the recording rule computes it.
fn ratio(shape: &Shape, values: &[Vec<f64>], interval: u64, t: u64, window: u64, left_open: bool) -> Option<f64> {
    let sum = |pick: fn(&Input) -> bool| -> Option<f64> {
        let rates: Vec<f64> =
            shape.inputs.iter().zip(values).filter(|(i, _)| pick(i)).filter_map(|(_, v)| rate(v, interval, t, window, left_open)).collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    };
    let den = sum(|i| i.denominator).filter(|d| *d > 0.0)?;
    let num = match sum(|i| i.numerator) {
        Some(n) => n,
        None if shape.numerator_fallback => 0.0,
        None => return None,
    };
    Some(if shape.inverted { 1.0 - num / den } else { num / den })
}

/// Whether tier `k`'s condition holds at `t` under both range semantics (`None` when they
/// disagree, or a ratio is within a billionth of the threshold).
fn tier_fires(sig: &SloSignal, shape: &Shape, values: &[Vec<f64>], interval: u64, t: u64, k: usize) -> Option<bool> {
    let tier = sig.slo.tiers.get(k)?;
    let th = tier_threshold(&sig.slo, tier.factor);
    // A window without a ratio, or clearly below, settles it; one within a billionth of the
    // threshold leaves it open.
    let one = |left_open: bool| -> Option<bool> {
        let mut open = false;
        for w in [tier.long.millis, tier.short.millis] {
            match ratio(shape, values, interval, t, w, left_open) {
                None => return Some(false),
                Some(r) if (r - th).abs() <= th * 1e-9 => open = true,
                Some(r) if r < th => return Some(false),
                Some(_) => {}
            }
        }
        (!open).then_some(true)
    };
    let (a, b) = (one(false)?, one(true)?);
    (a == b).then_some(a)
}

/// The scenarios of a tier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Above,
    Below,
    Spike,
    Resolves,
}

/// A scenario of one tier: its events per interval and the times to check (in intervals).
struct TierCase {
    case: Case,
    title: String,
    counts: Events,
    evals: Vec<u64>,
}

/// Events per interval large enough that the error ratios are within a ten-thousandth of
/// the ratios asked for.
fn traffic(threshold: f64) -> u64 {
    let mut n: u64 = 1_000_000;
    while (n as f64) * threshold < 100_000.0 && n < 1 << 40 {
        n *= 10;
    }
    n
}

/// `len` intervals at error ratio `r` of `n` events each.
fn at(n: u64, r: f64, len: u64) -> Events {
    // INVARIANT: 0 <= r <= 1 and n < 2^41, so the product is an exact, small integer.
    let bad = ((n as f64) * r.clamp(0.0, 1.0)).round() as u64;
    vec![(n, bad); usize::try_from(len).unwrap_or(0)]
}

/// The evaluation and sample interval of a tier's tests (milliseconds): the greatest common
/// divisor of its windows, divided until the short window holds at least five intervals.
pub fn tier_interval(long: u64, short: u64) -> u64 {
    let g = gcd(long, short).max(1);
    let k = (5 * g).div_ceil(short.max(1)).max(1);
    (g / k).max(1000)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The test groups of one SLO burn-rate tier, and its evaluation interval (milliseconds).
pub(in crate::emit::promtool) fn tier_groups(siblings: &[&AlertPlan], alert: &AlertPlan) -> Result<(u64, Vec<TestGroup>), String> {
    let name = describe(alert);
    let Some((sig, tier)) = alert.burn() else { return Err(unexpected(alert, &name)) };
    let SloRole::Burn { tier: k } = sig.role else { return Err(unexpected(alert, &name)) };
    let shape = shape(&sig.slo)?;
    let interval = tier_interval(tier.long.millis, tier.short.millis);
    let (l, s) = (tier.long.millis / interval, tier.short.millis.div_ceil(interval));
    let th = alert.threshold;
    if th >= 1.0 {
        return Err(format!("{name}: its threshold {} leaves no error ratio above it", number(th)));
    }
    let n = traffic(th);
    let join = |parts: &[Events]| parts.concat();
    let mut cases = Vec::new();
    // Fires just above; silent just below.
    // 1 % past the threshold (half way to 1 for a threshold within 1 % of it), after a
    // healthy long window (so that a longer long window would still see it); 1 % short of it
    // from the start.
    let above = (th * 1.01).min((th + 1.0) / 2.0);
    cases.push(TierCase {
        case: Case::Above,
        title: format!("{name} fires just above {}x its budget once the burn has lasted its long window", number(tier.factor)),
        counts: join(&[at(n, 0.0, l), at(n, above, l + 2 * s)]),
        evals: Vec::new(),
    });
    cases.push(TierCase {
        case: Case::Below,
        title: format!("{name} stays silent just below {}x its budget", number(tier.factor)),
        counts: at(n, th * 0.99, l + 2 * s),
        evals: Vec::new(),
    });
    // A short spike alone, at the end of a long window.
    let spike = (0.4 * th * l as f64 / s.max(1) as f64).min(1.0);
    if spike > 1.5 * th && l > s {
        cases.push(TierCase {
            case: Case::Spike,
            title: format!("{name} stays silent on a spike of one short window ({} of the events bad)", number(spike)),
            counts: join(&[at(n, 0.0, l - s), at(n, spike, s), at(n, 0.0, 2 * s)]),
            evals: Vec::new(),
        });
    }
    // Resolves when the burn stops.
    let burn = (10.0 * th).min(1.0);
    cases.push(TierCase {
        case: Case::Resolves,
        title: format!("{name} resolves within its short window once the burn stops"),
        counts: join(&[at(n, burn, l), at(n, 0.0, 2 * s)]),
        evals: Vec::new(),
    });
    let mut groups = Vec::new();
    for mut case in cases {
        let values = cumulative(&shape, &case.counts);
        let steps = case.counts.len() as u64;
        let fires_at = |i: u64| tier_fires(sig, &shape, &values, interval, i * interval, k);
        case.evals = match case.case {
            // The first step at which it fires under both semantics, and the last silent one before.
            Case::Above => {
                let first = (1..=steps).find(|&i| fires_at(i) == Some(true)).ok_or_else(|| format!("{name}: never fires above"))?;
                let before = (1..first).rev().find(|&i| fires_at(i) == Some(false)).unwrap_or(0);
                vec![before, first, steps]
            }
            // After the whole long window at the ratio, and at the end.
            Case::Below => vec![l, steps],
            // The spike's end, and the end.
            Case::Spike => vec![l, steps],
            // The last firing step after the burn stopped, and the first silent one.
            Case::Resolves => {
                let last = (1..=steps).rev().find(|&i| fires_at(i) == Some(true)).ok_or_else(|| format!("{name}: never fires"))?;
                let after = (last + 1..=steps).find(|&i| fires_at(i) == Some(false)).unwrap_or(steps);
                vec![last, after]
            }
        };
        case.evals.dedup();
        groups.push(group(sig, &shape, siblings, &case, &values, interval)?);
    }
    Ok((interval, groups))
}

/// A tier case as a test group: every sibling tier of the SLO expected where it fires.
fn group(
    sig: &SloSignal,
    shape: &Shape,
    siblings: &[&AlertPlan],
    case: &TierCase,
    values: &[Vec<f64>],
    interval: u64,
) -> Result<TestGroup, String> {
    let mut tests = Vec::new();
    for &i in &case.evals {
        let t = i * interval;
        let mut exp = Vec::new();
        for a in siblings {
            let Some((_, _)) = a.burn() else { continue };
            let Signal::Slo(s) = &a.signal else { continue };
            let SloRole::Burn { tier } = s.role else { continue };
            match tier_fires(sig, shape, values, interval, t, tier) {
                Some(true) => exp.push(expected(a)),
                Some(false) => {}
                None => return Err(format!("{}: at {} the range semantics of Prometheus 2 and 3 disagree", case.title, secs_ms(t))),
            }
        }
        tests.push(AlertTest { eval_time: secs_ms(t), alertname: pip_conventions::alert::SLO_BURN_RATE.into(), exp_alerts: exp });
    }
    Ok(TestGroup {
        name: case.title.clone(),
        interval: secs_ms(interval),
        input_series: shape.inputs.iter().zip(values).map(|(i, v)| InputSeries { series: i.series.clone(), values: notation(v) }).collect(),
        alert_rule_test: tests,
        promql_expr_test: Vec::new(),
    })
}

fn secs_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) { secs(ms / 1000) } else { duration(crate::units::Duration::from_millis(ms)) }
}

/// The test groups of an SLO's recording rules, at `interval` (the fastest tier's).
pub(in crate::emit::promtool) fn record_groups(sig: &SloSignal, interval: u64) -> Result<Vec<TestGroup>, String> {
    let slo = &sig.slo;
    let name = format!("SLO {}", slo.name);
    let shape = shape(slo)?;
    let windows = slo.windows();
    let shortest = windows.first().map_or(300_000, |w| w.millis);
    let steps = (2 * shortest).div_ceil(interval).max(2);
    let t = steps * interval;
    let budget = crate::emit::plan::slo::budget_value(slo);
    let out = output_labels(&sig.spec, slo);
    let labels = series("", &out);
    let rec = |w: crate::units::Duration| series(&record::slo_error_ratio(&duration(w)), &out);
    let burn = |w: crate::units::Duration| series(&record::slo_burn_rate(&duration(w)), &out);
    let remaining = series(record::SLO_BUDGET_REMAINING, &out);
    let close = |expr: String, v: f64| ExprTest {
        // Within a billionth of the value's magnitude: PromQL sums the series' rates in its own order.
        expr: format!("abs({expr} - {}) < bool {}", number(v), number(10f64.powi(v.abs().max(1e-3).log10().floor() as i32 - 9))),
        eval_time: secs_ms(t),
        exp_samples: vec![ExpSample { labels: labels.clone(), value: 1.0 }],
    };
    let none = |expr: String| ExprTest { expr, eval_time: secs_ms(t), exp_samples: Vec::new() };
    let n = traffic(budget);
    let mut groups = Vec::new();
    // With traffic at half the budget.
    let counts = at(n, budget / 2.0, steps);
    let values = cumulative(&shape, &counts);
    let mut tests = Vec::new();
    let mut period_ratio = None;
    for &w in &windows {
        let r = ratio(&shape, &values, interval, t, w.millis, false).ok_or_else(|| format!("{name}: no ratio over {w}"))?;
        tests.push(close(rec(w), r));
        tests.push(close(burn(w), r / budget));
        if w == slo.period {
            period_ratio = Some(r);
        }
    }
    tests.push(close(remaining.clone(), 1.0 - period_ratio.unwrap_or(0.0) / budget));
    groups.push(TestGroup {
        name: format!("recording rules of SLO {}: error ratios, burn rates and budget with traffic", slo.name),
        interval: secs_ms(interval),
        input_series: shape
            .inputs
            .iter()
            .zip(&values)
            .map(|(i, v)| InputSeries { series: i.series.clone(), values: notation(v) })
            .collect(),
        alert_rule_test: Vec::new(),
        promql_expr_test: tests,
    });
    // Traffic without the numerator's series: 0 bad events for an events SLI.
    if shape.numerator_fallback {
        let only: Vec<&Input> = shape.inputs.iter().filter(|i| !i.numerator).collect();
        let mut tests = Vec::new();
        for &w in &windows {
            let v = if shape.inverted { 1.0 } else { 0.0 };
            tests.push(close(rec(w), v));
        }
        let bad_only = !shape.inverted;
        groups.push(TestGroup {
            name: format!(
                "recording rules of SLO {}: traffic without a {} series is an error ratio of {}, not nothing",
                slo.name,
                if bad_only { "bad events" } else { "good events" },
                if bad_only { 0 } else { 1 }
            ),
            interval: secs_ms(interval),
            input_series: only.iter().map(|i| InputSeries { series: i.series.clone(), values: run(0.0, n as f64, steps + 1) }).collect(),
            alert_rule_test: Vec::new(),
            promql_expr_test: tests,
        });
    }
    // No traffic: no ratio, no burn rate, no alert; the budget is whole.
    let mut tests = Vec::new();
    for &w in &windows {
        tests.push(none(rec(w)));
        tests.push(none(burn(w)));
    }
    tests.push(close(remaining, 1.0));
    groups.push(TestGroup {
        name: format!("recording rules of SLO {}: without traffic no ratio, no burn rate, no NaN, a whole budget, no alert", slo.name),
        interval: secs_ms(interval),
        input_series: shape.inputs.iter().map(|i| InputSeries { series: i.series.clone(), values: run(7.0, 0.0, steps + 1) }).collect(),
        alert_rule_test: vec![AlertTest {
            eval_time: secs_ms(t),
            alertname: pip_conventions::alert::SLO_BURN_RATE.into(),
            exp_alerts: Vec::new(),
        }],
        promql_expr_test: tests,
    });
    Ok(groups)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rates_follow_prometheus_extrapolation_in_both_range_semantics() {
        // 1 per second, sampled every minute.
        let v: Vec<f64> = (0..=10).map(|i| f64::from(i) * 60.0).collect();
        assert_eq!(rate(&v, 60_000, 120_000, 120_000, false), Some(1.0));
        assert_eq!(rate(&v, 60_000, 120_000, 120_000, true), Some(1.0));
        // One sample in range: no rate.
        assert_eq!(rate(&v, 60_000, 120_000, 30_000, true), None);
        // A counter starting at 0 is not extrapolated below zero: 60 over [0, 60s] of a 5m range
        // (2.x) is 60/300 per second.
        assert_eq!(rate(&v[..2], 60_000, 60_000, 300_000, false), Some(0.2));
        // A reset counts as an increase from 0.
        assert_eq!(rate(&[100.0, 160.0, 30.0], 60_000, 120_000, 120_000, false), Some(90.0 / 120.0));
    }

    #[test]
    fn each_tier_is_tested_at_a_fifth_of_its_short_window_or_finer() {
        let (m, h, d) = (60_000, 3_600_000, 86_400_000);
        assert_eq!(tier_interval(h, 5 * m), m);
        assert_eq!(tier_interval(6 * h, 30 * m), 6 * m);
        assert_eq!(tier_interval(d, 2 * h), 24 * m);
        assert_eq!(tier_interval(3 * d, 6 * h), 72 * m);
        assert_eq!(tier_interval(h, 7 * m), 60_000);
    }

    #[test]
    fn runs_of_equal_increments_are_written_in_promtool_notation() {
        assert_eq!(notation(&[0.0, 0.0, 0.0, 5.0, 10.0, 15.0]), "0x2 5+5x2");
        assert_eq!(notation(&[0.0, 2.0, 4.0]), "0+2x2");
        assert_eq!(notation(&[7.0]), "7x0");
    }
}
