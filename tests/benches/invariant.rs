//! `#[pip_invariant]` against the same check written by hand with the runtime's API, in one
//! criterion run, on the holding path (target ≤ 1.05×) and on the violating path.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pip_runtime::invariant::{Clause, EvidenceValues, InvariantSite, LimitSite, Policy, Repr, ViaDebug as _};
use pip_runtime::{Violation, pip_invariant};

#[derive(Debug)]
pub struct Denied;

impl From<Violation> for Denied {
    fn from(_: Violation) -> Self {
        Denied
    }
}

/// `checks.positive_amount`: requires `amount > 0`, ensures `result.as_ref().map_or(true, |b| *b >= 0)`.
#[pip_invariant("checks.positive_amount")]
#[inline(never)]
pub fn annotated(balance: i64, amount: i64) -> Result<i64, Denied> {
    Ok(balance - amount)
}

/// What a careful developer writes by hand to get the same behaviour: the same site, the
/// same counters, the same evidence and the same policy.
#[inline(never)]
pub fn by_hand(balance: i64, amount: i64) -> Result<i64, Denied> {
    static SITE: InvariantSite = InvariantSite::new(
        "checks",
        "positive_amount",
        "critical",
        "P0",
        Policy::Deny,
        Some("audit"),
        EvidenceValues::Text,
        "invariants",
        "invariant::by_hand",
        "checks.pips:15",
    );
    if amount > 0 {
        SITE.held(Clause::Requires);
    } else {
        let values = vec![("balance", Repr(&balance).pip_value()), ("amount", Repr(&amount).pip_value())];
        return Err(SITE.violated(Clause::Requires, "amount > 0", values).into());
    }
    let result = Ok(balance - amount);
    if result.as_ref().map_or(true, |b| *b >= 0) {
        SITE.held(Clause::Ensures);
    } else {
        let values = vec![("result", Repr(&result).pip_value())];
        return Err(SITE.violated(Clause::Ensures, "result.as_ref().map_or(true, |b| *b >= 0)", values).into());
    }
    result
}

/// `checks.per_tenant` (3 per 1s) through the attribute.
#[pip_invariant("checks.per_tenant", key = tenant)]
#[inline(never)]
pub fn limited(tenant: u64, amount: i64) -> Result<i64, Denied> {
    Ok(amount)
}

/// The same limit consulted by hand through the runtime's site.
#[inline(never)]
pub fn limited_by_hand(tenant: u64, amount: i64) -> Result<i64, Denied> {
    static LIMIT: LimitSite = LimitSite::new(
        "checks",
        "per_tenant",
        3,
        1_000_000_000,
        100_000,
        pip_runtime::limiter::BackendFailure::Allow,
        50,
        "tenant",
        "invariant::limited_by_hand",
        "tests/macro-specs/checks.pips:70",
    );
    if let Err(v) = LIMIT.check(&tenant, || Repr(&tenant).pip_repr()) {
        return Err(v.into());
    }
    Ok(amount)
}

/// No check at all, for reference.
#[inline(never)]
pub fn unchecked(balance: i64, amount: i64) -> Result<i64, Denied> {
    Ok(balance - amount)
}

fn bench(c: &mut Criterion) {
    // Violations go to a ledger that discards nothing but costs little: an in-memory sink.
    struct Sink;
    impl pip_runtime::evidence::EvidenceSink for Sink {
        fn record(&self, _: pip_runtime::evidence::Event) -> Result<u64, pip_runtime::evidence::EvidenceError> {
            Ok(0)
        }
    }
    pip_runtime::runtime().register_ledger("checks", "audit", std::sync::Arc::new(Sink));
    let mut g = c.benchmark_group("invariant_holding");
    g.bench_function("annotated", |b| b.iter(|| annotated(black_box(100), black_box(30))));
    g.bench_function("by_hand", |b| b.iter(|| by_hand(black_box(100), black_box(30))));
    g.bench_function("unchecked", |b| b.iter(|| unchecked(black_box(100), black_box(30))));
    g.finish();
    let mut g = c.benchmark_group("invariant_violating");
    g.bench_function("annotated", |b| b.iter(|| annotated(black_box(100), black_box(-1))));
    g.bench_function("by_hand", |b| b.iter(|| by_hand(black_box(100), black_box(-1))));
    g.finish();
    // Rate limit, refused (one tenant whose window is full after its first 3 calls). The
    // admitted path is the limiter's own decision, benchmarked in `runtime/benches/limiter.rs`.
    let mut g = c.benchmark_group("rate_limit_refused");
    g.bench_function("annotated", |b| b.iter(|| limited(black_box(7), black_box(1))));
    g.bench_function("by_hand", |b| b.iter(|| limited_by_hand(black_box(7), black_box(1))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
