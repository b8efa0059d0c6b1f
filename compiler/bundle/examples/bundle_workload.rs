//! The incident-bundle workload: writes a ledger of realistic events spread over 24 hours
//! through the runtime's `Ledger` (checkpoints as `specs/payments.pips` configures them), then
//! bundles the last 24 hours with `specs/payments.pips`'s `bundle incident` (5 MiB cap),
//! verifies the bundle, and prints its size and bytes per event.
//!
//! ```sh
//! cargo run --release -p pip-bundle --example bundle_workload -- --events 500000
//! ```
//!
//! Events: eight subsystems with their own actors, actions and resources (accounts, users,
//! batches, routes drawn from skewed distributions over tens of thousands of ids), payloads
//! with amounts, currencies, IPs, trace ids, latencies and a few violations; arrivals follow
//! a day/night rate curve. The generator is seeded, so every run writes the same events.

use std::path::PathBuf;

use pip_bundle::archive::Limits;
use pip_bundle::{BuildOptions, Silent, build, timeline, verify};
use pip_runtime::ledger::LedgerKey;

#[path = "workload/events.rs"]
mod events;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut events: u64 = 500_000;
    let mut dir = std::env::temp_dir().join("pip-bundle-workload");
    let mut spec = PathBuf::from("specs/payments.pips");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => events = args.next().ok_or("--events needs a number")?.parse()?,
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a path")?),
            "--spec" => spec = PathBuf::from(args.next().ok_or("--spec needs a path")?),
            other => return Err(format!("unknown argument `{other}` (use --events N, --dir PATH, --spec FILE)").into()),
        }
    }
    std::fs::create_dir_all(&dir)?;
    let ledger_path = dir.join("audit.ledger");
    for p in [ledger_path.clone(), dir.join("audit.ledger.ckpt")] {
        let _ = std::fs::remove_file(p);
    }
    let key = LedgerKey::from_hex(&"5a".repeat(32), "the workload")?;
    let origin = events::ORIGIN_MS;
    events::write_ledger(&ledger_path, &key, events)?;
    let ledger_bytes = std::fs::metadata(&ledger_path)?.len();
    let opts = BuildOptions {
        specs: vec![spec],
        bundle: Some("payments.incident".into()),
        ledgers: vec![(None, ledger_path.clone())],
        checkpoints: None,
        key: key.clone(),
        window_ms: None,
        from_ms: Some(origin),
        to_ms: Some(origin + 86_400_000),
        timeline_max_rows: timeline::DEFAULT_MAX_ROWS,
        threads: 2,
        allow_anomalies: false,
        signing_key: None,
        signed_file: None,
    };
    let built = build(&opts, &Silent)?;
    let out = dir.join("incident.zip");
    std::fs::write(&out, &built.zip)?;
    let v = verify(&built.zip, &key, &Limits::default())?;
    let slice_zipped = zipped_size(&built.zip, "ledger/audit.slice");
    let n = built.entries as f64;
    println!("events:            {}", built.entries);
    println!("ledger file:       {ledger_bytes} bytes ({:.1} bytes/event)", ledger_bytes as f64 / n);
    println!(
        "bundle:            {} bytes ({:.2} bytes/event), cap {}",
        built.zip.len(),
        built.zip.len() as f64 / n,
        built.manifest.max_size_bytes
    );
    println!("  ledger slice:    {} bytes compressed ({:.2} bytes/event)", slice_zipped, slice_zipped as f64 / n);
    println!("  checkpoints:     {}", built.manifest.ledgers.iter().map(|l| l.checkpoints.len()).sum::<usize>());
    println!("verified:          {} entries, {} checkpoints, {} files", v.entries, v.checkpoints, v.files);
    println!("wrote {}", out.display());
    Ok(())
}

/// The compressed size of one member of a ZIP.
fn zipped_size(zip: &[u8], name: &str) -> u64 {
    let Ok(mut a) = zip::ZipArchive::new(std::io::Cursor::new(zip)) else { return 0 };
    a.by_name(name).map(|f| f.compressed_size()).unwrap_or(0)
}
