//! The rate limiter on a real Redis (Debian's `redis-server`, started by each test on a free
//! loopback port, without persistence, and stopped by its pid): four processes sharing keys
//! against an exact oracle, Redis stopped and started again, a slow Redis, a flushed script.
//!
//! `cargo test -p pip-runtime --features redis --test limiter_redis`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pip_conventions::backend_error;
use pip_runtime::clock::SystemClock;
use pip_runtime::limiter::{BackendFailure, LimitConfig, LimiterError, Limiters, Outcome, RateLimiter};
use pip_runtime::metrics::{BackendErrorLabels, Metrics, render};
use prometheus_client::registry::Registry;

const SPEC: &str = "replicas";
/// Set in a child process: the Redis URL it decides on.
const CHILD_URL: &str = "PIP_TEST_LIMITER_REDIS_CHILD_URL";
/// Set in a child process: where it writes its decisions.
const CHILD_OUT: &str = "PIP_TEST_LIMITER_REDIS_CHILD_OUT";

/// A `redis-server` of its own, killed by its pid when dropped.
struct Server {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Server { port, dir: tempfile::tempdir().unwrap(), child: None };
        server.start_again();
        server
    }

    /// Starts the server (again) on its port, and waits until it answers.
    fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (tests/run-all.sh installs Debian's redis-server)");
        self.child = Some(child);
        wait_until("redis-server answers PING", || self.connection().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c)).is_ok());
    }

    /// Kills the server and reaps it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(5))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `condition` until it holds, for at most 60 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn config(name: &str, limit: u64, window: Duration, policy: BackendFailure, timeout: Duration) -> LimitConfig {
    LimitConfig::new(SPEC, name, limit, window).with_backend_failure(policy, timeout)
}

/// A registry on `url` holding `configs`, and its metrics.
fn limiters_on(url: &str, configs: &[LimitConfig]) -> (Limiters, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let limiters = Limiters::new(Arc::clone(&metrics), Arc::new(SystemClock::new()));
    limiters.backend_redis(url).unwrap();
    for c in configs {
        limiters.register(c.clone()).unwrap();
    }
    (limiters, metrics)
}

/// `pip_rate_limit_backend_errors_total` of `limit` for `reason`.
fn errors(metrics: &Metrics, limit: &str, reason: &str) -> u64 {
    let labels = BackendErrorLabels { spec: SPEC.to_string(), limit: limit.to_string(), reason: reason.to_string() };
    metrics.rate_limit_backend_errors.get_or_create(&labels).get()
}

fn all_errors(metrics: &Metrics, limit: &str) -> u64 {
    backend_error::ALL.iter().map(|r| errors(metrics, limit, r)).sum()
}

fn scrape(metrics: &Metrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics.rate_limits.clone()));
    registry.register("pip_rate_limit_backend_errors", "backend errors", metrics.rate_limit_backend_errors.clone());
    render(&registry)
}

// ---- (a) four processes, one limit ---------------------------------------------------------

const PROCESSES: usize = 4;
const DECISIONS: usize = 5000;
const KEYS: u64 = 3;
const R: usize = 10;
const WINDOW_MICROS: u64 = 20_000;

/// Not a test of its own: the body of each child process of
/// `four_processes_never_admit_more_than_r_per_window_together`, which runs this test binary
/// with [`CHILD_URL`] set. Without it, there is nothing to do.
#[test]
fn child_process_decides_on_shared_keys() {
    let (Ok(url), Ok(out)) = (std::env::var(CHILD_URL), std::env::var(CHILD_OUT)) else {
        return;
    };
    // A generous timeout: a decision that fails would be a policy decision, not Redis's.
    let c = config("shared", R as u64, Duration::from_micros(WINDOW_MICROS), BackendFailure::Deny, Duration::from_secs(10));
    let (limiters, metrics) = limiters_on(&url, &[c]);
    let limiter = limiters.get::<u64>(SPEC, "shared").unwrap();
    let mut lines = String::new();
    for i in 0..DECISIONS {
        let key = i as u64 % KEYS;
        let d = limiter.check(&key);
        lines.push_str(&format!("{key} {} {}\n", d.at_nanos / 1_000, u8::from(d.is_allowed())));
    }
    assert_eq!(all_errors(&metrics, "shared"), 0, "every decision was Redis's");
    std::fs::write(out, lines).unwrap();
}

