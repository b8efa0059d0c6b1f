#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

use super::*;
use crate::clock::ManualClock;
use crate::metrics::render;

const MS: u64 = 1_000_000;

fn limiter<K: Hash + Eq + Clone + Send + 'static>(limit: u64, window_ms: u64, max_keys: u64) -> (RateLimiter<K>, ManualClock, Metrics) {
    let clock = ManualClock::new(0);
    let metrics = Metrics::default();
    let config = LimitConfig::new("payments", "per_tenant", limit, Duration::from_millis(window_ms)).with_max_keys(max_keys);
    (RateLimiter::new(config, &metrics, Arc::new(clock.clone())).unwrap(), clock, metrics)
}

/// What a scrape of `metrics`' limiter collector shows.
fn scrape(metrics: &Metrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics.rate_limits.clone()));
    render(&registry)
}

fn allowed(l: &RateLimiter<String>, key: &str) -> bool {
    l.check(key).is_allowed()
}

#[test]
fn an_admission_counts_until_exactly_one_window_later() {
    let (l, clock, _) = limiter::<String>(2, 1_000, 10);
    assert!(allowed(&l, "a"));
    clock.advance_nanos(400 * MS);
    assert!(allowed(&l, "a"));
    clock.advance_nanos(599 * MS);
    let d = l.check("a");
    assert_eq!(d.retry_after(), Some(Duration::from_millis(1)));
    assert_eq!(d.at_nanos, 999 * MS);
    clock.advance_nanos(MS);
    assert!(allowed(&l, "a"), "at t = 1000 ms the admission at 0 ms has left the window");
    assert!(!allowed(&l, "a"), "the admission at 400 ms still counts");
}

#[test]
fn keys_are_limited_independently_and_looked_up_by_borrowed_form() {
    let (l, _, _) = limiter::<String>(1, 1_000, 10);
    assert!(allowed(&l, "a"));
    assert!(allowed(&l, "b"));
    assert!(!allowed(&l, "a"));
    assert!(!l.check(&"b".to_string()).is_allowed());
    assert_eq!(l.tracked_keys(), 2);
}

