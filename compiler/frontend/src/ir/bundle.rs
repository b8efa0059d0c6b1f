//! `bundle`: what an incident bundle carries and how large it may be.

use serde::Serialize;

use crate::span::SourceRef;
use crate::units::Duration;

/// One part of a bundle's `include` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    /// `include ledger <name>`: the slice of that ledger in the window, with its checkpoints;
    /// the name is resolved to a [`Ledger`](crate::ir::Ledger) of this spec.
    Ledger(String),
    /// `include specs`: the `.pips` sources of the spec.
    Specs,
    /// `include rules`: the generated Prometheus rules.
    Rules,
    /// `include dashboards`: the generated Grafana dashboards.
    Dashboards,
    /// `include timeline`: the HTML timeline of the window's ledger entries.
    Timeline,
}

/// A `bundle <name> { ... }` construct: what `pipc bundle` packs for an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    /// The construct's name, unique among the spec's constructs.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `window = 24h` (required): how far back from its end time a bundle reaches when the
    /// builder is given no start or window of its own; longer than zero.
    pub window: Duration,
    /// `max_size = 5MiB`, in bytes: building a larger bundle fails; default 5 MiB, never zero.
    pub max_size: u64,
    /// The `include` line's parts in the order written, each at most once; never empty.
    pub include: Vec<Include>,
}
