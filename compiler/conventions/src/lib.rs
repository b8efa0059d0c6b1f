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
    /// The construct's name within its spec (on alerts).
    pub const CONSTRUCT: &str = "construct";
    /// The construct's kind (`invariant`, `ledger`, ...) (on alerts).
    pub const KIND: &str = "kind";
    /// The alert's severity level (`critical`, `high`, ...), as alert routers expect.
    pub const SEVERITY: &str = "severity";
    /// The spec's priority `P0`..`P3`.
    pub const PRIORITY: &str = "priority";
    /// The ledger subsystem that wrote an entry.
    pub const SUBSYSTEM: &str = "subsystem";
    /// The `ledger` construct's name, on every `pip_ledger_*` metric.
    pub const LEDGER: &str = "ledger";
    /// Which clause of an invariant was checked (`requires` or `ensures`).
    pub const CHECK: &str = "check";
    /// The `rate_limit` construct's name, on every `pip_rate_limit_*` metric.
    pub const LIMIT: &str = "limit";
    /// The `invariant` construct's name, on the invariant check and violation counters.
    pub const INVARIANT: &str = "invariant";
    /// The `versioned` construct's name, on every `pip_versioned_*` metric.
    pub const STORE: &str = "store";
    /// A threshold's level (`warn`, `critical`) (on alerts).
    pub const LEVEL: &str = "level";
    /// The outcome of a rate-limit decision (`allowed`, `rejected`).
    pub const OUTCOME: &str = "outcome";
    /// The class of a ledger anomaly (`modified`, `deleted`, ...).
    pub const CLASS: &str = "class";
    /// Why a ledger verification could not run (`io`, `format`, ...): see [`super::reason`];
    /// why a push to a witness failed: see [`super::witness_error`].
    pub const REASON: &str = "reason";
    /// A witness of a ledger's signed checkpoints: the name of its cosignature verifier key.
    pub const WITNESS: &str = "witness";
    /// An SLO burn-rate alert's tier: `1` for the fastest burn, counting up to the slowest (on alerts).
    pub const BURN_TIER: &str = "burn_tier";
    /// An SLO burn-rate alert's long window, e.g. `1h` (on alerts).
    pub const LONG_WINDOW: &str = "long_window";
    /// An SLO burn-rate alert's short window, e.g. `5m` (on alerts).
    pub const SHORT_WINDOW: &str = "short_window";
    /// An SLO's name on its recording rules (the error ratio, burn rates, budget).
    pub const SLO: &str = "slo";
}

/// Values of [`label::REASON`] on [`metric::RATE_LIMIT_BACKEND_ERRORS`]: why a shared
/// rate-limit backend (Redis) gave no decision.
pub mod backend_error {
    /// No answer within the limit's `backend_timeout`.
    pub const TIMEOUT: &str = "timeout";
    /// No connection (refused, reset, closed, none in the pool).
    pub const UNAVAILABLE: &str = "unavailable";
    /// An error reply or an answer the limiter cannot read (a script error, a wrong type).
    pub const ERROR: &str = "error";
    /// All reasons; exported at zero for every limit on a shared backend.
    pub const ALL: [&str; 3] = [TIMEOUT, UNAVAILABLE, ERROR];
}

/// Values of [`label::REASON`] on [`metric::LEDGER_WITNESS_PUSH_ERRORS`]: why a push of a
/// signed checkpoint to a witness (c2sp.org/tlog-witness `add-checkpoint`) failed.
pub mod witness_error {
    /// No connection (refused, reset, DNS).
    pub const UNREACHABLE: &str = "unreachable";
    /// No answer within the push timeout.
    pub const TIMEOUT: &str = "timeout";
    /// 409: the witness holds another size than the ledger assumed (answered again with a proof from it).
    pub const CONFLICT: &str = "conflict";
    /// 422: the consistency proof does not verify against the witness's latest checkpoint
    /// (an older copy of the ledger restored, or a fork).
    pub const INCONSISTENT: &str = "inconsistent";
    /// 403, 404 or another 4xx: the witness does not know the log or its key, or refused the request.
    pub const REFUSED: &str = "refused";
    /// A 5xx answer.
    pub const SERVER: &str = "server";
    /// A 200 answer without a valid cosignature by the witness's key over the checkpoint sent.
    pub const BAD_COSIGNATURE: &str = "bad_cosignature";
    /// All reasons.
    pub const ALL: [&str; 7] = [UNREACHABLE, TIMEOUT, CONFLICT, INCONSISTENT, REFUSED, SERVER, BAD_COSIGNATURE];
}

