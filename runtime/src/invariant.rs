//! Invariant checks at run time: what `#[pip_invariant]` expands to calls into.
//!
//! Each annotated function has one static [`InvariantSite`] describing its invariant (from
//! the spec, at compile time). Every evaluation of a `requires`/`ensures` clause is counted
//! in `pip_invariant_checks_total`; a failing one also in `pip_invariant_violations_total`,
//! is appended to the spec's evidence ledger when there is one, and becomes a
//! [`Violation`] that the generated code returns (`deny` on a `Result` function), panics
//! with (`deny` elsewhere), or only reports (`record`).
//!
//! What a violation keeps of the values its check read is the spec's `evidence_values`
//! ([`EvidenceValues`]): their names only (the default), a keyed hash of each, or their
//! `Debug` text. The ledger, the [`Violation`] and its message all hold the same thing, so a
//! value the spec withholds from the ledger does not reach a log or a response either.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use pip_conventions::check;
use prometheus_client::metrics::counter::Counter;

use crate::evidence::{Event, EvidenceSink, WITHHELD};
use crate::global::runtime;
use crate::metrics::InvariantLabels;

mod rate_limit;
pub use rate_limit::LimitSite;

/// The invariant's `on_violation`: whether a failed check stops the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse: the function returns an error or panics.
    Deny,
    /// Record the violation and let the function go on.
    Record,
}

/// The part of an invariant a check evaluated, the `check` label of its counters and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clause {
    /// `requires`: evaluated on entry, before the function body runs.
    Requires,
    /// `ensures`: evaluated on every return, with the result in scope.
    Ensures,
    /// A rate limit refused the call.
    RateLimit,
}

impl Clause {
    /// `requires` or `ensures` (the `check` label of the invariant counters), `rate_limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Clause::Requires => check::REQUIRES,
            Clause::Ensures => check::ENSURES,
            Clause::RateLimit => check::RATE_LIMIT,
        }
    }

    /// Index into an invariant site's counters (a rate limit has none there: its limiter
    /// counts its decisions).
    fn index(self) -> usize {
        match self {
            Clause::Requires => 0,
            Clause::Ensures => 1,
            Clause::RateLimit => 2,
        }
    }
}

/// What a violation's evidence keeps of each value its check read: the spec's
/// `evidence_values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
///
/// The variants are not named after the spec's words (`debug`, `hash`, `omit`): a variant
/// named `Hash` or `Debug` in a crate every service links would make rustc spell those traits
/// `std::hash::Hash` and `std::fmt::Debug` in the services' own error messages.
pub enum EvidenceValues {
    /// `debug`: the value's `Debug` text.
    Text,
    /// `hash`: a keyed hash of the `Debug` text ([`EvidenceSink::hash_value`]): equal values
    /// give equal hashes in one ledger; without the ledger's key a hash cannot be computed.
    Hashed,
    /// `omit`: nothing but the value's name.
    Omitted,
}

impl EvidenceValues {
    /// As written in the spec and in the events' `evidence_values`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceValues::Text => "debug",
            EvidenceValues::Hashed => "hash",
            EvidenceValues::Omitted => "omit",
        }
    }
}

/// What a violation shows for a value under `evidence_values = omit` (its event holds `null`).
pub const OMITTED: &str = "<omitted>";

/// What a violation holds for a value whose type has no `Debug`.
pub const NO_DEBUG: &str = "<no Debug>";

/// The subsystem of violation events when the attribute does not name one.
pub const DEFAULT_SUBSYSTEM: &str = check::DEFAULT_SUBSYSTEM;

/// One annotated function's invariant, as the spec defines it.
#[derive(Debug)]
pub struct InvariantSite {
    /// The spec id, the `spec` label of this site's counters.
    pub spec: &'static str,
    /// The invariant's name in the spec, the `invariant` label of this site's counters.
    pub invariant: &'static str,
    /// Severity level label value (`critical`, ...).
    pub level: &'static str,
    /// `P0`..`P3`.
    pub priority: &'static str,
    /// `deny` or `record`.
    pub policy: Policy,
    /// The ledger named by the invariant's `evidence = <ledger>`, looked up in the [`Runtime`](crate::Runtime) at each violation; `None` records nothing.
    pub evidence: Option<&'static str>,
    /// What violations keep of the values their check read.
    pub values: EvidenceValues,
    /// The `subsystem` of violation events: the attribute's `subsystem = "..."`, else [`DEFAULT_SUBSYSTEM`].
    pub subsystem: &'static str,
    /// The function's path (the events' actor).
    pub function: &'static str,
    /// Where the invariant is in the spec (`file:line`).
    pub source: &'static str,
    counters: OnceLock<[[Counter; 2]; 2]>,
}

