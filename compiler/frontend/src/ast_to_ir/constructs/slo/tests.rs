#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::tiers::default_tiers;
use crate::diagnostics::Code;
use crate::ir::{self, EventsCounted, Severity, Sli};
use crate::span::SourceRef;
use crate::units::Duration;

const DAY: u64 = 86_400_000;

fn compile(slo_body: &str) -> (crate::source::Sources, crate::Compilation) {
    let text = format!(
        "spec demo version \"1.0.0\" {{\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}}\n\nslo avail {{\n{slo_body}\n}}\n"
    );
    crate::compile_str("demo.pips", &text)
}

fn slo(body: &str) -> ir::Slo {
    let (_, c) = compile(body);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    c.specs[0].slos[0].clone()
}

/// The (code, underlined text, message) of every diagnostic.
fn diags(body: &str) -> Vec<(Code, String, String)> {
    let (sources, c) = compile(body);
    c.diagnostics.iter().map(|d| (d.code, sources.get(d.span.file).unwrap().slice(d.span).to_string(), d.message.clone())).collect()
}

/// Asserts one diagnostic of `code` on `underlined`, and returns its message.
fn one(body: &str, code: Code, underlined: &str) -> String {
    let all = diags(body);
    let hits: Vec<&(Code, String, String)> = all.iter().filter(|(c, u, _)| *c == code && u == underlined).collect();
    assert_eq!(hits.len(), 1, "expected {code} on {underlined:?}, got {all:#?}");
    hits[0].2.clone()
}

const EVENTS: &str = "  objective = 99.9%\n  period = 30d\n  total = `http_requests_total{job=\"api\"}`\n  bad = `http_requests_total{job=\"api\",code=~\"5..\"}`";

fn factors(period_days: u64) -> Vec<f64> {
    default_tiers(Duration::from_millis(period_days * DAY), Severity::P1, Severity::P3, &SourceRef::default())
        .iter()
        .map(|t| t.factor)
        .collect()
}

#[test]
fn default_tiers_of_30_days_burn_at_exactly_14_4_6_3_and_1() {
    assert_eq!(factors(30), [14.4, 6.0, 3.0, 1.0]);
}

#[test]
fn default_tiers_of_28_days_scale_with_the_period() {
    assert_eq!(factors(28), [13.44, 5.6, 2.8, 28.0 / 30.0]);
}

#[test]
fn default_tiers_keep_only_long_windows_within_the_period() {
    let tiers = default_tiers(Duration::from_millis(2 * DAY), Severity::P0, Severity::P2, &SourceRef::default());
    let longs: Vec<String> = tiers.iter().map(|t| t.long.to_string()).collect();
    assert_eq!(longs, ["1h", "6h", "1d"]);
    let severities: Vec<Severity> = tiers.iter().map(|t| t.severity).collect();
    assert_eq!(severities, [Severity::P0, Severity::P0, Severity::P2]);
}

#[test]
fn an_events_slo_reads_its_counters_objective_and_default_tiers() {
    let s = slo(EVENTS);
    assert_eq!(s.objective, 0.999);
    assert_eq!(s.period, Duration::from_millis(30 * DAY));
    assert!(s.default_tiers);
    assert_eq!(s.tiers.iter().map(|t| t.severity).collect::<Vec<_>>(), [Severity::P1, Severity::P1, Severity::P3, Severity::P3]);
    let Sli::Events { counted, events, total } = &s.sli else { panic!("{:?}", s.sli) };
    assert_eq!(*counted, EventsCounted::Bad);
    assert_eq!(total.text, "http_requests_total{job=\"api\"}");
    assert_eq!(events.metric, "http_requests_total");
    assert_eq!(events.text, "http_requests_total{job=\"api\",code=~\"5..\"}");
    assert_eq!(s.runbook, "https://runbooks.example.com/demo#avail");
    // 1h 5m 6h 30m 1d 2h 3d and 30d: the 3d tier's short window is the 6h tier's long one.
    assert_eq!(s.windows().len(), 8);
}

#[test]
fn objectives_are_read_as_exact_decimals() {
    for (written, expected) in [("99.9%", 0.999), ("99%", 0.99), ("99.95%", 0.9995), ("0.5%", 0.005), ("99.9999%", 0.999999)] {
        let s = slo(&format!("  objective = {written}\n  period = 30d\n  total = `a_total`\n  good = `b_total`\n  burn 1x over 1h and 5m"));
        assert_eq!(s.objective, expected, "{written}");
    }
}

#[test]
fn an_objective_outside_the_open_interval_is_refused() {
    for o in ["100%", "0%", "100.0%", "150%", "-5%"] {
        one(&EVENTS.replace("99.9%", o), Code::InvalidObjective, o);
    }
}

#[test]
fn a_ratio_written_for_an_objective_gets_a_percentage_help() {
    let (_, c) = compile(&EVENTS.replace("99.9%", "0.999"));
    let d = c.diagnostics.iter().find(|d| d.code == Code::InvalidObjective).unwrap();
    assert_eq!(d.help.as_deref(), Some("write the objective as a percentage: `99.9%`"));
    assert_eq!(super::as_percent("0.05").as_deref(), Some("5"));
    assert_eq!(super::as_percent("0.99995").as_deref(), Some("99.995"));
    assert_eq!(super::as_percent("1.5"), None);
}