/// Values of [`label::CHECK`].
pub mod check {
    /// The clause of a `requires` condition, checked on entry to the annotated function.
    pub const REQUIRES: &str = "requires";
    /// The clause of an `ensures` condition, checked on every return of the annotated function.
    pub const ENSURES: &str = "ensures";
    /// A call a rate limit refused (a violation's clause; rate limits count their decisions
    /// in their own metrics, not under this label).
    pub const RATE_LIMIT: &str = "rate_limit";
    /// The ledger subsystem of invariant violation events when `#[pip_invariant]` names none.
    pub const DEFAULT_SUBSYSTEM: &str = "invariants";
}

/// Values of [`label::OUTCOME`].
pub mod outcome {
    /// The limiter let the request through; counted under [`metric::RATE_LIMIT_DECISIONS`](super::metric::RATE_LIMIT_DECISIONS).
    pub const ALLOWED: &str = "allowed";
    /// The limiter refused the request: its key had spent the limit in the window, or was new at the key cap.
    pub const REJECTED: &str = "rejected";
}

/// Values of [`label::REASON`]: why a ledger could not be verified at all. An anomaly is a
/// result of verification; these are failures to get one, counted in
/// [`metric::LEDGER_VERIFICATION_ERRORS`] so that `PipLedgerVerificationFailed` fires on them
/// too. Few and fixed, so that the counter's series are known (and exported at zero) up front.
pub mod reason {
    /// A file could not be read (or synced before reading).
    pub const IO: &str = "io";
    /// The ledger file is not a ledger: its header (magic, version, ...) does not decode, or
    /// it is shorter than one (an emptied ledger).
    pub const FORMAT: &str = "format";
    /// The checkpoint file is not a checkpoint file.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// The ledger stopped accepting entries after a write error, or was closed.
    pub const STOPPED: &str = "stopped";
    /// An error the runtime does not map to one of the reasons above, so a new error kind is still counted.
    pub const OTHER: &str = "other";
    /// All reasons; the runtime exports each at zero for a ledger as soon as it has its series.
    pub const ALL: [&str; 5] = [IO, FORMAT, CHECKPOINTS, STOPPED, OTHER];
}

/// The settings of a `rate_limit` that the runtime can enforce. The compiler refuses a spec
/// outside these bounds, so that a generated limiter never fails to build at run time.
pub mod rate_limit {
    /// `max_keys` when the spec does not set it.
    pub const DEFAULT_MAX_KEYS: u64 = 100_000;
    /// The largest `limit` (requests admitted per key and window): the runtime keeps the time
    /// of each admitted request of a key in a log whose length and position are 32-bit.
    pub const LIMIT_MAX: u64 = u32::MAX as u64;
    /// The largest `max_keys` (keys tracked at once): the runtime refuses `u32::MAX` and more.
    pub const MAX_KEYS_MAX: u64 = u32::MAX as u64 - 1;
    /// `backend_timeout` in milliseconds when the spec does not set it: how long a decision
    /// waits for a shared backend (Redis) before `on_backend_failure` decides.
    pub const DEFAULT_BACKEND_TIMEOUT_MILLIS: u64 = 50;
    /// The longest `backend_timeout` in milliseconds the compiler accepts.
    pub const MAX_BACKEND_TIMEOUT_MILLIS: u64 = 10_000;
}

/// Labels that pip sets itself; a spec's `labels { ... }` may not use them.
pub const RESERVED_LABELS: [&str; 21] = [
    label::SPEC,
    label::CONSTRUCT,
    label::KIND,
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
    label::CLASS,
    label::REASON,
    label::BURN_TIER,
    label::LONG_WINDOW,
    label::SHORT_WINDOW,
    label::SLO,
    "alertname",
    "job",
];

