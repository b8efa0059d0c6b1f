//! The panels of an `slo`: its error budget remaining, its burn rate over each alert window
//! against the tiers' factors, and its SLI against the objective — all read from the SLO's
//! recording rules, one series per group of a grouped SLO.

use pip_conventions::{alert, label, record};

use super::panel::{PanelSpec, steps, where_};
use crate::emit::promql::{duration, number, selector as sel};
use crate::ir::{EventsCounted, Sli, Slo, Spec};
use crate::units::Duration;

/// The title of the default dashboard's row of one SLO (each SLO has a row of its own).
pub(super) fn row_title(slo: &str) -> String {
    format!("SLO {slo}")
}

/// Three panels filling one grid line: the budget remaining (a quarter: red once overspent,
/// orange below a quarter left), the burn rates (three eighths, the tiers' factors as
/// threshold lines) and the SLI (three eighths, the objective as a threshold line).
pub(super) fn panels(spec: &Spec, slo: &Slo) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let base = [(label::SPEC, s), (label::SLO, slo.name.as_str())];
    let desc = description(spec, slo);
    let legend = |what: &str| legend(slo, what);
    vec![
        PanelSpec {
            kind: "stat",
            title: format!("{}: error budget remaining", slo.name),
            description: format!(
                "{desc}\n\nThe share of the {} error budget of the last {} not yet spent: red once overspent (below 0), orange below 25 %.",
                percent(slo.budget()),
                duration(slo.period)
            ),
            targets: vec![(sel(record::SLO_BUDGET_REMAINING, &base), legend("remaining"))],
            unit: "percentunit".into(),
            thresholds: steps("red", &[("orange", 0.0), ("green", 0.25)]),
            loki: false,
            width: 6,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: burn rate", slo.name),
            description: format!(
                "{desc}\n\nHow many times faster than the period allows the budget burns, over each alert window (1 spends it exactly in {}). \
                 {} fires when a tier's long and short windows both exceed its factor: {}.",
                duration(slo.period),
                alert::SLO_BURN_RATE,
                tiers(slo)
            ),
            targets: burn_windows(slo).into_iter().map(|w| (sel(&record::slo_burn_rate(&w), &base), legend(&w))).collect(),
            unit: "none".into(),
            thresholds: factor_steps(spec, slo),
            loki: false,
            width: 9,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: SLI vs objective", slo.name),
            description: format!(
                "{desc}\n\nThe share of good events (1 − error ratio) over the fastest tier's long window and over the period, red below the objective {}.",
                percent(slo.objective)
            ),
            targets: sli_windows(slo)
                .into_iter()
                .map(|w| (format!("1 - {}", sel(&record::slo_error_ratio(&w), &base)), legend(&w)))
                .collect(),
            unit: "percentunit".into(),
            thresholds: steps("red", &[("green", slo.objective)]),
            loki: false,
            width: 9,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
    ]
}

/// A series' legend: the group's label values, then `what` (the window); `what` alone for an
/// ungrouped SLO.
fn legend(slo: &Slo, what: &str) -> String {
    slo.group_by.iter().map(|l| format!("{{{{{l}}}}}")).chain([what.to_string()]).collect::<Vec<_>>().join(" ")
}

/// The windows the alerts compare burn rates over, as the recording rules name them: each
/// tier's long and short window, shortest first.
fn burn_windows(slo: &Slo) -> Vec<String> {
    let mut w: Vec<Duration> = slo.tiers.iter().flat_map(|t| [t.long, t.short]).collect();
    w.sort();
    w.dedup();
    w.into_iter().map(duration).collect()
}

/// The windows of the SLI panel, as the recording rules name them: the fastest tier's long
/// window (the shortest long window: what the SLI is now) and the period (what the objective
/// promises).
fn sli_windows(slo: &Slo) -> Vec<String> {
    let mut w: Vec<Duration> = slo.tiers.iter().map(|t| t.long).min().into_iter().chain([slo.period]).collect();
    w.sort();
    w.dedup();
    w.into_iter().map(duration).collect()
}

