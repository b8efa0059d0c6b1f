//! Synthetic specs of any size, for benchmarks and load tests (`pipc` itself never uses them).

use std::fmt::Write;

use crate::ir::ConstructKind;

/// A valid single-file spec named `name` with `constructs` constructs: ledgers, invariants,
/// rate limits, thresholds, SLOs and versioned stores in rotation, one bundle and one dashboard.
/// Each construct is written as the bundled specs are, with a `doc` line, so the byte
/// count per construct (about 220) is close to theirs (about 280).
pub fn spec(name: &str, constructs: usize) -> String {
    let mut s = String::with_capacity(constructs * 260 + 512);
    let _ = write!(
        s,
        "// synthetic spec with {constructs} constructs\nspec {name} version \"1.0.0\" {{\n  owner   = \"team-{name}\"\n  runbook = \"https://runbooks.example.com/{name}\"\n  labels {{\n    team = \"{name}\"\n  }}\n}}\n"
    );
    let ledgers = constructs.div_ceil(50).max(1);
    let rotation: Vec<ConstructKind> = ConstructKind::ALL.into_iter().filter(|k| place(*k) == Place::Rotation).collect();
    let mut shown = Vec::new();
    for i in 0..constructs {
        let kind = if i < ledgers {
            ConstructKind::Ledger
        } else {
            // The rotation is never empty; a ledger is the harmless fallback all the same.
            rotation.get(i % rotation.len().max(1)).copied().unwrap_or(ConstructKind::Ledger)
        };
        if let Some(shown_as) = construct(&mut s, kind, i, ledgers)
            && shown.len() < 40
        {
            shown.push(shown_as);
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

/// Where a kind's constructs go in a synthetic spec.
#[derive(PartialEq, Eq)]
enum Place {
    /// First, one per 50 constructs: the others name them as evidence.
    Lead,
    /// In turn, in the registry's order, for the rest of the constructs.
    Rotation,
    /// Once, at the end ([`spec`] writes them).
    End,
}

fn place(kind: ConstructKind) -> Place {
    match kind {
        ConstructKind::Ledger => Place::Lead,
        ConstructKind::Invariant | ConstructKind::RateLimit | ConstructKind::Threshold | ConstructKind::Slo | ConstructKind::Versioned => {
            Place::Rotation
        }
        ConstructKind::Bundle | ConstructKind::Dashboard => Place::End,
    }
}

/// Writes construct number `i`, of kind `kind`, into `s`; returns its name when the
/// dashboard shows it. `ledgers` is how many ledgers lead the spec.
fn construct(s: &mut String, kind: ConstructKind, i: usize, ledgers: usize) -> Option<String> {
    match kind {
        ConstructKind::Ledger => {
            let _ = write!(
                s,
                "\n// evidence for shard {i}\nledger audit_{i} {{\n  doc = \"money movements and violations of shard {i}\"\n  key = env(\"AUDIT_KEY_{i}\")\n  checkpoint every 1000 entries or 10s\n  sync every 64 entries or 5ms\n  expect subsystem \"billing_{i}\" every 15m severity P1\n}}\n"
            );
            None
        }
        ConstructKind::Invariant => {
            let _ = write!(
                s,
                "\ninvariant balance_{i} {{\n  doc          = \"balance {i} never goes below zero\"\n  severity     = P{}\n  requires     amount > 0 && account.id != {i}\n  ensures      account.balance >= 0\n  on_violation = deny\n  evidence     = audit_{}\n}}\n",
                i % 4,
                i % ledgers
            );
            Some(format!("balance_{i}"))
        }
        ConstructKind::RateLimit => {
            let _ = write!(
                s,
                "\nrate_limit per_tenant_{i} {{\n  doc      = \"submissions per tenant on route {i}\"\n  key      = tenant\n  limit    = {} per 1s\n  severity = P2\n  alert when rejected_ratio > 0.05 for 5m\n}}\n",
                100 + i
            );
            Some(format!("per_tenant_{i}"))
        }
        ConstructKind::Threshold => {
            let _ = write!(
                s,
                "\nthreshold errors_{i} {{\n  doc  = \"share of 5xx responses of service {i}\"\n  expr = `sum(rate(http_requests_total{{job=\"svc_{i}\",code=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{job=\"svc_{i}\"}}[5m]))`\n  unit = percentunit\n  warn     when > 0.01 for 10m\n  critical when > 0.05 for 2m severity P0\n}}\n"
            );
            Some(format!("errors_{i}"))
        }
        // Events and latency SLOs in turn, grouped by tenant.
        ConstructKind::Slo if i.is_multiple_of(2) => {
            let _ = write!(
                s,
                "\nslo availability_{i} {{\n  doc       = \"requests of service {i} that do not fail\"\n  objective = 99.9%\n  period    = 30d\n  total     = `http_requests_total{{job=\"svc_{i}\"}}`\n  bad       = `http_requests_total{{job=\"svc_{i}\",code=~\"5..\"}}`\n  by        = [tenant]\n}}\n"
            );
            Some(format!("availability_{i}"))
        }
        ConstructKind::Slo => {
            let _ = write!(
                s,
                "\nslo latency_{i} {{\n  doc       = \"requests of service {i} served within 300ms\"\n  objective = 99%\n  period    = 28d\n  latency   = `http_request_duration_seconds{{job=\"svc_{i}\"}}`\n  le        = 300ms\n  buckets   = [50ms, 100ms, 300ms, 1s]\n}}\n"
            );
            Some(format!("latency_{i}"))
        }
        ConstructKind::Versioned => {
            let _ = write!(
                s,
                "\nversioned config_{i} {{\n  doc      = \"fee schedule {i} and its routing rules\"\n  history  = 1000\n  severity = P1\n  evidence = audit_{}\n}}\n",
                i % ledgers
            );
            Some(format!("config_{i}"))
        }
        // Written once, at the end.
        ConstructKind::Bundle | ConstructKind::Dashboard => None,
    }
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