/// A metric the runtime exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name as registered with prometheus-client (counters without `_total`).
    pub base: &'static str,
    /// The name as exposed and queried (counters with `_total`).
    pub exposed: &'static str,
    /// How the runtime registers it; a counter's `exposed` name ends in `_total`, a gauge's does not.
    pub kind: MetricKind,
    /// Its label names, in the order the runtime exports them (a runtime test compares them).
    pub labels: &'static [&'static str],
    /// The `# HELP` text without its final period, which the exposition adds.
    pub help: &'static str,
}

/// The Prometheus type of a [`Metric`], which decides whether its exposed name gets `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only ever increases (reset to zero on restart); exposed with a `_total` suffix.
    Counter,
    /// A current value that can go up and down; exposed under its base name.
    Gauge,
}

/// Every metric the runtime exports, with its type and labels; the compiler's rules and panels query them.
pub mod metric {
    use super::{Metric, MetricKind, label};

    /// Every evaluation of a `requires` or `ensures` clause, held or failed.
    pub const INVARIANT_CHECKS: Metric = Metric {
        base: "pip_invariant_checks",
        exposed: "pip_invariant_checks_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::INVARIANT, label::CHECK, label::SEVERITY],
        help: "Invariant checks evaluated",
    };
    /// Invariant checks that failed.
    pub const INVARIANT_VIOLATIONS: Metric = Metric {
        base: "pip_invariant_violations",
        exposed: "pip_invariant_violations_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::INVARIANT, label::CHECK, label::SEVERITY],
        help: "Invariant checks that failed",
    };
    /// Rate-limit decisions by outcome (one series per limit and outcome, never per key).
    pub const RATE_LIMIT_DECISIONS: Metric = Metric {
        base: "pip_rate_limit_decisions",
        exposed: "pip_rate_limit_decisions_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LIMIT, label::OUTCOME],
        help: "Rate-limit decisions by outcome",
    };
    /// Keys a rate limiter currently tracks.
    pub const RATE_LIMIT_KEYS: Metric = Metric {
        base: "pip_rate_limit_keys",
        exposed: "pip_rate_limit_keys",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LIMIT],
        help: "Keys the rate limiter currently tracks",
    };
    /// Requests refused because the key cap was reached and the key was new.
    pub const RATE_LIMIT_KEY_CAP: Metric = Metric {
        base: "pip_rate_limit_key_cap_rejections",
        exposed: "pip_rate_limit_key_cap_rejections_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LIMIT],
        help: "Requests refused because the limiter tracked its maximum number of keys",
    };
    /// Decisions of a rate limit on a shared backend (Redis) that the backend did not answer,
    /// by reason ([`super::backend_error`]); each was decided by the limit's `on_backend_failure`.
    pub const RATE_LIMIT_BACKEND_ERRORS: Metric = Metric {
        base: "pip_rate_limit_backend_errors",
        exposed: "pip_rate_limit_backend_errors_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LIMIT, label::REASON],
        help: "Rate-limit decisions the shared backend did not answer, decided by on_backend_failure",
    };
    /// Sequence number of the last entry of a ledger.
    pub const LEDGER_HEAD_SEQ: Metric = Metric {
        base: "pip_ledger_head_seq",
        exposed: "pip_ledger_head_seq",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LEDGER],
        help: "Sequence number of the last entry of the ledger",
    };
    /// Entries appended, per subsystem.
    pub const LEDGER_APPENDS: Metric = Metric {
        base: "pip_ledger_appends",
        exposed: "pip_ledger_appends_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LEDGER, label::SUBSYSTEM],
        help: "Entries appended to the ledger",
    };
    /// Unix time of the last entry of each subsystem.
    pub const LEDGER_LAST_APPEND: Metric = Metric {
        base: "pip_ledger_last_append_timestamp_seconds",
        exposed: "pip_ledger_last_append_timestamp_seconds",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LEDGER, label::SUBSYSTEM],
        help: "Unix time of the subsystem's last ledger entry",
    };
    /// Sequence number covered by the last checkpoint.
    pub const LEDGER_CHECKPOINT_SEQ: Metric = Metric {
        base: "pip_ledger_checkpoint_seq",
        exposed: "pip_ledger_checkpoint_seq",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LEDGER],
        help: "Sequence number covered by the ledger's last checkpoint",
    };
    /// Anomalies found by verification, by class.
    pub const LEDGER_ANOMALIES: Metric = Metric {
        base: "pip_ledger_anomalies",
        exposed: "pip_ledger_anomalies_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LEDGER, label::CLASS],
        help: "Anomalies found by ledger verification",
    };
    /// Verifications that could not run at all, by reason (an error, not an anomaly).
    pub const LEDGER_VERIFICATION_ERRORS: Metric = Metric {
        base: "pip_ledger_verification_errors",
        exposed: "pip_ledger_verification_errors_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LEDGER, label::REASON],
        help: "Ledger verifications that failed with an error instead of a report",
    };
    /// Unix time of the last valid cosignature a witness returned for the ledger's signed
    /// checkpoints (set to the ledger's open time until the first, so that a witness that never
    /// answers is silent since then).
    pub const LEDGER_WITNESS_COSIGNED: Metric = Metric {
        base: "pip_ledger_witness_cosigned_timestamp_seconds",
        exposed: "pip_ledger_witness_cosigned_timestamp_seconds",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LEDGER, label::WITNESS],
        help: "Unix time of the witness's last valid cosignature of a ledger checkpoint",
    };
    /// Tree size of the last checkpoint a witness cosigned.
    pub const LEDGER_WITNESS_COSIGNED_SIZE: Metric = Metric {
        base: "pip_ledger_witness_cosigned_size",
        exposed: "pip_ledger_witness_cosigned_size",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::LEDGER, label::WITNESS],
        help: "Tree size of the last ledger checkpoint the witness cosigned",
    };
    /// Failed pushes of a signed checkpoint to a witness, by reason ([`super::witness_error`]).
    pub const LEDGER_WITNESS_PUSH_ERRORS: Metric = Metric {
        base: "pip_ledger_witness_push_errors",
        exposed: "pip_ledger_witness_push_errors_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::LEDGER, label::WITNESS, label::REASON],
        help: "Pushes of a signed ledger checkpoint to a witness that failed",
    };
    /// Current version of a versioned store.
    pub const VERSIONED_VERSION: Metric = Metric {
        base: "pip_versioned_version",
        exposed: "pip_versioned_version",
        kind: MetricKind::Gauge,
        labels: &[label::SPEC, label::STORE],
        help: "Current version of the versioned store",
    };
    /// Upgrades applied to a versioned store: each counted once its new version is recorded in the ledger.
    pub const VERSIONED_UPGRADES: Metric = Metric {
        base: "pip_versioned_upgrades",
        exposed: "pip_versioned_upgrades_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::STORE],
        help: "Upgrades applied to the versioned store",
    };
    /// Rollbacks started on a versioned store, counted whether or not every version on the way verified.
    pub const VERSIONED_ROLLBACKS: Metric = Metric {
        base: "pip_versioned_rollbacks",
        exposed: "pip_versioned_rollbacks_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::STORE],
        help: "Rollbacks of the versioned store",
    };
    /// Rollbacks whose result did not hash to the recorded version.
    pub const VERSIONED_ROLLBACK_MISMATCHES: Metric = Metric {
        base: "pip_versioned_rollback_mismatches",
        exposed: "pip_versioned_rollback_mismatches_total",
        kind: MetricKind::Counter,
        labels: &[label::SPEC, label::STORE],
        help: "Rollbacks whose result did not match the recorded version hash",
    };

    /// Every runtime metric; a runtime test checks that each is exported with this type, labels and help.
    pub const ALL: [Metric; 19] = [
        INVARIANT_CHECKS,
        INVARIANT_VIOLATIONS,
        RATE_LIMIT_DECISIONS,
        RATE_LIMIT_KEYS,
        RATE_LIMIT_KEY_CAP,
        RATE_LIMIT_BACKEND_ERRORS,
        LEDGER_HEAD_SEQ,
        LEDGER_APPENDS,
        LEDGER_LAST_APPEND,
        LEDGER_CHECKPOINT_SEQ,
        LEDGER_ANOMALIES,
        LEDGER_VERIFICATION_ERRORS,
        LEDGER_WITNESS_COSIGNED,
        LEDGER_WITNESS_COSIGNED_SIZE,
        LEDGER_WITNESS_PUSH_ERRORS,
        VERSIONED_VERSION,
        VERSIONED_UPGRADES,
        VERSIONED_ROLLBACKS,
        VERSIONED_ROLLBACK_MISMATCHES,
    ];
}

