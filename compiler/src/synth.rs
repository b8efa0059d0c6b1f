//! Synthetic specs of any size, for benchmarks and load tests (`pipc` itself never uses them).

use std::fmt::Write;

/// A valid single-file spec named `name` with `constructs` constructs: ledgers, invariants,
/// rate limits, thresholds and versioned stores in rotation, one bundle and one dashboard.
/// Each construct is written as the bundled specs are, with a `doc` line, so the byte
/// count per construct (about 220) is close to theirs (about 280).
pub fn spec(name: &str, constructs: usize) -> String {
    let mut s = String::with_capacity(constructs * 260 + 512);
    let _ = write!(
        s,
        "// synthetic spec with {constructs} constructs\nspec {name} version \"1.0.0\" {{\n  owner   = \"team-{name}\"\n  runbook = \"https://runbooks.example.com/{name}\"\n  labels {{\n    team = \"{name}\"\n  }}\n}}\n"
    );
    let ledgers = constructs.div_ceil(50).max(1);
    let mut shown = Vec::new();
    for i in 0..constructs {
        let body_kind = if i < ledgers { 0 } else { 1 + (i % 4) };
        match body_kind {
            0 => {
                let _ = write!(
                    s,
                    "\n// evidence for shard {i}\nledger audit_{i} {{\n  doc = \"money movements and violations of shard {i}\"\n  key = env(\"AUDIT_KEY_{i}\")\n  checkpoint every 1000 entries or 10s\n  sync every 64 entries or 5ms\n  expect subsystem \"billing_{i}\" every 15m severity P1\n}}\n"
                );
            }
            1 => {
                let _ = write!(
                    s,
                    "\ninvariant balance_{i} {{\n  doc          = \"balance {i} never goes below zero\"\n  severity     = P{}\n  requires     amount > 0 && account.id != {i}\n  ensures      account.balance >= 0\n  on_violation = deny\n  evidence     = audit_{}\n}}\n",
                    i % 4,
                    i % ledgers
                );
            }
            2 => {
                let _ = write!(
                    s,
                    "\nrate_limit per_tenant_{i} {{\n  doc      = \"submissions per tenant on route {i}\"\n  key      = tenant\n  limit    = {} per 1s\n  severity = P2\n  alert when rejected_ratio > 0.05 for 5m\n}}\n",
                    100 + i
                );
            }
            3 => {
                let _ = write!(
                    s,
                    "\nthreshold errors_{i} {{\n  doc  = \"share of 5xx responses of service {i}\"\n  expr = `sum(rate(http_requests_total{{job=\"svc_{i}\",code=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{job=\"svc_{i}\"}}[5m]))`\n  unit = percentunit\n  warn     when > 0.01 for 10m\n  critical when > 0.05 for 2m severity P0\n}}\n"
                );
            }
            _ => {
                let _ = write!(
                    s,
                    "\nversioned config_{i} {{\n  doc      = \"fee schedule {i} and its routing rules\"\n  history  = 1000\n  severity = P1\n  evidence = audit_{}\n}}\n",
                    i % ledgers
                );
            }
        }
        if body_kind != 0 && shown.len() < 40 {
            shown.push(match body_kind {
                1 => format!("balance_{i}"),
                2 => format!("per_tenant_{i}"),
                3 => format!("errors_{i}"),
                _ => format!("config_{i}"),
            });
        }
    }
    let _ = write!(
        s,
        "\nbundle incident {{\n  window   = 24h\n  max_size = 5MiB\n  include ledger audit_0, specs, rules, dashboards, timeline\n}}\n"
    );
    let _ = write!(s, "\ndashboard {name}_overview {{\n  title = \"{name} overview\"\n");
    for (r, chunk) in shown.chunks(8).enumerate() {
        let _ = writeln!(s, "  row \"Row {r}\" {{ {} }}", chunk.join(", "));
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_specs_compile_cleanly() {
        for n in [1, 7, 120] {
            let (_, c) = crate::compile_str("synth.pips", &super::spec("synth", n));
            assert!(c.diagnostics.is_empty(), "{n}: {:?}", c.diagnostics);
            assert_eq!(c.specs.len(), 1);
        }
    }
}
