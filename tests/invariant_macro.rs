//! `#[pip_invariant]` at run time, on the invariants of `tests/macro-specs/checks.pips`:
//! every exit path is checked, each policy does what the spec says, counters move, and
//! violations land in the evidence ledger with their values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::sync::{Arc, Mutex};

use pip_runtime::evidence::{Event, EvidenceError, EvidenceSink};
use pip_runtime::invariant::Evidence;
use pip_runtime::metrics::InvariantLabels;
use pip_runtime::{Violation, pip_invariant, runtime};

/// An evidence ledger in memory.
#[derive(Default)]
struct Sink(Mutex<Vec<Event>>);

/// The key the memory ledger hashes values with (`evidence_values = hash`).
const VALUE_KEY: [u8; 32] = [7; 32];

impl EvidenceSink for Sink {
    fn record(&self, event: Event) -> Result<u64, EvidenceError> {
        let mut events = self.0.lock().unwrap();
        events.push(event);
        Ok(events.len() as u64)
    }

    fn hash_value(&self, value: &str) -> Option<String> {
        Some(pip_runtime::evidence::hash_value(&VALUE_KEY, value))
    }
}

/// The shared sink registered as ledger `checks.audit`, and the events about one invariant.
fn audit() -> Arc<Sink> {
    static SINK: std::sync::OnceLock<Arc<Sink>> = std::sync::OnceLock::new();
    let sink = SINK.get_or_init(|| Arc::new(Sink::default()));
    runtime().register_ledger("checks", "audit", sink.clone());
    sink.clone()
}

fn events_about(invariant: &str) -> Vec<Event> {
    audit().0.lock().unwrap().iter().filter(|e| e.resource == format!("checks.{invariant}")).cloned().collect()
}

fn count(family: &str, invariant: &str, check: &str, severity: &str) -> u64 {
    let m = runtime().metrics();
    let labels = InvariantLabels { spec: "checks".into(), invariant: invariant.into(), check: check.into(), severity: severity.into() };
    match family {
        "checks" => m.invariant_checks.get_or_create(&labels).get(),
        _ => m.invariant_violations.get_or_create(&labels).get(),
    }
}

#[derive(Debug, PartialEq)]
enum BankError {
    Invariant(String),
    Parse,
}

impl From<Violation> for BankError {
    fn from(v: Violation) -> Self {
        BankError::Invariant(v.to_string())
    }
}

impl From<std::num::ParseIntError> for BankError {
    fn from(_: std::num::ParseIntError) -> Self {
        BankError::Parse
    }
}

#[pip_invariant("checks.positive_amount", subsystem = "billing")]
fn withdraw(balance: i64, amount: i64) -> Result<i64, BankError> {
    if amount > 1_000 {
        // An early return still passes `ensures`.
        return Ok(balance - amount);
    }
    Ok(balance - amount)
}

/// The three tests of `withdraw` count its checks before and after their call; they run
/// one at a time so that another's call is not counted in between.
static WITHDRAW: Mutex<()> = Mutex::new(());

#[test]
fn requires_holding_is_counted_and_the_call_goes_through() {
    let _serial = WITHDRAW.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    audit();
    let before = count("checks", "positive_amount", "requires", "critical");
    assert_eq!(withdraw(100, 30), Ok(70));
    assert_eq!(count("checks", "positive_amount", "requires", "critical"), before + 1);
}

#[test]
fn a_failed_requires_denies_with_an_error_and_leaves_evidence() {
    let _serial = WITHDRAW.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    audit();
    let violations = count("violations", "positive_amount", "requires", "critical");
    let err = withdraw(100, -5).unwrap_err();
    let BankError::Invariant(message) = err else { panic!("not a violation") };
    assert!(message.contains("requires `amount > 0`"), "{message}");
    assert!(message.contains("amount = -5"), "{message}");
    assert!(message.contains("evidence: ledger audit entry"), "{message}");
    assert_eq!(count("violations", "positive_amount", "requires", "critical"), violations + 1);
    let event = events_about("positive_amount").into_iter().find(|e| e.payload["values"]["amount"] == "-5").unwrap();
    assert_eq!(event.subsystem, "billing");
    assert_eq!(event.action, "violation");
    assert_eq!(event.result, "denied");
    assert!(event.actor.ends_with("invariant_macro::withdraw"), "{}", event.actor);
    assert_eq!(event.payload["check"], "requires");
    assert_eq!(event.payload["expr"], "amount > 0");
    assert_eq!(event.payload["values"]["balance"], "100");
    assert_eq!(event.payload["severity"], "critical");
    assert_eq!(event.payload["priority"], "P0");
    assert_eq!(event.payload["evidence_values"], "debug");
}

