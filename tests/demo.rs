//! The demo environment of `examples/payments-service/deploy`. Docker is not available where
//! the tests run, so the stack itself is not started; what can be checked without it is:
//! Prometheus's configuration, with the generated rules where the container mounts them,
//! passes `promtool check config`; every YAML file parses; every path the compose file
//! mounts or builds from exists; Grafana's provisioning names the fixed datasource uids and
//! a dashboard provider over the mount of `generated/grafana/`; promtail labels the ledger's
//! stream as the generated dashboards query it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pip_tests::{require_tool, root};
use serde_norway::Value;

fn deploy() -> PathBuf {
    root().join("examples/payments-service/deploy")
}

fn yaml(rel: &str) -> Value {
    let path = deploy().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn compose() -> Value {
    yaml("docker-compose.yml")
}

/// `(host path, container path)` of every bind mount of `service` (named volumes skipped).
fn binds(service: &str) -> Vec<(PathBuf, String)> {
    let c = compose();
    let volumes = c["services"][service]["volumes"].as_sequence().cloned().unwrap_or_default();
    volumes
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|v| v.starts_with('.'))
        .map(|v| {
            let mut parts = v.split(':');
            (deploy().join(parts.next().unwrap()), parts.next().unwrap().to_string())
        })
        .collect()
}

fn mount_of(service: &str, host: &Path) -> String {
    let canon = host.canonicalize().unwrap();
    binds(service)
        .into_iter()
        .find(|(h, _)| h.canonicalize().is_ok_and(|h| h == canon))
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("{service} does not mount {}", host.display()))
}

#[test]
fn the_demo_prometheus_config_passes_promtool_with_the_generated_rules_where_the_container_mounts_them() {
    let promtool = require_tool("promtool");
    // The container has the config at /etc/prometheus/prometheus.yml and the generated rules
    // at the mount point; lay the same out in a temporary folder.
    let config_mount = mount_of("prometheus", &deploy().join("prometheus/prometheus.yml"));
    let rules_mount = mount_of("prometheus", &root().join("generated/prometheus"));
    let config_dir = Path::new(&config_mount).parent().unwrap();
    let rules_rel = Path::new(&rules_mount).strip_prefix(config_dir).expect("rules are mounted next to the config");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(deploy().join("prometheus/prometheus.yml"), tmp.path().join("prometheus.yml")).unwrap();
    std::os::unix::fs::symlink(root().join("generated/prometheus"), tmp.path().join(rules_rel)).unwrap();
    let out = Command::new(promtool).args(["check", "config"]).arg(tmp.path().join("prometheus.yml")).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    // Every generated rules file was found and checked ("Checking <file>", then "SUCCESS").
    let lines: Vec<&str> = text.lines().collect();
    let mut files = 0;
    for f in std::fs::read_dir(root().join("generated/prometheus")).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".rules.yml") {
            files += 1;
            let at = lines.iter().position(|l| l.starts_with("Checking ") && l.ends_with(&format!("/{name}")));
            let ok = at.and_then(|i| lines.get(i + 1)).is_some_and(|l| l.trim_start().starts_with("SUCCESS: "));
            assert!(ok, "{name} not checked:\n{text}");
        }
    }
    assert!(text.contains(&format!("SUCCESS: {files} rule files found")), "{text}");
    // The job the spec's thresholds select.
    assert_eq!(yaml("prometheus/prometheus.yml")["scrape_configs"][0]["job_name"].as_str(), Some("payments"));
}

#[test]
fn every_path_the_compose_file_builds_from_or_mounts_exists() {
    let c = compose();
    let services = c["services"].as_mapping().unwrap();
    for name in ["payments", "prometheus", "grafana", "loki"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for (name, s) in services {
        let name = name.as_str().unwrap();
        if let Some(build) = s.get("build") {
            let context = deploy().join(build["context"].as_str().unwrap());
            assert!(context.join("Cargo.toml").is_file(), "{name}: build context {} is not the repository", context.display());
            assert!(context.join(build["dockerfile"].as_str().unwrap()).is_file(), "{name}: no Dockerfile");
        }
        for (host, _) in binds(name) {
            assert!(host.exists(), "{name} mounts {}, which does not exist", host.display());
        }
    }
    // The Dockerfile builds the two binaries the compose file runs.
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("-p payments-service -p pipc"), "{dockerfile}");
}

#[test]
fn grafana_provisioning_has_fixed_datasource_uids_and_serves_the_generated_dashboards() {
    let ds = yaml("grafana/provisioning/datasources/datasources.yml");
    let list = ds["datasources"].as_sequence().unwrap();
    let find = |kind: &str| list.iter().find(|d| d["type"].as_str() == Some(kind)).unwrap_or_else(|| panic!("no {kind} datasource"));
    assert_eq!(find("prometheus")["uid"].as_str(), Some("prometheus"));
    assert_eq!(find("loki")["uid"].as_str(), Some("loki"));
    assert_eq!(find("prometheus")["url"].as_str(), Some("http://prometheus:9090"));

    let provisioning = mount_of("grafana", &deploy().join("grafana/provisioning"));
    assert_eq!(provisioning, "/etc/grafana/provisioning");
    let dashboards = mount_of("grafana", &root().join("generated/grafana"));
    let providers = yaml("grafana/provisioning/dashboards/pip.yml");
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    assert_eq!(provider["options"]["path"].as_str(), Some(dashboards.as_str()), "the provider must read the mounted generated/grafana");
    let generated = std::fs::read_dir(root().join("generated/grafana")).unwrap().count();
    assert!(generated > 0);
}

#[test]
fn promtail_labels_the_ledger_stream_as_the_generated_dashboards_query_it() {
    let p = yaml("promtail/promtail.yml");
    let labels = &p["scrape_configs"][0]["static_configs"][0]["labels"];
    let dashboard = std::fs::read_to_string(root().join("generated/grafana/payments.json")).unwrap();
    let selector = format!("{{spec=\\\"{}\\\",ledger=\\\"{}\\\"}}", labels["spec"].as_str().unwrap(), labels["ledger"].as_str().unwrap());
    assert!(dashboard.contains(&selector), "no Loki query selects {selector}");
    assert_eq!(p["clients"][0]["url"].as_str(), Some("http://loki:3100/loki/api/v1/push"));
}
