//! The ledger commands as a user runs them: `keygen`, `log append|show|summary|gaps|dump`
//! and `verify-log`, with their output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

fn pipc(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: not the test's error.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_lines(b: &[u8]) -> Vec<serde_json::Value> {
    text(b).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A folder with a key and a ledger of four entries.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let k = pipc(dir.path(), &["keygen", "-o", "key"], "");
    assert_eq!(k.status.code(), Some(0), "{}", text(&k.stderr));
    let lines = concat!(
        r#"{"subsystem":"billing","actor":"svc","action":"charge","resource":"acct/1","payload":{"amount":5}}"#,
        "\n",
        r#"{"subsystem":"billing","actor":"svc","action":"refund","resource":"acct/2","result":"denied"}"#,
        "\n\n",
        r#"{"subsystem":"auth","actor":"sso","action":"login","resource":"user/7"}"#,
        "\n"
    );
    let a = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key"], lines);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let seqs: Vec<u64> = json_lines(&a.stdout).iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let one = pipc(
        dir.path(),
        &[
            "log",
            "append",
            "audit.ledger",
            "--key-file",
            "key",
            "--subsystem",
            "billing",
            "--actor",
            "ops",
            "--action",
            "rollback",
            "--resource",
            "cfg",
            "--payload",
            r#"{"to":3}"#,
        ],
        "",
    );
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert_eq!(json_lines(&one.stdout)[0]["seq"], 4);
    dir
}

#[test]
fn keygen_writes_a_private_key_never_prints_it_and_never_overwrites() {
    let dir = project();
    let key = std::fs::read_to_string(dir.path().join("key")).unwrap();
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = pipc(dir.path(), &["keygen", "-o", "key"], "");
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("exists already"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("key")).unwrap(), key);
    let shown = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--format", "json"], "");
    for out in [&again.stdout, &again.stderr, &shown.stdout, &shown.stderr] {
        assert!(!text(out).contains(key.trim()), "the key was printed");
    }
}

#[test]
fn a_clean_ledger_verifies_with_exit_0() {
    let dir = project();
    let v = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert_eq!(v.status.code(), Some(0), "{}{}", text(&v.stdout), text(&v.stderr));
    let out = text(&v.stdout);
    assert!(out.contains("4 entries (4 authentic)") && out.contains("through seq 4") && out.ends_with("clean\n"), "{out}");
    let j = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--format", "json", "--threads", "1"], "");
    let doc: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        (doc["clean"].as_bool(), doc["head"]["seq"].as_u64(), doc["anomalies"].as_array().map(Vec::len)),
        (Some(true), Some(4), Some(0))
    );
}

#[test]
fn verify_log_names_each_anomaly_with_its_class_and_position_and_exits_1() {
    let dir = project();
    let path = dir.path().join("audit.ledger");
    let dump = pipc(dir.path(), &["log", "dump", "audit.ledger"], "");
    let offset = json_lines(&dump.stdout)[1]["offset"].as_u64().unwrap() as usize;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset + 70] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let v = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert_eq!(v.status.code(), Some(1));
    let out = text(&v.stdout);
    assert!(out.starts_with(&format!("modified in ledger at offset {offset} (seq 2): entry seq 2 fails its MAC")), "{out}");
    assert!(out.contains("1 anomaly: 1 modified"), "{out}");
    let j = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--format", "json"], "");
    assert_eq!(j.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(doc["anomalies"][0]["class"], "modified");
    assert_eq!(doc["anomalies"][0]["seq"]["first"], 2);
    assert_eq!(doc["anomalies"][0]["offset"], offset as u64);
}

#[test]
fn a_cut_off_end_is_named_truncated_against_the_checkpoint_file() {
    let dir = project();
    let path = dir.path().join("audit.ledger");
    let dump = pipc(dir.path(), &["log", "dump", "audit.ledger"], "");
    let last = json_lines(&dump.stdout)[3]["offset"].as_u64().unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(last).unwrap();
    let v = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--checkpoints", "audit.ledger.ckpt"], "");
    assert_eq!(v.status.code(), Some(1));
    assert!(text(&v.stdout).starts_with("truncated in ledger"), "{}", text(&v.stdout));
}