fn spawn_child(url: &str, out: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_decides_on_shared_keys", "--nocapture", "--test-threads", "1"])
        .env(CHILD_URL, url)
        .env(CHILD_OUT, out)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn four_processes_never_admit_more_than_r_per_window_together() {
    let server = Server::start();
    let outs: Vec<PathBuf> = (0..PROCESSES).map(|i| server.dir.path().join(format!("child-{i}.txt"))).collect();
    let children: Vec<Child> = outs.iter().map(|out| spawn_child(&server.url(), out)).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child process failed");
    }

    // key -> (server µs, admitted), from every process.
    let mut decisions: HashMap<u64, Vec<(u64, bool)>> = HashMap::new();
    // Each process's first and last decision: the processes must have decided at once.
    let mut spans = Vec::new();
    for out in &outs {
        let text = std::fs::read_to_string(out).unwrap();
        let mut span = (u64::MAX, 0);
        for line in text.lines() {
            let f: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            decisions.entry(f[0]).or_default().push((f[1], f[2] == 1));
            span = (span.0.min(f[1]), span.1.max(f[1]));
        }
        spans.push(span);
    }
    assert_eq!(decisions.values().map(Vec::len).sum::<usize>(), PROCESSES * DECISIONS);
    let (last_start, first_end) = (spans.iter().map(|s| s.0).max().unwrap(), spans.iter().map(|s| s.1).min().unwrap());
    assert!(last_start < first_end, "the processes did not overlap: {spans:?}");

    let (mut rejections, mut false_positives, mut admissions) = (0usize, 0usize, 0usize);
    for (key, list) in &decisions {
        let mut admitted: Vec<u64> = list.iter().filter(|(_, a)| *a).map(|(t, _)| *t).collect();
        admitted.sort_unstable();
        admissions += admitted.len();
        // No false negative: any R + 1 consecutive admissions span at least τ, so no window
        // [s, s + τ) holds more than R.
        for w in admitted.windows(R + 1) {
            assert!(w[R] - w[0] >= WINDOW_MICROS, "key {key}: {} admissions within {} µs: {w:?}", R + 1, w[R] - w[0]);
        }
        // A rejection at t is a false positive if fewer than R admissions lay in (t − τ, t].
        for &(t, _) in list.iter().filter(|(_, a)| !*a) {
            rejections += 1;
            let in_window = admitted.partition_point(|&a| a <= t) - admitted.partition_point(|&a| a + WINDOW_MICROS <= t);
            if in_window < R {
                false_positives += 1;
            }
        }
    }
    // The run must have pressed on the limit for the checks above to mean anything.
    assert!(rejections > 0 && admissions > R * KEYS as usize, "{admissions} admissions, {rejections} rejections");
    assert!(false_positives * 1000 <= rejections, "{false_positives} false positives among {rejections} rejections");
    eprintln!("{admissions} admissions, {rejections} rejections, {false_positives} false positives; overlap {} µs", first_end - last_start);
}

// ---- decisions and their series --------------------------------------------------------------

#[test]
fn a_full_window_is_refused_until_its_oldest_admission_leaves_and_counted_as_in_process() {
    let server = Server::start();
    let window = Duration::from_secs(60);
    let c = config("per_tenant", 3, window, BackendFailure::Allow, Duration::from_secs(5));
    let (limiters, metrics) = limiters_on(&server.url(), &[c]);
    let limiter: Arc<RateLimiter<String>> = limiters.get::<String>(SPEC, "per_tenant").unwrap();
    assert!(limiter.is_shared());
    let times: Vec<u64> = (0..3)
        .map(|_| {
            let d = limiter.check("tenant-1");
            assert_eq!(d.outcome, Outcome::Allowed);
            d.at_nanos
        })
        .collect();
    let refused = limiter.check("tenant-1");
    let retry_after = refused.retry_after().expect("the 4th request is refused for the window");
    assert!(retry_after > Duration::ZERO && retry_after <= window, "{retry_after:?}");
    // Exactly when the first admission leaves the window.
    assert_eq!(Duration::from_nanos(times[0]) + window - Duration::from_nanos(refused.at_nanos), retry_after);
    assert!(limiter.check("tenant-2").is_allowed(), "another key has a window of its own");

    let text = scrape(&metrics);
    for series in [
        r#"pip_rate_limit_decisions_total{spec="replicas",limit="per_tenant",outcome="allowed"} 4"#,
        r#"pip_rate_limit_decisions_total{spec="replicas",limit="per_tenant",outcome="rejected"} 1"#,
        r#"pip_rate_limit_backend_errors_total{spec="replicas",limit="per_tenant",reason="timeout"} 0"#,
        r#"pip_rate_limit_backend_errors_total{spec="replicas",limit="per_tenant",reason="unavailable"} 0"#,
        r#"pip_rate_limit_backend_errors_total{spec="replicas",limit="per_tenant",reason="error"} 0"#,
    ] {
        assert!(text.contains(series), "missing `{series}` in:\n{text}");
    }
}

