//! Durations and sizes: parsing `10s`, `1h30m`, `250ms`, `5MiB`, and printing durations
//! the way Prometheus writes them.

use serde::{Serialize, Serializer};

/// Duration units, largest first, with their length in milliseconds (Prometheus's set).
pub const DURATION_UNITS: [(&str, u64); 7] =
    [("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// The longest duration a spec may give: 100 years. Prometheus keeps durations as signed
/// 64-bit nanoseconds (about 292 years) and the runtime as unsigned ones (about 584 years);
/// a round bound well below both leaves room for the emitters' sums, and every consumer
/// (f64 seconds, JSON milliseconds) holds it exactly.
pub const MAX_DURATION: Duration = Duration::from_millis(100 * 365 * 86_400_000);

/// Size units with their length in bytes.
pub const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// A non-negative duration with millisecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    /// Length in milliseconds; from a spec at most [`MAX_DURATION`].
    pub millis: u64,
}

impl Duration {
    /// A duration of `millis` milliseconds (`const`, for the compiler's default policies).
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    /// From seconds (saturating: no duration pip accepts comes near `u64::MAX` milliseconds).
    pub const fn from_secs(secs: u64) -> Self {
        Duration { millis: secs.saturating_mul(1000) }
    }

    /// Whether the duration is zero.
    pub fn is_zero(&self) -> bool {
        self.millis == 0
    }

    /// Seconds as an `f64`, exact for every duration up to [`MAX_DURATION`].
    pub fn as_secs_f64(&self) -> f64 {
        self.millis as f64 / 1000.0
    }
}

impl std::fmt::Display for Duration {
    /// Prometheus's form: `1h30m`, `250ms`, `0s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.millis;
        for (unit, len) in DURATION_UNITS {
            let n = rest / len;
            if n > 0 {
                write!(f, "{n}{unit}")?;
                rest -= n * len;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A quantity literal's value, its kind told by its units (see [`parse_quantity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A duration in milliseconds; negative when written with `-`.
    Duration(i128),
    /// A size in bytes; sizes cannot be negative.
    Size(u64),
}

/// Why a quantity does not parse. Offsets are bytes into the quantity's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    /// The unit is neither a duration nor a size unit.
    UnknownUnit {
        /// The unit as written, e.g. `sec`.
        unit: String,
        /// Byte offset of the unit in the quantity's text, for the diagnostic's span.
        offset: usize,
    },
    /// `1h5MiB`.
    MixedUnits,
    /// `30m1h`: Prometheus requires the largest unit first, each at most once.
    UnitOrder {
        /// The first unit that is not smaller than the one before it.
        unit: String,
        /// Byte offset of that unit in the quantity's text.
        offset: usize,
    },
    /// `1.5ms`: durations have millisecond resolution, sizes byte resolution.
    Fraction,
    /// A size or sub-part with a sign, or more than one size part.
    Malformed,
    /// Larger than `u64::MAX` milliseconds or bytes.
    Overflow,
}

/// Is this a known duration or size unit?
pub fn is_known_unit(unit: &str) -> bool {
    DURATION_UNITS.iter().any(|(u, _)| *u == unit) || SIZE_UNITS.iter().any(|(u, _)| *u == unit)
}

/// "a duration", "a size" or "a quantity" (unknown unit), for messages.
pub fn describe_quantity(text: &str) -> &'static str {
    match parse_quantity(text) {
        Ok(Quantity::Duration(_)) => "a duration",
        Ok(Quantity::Size(_)) => "a size",
        Err(_) => "a quantity",
    }
}

/// Parses `10s`, `1h30m`, `-5m`, `1.5h`, `5MiB`.
pub fn parse_quantity(text: &str) -> Result<Quantity, QuantityError> {
    let (negative, body, base) = match text.strip_prefix('-') {
        Some(rest) => (true, rest, 1),
        None => (false, text, 0),
    };
    let parts = split_parts(body, base)?;
    let first_unit = parts.first().map(|p| p.unit).unwrap_or("");
    if SIZE_UNITS.iter().any(|(u, _)| *u == first_unit) {
        let [part] = parts.as_slice() else {
            return Err(if parts.iter().any(|p| DURATION_UNITS.iter().any(|(u, _)| *u == p.unit)) {
                QuantityError::MixedUnits
            } else {
                QuantityError::Malformed
            });
        };
        if negative {
            return Err(QuantityError::Malformed);
        }
        let mult = SIZE_UNITS.iter().find(|(u, _)| *u == part.unit).map_or(1, |(_, m)| *m);
        return scaled(part.number, mult).and_then(|v| u64::try_from(v).map_err(|_| QuantityError::Overflow)).map(Quantity::Size);
    }
    let mut total: i128 = 0;
    let mut last_rank = None;
    for part in &parts {
        let Some(rank) = DURATION_UNITS.iter().position(|(u, _)| *u == part.unit) else {
            return Err(if SIZE_UNITS.iter().any(|(u, _)| *u == part.unit) {
                QuantityError::MixedUnits
            } else {
                QuantityError::UnknownUnit { unit: part.unit.to_string(), offset: part.unit_offset }
            });
        };
        if last_rank.is_some_and(|r| rank <= r) {
            return Err(QuantityError::UnitOrder { unit: part.unit.to_string(), offset: part.unit_offset });
        }
        last_rank = Some(rank);
        let mult = DURATION_UNITS.get(rank).map_or(1, |(_, m)| *m);
        total = total.checked_add(scaled(part.number, mult)?).ok_or(QuantityError::Overflow)?;
    }
    if total > i128::from(u64::MAX) {
        return Err(QuantityError::Overflow);
    }
    Ok(Quantity::Duration(if negative { -total } else { total }))
}

struct Part<'a> {
    number: &'a str,
    unit: &'a str,
    unit_offset: usize,
}