/// The evidence a violation leaves and the alert its invariant raises name the same
/// `file:line`, the file named below the specs folder (not from where cargo or pipc ran).
#[test]
fn the_evidence_and_the_alert_name_the_same_spec_line() {
    let _serial = WITHDRAW.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    audit();
    let _ = withdraw(100, -6);
    let event = events_about("positive_amount").into_iter().find(|e| e.payload["values"]["amount"] == "-6").unwrap();
    let evidence = event.payload["spec_source"].as_str().unwrap().to_string();

    // The rules pipc generates from the same folder.
    let sources = pip_compiler::source::Sources::load(&[std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("macro-specs")]).unwrap();
    let c = pip_compiler::compile(&sources);
    let spec = c.specs.iter().find(|s| s.name == "checks").unwrap();
    let rules = pip_compiler::emit::emit_all(std::slice::from_ref(spec)).unwrap();
    let rules = rules.iter().find(|a| a.path.ends_with(".rules.yml")).unwrap();
    let rules: serde_json::Value = serde_norway::from_slice(&rules.contents).unwrap();
    let alert = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .find(|r| r["alert"].is_string() && r["expr"].as_str().is_some_and(|e| e.contains("invariant=\"positive_amount\"")))
        .unwrap();
    assert_eq!(alert["annotations"]["spec_source"].as_str().unwrap(), evidence);
    assert_eq!(evidence, "checks.pips:15");
}

#[test]
fn ensures_is_checked_on_an_early_return() {
    let _serial = WITHDRAW.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    audit();
    let before = count("violations", "positive_amount", "ensures", "critical");
    // balance - amount < 0 on the early-return path.
    let err = withdraw(10, 5_000).unwrap_err();
    assert!(matches!(err, BankError::Invariant(ref m) if m.contains("ensures")), "{err:?}");
    assert_eq!(count("violations", "positive_amount", "ensures", "critical"), before + 1);
    let event = events_about("positive_amount").into_iter().find(|e| e.payload["check"] == "ensures").unwrap();
    assert_eq!(event.payload["values"]["result"], "Ok(-4990)");
}

#[pip_invariant("checks.parsed_even")]
fn parse_even(input: &str) -> Result<i64, BankError> {
    let v: i64 = input.trim().parse()?;
    Ok(v)
}

#[test]
fn ensures_is_checked_on_the_question_mark_path_and_the_tail() {
    audit();
    // `?` returns Err(Parse): ensures holds for errors, and it is still checked.
    let before = count("checks", "parsed_even", "ensures", "high");
    assert_eq!(parse_even("x"), Err(BankError::Parse));
    assert_eq!(count("checks", "parsed_even", "ensures", "high"), before + 1);
    assert_eq!(parse_even("4"), Ok(4));
    let odd = parse_even("3").unwrap_err();
    assert!(matches!(odd, BankError::Invariant(ref m) if m.contains("ensures")), "{odd:?}");
}

#[derive(Debug, PartialEq)]
struct Route {
    tenant: String,
    backend: u16,
}

#[pip_invariant("checks.routed_to_the_sender")]
fn route(tenant: &str, backend_tenant: &str) -> Result<Route, BankError> {
    if backend_tenant.is_empty() {
        return Err(BankError::Parse);
    }
    Ok(Route { tenant: backend_tenant.to_string(), backend: 7 })
}

#[test]
fn an_ensures_on_ok_is_checked_on_every_ok_return_and_only_there() {
    audit();
    let checks = || count("checks", "routed_to_the_sender", "ensures", "high");
    let violations = || count("violations", "routed_to_the_sender", "ensures", "high");
    let (c0, v0) = (checks(), violations());
    assert_eq!(route("t1", "t1"), Ok(Route { tenant: "t1".into(), backend: 7 }));
    assert_eq!((checks(), violations()), (c0 + 1, v0));
    // An `Err` return has no `Ok` value to check: the check does not run.
    assert_eq!(route("t1", ""), Err(BankError::Parse));
    assert_eq!((checks(), violations()), (c0 + 1, v0));
    let err = route("t1", "t2").unwrap_err();
    assert!(matches!(err, BankError::Invariant(ref m) if m.contains("ensures `ok.tenant == tenant`")), "{err:?}");
    assert_eq!((checks(), violations()), (c0 + 2, v0 + 1));
    let event = events_about("routed_to_the_sender").last().unwrap().clone();
    assert_eq!(event.payload["values"]["ok"], "Route { tenant: \"t2\", backend: 7 }");
    assert_eq!(event.payload["values"]["tenant"], "\"t1\"");
}