#[test]
fn another_key_is_named_wrong_key() {
    let dir = project();
    let other = "ab".repeat(32);
    let v = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(["verify-log", "audit.ledger", "--key-env", "PIP_TEST_OTHER_KEY"])
        .env("PIP_TEST_OTHER_KEY", &other)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(1));
    let out = text(&v.stdout);
    assert!(out.starts_with("wrong_key in ledger at offset 0"), "{out}");
    assert!(!out.contains(&other) && !text(&v.stderr).contains(&other));
}

#[test]
fn usage_io_and_key_errors_exit_2() {
    let dir = project();
    let cases: [&[&str]; 5] = [
        &["verify-log", "audit.ledger"],
        &["verify-log", "missing.ledger", "--key-file", "key"],
        &["verify-log", "audit.ledger", "--key-file", "no-such-key"],
        &["verify-log", "key", "--key-file", "key"],
        &["log", "show", "audit.ledger", "--since", "yesterday"],
    ];
    for args in cases {
        let o = pipc(dir.path(), args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
    }
    std::fs::write(dir.path().join("short"), "abcd\n").unwrap();
    let short = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "short"], "");
    assert_eq!(short.status.code(), Some(2));
    assert!(text(&short.stderr).contains("has 2 bytes; at least 32 are required"), "{}", text(&short.stderr));
}

/// Nobody appends in the ledger's own subsystem: a forged `clock_jump` is refused, nothing is
/// written, and verify-log lists no event.
#[test]
fn an_append_in_the_reserved_subsystem_is_refused() {
    let dir = project();
    let forged = r#"{"subsystem":"pip","actor":"pip-ledger","action":"clock_jump","resource":"audit","result":"recorded"}"#;
    let before = std::fs::read(dir.path().join("audit.ledger")).unwrap();
    let o = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key"], &format!("{forged}\n"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("subsystem `pip` is reserved"), "{}", text(&o.stderr));
    let one = pipc(
        dir.path(),
        &[
            "log",
            "append",
            "audit.ledger",
            "--key-file",
            "key",
            "--subsystem",
            "pip",
            "--actor",
            "pip-ledger",
            "--action",
            "clock_jump",
            "--resource",
            "audit",
        ],
        "",
    );
    assert_eq!(one.status.code(), Some(2), "{}", text(&one.stderr));
    assert!(text(&one.stderr).contains("subsystem `pip` is reserved"), "{}", text(&one.stderr));
    assert_eq!(std::fs::read(dir.path().join("audit.ledger")).unwrap(), before, "nothing appended");
    let (code, v) = verify_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["events"], serde_json::json!([]), "{v}");
}