/// Recording rules the compiler generates (queried by alerts and dashboards).
pub mod record {
    /// Share of a rate limit's decisions that were rejections, over 5 minutes.
    pub const RATE_LIMIT_REJECTED_RATIO: &str = "pip:rate_limit_rejected:ratio_rate5m";
    /// Invariant violations over 5 minutes.
    pub const INVARIANT_VIOLATIONS: &str = "pip:invariant_violations:increase5m";
    /// Seconds since a subsystem last wrote evidence.
    pub const LEDGER_SILENCE: &str = "pip:ledger_silence:seconds";
    /// Ledger anomalies found by verification over 5 minutes, by class.
    pub const LEDGER_ANOMALIES: &str = "pip:ledger_anomalies:increase5m";
    /// Ledger verifications that failed with an error over 5 minutes, by reason.
    pub const LEDGER_VERIFICATION_ERRORS: &str = "pip:ledger_verification_errors:increase5m";
    /// Rollback mismatches of a versioned store over 5 minutes.
    pub const ROLLBACK_MISMATCHES: &str = "pip:versioned_rollback_mismatches:increase5m";

    /// An SLO's remaining error budget over its period: `1 − error ratio over the period / (1 −
    /// objective)`; 1 with no traffic, below 0 once the budget is overspent. Labels `spec`, `slo`
    /// and the SLO's grouping labels.
    pub const SLO_BUDGET_REMAINING: &str = "pip:slo_error_budget:remaining_ratio";