#[test]
fn the_backend_is_chosen_before_the_first_use_of_a_limit() {
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(SystemClock::new()));
    limiters.register(LimitConfig::new(SPEC, "early", 1, Duration::from_secs(1))).unwrap();
    let in_process = limiters.get::<u64>(SPEC, "early").unwrap();
    assert!(!in_process.is_shared());
    let err = limiters.backend_redis("redis://127.0.0.1:1/").unwrap_err();
    assert!(matches!(&err, LimiterError::Backend { reason } if reason.contains("`early`")), "{err}");
    assert!(matches!(
        Limiters::new(Arc::new(Metrics::default()), Arc::new(SystemClock::new())).backend_redis("nope"),
        Err(LimiterError::Backend { .. })
    ));
}

// ---- (b) Redis stopped and started again ---------------------------------------------------

#[test]
fn a_stopped_redis_is_decided_by_the_policy_and_decisions_resume_when_it_returns() {
    let mut server = Server::start();
    let timeout = Duration::from_millis(200);
    let window = Duration::from_secs(60);
    let open = config("open", 1000, window, BackendFailure::Allow, timeout);
    let closed = config("closed", 1000, window, BackendFailure::Deny, timeout);
    let (limiters, metrics) = limiters_on(&server.url(), &[open, closed]);
    let open = limiters.get::<u64>(SPEC, "open").unwrap();
    let closed = limiters.get::<u64>(SPEC, "closed").unwrap();
    assert!(open.check(&0).is_allowed() && closed.check(&0).is_allowed());

    server.stop();
    for key in 1..=20u64 {
        assert_eq!(open.check(&key).outcome, Outcome::Allowed, "fail open");
        assert_eq!(closed.check(&key).outcome, Outcome::Rejected { retry_after: timeout }, "fail closed");
    }
    for limit in ["open", "closed"] {
        assert_eq!(errors(&metrics, limit, backend_error::UNAVAILABLE), 20, "{limit}");
        assert_eq!(all_errors(&metrics, limit), 20, "{limit}: only `unavailable`");
    }

    server.start_again();
    for (name, limiter) in [("closed", &closed), ("open", &open)] {
        let mut key = 1000u64;
        wait_until(&format!("`{name}` decides on Redis again"), || {
            key += 1;
            let before = all_errors(&metrics, name);
            let d = limiter.check(&key);
            all_errors(&metrics, name) == before && d.is_allowed()
        });
    }
}

#[test]
fn a_restarted_redis_costs_no_failed_decision_when_none_was_asked_while_it_was_down() {
    let mut server = Server::start();
    let c = config("restarted", 1000, Duration::from_secs(60), BackendFailure::Deny, Duration::from_secs(5));
    let (limiters, metrics) = limiters_on(&server.url(), &[c]);
    let limiter = limiters.get::<u64>(SPEC, "restarted").unwrap();
    assert!(limiter.check(&1).is_allowed());
    server.stop();
    server.start_again();
    // The pooled connection went with the old server: the decision retries on a new one.
    assert!(limiter.check(&1).is_allowed());
    assert_eq!(all_errors(&metrics, "restarted"), 0);
}

// ---- (c) slow Redis --------------------------------------------------------------------------

/// Keeps the server busy in `DEBUG SLEEP 0.5` until dropped.
struct Sleeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sleeper {
    fn start(server: &Server) -> Sleeper {
        let mut conn = server.connection().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Acquire) {
                redis::cmd("DEBUG").arg("SLEEP").arg("0.5").query::<()>(&mut conn).unwrap();
            }
        });
        Sleeper { stop, thread: Some(thread) }
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_slow_redis_is_a_timeout_decided_by_the_policy() {
    let server = Server::start();
    let timeout = Duration::from_millis(50);
    for (name, policy, expected) in [
        ("slow_closed", BackendFailure::Deny, Outcome::Rejected { retry_after: timeout }),
        ("slow_open", BackendFailure::Allow, Outcome::Allowed),
    ] {
        // A registry (and so a connection pool) per limit: each has a warm connection.
        let (limiters, metrics) = limiters_on(&server.url(), &[config(name, 1000, Duration::from_secs(60), policy, timeout)]);
        let limiter = limiters.get::<u64>(SPEC, name).unwrap();
        assert!(limiter.check(&0).is_allowed());
        let sleeper = Sleeper::start(&server);
        let mut key = 0u64;
        wait_until(&format!("a decision of `{name}` times out"), || {
            key += 1;
            let before = errors(&metrics, name, backend_error::TIMEOUT);
            let d = limiter.check(&key);
            if errors(&metrics, name, backend_error::TIMEOUT) == before {
                return false;
            }
            assert_eq!(d.outcome, expected, "{name}");
            true
        });
        assert_eq!(errors(&metrics, name, backend_error::ERROR), 0);
        drop(sleeper);
    }
}