#[test]
fn an_objective_with_too_many_decimals_is_refused() {
    one(&EVENTS.replace("99.9%", "99.99999%"), Code::InvalidObjective, "99.99999%");
}

#[test]
fn a_period_outside_one_to_ninety_days_is_refused() {
    one(&EVENTS.replace("30d", "12h"), Code::SloPeriod, "12h");
    one(&EVENTS.replace("30d", "91d"), Code::SloPeriod, "91d");
    assert_eq!(slo(&EVENTS.replace("30d", "90d")).period, ir::MAX_PERIOD);
}

#[test]
fn events_and_latency_settings_do_not_mix() {
    let body = format!("{EVENTS}\n  le = 300ms");
    let m = one(&body, Code::SliMix, "le");
    assert!(m.contains("`total`") && m.contains("`le`"), "{m}");
    let both = format!("{EVENTS}\n  good = `ok_total`");
    one(&both, Code::SliMix, "good");
}

#[test]
fn an_events_slo_needs_total_and_good_or_bad() {
    one("  objective = 99%\n  period = 30d\n  bad = `e_total`", Code::MissingSetting, "avail");
    one("  objective = 99%\n  period = 30d\n  total = `e_total`", Code::MissingSetting, "avail");
    one("  objective = 99%\n  period = 30d", Code::MissingSetting, "avail");
}

#[test]
fn a_counter_without_total_is_a_warning_only() {
    let body = EVENTS.replace("`http_requests_total{job=\"api\"}`", "`http_requests{job=\"api\"}`");
    one(&body, Code::CounterName, "`http_requests{job=\"api\"}`");
    slo(&body);
    // A histogram's `_count` is a counter: no warning.
    let count = EVENTS.replace("`http_requests_total{job=\"api\"}`", "`http_request_duration_seconds_count{job=\"api\"}`");
    let (_, c) = compile(&count);
    assert!(c.diagnostics.iter().all(|d| d.code != Code::CounterName), "{:?}", c.diagnostics);
}

#[test]
fn a_selector_is_one_plain_vector_selector() {
    for bad in [
        "`http_requests_total[5m]`",
        "`sum(rate(http_requests_total[5m]))`",
        "`http_requests_total offset 5m`",
        "`{job=\"api\"}`",
        "`http_requests_total{`",
        "`{__name__=\"http_requests_total\"}`",
    ] {
        one(&EVENTS.replace("`http_requests_total{job=\"api\"}`", bad), Code::SloSelector, bad);
    }
    one(&EVENTS.replace("`http_requests_total{job=\"api\"}`", "\"http_requests_total\""), Code::TypeMismatch, "\"http_requests_total\"");
}

const LATENCY: &str = "  objective = 99%\n  period = 28d\n  latency = `http_request_duration_seconds{job=\"api\"}`\n  le = 300ms\n  buckets = [5ms, 10ms, 100ms, 300ms, 1s]";

#[test]
fn a_latency_slo_reads_its_bound_and_buckets_in_seconds() {
    let s = slo(LATENCY);
    let Sli::Latency { histogram, le, buckets } = &s.sli else { panic!("{:?}", s.sli) };
    assert_eq!(histogram.metric, "http_request_duration_seconds");
    assert_eq!(*le, 0.3);
    assert_eq!(buckets, &[0.005, 0.01, 0.1, 0.3, 1.0]);
    assert_eq!(s.tiers.iter().map(|t| t.factor).collect::<Vec<_>>(), factors(28));
}

#[test]
fn a_latency_selector_names_the_histogram_without_suffix_or_le() {
    let m = diags(&LATENCY.replace("seconds{", "seconds_bucket{"));
    assert!(m.iter().any(|(c, _, _)| *c == Code::SloSelector), "{m:?}");
    let (_, c) = compile(&LATENCY.replace("seconds{", "seconds_count{"));
    let d = c.diagnostics.iter().find(|d| d.code == Code::SloSelector).unwrap();
    assert!(d.help.as_deref().unwrap().contains("`http_request_duration_seconds`"));
    one(
        &LATENCY.replace("{job=\"api\"}", "{job=\"api\",le=\"0.3\"}"),
        Code::SloSelector,
        "`http_request_duration_seconds{job=\"api\",le=\"0.3\"}`",
    );
}

#[test]
fn le_must_be_a_declared_bucket_and_the_help_names_the_nearest() {
    let (_, c) = compile(&LATENCY.replace("le = 300ms", "le = 250ms"));
    let d = c.diagnostics.iter().find(|d| d.code == Code::LatencyBound).unwrap();
    assert!(d.help.as_deref().unwrap().starts_with("the nearest declared buckets are 100ms and 300ms"), "{:?}", d.help);
    let (_, c) = compile(&LATENCY.replace("le = 300ms", "le = 5s"));
    let d = c.diagnostics.iter().find(|d| d.code == Code::LatencyBound).unwrap();
    assert!(d.help.as_deref().unwrap().starts_with("the largest declared bucket is 1s"), "{:?}", d.help);
}

