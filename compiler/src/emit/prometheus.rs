//! `prometheus`: recording and alerting rules, `generated/prometheus/<spec>.rules.yml`.
//!
//! The rules are built first as a [`Plan`]: every recording rule and alert with what drives
//! it ([`Signal`]). The rules file is the plan serialized; the promtool tests
//! ([`super::promtool`]) are derived from the same plan, and the test suite's mutation check
//! uses [`AlertPlan::mutations`] to show that each alert's tests can fail.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, record, rule_group};
use serde::Serialize;

use super::{Artifact, EmitError, Emitter};

mod ledgers;
use crate::ir::{self, Comparator, Severity, Spec};
use crate::units::Duration;

/// The emitter.
pub const EMITTER: Emitter = Emitter { name: "prometheus", dir: "prometheus", emit };

/// The evaluation interval the generated tests use; boundaries are probed one interval apart.
pub const TEST_INTERVAL: Duration = Duration::from_secs(15);

/// Window of the `increase`/`rate` recording rules.
const WINDOW: &str = "5m";
/// The shortest time an alert's input may be absent before the alert fires on the absence:
/// Prometheus's own lookback (a series without a sample for this long is gone for every
/// query), long enough that no scrape interval in use leaves a hole between two samples.
pub const ABSENCE_FLOOR: Duration = Duration::from_secs(300);

/// All rules of one spec.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Rule groups, one per construct kind that has constructs.
    pub groups: Vec<GroupPlan>,
}

/// One rule group.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// Group name.
    pub name: String,
    /// Recording rules, then alerts, in evaluation order.
    pub rules: Vec<RulePlan>,
}

/// A recording rule or an alert.
#[derive(Debug, Clone)]
pub enum RulePlan {
    /// `record:`.
    Record(RecordPlan),
    /// `alert:`.
    Alert(AlertPlan),
}

/// A recording rule and how to test it.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    /// The recorded metric name.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels added to the recorded series.
    pub labels: BTreeMap<String, String>,
    /// What drives it in a test.
    pub signal: Signal,
    /// Which construct it belongs to.
    pub construct: String,
}

/// An alert and how to test it.
#[derive(Debug, Clone)]
pub struct AlertPlan {
    /// Alert name.
    pub alert: String,
    /// PromQL: `<lhs> <op> <threshold>`.
    pub lhs: String,
    /// Comparison.
    pub op: Comparator,
    /// Threshold.
    pub threshold: f64,
    /// Smallest meaningful step of the measured value: tests probe `threshold ± step`.
    pub step: f64,
    /// `for`.
    pub for_: Duration,
    /// Labels of the alert (besides the expression's own).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// What drives it.
    pub signal: Signal,
    /// Labels the expression's result carries for the signal's input series.
    pub output_labels: BTreeMap<String, String>,
    /// When the alert also fires on the absence of its input (evidence and integrity alerts:
    /// a service that is down or not scraped must not silence them).
    pub absence: Option<Absence>,
    /// Which construct it belongs to.
    pub construct: String,
}

/// The second arm of an alert that fires when its input is gone:
/// `<comparison> or absent_over_time(<input>[<window>])`.
#[derive(Debug, Clone)]
pub struct Absence {
    /// The input series' name.
    pub metric: String,
    /// Its labels, all matched with `=` (`absent_over_time` keeps only the labels of equality
    /// matchers, and the alert's routing needs them): the alert's output labels.
    pub labels: BTreeMap<String, String>,
    /// How long the input may be absent (no sample, or only staleness markers) before the
    /// alert fires.
    pub window: Duration,
    /// For a comparison that remembers its input over `window` (`max_over_time`), the same
    /// comparison reading only the latest sample. The remembered value is what fires the
    /// alert at its deadline after the input vanished, so "forgetting" is the mutation its
    /// tests must notice; the window itself then changes nothing observable (the remembered
    /// value and the absence take turns at the same instant, whatever the window), so it is
    /// not mutated.
    pub forgetful_lhs: Option<String>,
}

impl Absence {
    /// `absent_over_time(<input>[<window>])`.
    pub fn arm(&self, window: Duration) -> String {
        let labels: Vec<(&str, &str)> = self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        format!("absent_over_time({}[{window}])", selector(&self.metric, &labels))
    }
}

