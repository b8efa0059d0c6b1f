//! Reading values: strings with escapes, quantities with units, numbers, severities, names.

use crate::ast::{Assign, Ident, Statement, StatementKind, Str, Value, ValueKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::ir::Severity;
use crate::source::Sources;
use crate::span::{SourceRef, Span};
use crate::units::{self, Duration, MAX_DURATION, Quantity, QuantityError};

/// The checking context: where diagnostics go.
pub(crate) struct Cx<'a> {
    pub sources: &'a Sources,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    pub fn new(sources: &'a Sources) -> Self {
        Cx { sources, diags: Vec::new() }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn src(&self, span: Span) -> SourceRef {
        self.sources.source_ref(span)
    }

    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }
}

/// "did you mean `x`?" when a candidate is close enough.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// Formats a list as "`a`, `b` or `c`".
pub(crate) fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|s| format!("`{s}`")).collect();
            format!("{} or `{last}`", init.join(", "))
        }
    }
}

fn mismatch(cx: &mut Cx<'_>, v: &Value, expected: &str, help: Option<&str>) {
    let mut d = Diagnostic::error(Code::TypeMismatch, v.span, format!("expected {expected}, found {}", v.kind.describe()))
        .label(format!("this is {}", v.kind.describe()));
    if let Some(h) = help {
        d = d.help(h);
    }
    cx.push(d);
}

/// Decodes a string literal's escapes.
pub(crate) fn string(cx: &mut Cx<'_>, s: &Str) -> Option<String> {
    let mut out = String::with_capacity(s.raw.len());
    let mut chars = s.raw.char_indices();
    let body_start = s.span.start + 1;
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let bad = |cx: &mut Cx<'_>, len: usize, what: &str| {
            cx.push(
                Diagnostic::error(
                    Code::StringEscape,
                    Span::new(s.span.file, body_start + i, body_start + i + len),
                    format!("{what} in string"),
                )
                .label("here")
                .help("escapes are \\\" \\\\ \\n \\r \\t \\0 and \\u{1F600}"),
            );
        };
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, 't')) => out.push('\t'),
            Some((_, '0')) => out.push('\0'),
            Some((_, 'u')) => {
                let rest = s.raw.get(i + 2..).unwrap_or("");
                let decoded = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .filter(|(hex, _)| !hex.is_empty() && hex.len() <= 6)
                    .and_then(|(hex, _)| u32::from_str_radix(hex, 16).ok().map(|n| (hex.len(), n)))
                    .and_then(|(len, n)| char::from_u32(n).map(|c| (len, c)));
                match decoded {
                    Some((len, ch)) => {
                        out.push(ch);
                        for _ in 0..len + 2 {
                            chars.next();
                        }
                    }
                    None => {
                        bad(cx, 2, "invalid unicode escape");
                        return None;
                    }
                }
            }
            Some((_, other)) => {
                bad(cx, 1 + other.len_utf8(), &format!("unknown escape `\\{}`", other.escape_debug()));
                return None;
            }
            None => {
                bad(cx, 1, "unfinished escape");
                return None;
            }
        }
    }
    Some(out)
}

/// A string value with its escapes decoded; any other form is a type error.
pub(crate) fn string_value(cx: &mut Cx<'_>, v: &Value) -> Option<String> {
    match &v.kind {
        ValueKind::Str(s) => string(cx, s),
        _ => {
            mismatch(cx, v, "a string", Some("put the text in double quotes"));
            None
        }
    }
}

