//! Alert history in a bundle: `alerts.json`, what Prometheus recorded of the spec's alerts over
//! the window (`pipc bundle --prometheus URL`), so that the timeline shows which alerts were
//! pending and firing, and when, beside the evidence.
//!
//! Fetched with one `query_range` of `ALERTS{spec="<spec>"}` over the window at a step fine
//! enough to see each transition (the window over at most [`MAX_POINTS`] points, at least one
//! millisecond: [`step_ms`]). Every sample of a series is an evaluation at which the alert was in that state: a
//! run of samples one step apart is an interval from its first sample to one step after its
//! last (clipped to the window). Anything short of a complete answer — no answer within the
//! timeout, a refused connection, an HTTP error, an error status, a partial answer (Prometheus'
//! `warnings`), a body that is not a range-query matrix, or one larger than [`MAX_BODY`] — is an
//! error, and no bundle is written.
//!
//! The file is bound like every other: listed in the manifest with its hash, under its MAC and
//! signature. It is read back strictly (unknown fields refused) when a bundle is verified, and
//! the timeline is re-rendered from it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The file's name inside the ZIP.
pub const ALERTS: &str = "alerts.json";
/// Most points a series may have over the window (Prometheus refuses more than 11,000).
pub const MAX_POINTS: u64 = 10_000;
/// The largest answer read from Prometheus.
pub const MAX_BODY: u64 = 64 << 20;
/// How long the query may take when the caller does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to read the alerts from.
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    /// The server's base URL, `http://host:9090` (a path prefix is kept: `http://host/prometheus`).
    pub url: String,
    /// How long the query may take in all, connecting included.
    pub timeout: Duration,
}

/// `alerts.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertHistory {
    /// The PromQL asked.
    pub query: String,
    /// Start of the range, Unix ms (the bundle's window start).
    pub start_ms: u64,
    /// End of the range, Unix ms (the window's end, exclusive).
    pub end_ms: u64,
    /// The query's step, ms.
    pub step_ms: u64,
    /// Every alert series that was pending or firing in the window, sorted by name and labels.
    pub alerts: Vec<AlertSeries>,
}

/// One alert: its labels and the intervals it was pending or firing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSeries {
    /// `alertname`.
    pub alertname: String,
    /// Every other label of the alert (`construct`, `severity`, `priority`, ...), without
    /// `alertstate` (which each interval says).
    pub labels: BTreeMap<String, String>,
    /// When it was pending or firing, in time order.
    pub intervals: Vec<Interval>,
}

/// A span of time an alert spent in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// `pending` or `firing`.
    pub state: String,
    /// First evaluation seen in this state, Unix ms.
    pub from_ms: u64,
    /// One step after the last, Unix ms (clipped to the window's end).
    pub to_ms: u64,
}

/// Why the alerts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The URL is not an `http://` URL this build can query.
    #[error("`{url}` is not a Prometheus URL pipc can query: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// No answer: refused, unreachable, or not within the timeout.
    #[error("Prometheus at {url} did not answer the alert query: {reason}")]
    Unreachable {
        /// The URL queried.
        url: String,
        /// The client's reason (a timeout says so).
        reason: String,
    },
    /// An answer that is not a complete range-query result.
    #[error("Prometheus at {url} answered the alert query with {what}")]
    BadAnswer {
        /// The URL queried.
        url: String,
        /// What was wrong: the HTTP status, Prometheus' own error, its warnings, the body.
        what: String,
    },
}

