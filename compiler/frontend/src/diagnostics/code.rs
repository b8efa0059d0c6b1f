//! Every diagnostic code, written once with the one line that explains it. `docs/diagnostics.md`
//! lists the same codes with an example each; a test keeps the two and the fixtures in step.

use std::fmt;

use serde::Serialize;

/// Declares [`Code`]: each variant with its stable code string and its explanation (which is
/// also the variant's doc comment).
macro_rules! codes {
    ($($variant:ident = $code:literal, $explanation:literal;)*) => {
        /// A stable, machine-readable diagnostic code such as `pips::unresolved`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(
                #[doc = $explanation]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the order `docs/diagnostics.md` lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed and in JSON, e.g. `pips::unresolved`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// One line saying what the code means.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(Code::$variant => $explanation,)*
                }
            }
        }
    };
}

codes! {
    // The text of a file.
    Encoding = "pips::encoding", "a spec file is not valid UTF-8";
    Syntax = "pips::syntax", "the text does not follow the grammar of the language";
    TooDeep = "pips::too-deep", "brackets nest deeper than the compiler accepts";
    Internal = "pips::internal", "the parser built a tree the compiler does not expect: a compiler bug, never the spec's fault";
    StringEscape = "pips::string-escape", "a string holds an unknown or malformed escape";
    // Files, specs and names.
    SpecHeader = "pips::spec-header", "a file's `spec` line is missing, misplaced or repeated, or a spec is defined never or twice";
    SpecDirectory = "pips::spec-directory", "the files of one spec are in different directories";
    DuplicateDashboard = "pips::duplicate-dashboard", "two specs define dashboards of the same name (dashboards share one folder and uid space)";
    UnknownConstruct = "pips::unknown-construct", "a top-level item is not a construct kind";
    MissingBlock = "pips::missing-block", "a construct has no `{ ... }` block";
    InvalidName = "pips::invalid-name", "a spec or construct name cannot be used in Prometheus metric and label names";
    DuplicateName = "pips::duplicate-name", "two constructs of one spec have the same name";
    Unresolved = "pips::unresolved", "a reference names no construct of the spec";
    WrongKind = "pips::wrong-kind", "a reference names a construct of a kind that cannot be used there";
    // Settings and statements.
    UnknownSetting = "pips::unknown-setting", "a block sets something its kind does not have";
    DuplicateSetting = "pips::duplicate-setting", "a setting, trigger, condition, part or witness is given twice where it may appear once";
    MissingSetting = "pips::missing-setting", "a block lacks something it needs: a required setting, a version, a trigger, a check or a condition";
    MisplacedStatement = "pips::misplaced-statement", "a statement is in a block that does not take it";
    TypeMismatch = "pips::type-mismatch", "a value has the wrong type for its setting";
    UnknownValue = "pips::unknown-value", "a word is not one of the choices of its setting";
    EmptyString = "pips::empty-string", "a string that must say something is empty or blank";
    InvalidUrl = "pips::invalid-url", "a runbook or witness URL is not an absolute http(s) URL";
    UnknownSeverity = "pips::unknown-severity", "a severity is not one of `P0`, `P1`, `P2` and `P3`";
    SeverityOverride = "pips::severity-override", "a severity's policy is overridden twice";
    InvalidLabel = "pips::invalid-label", "a label name of `labels { ... }` is not a valid Prometheus label name";
    ReservedLabel = "pips::reserved-label", "a label of `labels { ... }` is one that pip sets itself";
    // Alert routing (the spec header's receivers).
    InvalidReceiver = "pips::invalid-receiver", "an Alertmanager receiver name, given or derived from `owner`, holds characters other than ASCII letters, digits and `. _ - : / @`, does not start with a letter or digit, or is longer than 128 bytes";
    // Numbers and quantities.
    Number = "pips::number", "a number cannot be used: not finite, or too large to represent";
    Unit = "pips::unit", "a duration or size has an unknown, mixed or misordered unit, a fraction of the smallest unit, or overflows";
    NegativeDuration = "pips::negative-duration", "a duration is negative";
    ZeroWindow = "pips::zero-window", "a duration that must be positive is zero";
    ZeroCount = "pips::zero-count", "a count that must be at least 1 is zero";
    ZeroSize = "pips::zero-size", "a size that must be positive is zero";
    TooLarge = "pips::too-large", "a value is larger than the runtime or the generated tests allow";
    // ledger
    KeySource = "pips::key-source", "a ledger's `key` or `signing_key` does not come from `env(\"NAME\")` with a valid variable name or from `file(\"path\")`";
    SyncPolicy = "pips::sync-policy", "`sync every append` is combined with other triggers";
    InvalidOrigin = "pips::invalid-origin", "a ledger's checkpoint `origin` is longer than 255 bytes, or holds a space, a `+`, a control character or a URL scheme";
    VerifierKey = "pips::verifier-key", "a witness key is not a C2SP Ed25519 cosignature verifier key `name+hexid+base64` with a matching key id";
    WitnessQuorum = "pips::witness-quorum", "a ledger's `witness_quorum` asks for more cosignatures than it names witnesses";
    // invariant
    RustExpr = "pips::rust-expr", "a `requires` or `ensures` check is not a valid Rust expression";
    AssignmentInCheck = "pips::assignment-in-check", "a check assigns (`=`) where it should compare (`==`)";
    ResultInRequires = "pips::result-in-requires", "a `requires` check reads `result` or `ok`, which exist only once the function has returned";
    NoEvidence = "pips::no-evidence", "warning: an invariant names no `evidence` ledger, so its violations leave no evidence";
    // rate_limit and threshold conditions
    ZeroRate = "pips::zero-rate", "a rate limit admits zero requests per window";
    ConditionLevel = "pips::condition-level", "a condition starts with a word its construct does not use (`alert` for rate limits, `warn` or `critical` for thresholds)";
    ConditionMetric = "pips::condition-metric", "a condition names a measure its construct does not have (rate limits alert on `rejected_ratio`, thresholds name none)";
    Comparator = "pips::comparator", "a condition's comparison does not bound the value, or alerts on the healthy side";
    InvalidRatio = "pips::invalid-ratio", "a rejected-ratio threshold is outside (0, 1) or has more decimal places than the generated tests count exactly";
    ThresholdOrder = "pips::threshold-order", "`warn` and `critical` bound opposite sides, or `warn` would not fire first";
    // threshold
    Promql = "pips::promql", "a threshold's PromQL expression is empty or does not parse";
    PromqlType = "pips::promql-type", "a threshold's PromQL expression does not give an instant vector";
    PromqlSourceless = "pips::promql-sourceless", "a threshold's PromQL expression makes series out of nothing (`vector()`, `time()`) instead of reading metrics";
    UnknownUnit = "pips::unknown-unit", "warning: a threshold's unit is not a Grafana unit pip knows; it is passed on as is";
    InvalidMetricName = "pips::invalid-metric-name", "a threshold's recording rule name is not a valid Prometheus metric name";
    // slo
    InvalidObjective = "pips::invalid-objective", "an slo's `objective` is not a percentage strictly between 0% and 100%, or has more decimal places than pip keeps";
    SloPeriod = "pips::slo-period", "an slo's `period` is shorter than a day or longer than 90 days";
    SliMix = "pips::sli-mix", "an slo mixes the settings of an events SLI (`total` with `good` or `bad`) and a latency SLI (`latency`, `le`, `buckets`), or sets both `good` and `bad`";
    SloSelector = "pips::slo-selector", "an SLI selector is not one plain vector selector with a metric name, or names a histogram by a series suffix or with an `le` matcher";
    CounterName = "pips::counter-name", "warning: an events SLI's counter is not named `..._total`, as Prometheus counters are";
    LatencyBound = "pips::latency-bound", "a latency SLI's `le` is not one of its `buckets`";
    Buckets = "pips::buckets", "a latency SLI's `buckets` are empty, not positive, or not strictly ascending";
    GroupLabel = "pips::group-label", "a label of an slo's `by` is not a valid Prometheus label name, is one that pip sets itself, or is repeated";
    BurnTier = "pips::burn-tier", "a burn-rate tier cannot work: a zero factor, a short window not shorter than the long one, a long window beyond the period, windows used twice, or a factor the error ratio can never reach";
    // bundle
    UnknownPart = "pips::unknown-part", "a bundle's `include` names a part that does not exist";
    // dashboard
    EmptyRow = "pips::empty-row", "warning: a dashboard row shows nothing";
    DuplicatePanel = "pips::duplicate-panel", "warning: a dashboard shows the same construct twice";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_is_distinct_well_formed_and_explained() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} is declared twice");
            let name = s.strip_prefix("pips::").unwrap_or_default();
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{s} is not `pips::` and kebab-case");
            let e = code.explanation();
            assert!(!e.is_empty() && !e.ends_with('.') && !e.starts_with(char::is_uppercase), "{s}: {e:?} breaks the message style");
        }
    }
}
