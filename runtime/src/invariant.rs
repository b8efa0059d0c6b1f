//! Invariant checks at run time: what `#[pip_invariant]` expands to calls into.
//!
//! Each annotated function has one static [`InvariantSite`] describing its invariant (from
//! the spec, at compile time). Every evaluation of a `requires`/`ensures` clause is counted
//! in `pip_invariant_checks_total`; a failing one also in `pip_invariant_violations_total`,
//! is appended to the spec's evidence ledger when there is one, and becomes a
//! [`Violation`] that the generated code returns (`deny` on a `Result` function), panics
//! with (`deny` elsewhere), or only reports (`record`).

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use pip_conventions::check;
use prometheus_client::metrics::counter::Counter;

use crate::evidence::Event;
use crate::global::runtime;
use crate::metrics::InvariantLabels;

mod rate_limit;
pub use rate_limit::LimitSite;

/// What a violation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse: the function returns an error or panics.
    Deny,
    /// Record the violation and let the function go on.
    Record,
}

/// Which clause was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clause {
    /// On entry.
    Requires,
    /// On every return.
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

/// The subsystem of violation events when the attribute does not name one.
pub const DEFAULT_SUBSYSTEM: &str = check::DEFAULT_SUBSYSTEM;

/// One annotated function's invariant, as the spec defines it.
#[derive(Debug)]
pub struct InvariantSite {
    /// Spec id.
    pub spec: &'static str,
    /// Invariant name.
    pub invariant: &'static str,
    /// Severity level label value (`critical`, ...).
    pub level: &'static str,
    /// `P0`..`P3`.
    pub priority: &'static str,
    /// `deny` or `record`.
    pub policy: Policy,
    /// The ledger violations go to.
    pub evidence: Option<&'static str>,
    /// The ledger subsystem of violation events.
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
        subsystem: &'static str,
        function: &'static str,
        source: &'static str,
    ) -> Self {
        InvariantSite { spec, invariant, level, priority, policy, evidence, subsystem, function, source, counters: OnceLock::new() }
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

    /// Counts a check that held.
    #[inline]
    pub fn held(&self, clause: Clause) {
        if let Some(c) = self.counters().first().and_then(|c| c.get(clause.index())) {
            c.inc();
        }
    }

    /// Counts a check that failed, records it as evidence when the spec names a ledger, and
    /// returns the violation for the caller's policy.
    #[cold]
    #[inline(never)]
    pub fn violated(&self, clause: Clause, expr: &'static str, values: Vec<(&'static str, String)>) -> Violation {
        let counters = self.counters();
        for kind in counters {
            if let Some(c) = kind.get(clause.index()) {
                c.inc();
            }
        }
        let mut violation = Violation {
            spec: self.spec,
            invariant: self.invariant,
            clause,
            expr,
            function: self.function,
            source: self.source,
            policy: self.policy,
            values: values.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            evidence: Evidence::NotConfigured,
            retry_after: None,
        };
        if let Some(ledger) = self.evidence {
            violation.evidence = match runtime().ledger(self.spec, ledger) {
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
}

/// Whether and where a violation was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The spec names no evidence ledger.
    NotConfigured,
    /// Appended to `ledger` as entry `seq`.
    Recorded {
        /// Ledger name.
        ledger: &'static str,
        /// Sequence number.
        seq: u64,
    },
    /// The spec names a ledger but the event could not be appended.
    Failed {
        /// Ledger name.
        ledger: &'static str,
        /// Why.
        reason: String,
    },
}

/// A failed `requires` or `ensures`, or a call a rate limit refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Spec id.
    pub spec: &'static str,
    /// Invariant name.
    pub invariant: &'static str,
    /// Which clause failed.
    pub clause: Clause,
    /// The failing expression, as written in the spec.
    pub expr: &'static str,
    /// The function it failed in.
    pub function: &'static str,
    /// Where the invariant is in the spec.
    pub source: &'static str,
    /// The policy applied.
    pub policy: Policy,
    /// The values the expression read (`Debug` where the type has it).
    pub values: Vec<(String, String)>,
    /// Whether it was recorded as evidence.
    pub evidence: Evidence,
    /// For a rate limit's full window: how long until the key is admitted again (a
    /// `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Violation {
    fn event(&self, site: &InvariantSite) -> Event {
        let values: serde_json::Map<String, serde_json::Value> =
            self.values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        Event {
            subsystem: site.subsystem.to_string(),
            actor: self.function.to_string(),
            action: "violation".to_string(),
            resource: format!("{}.{}", self.spec, self.invariant),
            payload: serde_json::json!({
                "check": self.clause.as_str(),
                "expr": self.expr,
                "values": values,
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

/// Picked otherwise.
pub trait ViaOpaque {
    /// A placeholder.
    fn pip_repr(&self) -> String;
}

impl<T: ?Sized> ViaOpaque for &Repr<'_, T> {
    fn pip_repr(&self) -> String {
        "<no Debug>".to_string()
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
