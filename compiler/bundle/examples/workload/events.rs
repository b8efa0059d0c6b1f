//! The seeded event generator of the incident-bundle workload (shared by the
//! `bundle_workload` example and the `bundle` benchmark).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pip_runtime::clock::{Clock, ManualClock};
use pip_runtime::evidence::Event;
use pip_runtime::ledger::{CheckpointPolicy, Durability, Ledger, LedgerConfig, LedgerKey};
use serde_json::json;

/// Where the day starts: 2026-01-01T00:00:00Z.
pub const ORIGIN_MS: u64 = 1_767_225_600_000;

/// Appends `events` events over the 24 hours from [`ORIGIN_MS`] to a new ledger at `path`
/// through the runtime's `Ledger`, checkpointed and synced as `specs/payments.pips` says.
pub fn write_ledger(path: &Path, key: &LedgerKey, events: u64) -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new(ORIGIN_MS);
    let mut cfg = LedgerConfig::new("payments", "audit", path);
    // As specs/payments.pips: checkpoint every 1000 entries or 10s, sync every 64 entries or 5ms.
    cfg.checkpoint = CheckpointPolicy { every_entries: Some(1000), every: Some(Duration::from_secs(10)) };
    cfg.durability = Durability::Group { entries: Some(64), interval: Some(Duration::from_millis(5)) };
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (ledger, _) = Ledger::open(cfg, key.clone(), shared, None)?;
    let mut r = Rng(7);
    let day_ms = 86_400_000f64;
    let mean_gap = day_ms / events as f64;
    let mut t_ms = 0f64;
    for _ in 0..events {
        // Exponential gaps, denser by day (rate follows a sine over 24 h, 0.4x to 1.6x).
        let phase = (t_ms / day_ms) * std::f64::consts::TAU;
        let rate = 1.0 - 0.6 * phase.cos();
        let gap = -(1.0 - r.unit()).ln() * mean_gap / rate;
        t_ms = (t_ms + gap).min(day_ms - 1.0);
        clock.set_nanos((t_ms * 1e6) as u64);
        ledger.append(&event(&mut r))?;
    }
    ledger.sync()?;
    ledger.close()?;
    Ok(())
}

/// A small, seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Skewed ids: a few are very common, most are rare (roughly Zipf-like).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((n as f64).powf(u) as u64).min(n)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len() as u64) as usize).copied().unwrap_or("")
    }
}

/// One event of the mix a payments service writes: 97% `ok`, 2% `denied`, 1% `error`, over
/// billing, auth, the gateway, fraud checks and other subsystems with skewed ids, and a rare
/// invariant violation, so that the slice compresses and the timeline fills as a real one would.
fn event(r: &mut Rng) -> Event {
    let roll = r.below(1000);
    let result = if roll < 970 {
        "ok"
    } else if roll < 990 {
        "denied"
    } else {
        "error"
    };
    let (subsystem, actor, action, resource, payload) = match r.below(100) {
        0..=29 => {
            let acct = r.skewed(50_000);
            let action = r.pick(&["charge", "charge", "charge", "refund", "authorize", "capture"]);
            let amount = (r.unit().powi(3) * 500_000.0) as u64 + 100;
            (
                "billing",
                format!("svc-billing-{}", r.below(6)),
                action,
                format!("acct/{acct}"),
                json!({"amount": amount, "currency": r.pick(&["EUR", "EUR", "USD", "GBP", "CHF"]), "tenant": format!("t-{}", r.skewed(400)), "trace": format!("{:08x}", r.next() as u32)}),
            )
        }
        30..=54 => {
            let user = r.skewed(20_000);
            (
                "auth",
                r.pick(&["sso", "sso", "api-key", "oauth"]).to_string(),
                r.pick(&["login", "login", "logout", "refresh", "mfa_challenge"]),
                format!("user/{user}"),
                json!({"ip": format!("10.{}.{}.{}", r.below(4), r.below(256), r.below(256)), "mfa": r.below(3) == 0}),
            )
        }
        55..=69 => (
            "api-gateway",
            format!("edge-{}", r.below(12)),
            "request",
            r.pick(&["/v1/payments", "/v1/payments/{id}", "/v1/refunds", "/v1/accounts/{id}", "/v1/balance", "/healthz"]).to_string(),
            json!({"status": if result == "ok" { 200 } else if result == "denied" { 403 } else { 503 }, "latency_ms": r.skewed(2_000), "trace": format!("{:08x}", r.next() as u32)}),
        ),
        70..=79 => (
            "fraud",
            "risk-engine".to_string(),
            r.pick(&["score", "score", "flag"]),
            format!("acct/{}", r.skewed(50_000)),
            json!({"score": r.below(1000), "model": r.pick(&["v7", "v8"])}),
        ),
        80..=87 => (
            "ledger-sync",
            format!("replicator-{}", r.below(3)),
            "replicate",
            format!("shard/{}", r.below(64)),
            json!({"lag_ms": r.skewed(5_000), "entries": r.below(500)}),
        ),
        88..=93 => (
            "notifications",
            "notifier".to_string(),
            r.pick(&["email", "sms", "webhook"]),
            format!("user/{}", r.skewed(20_000)),
            json!({"template": r.pick(&["receipt", "refund", "alert", "otp"])}),
        ),
        94..=97 => (
            "settlement",
            "batch".to_string(),
            r.pick(&["settle", "reconcile"]),
            format!("batch/{}", r.below(300)),
            json!({"count": r.below(5_000), "total": r.below(50_000_000)}),
        ),
        _ => {
            if r.below(20) == 0 {
                (
                    "billing",
                    "payments::transfer".to_string(),
                    "violation",
                    "payments.balance_non_negative".to_string(),
                    json!({"check": "ensures", "expr": "account.balance >= 0", "values": {"balance": format!("-{}", r.below(10_000))}}),
                )
            } else {
                (
                    "reporting",
                    "exporter".to_string(),
                    "export",
                    format!("report/{}", r.below(40)),
                    json!({"rows": r.below(100_000), "format": r.pick(&["csv", "parquet"])}),
                )
            }
        }
    };
    let result = if action == "violation" { "violated" } else { result };
    Event { subsystem: subsystem.into(), actor, action: action.into(), resource, payload, result: result.into() }
}