#[pip_invariant("checks.non_empty_name")]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

#[test]
fn deny_on_a_function_without_a_result_panics_with_the_violation() {
    audit();
    assert_eq!(greet("ada"), "hello ada");
    let panic = std::panic::catch_unwind(|| greet("")).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("invariant checks.non_empty_name violated: requires `!name.is_empty()`"), "{message}");
    // `evidence_values = hash`: the message holds what the ledger holds, the keyed hash.
    let hashed = pip_runtime::evidence::hash_value(&VALUE_KEY, "\"\"");
    assert!(message.contains(&format!("name = {hashed}")), "{message}");
    assert!(message.contains("[spec checks.pips:"), "{message}");
    let event = events_about("non_empty_name").last().unwrap().clone();
    assert_eq!(event.result, "denied");
    assert_eq!(event.payload["values"]["name"], hashed.as_str());
    assert_eq!(event.payload["evidence_values"], "hash");
}

#[pip_invariant("checks.bounded_total")]
fn total(parts: &[u32]) -> u32 {
    parts.iter().sum()
}

#[test]
fn record_lets_the_call_go_on_and_records_the_violation() {
    audit();
    let before = count("violations", "bounded_total", "ensures", "low");
    assert_eq!(total(&[90, 30]), 120);
    assert_eq!(count("violations", "bounded_total", "ensures", "low"), before + 1);
    let event = events_about("bounded_total").into_iter().last().unwrap();
    assert_eq!(event.result, "recorded");
    // `evidence_values = omit`: the event names the value read and holds nothing of it.
    assert_eq!(event.payload["evidence_values"], "omit");
    assert!(event.payload["values"].as_object().unwrap().contains_key("result"));
    assert_eq!(event.payload["values"]["result"], serde_json::Value::Null);
    assert!(!event.payload.to_string().contains("120"), "{}", event.payload);
}

struct Counter {
    count: u64,
}

impl Counter {
    #[pip_invariant("checks.counter_grows")]
    fn bump(&mut self, by: u64, before: u64) -> u64 {
        self.count += by;
        self.count
    }
}

#[test]
fn methods_with_mut_self_are_checked_after_the_body() {
    audit();
    let mut c = Counter { count: 5 };
    assert_eq!(c.bump(2, 5), 7);
    // `before` claims more than the counter had: ensures fails after the body ran.
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.bump(1, 100))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("ensures"), "{message}");
    assert!(message.contains("before = 100"), "{message}");
}

#[pip_invariant("checks.async_positive")]
async fn fetch(n: i64) -> Result<i64, BankError> {
    if n < 0 {
        return Ok(n);
    }
    let parsed: i64 = format!("{n}").parse()?;
    Ok(parsed + 1)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn async_functions_are_checked_on_entry_and_on_every_return() {
    audit();
    assert_eq!(block_on(fetch(4)), Ok(5));
    assert!(matches!(block_on(fetch(13)), Err(BankError::Invariant(ref m)) if m.contains("requires `n != 13`")));
    assert!(matches!(block_on(fetch(-3)), Err(BankError::Invariant(ref m)) if m.contains("ensures")));
}

#[pip_invariant("checks.generic_len")]
fn repeat<T: Clone>(item: T, n: usize) -> Vec<T> {
    vec![item; if n == 7 { 6 } else { n }]
}

#[derive(Clone)]
struct Opaque;

#[test]
fn generic_functions_are_checked_and_values_without_debug_are_named() {
    assert_eq!(repeat('x', 3), vec!['x'; 3]);
    let Err(panic) = std::panic::catch_unwind(|| repeat(Opaque, 7)) else { panic!("no violation") };
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("n = 7"), "{message}");
    assert!(message.contains("result = <no Debug>"), "{message}");
    // The spec names no ledger for this invariant: nothing is claimed about evidence.
    assert!(!message.contains("evidence"), "{message}");
}

#[pip_invariant("checks.no_evidence_record")]
fn small(x: u8) -> u8 {
    x
}

#[test]
fn a_violation_without_a_ledger_is_still_counted() {
    let before = count("violations", "no_evidence_record", "requires", "low");
    assert_eq!(small(9), 9);
    assert_eq!(count("violations", "no_evidence_record", "requires", "low"), before + 1);
}

