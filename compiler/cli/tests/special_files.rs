//! Every path argument of every `pipc` command refuses what is not a regular file: a FIFO
//! (which would block a reader forever) and a link to `/dev/zero` (which would feed it
//! without end) are refused at once with exit 2 and a message that says so, for specs,
//! ledgers, checkpoint files, key files and bundles alike.
//!
//! The commands run as child processes under a generous kill timeout that is only a guard
//! against a hang failing the whole run: the assertions are on the exit code and the
//! message, never on how long a command took.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Only a guard: a command that hangs is killed after this and reported as hanging.
const HANG_GUARD: Duration = Duration::from_secs(120);

const SPEC: &str = r#"spec shop version "1.0.0" {
  owner   = "team-shop"
  runbook = "https://runbooks.example.com/shop"
}

ledger audit {
  key = env("PIP_AUDIT_KEY")
  checkpoint every 2 entries or 1h
  expect subsystem "billing" every 15m severity P1
}

bundle incident {
  window   = 24h
  max_size = 5MiB
  include ledger audit, specs, rules, dashboards, timeline
}
"#;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs pipc in `dir` with empty stdin; kills it (and fails) if it outlives the guard.
fn pipc(dir: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`pipc {}` hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A project: spec, private key, a ledger of three entries with its checkpoints, and a bundle.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("shop.pips"), SPEC).unwrap();
    let k = pipc(d, &["keygen", "-o", "key"]);
    assert_eq!(k.code, Some(0), "{}", k.stderr);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipc"))
        .args(["log", "append", "audit.ledger", "--key-file", "key", "--spec", "shop.pips"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = r#"{"subsystem":"billing","actor":"svc","action":"charge","resource":"acct/1"}"#;
    child.stdin.take().unwrap().write_all(format!("{line}\n{line}\n{line}\n").as_bytes()).unwrap();
    let a = child.wait_with_output().unwrap();
    assert_eq!(a.status.code(), Some(0), "{}", String::from_utf8_lossy(&a.stderr));
    let b = pipc(d, &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "incident.zip"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    // The special files: a FIFO and a link to /dev/zero under each name a command is given.
    for name in ["fifo", "fifo.pips", "fifo.ledger", "fifo.zip"] {
        mkfifo(&d.join(name));
    }
    for name in ["zero", "zero.pips", "zero.ledger", "zero.zip"] {
        std::os::unix::fs::symlink("/dev/zero", d.join(name)).unwrap();
    }
    dir
}

/// Every command line, with `@` standing for the special file (named with `@ext` when the
/// command needs an extension).
const COMMANDS: &[&[&str]] = &[
    &["check", "@.pips"],
    &["fmt", "--check", "@.pips"],
    &["build", "--check", "--out", "out", "@.pips"],
    &["verify-log", "@.ledger", "--key-file", "key"],
    &["verify-log", "audit.ledger", "--key-file", "@"],
    &["verify-log", "audit.ledger", "--key-file", "key", "--checkpoints", "@"],
    &["log", "append", "@.ledger", "--key-file", "key", "--subsystem", "a", "--actor", "b", "--action", "c", "--resource", "d"],
    &["log", "append", "new.ledger", "--key-file", "@", "--subsystem", "a", "--actor", "b", "--action", "c", "--resource", "d"],
    &[
        "log",
        "append",
        "audit.ledger",
        "--key-file",
        "key",
        "--checkpoints",
        "@",
        "--subsystem",
        "a",
        "--actor",
        "b",
        "--action",
        "c",
        "--resource",
        "d",
    ],
    &[
        "log",
        "append",
        "new.ledger",
        "--key-file",
        "key",
        "--spec",
        "@.pips",
        "--subsystem",
        "a",
        "--actor",
        "b",
        "--action",
        "c",
        "--resource",
        "d",
    ],
    &["log", "show", "@.ledger"],
    &["log", "summary", "@.ledger"],
    &["log", "dump", "@.ledger"],
    &["log", "gaps", "@.ledger", "--spec", "shop.pips"],
    &["log", "gaps", "audit.ledger", "--spec", "@.pips"],
    &["bundle", "--spec", "@.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "b.zip"],
    &["bundle", "--spec", "shop.pips", "--ledger", "@.ledger", "--key-file", "key", "-o", "b.zip"],
    &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--checkpoints", "@", "--key-file", "key", "-o", "b.zip"],
    &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "@", "-o", "b.zip"],
    &["verify-bundle", "@.zip", "--key-file", "key"],
    &["verify-bundle", "incident.zip", "--key-file", "@"],
];

fn expand(args: &[&str], special: &str) -> Vec<String> {
    args.iter()
        .map(|a| match a.strip_prefix('@') {
            Some(ext) => format!("{special}{ext}"),
            None => (*a).to_string(),
        })
        .collect()
}

fn assert_refused(d: &Path, args: &[String], kind: &str) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = pipc(d, &refs);
    let shown = format!("`pipc {}`: exit {:?}\nstdout: {}\nstderr: {}", args.join(" "), r.code, r.stdout, r.stderr);
    assert_eq!(r.code, Some(2), "{shown}");
    assert!(r.stderr.contains(&format!("{kind}, not a regular file")), "{shown}");
}

#[test]
fn a_fifo_given_for_any_path_is_refused_at_once_with_exit_2() {
    let dir = project();
    for args in COMMANDS {
        assert_refused(dir.path(), &expand(args, "fifo"), "a named pipe (FIFO)");
    }
}

#[test]
fn a_link_to_dev_zero_given_for_any_path_is_refused_with_exit_2() {
    let dir = project();
    for args in COMMANDS {
        assert_refused(dir.path(), &expand(args, "zero"), "a character device");
    }
}

/// The checkpoint file a command finds by itself (`LEDGER.ckpt`) is held to the same rule.
#[test]
fn a_special_file_in_place_of_the_default_checkpoint_file_is_refused() {
    let dir = project();
    let d = dir.path();
    for (special, kind) in [("fifo", "a named pipe (FIFO)"), ("zero", "a character device")] {
        std::fs::copy(d.join("audit.ledger"), d.join("copy.ledger")).unwrap();
        let _ = std::fs::remove_file(d.join("copy.ledger.ckpt"));
        std::os::unix::fs::symlink(d.join(special), d.join("copy.ledger.ckpt")).unwrap();
        for args in [
            vec!["verify-log", "copy.ledger", "--key-file", "key"],
            vec!["bundle", "--spec", "shop.pips", "--ledger", "copy.ledger", "--key-file", "key", "-o", "c.zip"],
            vec![
                "log",
                "append",
                "copy.ledger",
                "--key-file",
                "key",
                "--subsystem",
                "a",
                "--actor",
                "b",
                "--action",
                "c",
                "--resource",
                "d",
            ],
        ] {
            assert_refused(d, &args.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(), kind);
        }
    }
}

/// `pipc build` reads what its output folder holds to compare it: a FIFO or a link to
/// `/dev/zero` where an artifact belongs is refused, not read, and not replaced.
#[test]
fn a_special_file_where_an_artifact_belongs_is_refused_by_build() {
    let dir = project();
    let d = dir.path();
    let b = pipc(d, &["build", "--out", "out", "shop.pips"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    let artifact = d.join("out").join("ir").join("shop.json");
    assert!(artifact.is_file());
    for (special, kind) in [("fifo", "a named pipe (FIFO)"), ("zero", "a character device")] {
        std::fs::remove_file(&artifact).unwrap();
        std::os::unix::fs::symlink(d.join(special), &artifact).unwrap();
        for args in [["build", "--out", "out", "shop.pips"].as_slice(), ["build", "--check", "--out", "out", "shop.pips"].as_slice()] {
            assert_refused(d, &args.iter().map(|s| (*s).to_string()).collect::<Vec<_>>(), kind);
        }
        assert!(std::fs::symlink_metadata(&artifact).unwrap().file_type().is_symlink(), "the special file was replaced");
    }
}

/// The temporary files that `bundle -o`, `fmt` and `build` write before renaming them into
/// place are created anew: a FIFO planted at one is removed, never opened (opening it to
/// write would wait for a reader forever).
#[test]
fn a_fifo_at_a_temporary_output_path_is_replaced_not_opened() {
    let dir = project();
    let d = dir.path();
    mkfifo(&d.join("b.zip.pipc-tmp"));
    let b = pipc(d, &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "-o", "b.zip"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    let v = pipc(d, &["verify-bundle", "b.zip", "--key-file", "key"]);
    assert_eq!(v.code, Some(0), "{}", v.stderr);

    std::fs::write(d.join("messy.pips"), SPEC.replace("  owner   =", "owner=")).unwrap();
    mkfifo(&d.join("messy.pips-fmt-tmp"));
    let f = pipc(d, &["fmt", "messy.pips"]);
    assert_eq!(f.code, Some(0), "{}", f.stderr);
    assert_eq!(std::fs::read_to_string(d.join("messy.pips")).unwrap(), SPEC);

    std::fs::create_dir_all(d.join("gen").join("ir")).unwrap();
    mkfifo(&d.join("gen").join("ir").join("shop.pipc-tmp"));
    let g = pipc(d, &["build", "--out", "gen", "shop.pips"]);
    assert_eq!(g.code, Some(0), "{}", g.stderr);
    assert!(d.join("gen").join("ir").join("shop.json").is_file());
    for tmp in ["b.zip.pipc-tmp", "messy.pips-fmt-tmp", "gen/ir/shop.pipc-tmp"] {
        assert!(std::fs::symlink_metadata(d.join(tmp)).is_err(), "{tmp} is left behind");
    }
}

/// A spec folder holding a FIFO named like a spec is refused, not read.
#[test]
fn a_fifo_inside_a_spec_folder_is_refused() {
    let dir = project();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    std::fs::copy(dir.path().join("shop.pips"), specs.join("shop.pips")).unwrap();
    mkfifo(&specs.join("waiting.pips"));
    let r = pipc(dir.path(), &["check", "specs"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("waiting.pips") && r.stderr.contains("a named pipe (FIFO), not a regular file"), "{}", r.stderr);
}

/// Links are resolved, not refused: a key file, ledger and spec reached through links work.
#[test]
fn links_to_regular_files_are_followed() {
    let dir = project();
    let d = dir.path();
    std::os::unix::fs::symlink(d.join("key"), d.join("key-link")).unwrap();
    std::os::unix::fs::symlink(d.join("audit.ledger"), d.join("link.ledger")).unwrap();
    std::os::unix::fs::symlink(d.join("audit.ledger.ckpt"), d.join("link.ledger.ckpt")).unwrap();
    let v = pipc(d, &["verify-log", "link.ledger", "--key-file", "key-link"]);
    assert_eq!(v.code, Some(0), "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("clean"), "{}", v.stdout);
    let b = pipc(d, &["verify-bundle", "incident.zip", "--key-file", "key-link"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
}

/// A key file is read only as far as a key can be long.
#[test]
fn a_key_file_longer_than_any_key_is_refused_before_it_is_read() {
    let dir = project();
    let d = dir.path();
    let key = std::fs::read_to_string(d.join("key")).unwrap();
    std::fs::write(d.join("long"), format!("{}{}", key.trim(), " ".repeat(8192))).unwrap();
    let r = pipc(d, &["verify-log", "audit.ledger", "--key-file", "long"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("more than a key file can have (4096)"), "{}", r.stderr);
}

/// `pipc bundle` reads a checkpoint file streaming: a 1 GiB junk checkpoint file is bundled
/// (as an anomaly, with `--allow-anomalies`) under an address-space limit of half its size,
/// which reading it into memory would exceed (the allocation fails and the process aborts).
#[test]
fn a_huge_checkpoint_file_is_bundled_without_being_held_in_memory() {
    let dir = project();
    let d = dir.path();
    let ckpt = d.join("audit.ledger.ckpt");
    std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(1 << 30).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 524288 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_pipc"))
        .args(["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "--allow-anomalies", "-o", "big.zip"])
        .current_dir(d)
        .env("MALLOC_ARENA_MAX", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The bundle holds the window and says the ledger around it did not verify.
    let v = pipc(d, &["verify-bundle", "big.zip", "--key-file", "key"]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains("anomalies recorded in the bundled ledger"), "{}", v.stderr);
}

/// The identity a bundle carries (and its builder MACs) is the one verification settled on,
/// never an unverified header's: a ledger whose header has another ledger id (its MAC fails)
/// is bundled, with `--allow-anomalies`, under the id its checkpoint file's verified header
/// names.
#[test]
fn a_bundle_carries_the_verified_identity_not_a_changed_header() {
    let dir = project();
    let d = dir.path();
    let v = pipc(d, &["verify-log", "audit.ledger", "--key-file", "key", "--format", "json"]);
    let id = serde_json::from_str::<serde_json::Value>(&v.stdout).unwrap()["identity"]["id"].as_str().unwrap().to_string();
    let mut ledger = std::fs::read(d.join("audit.ledger")).unwrap();
    // The first byte of the ledger id: magic[8] version[2] reserved[2] key_id[16].
    ledger[28] ^= 0xFF;
    std::fs::write(d.join("audit.ledger"), &ledger).unwrap();
    let b =
        pipc(d, &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "--allow-anomalies", "-o", "c.zip"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    let files = pip_bundle::archive::read(&std::fs::read(d.join("c.zip")).unwrap(), &Default::default()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let ledgers = manifest["ledgers"].as_array().unwrap();
    assert_eq!(ledgers[0]["identity"]["id"].as_str(), Some(id.as_str()), "{manifest:#}");
}

/// A run of alike anomalies is recorded in the bundle with its count: 1000 junk checkpoints
/// are 1000 anomalies, as `verify-log` counts them, not one.
#[test]
fn a_run_of_anomalies_is_recorded_with_its_count() {
    let dir = project();
    let d = dir.path();
    let ckpt = d.join("audit.ledger.ckpt");
    let len = std::fs::metadata(&ckpt).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(len + 1000 * 80).unwrap();
    let v = pipc(d, &["verify-log", "audit.ledger", "--key-file", "key", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&v.stdout).unwrap();
    let runs = report["anomalies"].as_array().unwrap();
    let total: u64 = runs.iter().map(|a| a["count"].as_u64().unwrap()).sum();
    assert!(total >= 1000 && runs.len() < 10, "{report:#}");
    let b =
        pipc(d, &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "--allow-anomalies", "-o", "c.zip"]);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    assert!(b.stderr.contains("more like it"), "{}", b.stderr);
    let v = pipc(d, &["verify-bundle", "c.zip", "--key-file", "key"]);
    assert_eq!(v.code, Some(1), "{}", v.stderr);
    assert!(v.stderr.contains(&format!("{total} anomalies recorded in the bundled ledger")), "{}", v.stderr);
}

/// A ledger header's names are untrusted bytes: an escape sequence written into them (the
/// header's MAC then fails) reaches neither `verify-log`'s output nor `bundle`'s messages raw.
#[test]
fn control_characters_in_a_header_are_escaped_before_the_terminal_sees_them() {
    let dir = project();
    let d = dir.path();
    // The spec name: magic[8] version[2] reserved[2] key_id[16] ledger_id[16] u8:len spec[64].
    for f in ["audit.ledger", "audit.ledger.ckpt"] {
        let mut bytes = std::fs::read(d.join(f)).unwrap();
        assert_eq!(&bytes[44..49], b"\x04shop");
        bytes[45..49].copy_from_slice(b"\x1b[2J");
        std::fs::write(d.join(f), &bytes).unwrap();
    }
    let v = pipc(d, &["verify-log", "audit.ledger", "--key-file", "key"]);
    assert_eq!(v.code, Some(1), "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("spec `\\u{1b}[2J`"), "{}", v.stdout);
    let b =
        pipc(d, &["bundle", "--spec", "shop.pips", "--ledger", "audit.ledger", "--key-file", "key", "--allow-anomalies", "-o", "c.zip"]);
    assert_eq!(b.code, Some(2), "{}", b.stderr);
    assert!(b.stderr.contains("belongs to spec `\\u{1b}[2J`"), "{}", b.stderr);
    for out in [&v.stdout, &v.stderr, &b.stdout, &b.stderr] {
        assert!(!out.contains('\u{1b}'), "a raw escape reached the terminal: {out:?}");
    }
}

/// A spec path is judged before it is opened: a socket (which `open` cannot even open) is
/// refused as a socket, and a device is never opened to be refused.
#[test]
fn a_spec_path_is_refused_by_its_kind_before_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _listener = std::os::unix::net::UnixListener::bind(d.join("sock.pips")).unwrap();
    let r = pipc(d, &["check", "sock.pips"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("it is a socket, not a regular file"), "{}", r.stderr);
}
