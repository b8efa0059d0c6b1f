//! The classic Prometheus text format (0.0.4) from the OpenMetrics text the registry
//! renders, for clients that do not ask for OpenMetrics.
//!
//! The two differ, for what the registry writes, in three ways: OpenMetrics names a counter
//! family without its `_total` suffix in `# HELP`/`# TYPE` (the samples carry it), has
//! `# UNIT` lines, and ends with `# EOF`. Samples are the same.

use std::collections::HashSet;

/// Rewrites OpenMetrics `text` in the Prometheus text format.
pub fn to_prometheus_text(text: &str) -> String {
    let counters: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .filter(|name| !name.contains(' '))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) { format!("{name}_total") } else { name.to_string() };
                let tail = if prefix == "# TYPE " && tail == "unknown" { "untyped" } else { tail };
                out.push_str(prefix);
                out.push_str(&name);
                if !tail.is_empty() {
                    out.push(' ');
                    out.push_str(tail);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_get_their_total_suffix_and_openmetrics_markers_go() {
        let om = "# HELP a_things Things.\n# TYPE a_things counter\na_things_total{x=\"1\"} 2\n# HELP b Level.\n# TYPE b gauge\n# UNIT b seconds\nb 1.5\n# TYPE c unknown\nc 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_things_total Things.\n# TYPE a_things_total counter\na_things_total{x=\"1\"} 2\n# HELP b Level.\n# TYPE b gauge\nb 1.5\n# TYPE c untyped\nc 1\n"
        );
    }
}
