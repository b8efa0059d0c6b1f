//! `pipc log append` streams its input: each line is appended, synced and acknowledged while
//! the input is still open, so memory stays bounded whatever the input's length (the peak
//! RSS for 1M and 10M entries is in BENCHMARKS.md).
//!
//! The child runs under a generous guard that only keeps a hang from stalling the run; the
//! assertions are on what the child printed and what the ledger holds, never on time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pip_runtime::ledger::query::LedgerReader;

/// Only a guard against a hang (a command that reads all its input before appending).
const HANG_GUARD: Duration = Duration::from_secs(120);

fn line(i: u64) -> String {
    format!(r#"{{"subsystem":"stream","actor":"test","action":"step","resource":"r/{i}","payload":{{"i":{i}}}}}"#)
}

#[test]
fn entries_are_appended_synced_and_acknowledged_while_the_input_is_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = Command::new(env!("CARGO_BIN_EXE_pipc")).args(["keygen", "-o", "key"]).current_dir(d).output().unwrap();
    assert_eq!(k.status.code(), Some(0));
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(["log", "append", "s.ledger", "--key-file", "key"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Receipts as the child prints them, read on a thread so that the test can give up.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { return };
            if tx.send(serde_json::from_str::<serde_json::Value>(&l).unwrap()).is_err() {
                return;
            }
        }
    });
    let receipt = |child: &mut std::process::Child| match rx.recv_timeout(HANG_GUARD) {
        Ok(r) => r["seq"].as_u64().unwrap(),
        Err(_) => {
            let _ = child.kill();
            panic!("no receipt while the input is open: `log append` does not stream");
        }
    };
    let mut seqs = Vec::new();
    for round in 0..3u64 {
        for i in 0..3 {
            writeln!(stdin, "{}", line(round * 3 + i)).unwrap();
        }
        stdin.flush().unwrap();
        for _ in 0..3 {
            seqs.push(receipt(&mut child));
        }
        // Acknowledged means synced: the entries are in the file, with the input still open.
        let reader = LedgerReader::open(&d.join("s.ledger")).unwrap();
        assert_eq!(reader.len() as u64, (round + 1) * 3);
        assert!(child.try_wait().unwrap().is_none(), "the command ended before its input did");
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(seqs, (1..=9).collect::<Vec<u64>>());
    let v = Command::new(env!("CARGO_BIN_EXE_pipc")).args(["verify-log", "s.ledger", "--key-file", "key"]).current_dir(d).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn a_line_longer_than_any_entry_is_refused_without_being_held() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        Command::new(env!("CARGO_BIN_EXE_pipc")).args(["keygen", "-o", "key"]).current_dir(d).output().unwrap().status.code(),
        Some(0)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(["log", "append", "s.ledger", "--key-file", "key"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // A first good line, then 64 MiB without a newline: the command stops reading it.
        let _ = writeln!(stdin, "{}", line(0));
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..64 {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2 of standard input is longer than") && stderr.contains("no entry is that long"), "{stderr}");
    assert!(stderr.contains("the entry before it was appended (seq 1), nothing after"), "{stderr}");
}
