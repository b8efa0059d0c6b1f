//! The rules of `ledger` blocks: the evidence-gap alert of each expected subsystem and the
//! two integrity alerts (verification failed, truncated), with their recording rules, and
//! the silence alert of each witness of a ledger with signed checkpoints.
//!
//! Each of these alerts also fires when its input is gone: a service that is down or no
//! longer scraped leaves no series behind (Prometheus marks them stale at the first failed
//! scrape), and an alert whose expression yields nothing *resolves* — silence at the very
//! moment evidence stops. So each alert is `<comparison> or absent_over_time(<input>[W])`,
//! the input selected with equality matchers only, so that the absent arm carries the
//! `spec`/`ledger`/`subsystem` labels routing needs.
//!
//! The evidence-gap comparison also *remembers* the last append time for the same `W`
//! (`max_over_time`), so after the series vanish it still fires exactly when the last
//! evidence Prometheus saw becomes older than the expectation; the absent arm takes over at
//! the instant the remembered value runs out of its window (the two are complements: the
//! range holds a sample or it does not), so the alert stays firing without a break.

use std::collections::BTreeMap;

use pip_conventions::{alert, label, metric, reason, record};

use super::{ABSENCE_FLOOR, Absence, AlertPlan, Ctx, RecordPlan, RulePlan, Signal, TEST_INTERVAL, WINDOW};
use crate::emit::promql::{map, selector};
use crate::ir::{Comparator, ConstructKind, Expect, Ledger, Severity, Signing, Witness};
use crate::units::Duration;

/// The last part of the rule group's name, `pip:<spec>:ledgers` ([`pip_conventions::rule_group`]).
pub(super) const GROUP: &str = "ledgers";

/// How far back the truncation alert looks for a higher head sequence.
const TRUNCATION_LOOKBACK: &str = "1h";

/// How long the last append time of an expected subsystem is remembered after its series
/// vanish, and how long it may be absent before the gap alert fires on the absence: the
/// expectation, at least [`ABSENCE_FLOOR`] (shorter, a scrape interval longer than the
/// expectation would leave the range empty between two scrapes of a healthy service).
fn gap_window(e: &Expect) -> Duration {
    if e.every > ABSENCE_FLOOR { e.every } else { ABSENCE_FLOOR }
}

