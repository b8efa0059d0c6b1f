//! `alertmanager`: where each spec's alerts go, `generated/alertmanager/<spec>.yml` — a route
//! subtree (the spec's alerts, by priority, to the receivers the spec names) and the inhibit
//! rules that keep an alert from paging for what a more severe alert already says.
//!
//! The file is a fragment of an Alertmanager configuration, not a whole one: the ops repo's
//! `alertmanager.yml` keeps the receivers' integrations (pager keys, chat webhooks), the
//! global settings and the root route, and takes the fragment's `route` into its root route's
//! `routes:` and its `inhibit_rules` into its own (Alertmanager has no include; docs/language.md
//! shows the one-line merge). The receivers are referenced by name only, so a fragment never
//! holds a secret, and `amtool check-config` on the merged file names a receiver the ops repo
//! forgot.
//!
//! Alerts are told apart by their labels, as [`super::plan`] sets them: every alert carries
//! `spec`, `construct`, `kind`, `priority` (`P0`..`P3`) and `severity` (the level). Routing is by
//! `priority`, not `severity`: a spec may give two priorities the same level, never two
//! levels the same priority.

use serde::Serialize;

use pip_conventions::{alert, label};

use super::{Artifact, EmitError, Emitter, promql, yaml_header};
use crate::ir::{Level, Severity, Spec};

/// The emitter: one route subtree with its inhibit rules per spec, in `alertmanager/`.
pub const EMITTER: Emitter = Emitter { name: "alertmanager", dir: "alertmanager", emit };

/// The labels a spec's alerts are grouped by into notifications: one notification per alert
/// name and construct (a threshold's levels, a ledger's subsystems, an SLO's tiers arrive
/// together). The spec's own `labels { ... }` are the same on all its alerts, so grouping by
/// them would change nothing.
pub const GROUP_BY: [&str; 3] = ["alertname", label::SPEC, label::CONSTRUCT];

/// The path of a spec's fragment, relative to the output directory.
pub fn path(spec: &Spec) -> String {
    format!("alertmanager/{}.yml", spec.name)
}

/// The fragment: `route` goes into the root route's `routes:`, `inhibit_rules` into the
/// configuration's `inhibit_rules:`.
#[derive(Debug, Serialize)]
pub struct Fragment {
    /// The spec's route: its alerts (`spec="<name>"`), grouped, then one child per priority.
    pub route: Route,
    /// Every inhibit rule of the spec's alerts, each confined to the spec (`spec="<name>"`).
    pub inhibit_rules: Vec<InhibitRule>,
}

