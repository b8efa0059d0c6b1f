//! The ledger's metric series, and the per-subsystem append counts behind two of them.
//!
//! `pip_ledger_appends_total` and `pip_ledger_last_append_timestamp_seconds` are not touched
//! on every append: an atomic increment, a float store and a label lookup per entry cost as
//! much as a tenth of an append. Appenders count entries per subsystem in plain integers
//! under the ledger's lock ([`Subsystems::count`]); the flusher takes the counts of exactly
//! the entries it is about to write ([`Subsystems::take_batch`], under the same lock, in the
//! same step that takes the buffer) and adds them to the metrics once they are synced
//! ([`Subsystems::publish`]), together with the head seq. So the counters stay exact; they
//! count entries as they become durable, one batch at a time, as the head seq metric does.

use std::collections::HashMap;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use pip_conventions::reason;

use crate::ledger::error::{LedgerError, VerifyError};
use crate::ledger::report::AnomalyClass;
use crate::metrics::{AnomalyLabels, FloatGauge, LedgerLabels, Metrics, SubsystemLabels, VerificationErrorLabels};
#[cfg(feature = "witness")]
use crate::metrics::{WitnessErrorLabels, WitnessLabels};

/// One subsystem's series.
pub(crate) struct SubsystemMetrics {
    appends: Counter,
    last: FloatGauge,
}

impl SubsystemMetrics {
    /// Sets the last append time (Unix milliseconds).
    pub(crate) fn set_last(&self, ts_millis: u64) {
        self.last.set(ts_millis as f64 / 1000.0);
    }
}

/// One ledger's series.
pub(crate) struct LedgerMetrics {
    pub head: Gauge,
    pub checkpoint: Gauge,
    appends: Family<SubsystemLabels, Counter>,
    last_append: Family<SubsystemLabels, FloatGauge>,
    anomalies: Family<AnomalyLabels, Counter>,
    errors: Family<VerificationErrorLabels, Counter>,
    #[cfg(feature = "witness")]
    witness_cosigned: Family<WitnessLabels, FloatGauge>,
    #[cfg(feature = "witness")]
    witness_size: Family<WitnessLabels, Gauge>,
    #[cfg(feature = "witness")]
    witness_errors: Family<WitnessErrorLabels, Counter>,
    spec: String,
    name: String,
}

impl LedgerMetrics {
    /// The ledger's series; every anomaly class and every verification error reason is
    /// exported at zero at once, so that the first anomaly or error is an increase Prometheus
    /// sees (a series born at 1 has no increase).
    pub(crate) fn new(metrics: &Metrics, spec: &str, name: &str) -> LedgerMetrics {
        let labels = LedgerLabels { spec: spec.to_string(), ledger: name.to_string() };
        for class in AnomalyClass::ALL {
            drop(metrics.ledger_anomalies.get_or_create(&AnomalyLabels {
                spec: spec.to_string(),
                ledger: name.to_string(),
                class: class.as_str().to_string(),
            }));
        }
        for r in reason::ALL {
            drop(metrics.ledger_verification_errors.get_or_create(&VerificationErrorLabels {
                spec: spec.to_string(),
                ledger: name.to_string(),
                reason: r.to_string(),
            }));
        }
        LedgerMetrics {
            head: metrics.ledger_head_seq.get_or_create(&labels).clone(),
            checkpoint: metrics.ledger_checkpoint_seq.get_or_create(&labels).clone(),
            appends: metrics.ledger_appends.clone(),
            last_append: metrics.ledger_last_append.clone(),
            anomalies: metrics.ledger_anomalies.clone(),
            errors: metrics.ledger_verification_errors.clone(),
            #[cfg(feature = "witness")]
            witness_cosigned: metrics.ledger_witness_cosigned.clone(),
            #[cfg(feature = "witness")]
            witness_size: metrics.ledger_witness_cosigned_size.clone(),
            #[cfg(feature = "witness")]
            witness_errors: metrics.ledger_witness_push_errors.clone(),
            spec: spec.to_string(),
            name: name.to_string(),
        }
    }

    pub(crate) fn subsystem(&self, subsystem: &str) -> SubsystemMetrics {
        let labels = SubsystemLabels { spec: self.spec.clone(), ledger: self.name.clone(), subsystem: subsystem.to_string() };
        SubsystemMetrics { appends: self.appends.get_or_create(&labels).clone(), last: self.last_append.get_or_create(&labels).clone() }
    }