/// The ledger rules of the spec, in evaluation order (recording rules first).
pub(super) fn rules(cx: &Ctx<'_>) -> Vec<RulePlan> {
    let spec = cx.spec;
    let s = spec.name.as_str();
    let mut rules = Vec::new();
    // One silence rule for the whole spec (the dashboards read it); it remembers each
    // subsystem's last append time as long as the longest expectation's window.
    let expects: Vec<(&Ledger, &Expect)> = spec.ledgers.iter().flat_map(|l| l.expects.iter().map(move |e| (l, e))).collect();
    if let Some((l, e)) = expects.first() {
        let window = expects.iter().map(|(_, e)| gap_window(e)).max_by_key(|w| w.millis).unwrap_or(ABSENCE_FLOOR);
        rules.push(RulePlan::Record(RecordPlan {
            record: record::LEDGER_SILENCE.into(),
            expr: format!(
                "time() - max by ({}, {}, {}) (max_over_time({}[{window}]))",
                label::SPEC,
                label::LEDGER,
                label::SUBSYSTEM,
                selector(metric::LEDGER_LAST_APPEND.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: Signal::Silence {
                metric: metric::LEDGER_LAST_APPEND.exposed.into(),
                labels: map(&[(label::SPEC, s), (label::LEDGER, &l.name), (label::SUBSYSTEM, &e.subsystem)]),
            },
            construct: l.name.clone(),
        }));
    }
    if let Some(first) = spec.ledgers.first() {
        rules.push(RulePlan::Record(RecordPlan {
            record: record::LEDGER_ANOMALIES.into(),
            expr: format!(
                "sum by ({}, {}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::LEDGER,
                label::CLASS,
                selector(metric::LEDGER_ANOMALIES.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: step(anomaly_counter(s, &first.name)),
            construct: first.name.clone(),
        }));
        rules.push(RulePlan::Record(RecordPlan {
            record: record::LEDGER_VERIFICATION_ERRORS.into(),
            expr: format!(
                "sum by ({}, {}, {}) (increase({}[{WINDOW}]))",
                label::SPEC,
                label::LEDGER,
                label::REASON,
                selector(metric::LEDGER_VERIFICATION_ERRORS.exposed, &[(label::SPEC, s)])
            ),
            labels: BTreeMap::new(),
            signal: step(error_counter(s, &first.name)),
            construct: first.name.clone(),
        }));
    }
    for l in &spec.ledgers {
        for e in &l.expects {
            rules.push(RulePlan::Alert(gap_alert(cx, l, e)));
        }
        rules.push(RulePlan::Alert(verification_alert(cx, l)));
        rules.push(RulePlan::Alert(truncation_alert(cx, l)));
        if let Some(signing) = &l.signing {
            for w in &signing.witnesses {
                rules.push(RulePlan::Alert(witness_silence_alert(cx, l, signing, w)));
            }
        }
    }
    rules
}

/// The severity of a witness silence: a witness that stopped cosigning weakens the evidence
/// (checkpoints since then are signed by the ledger's key alone) but loses none of it, so the
/// alert opens a ticket rather than paging.
const WITNESS_SILENCE_SEVERITY: Severity = Severity::P2;

/// `PipLedgerWitnessSilent` of one witness: it has not cosigned a checkpoint of the ledger for
/// longer than `witness_silence`, or Prometheus has seen no sample of its last cosignature
/// time for as long (the service is down or not scraped). The runtime sets the time to the
/// ledger's open time until the first cosignature, so a witness that never answers fires too.
/// Shaped like the evidence-gap alert (remembered for the window, then the absence arm).
fn witness_silence_alert(cx: &Ctx<'_>, l: &Ledger, signing: &Signing, w: &Witness) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str()), (label::WITNESS, w.name.as_str())];
    let out = map(&base);
    let input = selector(metric::LEDGER_WITNESS_COSIGNED.exposed, &base);
    let window = if signing.silence > ABSENCE_FLOOR { signing.silence } else { ABSENCE_FLOOR };
    let by = format!("max by ({}, {}, {})", label::SPEC, label::LEDGER, label::WITNESS);
    let mut labels = cx.labels(ConstructKind::Ledger, &l.name, WITNESS_SILENCE_SEVERITY);
    labels.insert(label::WITNESS.into(), w.name.clone());
    AlertPlan {
        alert: alert::LEDGER_WITNESS_SILENT.into(),
        lhs: format!("time() - {by} (max_over_time({input}[{window}]))"),
        op: Comparator::Gt,
        threshold: signing.silence.as_secs_f64(),
        step: TEST_INTERVAL.as_secs_f64(),
        for_: Duration::default(),
        labels,
        annotations: cx.annotations(
            format!("{s}: witness {} has not cosigned ledger {} for over {}", w.name, l.name, signing.silence),
            format!(
                "Witness {} ({}) has returned no valid cosignature of a checkpoint of ledger `{}` for longer than the {} the spec allows, or Prometheus has seen no sample of its last cosignature time for {window} (the service is down or not scraped). Checkpoints since then are signed by the ledger's key alone: a restored older copy or a fork would not be caught by this witness. The reasons of failed pushes are in {} (`reason`); `pipc verify-log --verifier-key ... --spec ...` shows what each witness cosigned.",
                w.name,
                w.url,
                l.name,
                signing.silence,
                metric::LEDGER_WITNESS_PUSH_ERRORS.exposed
            ),
            &l.runbook,
            &w.source,
            WITNESS_SILENCE_SEVERITY,
        ),
        signal: Signal::Silence { metric: metric::LEDGER_WITNESS_COSIGNED.exposed.into(), labels: out.clone() },
        output_labels: out.clone(),
        absence: Some(Absence {
            metric: metric::LEDGER_WITNESS_COSIGNED.exposed.into(),
            labels: out,
            window,
            forgetful_lhs: Some(format!("time() - {by} ({input})")),
        }),
        kind: ConstructKind::Ledger,
        construct: l.name.clone(),
    }
}

fn gap_alert(cx: &Ctx<'_>, l: &Ledger, e: &Expect) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let sub = map(&[(label::SPEC, s), (label::LEDGER, &l.name), (label::SUBSYSTEM, &e.subsystem)]);
    let input =
        selector(metric::LEDGER_LAST_APPEND.exposed, &[(label::SPEC, s), (label::LEDGER, &l.name), (label::SUBSYSTEM, &e.subsystem)]);
    let window = gap_window(e);
    let by = format!("max by ({}, {}, {})", label::SPEC, label::LEDGER, label::SUBSYSTEM);
    let mut labels = cx.labels(ConstructKind::Ledger, &l.name, e.severity);
    labels.insert(label::SUBSYSTEM.into(), e.subsystem.clone());
    AlertPlan {
        alert: alert::EVIDENCE_GAP.into(),
        lhs: format!("time() - {by} (max_over_time({input}[{window}]))"),
        op: Comparator::Gt,
        threshold: e.every.as_secs_f64(),
        step: TEST_INTERVAL.as_secs_f64(),
        for_: Duration::default(),
        labels,
        annotations: cx.annotations(
            format!("{s}: no evidence from {} in ledger {} for over {}", e.subsystem, l.name, e.every),
            format!(
                "Subsystem \"{}\" has written nothing to ledger `{}` for longer than the {} the spec expects, or Prometheus has seen no sample of its last append time for {window} (the service is down or not scraped): evidence is missing or the subsystem is down.",
                e.subsystem, l.name, e.every
            ),
            &l.runbook,
            &e.source,
            e.severity,
        ),
        signal: Signal::Silence { metric: metric::LEDGER_LAST_APPEND.exposed.into(), labels: sub.clone() },
        output_labels: sub.clone(),
        absence: Some(Absence {
            metric: metric::LEDGER_LAST_APPEND.exposed.into(),
            labels: sub,
            window,
            forgetful_lhs: Some(format!("time() - {by} ({input})")),
        }),
        kind: ConstructKind::Ledger,
        construct: l.name.clone(),
    }
}

fn verification_alert(cx: &Ctx<'_>, l: &Ledger) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str())];
    let out = map(&base);
    AlertPlan {
        alert: alert::LEDGER_VERIFICATION_FAILED.into(),
        // Anomalies carry `class`, errors `reason`: the union never merges two series.
        lhs: format!(
            "sum by ({}, {}) ({} or {})",
            label::SPEC,
            label::LEDGER,
            selector(record::LEDGER_ANOMALIES, &base),
            selector(record::LEDGER_VERIFICATION_ERRORS, &base)
        ),
        op: Comparator::Gt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: cx.labels(ConstructKind::Ledger, &l.name, l.severity),
        annotations: cx.annotations(
            format!("{s}: ledger {} failed verification", l.name),
            format!(
                "Verification of ledger `{}` found anomalies (modified, deleted, inserted, reordered or replayed entries, a wrong key, or a torn tail) or could not run at all (an unreadable, emptied or unrecognizable ledger or checkpoint file) in the last {WINDOW}, or Prometheus has seen none of its verification counters for {ABSENCE_FLOOR} (the service is down or not scraped); the `class` of each anomaly is in {}, the `reason` of each error in {}. Run `pipc verify-log` on the ledger for their positions.",
                l.name,
                metric::LEDGER_ANOMALIES.exposed,
                metric::LEDGER_VERIFICATION_ERRORS.exposed
            ),
            &l.runbook,
            &l.source,
            l.severity,
        ),
        signal: Signal::CounterSteps { counters: vec![anomaly_counter(s, &l.name), error_counter(s, &l.name)] },
        output_labels: out.clone(),
        absence: Some(Absence { metric: metric::LEDGER_ANOMALIES.exposed.into(), labels: out, window: ABSENCE_FLOOR, forgetful_lhs: None }),
        kind: ConstructKind::Ledger,
        construct: l.name.clone(),
    }
}

fn truncation_alert(cx: &Ctx<'_>, l: &Ledger) -> AlertPlan {
    let s = cx.spec.name.as_str();
    let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str())];
    let out = map(&base);
    let head = selector(metric::LEDGER_HEAD_SEQ.exposed, &base);
    AlertPlan {
        alert: alert::LEDGER_TRUNCATED.into(),
        lhs: format!(
            "max by ({sp}, {le}) ({head}) - max by ({sp}, {le}) (max_over_time({head}[{TRUNCATION_LOOKBACK}]))",
            sp = label::SPEC,
            le = label::LEDGER
        ),
        op: Comparator::Lt,
        threshold: 0.0,
        step: 1.0,
        for_: Duration::default(),
        labels: cx.labels(ConstructKind::Ledger, &l.name, l.severity),
        annotations: cx.annotations(
            format!("{s}: ledger {} was truncated", l.name),
            format!(
                "The head sequence of ledger `{}` went down within {TRUNCATION_LOOKBACK}: entries were removed from its end; or Prometheus has seen no head sequence for {ABSENCE_FLOOR} (the service is down or not scraped), so a truncation cannot be ruled out. Compare the ledger with its last checkpoint (`pipc verify-log --checkpoints`).",
                l.name
            ),
            &l.runbook,
            &l.source,
            l.severity,
        ),
        signal: Signal::Decrease { metric: metric::LEDGER_HEAD_SEQ.exposed.into(), labels: out.clone() },
        output_labels: out.clone(),
        absence: Some(Absence { metric: metric::LEDGER_HEAD_SEQ.exposed.into(), labels: out, window: ABSENCE_FLOOR, forgetful_lhs: None }),
        kind: ConstructKind::Ledger,
        construct: l.name.clone(),
    }
}

type Counter = (String, BTreeMap<String, String>);

fn step((metric, labels): Counter) -> Signal {
    Signal::CounterStep { metric, labels }
}

/// An anomaly counter series of the ledger, as the tests drive it.
fn anomaly_counter(spec: &str, ledger: &str) -> Counter {
    (metric::LEDGER_ANOMALIES.exposed.into(), map(&[(label::SPEC, spec), (label::LEDGER, ledger), (label::CLASS, "modified")]))
}

/// A verification error counter series of the ledger, as the tests drive it.
fn error_counter(spec: &str, ledger: &str) -> Counter {
    (
        metric::LEDGER_VERIFICATION_ERRORS.exposed.into(),
        map(&[(label::SPEC, spec), (label::LEDGER, ledger), (label::REASON, reason::FORMAT)]),
    )
}