/// Threshold steps at the tiers' factors, ascending: red at a tier whose severity pages, orange
/// at the others (a factor shared by two tiers takes the more urgent colour).
fn factor_steps(spec: &Spec, slo: &Slo) -> serde_json::Value {
    let mut factors: Vec<(f64, bool)> = slo.tiers.iter().map(|t| (t.factor, spec.severity(t.severity).page)).collect();
    factors.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    factors.dedup_by(|a, b| a.0 == b.0);
    let colored: Vec<(&str, f64)> = factors.iter().map(|(f, page)| (if *page { "red" } else { "orange" }, *f)).collect();
    steps("green", &colored)
}

/// The tiers as the burn-rate panel lists them.
fn tiers(slo: &Slo) -> String {
    slo.tiers
        .iter()
        .enumerate()
        .map(|(i, t)| format!("tier {} {}× over {} and {} ({})", i + 1, number(t.factor), duration(t.long), duration(t.short), t.severity))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What every panel of the SLO says: its doc, where it is defined, its objective and SLI.
fn description(spec: &Spec, slo: &Slo) -> String {
    let sli = match &slo.sli {
        Sli::Events { counted: EventsCounted::Good, events, total } => format!("good events `{}` of all `{}`", events.text, total.text),
        Sli::Events { counted: EventsCounted::Bad, events, total } => format!("all events `{}` but the bad `{}`", total.text, events.text),
        Sli::Latency { histogram, le, .. } => format!("requests of `{}` that took at most {}s", histogram.text, number(*le)),
    };
    let grouped = if slo.group_by.is_empty() {
        String::new()
    } else {
        format!(", per {}", slo.group_by.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", "))
    };
    format!(
        "{}\n\nObjective {} over {}{grouped}: {sli}.",
        where_(spec, &slo.source, slo.doc.as_ref()),
        percent(slo.objective),
        duration(slo.period)
    )
}