    /// An SLO's error ratio (bad events / all events) over `window` (`5m`, `1h`, `30d`, ... as
    /// Prometheus writes durations): `pip:slo_errors:ratio_rate<window>`. Labels `spec`, `slo` and
    /// the SLO's grouping labels; no sample while there is no traffic (never NaN).
    pub fn slo_error_ratio(window: &str) -> String {
        format!("pip:slo_errors:ratio_rate{window}")
    }

    /// An SLO's burn rate over `window`: its error ratio there divided by the error budget (1 =
    /// spending the budget exactly over the period): `pip:slo_burn_rate:rate<window>`. Same labels
    /// as [`slo_error_ratio`].
    pub fn slo_burn_rate(window: &str) -> String {
        format!("pip:slo_burn_rate:rate{window}")
    }

    /// The default recording rule of a threshold: `pip:<spec>:<threshold>`.
    pub fn threshold(spec: &str, threshold: &str) -> String {
        format!("pip:{spec}:{threshold}")
    }
}

/// Alert names the compiler gives its generated Prometheus alerts, one per construct kind or failure.
pub mod alert {
    /// `PipInvariantViolated`, ... one per construct kind; the construct is in a label.
    pub const INVARIANT_VIOLATED: &str = "PipInvariantViolated";
    /// Too many requests of a rate limit are rejected.
    pub const RATE_LIMIT_REJECTING: &str = "PipRateLimitRejecting";
    /// A threshold is crossed (the level is in a label).
    pub const THRESHOLD_CROSSED: &str = "PipThresholdCrossed";
    /// A subsystem wrote no evidence for longer than the spec expects.
    pub const EVIDENCE_GAP: &str = "PipEvidenceGap";
    /// Ledger verification found anomalies or could not run.
    pub const LEDGER_VERIFICATION_FAILED: &str = "PipLedgerVerificationFailed";
    /// The ledger's head sequence went down: entries were removed.
    pub const LEDGER_TRUNCATED: &str = "PipLedgerTruncated";
    /// A rate limit's shared backend (Redis) failed decisions, which its `on_backend_failure` decided.
    pub const RATE_LIMIT_BACKEND_DOWN: &str = "PipRateLimitBackendDown";
    /// A witness has not cosigned a checkpoint of the ledger for longer than the spec's `witness_silence`.
    pub const LEDGER_WITNESS_SILENT: &str = "PipLedgerWitnessSilent";
    /// A rollback did not reproduce the recorded version.
    pub const ROLLBACK_MISMATCH: &str = "PipRollbackMismatch";
    /// An SLO's error budget burns too fast over one tier's long and short windows (the tier in
    /// `burn_tier`, its windows in `long_window` and `short_window`).
    pub const SLO_BURN_RATE: &str = "PipSloBurnRate";
    /// A latency SLO's histogram has `_count` series but no bucket at its `le`: the SLI cannot be
    /// computed (the bucket boundaries changed, or `le` is written differently by the client).
    pub const SLO_BUCKET_MISSING: &str = "PipSloBucketMissing";
}

