//! What `/metrics` serves: the registry in the format the scraper asks for, with its content
//! type.
//!
//! `prometheus-client` encodes OpenMetrics 1.0.0. Prometheus asks for it (its `Accept` header
//! lists `application/openmetrics-text` first), and gets it. Every other client — `curl`,
//! `promtool check metrics`, older scrapers — gets the classic Prometheus text format 0.0.4,
//! which differs from what the registry writes in four ways: a counter family is named with its
//! `_total` suffix in `# HELP`/`# TYPE` (OpenMetrics names the family without it, and a
//! Prometheus-format reader then finds samples without help text), an `info` family is a gauge
//! named `<name>_info`, `unknown` is `untyped`, and there are no `# UNIT` lines, exemplars or
//! `# EOF`. The samples are the same.

use std::collections::HashMap;

use prometheus_client::registry::Registry;

/// An exposition format `/metrics` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics text 1.0.0 (what Prometheus asks for).
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (what every other client reads).
    Prometheus,
}

impl Format {
    /// The format a request's `Accept` header asks for: OpenMetrics when it accepts
    /// `application/openmetrics-text` (version 1.0.0 or unspecified) with a non-zero quality,
    /// else the Prometheus text format (also for no header at all).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let accepts_openmetrics = accept.into_iter().flat_map(|a| a.split(',')).any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            if !media.eq_ignore_ascii_case("application/openmetrics-text") {
                return false;
            }
            let params: HashMap<String, &str> =
                parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'))).collect();
            let version_ok = params.get("version").is_none_or(|v| *v == "1.0.0");
            let quality = params.get("q").map_or(Some(1.0), |q| q.parse::<f64>().ok());
            version_ok && quality.is_some_and(|q| q > 0.0)
        });
        if accepts_openmetrics { Format::OpenMetrics } else { Format::Prometheus }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// A `/metrics` response: its content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposition {
    /// The `Content-Type` header to send.
    pub content_type: &'static str,
    /// The metrics text.
    pub body: String,
}

/// Encodes `registry` in `format`.
pub fn encode(registry: &Registry, format: Format) -> Exposition {
    let mut openmetrics = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut openmetrics, registry);
    let body = match format {
        Format::OpenMetrics => openmetrics,
        Format::Prometheus => to_prometheus_text(&openmetrics),
    };
    Exposition { content_type: format.content_type(), body }
}

/// Rewrites OpenMetrics text (as `prometheus-client` writes it) in the Prometheus text format.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    // The families whose names change: counters gain `_total`, infos `_info`.
    let suffixes: HashMap<&str, &str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .filter_map(|(name, kind)| match kind {
            "counter" => Some((name, "_total")),
            "info" => Some((name, "_info")),
            _ => None,
        })
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                out.push_str(suffixes.get(name).copied().unwrap_or(""));
                let tail = match (prefix, tail) {
                    ("# TYPE ", "unknown") => "untyped",
                    ("# TYPE ", "info") => "gauge",
                    _ => tail,
                };
                if !tail.is_empty() {
                    out.push(' ');
                    out.push_str(tail);
                }
            }
            // A sample, without its exemplar (` # {...} value`), which the classic format lacks.
            None if line.starts_with('#') => out.push_str(line),
            None => out.push_str(without_exemplar(line)),
        }
        out.push('\n');
    }
    out
}

/// A sample line up to its exemplar, if it has one: the ` # ` after the sample's value (label
/// values may hold `#`, `}` and escaped quotes, so the label set is skipped quote-aware).
fn without_exemplar(sample: &str) -> &str {
    let mut after_labels = 0;
    if let Some(open) = sample.find(['{', ' ']).filter(|&i| sample.as_bytes().get(i) == Some(&b'{')) {
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in sample.char_indices().skip_while(|&(i, _)| i <= open) {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    after_labels = i + 1;
                    break;
                }
                _ => {}
            }
        }
    }
    match sample.get(after_labels..).and_then(|rest| rest.find(" # ")) {
        Some(at) => sample.get(..after_labels + at).unwrap_or(sample),
        None => sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_and_gets_it_others_get_the_text_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text")), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text; q=0")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;version=0.0.1")), Format::Prometheus);
    }

    #[test]
    fn counters_and_infos_are_renamed_and_openmetrics_markers_and_exemplars_go() {
        let om = "# HELP a_things Things.\n# TYPE a_things counter\na_things_total{x=\"1\"} 2 # {trace=\"ab\"} 1.0\n\
                  # HELP b Level.\n# TYPE b gauge\n# UNIT b seconds\nb{h=\"a # b}\\\" # \"} 1.5\n# TYPE c unknown\nc 1\n\
                  # HELP build Build.\n# TYPE build info\nbuild_info{v=\"1\"} 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_things_total Things.\n# TYPE a_things_total counter\na_things_total{x=\"1\"} 2\n\
             # HELP b Level.\n# TYPE b gauge\nb{h=\"a # b}\\\" # \"} 1.5\n# TYPE c untyped\nc 1\n\
             # HELP build_info Build.\n# TYPE build_info gauge\nbuild_info{v=\"1\"} 1\n"
        );
    }
}