#[test]
fn buckets_are_positive_and_strictly_ascending() {
    one(&LATENCY.replace("[5ms, 10ms,", "[0ms, 10ms,"), Code::Buckets, "0ms");
    one(&LATENCY.replace("[5ms, 10ms,", "[10ms, 10ms,"), Code::Buckets, "10ms");
    one(&LATENCY.replace("[5ms, 10ms, 100ms, 300ms, 1s]", "[]"), Code::Buckets, "[]");
    one(&LATENCY.replace("[5ms, 10ms, 100ms, 300ms, 1s]", "300ms"), Code::TypeMismatch, "300ms");
}

#[test]
fn group_labels_are_valid_unreserved_and_distinct() {
    assert_eq!(slo(&format!("{EVENTS}\n  by = [tenant, route]")).group_by, ["tenant", "route"]);
    assert_eq!(slo(&format!("{EVENTS}\n  by = tenant")).group_by, ["tenant"]);
    one(&format!("{EVENTS}\n  by = [tenant, job]"), Code::GroupLabel, "job");
    one(&format!("{EVENTS}\n  by = [tenant, tenant]"), Code::GroupLabel, "tenant");
    one(&format!("{EVENTS}\n  by = [__tenant]"), Code::GroupLabel, "__tenant");
    one(&format!("{EVENTS}\n  by = [\"tenant\"]"), Code::TypeMismatch, "\"tenant\"");
}

#[test]
fn burn_lines_replace_the_default_tiers_fastest_first() {
    let s = slo(&format!("{EVENTS}\n  severity = P0\n  burn 6x over 6h and 30m severity P2\n  burn 14.4x over 1h and 5m"));
    assert!(!s.default_tiers);
    let tiers: Vec<(f64, String, String, Severity)> =
        s.tiers.iter().map(|t| (t.factor, t.long.to_string(), t.short.to_string(), t.severity)).collect();
    assert_eq!(tiers, [(14.4, "1h".into(), "5m".into(), Severity::P0), (6.0, "6h".into(), "30m".into(), Severity::P2)]);
}

#[test]
fn a_burn_line_that_cannot_work_is_refused() {
    one(&format!("{EVENTS}\n  burn 0x over 1h and 5m"), Code::BurnTier, "0x");
    one(&format!("{EVENTS}\n  burn 2x over 1h and 1h"), Code::BurnTier, "1h");
    one(&format!("{EVENTS}\n  burn 2x over 31d and 1d"), Code::BurnTier, "31d");
    one(&format!("{EVENTS}\n  burn 2x over 1h and 5m\n  burn 3x over 1h and 5m"), Code::BurnTier, "1h and 5m");
    one(&format!("{EVENTS}\n  burn 14.4 over 1h and 5m"), Code::TypeMismatch, "14.4");
}

#[test]
fn a_factor_the_error_ratio_can_never_reach_is_refused() {
    // 99.9 %: an error ratio of 1 burns at 1000x, so 1000x can never be exceeded.
    let m = one(&format!("{EVENTS}\n  burn 1000x over 1h and 5m"), Code::BurnTier, "1000x");
    assert!(m.contains("99.9%"), "{m}");
    slo(&format!("{EVENTS}\n  burn 999x over 1h and 5m"));
    // 90 %: the default 14.4x tier would need an error ratio of 1.44.
    let m = one(&EVENTS.replace("99.9%", "90%"), Code::BurnTier, "90%");
    assert!(m.contains("14.4x"), "{m}");
}

#[test]
fn other_statements_do_not_belong_in_an_slo() {
    one(&format!("{EVENTS}\n  warn when > 1"), Code::MisplacedStatement, "warn when > 1");
}

#[test]
fn pipc_fmt_writes_an_slo_canonically_with_lists_on_one_line() {
    let text = "spec demo version \"1.0.0\" {\n  owner = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nslo latency {\n  objective = 99%\n  period = 28d\n  latency = `h_seconds`\n  le = 1s\n  buckets = [\n    100ms, // fast\n    1s,\n  ]\n  by = [ tenant ,route ]\n  burn   14.4x  over 1h and 5m   severity P0\n}\n";
    let canonical = "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nslo latency {\n  objective = 99%\n  period    = 28d\n  latency   = `h_seconds`\n  le        = 1s\n  // fast\n  buckets = [100ms, 1s]\n  by      = [tenant, route]\n  burn 14.4x over 1h and 5m severity P0\n}\n";
    let file = crate::span::FileId(0);
    let ast = crate::text_to_ast::parse(file, text).unwrap();
    let formatted = crate::fmt::format(text, &ast);
    assert_eq!(formatted, canonical);
    crate::fmt::verify(text, &ast, &formatted).unwrap();
    let again = crate::text_to_ast::parse(file, canonical).unwrap();
    assert_eq!(crate::fmt::format(canonical, &again), canonical);
    let (_, c) = crate::compile_str("demo.pips", canonical);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
}
