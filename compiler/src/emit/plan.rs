//! The rule plan of a spec: every recording rule and alert, with what drives each one
//! ([`Signal`]).
//!
//! Both Prometheus artifacts are made from this one plan: the rules file
//! ([`super::prometheus`]) is the plan serialized, and the promtool tests
//! ([`super::promtool`]) drive each rule's signal; the test suite's mutation check uses
//! [`AlertPlan::mutations`] to show that each alert's tests can fail. Each construct kind
//! plans its rule group in its own module (`plan/<kind>.rs`); [`plan`] runs them in the
//! order of the rules file.

use std::collections::BTreeMap;

use pip_conventions::{label, rule_group};

use super::promql::{number, selector};
use crate::ir::{self, Comparator, ConstructKind, Severity, Spec};
use crate::units::Duration;

mod invariant;
mod ledger;
mod rate_limit;
pub mod slo;
mod threshold;
mod versioned;

/// The evaluation interval the generated tests use; boundaries are probed one interval apart.
pub const TEST_INTERVAL: Duration = Duration::from_secs(15);

/// Window of the `increase`/`rate` recording rules.
const WINDOW: &str = "5m";
/// The shortest time an alert's input may be absent before the alert fires on the absence:
/// Prometheus's own lookback (a series without a sample for this long is gone for every
/// query), long enough that no scrape interval in use leaves a hole between two samples.
pub const ABSENCE_FLOOR: Duration = Duration::from_secs(300);

/// The order of the rule groups in a rules file (the order the kinds were given rules in,
/// which the committed files keep). Its length is the registry's, and the check below
/// refuses a kind listed twice, so a new kind must be placed here.
const GROUP_ORDER: [ConstructKind; ConstructKind::ALL.len()] = [
    ConstructKind::Invariant,
    ConstructKind::RateLimit,
    ConstructKind::Threshold,
    ConstructKind::Ledger,
    ConstructKind::Versioned,
    ConstructKind::Slo,
    ConstructKind::Bundle,
    ConstructKind::Dashboard,
];

// `GROUP_ORDER` lists each kind once (with its length, every kind), checked when the crate
// compiles.
#[allow(clippy::indexing_slicing, reason = "bounded by the loop and the enum's discriminants; a const context")]
const _: () = {
    let mut seen = [false; ConstructKind::ALL.len()];
    let mut i = 0;
    while i < GROUP_ORDER.len() {
        let k = GROUP_ORDER[i] as usize;
        assert!(!seen[k], "a construct kind is listed twice in GROUP_ORDER");
        seen[k] = true;
        i += 1;
    }
};

/// Builds the rule plan of a spec: one group per construct kind that has rules.
pub fn plan(spec: &Spec) -> Plan {
    let cx = Ctx { spec };
    let mut groups = Vec::new();
    for kind in GROUP_ORDER {
        let (group, rules) = match kind {
            ConstructKind::Ledger => (ledger::GROUP, ledger::rules(&cx)),
            ConstructKind::Invariant => (invariant::GROUP, invariant::rules(&cx)),
            ConstructKind::RateLimit => (rate_limit::GROUP, rate_limit::rules(&cx)),
            ConstructKind::Threshold => (threshold::GROUP, threshold::rules(&cx)),
            ConstructKind::Versioned => (versioned::GROUP, versioned::rules(&cx)),
            ConstructKind::Slo => (slo::GROUP, slo::rules(&cx)),
            // A bundle is cut after the fact and a dashboard only shows: no rules watch them.
            ConstructKind::Bundle | ConstructKind::Dashboard => continue,
        };
        if !rules.is_empty() {
            groups.push(GroupPlan { name: rule_group(&spec.name, group), rules });
        }
    }
    Plan { groups }
}

/// Every recording rule and alert of one spec in rules-file order: [`super::prometheus`] writes
/// it as the rules file, [`super::promtool`] as their tests.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One group per construct kind that has rules, in the order [`plan`] runs the kinds; a
    /// kind without rules (no constructs, or `bundle` and `dashboard`) has no group.
    pub groups: Vec<GroupPlan>,
}

/// One rule group of the rules file: the rules of one construct kind, which Prometheus
/// evaluates in order (so a recording rule is fresh for the alerts after it).
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// `pip:<spec>:<group>` ([`pip_conventions::rule_group`]).
    pub name: String,
    /// Recording rules, then alerts, in evaluation order.
    pub rules: Vec<RulePlan>,
}

/// A recording rule or an alert.
#[derive(Debug, Clone)]
pub enum RulePlan {
    /// A recording rule (`record:`).
    Record(RecordPlan),
    /// An alerting rule (`alert:`).
    Alert(AlertPlan),
}

