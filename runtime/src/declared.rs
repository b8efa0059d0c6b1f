//! What a spec declares, as the service's process sees it: `pip_spec!("payments")` reads the
//! spec at compile time (as `#[pip_invariant]` does) and gives a [`SpecDecl`].
//!
//! [`SpecDecl::declare`] exports every invariant's check and violation counters and every
//! rate limit's series at zero when the service starts, before any annotated function runs:
//! a counter that first appears at 1 has no `increase()` in Prometheus, so a violation on the
//! first call after a restart would raise no alert. [`SpecDecl::ledger_config`] opens a
//! ledger as the spec's `ledger` block configures it (checkpoints, durability, expected
//! subsystems), so that its figures are never copied by hand.
//!
//! ```ignore
//! static SPEC: SpecDecl = pip_runtime::pip_spec!("payments");
//! SPEC.declare()?;
//! let config = SPEC.ledger_config("audit", data_dir.join("audit.ledger")).expect("the spec has ledger `audit`");
//! ```

use std::path::PathBuf;
use std::time::Duration;

use crate::global::runtime;
use crate::invariant::Clause;
use crate::ledger::{CheckpointPolicy, Durability, LedgerConfig};
use crate::limiter::{LimitConfig, LimiterError};
use crate::metrics::InvariantLabels;

/// A spec's constructs that have runtime series or configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecDecl {
    /// Spec id.
    pub name: &'static str,
    /// Its invariants.
    pub invariants: &'static [InvariantDecl],
    /// Its rate limits.
    pub limits: &'static [LimitDecl],
    /// Its ledgers.
    pub ledgers: &'static [LedgerDecl],
}

/// An invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvariantDecl {
    /// Its name.
    pub name: &'static str,
    /// Its severity's level label value (`critical`, ...).
    pub level: &'static str,
}

/// A rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecl {
    /// Its name.
    pub name: &'static str,
    /// Requests admitted per key and window.
    pub rate: u64,
    /// Window length in nanoseconds.
    pub window_nanos: u64,
    /// Most keys tracked at once.
    pub max_keys: u64,
}

/// A ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerDecl {
    /// Its name.
    pub name: &'static str,
    /// Checkpoint after this many entries.
    pub checkpoint_entries: Option<u64>,
    /// Checkpoint after this many milliseconds.
    pub checkpoint_every_millis: Option<u64>,
    /// `sync every append` (`true`), or group commit after `sync_entries` / `sync_every_millis`.
    pub sync_every_append: bool,
    /// Group commit: entry count.
    pub sync_entries: Option<u64>,
    /// Group commit: milliseconds.
    pub sync_every_millis: Option<u64>,
    /// The subsystems it expects evidence from.
    pub expected_subsystems: &'static [&'static str],
    /// `clock_tolerance`, milliseconds.
    pub clock_tolerance_millis: u64,
}

impl SpecDecl {
    /// Exports every invariant's counters at zero and registers every rate limit with the
    /// process's limiters (whose series start at zero). A limit the service registered
    /// already keeps its configuration. Call it once at start-up; calling it again changes
    /// nothing.
    pub fn declare(&self) -> Result<(), LimiterError> {
        let m = runtime().metrics();
        for inv in self.invariants {
            // Both clauses, as an annotated function's site exports them on its first call
            // (a series of a clause the invariant lacks stays at zero).
            for clause in [Clause::Requires, Clause::Ensures] {
                let labels = InvariantLabels {
                    spec: self.name.to_string(),
                    invariant: inv.name.to_string(),
                    check: clause.as_str().to_string(),
                    severity: inv.level.to_string(),
                };
                drop(m.invariant_checks.get_or_create(&labels));
                drop(m.invariant_violations.get_or_create(&labels));
            }
        }
        for l in self.limits {
            match runtime().limiters().register(self.limit_config(l)) {
                Ok(()) | Err(LimiterError::Duplicate { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The limiter configuration of a limit.
    pub fn limit_config(&self, l: &LimitDecl) -> LimitConfig {
        LimitConfig::new(self.name, l.name, l.rate, Duration::from_nanos(l.window_nanos)).with_max_keys(l.max_keys)
    }

    /// The ledger `name` as the spec configures it, in the file `path`; `None` when the spec
    /// has no such ledger.
    pub fn ledger_config(&self, name: &str, path: impl Into<PathBuf>) -> Option<LedgerConfig> {
        let l = self.ledgers.iter().find(|l| l.name == name)?;
        let mut config = LedgerConfig::new(self.name, l.name, path);
        config.checkpoint =
            CheckpointPolicy { every_entries: l.checkpoint_entries, every: l.checkpoint_every_millis.map(Duration::from_millis) };
        config.durability = if l.sync_every_append {
            Durability::EveryAppend
        } else {
            Durability::Group { entries: l.sync_entries, interval: l.sync_every_millis.map(Duration::from_millis) }
        };
        config.expected_subsystems = l.expected_subsystems.iter().map(|s| (*s).to_string()).collect();
        config.clock_tolerance = Duration::from_millis(l.clock_tolerance_millis);
        Some(config)
    }
}
