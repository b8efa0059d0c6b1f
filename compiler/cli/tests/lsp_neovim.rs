//! `pipc lsp` with a real client: Neovim's built-in LSP client, headless and without any user
//! configuration, scripted by `compiler/lsp/tests/nvim/client.lua`. The script opens a copy
//! of `specs/payments.pips` with one unresolved reference and a badly indented line, waits for
//! the diagnostics, hovers a keyword and a reference, jumps to a definition, formats the buffer
//! and writes what it saw as JSON, which this test checks. Needs `nvim` (Debian's `neovim`
//! package; tests/run-all.sh installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../lsp/tests/nvim/client.lua");
const PAYMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/payments.pips");

#[test]
fn neovim_sees_diagnostics_hovers_definitions_and_formatting() {
    let Ok(version) = Command::new("nvim").arg("--version").output() else {
        panic!("`nvim` is not installed: `apt-get install neovim` (tests/run-all.sh installs it)");
    };
    assert!(version.status.success());

    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(PAYMENTS).unwrap();
    let spec = original.replacen("evidence     = audit", "evidence     = audti", 1).replacen(
        "  limit    = 100 per 1s",
        "        limit =    100 per 1s",
        1,
    );
    assert_ne!(spec, original);
    let spec_path = dir.path().join("payments.pips");
    std::fs::write(&spec_path, &spec).unwrap();
    let out_path = dir.path().join("result.json");

    let started = Instant::now();
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {SCRIPT}"))
        .env("PIP_PIPC", env!("CARGO_BIN_EXE_pipc"))
        .env("PIP_SPEC", &spec_path)
        .env("PIP_OUT", &out_path)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A generous deadline on Neovim quitting by itself; past it, it is killed (by its pid).
    let deadline = started + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nvim did not quit by itself; killed (pid {})", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("neovim session: {:?}", started.elapsed());
    assert!(status.success(), "nvim exited with {status}");
    let text = std::fs::read_to_string(&out_path).unwrap_or_else(|e| panic!("the script wrote no result ({e})"));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(r.get("error").is_none(), "the script failed: {} (steps done: {})", r["error"], r["steps"]);

    // Diagnostics: the same one `pipc check` reports, on the misspelled name.
    let diags = r["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    let (line, col) = find(&spec, "= audti", 2);
    assert_eq!((d["line"].as_u64(), d["col"].as_u64(), d["end_col"].as_u64()), (Some(line), Some(col), Some(col + 5)), "{d}");
    assert_eq!(d["code"], "pips::unresolved");
    assert!(d["message"].as_str().unwrap().contains("did you mean `audit`"), "{d}");
    let check = Command::new(env!("CARGO_BIN_EXE_pipc")).args(["check", "--error-format", "json"]).arg(&spec_path).output().unwrap();
    let printed = String::from_utf8_lossy(&check.stdout).to_string() + &String::from_utf8_lossy(&check.stderr);
    assert!(printed.contains("pips::unresolved") && printed.contains("audti"), "{printed}");

    // Hovers: the keyword's section of docs/language.md, and what a reference names.
    let keyword = r["hover_keyword"].as_str().unwrap();
    assert!(keyword.starts_with("## `rate_limit`"), "{keyword}");
    let reference = r["hover_reference"].as_str().unwrap();
    let ledger_line = spec.lines().position(|l| l.starts_with("ledger audit {")).unwrap() + 1;
    assert!(reference.contains("**ledger** `audit`") && reference.contains(&format!("payments.pips:{ledger_line}")), "{reference}");

    // The editor's cursor landed on the ledger's name.
    let (line, col) = find(&spec, "ledger audit {", 7);
    assert_eq!((r["definition"]["line"].as_u64(), r["definition"]["col"].as_u64()), (Some(line), Some(col)));

    // The formatted buffer is what `pipc fmt` writes.
    let fmt_copy = dir.path().join("fmt").join("payments.pips");
    std::fs::create_dir_all(fmt_copy.parent().unwrap()).unwrap();
    std::fs::write(&fmt_copy, &spec).unwrap();
    let fmt = Command::new(env!("CARGO_BIN_EXE_pipc")).arg("fmt").arg(&fmt_copy).output().unwrap();
    assert!(fmt.status.success(), "{}", String::from_utf8_lossy(&fmt.stderr));
    let expected = std::fs::read_to_string(&fmt_copy).unwrap();
    assert_ne!(expected, spec, "the copy was not formatted to begin with");
    assert_eq!(r["formatted"].as_str().unwrap(), expected);
}

/// 0-based line and byte column of `needle` in `text`, plus `skip` bytes.
fn find(text: &str, needle: &str, skip: u64) -> (u64, u64) {
    let at = text.find(needle).unwrap();
    let before = &text[..at];
    let line = before.matches('\n').count() as u64;
    let col = (at - before.rfind('\n').map_or(0, |i| i + 1)) as u64;
    (line, col + skip)
}