/// `ALERTS{spec="<spec>"}`, the query of a spec's alerts.
pub fn query(spec: &str) -> String {
    format!("ALERTS{{spec=\"{}\"}}", spec.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The step over `[start_ms, end_ms)`: the window over at most [`MAX_POINTS`] points, in
/// milliseconds, at least one. A range query returns, at each step, the series' latest sample
/// (within Prometheus' lookback) until a staleness marker ends it, so a step finer than the
/// rules' evaluation interval loses nothing; a coarser one (a day over 10,000 points is 8.64 s)
/// places each transition within one step.
pub fn step_ms(start_ms: u64, end_ms: u64) -> u64 {
    end_ms.saturating_sub(start_ms).div_ceil(MAX_POINTS).max(1)
}

/// Reads the spec's alerts over `[start_ms, end_ms)` from Prometheus.
pub fn fetch(source: &PrometheusSource, spec: &str, start_ms: u64, end_ms: u64) -> Result<AlertHistory, AlertsError> {
    let base = source.url.trim_end_matches('/');
    if !base.starts_with("http://") {
        let why = if base.starts_with("https://") {
            "only http:// is supported (query a TLS Prometheus through a local proxy or port-forward)"
        } else {
            "it must start with http://"
        };
        return Err(AlertsError::Url { url: source.url.clone(), why: why.to_string() });
    }
    let q = query(spec);
    let step = step_ms(start_ms, end_ms);
    let url = format!("{base}/api/v1/query_range");
    let secs = |ms: u64| format!("{}.{:03}", ms / 1000, ms % 1000);
    let agent = ureq::Agent::config_builder().timeout_global(Some(source.timeout)).http_status_as_error(false).build().new_agent();
    let unreachable = |e: ureq::Error| AlertsError::Unreachable { url: url.clone(), reason: e.to_string() };
    let mut response = agent
        .get(&url)
        .query("query", &q)
        .query("start", secs(start_ms))
        // The range's end is inclusive: stop one millisecond short of the window's end.
        .query("end", secs(end_ms.saturating_sub(1).max(start_ms)))
        .query("step", secs(step))
        .call()
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(unreachable)?;
    let bad = |what: String| AlertsError::BadAnswer { url: url.clone(), what };
    let answer: Answer =
        serde_json::from_str(&body).map_err(|e| bad(format!("HTTP {status} and a body that is not Prometheus' JSON ({e})")))?;
    if answer.status != "success" || status != 200 {
        let detail = [answer.error_type, answer.error].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return Err(bad(format!(
            "HTTP {status}, status `{}`{}",
            answer.status,
            if detail.is_empty() { String::new() } else { format!(": {detail}") }
        )));
    }
    if !answer.warnings.is_empty() {
        return Err(bad(format!("a partial result (warnings: {})", answer.warnings.join("; "))));
    }
    let data = answer.data.ok_or_else(|| bad("no data".to_string()))?;
    if data.result_type != "matrix" {
        return Err(bad(format!("a `{}` result, not a range-query matrix", data.result_type)));
    }
    let alerts = intervals(data.result, start_ms, end_ms, step).map_err(bad)?;
    Ok(AlertHistory { query: q, start_ms, end_ms, step_ms: step, alerts })
}

/// Prometheus' answer.
#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// The alerts of a range-query matrix: series grouped by their labels without `alertstate`,
/// each state's runs of samples one step apart made intervals.
fn intervals(result: Vec<Series>, start_ms: u64, end_ms: u64, step: u64) -> Result<Vec<AlertSeries>, String> {
    let mut alerts: BTreeMap<(String, BTreeMap<String, String>), Vec<Interval>> = BTreeMap::new();
    for s in result {
        let mut labels = s.metric;
        labels.remove("__name__");
        let state = labels.remove("alertstate").ok_or("an ALERTS series without `alertstate`")?;
        if state != "pending" && state != "firing" {
            return Err(format!("an ALERTS series in state `{state}`"));
        }
        let name = labels.remove("alertname").ok_or("an ALERTS series without `alertname`")?;
        let mut times: Vec<u64> = Vec::with_capacity(s.values.len());
        for (t, _) in &s.values {
            if !t.is_finite() || *t < 0.0 {
                return Err(format!("a sample at time {t}"));
            }
            times.push((t * 1000.0).round() as u64);
        }
        times.sort_unstable();
        let out = alerts.entry((name, labels)).or_default();
        let mut run: Option<(u64, u64)> = None;
        for t in times {
            run = match run {
                Some((first, last)) if t <= last + step => Some((first, t)),
                Some((first, last)) => {
                    out.push(Interval { state: state.clone(), from_ms: first, to_ms: (last + step).min(end_ms) });
                    Some((t, t))
                }
                None => Some((t, t)),
            };
        }
        if let Some((first, last)) = run {
            out.push(Interval { state: state.clone(), from_ms: first.max(start_ms), to_ms: (last + step).min(end_ms) });
        }
    }
    Ok(alerts
        .into_iter()
        .map(|((alertname, labels), mut intervals)| {
            intervals.sort_by(|a, b| (a.from_ms, &a.state).cmp(&(b.from_ms, &b.state)));
            AlertSeries { alertname, labels, intervals }
        })
        .collect())
}

impl AlertHistory {
    /// The file's bytes: pretty JSON, one trailing newline (deterministic: maps are sorted).
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads the file strictly.
    pub fn from_bytes(bytes: &[u8]) -> Result<AlertHistory, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn series(state: &str, construct: &str, times: &[f64]) -> Series {
        let metric = [
            ("__name__", "ALERTS"),
            ("alertname", "PipThresholdCrossed"),
            ("alertstate", state),
            ("construct", construct),
            ("spec", "shop"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Series { metric, values: times.iter().map(|t| (*t, "1".to_string())).collect() }
    }

    #[test]
    fn runs_of_samples_one_step_apart_are_intervals_per_state() {
        // Step 15 s: pending at 100..130, firing 145..175 and again 250.
        let result = vec![series("pending", "x", &[100.0, 115.0, 130.0]), series("firing", "x", &[145.0, 160.0, 175.0, 250.0])];
        let alerts = intervals(result, 0, 1_000_000, 15_000).unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].alertname, "PipThresholdCrossed");
        assert_eq!(alerts[0].labels.get("construct").map(String::as_str), Some("x"));
        assert!(!alerts[0].labels.contains_key("alertstate"));
        let got: Vec<(&str, u64, u64)> = alerts[0].intervals.iter().map(|i| (i.state.as_str(), i.from_ms, i.to_ms)).collect();
        assert_eq!(got, [("pending", 100_000, 145_000), ("firing", 145_000, 190_000), ("firing", 250_000, 265_000)]);
    }

    #[test]
    fn an_interval_ends_at_the_window_and_two_constructs_are_two_alerts() {
        let alerts = intervals(vec![series("firing", "b", &[990.0]), series("firing", "a", &[10.0])], 0, 1_000_000, 15_000).unwrap();
        let got: Vec<(&str, u64)> = alerts.iter().map(|a| (a.labels["construct"].as_str(), a.intervals[0].to_ms)).collect();
        assert_eq!(got, [("a", 25_000), ("b", 1_000_000)]);
    }

    #[test]
    fn the_step_sees_each_evaluation_and_prometheus_accepts_the_points() {
        assert_eq!(step_ms(0, 300_000), 30);
        assert_eq!(step_ms(0, 86_400_000), 8_640);
        assert_eq!(step_ms(0, 5_000), 1);
        assert!(86_400_000 / step_ms(0, 86_400_000) <= MAX_POINTS);
        assert_eq!(query("a\"b"), "ALERTS{spec=\"a\\\"b\"}");
    }

    #[test]
    fn a_series_without_its_labels_or_in_another_state_is_refused() {
        let mut s = series("firing", "x", &[1.0]);
        s.metric.remove("alertstate");
        assert!(intervals(vec![s], 0, 10_000, 1_000).is_err());
        assert!(intervals(vec![series("inactive", "x", &[1.0])], 0, 10_000, 1_000).is_err());
    }

    #[test]
    fn the_file_reads_back_strictly() {
        let h = AlertHistory { query: query("shop"), start_ms: 0, end_ms: 10, step_ms: 1000, alerts: Vec::new() };
        assert_eq!(AlertHistory::from_bytes(&h.to_bytes().unwrap()).unwrap(), h);
        assert!(AlertHistory::from_bytes(br#"{"query":"","start_ms":0,"end_ms":1,"step_ms":1,"alerts":[],"extra":1}"#).is_err());
    }
}