impl InvariantSite {
    /// A site; called in a `static` by the generated code.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        spec: &'static str,
        invariant: &'static str,
        level: &'static str,
        priority: &'static str,
        policy: Policy,
        evidence: Option<&'static str>,
        values: EvidenceValues,
        subsystem: &'static str,
        function: &'static str,
        source: &'static str,
    ) -> Self {
        InvariantSite { spec, invariant, level, priority, policy, evidence, values, subsystem, function, source, counters: OnceLock::new() }
    }

    /// `[checks, violations][clause]`, created (at zero) on first use.
    fn counters(&self) -> &[[Counter; 2]; 2] {
        self.counters.get_or_init(|| {
            let m = runtime().metrics();
            let make = |family: &prometheus_client::metrics::family::Family<InvariantLabels, Counter>, clause: Clause| {
                family
                    .get_or_create(&InvariantLabels {
                        spec: self.spec.to_string(),
                        invariant: self.invariant.to_string(),
                        check: clause.as_str().to_string(),
                        severity: self.level.to_string(),
                    })
                    .clone()
            };
            [
                [make(&m.invariant_checks, Clause::Requires), make(&m.invariant_checks, Clause::Ensures)],
                [make(&m.invariant_violations, Clause::Requires), make(&m.invariant_violations, Clause::Ensures)],
            ]
        })
    }

    /// Counts one evaluation of `clause` that held, in `pip_invariant_checks_total` only.
    #[inline]
    pub fn held(&self, clause: Clause) {
        if let Some(c) = self.counters().first().and_then(|c| c.get(clause.index())) {
            c.inc();
        }
    }

    /// Counts a check that failed, records it as evidence when the spec names a ledger, and
    /// returns the violation for the caller's policy. `values` are the names the check read
    /// with their `Debug` text (`None` for a type without `Debug`, and for every value under
    /// `evidence_values = omit`, where the generated code does not format them).
    #[cold]
    #[inline(never)]
    pub fn violated(&self, clause: Clause, expr: &'static str, values: Vec<(&'static str, Option<String>)>) -> Violation {
        let counters = self.counters();
        for kind in counters {
            if let Some(c) = kind.get(clause.index()) {
                c.inc();
            }
        }
        let sink = self.evidence.and_then(|ledger| runtime().ledger(self.spec, ledger));
        let values = values.into_iter().map(|(k, v)| (k.to_string(), self.keep(v, sink.as_deref()))).collect();
        let mut violation = Violation {
            spec: self.spec,
            invariant: self.invariant,
            clause,
            expr,
            function: self.function,
            source: self.source,
            policy: self.policy,
            values,
            evidence_values: self.values,
            evidence: Evidence::NotConfigured,
            retry_after: None,
        };
        if let Some(ledger) = self.evidence {
            violation.evidence = match sink {
                Some(sink) => match sink.record(violation.event(self)) {
                    Ok(seq) => Evidence::Recorded { ledger, seq },
                    Err(e) => Evidence::Failed { ledger, reason: e.to_string() },
                },
                None => Evidence::Failed { ledger, reason: "no ledger of that name is registered with the runtime".into() },
            };
        }
        if self.policy == Policy::Record || !matches!(violation.evidence, Evidence::Recorded { .. } | Evidence::NotConfigured) {
            // `record` lets the call go on: say so where operators look. A failed evidence
            // write is never silent either.
            eprintln!("pip: {violation}");
        }
        violation
    }

    /// What the violation keeps of one value (see [`EvidenceValues`]).
    fn keep(&self, value: Option<String>, sink: Option<&dyn EvidenceSink>) -> String {
        match (self.values, value) {
            (EvidenceValues::Omitted, _) => OMITTED.to_string(),
            (_, None) => NO_DEBUG.to_string(),
            (EvidenceValues::Text, Some(v)) => v,
            (EvidenceValues::Hashed, Some(v)) => sink.and_then(|s| s.hash_value(&v)).unwrap_or_else(|| WITHHELD.to_string()),
        }
    }
}

/// Whether and where a violation was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The spec names no evidence ledger.
    NotConfigured,
    /// Appended to `ledger` as entry `seq`.
    Recorded {
        /// The ledger named by the invariant's `evidence`.
        ledger: &'static str,
        /// The entry's sequence number in that ledger, to find it with `pipc log`.
        seq: u64,
    },
    /// The spec names a ledger but the event could not be appended.
    Failed {
        /// The ledger named by the invariant's `evidence`.
        ledger: &'static str,
        /// The sink's error, or that no ledger of that name is registered with the runtime.
        reason: String,
    },
}