// ---- (d) NOSCRIPT --------------------------------------------------------------------------

/// How many times SCRIPT LOAD ran on the server.
fn script_loads(server: &Server) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut server.connection().unwrap()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_script|load:calls="))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

#[test]
fn a_flushed_script_is_loaded_again_and_the_decision_still_counts() {
    let server = Server::start();
    let c = config("flushed", 2, Duration::from_secs(60), BackendFailure::Deny, Duration::from_secs(5));
    let (limiters, metrics) = limiters_on(&server.url(), &[c]);
    let limiter = limiters.get::<u64>(SPEC, "flushed").unwrap();
    assert!(limiter.check(&7).is_allowed());
    assert_eq!(script_loads(&server), 1);

    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut server.connection().unwrap()).unwrap();
    assert!(limiter.check(&7).is_allowed(), "the second admission of the window");
    assert_eq!(script_loads(&server), 2, "NOSCRIPT made the limiter load the script again");
    assert!(limiter.check(&7).retry_after().is_some(), "the window held both admissions across the reload");
    assert_eq!(all_errors(&metrics, "flushed"), 0);
}

// ---- (e) pipelining --------------------------------------------------------------------------

/// A field of `INFO stats`.
fn stat(server: &Server, name: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(&mut server.connection().unwrap()).unwrap();
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap().trim().parse().unwrap()
}

#[test]
fn many_callers_share_a_few_pipelined_connections_and_every_decision_stays_exact_across_a_script_flush() {
    const CALLERS: u64 = 32;
    const EACH: u64 = 60;
    const KEYS: u64 = 6;
    const R: u64 = 50;
    let server = Server::start();
    let c = config("piped", R, Duration::from_secs(3600), BackendFailure::Deny, Duration::from_secs(10));
    let (limiters, metrics) = limiters_on(&server.url(), &[c]);
    let limiter = limiters.get::<u64>(SPEC, "piped").unwrap();
    let mut flusher = server.connection().unwrap();
    let before = stat(&server, "total_connections_received");
    let decided = std::sync::atomic::AtomicU64::new(0);
    let admitted: Vec<u64> = std::thread::scope(|s| {
        let callers: Vec<_> = (0..CALLERS)
            .map(|t| {
                let (limiter, decided) = (&limiter, &decided);
                s.spawn(move || {
                    let mut admitted = vec![0u64; KEYS as usize];
                    for i in 0..EACH {
                        let key = (t + i) % KEYS;
                        if limiter.check(&key).is_allowed() {
                            admitted[key as usize] += 1;
                        }
                        decided.fetch_add(1, Ordering::Relaxed);
                    }
                    admitted
                })
            })
            .collect();
        // Mid-run, the server forgets the script: the batches in flight meet NOSCRIPT.
        wait_until("a third of the decisions are made", || decided.load(Ordering::Relaxed) >= CALLERS * EACH / 3);
        let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut flusher).unwrap();
        callers.into_iter().map(|h| h.join().unwrap()).fold(vec![0; KEYS as usize], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
    });
    let after = stat(&server, "total_connections_received");
    assert_eq!(all_errors(&metrics, "piped"), 0, "{}", scrape(&metrics));
    assert!(script_loads(&server) >= 2, "the flush made the limiter load the script again");
    // Each key was asked 320 times within one window: exactly R admitted, and Redis holds exactly R members.
    assert_eq!(admitted, vec![R; KEYS as usize]);
    let mut conn = server.connection().unwrap();
    let sets: Vec<String> = redis::cmd("KEYS").arg(format!("pip:{{{SPEC}:piped:*")).query(&mut conn).unwrap();
    assert_eq!(sets.len(), KEYS as usize);
    for set in sets {
        let members: u64 = redis::cmd("ZCARD").arg(&set).query(&mut conn).unwrap();
        assert_eq!(members, R, "{set}");
    }
    // 32 callers went through at most 4 connections (the backend's pipelines in flight): the
    // others' decisions were sent in those pipelines. (`after` counts its own connection.)
    let opened = after - before - 1;
    assert!((1..=4).contains(&opened), "{opened} connections for {CALLERS} callers");
}