impl AlertPlan {
    /// The full expression.
    pub fn expr(&self) -> String {
        self.expr_with(&self.lhs, self.threshold, self.absence.as_ref().map(|a| a.window))
    }

    /// The expression with another left side, threshold or absence window (`None`: no
    /// absence arm).
    fn expr_with(&self, lhs: &str, threshold: f64, window: Option<Duration>) -> String {
        let comparison = format!("{lhs} {} {}", self.op.as_str(), number(threshold));
        match (&self.absence, window) {
            (Some(a), Some(w)) => format!("{comparison} or {}", a.arm(w)),
            _ => comparison,
        }
    }

    /// The alert with a changed threshold, `for` or absence arm, each of which its generated
    /// tests must notice: the threshold moved by two steps either way, the `for` lengthened
    /// by two evaluation intervals, and (when it has one) shortened by one; the absence arm
    /// dropped, its window lengthened by two evaluation intervals and shortened by one, or
    /// (when the comparison remembers its input) the comparison reading only the latest
    /// sample.
    pub fn mutations(&self) -> Vec<Mutation> {
        let mut out = Vec::new();
        let window = self.absence.as_ref().map(|a| a.window);
        for delta in [2.0 * self.step, -2.0 * self.step] {
            let t = self.threshold + delta;
            out.push(Mutation {
                what: format!("threshold {} → {}", number(self.threshold), number(t)),
                expr: self.expr_with(&self.lhs, t, window),
                for_: self.for_,
            });
        }
        if let Some(a) = &self.absence {
            out.push(Mutation {
                what: "without its absence arm".into(),
                expr: self.expr_with(&self.lhs, self.threshold, None),
                for_: self.for_,
            });
            match &a.forgetful_lhs {
                Some(forgetful) => out.push(Mutation {
                    what: "reading only the latest sample of its input".into(),
                    expr: self.expr_with(forgetful, self.threshold, window),
                    for_: self.for_,
                }),
                None => {
                    let longer = Duration::from_millis(a.window.millis.saturating_add(2 * TEST_INTERVAL.millis));
                    let mut windows = vec![longer];
                    if a.window.millis > TEST_INTERVAL.millis {
                        windows.push(Duration::from_millis(a.window.millis - TEST_INTERVAL.millis));
                    }
                    for w in windows {
                        out.push(Mutation {
                            what: format!("absence window {} → {w}", a.window),
                            expr: self.expr_with(&self.lhs, self.threshold, Some(w)),
                            for_: self.for_,
                        });
                    }
                }
            }
        }
        let longer = Duration::from_millis(self.for_.millis.saturating_add(2 * TEST_INTERVAL.millis));
        out.push(Mutation { what: format!("for {} → {}", self.for_, longer), expr: self.expr(), for_: longer });
        if self.for_.millis >= TEST_INTERVAL.millis {
            let shorter = Duration::from_millis(self.for_.millis - TEST_INTERVAL.millis);
            out.push(Mutation { what: format!("for {} → {}", self.for_, shorter), expr: self.expr(), for_: shorter });
        }
        out
    }
}

/// A changed copy of an alert (see [`AlertPlan::mutations`]).
#[derive(Debug, Clone)]
pub struct Mutation {
    /// What changed, for messages.
    pub what: String,
    /// The changed expression.
    pub expr: String,
    /// The changed `for`.
    pub for_: Duration,
}

