//! `dashboard`: which constructs are shown, in which rows.

use serde::Serialize;

use super::ConstructRef;
use crate::span::SourceRef;

/// A `row "Title" { a, b }` line of a dashboard: one Grafana row of panels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The row's title as written, never blank.
    pub title: String,
    /// The constructs listed in the braces, in order, each resolved to a kind with panels
    /// ([`ConstructKind::showable`](crate::ir::ConstructKind::showable)); may be empty (a warning).
    pub members: Vec<ConstructRef>,
    /// Where the `row` line is written.
    pub source: SourceRef,
}

/// A `dashboard <name> { ... }` construct: one Grafana dashboard, written to
/// `generated/grafana/<name>.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    /// The construct's name; unique across all specs, because it names the dashboard's file.
    pub name: String,
    /// Where the construct's name is written.
    pub source: SourceRef,
    /// `title = "..."`: the dashboard's title in Grafana, never blank.
    pub title: String,
    /// The `row` lines, in the order written.
    pub rows: Vec<Row>,
}