/// Input is streamed: a bad line stops the append there, after the lines before it.
#[test]
fn a_bad_input_line_stops_the_append_at_that_line() {
    let dir = project();
    let good = r#"{"subsystem":"a","actor":"b","action":"c","resource":"d"}"#;
    let input = format!("{good}\n{}\n{good}\n", r#"{"subsystem":"a","actr":"b"}"#);
    let o = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key"], &input);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("line 2 of standard input is not an entry")
            && text(&o.stderr).contains("the entry before it was appended (seq 5), nothing after"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(json_lines(&o.stdout).iter().map(|r| r["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![5]);
    let dump = pipc(dir.path(), &["log", "dump", "audit.ledger"], "");
    assert_eq!(json_lines(&dump.stdout).len(), 5);
    let first = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key"], "nonsense\n");
    assert_eq!(first.status.code(), Some(2));
    assert!(text(&first.stderr).contains("line 1 of standard input is not an entry") && text(&first.stderr).contains("; nothing appended"));
    let partial = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key", "--subsystem", "x"], "");
    assert_eq!(partial.status.code(), Some(2));
    assert!(text(&partial.stderr).contains("`--actor` is required"), "{}", text(&partial.stderr));
}

#[test]
fn show_filters_entries_and_prints_json_lines() {
    let dir = project();
    let o = pipc(dir.path(), &["log", "show", "audit.ledger", "--subsystem", "billing", "--actor", "svc"], "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let rows = json_lines(&o.stdout);
    assert_eq!(rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(rows[0]["payload"], serde_json::json!({ "amount": 5 }));
    assert_eq!(rows[1]["result"], "denied");
    assert_eq!(rows[0]["hash"], rows[1]["prev"]);
    let future = (now_ms() + 3_600_000).to_string();
    let none = pipc(dir.path(), &["log", "show", "audit.ledger", "--since", &future], "");
    assert_eq!((none.status.code(), none.stdout.len()), (Some(0), 0));
}

#[test]
fn summary_counts_activity_per_subsystem_actor_and_action() {
    let dir = project();
    let o = pipc(dir.path(), &["log", "summary", "audit.ledger", "--format", "json"], "");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let rows: Vec<(String, u64)> = json_lines(&o.stdout)
        .iter()
        .map(|r| {
            (
                format!("{}/{}/{}", r["subsystem"].as_str().unwrap(), r["actor"].as_str().unwrap(), r["action"].as_str().unwrap()),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("auth/sso/login".into(), 1),
            ("billing/ops/rollback".into(), 1),
            ("billing/svc/charge".into(), 1),
            ("billing/svc/refund".into(), 1)
        ]
    );
    let human = pipc(dir.path(), &["log", "summary", "audit.ledger"], "");
    let out = text(&human.stdout);
    assert!(out.starts_with("SUBSYSTEM  ACTOR  ACTION") && out.ends_with("4 entries\n"), "{out}");
}

#[test]
fn gaps_name_subsystems_silent_longer_than_the_spec_expects() {
    let dir = project();
    std::fs::write(
        dir.path().join("demo.pips"),
        "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nledger audit {\n  key = env(\"K\")\n  expect subsystem \"billing\" every 15m severity P1\n  expect subsystem \"export\" every 1h severity P3\n}\n",
    )
    .unwrap();
    let soon = (now_ms() + 60_000).to_string();
    let quiet = pipc(dir.path(), &["log", "gaps", "audit.ledger", "--spec", "demo.pips", "--now", &soon], "");
    assert_eq!(quiet.status.code(), Some(0), "{}{}", text(&quiet.stdout), text(&quiet.stderr));
    let later = (now_ms() + 2 * 3_600_000).to_string();
    let o = pipc(dir.path(), &["log", "gaps", "audit.ledger", "--spec", "demo.pips", "--now", &later, "--format", "json"], "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let gaps = json_lines(&o.stdout);
    let mut names: Vec<(&str, &str, bool)> =
        gaps.iter().map(|g| (g["subsystem"].as_str().unwrap(), g["severity"].as_str().unwrap(), g["ongoing"].as_bool().unwrap())).collect();
    names.sort();
    assert_eq!(names, vec![("billing", "P1", true), ("export", "P3", true)]);
    let unknown = pipc(dir.path(), &["log", "gaps", "audit.ledger", "--spec", "demo.pips", "--ledger", "nope"], "");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no ledger `nope` in the spec; it has `demo.audit`"), "{}", text(&unknown.stderr));
}

#[test]
fn append_with_a_spec_checkpoints_as_its_ledger_block_says() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(pipc(dir.path(), &["keygen", "-o", "key"], "").status.code(), Some(0));
    std::fs::write(
        dir.path().join("demo.pips"),
        "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nledger audit {\n  key = env(\"K\")\n  checkpoint every 10 entries\n}\n\nledger other {\n  key = env(\"K\")\n  checkpoint every 7 entries\n}\n",
    )
    .unwrap();
    let lines: String = (0..25)
        .map(|i| format!("{{\"subsystem\":\"billing\",\"actor\":\"svc\",\"action\":\"charge\",\"resource\":\"acct/{i}\"}}\n"))
        .collect();
    let checkpoints = |ledger: &str| -> Vec<u64> {
        let file = pip_runtime::ledger::CheckpointFile::read(&dir.path().join(format!("{ledger}.ckpt"))).unwrap();
        file.checkpoints.iter().map(|c| c.seq).collect()
    };

    let a = pipc(dir.path(), &["log", "append", "a.ledger", "--key-file", "key", "--spec", "demo.pips", "--ledger", "audit"], &lines);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(json_lines(&a.stdout).len(), 25);
    // Every 10 entries, and the head when the command ends.
    assert_eq!(checkpoints("a.ledger"), vec![10, 20, 25]);
    let o = pipc(dir.path(), &["log", "append", "o.ledger", "--key-file", "key", "--spec", "demo.pips", "--ledger", "demo.other"], &lines);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(checkpoints("o.ledger"), vec![7, 14, 21, 25]);
    let v = pipc(dir.path(), &["verify-log", "o.ledger", "--key-file", "key"], "");
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stdout));

    // Without a spec: the library's default (every 1000 entries), so only the closing one.
    let d = pipc(dir.path(), &["log", "append", "d.ledger", "--key-file", "key"], &lines);
    assert_eq!(d.status.code(), Some(0), "{}", text(&d.stderr));
    assert_eq!(checkpoints("d.ledger"), vec![25]);

    // Which ledger is ambiguous, unknown, or the spec is broken: nothing is appended.
    for (args, why) in [
        (vec!["--spec", "demo.pips"], "the spec has several ledgers (`demo.audit`, `demo.other`); name one with `--ledger`"),
        (vec!["--spec", "demo.pips", "--ledger", "nope"], "no ledger `nope` in the spec"),
        (vec!["--spec", "missing.pips"], "missing.pips"),
    ] {
        let mut all = vec!["log", "append", "x.ledger", "--key-file", "key"];
        all.extend(args);
        let x = pipc(dir.path(), &all, &lines);
        assert_eq!(x.status.code(), Some(2), "{all:?}");
        let stderr = text(&x.stderr);
        assert!(stderr.contains(why) && stderr.contains("nothing appended"), "{all:?}: {stderr}");
        assert!(!dir.path().join("x.ledger").exists(), "{all:?} created the ledger");
    }
    let orphan = pipc(dir.path(), &["log", "append", "x.ledger", "--key-file", "key", "--ledger", "audit"], &lines);
    assert_eq!(orphan.status.code(), Some(2), "--ledger without --spec is a usage error");
}

#[test]
fn a_checkpoint_file_that_is_not_one_is_named_with_its_own_magic() {
    let dir = project();
    std::fs::write(dir.path().join("audit.ledger.ckpt"), "garbage\n").unwrap();
    let v = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert_eq!(v.status.code(), Some(2));
    let said = text(&v.stderr);
    assert!(
        said.contains(
            "the checkpoint file `audit.ledger.ckpt` is unusable: not a pip checkpoint file (the file does not start with `PIPCKPTS`)"
        ),
        "{said}"
    );
}

#[test]
fn an_empty_time_range_is_a_usage_error() {
    let dir = project();
    for args in [
        vec!["log", "show", "audit.ledger", "--since", "2030-01-01", "--until", "2020-01-01"],
        vec!["log", "summary", "audit.ledger", "--since", "2030-01-01", "--until", "2030-01-01"],
    ] {
        let o = pipc(dir.path(), &args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(text(&o.stderr).contains("the time range is empty: `--since` must be before `--until`"), "{args:?}: {}", text(&o.stderr));
    }
    std::fs::write(
        dir.path().join("demo.pips"),
        "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n\nledger audit {\n  key = env(\"K\")\n}\n",
    )
    .unwrap();
    let o = pipc(dir.path(), &["log", "gaps", "audit.ledger", "--spec", "demo.pips", "--since", "2030-01-01", "--now", "2020-01-01"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("`--since` must be before `--now`"), "{}", text(&o.stderr));
}

fn verify_json(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["verify-log", "audit.ledger", "--key-file", "key", "--format", "json"];
    args.extend_from_slice(extra);
    let out = pipc(dir, &args, "");
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null))
}

#[test]
fn verify_log_reports_the_ledger_identity_and_expect_id_refuses_another() {
    let dir = project();
    let (code, doc) = verify_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "{doc}");
    let id = doc["identity"]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let human = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert!(text(&human.stdout).contains(&format!("id {id}")), "{}", text(&human.stdout));
    assert_eq!(verify_json(dir.path(), &["--expect-id", &id.to_uppercase()]).0, Some(0));
    let other = "0".repeat(32);
    let (code, doc) = verify_json(dir.path(), &["--expect-id", &other]);
    assert_eq!(code, Some(1));
    assert_eq!((doc["clean"].as_bool(), doc["identity_mismatch"]["found"].as_str()), (Some(false), Some(id.as_str())));
    let human = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--expect-id", &other], "");
    assert_eq!(human.status.code(), Some(1));
    assert!(text(&human.stdout).starts_with(&format!("other_ledger: the ledger's id is {id}, not {other}")), "{}", text(&human.stdout));
    let bad = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key", "--expect-id", "xyz"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("is not a ledger id"), "{}", text(&bad.stderr));
}

#[test]
fn a_junk_checkpoint_file_is_one_summarized_line_in_text_and_json() {
    let dir = project();
    let ckpt = dir.path().join("audit.ledger.ckpt");
    std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(4 << 20).unwrap();
    let human = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert_eq!(human.status.code(), Some(1));
    let out = text(&human.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("modified in checkpoints at offset ") && lines[0].contains(" alike in all, the last at offset "), "{out}");
    assert!(lines[1].starts_with("torn_tail in checkpoints"), "{out}");
    let (code, doc) = verify_json(dir.path(), &[]);
    assert_eq!(code, Some(1));
    let anomalies = doc["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 2, "{doc}");
    let count = anomalies[0]["count"].as_u64().unwrap();
    assert!(count > 50_000, "{doc}");
    assert_eq!(doc["anomaly_count"].as_u64(), Some(count + 1));
    assert!(anomalies[0]["last"]["offset"].as_u64().unwrap() > anomalies[0]["offset"].as_u64().unwrap());
}

#[test]
fn verify_log_on_a_ledger_held_by_a_live_writer_reports_bytes_in_flight_not_a_torn_tail() {
    use pip_runtime::clock::SystemClock;
    use pip_runtime::ledger::{Ledger, LedgerConfig, LedgerKey};
    let dir = project();
    let key = LedgerKey::from_file(&dir.path().join("key")).unwrap();
    let path = dir.path().join("audit.ledger");
    // This process appends (its flusher thread holds the writer's lock), and is mid-write.
    let (writer, _) = Ledger::open(LedgerConfig::new("", "", &path), key, std::sync::Arc::new(SystemClock::new()), None).unwrap();
    writer.sync().unwrap();
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&[150, 0, 0, 0, 1, 5]).unwrap();
    let (code, doc) = verify_json(dir.path(), &[]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!((doc["writer_live"].as_bool(), doc["in_flight"]["ledger_bytes"].as_u64()), (Some(true), Some(6)), "{doc}");
    let human = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert!(text(&human.stdout).contains("a live writer holds the ledger: 6 bytes of the ledger and 0 of the checkpoint file in flight"));
    writer.close().unwrap();
    drop(writer);
    let (code, doc) = verify_json(dir.path(), &[]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc["anomalies"][0]["class"], "torn_tail", "{doc}");
}

#[test]
fn append_refuses_a_lost_checkpoint_file_unless_told_to_start_a_new_history() {
    let dir = project();
    std::fs::remove_file(dir.path().join("audit.ledger.ckpt")).unwrap();
    let line = r#"{"subsystem":"billing","actor":"svc","action":"charge","resource":"acct/9"}"#;
    let refused = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key"], line);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("is missing") && text(&refused.stderr).contains("--new-checkpoint-history"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!dir.path().join("audit.ledger.ckpt").exists());
    let ok = pipc(dir.path(), &["log", "append", "audit.ledger", "--key-file", "key", "--new-checkpoint-history"], line);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(json_lines(&ok.stdout)[0]["seq"], 6, "seq 5 records the new history");
    let v = pipc(dir.path(), &["verify-log", "audit.ledger", "--key-file", "key"], "");
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stdout));
    assert!(text(&v.stdout).contains("event: new_checkpoint_history at seq 5"), "{}", text(&v.stdout));
    assert!(text(&v.stdout).contains("1 ledger event(s)"), "{}", text(&v.stdout));
}