    pub(crate) fn anomaly(&self, class: AnomalyClass) {
        self.anomalies
            .get_or_create(&AnomalyLabels { spec: self.spec.clone(), ledger: self.name.clone(), class: class.as_str().to_string() })
            .inc();
    }

    /// Counts a verification that failed with `error` instead of giving a report: a ledger
    /// that cannot be verified is as alarming as one with anomalies.
    pub(crate) fn verification_error(&self, error: &LedgerError) {
        self.errors
            .get_or_create(&VerificationErrorLabels {
                spec: self.spec.clone(),
                ledger: self.name.clone(),
                reason: error_reason(error).to_string(),
            })
            .inc();
    }
}

/// The `reason` label of a verification that failed with `error`.
pub(crate) fn error_reason(error: &LedgerError) -> &'static str {
    match error {
        LedgerError::Io { .. } => reason::IO,
        LedgerError::NotALedger { .. } => reason::FORMAT,
        LedgerError::Failed(_) | LedgerError::Closed => reason::STOPPED,
        LedgerError::Verify(e) => verify_error_reason(e),
        // Errors of appending and opening: verification does not return them today; any it
        // comes to return is still counted.
        _ => reason::OTHER,
    }
}

/// The `reason` label of a verification that failed with `error`.
fn verify_error_reason(error: &VerifyError) -> &'static str {
    match error {
        VerifyError::Io { .. } => reason::IO,
        VerifyError::Format(_) => reason::FORMAT,
        VerifyError::Checkpoints(_) | VerifyError::CheckpointFile { .. } => reason::CHECKPOINTS,
        #[allow(unreachable_patterns, reason = "a variant added to `VerifyError` is counted too")]
        _ => reason::OTHER,
    }
}

struct Slot {
    name: String,
    metrics: SubsystemMetrics,
    /// Entries appended since the last batch was taken.
    pending: u64,
    /// The time of the latest of them, Unix milliseconds: the next value of the subsystem's last-append gauge.
    last_ts: u64,
}

/// The counts of one batch: (slot, entries, time of the last).
pub(crate) type Batch = Vec<(usize, u64, u64)>;

/// Every subsystem seen by this ledger, with the entries counted since the flusher last took
/// a batch. Lives in the ledger's locked state.
#[derive(Default)]
pub(crate) struct Subsystems {
    slots: Vec<Slot>,
    index: HashMap<String, usize>,
    /// The slot of the last append: consecutive appends mostly share a subsystem, and
    /// comparing its name is cheaper than hashing it.
    last: usize,
    /// Slots with `pending > 0`.
    dirty: Vec<usize>,
}

impl Subsystems {
    /// A subsystem known from the file, with its last append time exported at once.
    pub(crate) fn known(&mut self, name: &str, ts_millis: u64, metrics: &LedgerMetrics) {
        let i = self.slot(name, metrics);
        if let Some(slot) = self.slots.get(i) {
            slot.metrics.set_last(ts_millis);
        }
    }

    fn slot(&mut self, name: &str, metrics: &LedgerMetrics) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.slots.len();
        self.slots.push(Slot { name: name.to_string(), metrics: metrics.subsystem(name), pending: 0, last_ts: 0 });
        self.index.insert(name.to_string(), i);
        i
    }

    /// Counts one entry of subsystem `name` appended at `ts_millis`; the metrics see it once the flusher publishes its batch.
    pub(crate) fn count(&mut self, name: &str, ts_millis: u64, metrics: &LedgerMetrics) {
        let i = match self.slots.get(self.last) {
            Some(slot) if slot.name == name => self.last,
            _ => self.slot(name, metrics),
        };
        self.last = i;
        if let Some(slot) = self.slots.get_mut(i) {
            if slot.pending == 0 {
                self.dirty.push(i);
            }
            slot.pending += 1;
            slot.last_ts = ts_millis;
        }
    }

    /// Moves the counts since the last call into `batch` (cleared first).
    pub(crate) fn take_batch(&mut self, batch: &mut Batch) {
        batch.clear();
        for i in self.dirty.drain(..) {
            if let Some(slot) = self.slots.get_mut(i) {
                batch.push((i, slot.pending, slot.last_ts));
                slot.pending = 0;
            }
        }
    }

    /// Adds a batch's counts to the metrics.
    pub(crate) fn publish(&self, batch: &Batch) {
        for &(i, n, ts) in batch {
            if let Some(slot) = self.slots.get(i) {
                slot.metrics.appends.inc_by(n);
                slot.metrics.set_last(ts);
            }
        }
    }
}