/// A recording rule and how to test it.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    /// The series it writes: a [`pip_conventions::record`] name, or a threshold's `record =`
    /// (by default `pip:<spec>:<threshold>`).
    pub record: String,
    /// The PromQL whose value it records.
    pub expr: String,
    /// Labels added to the recorded series.
    pub labels: BTreeMap<String, String>,
    /// The input series its promtool test group synthesizes to check the recorded value.
    pub signal: Signal,
    /// The name of its construct in the spec (for a rule a kind shares, the first construct);
    /// its test group is named after it.
    pub construct: String,
}

/// An alert and how to test it.
#[derive(Debug, Clone)]
pub struct AlertPlan {
    /// The alert's name, one per kind of alert ([`pip_conventions::alert`]); the labels tell
    /// its constructs apart.
    pub alert: String,
    /// PromQL: `<lhs> <op> <threshold>`.
    pub lhs: String,
    /// How the left side is compared with the threshold.
    pub op: Comparator,
    /// The right side, in the left side's unit: a threshold level's value, a `rejected_ratio`,
    /// an `expect`'s `every` in seconds, or 0 (counter steps, the head sequence's decrease).
    pub threshold: f64,
    /// Smallest meaningful step of the measured value: tests probe `threshold ± step`.
    pub step: f64,
    /// How long the comparison must hold before the alert fires (`for:`).
    pub for_: Duration,
    /// Labels of the alert (besides the expression's own).
    pub labels: BTreeMap<String, String>,
    /// Summary, description, runbook, and where in the spec the alert comes from.
    pub annotations: BTreeMap<String, String>,
    /// The input series its promtool scenarios synthesize to make it fire and resolve.
    pub signal: Signal,
    /// Labels the expression's result carries for the signal's input series.
    pub output_labels: BTreeMap<String, String>,
    /// When the alert also fires on the absence of its input (evidence and integrity alerts:
    /// a service that is down or not scraped must not silence them).
    pub absence: Option<Absence>,
    /// The kind of the construct it belongs to (its tests are made per kind).
    pub kind: ConstructKind,
    /// The name of its construct in the spec: with [`AlertPlan::alert`] it tells sibling alerts
    /// apart and names the test groups ([`super::promtool::describe`]).
    pub construct: String,
}

/// The second arm of an alert that fires when its input is gone:
/// `<comparison> or absent_over_time(<input>[<window>])`.
#[derive(Debug, Clone)]
pub struct Absence {
    /// The exposed name of the input series ([`pip_conventions::Metric::exposed`]), e.g.
    /// `pip_ledger_anomalies_total`.
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
    /// `absent_over_time(<input>[<window>])` with the given `window`, not always
    /// [`Absence::window`]: the mutations try longer and shorter ones.
    pub fn arm(&self, window: Duration) -> String {
        let labels: Vec<(&str, &str)> = self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        format!("absent_over_time({}[{window}])", selector(&self.metric, &labels))
    }
}

impl AlertPlan {
    /// The `expr:` written to the rules file: `<lhs> <op> <threshold>`, then `or` the absence
    /// arm when the alert has one.
    pub fn expr(&self) -> String {
        self.expr_with(&self.lhs, self.threshold, self.absence.as_ref().map(|a| a.window))
    }

    /// The expression with another left side, threshold or absence window (`None`: no
    /// absence arm).
    fn expr_with(&self, lhs: &str, threshold: f64, window: Option<Duration>) -> String {
        let comparison = match self.burn() {
            // A burn-rate tier: the ratio over the long window (`lhs`) and over the short one.
            Some((sig, tier)) => self.burn_expr(lhs, &slo::ratio_over(&sig.spec, &sig.slo, tier.short), threshold),
            None => format!("{lhs} {} {}", self.op.as_str(), number(threshold)),
        };
        match (&self.absence, window) {
            (Some(a), Some(w)) => format!("{comparison} or {}", a.arm(w)),
            _ => comparison,
        }
    }

    /// The SLO and tier of a burn-rate alert.
    pub fn burn(&self) -> Option<(&slo::SloSignal, &ir::BurnTier)> {
        match &self.signal {
            Signal::Slo(sig) => match sig.role {
                slo::SloRole::Burn { tier } => sig.slo.tiers.get(tier).map(|t| (sig.as_ref(), t)),
                slo::SloRole::Record | slo::SloRole::BucketMissing => None,
            },
            _ => None,
        }
    }