#[test]
fn a_violation_reports_a_ledger_that_is_not_registered() {
    // A violation object says whether evidence was written; built directly here.
    let v = Violation {
        spec: "s",
        invariant: "i",
        clause: pip_runtime::invariant::Clause::Requires,
        expr: "x > 0",
        function: "f",
        source: "s.pips:1",
        policy: pip_runtime::invariant::Policy::Deny,
        values: vec![],
        evidence_values: pip_runtime::invariant::EvidenceValues::Omitted,
        evidence: Evidence::Failed { ledger: "audit", reason: "no ledger".into() },
        retry_after: None,
    };
    assert!(v.to_string().contains("evidence NOT recorded in ledger audit: no ledger"));
}

// --- Rate limits through the attribute (`checks.per_tenant`: 3 per 1s, keyed by tenant) ---

#[derive(Debug, PartialEq)]
enum ApiError {
    TooMany { retry_after: Option<std::time::Duration>, message: String },
}

impl From<Violation> for ApiError {
    fn from(v: Violation) -> Self {
        ApiError::TooMany { retry_after: v.retry_after, message: v.to_string() }
    }
}

#[pip_invariant("checks.per_tenant", key = tenant)]
fn submit(tenant: &str, amount: u64) -> Result<u64, ApiError> {
    Ok(amount * 2)
}

/// Shares the limit (and so the budget) with `submit`; the key is an expression.
#[pip_invariant("checks.per_tenant", key = request.tenant.as_str())]
fn submit_request(request: &Request) -> Result<u64, ApiError> {
    Ok(request.amount)
}

struct Request {
    tenant: String,
    amount: u64,
}

/// No `Result`: a refusal panics like any `deny`.
#[pip_invariant("checks.per_tenant", key = tenant_id)]
fn submit_or_panic(tenant_id: u32) -> u32 {
    tenant_id
}

/// The limit's decisions as `/metrics` shows them (0 before its first call registers it).
fn limit_decisions(outcome: &str) -> u64 {
    let text = runtime().render();
    let wanted =
        format!("{}{{spec=\"checks\",limit=\"per_tenant\",outcome=\"{outcome}\"}} ", pip_conventions::metric::RATE_LIMIT_DECISIONS.exposed);
    text.lines().find_map(|l| l.strip_prefix(&wanted).map(|v| v.trim().parse::<u64>().unwrap())).unwrap_or(0)
}

#[test]
fn a_rate_limit_admits_r_calls_per_key_and_window_then_refuses_with_retry_after_or_panics() {
    let (allowed_before, rejected_before) = (limit_decisions("allowed"), limit_decisions("rejected"));
    // Tenants unique to this test: the tests of this file run in parallel on one limiter.
    for i in 0..3 {
        assert_eq!(submit("tenant-a", i), Ok(i * 2), "call {i} is within 3 per 1s");
    }
    let Err(ApiError::TooMany { retry_after, message }) = submit("tenant-a", 9) else { panic!("the 4th call in a second must be refused") };
    let retry_after = retry_after.expect("a full window says when to retry");
    assert!(retry_after > std::time::Duration::ZERO && retry_after <= std::time::Duration::from_secs(1), "{retry_after:?}");
    assert!(message.contains("rate limit checks.per_tenant"), "{message}");
    assert!(message.contains("\"tenant-a\""), "the message names the key: {message}");
    // Another key has its own budget; the same key through another function shares it.
    assert_eq!(submit("tenant-b", 1), Ok(2));
    let request = Request { tenant: "tenant-a".into(), amount: 5 };
    assert!(matches!(submit_request(&request), Err(ApiError::TooMany { .. })), "one limit, one budget per key");
    assert_eq!(limit_decisions("allowed"), allowed_before + 4);
    assert_eq!(limit_decisions("rejected"), rejected_before + 2);
    // Once the window has moved past the first admission, the key is admitted again.
    std::thread::sleep(retry_after + std::time::Duration::from_millis(20));
    assert_eq!(submit("tenant-a", 4), Ok(8));

    // No `Result`: the refusal panics (one test for both, as they share the limiter's counts).
    for _ in 0..3 {
        assert_eq!(submit_or_panic(4242), 4242);
    }
    let panic = std::panic::catch_unwind(|| submit_or_panic(4242)).expect_err("the 4th call panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("rate limit checks.per_tenant refused a call"), "{text}");
    assert!(text.contains("tenant_id = 4242"), "{text}");
}