#[test]
fn decisions_are_counted_per_limit_and_series_exist_before_the_first_request() {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let clock = ManualClock::new(0);
    let l: RateLimiter<u64> =
        RateLimiter::new(LimitConfig::new("payments", "per_tenant", 1, Duration::from_secs(1)), &metrics, Arc::new(clock)).unwrap();
    let text = render(&registry);
    assert!(text.contains(r#"pip_rate_limit_decisions_total{spec="payments",limit="per_tenant",outcome="rejected"} 0"#), "{text}");
    assert!(text.contains(r#"pip_rate_limit_decisions_total{spec="payments",limit="per_tenant",outcome="allowed"} 0"#), "{text}");
    assert!(text.contains(r#"pip_rate_limit_key_cap_rejections_total{spec="payments",limit="per_tenant"} 0"#), "{text}");
    for key in [1, 1, 1, 2] {
        l.check(&key);
    }
    let text = render(&registry);
    assert!(text.contains(r#"outcome="allowed"} 2"#), "{text}");
    assert!(text.contains(r#"outcome="rejected"} 2"#), "{text}");
    assert!(text.contains(r#"pip_rate_limit_keys{spec="payments",limit="per_tenant"} 2"#), "{text}");
    assert!(!text.contains("key=\""), "no per-key series: {text}");
}

#[test]
fn at_the_key_cap_new_keys_are_refused_and_live_keys_keep_their_history() {
    let (l, clock, metrics) = limiter::<u64>(2, 1_000, 3);
    for key in 0..3 {
        assert!(l.check(&key).is_allowed());
    }
    // A key-rotating attacker cannot push key 0 out of the limiter...
    for key in 100..200 {
        assert_eq!(l.check(&key).outcome, Outcome::KeyCapReached);
    }
    // ... so key 0 still gets only its second admission in the window.
    assert!(l.check(&0).is_allowed());
    assert!(!l.check(&0).is_allowed());
    let text = scrape(&metrics);
    assert!(text.contains(r#"pip_rate_limit_key_cap_rejections_total{spec="payments",limit="per_tenant"} 100"#), "{text}");
    assert!(text.contains(r#"outcome="rejected"} 101"#), "100 key-cap refusals and key 0's one: {text}");
    assert!(text.contains(r#"outcome="allowed"} 4"#), "{text}");
    // Once the tracked keys are idle for a window, new keys fit again.
    clock.advance(Duration::from_millis(1_000));
    assert!(l.check(&100).is_allowed());
    assert!(l.tracked_keys() <= 3);
}

#[test]
fn the_cap_makes_room_from_idle_keys_of_other_shards() {
    let (l, clock, _) = limiter::<u64>(1, 100, 64);
    for key in 0..64 {
        assert!(l.check(&key).is_allowed());
    }
    clock.advance(Duration::from_millis(100));
    // Each new key's own shard evicts at most two idle keys; the rest come from the sweep.
    for key in 1_000..1_064 {
        assert!(l.check(&key).is_allowed(), "key {key}");
    }
    assert_eq!(l.tracked_keys(), 64);
}

#[test]
fn idle_keys_are_evicted_and_their_memory_returned() {
    let (l, clock, metrics) = limiter::<u64>(100, 1_000, 100_000);
    for key in 0..10_000 {
        for _ in 0..10 {
            l.check(&key);
        }
    }
    assert_eq!(l.tracked_keys(), 10_000);
    let busy = l.heap_bytes();
    clock.advance(Duration::from_millis(999));
    assert_eq!(l.evict_idle(), 0, "nothing is idle before a full window has passed");
    clock.advance(Duration::from_millis(1));
    assert_eq!(l.evict_idle(), 10_000);
    assert_eq!(l.tracked_keys(), 0);
    assert!(scrape(&metrics).contains(r#"pip_rate_limit_keys{spec="payments",limit="per_tenant"} 0"#));
    assert!(l.heap_bytes() < busy / 2, "{} of {busy} bytes still held", l.heap_bytes());
}

#[test]
fn configurations_that_cannot_be_enforced_are_errors() {
    let metrics = Metrics::default();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    let cases = [
        (LimitConfig::new("s", "l", 0, Duration::from_secs(1)), "at least one request"),
        (LimitConfig::new("s", "l", 1, Duration::ZERO), "longer than zero"),
        (LimitConfig::new("s", "l", 1, Duration::from_secs(1)).with_max_keys(0), "`max_keys`"),
        (LimitConfig::new("s", "l", 1, Duration::MAX), "584 years"),
    ];
    for (config, expected) in cases {
        let err = RateLimiter::<u64>::new(config, &metrics, Arc::clone(&clock)).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("rate limit `l` of spec `s`: "), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn the_registry_hands_every_caller_the_same_limiter() {
    let clock = ManualClock::new(0);
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(clock));
    limiters.register(LimitConfig::new("payments", "per_tenant", 1, Duration::from_secs(1))).unwrap();
    let a = limiters.get::<String>("payments", "per_tenant").unwrap();
    let b = limiters.get::<String>("payments", "per_tenant").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(a.check("t").is_allowed());
    assert!(!b.check("t").is_allowed());
}

#[test]
fn the_registry_refuses_unknown_duplicate_and_retyped_limits() {
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(ManualClock::new(0)));
    let config = LimitConfig::new("payments", "per_tenant", 1, Duration::from_secs(1));
    limiters.register(config.clone()).unwrap();
    assert_eq!(limiters.register(config).unwrap_err().to_string(), "rate limit `per_tenant` of spec `payments` is registered twice");
    assert_eq!(
        limiters.get::<u64>("payments", "per_ip").unwrap_err().to_string(),
        "no rate limit `per_ip` is registered for spec `payments`"
    );
    limiters.get::<u64>("payments", "per_tenant").unwrap();
    assert_eq!(
        limiters.get::<String>("payments", "per_tenant").unwrap_err().to_string(),
        "rate limit `per_tenant` of spec `payments` is keyed by `u64`, not `alloc::string::String`"
    );
    assert!(limiters.register(LimitConfig::new("payments", "bad", 0, Duration::from_secs(1))).is_err());
}

#[test]
fn registering_a_limit_creates_its_series_at_zero() {
    let mut registry = Registry::default();
    let limiters = Limiters::new(Arc::new(Metrics::register(&mut registry)), Arc::new(ManualClock::new(0)));
    limiters.register(LimitConfig::new("gateway", "per_ip", 5, Duration::from_secs(1))).unwrap();
    let text = render(&registry);
    assert!(text.contains(r#"pip_rate_limit_decisions_total{spec="gateway",limit="per_ip",outcome="rejected"} 0"#), "{text}");
    assert!(text.contains(r#"pip_rate_limit_keys{spec="gateway",limit="per_ip"} 0"#), "{text}");
}

#[test]
fn an_unset_or_empty_redis_url_keeps_the_limits_in_process() {
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(ManualClock::new(0)));
    limiters.backend_from(None);
    limiters.backend_from(Some("".into()));
    limiters.register(LimitConfig::new("payments", "per_tenant", 1, Duration::from_secs(1))).unwrap();
    assert!(!limiters.get::<u64>("payments", "per_tenant").unwrap().is_shared());
}

#[test]
fn an_unusable_redis_url_makes_every_limit_fail_rather_than_hold_per_process() {
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(ManualClock::new(0)));
    limiters.backend_from(Some("not a url".into()));
    limiters.register(LimitConfig::new("payments", "per_tenant", 1, Duration::from_secs(1))).unwrap();
    let err = limiters.get::<u64>("payments", "per_tenant").unwrap_err();
    assert!(matches!(&err, LimiterError::Backend { reason } if reason.starts_with("PIP_REDIS_URL: ")), "{err}");
}

#[test]
fn integer_keys_over_their_limit_are_refused_from_hints_exactly_as_the_window_says() {
    let (l, clock, metrics) = limiter::<u64>(3, 1_000, 10);
    for t in [0, 100, 200] {
        clock.set_nanos(t * MS);
        assert!(l.check(&7).is_allowed(), "admission at {t} ms");
    }
    // The third admission filled the log: every refusal until 1000 ms comes from the hint.
    for t in [200, 500, 999] {
        clock.set_nanos(t * MS);
        let d = l.check(&7);
        assert_eq!(d.retry_after(), Some(Duration::from_millis(1_000 - t)), "at {t} ms");
        assert_eq!(d.at_nanos, t * MS);
    }
    assert_eq!(l.core.hinted_rejections.sum(), 3, "the refusals did not take the hint");
    // At 1000 ms the admission at 0 ms has left the window: the hint no longer vouches, the
    // locked path admits, and publishes the new span (oldest 100 ms).
    clock.set_nanos(1_000 * MS);
    assert!(l.check(&7).is_allowed());
    assert_eq!(l.check(&7).retry_after(), Some(Duration::from_millis(100)));
    assert_eq!(l.core.hinted_rejections.sum(), 4);
    // Another key is never refused by key 7's hint, and the scrape counts every refusal.
    assert!(l.check(&8).is_allowed());
    let text = scrape(&metrics);
    assert!(text.contains("outcome=\"rejected\"} 4"), "{text}");
    assert!(text.contains("outcome=\"allowed\"} 5"), "{text}");
}

#[test]
fn keys_that_are_not_integers_never_take_a_hint() {
    let (l, _, _) = limiter::<String>(1, 1_000, 10);
    assert!(allowed(&l, "a"));
    assert!(!allowed(&l, "a"));
    assert!(!allowed(&l, "a"));
    assert!(l.hints.is_none());
    assert_eq!(l.core.hinted_rejections.sum(), 0);
}
