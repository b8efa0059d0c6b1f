//! Key files open to their group or to others: every command that reads a key warns, as ssh
//! does, and still runs (a key mounted from a secret store often arrives with mode 0644 in
//! a private folder, which pipc cannot judge). A private key file, or a key from the
//! environment, gets no warning.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn pipc(dir: &Path, args: &[&str], env: Option<(&str, &str)>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipc"));
    c.args(args).current_dir(dir).env("NO_COLOR", "1").stdin(Stdio::null());
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const APPEND: &[&str] = &["log", "append", "a.ledger", "--subsystem", "s", "--actor", "a", "--action", "x", "--resource", "r"];

#[test]
fn a_key_file_open_to_group_or_others_is_warned_about_and_still_used() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(pipc(d, &["keygen", "-o", "key"], None).status.code(), Some(0));
    let set = |mode: u32| std::fs::set_permissions(d.join("key"), std::fs::Permissions::from_mode(mode)).unwrap();
    let with_key = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
        v.extend(["--key-file".to_string(), "key".to_string()]);
        v
    };
    let run = |args: &[String]| pipc(d, &args.iter().map(String::as_str).collect::<Vec<_>>(), None);

    set(0o644);
    let a = run(&with_key(APPEND));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(
        text(&a.stderr),
        "pipc: warning: key file `key` is accessible to its group and others (mode 0644); a ledger key must be private to its owner\n  help: whoever can read the key can write entries and checkpoints that verify; run `chmod 600 key`\n"
    );
    set(0o640);
    let v = run(&with_key(&["verify-log", "a.ledger"]));
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stderr));
    assert!(text(&v.stderr).contains("key file `key` is accessible to its group (mode 0640)"), "{}", text(&v.stderr));

    // Private: no warning, from any command.
    set(0o600);
    for args in [with_key(APPEND), with_key(&["verify-log", "a.ledger"])] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    }
    // A key from the environment has no file to judge.
    let hex = std::fs::read_to_string(d.join("key")).unwrap();
    let e = pipc(d, &["verify-log", "a.ledger", "--key-env", "PIP_TEST_KEY"], Some(("PIP_TEST_KEY", hex.trim())));
    assert_eq!(e.status.code(), Some(0), "{}", text(&e.stderr));
    assert!(text(&e.stderr).is_empty(), "{}", text(&e.stderr));
}

#[test]
fn bundle_commands_warn_about_an_exposed_key_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(pipc(d, &["keygen", "-o", "key"], None).status.code(), Some(0));
    std::fs::set_permissions(d.join("key"), std::fs::Permissions::from_mode(0o604)).unwrap();
    std::fs::write(d.join("not-a-bundle.zip"), b"PK").unwrap();
    let o = pipc(d, &["verify-bundle", "not-a-bundle.zip", "--key-file", "key"], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).starts_with("pipc: warning: key file `key` is accessible to others (mode 0604)"), "{}", text(&o.stderr));
}