/// A non-empty string value.
pub(crate) fn nonempty_string(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<String> {
    let s = string_value(cx, v)?;
    if s.trim().is_empty() {
        cx.push(Diagnostic::error(Code::EmptyString, v.span, format!("{what} is empty")).label("empty"));
        return None;
    }
    Some(s)
}

/// An `http(s)://` URL.
pub(crate) fn url(cx: &mut Cx<'_>, v: &Value) -> Option<String> {
    let s = nonempty_string(cx, v, "the runbook URL")?;
    if !(s.starts_with("https://") || s.starts_with("http://")) || s.contains(char::is_whitespace) {
        cx.push(
            Diagnostic::error(Code::InvalidUrl, v.span, "runbook is not an http(s) URL")
                .label("not a URL")
                .help("alerts link here from their `runbook_url` annotation, e.g. \"https://runbooks.example.com/payments\""),
        );
        return None;
    }
    Some(s)
}

fn quantity_error(cx: &mut Cx<'_>, v: &Value, text: &str, e: QuantityError) {
    let (span, message, help) = match e {
        QuantityError::UnknownUnit { unit, offset } => (
            Span::new(v.span.file, v.span.start + offset, v.span.start + offset + unit.len()),
            format!("unknown unit `{unit}`"),
            "durations use ms, s, m, h, d, w, y; sizes use B, KB, MB, GB, KiB, MiB, GiB".to_string(),
        ),
        QuantityError::MixedUnits => {
            (v.span, format!("`{text}` mixes duration and size units"), "write a duration or a size, not both".into())
        }
        QuantityError::UnitOrder { unit, offset } => (
            Span::new(v.span.file, v.span.start + offset, v.span.start + offset + unit.len()),
            format!("`{unit}` is out of order in `{text}`"),
            "write the largest unit first, each unit once, as Prometheus does: `1h30m`".into(),
        ),
        QuantityError::Fraction => {
            (v.span, format!("`{text}` is not a whole number of milliseconds or bytes"), "use a smaller unit".into())
        }
        QuantityError::Malformed => (v.span, format!("`{text}` is not a valid quantity"), "e.g. `10s`, `1h30m`, `5MiB`".into()),
        QuantityError::Overflow => (v.span, format!("`{text}` is too large"), "use a smaller value".into()),
    };
    cx.push(Diagnostic::error(Code::Unit, span, message).label("here").help(help));
}

/// A duration (may be zero; negative or longer than [`MAX_DURATION`] is an error).
pub(crate) fn duration(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<Duration> {
    let why = format!("durations are at most {MAX_DURATION}: Prometheus keeps durations as 64-bit nanoseconds, about 292 years");
    duration_at_most(cx, v, what, MAX_DURATION, &why)
}

/// A duration from zero to `max` (at most [`MAX_DURATION`]); `why` (the help line) says where
/// the bound comes from.
pub(crate) fn duration_at_most(cx: &mut Cx<'_>, v: &Value, what: &str, max: Duration, why: &str) -> Option<Duration> {
    let max = max.min(MAX_DURATION);
    match &v.kind {
        ValueKind::Quantity(q) => match units::parse_quantity(q) {
            Ok(Quantity::Duration(ms)) if ms < 0 => {
                cx.push(
                    Diagnostic::error(Code::NegativeDuration, v.span, format!("{what} is negative"))
                        .label("negative")
                        .help("durations are zero or more, e.g. `0s` or `5m`"),
                );
                None
            }
            Ok(Quantity::Duration(ms)) if ms > i128::from(max.millis) => {
                cx.push(Diagnostic::error(Code::TooLarge, v.span, format!("{what} is longer than {max}")).label("too long").help(why));
                None
            }
            Ok(Quantity::Duration(ms)) => u64::try_from(ms).ok().map(Duration::from_millis),
            Ok(Quantity::Size(_)) => {
                mismatch(cx, v, &format!("a duration for {what}"), Some("durations look like `250ms`, `10s`, `5m`, `1h30m`"));
                None
            }
            Err(e) => {
                quantity_error(cx, v, q, e);
                None
            }
        },
        ValueKind::Number(n) if n.trim_start_matches('-').chars().all(|c| c == '0' || c == '.' || c == '_') => {
            mismatch(cx, v, &format!("a duration for {what}"), Some("write `0s`: a duration needs a unit"));
            None
        }
        _ => {
            mismatch(cx, v, &format!("a duration for {what}"), Some("durations look like `250ms`, `10s`, `5m`, `1h30m`"));
            None
        }
    }
}

/// A duration that must be greater than zero (windows, intervals).
pub(crate) fn positive_duration(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<Duration> {
    let d = duration(cx, v, what)?;
    if d.is_zero() {
        cx.push(
            Diagnostic::error(Code::ZeroWindow, v.span, format!("{what} is zero"))
                .label("zero")
                .help(format!("{what} must be longer than zero")),
        );
        return None;
    }
    Some(d)
}

/// A size in bytes, greater than zero.
pub(crate) fn size(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<u64> {
    match &v.kind {
        ValueKind::Quantity(q) => match units::parse_quantity(q) {
            Ok(Quantity::Size(0)) => {
                cx.push(Diagnostic::error(Code::ZeroSize, v.span, format!("{what} is zero")).label("zero"));
                None
            }
            Ok(Quantity::Size(n)) => Some(n),
            Ok(Quantity::Duration(_)) => {
                mismatch(cx, v, &format!("a size for {what}"), Some("sizes look like `512KiB`, `5MiB`, `5MB`"));
                None
            }
            Err(e) => {
                quantity_error(cx, v, q, e);
                None
            }
        },
        _ => {
            mismatch(cx, v, &format!("a size for {what}"), Some("sizes look like `512KiB`, `5MiB`, `5MB`"));
            None
        }
    }
}

/// A finite number (`_` separators allowed); any other form is a type error.
pub(crate) fn number(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<f64> {
    match &v.kind {
        ValueKind::Number(n) => {
            let clean: String = n.chars().filter(|c| *c != '_').collect();
            match clean.parse::<f64>() {
                Ok(x) if x.is_finite() => Some(x),
                _ => {
                    cx.push(Diagnostic::error(Code::Number, v.span, format!("`{n}` is not a finite number")).label("here"));
                    None
                }
            }
        }
        ValueKind::Percent(p) => {
            // `2%` where a ratio is wanted: say which number it is.
            let help = percent_as_ratio(p).map(|r| format!("write the ratio as a number: `{r}` (not `{p}`)"));
            mismatch(cx, v, &format!("a number for {what}"), help.as_deref());
            None
        }
        _ => {
            mismatch(cx, v, &format!("a number for {what}"), None);
            None
        }
    }
}

/// `2%` → `0.02`, `99.9%` → `0.999`, `150%` → `1.5`: the decimal point moved two places, on
/// the text (no float rounding); `None` for text that is not a plain decimal percentage.
pub(crate) fn percent_as_ratio(percent: &str) -> Option<String> {
    let clean: String = percent.trim_end_matches('%').chars().filter(|c| *c != '_').collect();
    let (int, frac) = clean.split_once('.').unwrap_or((clean.as_str(), ""));
    if int.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{}{frac}", int.trim_start_matches('0'));
    let point = int.trim_start_matches('0').len() as isize - 2;
    let (whole, fraction) = if point <= 0 {
        (String::from("0"), format!("{}{digits}", "0".repeat(point.unsigned_abs())))
    } else {
        let (w, f) = digits.split_at(point.unsigned_abs().min(digits.len()));
        (w.to_string(), f.to_string())
    };
    let fraction = fraction.trim_end_matches('0');
    Some(if fraction.is_empty() { whole } else { format!("{whole}.{fraction}") })
}

/// A whole number greater than zero.
pub(crate) fn count(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<u64> {
    match &v.kind {
        ValueKind::Number(n) => {
            let clean: String = n.chars().filter(|c| *c != '_').collect();
            match clean.parse::<u64>() {
                Ok(0) => {
                    cx.push(
                        Diagnostic::error(Code::ZeroCount, v.span, format!("{what} is zero"))
                            .label("zero")
                            .help(format!("{what} must be at least 1")),
                    );
                    None
                }
                Ok(x) => Some(x),
                Err(_) => {
                    cx.push(
                        Diagnostic::error(Code::TypeMismatch, v.span, format!("expected a whole number for {what}, found `{n}`"))
                            .label("not a whole number"),
                    );
                    None
                }
            }
        }
        _ => {
            mismatch(cx, v, &format!("a whole number for {what}"), None);
            None
        }
    }
}

/// A whole number from 1 to `max`; `why` (the help line) says where the bound comes from.
pub(crate) fn count_at_most(cx: &mut Cx<'_>, v: &Value, what: &str, max: u64, why: &str) -> Option<u64> {
    if let ValueKind::Number(n) = &v.kind {
        let clean: String = n.chars().filter(|c| *c != '_').collect();
        let over = match clean.parse::<u64>() {
            Ok(x) => x > max,
            Err(e) => *e.kind() == std::num::IntErrorKind::PosOverflow,
        };
        if over {
            cx.push(Diagnostic::error(Code::TooLarge, v.span, format!("{what} is larger than {max}")).label("too large").help(why));
            return None;
        }
    }
    count(cx, v, what)
}

/// A name among `choices` (e.g. `deny`/`record`).
pub(crate) fn choice<'c>(cx: &mut Cx<'_>, v: &Value, what: &str, choices: &[&'c str]) -> Option<&'c str> {
    match &v.kind {
        ValueKind::Path(p) => {
            if let Some(c) = choices.iter().find(|c| **c == p.as_str()) {
                return Some(c);
            }
            let mut d = Diagnostic::error(Code::UnknownValue, v.span, format!("`{p}` is not a valid {what}"))
                .label(format!("expected {}", one_of(choices)));
            if let Some(h) = did_you_mean(p, choices.iter().copied()) {
                d = d.help(h);
            }
            cx.push(d);
            None
        }
        _ => {
            mismatch(cx, v, &one_of(choices), None);
            None
        }
    }
}

/// `evidence_values = omit | hash | debug`; an unknown mode is an error whose help says what
/// each mode keeps.
pub(crate) fn evidence_values(cx: &mut Cx<'_>, v: &Value) -> Option<crate::ir::EvidenceValues> {
    use crate::ir::EvidenceValues;
    let names = EvidenceValues::ALL.map(EvidenceValues::as_str);
    let explain = "`omit` keeps only the names of the values a check read (the default), `hash` a keyed hash of each (equal values correlate), `debug` their `Debug` text (only for values that are not personal data)";
    match &v.kind {
        ValueKind::Path(p) => {
            if let Some(m) = EvidenceValues::ALL.iter().find(|m| m.as_str() == p.as_str()) {
                return Some(*m);
            }
            let help = match did_you_mean(p, names) {
                Some(h) => format!("{h} {explain}"),
                None => explain.to_string(),
            };
            cx.push(
                Diagnostic::error(Code::UnknownValue, v.span, format!("`{p}` is not a way to keep evidence values"))
                    .label(format!("expected {}", one_of(&names)))
                    .help(help),
            );
            None
        }
        _ => {
            mismatch(cx, v, &one_of(&names), Some(explain));
            None
        }
    }
}

/// `true` or `false`.
pub(crate) fn boolean(cx: &mut Cx<'_>, v: &Value, what: &str) -> Option<bool> {
    choice(cx, v, what, &["true", "false"]).map(|c| c == "true")
}

/// A severity `P0`..`P3` written as a value.
pub(crate) fn severity(cx: &mut Cx<'_>, v: &Value) -> Option<Severity> {
    match &v.kind {
        ValueKind::Path(p) => severity_name(cx, p, v.span),
        _ => {
            mismatch(cx, v, "a severity (`P0`, `P1`, `P2` or `P3`)", None);
            None
        }
    }
}

/// A severity from a bare name (a value, or the `P1` of a `severity P1 { ... }` override);
/// an unknown name is reported at `span`.
pub(crate) fn severity_name(cx: &mut Cx<'_>, name: &str, span: Span) -> Option<Severity> {
    if let Some(s) = Severity::parse(name) {
        return Some(s);
    }
    cx.push(
        Diagnostic::error(Code::UnknownSeverity, span, format!("`{name}` is not a severity"))
            .label("unknown severity")
            .help("severities are P0 (critical), P1 (high), P2 (medium) and P3 (low)"),
    );
    None
}

/// A reference to another construct, by name.
pub(crate) fn reference<'v>(cx: &mut Cx<'_>, v: &'v Value, what: &str) -> Option<(&'v str, Span)> {
    match &v.kind {
        ValueKind::Path(p) if !p.contains('.') => Some((p.as_str(), v.span)),
        _ => {
            mismatch(cx, v, &format!("the name of {what}"), None);
            None
        }
    }
}

/// Checks a name used as a spec or construct name.
pub(crate) fn check_name(cx: &mut Cx<'_>, id: &Ident, what: &str) -> bool {
    if pip_conventions::is_valid_construct_name(&id.name) {
        return true;
    }
    let suggestion: String = id
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('_')
        .to_string();
    let mut d = Diagnostic::error(Code::InvalidName, id.span, format!("`{}` is not a valid {what} name", id.name))
        .label("not valid in Prometheus metric and label names");
    d = if suggestion.is_empty() || suggestion.starts_with(|c: char| c.is_ascii_digit()) {
        d.help("names use ASCII letters, digits and `_`, and do not start with a digit or `__`")
    } else {
        d.help(format!("names use ASCII letters, digits and `_`; try `{suggestion}`"))
    };
    cx.push(d);
    false
}

/// What kind of statement this is, in words.
pub(crate) fn describe_statement(s: &Statement) -> String {
    match &s.kind {
        StatementKind::Assign(a) => format!("`{}`", a.key.name),
        StatementKind::Requires(_) => "`requires`".into(),
        StatementKind::Ensures(_) => "`ensures`".into(),
        StatementKind::Every { keyword, .. } => format!("`{} every`", keyword.name),
        StatementKind::Expect { .. } => "`expect subsystem`".into(),
        StatementKind::Witness { .. } => "`witness`".into(),
        StatementKind::Condition(c) => format!("`{} when`", c.level.name),
        StatementKind::Burn { .. } => "`burn`".into(),
        StatementKind::Include(_) => "`include`".into(),
        StatementKind::Row { .. } => "`row`".into(),
        StatementKind::SeverityOverride { .. } => "a severity override".into(),
        StatementKind::Labels(_) => "`labels`".into(),
    }
}

/// Assignments of a block (or override/labels body), checked against the allowed keys:
/// unknown keys and duplicates are reported, the rest can be looked up.
pub(crate) struct Settings<'a> {
    assigns: Vec<&'a Assign>,
    owner: Span,
}

impl<'a> Settings<'a> {
    pub fn collect(cx: &mut Cx<'_>, kind: &str, owner: Span, allowed: &[&str], assigns: impl IntoIterator<Item = &'a Assign>) -> Self {
        let mut kept: Vec<&'a Assign> = Vec::new();
        for a in assigns {
            if !allowed.contains(&a.key.name.as_str()) {
                let mut d = Diagnostic::error(Code::UnknownSetting, a.key.span, format!("`{}` is not a setting of `{kind}`", a.key.name))
                    .label("unknown setting");
                d = match did_you_mean(&a.key.name, allowed.iter().copied()) {
                    Some(h) => d.help(h),
                    None => d.help(format!("`{kind}` takes {}", one_of(allowed))),
                };
                cx.push(d);
                continue;
            }
            if let Some(first) = kept.iter().find(|k| k.key.name == a.key.name) {
                cx.push(
                    Diagnostic::error(Code::DuplicateSetting, a.key.span, format!("`{}` is set twice", a.key.name))
                        .label("set again here")
                        .also(first.key.span, "first set here")
                        .help("remove one of them"),
                );
                continue;
            }
            kept.push(a);
        }
        Settings { assigns: kept, owner }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.assign(key).map(|a| &a.value)
    }

    /// The whole assignment of a setting, for errors that point at its name.
    pub fn assign(&self, key: &str) -> Option<&'a Assign> {
        self.assigns.iter().find(|a| a.key.name == key).copied()
    }

    /// The value of a required setting, or an error on the construct's name.
    pub fn require(&self, cx: &mut Cx<'_>, kind: &str, name: &str, key: &str, example: &str) -> Option<&'a Value> {
        let v = self.get(key);
        if v.is_none() {
            cx.push(
                Diagnostic::error(Code::MissingSetting, self.owner, format!("{kind} `{name}` has no `{key}`"))
                    .label(format!("needs `{key}`"))
                    .help(format!("add `{key} = {example}` to the block")),
            );
        }
        v
    }
}

#[cfg(test)]
mod percent_tests {
    use super::percent_as_ratio;

    #[test]
    fn a_percentage_is_written_as_its_ratio() {
        for (p, r) in
            [("2%", "0.02"), ("99.9%", "0.999"), ("150%", "1.5"), ("0.5%", "0.005"), ("100%", "1"), ("5%", "0.05"), ("12.50%", "0.125")]
        {
            assert_eq!(percent_as_ratio(p).as_deref(), Some(r), "{p}");
        }
        assert_eq!(percent_as_ratio("x%"), None);
    }
}