/// Loki, where services ship ledger events as JSON log lines for dashboards to show.
pub mod loki {
    use super::label;

    /// The stream selector of a ledger's events: `{spec="payments",ledger="audit"}`. A
    /// service's log shipper labels ledger event streams with these two labels.
    pub fn selector(spec: &str, ledger: &str) -> String {
        format!("{{{}=\"{spec}\",{}=\"{ledger}\"}}", label::SPEC, label::LEDGER)
    }
}

/// Names the generated Grafana dashboards share: datasource variables, import inputs, schema version.
pub mod grafana {
    /// Name of the Prometheus datasource template variable every panel and target uses.
    pub const PROMETHEUS_VARIABLE: &str = "datasource";
    /// Name of the Loki datasource template variable of log panels.
    pub const LOKI_VARIABLE: &str = "loki";
    /// The import input that chooses the Prometheus datasource.
    pub const PROMETHEUS_INPUT: &str = "DS_PROMETHEUS";
    /// The import input that chooses the Loki datasource.
    pub const LOKI_INPUT: &str = "DS_LOKI";
    /// The dashboard JSON schema version written (Grafana 12, `@grafana/schema`'s default).
    pub const SCHEMA_VERSION: u32 = 42;
}

/// Prometheus rule group names: one group per spec and construct kind, so that a
/// construct's recording rules are evaluated before the alerts that read them.
pub fn rule_group(spec: &str, kind: &str) -> String {
    format!("pip:{spec}:{kind}")
}

/// Grafana dashboard uid: `pip-<name>`, shortened with a stable hash when longer than
/// Grafana's 40-character limit.
pub fn dashboard_uid(name: &str) -> String {
    let uid = format!("pip-{name}");
    if uid.len() <= 40 {
        return uid;
    }
    // FNV-1a: stable across versions and platforms, no dependency needed.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let keep: String = name.chars().take(26).collect();
    format!("pip-{keep}-{:08x}", hash as u32)
}

/// The uid of the Grafana panel of a construct within its dashboard (stable across builds).
pub fn panel_id(index: usize) -> usize {
    index + 1
}

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

    #[test]
    fn every_metric_name_is_valid_and_counters_end_in_total() {
        for m in metric::ALL {
            assert!(is_valid_metric_name(m.exposed), "{}", m.exposed);
            match m.kind {
                MetricKind::Counter => assert_eq!(m.exposed, format!("{}_total", m.base)),
                MetricKind::Gauge => assert_eq!(m.exposed, m.base),
            }
            assert!(m.labels.iter().all(|l| is_valid_label_name(l)));
        }
        for r in [
            record::RATE_LIMIT_REJECTED_RATIO,
            record::INVARIANT_VIOLATIONS,
            record::LEDGER_SILENCE,
            record::LEDGER_ANOMALIES,
            record::LEDGER_VERIFICATION_ERRORS,
            record::ROLLBACK_MISMATCHES,
        ] {
            assert!(is_valid_metric_name(r));
        }
    }

    #[test]
    fn rate_limit_bounds_fit_the_runtimes_32_bit_counters() {
        assert_eq!(u32::try_from(rate_limit::LIMIT_MAX), Ok(u32::MAX));
        assert!(rate_limit::MAX_KEYS_MAX < u64::from(u32::MAX));
        assert!((1..=rate_limit::MAX_KEYS_MAX).contains(&rate_limit::DEFAULT_MAX_KEYS));
    }

    #[test]
    fn dashboard_uids_fit_grafanas_limit_and_are_stable() {
        assert_eq!(dashboard_uid("payments"), "pip-payments");
        let long = dashboard_uid(&"x".repeat(100));
        assert!(long.len() <= 40, "{long}");
        assert_eq!(long, dashboard_uid(&"x".repeat(100)));
        assert_ne!(long, dashboard_uid(&"x".repeat(99)));
    }
}
