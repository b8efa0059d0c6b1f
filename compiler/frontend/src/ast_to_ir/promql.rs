//! PromQL in backticks, parsed at compile time with GreptimeDB's `promql-parser` (a
//! maintained port of Prometheus's own grammar), so a broken query is a spec error rather
//! than a rules file that promtool or Prometheus rejects later.

#[cfg(feature = "promql")]
use std::collections::BTreeSet;

#[cfg(feature = "promql")]
use promql_parser::parser::Expr;
#[cfg(feature = "promql")]
use promql_parser::parser::value::ValueType;
#[cfg(feature = "promql")]
use promql_parser::util::{ExprVisitor, walk_expr};

use super::values::Cx;
use crate::diagnostics::{Code, Diagnostic};
use crate::ir;
use crate::span::Span;

/// What a threshold's checked PromQL gives its IR node (the fields of [`ir::Threshold`] of the
/// same names).
pub(crate) struct Query {
    pub normalized: String,
    pub metrics: Vec<String>,
    pub selectors: Vec<ir::Selector>,
}

/// Functions that produce series without reading any: a threshold built on them would alert
/// with no data behind it, and its generated unit tests could not drive it.
#[cfg(feature = "promql")]
const SOURCELESS: [&str; 5] = ["vector", "absent", "absent_over_time", "time", "scalar"];

/// Parses a threshold expression; it must give an instant vector or a scalar.
pub(crate) fn check(cx: &mut Cx<'_>, text: &str, span: Span) -> Option<Query> {
    if text.trim().is_empty() {
        cx.push(
            Diagnostic::error(Code::Promql, span, "the PromQL expression is empty")
                .label("empty")
                .help("e.g. `sum(rate(http_requests_total[5m]))`"),
        );
        return None;
    }
    parse(cx, text, span)
}

/// Without the `promql` feature (the proc-macro's build, which never reads thresholds) the
/// expression is not parsed: the normalized form, metrics and selectors stay empty.
#[cfg(not(feature = "promql"))]
fn parse(_: &mut Cx<'_>, _: &str, _: Span) -> Option<Query> {
    Some(Query { normalized: String::new(), metrics: Vec::new(), selectors: Vec::new() })
}

#[cfg(feature = "promql")]
fn parse(cx: &mut Cx<'_>, text: &str, span: Span) -> Option<Query> {
    let expr = match promql_parser::parser::parse(text) {
        Ok(e) => e,
        Err(msg) => {
            cx.push(
                Diagnostic::error(Code::Promql, span, format!("invalid PromQL: {}", msg.trim()))
                    .label("does not parse")
                    .help("the expression must be valid PromQL as Prometheus accepts it"),
            );
            return None;
        }
    };
    match expr.value_type() {
        ValueType::Vector => {}
        other => {
            let help = match other {
                ValueType::Matrix => "wrap the range selector in a function such as `rate(...)` or `avg_over_time(...)`",
                ValueType::Scalar => {
                    "alerts are raised on series: use an expression over metrics, e.g. `sum(up)` instead of `scalar(sum(up))`"
                }
                _ => "a threshold compares a number; use an expression that yields one",
            };
            cx.push(
                Diagnostic::error(
                    Code::PromqlType,
                    span,
                    format!("a threshold needs an instant vector, but this expression gives a {other}"),
                )
                .label(format!("{other} expression"))
                .help(help),
            );
            return None;
        }
    }
    let mut names = Names::default();
    // The visitor never fails; the result only says whether the walk was cut short.
    let _ = walk_expr(&mut names, &expr);
    if let Some(f) = names.sourceless {
        cx.push(
            Diagnostic::error(Code::PromqlSourceless, span, format!("`{f}()` makes series out of nothing"))
                .label("not derived from metrics")
                .help("a threshold measures metrics: its series must come from selectors, so that it has data behind it when it fires (and its generated tests can drive it); alert on missing data with an `expect` in a ledger instead"),
        );
        return None;
    }
    Some(Query { normalized: expr.to_string(), metrics: names.metrics.into_iter().collect(), selectors: names.selectors })
}

#[cfg(feature = "promql")]
#[derive(Default)]
struct Names {
    metrics: BTreeSet<String>,
    selectors: Vec<ir::Selector>,
    sourceless: Option<&'static str>,
}

#[cfg(feature = "promql")]
impl ExprVisitor for Names {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        let selector = match e {
            Expr::VectorSelector(v) => Some(v),
            Expr::MatrixSelector(m) => Some(&m.vs),
            Expr::Call(c) => {
                if let Some(f) = SOURCELESS.iter().find(|f| **f == c.func.name) {
                    self.sourceless.get_or_insert(f);
                }
                None
            }
            _ => None,
        };
        if let Some(v) = selector {
            if let Some(name) = &v.name {
                self.metrics.insert(name.clone());
            }
            let matchers = v
                .matchers
                .matchers
                .iter()
                .filter(|m| m.name != "__name__")
                .map(|m| ir::LabelMatcher { name: m.name.clone(), op: op(&m.op).to_string(), value: m.value.clone() })
                .collect();
            let s = ir::Selector { metric: v.name.clone(), matchers };
            if !self.selectors.contains(&s) {
                self.selectors.push(s);
            }
        }
        Ok(true)
    }
}

/// A matcher's operator as PromQL writes it.
#[cfg(feature = "promql")]
pub(crate) fn op(m: &promql_parser::label::MatchOp) -> &'static str {
    use promql_parser::label::MatchOp;
    match m {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Re(_) => "=~",
        MatchOp::NotRe(_) => "!~",
    }
}
