//! pip's SLO rules side by side with Sloth's: the rules Sloth generates for its "getting
//! started" SLO (tests/fixtures/sloth/, verbatim from Sloth's repository) and pip's rules for
//! the same SLO (`getting_started.pips`) run in one promtool test over one set of input series,
//! and promtool itself checks that they agree:
//!
//! - every window up to 3 days: pip's `pip:slo_errors:ratio_rate<w>` equals Sloth's
//!   `slo:sli_error:ratio_rate<w>` (the same rate ratio, to a billionth), every hour for four
//!   days of traffic with two burns;
//! - the period (30d): pip's share of bad events over the period equals Sloth's average of its
//!   5m ratios to a billionth. That holds here because the traffic is constant; with uneven
//!   traffic they part by design (pip weighs each event alike, Sloth each five minutes, and
//!   Sloth's average only counts from when its 5m rule started recording);
//! - the alerts: pip's tiers 1 or 2 fire exactly when Sloth's page alert does, tiers 3 or 4
//!   exactly when its ticket alert does, at every evaluation (every 5 minutes); and each fires
//!   at some point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::fmt::Write as _;
use std::process::Command;

use pip_compiler::emit::prometheus;
use pip_tests::{load, require_tool, root};

const SLOTH_RULES: &str = "tests/fixtures/sloth/sloth-getting-started.rules.yml";
const PIP_SPEC: &str = "tests/fixtures/sloth/getting_started.pips";
/// Sloth's labels of its SLO's series.
const SLOTH: &str = r#"sloth_id="myservice-requests-availability",sloth_service="myservice",sloth_slo="requests-availability""#;
const PIP: &str = r#"spec="myservice",slo="requests_availability""#;
const TOTAL: &str = r#"http_request_duration_seconds_count{code="200",job="myservice"}"#;
const BAD: &str = r#"http_request_duration_seconds_count{code="503",job="myservice"}"#;
const HOUR: u64 = 60;
/// Sloth puts its alerts in a group of their own, which promtool may evaluate before the
/// recording rules they read (they would then read the previous evaluation's ratios, as they
/// can in Prometheus, where groups run on their own timers); pip keeps each SLO's rules and
/// alerts in one group. Compare the rules, not the scheduling: Sloth's recordings first.
const SLOTH_GROUP_ORDER: &str = "group_eval_order:\n  - sloth-slo-sli-recordings-myservice-requests-availability\n  - sloth-slo-meta-recordings-myservice-requests-availability\n  - sloth-slo-alerts-myservice-requests-availability\n";

/// Requests per minute, and the share of them that fail, in phases of `(minutes, errors per
/// 100,000 requests)`: healthy, a fast burn (20x the budget for 1h: the 14.4x tier), healthy,
/// a slower burn (8x for a day: the 6x and 3x tiers), and 1.5x for two days (the 1x tier).
const PER_MINUTE: u64 = 100_000;
const PHASES: [(u64, u64); 5] = [(6 * HOUR, 50), (HOUR, 2_000), (17 * HOUR, 50), (24 * HOUR, 800), (48 * HOUR, 150)];

/// `start+incxN` runs of a cumulative counter from its per-minute increments.
fn values(per_minute: impl Iterator<Item = (u64, u64)>) -> String {
    let mut out = String::from("0");
    let mut acc = 0u64;
    for (minutes, inc) in per_minute {
        write!(out, " {}+{inc}x{}", acc + inc, minutes - 1).unwrap();
        acc += inc * minutes;
    }
    out
}

#[test]
fn pips_slo_rules_agree_with_sloths_on_ratios_and_alerts() {
    let spec = pip_compiler::compile(&load(PIP_SPEC)).specs.pop().expect("the spec compiles");
    let dir = tempfile::tempdir().unwrap();
    let pip_rules = prometheus::emit(&spec).unwrap().into_iter().find(|a| a.path.ends_with(".rules.yml")).unwrap();
    std::fs::write(dir.path().join("pip.rules.yml"), &pip_rules.contents).unwrap();
    std::fs::copy(root().join(SLOTH_RULES), dir.path().join("sloth.rules.yml")).unwrap();

    let total_minutes: u64 = PHASES.iter().map(|p| p.0).sum();
    let bad = values(PHASES.iter().map(|&(m, e)| (m, e)));
    let good = values(PHASES.iter().map(|&(m, e)| (m, PER_MINUTE - e)));
    let mut exprs = String::new();
    let mut check = |expr: String, t: u64, labels: &str| {
        write!(
            exprs,
            "      - expr: '{expr}'\n        eval_time: {t}m\n        exp_samples:\n          - labels: '{labels}'\n            value: 1\n"
        )
        .unwrap();
    };
    let firing = |alert: &str, matcher: &str| {
        format!(r#"(count(ALERTS{{alertname="{alert}",alertstate="firing",{matcher}}}) > bool 0 or vector(0))"#)
    };
    let pairs = [
        (firing("PipSloBurnRate", r#"burn_tier=~"1|2""#), firing("MyServiceHighErrorRate", r#"sloth_severity="page""#)),
        (firing("PipSloBurnRate", r#"burn_tier=~"3|4""#), firing("MyServiceHighErrorRate", r#"sloth_severity="ticket""#)),
    ];
    for t in (HOUR..=total_minutes).step_by(usize::try_from(HOUR).unwrap()) {
        for w in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
            check(
                format!("abs(pip:slo_errors:ratio_rate{w}{{{PIP}}} - on () slo:sli_error:ratio_rate{w}{{{SLOTH}}}) < bool 1e-12"),
                t,
                "{}",
            );
        }
        check(
            format!(
                "abs(pip:slo_errors:ratio_rate30d{{{PIP}}} - on () slo:sli_error:ratio_rate30d{{{SLOTH}}}) < bool on () 1e-9 * slo:sli_error:ratio_rate30d{{{SLOTH}}}"
            ),
            t,
            "{}",
        );
    }
    for t in (5..=total_minutes).step_by(5) {
        for (pip, sloth) in &pairs {
            check(format!("{pip} == bool {sloth}"), t, "{}");
        }
    }
    // Not vacuous: each alert fires at some evaluation.
    for (pip, sloth) in &pairs {
        for side in [pip, sloth] {
            let inner = side.trim_start_matches("(count(").split(") > bool 0").next().unwrap();
            check(format!("count(count_over_time({inner}[{total_minutes}m])) > bool 0"), total_minutes, "{}");
        }
    }
    let test = format!(
        "rule_files: [pip.rules.yml, sloth.rules.yml]\nevaluation_interval: 5m\n{SLOTH_GROUP_ORDER}tests:\n  - interval: 1m\n    input_series:\n      - series: '{TOTAL}'\n        values: '{good}'\n      - series: '{BAD}'\n        values: '{bad}'\n    alert_rule_test:\n      - eval_time: {total_minutes}m\n        alertname: PipSloBucketMissing\n        exp_alerts: []\n    promql_expr_test:\n{exprs}"
    );
    std::fs::write(dir.path().join("side_by_side.test.yml"), test).unwrap();
    let out =
        Command::new(require_tool("promtool")).args(["test", "rules", "side_by_side.test.yml"]).current_dir(dir.path()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pip and Sloth disagree:\n{}", text.chars().take(20_000).collect::<String>());
}
