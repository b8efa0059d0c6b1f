//! Every name that pip's generated artifacts and its runtime share.
//!
//! The compiler writes Prometheus rules and Grafana panels that query these names; the
//! runtime exports metrics under exactly these names. Neither side spells a name itself:
//! both read it from here, so they cannot drift apart. This crate has no dependencies so
//! that the runtime can use it without depending on the compiler.
#![warn(missing_docs)]

/// Label names put on pip's metrics and alerts.
pub mod label {
    /// The spec id (`spec payments ...`).
    pub const SPEC: &str = "spec";
    /// The construct's name within its spec.
    pub const CONSTRUCT: &str = "construct";
    /// The alert's severity level (`critical`, `high`, ...), as alert routers expect.
    pub const SEVERITY: &str = "severity";
    /// The spec's priority `P0`..`P3`.
    pub const PRIORITY: &str = "priority";
    /// The ledger subsystem that wrote an entry.
    pub const SUBSYSTEM: &str = "subsystem";
    /// The ledger name.
    pub const LEDGER: &str = "ledger";
    /// Which check of an invariant (`requires` or `ensures`).
    pub const CHECK: &str = "check";
    /// The rate limit name.
    pub const LIMIT: &str = "limit";
    /// The invariant name.
    pub const INVARIANT: &str = "invariant";
    /// The versioned store name.
    pub const STORE: &str = "store";
    /// A threshold's level (`warn`, `critical`).
    pub const LEVEL: &str = "level";
    /// The outcome of a decision or check.
    pub const OUTCOME: &str = "outcome";
}

/// Labels that pip sets itself; a spec's `labels { ... }` may not use them.
pub const RESERVED_LABELS: [&str; 14] = [
    label::SPEC,
    label::CONSTRUCT,
    label::SEVERITY,
    label::PRIORITY,
    label::SUBSYSTEM,
    label::LEDGER,
    label::CHECK,
    label::LIMIT,
    label::INVARIANT,
    label::STORE,
    label::LEVEL,
    label::OUTCOME,
    "alertname",
    "job",
];

/// Whether `name` is a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` can name a spec or a construct: it becomes part of metric names, label
/// values, rule names and file names, so it is held to `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_construct_name(name: &str) -> bool {
    is_valid_label_name(name) && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_data_model() {
        assert!(is_valid_metric_name("pip:payments_error_ratio:rate5m"));
        assert!(!is_valid_metric_name("5xx"));
        assert!(!is_valid_metric_name("a-b"));
        assert!(is_valid_label_name("team"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_construct_name("__x"));
        assert!(!is_valid_construct_name(""));
    }
}
