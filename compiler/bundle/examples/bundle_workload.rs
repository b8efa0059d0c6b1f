//! The incident-bundle workload: writes a ledger of realistic events spread over 24 hours
//! through the runtime's `Ledger` (checkpoints as `specs/payments.pips` configures them), then
//! bundles the last 24 hours with `specs/payments.pips`'s `bundle incident` (5 MiB cap),
//! verifies the bundle, and prints its size and bytes per event and the timeline's size. With
//! `--alerts N` it bundles the same window again with an alert history of `N` alerts read
//! through `--prometheus` from a stand-in Prometheus on loopback (each alert pending then
//! firing a few times a day, sampled at the query's step as Prometheus answers), and prints
//! both sizes.
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
    let mut alerts: usize = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => events = args.next().ok_or("--events needs a number")?.parse()?,
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a path")?),
            "--spec" => spec = PathBuf::from(args.next().ok_or("--spec needs a path")?),
            "--alerts" => alerts = args.next().ok_or("--alerts needs a number")?.parse()?,
            other => return Err(format!("unknown argument `{other}` (use --events N, --dir PATH, --spec FILE, --alerts N)").into()),
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
        prometheus: None,
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
    let timeline_of = |zip: &[u8]| (member(zip, "timeline.html").len(), zipped_size(zip, "timeline.html"));
    let (raw, zipped) = timeline_of(&built.zip);
    println!("  timeline.html:   {raw} bytes, {zipped} compressed");
    println!("wrote {}", out.display());
    if alerts > 0 {
        let url = stand_in_prometheus(alerts, origin, origin + 86_400_000)?;
        let with = build(
            &BuildOptions {
                prometheus: Some(pip_bundle::alerts::PrometheusSource { url, timeout: std::time::Duration::from_secs(60) }),
                ..opts
            },
            &Silent,
        )?;
        verify(&with.zip, &key, &Limits::default())?;
        let (raw, zipped) = timeline_of(&with.zip);
        println!("with {alerts} alerts: bundle {} bytes, cap {}", with.zip.len(), with.manifest.max_size_bytes);
        println!("  timeline.html:   {raw} bytes, {zipped} compressed");
        println!(
            "  alerts.json:     {} bytes, {} compressed",
            member(&with.zip, "alerts.json").len(),
            zipped_size(&with.zip, "alerts.json")
        );
    }
    Ok(())
}

/// One member of a ZIP, read whole.
fn member(zip: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    if let Ok(mut a) = zip::ZipArchive::new(std::io::Cursor::new(zip))
        && let Ok(mut f) = a.by_name(name)
    {
        let _ = f.read_to_end(&mut out);
    }
    out
}

/// Serves one range-query answer on loopback: `n` alerts, each pending for 5 minutes then
/// firing for 40, four times a day at staggered hours, sampled every step of the query
/// (a day over 10,000 points). Returns its URL.
fn stand_in_prometheus(n: usize, from_ms: u64, to_ms: u64) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::{BufRead as _, BufReader, Write as _};
    let step = pip_bundle::alerts::step_ms(from_ms, to_ms);
    let mut result = Vec::new();
    for a in 0..n as u64 {
        for (state, offset, length) in [("pending", 0, 300_000), ("firing", 300_000, 2_400_000)] {
            let mut values = Vec::new();
            for k in 0..4u64 {
                let start = from_ms + (a * 1_234_567 + k * 21_600_000) % (86_400_000 - 3_000_000) + offset;
                let mut t = start.div_ceil(step) * step;
                while t < start + length {
                    values.push(serde_json::json!([t as f64 / 1000.0, "1"]));
                    t += step;
                }
            }
            result.push(serde_json::json!({
                "metric": {"__name__": "ALERTS", "alertname": "PipThresholdCrossed", "alertstate": state, "construct": format!("threshold_{a}"), "severity": "medium", "spec": "payments"},
                "values": values,
            }));
        }
    }
    let body = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": result}}).to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(url)
}

/// The compressed size of one member of a ZIP.
fn zipped_size(zip: &[u8], name: &str) -> u64 {
    let Ok(mut a) = zip::ZipArchive::new(std::io::Cursor::new(zip)) else { return 0 };
    a.by_name(name).map(|f| f.compressed_size()).unwrap_or(0)
}