    /// `<long> > t and <short> > t`.
    fn burn_expr(&self, long: &str, short: &str, threshold: f64) -> String {
        let (op, t) = (self.op.as_str(), number(threshold));
        format!("{long} {op} {t} and {short} {op} {t}")
    }

    /// The alert with a changed threshold, `for` or absence arm, each of which its generated
    /// tests must notice: the threshold moved by two steps either way, the `for` lengthened
    /// by two evaluation intervals, and (when it has one) shortened by one; the absence arm
    /// dropped, its window lengthened by two evaluation intervals and shortened by one, or
    /// (when the comparison remembers its input) the comparison reading only the latest
    /// sample; for a burn-rate tier, each of its windows doubled and halved.
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
        if let Some((sig, tier)) = self.burn() {
            // Each window doubled and halved: the tier's scenarios time the first firing (long
            // window) and the resolution after the burn stops (short window).
            let (spec, slo) = (&sig.spec, &sig.slo);
            let ratio = |w: Duration| slo::ratio_over(spec, slo, w);
            for (which, w) in [("long", tier.long), ("short", tier.short)] {
                for changed in [Duration::from_millis(w.millis.saturating_mul(2)), Duration::from_millis(w.millis / 2)] {
                    let (l, s) = if which == "long" { (changed, tier.short) } else { (tier.long, changed) };
                    out.push(Mutation {
                        what: format!("{which} window {} → {}", super::promql::duration(w), super::promql::duration(changed)),
                        expr: self.burn_expr(&ratio(l), &ratio(s), self.threshold),
                        for_: self.for_,
                    });
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
    /// The alert's expression after the change; the original when only `for` changed.
    pub expr: String,
    /// The alert's `for` after the change; the original when only the expression changed.
    pub for_: Duration,
}

/// What a rule reads, so that a test can drive it with synthetic series.
#[derive(Debug, Clone)]
pub enum Signal {
    /// A counter that steps up by one when something bad happens (`increase(...) > 0`).
    CounterStep {
        /// The counter's exposed `_total` name ([`pip_conventions::Metric::exposed`]).
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
        /// The decisions counter's exposed name, from
        /// [`pip_conventions::metric::RATE_LIMIT_DECISIONS`].
        metric: String,
        /// Labels of the input series, `outcome` excepted.
        labels: BTreeMap<String, String>,
    },
    /// A gauge read as it is (threshold recording rules).
    Gauge {
        /// The threshold's recording rule ([`RecordPlan::record`]) that its alerts read.
        metric: String,
        /// Labels of the input series.
        labels: BTreeMap<String, String>,
    },
    /// A Unix timestamp gauge read as seconds of silence (`time() - x`).
    Silence {
        /// The last-append timestamp's exposed name, from
        /// [`pip_conventions::metric::LEDGER_LAST_APPEND`].
        metric: String,
        /// Labels of the input series.
        labels: BTreeMap<String, String>,
    },
    /// A gauge that must never go down (ledger head sequence), read as its change from its
    /// highest value (`head - max_over_time(head)`, 0 while it only grows).
    Decrease {
        /// The head sequence's exposed name, from [`pip_conventions::metric::LEDGER_HEAD_SEQ`].
        metric: String,
        /// Labels of the input series.
        labels: BTreeMap<String, String>,
    },
    /// The SLI of an SLO (its recording rules, burn-rate alerts, bucket alert): tested in files
    /// of their own, at intervals scaled to each tier's windows (`promtool/scenarios/slo.rs`).
    Slo(Box<slo::SloSignal>),
    /// A threshold's PromQL over the service's own metrics (its recording rule).
    Expression {
        /// The threshold's [`ir::Threshold::selectors`]; its test synthesizes a series matching each.
        selectors: Vec<ir::Selector>,
    },
}

/// What every kind's rules share: the spec's labels and annotations.
struct Ctx<'a> {
    spec: &'a Spec,
}

impl Ctx<'_> {
    /// The labels of an alert of a construct.
    fn labels(&self, kind: ConstructKind, construct: &str, severity: Severity) -> BTreeMap<String, String> {
        let policy = self.spec.severity(severity);
        let mut l = self.spec.labels.clone();
        l.insert(label::SPEC.into(), self.spec.name.clone());
        l.insert(label::CONSTRUCT.into(), construct.into());
        l.insert(label::KIND.into(), kind.keyword().into());
        l.insert(label::SEVERITY.into(), policy.level);
        l.insert(label::PRIORITY.into(), severity.as_str().into());
        l
    }

    /// The annotations of an alert: what it says, and where in the spec it comes from.
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