/// A failed `requires` or `ensures`, or a call a rate limit refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The spec id of the invariant or rate limit.
    pub spec: &'static str,
    /// The invariant's name, or for a refused call ([`Clause::RateLimit`]) the rate limit's.
    pub invariant: &'static str,
    /// The clause that failed: `requires`, `ensures`, or a rate limit's refusal.
    pub clause: Clause,
    /// The failing expression, as written in the spec.
    pub expr: &'static str,
    /// The annotated function's path (the event's actor).
    pub function: &'static str,
    /// Where the invariant is in the spec.
    pub source: &'static str,
    /// The invariant's `on_violation` (always [`Policy::Deny`] for a rate limit).
    pub policy: Policy,
    /// The values the expression read, as the spec's `evidence_values` keeps them: `Debug`
    /// text, a keyed hash, or [`OMITTED`].
    pub values: Vec<(String, String)>,
    /// How `values` were kept.
    pub evidence_values: EvidenceValues,
    /// Whether it was recorded as evidence.
    pub evidence: Evidence,
    /// For a rate limit's full window: how long until the key is admitted again (a
    /// `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Violation {
    fn event(&self, site: &InvariantSite) -> Event {
        // Under `omit` the event names the values read and holds `null` for each.
        let values: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(k, v)| {
                let v = if self.evidence_values == EvidenceValues::Omitted {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(v.clone())
                };
                (k.clone(), v)
            })
            .collect();
        Event {
            subsystem: site.subsystem.to_string(),
            actor: self.function.to_string(),
            action: "violation".to_string(),
            resource: format!("{}.{}", self.spec, self.invariant),
            payload: serde_json::json!({
                "check": self.clause.as_str(),
                "expr": self.expr,
                "values": values,
                "evidence_values": self.evidence_values.as_str(),
                "severity": site.level,
                "priority": site.priority,
                "spec_source": site.source,
            }),
            result: match self.policy {
                Policy::Deny => "denied".to_string(),
                Policy::Record => "recorded".to_string(),
            },
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.clause == Clause::RateLimit {
            write!(f, "rate limit {}.{} refused a call of {} keyed by `{}`", self.spec, self.invariant, self.function, self.expr)?;
        } else {
            write!(
                f,
                "invariant {}.{} violated: {} `{}` failed in {}",
                self.spec,
                self.invariant,
                self.clause.as_str(),
                self.expr,
                self.function
            )?;
        }
        if !self.values.is_empty() {
            let values: Vec<String> = self.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            write!(f, " ({})", values.join(", "))?;
        }
        match &self.evidence {
            Evidence::NotConfigured => {}
            Evidence::Recorded { ledger, seq } => write!(f, "; evidence: ledger {ledger} entry {seq}")?,
            Evidence::Failed { ledger, reason } => write!(f, "; evidence NOT recorded in ledger {ledger}: {reason}")?,
        }
        write!(f, " [spec {}]", self.source)
    }
}

impl std::error::Error for Violation {}

/// `Debug` text of a value when its type implements `Debug`, a placeholder otherwise,
/// chosen at compile time (autoref specialization): write `(&Repr(&value)).pip_repr()` with
/// [`ViaDebug`] and [`ViaOpaque`] in scope.
pub struct Repr<'a, T: ?Sized>(pub &'a T);

/// Longest value text kept in a violation.
const MAX_REPR: usize = 1024;

/// Picked when the type implements `Debug`.
pub trait ViaDebug {
    /// The value's `Debug` text (cut at 1 KiB).
    fn pip_repr(&self) -> String;

    /// The value's `Debug` text (cut at 1 KiB).
    fn pip_value(&self) -> Option<String> {
        Some(self.pip_repr())
    }
}

impl<T: fmt::Debug + ?Sized> ViaDebug for Repr<'_, T> {
    fn pip_repr(&self) -> String {
        let mut s = format!("{:?}", self.0);
        if s.len() > MAX_REPR {
            let mut cut = MAX_REPR;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
        }
        s
    }
}

/// Picked for a type without `Debug`: the fallback [`Repr`] reaches when [`ViaDebug`] does not apply.
pub trait ViaOpaque {
    /// A placeholder ([`NO_DEBUG`]).
    fn pip_repr(&self) -> String;

    /// `None`: there is no text to keep (nor to hash: every such value would hash alike).
    fn pip_value(&self) -> Option<String> {
        None
    }
}

impl<T: ?Sized> ViaOpaque for &Repr<'_, T> {
    fn pip_repr(&self) -> String {
        NO_DEBUG.to_string()
    }
}

/// Calls `f`, typing its result as `R` (so that `?` inside the wrapped body knows its error
/// type). The generated code wraps a function's body in a closure and calls it through this,
/// so that `return` and `?` leave the closure and every exit passes the `ensures` checks.
#[inline(always)]
pub fn call<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Types an `async` block's output as `R` (see [`call`]).
#[inline(always)]
pub fn future<R, F: std::future::Future<Output = R>>(f: F) -> F {
    f
}

/// `E::from(violation)`: the generated code of a `deny` invariant on a function returning
/// `Result<_, E>` converts through this with `E` named, so that an `E` that cannot hold a
/// violation is reported on `E`.
#[inline]
pub fn into_error<E: From<Violation>>(violation: Violation) -> E {
    E::from(violation)
}
