//! Times as people write them: RFC 3339 in UTC with milliseconds for output; RFC 3339 (any
//! offset), a plain date, or Unix milliseconds for input.

/// Why [`parse_millis`] refused a time; the message lists the forms it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Neither RFC 3339, a `YYYY-MM-DD` date nor Unix milliseconds that fit a `u64`.
    #[error("`{0}` is not a time: use RFC 3339 (`2026-04-01T12:00:00Z`), a date (`2026-04-01`) or Unix milliseconds")]
    Unreadable(String),
    /// A readable time before the Unix epoch, which Unix milliseconds cannot hold.
    #[error("`{0}` is before 1970")]
    BeforeEpoch(String),
}

const MS_PER_DAY: i64 = 86_400_000;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds: `2026-04-01T12:00:00.123Z`.
pub fn format_millis(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    let (days, rem) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (min, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

fn digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Reads a time as Unix milliseconds.
pub fn parse_millis(text: &str) -> Result<u64, TimeError> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| TimeError::Unreadable(t.to_string()));
    }
    let bad = || TimeError::Unreadable(t.to_string());
    let (date, rest) = t.split_at_checked(10).ok_or_else(bad)?;
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let (y, m, d) = (digits(y, 4).ok_or_else(bad)?, digits(m, 2).ok_or_else(bad)?, digits(d, 2).ok_or_else(bad)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, m, d) * MS_PER_DAY;
    if !rest.is_empty() {
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
        let (clock, zone) = match rest.find(['Z', 'z', '+', '-']) {
            Some(i) => rest.split_at(i),
            None => return Err(bad()),
        };
        let (hms, frac) = clock.split_once('.').map_or((clock, ""), |(a, b)| (a, b));
        let mut f = hms.split(':');
        let (Some(h), Some(mi), Some(s), None) = (f.next(), f.next(), f.next(), f.next()) else { return Err(bad()) };
        let (h, mi, s) = (digits(h, 2).ok_or_else(bad)?, digits(mi, 2).ok_or_else(bad)?, digits(s, 2).ok_or_else(bad)?);
        if h > 23 || mi > 59 || s > 60 {
            return Err(bad());
        }
        let milli = if frac.is_empty() {
            0
        } else {
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let three: String = frac.chars().chain("000".chars()).take(3).collect();
            three.parse::<i64>().map_err(|_| bad())?
        };
        let offset = match zone {
            "Z" | "z" => 0,
            z => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let (oh, om) = z.get(1..).and_then(|r| r.split_once(':')).ok_or_else(bad)?;
                let (oh, om) = (digits(oh, 2).ok_or_else(bad)?, digits(om, 2).ok_or_else(bad)?);
                sign * (oh * 3_600_000 + om * 60_000)
            }
        };
        ms += h * 3_600_000 + mi * 60_000 + s * 1000 + milli - offset;
    }
    u64::try_from(ms).map_err(|_| TimeError::BeforeEpoch(t.to_string()))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn times_print_in_utc_with_milliseconds() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_dates_and_millis_are_read() {
        assert_eq!(parse_millis("1709251199999").unwrap(), 1_709_251_199_999);
        assert_eq!(parse_millis("2024-02-29T23:59:59.999Z").unwrap(), 1_709_251_199_999);
        assert_eq!(parse_millis("2024-03-01T01:59:59.999+02:00").unwrap(), 1_709_251_199_999);
        assert_eq!(parse_millis("2024-03-01").unwrap(), 1_709_251_200_000);
        assert_eq!(parse_millis("2024-03-01T00:00:00.5Z").unwrap(), 1_709_251_200_500);
    }

    #[test]
    fn nonsense_and_pre_epoch_times_are_refused() {
        for t in ["", "yesterday", "2024-02-30", "2024-13-01", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.x1Z"] {
            assert!(parse_millis(t).is_err(), "{t}");
        }
        assert!(matches!(parse_millis("1969-12-31T23:59:59Z"), Err(TimeError::BeforeEpoch(_))));
    }

    #[test]
    fn every_millisecond_time_round_trips() {
        for ms in [0u64, 1, 999, 86_399_999, 951_782_400_000, 4_102_444_800_000, 1_776_000_000_123] {
            assert_eq!(parse_millis(&format_millis(ms)).unwrap(), ms);
        }
    }
}
