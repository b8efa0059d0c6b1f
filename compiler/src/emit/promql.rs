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

/// A duration the way Prometheus writes one (`model.Duration.String()`): years and weeks only
/// when they divide it exactly (`30d`, not `4w2d`; `2w` for 14 days), then days down to
/// milliseconds. The SLO rules name their windows with it (`pip:slo_errors:ratio_rate30d`), as
/// Sloth and the SRE workbook do.
pub fn duration(d: crate::units::Duration) -> String {
    let mut rest = d.millis;
    if rest == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let units: [(&str, u64, bool); 7] = [
        ("y", 365 * 86_400_000, true),
        ("w", 7 * 86_400_000, true),
        ("d", 86_400_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1_000, false),
        ("ms", 1, false),
    ];
    for (unit, len, exact) in units {
        if exact && !rest.is_multiple_of(len) {
            continue;
        }
        let n = rest / len;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest -= n * len;
        }
    }
    out
}

/// Every way an instrumentation library writes the histogram bucket bound `le` as a label
/// value, sorted and deduplicated: Go's `strconv.FormatFloat(x, 'g', -1, 64)` (client_golang's
/// text format: `1`, `0.3`, `1e+06`), the shortest plain decimal (`1000000`, Rust clients), and
/// the OpenMetrics form that Python, Java and Prometheus 3's ingestion normalization write
/// (`1.0`, `0.3`, `1e+06`). A bound in one spelling matches the others in
/// [`le_regex`].
pub fn le_spellings(x: f64) -> Vec<String> {
    let plain = number(x);
    let go = go_g(x);
    let open_metrics = if go.contains(['.', 'e']) { go.clone() } else { format!("{go}.0") };
    let plain_dot = if plain.contains('.') { plain.clone() } else { format!("{plain}.0") };
    let mut v = vec![plain, go, open_metrics, plain_dot];
    v.sort();
    v.dedup();
    v
}

/// The fully anchored regular expression (PromQL's `=~`) matching every spelling of `le`
/// ([`le_spellings`]), its metacharacters escaped: `1|1\.0`.
pub fn le_regex(x: f64) -> String {
    le_spellings(x).iter().map(|s| regex_syntax::escape(s)).collect::<Vec<_>>().join("|")
}

/// Go's `strconv.FormatFloat(x, 'g', -1, 64)`: the shortest digits, in exponent form when the
/// decimal exponent is below -4 or at least 6 (Go's `%g` with the shortest precision decides
/// with precision 6: `1e+06`, `123456`).
fn go_g(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return number(x);
    }
    // Rust's `{:e}` writes the shortest round-trip digits: `1e6`, `3e-1`, `1.5e0`.
    let sci = format!("{x:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else { return number(x) };
    let Ok(exp) = exp.parse::<i32>() else { return number(x) };
    if (-4..6).contains(&exp) {
        number(x)
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// A non-negative decimal number `num / 10^places`, computed without rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The digits.
    pub num: u128,
    /// How many of them are after the decimal point.
    pub places: u32,
}

impl Decimal {
    /// `x` as [`number`] writes it; `None` when negative, not finite or too long.
    pub fn of(x: f64) -> Option<Decimal> {
        let (num, den) = decimal_fraction(x)?;
        Some(Decimal { num: u128::from(num), places: den.checked_ilog10()? })
    }

    /// `self × other`, exactly; `None` past 38 digits.
    pub fn times(self, other: Decimal) -> Option<Decimal> {
        Some(Decimal { num: self.num.checked_mul(other.num)?, places: self.places.checked_add(other.places)? })
    }

    /// `1 − self`, exactly; `None` when `self` is above 1.
    pub fn one_minus(self) -> Option<Decimal> {
        let one = 10u128.checked_pow(self.places)?;
        Some(Decimal { num: one.checked_sub(self.num)?, places: self.places })
    }

    /// The decimal text, trailing zeros dropped: `0.0144`.
    pub fn text(self) -> String {
        let digits = self.num.to_string();
        let places = usize::try_from(self.places).unwrap_or(usize::MAX);
        let (int, frac) = if digits.len() > places {
            let (i, f) = digits.split_at(digits.len() - places);
            (i.to_string(), f.to_string())
        } else {
            ("0".to_string(), format!("{}{digits}", "0".repeat(places - digits.len())))
        };
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { int } else { format!("{int}.{frac}") }
    }

    /// The nearest f64 (the text parsed, as Prometheus parses it).
    pub fn value(self) -> f64 {
        self.text().parse().unwrap_or(f64::NAN)
    }
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

    #[test]
    fn durations_are_written_as_prometheus_writes_them() {
        use crate::units::Duration;
        let d = |ms: u64| duration(Duration::from_millis(ms));
        assert_eq!(d(30 * 86_400_000), "30d");
        assert_eq!(d(28 * 86_400_000), "4w");
        assert_eq!(d(90 * 60_000), "1h30m");
        assert_eq!(d(365 * 86_400_000), "1y");
        assert_eq!(d(0), "0s");
    }

    #[test]
    fn every_spelling_of_a_bucket_bound_is_matched() {
        assert_eq!(le_spellings(1.0), ["1", "1.0"]);
        assert_eq!(le_spellings(0.3), ["0.3"]);
        assert_eq!(le_spellings(1e6), ["1000000", "1000000.0", "1e+06"]);
        assert_eq!(le_spellings(2.5e-5), ["0.000025", "2.5e-05"]);
        assert_eq!(le_regex(1.0), r"1|1\.0");
        assert_eq!(le_regex(1e6), r"1000000|1000000\.0|1e\+06");
    }

    #[test]
    fn decimal_products_are_exact() {
        let budget = Decimal::of(0.999).unwrap().one_minus().unwrap();
        assert_eq!(budget.text(), "0.001");
        assert_eq!(Decimal::of(14.4).unwrap().times(budget).unwrap().text(), "0.0144");
        assert_eq!(Decimal::of(14.4).unwrap().times(budget).unwrap().value(), 0.0144);
        assert_eq!(Decimal::of(6.0).unwrap().times(Decimal::of(0.0005).unwrap()).unwrap().text(), "0.003");
        assert_eq!(Decimal { num: 5, places: 0 }.text(), "5");
    }
}
