//! PromQL in backticks, parsed at compile time with GreptimeDB's `promql-parser` (a
//! maintained port of Prometheus's own grammar), so a broken query is a spec error rather
//! than a rules file that promtool or Prometheus rejects later.

use std::collections::BTreeSet;

use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;
use promql_parser::util::{ExprVisitor, walk_expr};

use super::values::Cx;
use crate::diagnostics::Diagnostic;
use crate::span::Span;

/// A parsed, checked query.
pub(crate) struct Query {
    pub normalized: String,
    pub metrics: Vec<String>,
}

/// Parses a threshold expression; it must give an instant vector or a scalar.
pub(crate) fn check(cx: &mut Cx<'_>, text: &str, span: Span) -> Option<Query> {
    if text.trim().is_empty() {
        cx.push(
            Diagnostic::error("pips::promql", span, "the PromQL expression is empty")
                .label("empty")
                .help("e.g. `sum(rate(http_requests_total[5m]))`"),
        );
        return None;
    }
    let expr = match promql_parser::parser::parse(text) {
        Ok(e) => e,
        Err(msg) => {
            cx.push(
                Diagnostic::error("pips::promql", span, format!("invalid PromQL: {}", msg.trim()))
                    .label("does not parse")
                    .help("the expression must be valid PromQL as Prometheus accepts it"),
            );
            return None;
        }
    };
    match expr.value_type() {
        ValueType::Vector | ValueType::Scalar => {}
        other => {
            let help = if other == ValueType::Matrix {
                "wrap the range selector in a function such as `rate(...)` or `avg_over_time(...)`"
            } else {
                "a threshold compares a number; use an expression that yields one"
            };
            cx.push(
                Diagnostic::error(
                    "pips::promql-type",
                    span,
                    format!("a threshold needs an instant vector or a scalar, but this expression gives a {other}"),
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
    Some(Query { normalized: expr.to_string(), metrics: names.0.into_iter().collect() })
}

#[derive(Default)]
struct Names(BTreeSet<String>);

impl ExprVisitor for Names {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        let selector = match e {
            Expr::VectorSelector(v) => Some(v),
            Expr::MatrixSelector(m) => Some(&m.vs),
            _ => None,
        };
        if let Some(name) = selector.and_then(|v| v.name.clone()) {
            self.0.insert(name);
        }
        Ok(true)
    }
}