/// Why a push of a signed checkpoint to a witness failed: the `reason` label of
/// `pip_ledger_witness_push_errors_total` ([`pip_conventions::witness_error`]).
#[cfg(feature = "signing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError {
    /// The witness could not be reached (connection refused or reset, name not resolved, a
    /// response that is not HTTP). Retried with backoff.
    Unreachable,
    /// The witness did not answer within the request timeout. Retried with backoff.
    Timeout,
    /// The witness answered 409: it holds another tree than the pusher assumed. Each 409 is
    /// counted (a witness that forgot what it cosigned is worth knowing about); when its body
    /// gives a size this checkpoint extends, the pusher asks again at once with a proof from
    /// it. A witness whose tree is larger than the checkpoint (or of its size with another
    /// root) is counted here too and tried again at the next checkpoint.
    Conflict,
    /// The witness refused the consistency proof (422), or the proof from the size it holds
    /// cannot be made from the ledger's tree. Tried again at the next checkpoint.
    Inconsistent,
    /// The witness refused the request: 403 (the checkpoint's signature is not one of the keys
    /// it knows for the log), 404 (it does not witness the log) or another 4xx. Tried again at
    /// the next checkpoint.
    Refused,
    /// The witness answered 5xx or a status the protocol does not name. Retried with backoff.
    Server,
    /// The witness answered 200 but with no valid cosignature of this checkpoint by its key
    /// (another key, or a cosignature over something else); nothing is stored. Tried again at
    /// the next checkpoint.
    BadCosignature,
}

#[cfg(feature = "signing")]
impl PushError {
    /// Every reason, as exported at zero for each witness when the ledger opens.
    pub const ALL: [PushError; 7] = [
        PushError::Unreachable,
        PushError::Timeout,
        PushError::Conflict,
        PushError::Inconsistent,
        PushError::Refused,
        PushError::Server,
        PushError::BadCosignature,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        use pip_conventions::witness_error as w;
        match self {
            PushError::Unreachable => w::UNREACHABLE,
            PushError::Timeout => w::TIMEOUT,
            PushError::Conflict => w::CONFLICT,
            PushError::Inconsistent => w::INCONSISTENT,
            PushError::Refused => w::REFUSED,
            PushError::Server => w::SERVER,
            PushError::BadCosignature => w::BAD_COSIGNATURE,
        }
    }

    /// Whether the same checkpoint is tried again (after a backoff): the network or the
    /// witness's server failed, not the witness's judgement.
    pub fn is_transient(self) -> bool {
        matches!(self, PushError::Unreachable | PushError::Timeout | PushError::Server)
    }
}

#[cfg(feature = "witness")]
impl LedgerMetrics {
    /// One witness's series (the `witness` label is its key's name), with the cosigned time set
    /// to `opened_millis` (so that a witness that never answers is silent since the ledger
    /// opened), the cosigned size to `size`, and every error reason exported at zero.
    pub(crate) fn witness(&self, witness: &str, opened_millis: u64, size: u64) -> WitnessMeters {
        let labels = WitnessLabels { spec: self.spec.clone(), ledger: self.name.clone(), witness: witness.to_string() };
        let errors = PushError::ALL.map(|r| {
            let labels = WitnessErrorLabels {
                spec: self.spec.clone(),
                ledger: self.name.clone(),
                witness: witness.to_string(),
                reason: r.as_str().to_string(),
            };
            (r, self.witness_errors.get_or_create(&labels).clone())
        });
        let m = WitnessMeters {
            timestamp: self.witness_cosigned.get_or_create(&labels).clone(),
            size: self.witness_size.get_or_create(&labels).clone(),
            errors,
        };
        m.timestamp.set(opened_millis as f64 / 1000.0);
        m.size.set(i64::try_from(size).unwrap_or(i64::MAX));
        m
    }
}

/// One witness's series, as its pusher updates them.
#[cfg(feature = "witness")]
pub(crate) struct WitnessMeters {
    timestamp: FloatGauge,
    size: Gauge,
    errors: [(PushError, Counter); 7],
}

