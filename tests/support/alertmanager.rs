//! A real Alertmanager for the tests (Debian's `prometheus-alertmanager`, on loopback, stopped
//! by its own pid), a webhook receiver that records what it is sent, and the configuration an
//! ops repo would hold around the generated fragments.
// Test support: a failed step panics, which fails the test that called it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pip_compiler::emit::alertmanager;
use pip_compiler::ir::Spec;
use serde_norway::{Mapping, Value};

use crate::require_tool;

/// A whole Alertmanager configuration as an ops repo would hold it: a catch-all root route
/// (with short timers, so the live test is quick), each spec's route in its `routes:` and its
/// inhibit rules in `inhibit_rules:` (the merge docs/language.md describes), and every receiver
/// the fragments name as a webhook to `webhook` + `/<receiver>`.
pub fn config(specs: &[Spec], webhook: &str) -> String {
    let mut routes = Vec::new();
    let mut inhibit = Vec::new();
    let mut receivers = vec!["fallback".to_string()];
    for spec in specs {
        let f: Value = serde_norway::from_str(&alertmanager::yaml(spec).unwrap()).unwrap();
        routes.push(f["route"].clone());
        inhibit.extend(f["inhibit_rules"].as_sequence().unwrap().iter().cloned());
        receivers.extend(alertmanager::receivers(spec));
    }
    receivers.sort();
    receivers.dedup();
    let receivers: Vec<Value> = receivers
        .iter()
        .map(|r| {
            let mut hook = Mapping::new();
            hook.insert("url".into(), format!("{webhook}/{r}").into());
            hook.insert("send_resolved".into(), false.into());
            let mut m = Mapping::new();
            m.insert("name".into(), r.as_str().into());
            m.insert("webhook_configs".into(), Value::Sequence(vec![Value::Mapping(hook)]));
            Value::Mapping(m)
        })
        .collect();
    let mut root = Mapping::new();
    root.insert("receiver".into(), "fallback".into());
    root.insert("group_by".into(), Value::Sequence(vec!["alertname".into()]));
    root.insert("group_wait".into(), "200ms".into());
    root.insert("group_interval".into(), "1s".into());
    root.insert("repeat_interval".into(), "1h".into());
    root.insert("routes".into(), Value::Sequence(routes));
    let mut cfg = Mapping::new();
    cfg.insert("route".into(), Value::Mapping(root));
    cfg.insert("receivers".into(), Value::Sequence(receivers));
    cfg.insert("inhibit_rules".into(), Value::Sequence(inhibit));
    serde_norway::to_string(&Value::Mapping(cfg)).unwrap()
}

/// A webhook receiver: records the path and body of every POST.
pub struct Webhook {
    /// Its loopback port.
    pub port: u16,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Webhook {
    /// Starts listening on a free loopback port.
    pub fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if let Some((path, body)) = read_request(&mut stream) {
                    sink.lock().unwrap().push((path, body));
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Webhook { port, received }
    }

    /// The bodies POSTed to `path` so far.
    pub fn bodies_at(&self, path: &str) -> Vec<String> {
        self.received.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, b)| b.clone()).collect()
    }
}

/// The path and body of one HTTP request (body by `Content-Length`).
fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let path = head.split_whitespace().nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().ok()))
        .flatten()
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((path, String::from_utf8_lossy(&buf[header_end..]).into_owned()))
}

/// One HTTP/1.0 request (no chunked answers), returning the status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// A running Alertmanager, stopped by its own pid when dropped.
pub struct Alertmanager {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts Debian's `prometheus-alertmanager` with `config` on a free loopback port (no
    /// clustering) and waits until it is ready.
    pub fn start(config: &str) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(require_tool("prometheus-alertmanager"))
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut am = Alertmanager { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/-/ready", "").map(|(s, _)| s) != Some(200) {
            if let Ok(Some(status)) = am.child.try_wait() {
                panic!("alertmanager exited before it was ready: {status}");
            }
            assert!(Instant::now() < deadline, "alertmanager is not ready on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        am.port = port;
        am
    }

    /// `POST /api/v2/alerts` of alerts with these label sets.
    pub fn post(&self, alerts: &[&BTreeMap<String, String>]) {
        let body: Vec<serde_json::Value> = alerts.iter().map(|labels| serde_json::json!({ "labels": labels })).collect();
        let (status, text) = http(self.port, "POST", "/api/v2/alerts", &serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(status, 200, "POST /api/v2/alerts: {text}");
    }

    /// `GET /api/v2/alerts`: every alert Alertmanager holds, with its status.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let (status, text) = http(self.port, "GET", "/api/v2/alerts", "").unwrap();
        assert_eq!(status, 200, "GET /api/v2/alerts: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// Waits (generously) until `done` holds; what is asserted is the outcome, never the time.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
