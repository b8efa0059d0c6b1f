//! The panels of a `ledger`: appends per second by subsystem, seconds since the last
//! evidence of each subsystem, the head sequence and anomalies, the ledger's events in Loki,
//! and, when it names witnesses, how long since each cosigned and its failed pushes.

use pip_conventions::{alert, label, loki, metric, record};

use serde_json::Value;

use super::panel::{GRID_WIDTH, PanelSpec, steps, thresholds_of_series, where_};
use crate::emit::promql::selector as sel;
use crate::ir::{Ledger, Signing, Spec};

/// The title of the default dashboard's row of ledgers.
pub(super) const ROW: &str = "Evidence";

/// Four panels: appends (half width), the silence and the head/anomaly stats (a quarter each),
/// and a full-width Loki log panel. Each expected subsystem's silence is coloured by its own
/// `expect`: orange from half of it, red from it on (where `PipEvidenceGap` fires); a
/// subsystem the spec expects nothing of stays green.
pub(super) fn panels(spec: &Spec, l: &Ledger) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str())];
    // The legend `{{subsystem}}` names each series after its subsystem, which the overrides
    // match by name (the checker refuses a subsystem expected twice).
    let silence_overrides: Vec<Value> = l
        .expects
        .iter()
        .map(|e| {
            let every = e.every.as_secs_f64();
            thresholds_of_series(&e.subsystem, steps("green", &[("orange", every / 2.0), ("red", every)]))
        })
        .collect();
    let desc = where_(spec, &l.source, l.doc.as_ref());
    let mut panels = vec![
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: appends per second by subsystem", l.name),
            description: desc.clone(),
            targets: vec![(
                format!("sum by ({}) (rate({}[5m]))", label::SUBSYSTEM, sel(metric::LEDGER_APPENDS.exposed, &base)),
                "{{subsystem}}".into(),
            )],
            unit: "ops".into(),
            thresholds: steps("green", &[]),
            loki: false,
            width: 12,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "stat",
            title: format!("{}: seconds since last evidence", l.name),
            description: silence_description(&desc, l),
            targets: vec![(sel(record::LEDGER_SILENCE, &base), "{{subsystem}}".into())],
            unit: "s".into(),
            thresholds: steps("green", &[]),
            loki: false,
            width: 6,
            overrides: silence_overrides,
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "stat",
            title: format!("{}: head sequence and anomalies", l.name),
            description: format!("{desc}\n\nThe head sequence must never go down; any anomaly found by verification is shown by class."),
            targets: vec![
                (format!("max({})", sel(metric::LEDGER_HEAD_SEQ.exposed, &base)), "head seq".into()),
                (format!("sum by ({}) ({})", label::CLASS, sel(record::LEDGER_ANOMALIES, &base)), "anomalies {{class}}".into()),
            ],
            unit: "none".into(),
            thresholds: steps("green", &[]),
            loki: false,
            width: 6,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "logs",
            title: format!("{}: ledger events", l.name),
            description: format!("{desc}\n\nThe events the service ships to Loki as JSON lines (stream {})", loki::selector(s, &l.name)),
            targets: vec![(format!("{} | json", loki::selector(s, &l.name)), String::new())],
            unit: "none".into(),
            thresholds: steps("green", &[]),
            loki: true,
            width: GRID_WIDTH,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
    ];
    if let Some(signing) = l.signing.as_ref().filter(|g| !g.witnesses.is_empty()) {
        panels.extend(witness_panels(spec, l, signing));
    }
    panels
}

/// What the silence stat shows and how it is coloured.
fn silence_description(desc: &str, l: &Ledger) -> String {
    if l.expects.is_empty() {
        return format!("{desc}\n\nThe ledger expects no subsystem (no `expect` line): no silence is an alert.");
    }
    format!(
        "{desc}\n\nExpected: {}. Each expected subsystem turns orange at half its interval and red at it, where {} fires.",
        l.expects.iter().map(|e| format!("\"{}\" every {}", e.subsystem, e.every)).collect::<Vec<_>>().join(", "),
        alert::EVIDENCE_GAP
    )
}

/// Two panels for a ledger with witnesses: seconds since each witness's last cosignature
/// (orange past half of `witness_silence`, red past it, where `PipLedgerWitnessSilent` fires),
/// and the failed pushes per second by witness and reason.
fn witness_panels(spec: &Spec, l: &Ledger, signing: &Signing) -> Vec<PanelSpec> {
    let s = spec.name.as_str();
    let base = [(label::SPEC, s), (label::LEDGER, l.name.as_str())];
    let silence = signing.silence.as_secs_f64();
    let desc = format!(
        "{}

Witnesses: {} (quorum {}).",
        where_(spec, &l.source, l.doc.as_ref()),
        signing.witnesses.iter().map(|w| format!("{} ({})", w.name, w.url)).collect::<Vec<_>>().join(", "),
        signing.quorum
    );
    vec![
        PanelSpec {
            kind: "stat",
            title: format!("{}: seconds since each witness cosigned", l.name),
            description: format!(
                "{desc}

A witness silent for longer than {} fires {}; checkpoints since then are signed by the ledger's key alone.",
                signing.silence,
                alert::LEDGER_WITNESS_SILENT
            ),
            targets: vec![(
                format!("time() - max by ({}) ({})", label::WITNESS, sel(metric::LEDGER_WITNESS_COSIGNED.exposed, &base)),
                "{{witness}}".into(),
            )],
            unit: "s".into(),
            thresholds: steps("green", &[("orange", silence / 2.0), ("red", silence)]),
            loki: false,
            width: 12,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
        PanelSpec {
            kind: "timeseries",
            title: format!("{}: failed pushes to witnesses per second", l.name),
            description: format!(
                "{desc}

By witness and reason: `conflict` and `inconsistent` mean the witness holds another history of this ledger (an older copy restored, or a fork)."
            ),
            targets: vec![(
                format!(
                    "sum by ({}, {}) (rate({}[5m]))",
                    label::WITNESS,
                    label::REASON,
                    sel(metric::LEDGER_WITNESS_PUSH_ERRORS.exposed, &base)
                ),
                "{{witness}} {{reason}}".into(),
            )],
            unit: "ops".into(),
            thresholds: steps("green", &[]),
            loki: false,
            width: 12,
            overrides: Vec::new(),
            mappings: Vec::new(),
            links: Vec::new(),
        },
    ]
}
