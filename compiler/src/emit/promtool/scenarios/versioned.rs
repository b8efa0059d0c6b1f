//! The scenarios of a `versioned` store's alert: its rollback-mismatch counter steps up by
//! one (fires), stays at zero (silent), or stays at a value it reached before (boundary: no
//! new event).

use super::{Scenario, counter_step, unexpected};
use crate::emit::plan::{AlertPlan, Signal};

/// The scenarios of the alert with its input present.
pub(super) fn scenarios(alert: &AlertPlan, for_s: u64, name: &str) -> Result<Vec<Scenario>, String> {
    match &alert.signal {
        Signal::CounterStep { metric, labels } => Ok(counter_step(metric, labels, for_s, name)),
        _ => Err(unexpected(alert, name)),
    }
}
