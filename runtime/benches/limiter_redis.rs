//! Rate-limit decisions on a real Redis (Debian's `redis-server`, started here on a free
//! loopback port without persistence, stopped by its pid) against that same Redis's own
//! throughput for a trivial script, measured by `redis-benchmark` in the same run: the
//! physical limit of one Redis on this machine.
//!
//! `cargo bench -p pip-runtime --features redis --bench limiter_redis`
//!
//! `main` alternates, round after round, `redis-benchmark` (`EVALSHA` of `return 1`, `-c C`
//! clients, no pipelining) and our limiter with `C` threads deciding on 10k keys, for C = 1
//! and 64, and prints the medians of both and their ratio, with the latency percentiles of our
//! decisions (p50, p99) from every decision of the rounds. Criterion then times one decision
//! from one thread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use pip_runtime::clock::SystemClock;
use pip_runtime::limiter::{LimitConfig, Limiters, RateLimiter};
use pip_runtime::metrics::Metrics;

const KEYS: u64 = 10_000;
const ROUNDS: usize = 5;
/// Decisions per round, over all threads.
const DECISIONS: usize = 20_000;

#[path = "../tests/common/rng.rs"]
mod rng;

struct Server {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "1000"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (Debian's redis-server)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { port, child, _dir: dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A limiter on the server: 100 per second per key.
fn limiter(server: &Server) -> Arc<RateLimiter<u64>> {
    let limiters = Limiters::new(Arc::new(Metrics::default()), Arc::new(SystemClock::new()));
    limiters.backend_redis(&server.url()).unwrap();
    let mut config = LimitConfig::new("bench", "per_key", 100, Duration::from_secs(1));
    config.backend_timeout = Duration::from_secs(5);
    limiters.register(config).unwrap();
    limiters.get::<u64>("bench", "per_key").unwrap()
}

/// Decisions per second of `threads` threads making [`DECISIONS`] in all, and each decision's latency.
fn ours(limiter: &Arc<RateLimiter<u64>>, threads: usize, seed: u64) -> (f64, Vec<Duration>) {
    let per = DECISIONS / threads;
    let start = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let limiter = Arc::clone(limiter);
                s.spawn(move || {
                    let mut rng = rng::Rng(seed * 1000 + t as u64);
                    let mut lat = Vec::with_capacity(per);
                    for _ in 0..per {
                        let key = rng.next() % KEYS;
                        let t0 = Instant::now();
                        let d = limiter.check(&key);
                        lat.push(t0.elapsed());
                        std::hint::black_box(d);
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    ((per * threads) as f64 / start.elapsed().as_secs_f64(), latencies)
}

/// `redis-benchmark`'s requests per second for `EVALSHA` of `return 1` with `clients` clients.
fn theirs(server: &Server, sha: &str, clients: usize) -> f64 {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-c", &clients.to_string(), "-n", &DECISIONS.to_string()])
        .args(["-q", "--csv", "EVALSHA", sha, "0"])
        .output()
        .expect("redis-benchmark (Debian's redis-tools) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps",...: the last line holds the figures.
    let line = text.lines().rev().find(|l| l.contains("EVALSHA")).unwrap_or_else(|| panic!("redis-benchmark said: {text}"));
    line.split(',').nth(1).unwrap().trim_matches('"').parse().unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn conditions() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("CPU {cpu}, {cores} cores, load {}", load.split(' ').take(3).collect::<Vec<_>>().join(" "))
}

fn paired() {
    let server = Server::start();
    let limiter = limiter(&server);
    let mut conn = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 1").query(&mut conn).unwrap();
    eprintln!("limiter_redis: {}", conditions());
    for clients in [1usize, 64] {
        let (mut ours_rates, mut their_rates, mut latencies) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            their_rates.push(theirs(&server, &sha, clients));
            let (rate, lat) = ours(&limiter, clients, round as u64 + 1);
            ours_rates.push(rate);
            latencies.extend(lat);
        }
        latencies.sort_unstable();
        let (o, t) = (median(ours_rates), median(their_rates));
        eprintln!(
            "limiter_redis paired, {clients} concurrent caller(s), {ROUNDS} alternating rounds of {DECISIONS} (medians): pip {o:.0} decisions/s, redis-benchmark EVALSHA `return 1` {t:.0} req/s, ratio {:.2} (goal >= 0.5); pip latency p50 {:?}, p99 {:?}",
            o / t,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
    }
}

fn one_decision(c: &mut Criterion) {
    let server = Server::start();
    let limiter = limiter(&server);
    let mut rng = rng::Rng(7);
    c.bench_function("limiter_redis/one decision, 1 thread", |b| b.iter(|| limiter.check(&(rng.next() % KEYS))));
}

criterion_group!(benches, one_decision);

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if filter.is_empty() || filter.iter().any(|f| "limiter_redis".contains(f.as_str()) || f.contains("limiter_redis")) {
        paired();
    }
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}