fn split_parts(body: &str, base: usize) -> Result<Vec<Part<'_>>, QuantityError> {
    let bytes = body.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let num_start = i;
        while i < bytes.len() && bytes.get(i).is_some_and(|b| b.is_ascii_digit() || *b == b'.' || *b == b'_') {
            i += 1;
        }
        let unit_start = i;
        while i < bytes.len() && bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let (Some(number), Some(unit)) = (body.get(num_start..unit_start), body.get(unit_start..i)) else {
            return Err(QuantityError::Malformed);
        };
        if number.is_empty() || unit.is_empty() {
            return Err(QuantityError::Malformed);
        }
        parts.push(Part { number, unit, unit_offset: base + unit_start });
    }
    if parts.is_empty() {
        return Err(QuantityError::Malformed);
    }
    Ok(parts)
}

/// `number * mult`, exactly, where `number` is decimal text that may have a fraction.
fn scaled(number: &str, mult: u64) -> Result<i128, QuantityError> {
    let clean: String = number.chars().filter(|c| *c != '_').collect();
    let (int, frac) = clean.split_once('.').unwrap_or((&clean, ""));
    let int: i128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| QuantityError::Overflow)? };
    let mut value = int.checked_mul(i128::from(mult)).ok_or(QuantityError::Overflow)?;
    if !frac.is_empty() {
        if frac.len() > 18 {
            return Err(QuantityError::Fraction);
        }
        let f: i128 = frac.parse().map_err(|_| QuantityError::Malformed)?;
        let denom = 10i128.pow(u32::try_from(frac.len()).map_err(|_| QuantityError::Fraction)?);
        let num = f.checked_mul(i128::from(mult)).ok_or(QuantityError::Overflow)?;
        if num % denom != 0 {
            return Err(QuantityError::Fraction);
        }
        value = value.checked_add(num / denom).ok_or(QuantityError::Overflow)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_in_prometheus_form() {
        assert_eq!(parse_quantity("1h30m"), Ok(Quantity::Duration(5_400_000)));
        assert_eq!(parse_quantity("1.5h"), Ok(Quantity::Duration(5_400_000)));
        assert_eq!(parse_quantity("250ms"), Ok(Quantity::Duration(250)));
        assert_eq!(parse_quantity("-1m"), Ok(Quantity::Duration(-60_000)));
        assert_eq!(Duration::from_millis(5_400_000).to_string(), "1h30m");
        assert_eq!(Duration::from_millis(90_061_001).to_string(), "1d1h1m1s1ms");
        assert_eq!(Duration::from_millis(0).to_string(), "0s");
    }

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse_quantity("5MiB"), Ok(Quantity::Size(5 << 20)));
        assert_eq!(parse_quantity("5MB"), Ok(Quantity::Size(5_000_000)));
        assert_eq!(parse_quantity("512KiB"), Ok(Quantity::Size(512 << 10)));
    }

    #[test]
    fn malformed_quantities_are_refused_with_a_reason() {
        assert!(matches!(parse_quantity("10sec"), Err(QuantityError::UnknownUnit { .. })));
        assert_eq!(parse_quantity("1h5MiB"), Err(QuantityError::MixedUnits));
        assert!(matches!(parse_quantity("30m1h"), Err(QuantityError::UnitOrder { .. })));
        assert_eq!(parse_quantity("1.5ms"), Err(QuantityError::Fraction));
        assert_eq!(parse_quantity("99999999999999999999999y"), Err(QuantityError::Overflow));
    }
}
