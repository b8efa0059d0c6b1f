//! PromQL text: how every emitter writes numbers, label values and series selectors, so that
//! the rules, their promtool tests and the dashboards quote the same series the same way.

use std::collections::BTreeMap;

/// 2^53: PromQL computes in f64, exact on integers up to here.
pub const MAX_EXACT: u64 = 1 << 53;

/// Formats a number the way PromQL and YAML read it back exactly.
pub fn number(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { "0".into() }
}

/// `v` as the inside of a double-quoted PromQL string: `\`, `"` and newlines escaped.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `metric{k="v",...}`, every label matched with `=`, in the order given.
pub fn selector(metric: &str, labels: &[(&str, &str)]) -> String {
    matchers(metric, labels.iter().copied())
}

/// [`selector`] of a label map (in key order): also how promtool names an input series.
pub fn series(metric: &str, labels: &BTreeMap<String, String>) -> String {
    matchers(metric, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn matchers<'a>(metric: &str, labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let inner: Vec<String> = labels.map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// The labels of `pairs` as a sorted map, the form [`series`] and the plans' label fields take;
/// a key given twice keeps its last value.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

/// `ratio` as `numerator / 10^k`, exactly as [`number`] writes it in decimal; `None` when it
/// is negative or either part does not fit in a u64 (more than 19 decimal places).
pub fn decimal_fraction(ratio: f64) -> Option<(u64, u64)> {
    let text = number(ratio);
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let numerator = format!("{int}{frac}").parse::<u64>().ok()?;
    let denominator = 10u64.checked_pow(u32::try_from(frac.len()).ok()?)?;
    Some((numerator, denominator))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn exact_ratios_come_from_the_decimal_form() {
        assert_eq!(decimal_fraction(0.05), Some((5, 100)));
        assert_eq!(decimal_fraction(0.1), Some((1, 10)));
        assert_eq!(decimal_fraction(0.0137), Some((137, 10000)));
        let (num, den) = decimal_fraction(0.05).unwrap();
        let (total, exact) = (20 * den * 1000, 20 * num * 1000);
        assert_eq!(exact as f64 / total as f64, 0.05);
    }

    #[test]
    fn ratios_too_fine_for_a_u64_are_refused_not_wrapped() {
        assert_eq!(decimal_fraction(1e-19), Some((1, 10_000_000_000_000_000_000)));
        assert_eq!(decimal_fraction(1e-20), None);
        assert_eq!(decimal_fraction(-0.5), None);
    }

    #[test]
    fn a_selector_and_a_series_of_the_same_labels_are_the_same_text() {
        let pairs = [("a", "x\"y"), ("b", "back\\slash\nline")];
        assert_eq!(selector("m", &pairs), series("m", &map(&pairs)));
        assert_eq!(selector("m", &pairs), r#"m{a="x\"y",b="back\\slash\nline"}"#);
        assert_eq!(selector("m", &[]), "m{}");
    }
}