/// What a rule reads, so that a test can drive it with synthetic series.
#[derive(Debug, Clone)]
pub enum Signal {
    /// A counter that steps up by one when something bad happens (`increase(...) > 0`).
    CounterStep {
        /// Exposed counter name.
        metric: String,
        /// Labels of the input series.
        labels: BTreeMap<String, String>,
    },
    /// Several counters summed: a step of any one of them is something bad (ledger anomalies
    /// and verification errors).
    CounterSteps {
        /// Each counter's exposed name and the labels of its input series.
        counters: Vec<(String, BTreeMap<String, String>)>,
    },
    /// Two counters of one metric split by `outcome`, read as `rejected / all` (rate limits).
    RejectedRatio {
        /// Exposed counter name.
        metric: String,
        /// Labels of the input series, `outcome` excepted.
        labels: BTreeMap<String, String>,
    },
    /// A gauge read as it is (threshold recording rules).
    Gauge {
        /// The series name.
        metric: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// A Unix timestamp gauge read as seconds of silence (`time() - x`).
    Silence {
        /// Exposed gauge name.
        metric: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// A gauge that must never go down (ledger head sequence), read as its change from its
    /// highest value (`head - max_over_time(head)`, 0 while it only grows).
    Decrease {
        /// Exposed gauge name.
        metric: String,
        /// Labels.
        labels: BTreeMap<String, String>,
    },
    /// A threshold's PromQL over the service's own metrics (its recording rule).
    Expression {
        /// The selectors the expression reads.
        selectors: Vec<ir::Selector>,
    },
}

/// Formats a number the way PromQL and YAML read it back exactly.
pub fn number(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { "0".into() }
}

fn selector(metric: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{metric}{{{}}}", inner.join(","))
}

/// Escapes a PromQL string literal.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

struct Ctx<'a> {
    spec: &'a Spec,
}

impl Ctx<'_> {
    fn labels(&self, kind: &str, construct: &str, severity: Severity) -> BTreeMap<String, String> {
        let policy = self.spec.severity(severity);
        let mut l = self.spec.labels.clone();
        l.insert(label::SPEC.into(), self.spec.name.clone());
        l.insert(label::CONSTRUCT.into(), construct.into());
        l.insert(label::KIND.into(), kind.into());
        l.insert(label::SEVERITY.into(), policy.level);
        l.insert(label::PRIORITY.into(), severity.as_str().into());
        l
    }

    fn annotations(
        &self,
        summary: String,
        description: String,
        runbook: &str,
        source: &crate::span::SourceRef,
        severity: Severity,
    ) -> BTreeMap<String, String> {
        let policy = self.spec.severity(severity);
        let mut a = BTreeMap::new();
        a.insert("summary".into(), summary);
        a.insert("description".into(), description);
        a.insert("runbook_url".into(), runbook.into());
        a.insert("spec".into(), format!("{} {}", self.spec.name, self.spec.version));
        a.insert("spec_source".into(), format!("{}:{}", source.file, source.line));
        a.insert("spec_sha256".into(), self.spec.provenance.sha256.clone());
        a.insert("respond".into(), format!("{}{}", policy.respond, if policy.page { ", page" } else { "" }));
        a
    }
}