/// A ratio as a percentage, rounded to 10⁻⁶ % so that f64 noise does not show (`0.999` is
/// `99.9%`, not `99.90000000000001%`).
fn percent(ratio: f64) -> String {
    format!("{}%", number((ratio * 1e8).round() / 1e6))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use serde_json::{Value, json};

    use super::*;
    use crate::emit::grafana::{dashboard_json, dashboards};
    use crate::ir::{BurnTier, CounterSelector, Severity};
    use crate::span::SourceRef;

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn counter(text: &str) -> CounterSelector {
        CounterSelector { metric: text.split('{').next().unwrap().into(), matchers: Vec::new(), text: text.into() }
    }

    /// A spec with one SLO, built by hand: 99.9 % over 30 days, four tiers, the last two sharing
    /// a factor (one paging, one not), grouped by `group_by`.
    fn spec_with_slo(group_by: &[&str]) -> Spec {
        let text = "spec s version \"1\" {\n  owner = \"o\"\n  runbook = \"https://r.example.com/s\"\n}\n";
        let (_, c) = crate::compile_str("s.pips", text);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let mut spec = c.specs.into_iter().next().unwrap();
        let tier = |factor, long, short, severity| BurnTier {
            factor,
            long: minutes(long),
            short: minutes(short),
            severity,
            source: SourceRef::default(),
        };
        spec.slos.push(Slo {
            name: "checkout".into(),
            source: SourceRef { file: "s.pips".into(), line: 6, column: 5 },
            doc: Some("checkouts succeed".into()),
            objective: 0.999,
            period: minutes(30 * 24 * 60),
            sli: Sli::Events {
                counted: EventsCounted::Bad,
                events: counter("http_requests_total{code=~\"5..\"}"),
                total: counter("http_requests_total{}"),
            },
            group_by: group_by.iter().map(|l| l.to_string()).collect(),
            tiers: vec![
                tier(14.4, 60, 5, Severity::P0),
                tier(6.0, 360, 30, Severity::P0),
                tier(1.0, 1440, 120, Severity::P2),
                tier(1.0, 4320, 360, Severity::P0),
            ],
            default_tiers: false,
            runbook: "https://r.example.com/s#checkout".into(),
        });
        spec
    }

    fn dashboard(spec: &Spec) -> Value {
        let ds = dashboards(spec);
        assert_eq!(ds.len(), 1);
        dashboard_json(spec, &ds[0])
    }

    fn panel<'a>(d: &'a Value, title: &str) -> &'a Value {
        d["panels"].as_array().unwrap().iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}"))
    }

    fn targets(p: &Value) -> Vec<(String, String)> {
        p["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["expr"].as_str().unwrap().to_string(), t["legendFormat"].as_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn an_slo_has_a_row_of_its_own_with_its_budget_burn_rates_and_sli() {
        let d = dashboard(&spec_with_slo(&[]));
        let rows: Vec<&str> =
            d["panels"].as_array().unwrap().iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
        assert_eq!(rows, ["Alerts", "SLO checkout"]);
        let sel = "{spec=\"s\",slo=\"checkout\"}";

        let budget = panel(&d, "checkout: error budget remaining");
        assert_eq!(budget["type"], "stat");
        assert_eq!(targets(budget), [(format!("pip:slo_error_budget:remaining_ratio{sel}"), "remaining".to_string())]);
        assert_eq!(
            budget["fieldConfig"]["defaults"]["thresholds"]["steps"],
            json!([{ "color": "red", "value": null }, { "color": "orange", "value": 0.0 }, { "color": "green", "value": 0.25 }])
        );
        assert_eq!(budget["fieldConfig"]["defaults"]["unit"], "percentunit");

        let burn = panel(&d, "checkout: burn rate");
        assert_eq!(burn["type"], "timeseries");
        let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];
        let expected: Vec<(String, String)> = windows.iter().map(|w| (format!("pip:slo_burn_rate:rate{w}{sel}"), w.to_string())).collect();
        assert_eq!(targets(burn), expected);
        // One line per distinct factor: the shared factor 1 takes the paging tier's red.
        assert_eq!(
            burn["fieldConfig"]["defaults"]["thresholds"]["steps"],
            json!([
                { "color": "green", "value": null },
                { "color": "red", "value": 1.0 },
                { "color": "red", "value": 6.0 },
                { "color": "red", "value": 14.4 },
            ])
        );
        assert_eq!(burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line");

        let sli = panel(&d, "checkout: SLI vs objective");
        assert_eq!(
            targets(sli),
            [
                (format!("1 - pip:slo_errors:ratio_rate1h{sel}"), "1h".to_string()),
                (format!("1 - pip:slo_errors:ratio_rate30d{sel}"), "30d".to_string())
            ]
        );
        assert_eq!(
            sli["fieldConfig"]["defaults"]["thresholds"]["steps"],
            json!([{ "color": "red", "value": null }, { "color": "green", "value": 0.999 }])
        );

        for p in [budget, burn, sli] {
            assert_eq!(p["links"][0]["url"], "https://r.example.com/s#checkout", "{}", p["title"]);
            assert_eq!(p["links"][0]["tooltip"], "Runbook of slo checkout");
            let desc = p["description"].as_str().unwrap();
            assert!(desc.contains("checkouts succeed") && desc.contains("s.pips:6") && desc.contains("Objective 99.9% over 30d"), "{desc}");
            assert_eq!(p["gridPos"]["y"], budget["gridPos"]["y"]);
        }
        let widths: u64 = [budget, burn, sli].iter().map(|p| p["gridPos"]["w"].as_u64().unwrap()).sum();
        assert_eq!(widths, 24);
    }

    #[test]
    fn a_grouped_slo_names_each_series_by_its_group() {
        let d = dashboard(&spec_with_slo(&["tenant", "route"]));
        let budget = panel(&d, "checkout: error budget remaining");
        assert_eq!(targets(budget)[0].1, "{{tenant}} {{route}} remaining");
        let burn = panel(&d, "checkout: burn rate");
        assert_eq!(targets(burn)[0].1, "{{tenant}} {{route}} 5m");
        let sli = panel(&d, "checkout: SLI vs objective");
        assert_eq!(targets(sli)[1].1, "{{tenant}} {{route}} 30d");
        assert!(budget["description"].as_str().unwrap().contains("per `tenant`, `route`"));
    }

    #[test]
    fn a_factor_of_tiers_that_do_not_page_is_drawn_orange() {
        let mut spec = spec_with_slo(&[]);
        spec.slos[0].tiers[3].severity = Severity::P3;
        let steps = factor_steps(&spec, &spec.slos[0]);
        assert_eq!(steps["steps"][1], json!({ "color": "orange", "value": 1.0 }));
    }
}