#[cfg(feature = "witness")]
impl WitnessMeters {
    /// A valid cosignature of the checkpoint of `size` entries arrived (and was stored) at `now_millis`.
    pub(crate) fn cosigned(&self, size: u64, now_millis: u64) {
        self.size.set(i64::try_from(size).unwrap_or(i64::MAX));
        self.timestamp.set(now_millis as f64 / 1000.0);
    }

    /// A push failed for `reason`.
    pub(crate) fn error(&self, reason: PushError) {
        if let Some((_, c)) = self.errors.iter().find(|(r, _)| *r == reason) {
            c.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::clock::ManualClock;
    use crate::evidence::Event;
    use crate::ledger::{Ledger, LedgerConfig, LedgerKey};
    use std::sync::Arc;

    fn errors(m: &Metrics, reason: &str) -> u64 {
        m.ledger_verification_errors
            .get_or_create(&VerificationErrorLabels { spec: "s".into(), ledger: "l".into(), reason: reason.into() })
            .get()
    }

    /// A verification that fails with an error (a changed magic byte, an
    /// emptied file) is counted by reason, so the alert that reads the counter sees it; the
    /// anomaly counters stay at zero (nothing was classified).
    #[test]
    fn a_verification_that_fails_with_an_error_is_counted_by_reason() {
        for damage in ["magic", "emptied"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("l.ledger");
            let m = Metrics::default();
            let (ledger, _) = Ledger::open(
                LedgerConfig::new("s", "l", &path),
                LedgerKey::generate().unwrap(),
                Arc::new(ManualClock::new(1_000)),
                Some(&m),
            )
            .unwrap();
            let event = Event {
                subsystem: "billing".into(),
                actor: "a".into(),
                action: "pay".into(),
                resource: "r".into(),
                payload: serde_json::json!({}),
                result: "ok".into(),
            };
            ledger.append(&event).unwrap();
            assert!(ledger.verify(1).unwrap().is_clean());
            assert!(reason::ALL.iter().all(|r| errors(&m, r) == 0), "every reason is exported at zero");
            let mut bytes = std::fs::read(&path).unwrap();
            match damage {
                "magic" => bytes[0] ^= 0xff,
                _ => bytes.clear(),
            }
            std::fs::write(&path, &bytes).unwrap();
            let e = ledger.verify(1).expect_err(damage);
            assert_eq!(error_reason(&e), reason::FORMAT, "{damage}: {e}");
            assert_eq!(errors(&m, reason::FORMAT), 1, "{damage}: {e}");
            ledger.verify(1).expect_err(damage);
            assert_eq!(errors(&m, reason::FORMAT), 2, "each failed run counts");
            let anomalies: u64 = AnomalyClass::ALL
                .iter()
                .map(|c| {
                    m.ledger_anomalies
                        .get_or_create(&AnomalyLabels { spec: "s".into(), ledger: "l".into(), class: c.as_str().into() })
                        .get()
                })
                .sum();
            assert_eq!(anomalies, 0);
            drop(ledger);
        }
    }

    #[test]
    fn batches_count_every_entry_once_with_the_last_time_of_each_subsystem() {
        let m = Metrics::default();
        let lm = LedgerMetrics::new(&m, "s", "l");
        let mut subs = Subsystems::default();
        subs.known("old", 5, &lm);
        for (name, ts) in [("a", 10), ("a", 11), ("b", 12), ("a", 13)] {
            subs.count(name, ts, &lm);
        }
        let mut batch = Batch::new();
        subs.take_batch(&mut batch);
        let named: Vec<(&str, u64, u64)> = batch.iter().map(|&(i, n, ts)| (subs.slots[i].name.as_str(), n, ts)).collect();
        assert_eq!(named, vec![("a", 3, 13), ("b", 1, 12)]);
        subs.publish(&batch);
        subs.take_batch(&mut batch);
        assert!(batch.is_empty(), "a batch is taken once");
        subs.count("old", 20, &lm);
        subs.take_batch(&mut batch);
        subs.publish(&batch);
        let get = |name: &str| {
            let l = SubsystemLabels { spec: "s".into(), ledger: "l".into(), subsystem: name.into() };
            (m.ledger_appends.get_or_create(&l).get(), m.ledger_last_append.get_or_create(&l).get())
        };
        assert_eq!(get("a"), (3, 0.013));
        assert_eq!(get("b"), (1, 0.012));
        assert_eq!(get("old"), (1, 0.020));
    }
}