/// An Alertmanager route (the subset pip writes).
#[derive(Debug, Serialize)]
pub struct Route {
    /// `name="value"` matchers an alert must all match.
    pub matchers: Vec<String>,
    /// The receiver's name; the ops repo defines it.
    pub receiver: String,
    /// Set on the spec's route only; its children inherit it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// The priority routes below the spec's route.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// An Alertmanager inhibit rule: while an alert matching `source_matchers` fires, alerts
/// matching `target_matchers` with the same values of the `equal` labels are not notified.
#[derive(Debug, Serialize)]
pub struct InhibitRule {
    /// The alerts that inhibit.
    pub source_matchers: Vec<String>,
    /// The alerts they inhibit.
    pub target_matchers: Vec<String>,
    /// Labels source and target must agree on.
    pub equal: Vec<String>,
}

/// An Alertmanager matcher `name="value"`, the value quoted as Alertmanager reads it.
pub fn matcher(name: &str, value: &str) -> String {
    format!("{name}=\"{}\"", promql::escape(value))
}

/// An Alertmanager regex matcher `name=~"a|b"` over exact values (each escaped as a regex).
fn regex_matcher(name: &str, values: &[String]) -> String {
    let alternatives: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
    format!("{name}=~\"{}\"", promql::escape(&alternatives.join("|")))
}

/// `value` as a regular expression matching exactly it (RE2 metacharacters escaped).
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The route subtree and inhibit rules of a spec.
pub fn fragment(spec: &Spec) -> Fragment {
    let routes = Severity::ALL
        .iter()
        .map(|s| {
            let policy = spec.severity(*s);
            Route {
                matchers: vec![matcher(label::PRIORITY, s.as_str())],
                receiver: spec.routing.receiver_of(&policy).to_string(),
                group_by: Vec::new(),
                routes: Vec::new(),
            }
        })
        .collect();
    let route = Route {
        matchers: vec![matcher(label::SPEC, &spec.name)],
        receiver: spec.routing.receiver.clone(),
        group_by: GROUP_BY.iter().map(|l| (*l).to_string()).collect(),
        routes,
    };
    let mut inhibit_rules = threshold_inhibitions(spec);
    inhibit_rules.extend(slo_inhibitions(spec));
    inhibit_rules.extend(ledger_inhibitions(spec));
    Fragment { route, inhibit_rules }
}

/// The names of the receivers a spec's fragment routes to, sorted: the ops repo must define each.
pub fn receivers(spec: &Spec) -> Vec<String> {
    let mut out: Vec<String> = Severity::ALL.iter().map(|s| spec.routing.receiver_of(&spec.severity(*s)).to_string()).collect();
    out.push(spec.routing.receiver.clone());
    out.sort();
    out.dedup();
    out
}

/// The priorities from `source` down to the least severe, as regex alternatives: an inhibit
/// rule never silences an alert more severe than the one that inhibits it (that would route
/// an emergency as a ticket).
fn not_more_severe_than(source: Severity) -> impl Iterator<Item = Severity> {
    Severity::ALL.into_iter().filter(move |s| *s >= source)
}

/// (a) A threshold's `critical` alert inhibits its `warn` alert: the critical notification says
/// all the warn one would, and more urgently. Only when critical is at least as severe as warn.
///
/// `equal` is the spec and the construct: a threshold whose expression yields several series
/// (`sum by (route) (...)`) has its critical on any series inhibit its warn on every series
/// (Alertmanager cannot say "all other labels equal", and the expression's labels are not
/// known before it runs).
fn threshold_inhibitions(spec: &Spec) -> Vec<InhibitRule> {
    let mut out = Vec::new();
    for th in &spec.thresholds {
        let level = |l: Level| th.conditions.iter().find(|c| c.level == l);
        let (Some(warn), Some(critical)) = (level(Level::Warn), level(Level::Critical)) else { continue };
        if critical.severity > warn.severity {
            continue;
        }
        let base = |l: Level| {
            vec![
                matcher(label::SPEC, &spec.name),
                matcher("alertname", alert::THRESHOLD_CROSSED),
                matcher(label::CONSTRUCT, &th.name),
                matcher(label::LEVEL, l.as_str()),
            ]
        };
        out.push(InhibitRule {
            source_matchers: base(Level::Critical),
            target_matchers: base(Level::Warn),
            equal: vec![label::SPEC.into(), label::CONSTRUCT.into()],
        });
    }
    out
}

/// (b) A faster burn-rate tier of an SLO inhibits its slower tiers (`PipSloBurnRate`,
/// `burn_tier` `"1"` the fastest): a budget burning fast also burns over the slower tiers'
/// longer windows, so their alerts follow from it and say less, later; the fast tier is the
/// one to act on (the multi-window multi-burn-rate practice of the SRE workbook: page on the
/// fast burn, ticket the slow one only when it burns alone). One rule per tier that has a
/// slower tier at most as severe; `equal` adds the SLO's `by` labels, so the fast burn of one
/// tenant or route never hides the slow burn of another.
fn slo_inhibitions(spec: &Spec) -> Vec<InhibitRule> {
    let mut out = Vec::new();
    for slo in &spec.slos {
        let mut equal: Vec<String> = vec![label::SPEC.into(), label::CONSTRUCT.into()];
        equal.extend(slo.group_by.iter().cloned());
        let base =
            || vec![matcher(label::SPEC, &spec.name), matcher("alertname", alert::SLO_BURN_RATE), matcher(label::CONSTRUCT, &slo.name)];
        for (i, fast) in slo.tiers.iter().enumerate() {
            let slower: Vec<String> =
                slo.tiers.iter().enumerate().skip(i + 1).filter(|(_, t)| t.severity >= fast.severity).map(|(j, _)| burn_tier(j)).collect();
            if slower.is_empty() {
                continue;
            }
            let mut source_matchers = base();
            source_matchers.push(matcher(label::BURN_TIER, &burn_tier(i)));
            let mut target_matchers = base();
            target_matchers.push(regex_matcher(label::BURN_TIER, &slower));
            out.push(InhibitRule { source_matchers, target_matchers, equal: equal.clone() });
        }
    }
    out
}

/// The `burn_tier` label of the tier at `index` of [`crate::ir::Slo::tiers`] (fastest first): `"1"` for the first.
fn burn_tier(index: usize) -> String {
    (index + 1).to_string()
}

/// (c) A ledger's integrity alerts (`PipLedgerVerificationFailed`, `PipLedgerTruncated`)
/// inhibit the evidence-gap alerts (`PipEvidenceGap`) of the same ledger. Both integrity alerts
/// also fire when their inputs are gone (the service is down or not scraped), exactly when
/// every expected subsystem of the ledger goes quiet too; and a ledger that failed verification
/// (an unreadable, emptied or stopped ledger) takes no appends, so its gaps follow from it. One
/// notification that the ledger is broken or unobserved says it; one per subsystem on top is
/// noise. The gaps stay visible (inhibited) in Alertmanager and fire again once the ledger is
/// healthy, if the subsystem is still quiet. The ledger alerts name their ledger in `construct`
/// (and `ledger`, from the expression); `construct` is a static label of every alert.
fn ledger_inhibitions(spec: &Spec) -> Vec<InhibitRule> {
    let mut out = Vec::new();
    for l in &spec.ledgers {
        let mut targets: Vec<Severity> = l.expects.iter().map(|e| e.severity).filter(|s| *s >= l.severity).collect();
        targets.sort();
        targets.dedup();
        if targets.is_empty() {
            continue;
        }
        let priorities: Vec<String> = not_more_severe_than(l.severity).map(|s| s.as_str().to_string()).collect();
        out.push(InhibitRule {
            source_matchers: vec![
                matcher(label::SPEC, &spec.name),
                regex_matcher("alertname", &[alert::LEDGER_VERIFICATION_FAILED.into(), alert::LEDGER_TRUNCATED.into()]),
                matcher(label::CONSTRUCT, &l.name),
            ],
            target_matchers: vec![
                matcher(label::SPEC, &spec.name),
                matcher("alertname", alert::EVIDENCE_GAP),
                matcher(label::CONSTRUCT, &l.name),
                regex_matcher(label::PRIORITY, &priorities),
            ],
            equal: vec![label::SPEC.into(), label::CONSTRUCT.into()],
        });
    }
    out
}

/// The fragment as YAML, with the generated-file header, the receivers it needs and how to
/// merge it.
pub fn yaml(spec: &Spec) -> Result<String, EmitError> {
    let body = serde_norway::to_string(&fragment(spec)).map_err(|e| EmitError::Serialize {
        emitter: EMITTER.name,
        path: path(spec),
        message: e.to_string(),
    })?;
    Ok(format!(
        "{}# receivers the ops repo's alertmanager.yml must define: {}\n# merge: `route` into the root route's `routes:`, `inhibit_rules` into `inhibit_rules:` (docs/language.md, `spec`)\n{body}",
        yaml_header(spec, &format!("Alertmanager route and inhibit rules of spec {}", spec.name)),
        receivers(spec).join(", ")
    ))
}

/// Emits `alertmanager/<spec>.yml`.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    Ok(vec![Artifact { path: path(spec), contents: yaml(spec)?.into_bytes() }])
}
