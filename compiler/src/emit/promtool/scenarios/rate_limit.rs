//! The scenarios of a `rate_limit`'s alerts, one shape per alert:
//!
//! - **rejecting** (the rejected ratio): requests of which just more than the threshold ratio
//!   are rejected (fires), none (silent), exactly the ratio and just under it (the boundary).
//! - **backend down** (the backend errors counter): it steps up by one (fires), stays at zero
//!   (silent), or stays at a value it reached before (boundary: no new failure).
//!
//! N requests per second of which R are rejected, sampled once a minute: with 1m samples
//! every rate PromQL computes over a full 5m window is an integer (its extrapolation factor
//! is 1 or 5/4), so the ratio is exactly R/N — as long as every counter stays below 2^53,
//! which [`ratio_counts`] checks and [`crate::ir::MAX_RATIO_DECIMAL_PLACES`] guarantees.

use super::{Scenario, counter_step, evals_around, unexpected};
use crate::emit::plan::{AlertPlan, Signal};
use crate::emit::promql::{MAX_EXACT, decimal_fraction, number, series};
use crate::emit::promtool::{InputSeries, RATIO_INTERVAL, STEP, describe, run};

/// The scenarios of the alert with its input present.
pub(super) fn scenarios(alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    match &alert.signal {
        Signal::RejectedRatio { metric, labels } => ratio_scenarios(alert, metric, labels, for_s, name),
        Signal::CounterStep { metric, labels } => Ok(counter_step(metric, labels, for_s, name)),
        _ => Err(unexpected(alert, name)),
    }
}

/// The scenarios of the rejected-ratio alert.
fn ratio_scenarios(
    alert: &AlertPlan,
    metric: &str,
    labels: &std::collections::BTreeMap<String, String>,
    for_s: u64,
    name: &str,
) -> Result<Vec<Scenario>, String> {
    let input = RATIO_INTERVAL;
    let end = ratio_end(for_s).ok_or("the `for` overflows")?;
    let (total, exact) = ratio_counts(alert.threshold, end).ok_or_else(|| {
        format!(
            "the rejected ratio {} of {} needs counters past 2^53 to be tested exactly (at most {} decimal places)",
            number(alert.threshold),
            describe(alert),
            crate::ir::MAX_RATIO_DECIMAL_PLACES
        )
    })?;
    let n = end / input + 1;
    let ratio_scenario = |title: String, rejected: u64, evals: Vec<u64>| -> Result<Scenario, String> {
        let mut allowed = labels.clone();
        allowed.insert("outcome".into(), pip_conventions::outcome::ALLOWED.into());
        let mut refused = labels.clone();
        refused.insert("outcome".into(), pip_conventions::outcome::REJECTED.into());
        let ratio = rejected as f64 / total as f64;
        // INVARIANT: `rejected <= total` and `total * input` is below 2^53 (`ratio_counts`),
        // so both increments convert to f64 exactly.
        let (Some(allowed_inc), Some(rejected_inc)) =
            (total.checked_sub(rejected).and_then(|a| a.checked_mul(input)), rejected.checked_mul(input))
        else {
            return Err(format!("{rejected} of {total} requests cannot be rejected"));
        };
        Ok(Scenario {
            title,
            interval: input,
            inputs: vec![
                InputSeries { series: series(metric, &allowed), values: run(0.0, allowed_inc as f64, n) },
                InputSeries { series: series(metric, &refused), values: run(0.0, rejected_inc as f64, n) },
            ],
            value: Box::new(move |t| (t >= input).then_some(ratio)),
            absent_from: None,
            evals,
        })
    };
    Ok(vec![
        ratio_scenario(format!("{name} fires just past its ratio"), exact.saturating_add(1), evals_around(input, for_s))?,
        ratio_scenario(format!("{name} stays silent when nothing is rejected"), 0, vec![end])?,
        ratio_scenario(format!("{name} at the boundary: exactly at its ratio"), exact, vec![end])?,
        ratio_scenario(format!("{name} at the boundary: just inside its ratio"), exact.saturating_sub(1), vec![end])?,
    ])
}

/// When the rejected-ratio scenarios of an alert whose `for` is `for_s` seconds end.
fn ratio_end(for_s: u64) -> Option<u64> {
    RATIO_INTERVAL.checked_add(for_s)?.checked_add(300)
}

/// The largest sample the rejected-ratio scenarios write when `total` requests arrive per
/// second for `end` seconds: the counter of allowed requests when none is rejected, at the
/// last sample (`None` past `u64`).
fn largest_ratio_sample(total: u64, end: u64) -> Option<u64> {
    total.checked_mul(RATIO_INTERVAL)?.checked_mul(end / RATIO_INTERVAL)
}

/// The largest sample the rejected-ratio scenarios of a threshold with `places` decimal
/// places and a `for` of `for_` write: what bounds [`crate::ir::MAX_RATIO_DECIMAL_PLACES`].
pub fn largest_ratio_sample_for(places: u32, for_: crate::units::Duration) -> Option<u64> {
    let total = 10u64.checked_pow(places.checked_add(3)?)?;
    largest_ratio_sample(total, ratio_end(for_.millis.div_ceil(STEP * 1000).checked_mul(STEP)?)?)
}

/// Requests per second of the rejected-ratio scenarios: `total`, of which `exact` rejected
/// puts the ratio exactly at `threshold`. `None` when the threshold is not in (0, 1) or a
/// counter would pass [`MAX_EXACT`] within `end` seconds, where the test would be inexact.
fn ratio_counts(threshold: f64, end: u64) -> Option<(u64, u64)> {
    let (num, den) = decimal_fraction(threshold)?;
    let total = den.checked_mul(1000)?;
    let exact = num.checked_mul(1000)?;
    // The firing scenario rejects `exact + 1` of `total`.
    let fits = exact.checked_add(1)? <= total && largest_ratio_sample(total, end)? <= MAX_EXACT;
    fits.then_some((total, exact))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ratios_too_fine_for_exact_counters_are_refused_not_wrapped() {
        // 15 decimal places fit a u64, but the scenarios' counters of them do not.
        assert_eq!(ratio_counts(0.000_000_000_000_001, ratio_end(0).unwrap()), None);
        assert_eq!(ratio_counts(1.5, ratio_end(0).unwrap()), None);
    }

    #[test]
    fn the_decimal_places_bound_is_the_largest_that_keeps_ratio_tests_exact() {
        use crate::ir::{MAX_FOR, MAX_RATIO_DECIMAL_PLACES};
        let places = u32::try_from(MAX_RATIO_DECIMAL_PLACES).unwrap();
        let at = largest_ratio_sample_for(places, MAX_FOR).unwrap();
        let past = largest_ratio_sample_for(places + 1, MAX_FOR).unwrap();
        assert!(at <= MAX_EXACT, "{at}");
        assert!(past > MAX_EXACT, "{past}");
        let smallest = 10f64.powi(-i32::try_from(places).unwrap());
        let end = ratio_end(MAX_FOR.millis / 1000).unwrap();
        let (total, exact) = ratio_counts(smallest, end).unwrap();
        assert_eq!(exact as f64 / total as f64, smallest);
    }
}