/// Builds the rule plan of a spec.
pub fn plan(spec: &Spec) -> Plan {
    let cx = Ctx { spec };
    let s = spec.name.as_str();
    let mut groups = Vec::new();

    // One recording rule per kind and spec (the same record name with the same labels twice
    // would be a duplicate rule); alerts select their construct from it.
    let mut rules = Vec::new();
    if let Some(first) = spec.invariants.first() {
        rules.push(RulePlan::Record(RecordPlan {
            record: record::INVARIANT_VIOLATIONS.into(),
            expr: format!(
                "sum by ({}, {}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::INVARIANT,
                label::CHECK,
                selector(metric::INVARIANT_VIOLATIONS.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: invariant_signal(spec, first),
            construct: first.name.clone(),
        }));
    }
    for inv in &spec.invariants {
        let signal = invariant_signal(spec, inv);
        let checks: Vec<String> = inv
            .requires
            .iter()
            .map(|c| format!("requires `{}`", c.expr))
            .chain(inv.ensures.iter().map(|c| format!("ensures `{}`", c.expr)))
            .collect();
        let mut description = inv.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
        description.push_str(&format!(
            "A check of invariant `{}` failed in the last {WINDOW}: {}. Policy: {}.",
            inv.name,
            checks.join("; "),
            match inv.on_violation {
                ir::OnViolation::Deny => "deny (the call was refused)",
                ir::OnViolation::Record => "record (the call went ahead)",
            }
        ));
        if let Some(l) = &inv.evidence {
            description.push_str(&format!(" Each violation is in ledger `{l}`."));
        }
        rules.push(RulePlan::Alert(AlertPlan {
            alert: alert::INVARIANT_VIOLATED.into(),
            lhs: format!(
                "sum by ({}, {}) ({})",
                label::SPEC,
                label::INVARIANT,
                selector(record::INVARIANT_VIOLATIONS, &[(label::SPEC, s), (label::INVARIANT, &inv.name)])
            ),
            op: Comparator::Gt,
            threshold: 0.0,
            step: 1.0,
            for_: Duration::default(),
            labels: cx.labels("invariant", &inv.name, inv.severity),
            annotations: cx.annotations(
                format!("{s}: invariant {} violated", inv.name),
                description,
                &inv.runbook,
                &inv.source,
                inv.severity,
            ),
            signal,
            output_labels: map(&[(label::SPEC, s), (label::INVARIANT, &inv.name)]),
            absence: None,
            construct: inv.name.clone(),
        }));
    }
    push_group(&mut groups, s, "invariants", rules);

    let mut rules = Vec::new();
    if let Some(first) = spec.rate_limits.first() {
        let all = selector(metric::RATE_LIMIT_DECISIONS.exposed, &[(label::SPEC, s)]);
        let rejected =
            selector(metric::RATE_LIMIT_DECISIONS.exposed, &[(label::SPEC, s), (label::OUTCOME, pip_conventions::outcome::REJECTED)]);
        rules.push(RulePlan::Record(RecordPlan {
            record: record::RATE_LIMIT_REJECTED_RATIO.into(),
            expr: format!(
                "sum by ({sp}, {li}) (rate({rejected}[{WINDOW}])) / sum by ({sp}, {li}) (rate({all}[{WINDOW}]))",
                sp = label::SPEC,
                li = label::LIMIT
            ),
            labels: BTreeMap::new(),
            signal: Signal::RejectedRatio {
                metric: metric::RATE_LIMIT_DECISIONS.exposed.into(),
                labels: map(&[(label::SPEC, s), (label::LIMIT, &first.name)]),
            },
            construct: first.name.clone(),
        }));
    }
    for rl in &spec.rate_limits {
        let signal = Signal::RejectedRatio {
            metric: metric::RATE_LIMIT_DECISIONS.exposed.into(),
            labels: map(&[(label::SPEC, s), (label::LIMIT, &rl.name)]),
        };
        if let Some(a) = &rl.alert {
            let mut description = rl.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
            description.push_str(&format!(
                "Rate limit `{}` ({} per {} per {}) rejected more than {} of requests (ratio {} {}) for {}.",
                rl.name,
                rl.limit,
                rl.window,
                rl.key,
                percent(a.ratio),
                a.op.as_str(),
                number(a.ratio),
                a.for_
            ));
            rules.push(RulePlan::Alert(AlertPlan {
                alert: alert::RATE_LIMIT_REJECTING.into(),
                lhs: selector(record::RATE_LIMIT_REJECTED_RATIO, &[(label::SPEC, s), (label::LIMIT, &rl.name)]),
                op: a.op,
                threshold: a.ratio,
                step: ratio_step(a.ratio),
                for_: a.for_,
                labels: cx.labels("rate_limit", &rl.name, a.severity),
                annotations: cx.annotations(
                    format!("{s}: rate limit {} is rejecting requests", rl.name),
                    description,
                    &rl.runbook,
                    &a.source,
                    a.severity,
                ),
                signal,
                output_labels: map(&[(label::SPEC, s), (label::LIMIT, &rl.name)]),
                absence: None,
                construct: rl.name.clone(),
            }));
        }
    }
    push_group(&mut groups, s, "rate_limits", rules);

    let mut rules = Vec::new();
    for th in &spec.thresholds {
        let name = th.record.clone().unwrap_or_else(|| record::threshold(s, &th.name));
        let out = map(&[(label::SPEC, s), (label::CONSTRUCT, &th.name)]);
        rules.push(RulePlan::Record(RecordPlan {
            record: name.clone(),
            expr: th.expr.trim().to_string(),
            labels: out.clone(),
            signal: Signal::Expression { selectors: th.selectors.clone() },
            construct: th.name.clone(),
        }));
        for c in &th.conditions {
            let mut labels = cx.labels("threshold", &th.name, c.severity);
            labels.insert(label::LEVEL.into(), c.level.as_str().into());
            let mut description = th.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
            description.push_str(&format!(
                "Threshold `{}` is {} {} (its {} level) for {}; unit {}.",
                th.name,
                a_or_b(c.op),
                number(c.value),
                c.level.as_str(),
                c.for_,
                th.unit
            ));
            rules.push(RulePlan::Alert(AlertPlan {
                alert: alert::THRESHOLD_CROSSED.into(),
                lhs: selector(&name, &[(label::SPEC, s), (label::CONSTRUCT, &th.name)]),
                op: c.op,
                threshold: c.value,
                step: value_step(c.value),
                for_: c.for_,
                labels,
                annotations: cx.annotations(
                    format!("{s}: {} crossed its {} level", th.name, c.level.as_str()),
                    description,
                    &th.runbook,
                    &c.source,
                    c.severity,
                ),
                signal: Signal::Gauge { metric: name.clone(), labels: out.clone() },
                output_labels: out.clone(),
                absence: None,
                construct: th.name.clone(),
            }));
        }
    }
    push_group(&mut groups, s, "thresholds", rules);

    push_group(&mut groups, s, "ledgers", ledgers::rules(&cx));

    let mut rules = Vec::new();
    if let Some(first) = spec.versioned.first() {
        rules.push(RulePlan::Record(RecordPlan {
            record: record::ROLLBACK_MISMATCHES.into(),
            expr: format!(
                "sum by ({}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::STORE,
                selector(metric::VERSIONED_ROLLBACK_MISMATCHES.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: store_signal(s, &first.name),
            construct: first.name.clone(),
        }));
    }
    for v in &spec.versioned {
        let signal = store_signal(s, &v.name);
        let mut description = v.doc.clone().map(|d| format!("{d}. ")).unwrap_or_default();
        description.push_str(&format!(
            "A rollback of versioned store `{}` produced a state whose SHA-256 differs from the recorded version; the store stayed at its last verified version.",
            v.name
        ));
        rules.push(RulePlan::Alert(AlertPlan {
            alert: alert::ROLLBACK_MISMATCH.into(),
            lhs: selector(record::ROLLBACK_MISMATCHES, &[(label::SPEC, s), (label::STORE, &v.name)]),
            op: Comparator::Gt,
            threshold: 0.0,
            step: 1.0,
            for_: Duration::default(),
            labels: cx.labels("versioned", &v.name, v.severity),
            annotations: cx.annotations(
                format!("{s}: rollback of {} did not match its recorded version", v.name),
                description,
                &v.runbook,
                &v.source,
                v.severity,
            ),
            signal,
            output_labels: map(&[(label::SPEC, s), (label::STORE, &v.name)]),
            absence: None,
            construct: v.name.clone(),
        }));
    }
    push_group(&mut groups, s, "versioned", rules);

    Plan { groups }
}

fn store_signal(spec: &str, store: &str) -> Signal {
    Signal::CounterStep {
        metric: metric::VERSIONED_ROLLBACK_MISMATCHES.exposed.into(),
        labels: map(&[(label::SPEC, spec), (label::STORE, store)]),
    }
}

fn invariant_signal(spec: &Spec, inv: &ir::Invariant) -> Signal {
    let check = if inv.requires.is_empty() { pip_conventions::check::ENSURES } else { pip_conventions::check::REQUIRES };
    Signal::CounterStep {
        metric: metric::INVARIANT_VIOLATIONS.exposed.into(),
        labels: map(&[
            (label::SPEC, &spec.name),
            (label::INVARIANT, &inv.name),
            (label::CHECK, check),
            (label::SEVERITY, &spec.severity(inv.severity).level),
        ]),
    }
}

fn push_group(groups: &mut Vec<GroupPlan>, spec: &str, kind: &str, rules: Vec<RulePlan>) {
    if !rules.is_empty() {
        groups.push(GroupPlan { name: rule_group(spec, kind), rules });
    }
}

fn a_or_b(op: Comparator) -> &'static str {
    match op {
        Comparator::Gt => "above",
        Comparator::Ge => "at or above",
        Comparator::Lt => "below",
        Comparator::Le => "at or below",
    }
}

/// A ratio as a percentage, to the 8 decimal places of the ratio (`ir::MAX_RATIO_DECIMAL_PLACES`):
/// `1e-8` is `0.000001%`, not `0%`.
fn percent(ratio: f64) -> String {
    format!("{}%", number((ratio * 1e8).round() / 1e6))
}

/// Step of a ratio threshold: a thousandth of the decimal resolution it is written with (the
/// promtool tests count requests in units of that size).
pub fn ratio_step(ratio: f64) -> f64 {
    let denominator = match decimal_fraction(ratio) {
        Some((_, d)) => d as f64,
        // Past 19 decimal places (the checker allows far fewer): the same power of ten in f64.
        None => 10f64.powi(i32::try_from(ir::decimal_places(ratio)).unwrap_or(i32::MAX)),
    };
    1.0 / (denominator * 1000.0)
}

/// Step of a gauge threshold: a thousandth of its magnitude (at least 1e-6).
pub fn value_step(v: f64) -> f64 {
    (v.abs() * 1e-3).max(1e-6)
}

/// `ratio` as `numerator / 10^k`, exactly as written in decimal; `None` when it is negative
/// or either part does not fit in a u64 (more than 19 decimal places).
pub fn decimal_fraction(ratio: f64) -> Option<(u64, u64)> {
    let text = number(ratio);
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let numerator = format!("{int}{frac}").parse::<u64>().ok()?;
    let denominator = 10u64.checked_pow(u32::try_from(frac.len()).ok()?)?;
    Some((numerator, denominator))
}

// ── serialization ────────────────────────────────────────────────────────────────

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Serialize)]
struct Group {
    name: String,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// The header every generated YAML file starts with.
pub fn header(spec: &Spec, what: &str) -> String {
    let files: Vec<&str> = spec.provenance.files.iter().map(|f| f.file.as_str()).collect();
    format!(
        "# {what}\n# generated by pipc {} from {} — do not edit\n# spec {} {}, sha256 {}\n",
        crate::VERSION,
        files.join(", "),
        spec.name,
        spec.version,
        spec.provenance.sha256
    )
}

/// The path of a spec's rules file, relative to the output directory.
pub fn rules_path(spec: &Spec) -> String {
    format!("prometheus/{}.rules.yml", spec.name)
}

/// Serializes a plan as a Prometheus rules file.
pub fn rules_yaml(spec: &Spec, plan: &Plan) -> Result<String, EmitError> {
    let file = RuleFile {
        groups: plan
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                rules: g
                    .rules
                    .iter()
                    .map(|r| match r {
                        RulePlan::Record(r) => Rule {
                            record: Some(r.record.clone()),
                            alert: None,
                            expr: r.expr.clone(),
                            for_: None,
                            labels: r.labels.clone(),
                            annotations: BTreeMap::new(),
                        },
                        RulePlan::Alert(a) => Rule {
                            record: None,
                            alert: Some(a.alert.clone()),
                            expr: a.expr(),
                            for_: Some(a.for_.to_string()),
                            labels: a.labels.clone(),
                            annotations: a.annotations.clone(),
                        },
                    })
                    .collect(),
            })
            .collect(),
    };
    let body = serde_norway::to_string(&file).map_err(|e| EmitError::Serialize {
        emitter: EMITTER.name,
        path: rules_path(spec),
        message: e.to_string(),
    })?;
    Ok(format!("{}{body}", header(spec, &format!("Prometheus rules of spec {}", spec.name))))
}

/// Emits `prometheus/<spec>.rules.yml` and `prometheus/<spec>.test.yml`.
pub fn emit(spec: &Spec) -> Result<Vec<Artifact>, EmitError> {
    let plan = plan(spec);
    let rules = rules_yaml(spec, &plan)?;
    let tests = super::promtool::tests_yaml(spec, &plan)?;
    Ok(vec![
        Artifact { path: rules_path(spec), contents: rules.into_bytes() },
        Artifact { path: super::promtool::tests_path(spec), contents: tests.into_bytes() },
    ])
}
