//! `pipc` as a user runs it: exit codes, output, default paths, multi-file specs, `fmt`,
//! `build` and `build --check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

fn pipc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipc")).args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const HEADER: &str = "spec demo version \"1.0.0\" {\n  owner   = \"team\"\n  runbook = \"https://runbooks.example.com/demo\"\n}\n";

fn write(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// A temp folder with `specs/demo.pips` holding a valid spec.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/demo.pips", &format!("{HEADER}\nledger audit {{\n  key = env(\"K\")\n}}\n"));
    dir
}

#[test]
fn the_bundled_specs_are_clean_and_generated_is_up_to_date() {
    let check = pipc(&root(), &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stderr).contains("0 errors, 0 warnings"), "{}", text(&check.stderr));
    let build = pipc(&root(), &["build", "--check"]);
    assert_eq!(build.status.code(), Some(0), "generated/ is stale: {}{}", text(&build.stdout), text(&build.stderr));
}

#[test]
fn check_exits_1_on_errors_and_0_when_clean() {
    let dir = project();
    assert_eq!(pipc(dir.path(), &["check"]).status.code(), Some(0));
    write(dir.path(), "specs/demo.pips", &format!("{HEADER}\nbundle b {{\n  window = 0s\n  include specs\n}}\n"));
    let out = pipc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("specs/demo.pips:7:12"), "{err}");
    assert!(err.contains("the bundle window is zero"), "{err}");
    assert!(err.contains("help:"), "{err}");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = project();
    let bad_flag = pipc(dir.path(), &["check", "--no-such-flag"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    // Piped, with NO_COLOR: clap's message is plain text; `--color always` colors it.
    assert!(text(&bad_flag.stderr).contains("unexpected argument '--no-such-flag'"), "{}", text(&bad_flag.stderr));
    assert!(!text(&bad_flag.stderr).contains('\x1b'), "{:?}", text(&bad_flag.stderr));
    let colored = pipc(dir.path(), &["--color", "always", "check", "--no-such-flag"]);
    assert!(text(&colored.stderr).contains('\x1b'), "{:?}", text(&colored.stderr));
    assert_eq!(pipc(dir.path(), &["frobnicate"]).status.code(), Some(2));
    let missing = pipc(dir.path(), &["check", "nowhere/"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("`nowhere` does not exist"), "{}", text(&missing.stderr));
    write(dir.path(), "notes.txt", "hello");
    assert_eq!(pipc(dir.path(), &["check", "notes.txt"]).status.code(), Some(2));
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    assert_eq!(pipc(dir.path(), &["build", "empty"]).status.code(), Some(2));
    assert_eq!(pipc(dir.path(), &["--help"]).status.code(), Some(0));
}

#[test]
fn json_diagnostics_are_one_object_per_line_with_positions() {
    let dir = project();
    write(dir.path(), "specs/demo.pips", &format!("{HEADER}\ninvariant i {{\n  severity = P9\n  requires x >\n}}\n"));
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    // The JSON lines are the program's output: stdout, nothing on stderr.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    let first = &lines[0];
    assert_eq!(first["file"], "specs/demo.pips");
    assert!(first["line"].as_u64().unwrap() > 0);
    assert!(first["column"].as_u64().unwrap() > 0);
    assert_eq!(first["level"], "error");
    assert!(first["code"].as_str().unwrap().starts_with("pips::"));
}

#[test]
fn errors_of_all_files_and_all_constructs_are_reported_in_one_run() {
    let dir = project();
    write(dir.path(), "specs/a.pips", &format!("{}\nbundle b {{\n  window = 0s\n  include specs\n}}\n", HEADER.replace("demo", "a")));
    write(
        dir.path(),
        "specs/b.pips",
        &format!("{}\nledger l {{ key = 5 }}\nversioned v {{ history = 0 severity = P1 }}\n", HEADER.replace("demo", "b")),
    );
    write(dir.path(), "specs/c.pips", "spec c version \"1\" { owner = \n");
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    let err = text(&out.stdout);
    for code in ["pips::zero-window", "pips::key-source", "pips::zero-count", "pips::syntax"] {
        assert!(err.contains(code), "{code} missing from:\n{err}");
    }
}

#[test]
fn a_spec_may_span_several_files_of_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/shop/main.pips", &format!("{}\nledger audit {{\n  key = env(\"K\")\n}}\n", HEADER.replace("demo", "shop")));
    write(
        dir.path(),
        "specs/shop/checks.pips",
        "spec shop\n\ninvariant stock {\n  severity = P1\n  requires qty >= 0\n  evidence = audit\n}\n",
    );
    let out = pipc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("generated/ir/shop.json")).unwrap()).unwrap();
    let files: Vec<&str> = ir["spec"]["provenance"]["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    // Named below the spec root (`specs/`), not from where pipc ran.
    assert_eq!(files, ["shop/checks.pips", "shop/main.pips"]);
    assert_eq!(ir["spec"]["invariants"][0]["source"]["file"], "shop/checks.pips");
}

#[test]
fn a_spec_split_across_directories_or_defined_twice_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let def = format!("{}\nledger audit {{\n  key = env(\"K\")\n}}\n", HEADER.replace("demo", "shop"));
    write(dir.path(), "specs/a/main.pips", &def);
    write(dir.path(), "specs/b/more.pips", "spec shop\n");
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("pips::spec-directory"), "{}", text(&out.stdout));

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a/one.pips", &def);
    write(dir.path(), "specs/a/two.pips", &def);
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    assert!(text(&out.stdout).contains("is defined twice"), "{}", text(&out.stdout));
    // Every label: the first definition is a related location.
    let twice: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().find(|l| l.contains("is defined twice")).unwrap()).unwrap();
    assert_eq!(twice["related"][0]["label"], "first defined here", "{twice}");
    assert!(twice["related"][0]["line"].as_u64().unwrap() > 0, "{twice}");

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/a/one.pips", "spec orphan\n");
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    assert!(text(&out.stdout).contains("is never defined"), "{}", text(&out.stdout));
}

#[test]
fn dashboard_names_are_unique_across_specs() {
    let dir = tempfile::tempdir().unwrap();
    for spec in ["one", "two"] {
        write(
            dir.path(),
            &format!("specs/{spec}.pips"),
            &format!("{}\ndashboard main {{\n  title = \"Main\"\n}}\n", HEADER.replace("demo", spec)),
        );
    }
    let out = pipc(dir.path(), &["check", "--error-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("pips::duplicate-dashboard"), "{}", text(&out.stdout));
}

#[test]
fn build_is_deterministic_and_check_names_missing_stale_and_unexpected_files() {
    let dir = project();
    assert_eq!(pipc(dir.path(), &["build"]).status.code(), Some(0));
    let first = std::fs::read(dir.path().join("generated/ir/demo.json")).unwrap();
    assert_eq!(pipc(dir.path(), &["build"]).status.code(), Some(0));
    assert_eq!(std::fs::read(dir.path().join("generated/ir/demo.json")).unwrap(), first, "second build differs");
    assert_eq!(pipc(dir.path(), &["build", "--check"]).status.code(), Some(0));

    // Stale: the spec changed.
    write(dir.path(), "specs/demo.pips", &format!("{HEADER}\nledger audit {{\n  key = env(\"OTHER\")\n}}\n"));
    let out = pipc(dir.path(), &["build", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("generated/ir/demo.json: stale"), "{}", text(&out.stdout));
    assert_eq!(std::fs::read(dir.path().join("generated/ir/demo.json")).unwrap(), first, "--check wrote");

    // Missing and unexpected.
    pipc(dir.path(), &["build"]);
    std::fs::remove_file(dir.path().join("generated/ir/demo.json")).unwrap();
    write(dir.path(), "generated/ir/old.json", "{}");
    let out = pipc(dir.path(), &["build", "--check"]);
    let listed = text(&out.stdout);
    assert!(listed.contains("generated/ir/demo.json: missing"), "{listed}");
    assert!(listed.contains("generated/ir/old.json: not produced by any spec"), "{listed}");

    // build repairs both, and leaves files outside its folders alone.
    write(dir.path(), "generated/README.md", "mine");
    assert_eq!(pipc(dir.path(), &["build"]).status.code(), Some(0));
    assert!(!dir.path().join("generated/ir/old.json").exists());
    assert!(dir.path().join("generated/README.md").exists());
    assert_eq!(pipc(dir.path(), &["build", "--check"]).status.code(), Some(0));
}

#[test]
fn building_some_specs_keeps_the_files_of_the_others_unless_asked_to_prune() {
    let dir = project();
    write(dir.path(), "specs/other.pips", &HEADER.replace("spec demo", "spec other").replace("/demo", "/other"));
    assert_eq!(pipc(dir.path(), &["build"]).status.code(), Some(0));
    let other = dir.path().join("generated/ir/other.json");
    assert!(other.exists());

    // One spec into the shared folder: the other's files stay, and the build says so.
    let one = pipc(dir.path(), &["build", "specs/demo.pips"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert!(other.exists(), "building one spec removed another's output");
    let said = text(&one.stderr);
    assert!(said.contains("0 removed") && said.contains("are not produced by the specs built and were left in place (`--prune`"), "{said}");
    assert_eq!(pipc(dir.path(), &["build", "specs/demo.pips", "--check"]).status.code(), Some(0), "--check of one spec");
    let listed = pipc(dir.path(), &["build", "specs/demo.pips", "--check", "--prune"]);
    assert_eq!(listed.status.code(), Some(1));
    assert!(text(&listed.stdout).contains("generated/ir/other.json: not produced by any spec"), "{}", text(&listed.stdout));

    let pruned = pipc(dir.path(), &["build", "specs/demo.pips", "--prune"]);
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned.stderr));
    assert!(!other.exists(), "--prune kept a file no spec built produces");
    assert!(dir.path().join("generated/ir/demo.json").exists());
}

#[test]
fn build_with_errors_writes_nothing() {
    let dir = project();
    write(dir.path(), "specs/demo.pips", &format!("{HEADER}\nledger audit {{\n  key = 5\n}}\n"));
    let out = pipc(dir.path(), &["build", "--out", "out"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn fmt_rewrites_keeps_comments_and_is_idempotent() {
    let dir = project();
    let messy = format!("// top\n{HEADER}\nledger   audit{{ key=env(\"K\")   // the key\n checkpoint every 10 entries\n}}\n");
    write(dir.path(), "specs/demo.pips", &messy);
    let check = pipc(dir.path(), &["fmt", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stdout).contains("specs/demo.pips"));
    assert_eq!(std::fs::read_to_string(dir.path().join("specs/demo.pips")).unwrap(), messy, "--check wrote");
    assert_eq!(pipc(dir.path(), &["fmt"]).status.code(), Some(0));
    let once = std::fs::read_to_string(dir.path().join("specs/demo.pips")).unwrap();
    assert!(once.contains("// top") && once.contains("key = env(\"K\") // the key"), "{once}");
    assert_eq!(pipc(dir.path(), &["fmt", "--check"]).status.code(), Some(0));
    assert_eq!(pipc(dir.path(), &["fmt"]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(dir.path().join("specs/demo.pips")).unwrap(), once);
}

#[test]
fn fmt_leaves_files_with_syntax_errors_untouched() {
    let dir = project();
    let broken = format!("{HEADER}\nledger audit {{ key = \n");
    write(dir.path(), "specs/demo.pips", &broken);
    let out = pipc(dir.path(), &["fmt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not formatted"));
    assert_eq!(std::fs::read_to_string(dir.path().join("specs/demo.pips")).unwrap(), broken);
}

#[test]
fn hostile_files_never_panic_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
        ("long_line", format!("{HEADER}ledger l {{ doc = \"{}\" }}", "y".repeat(10 << 20)).into_bytes()),
        ("deep", format!("{HEADER}invariant i {{ requires {} }}", "(".repeat(1_000_000)).into_bytes()),
        ("braces", "{".repeat(1 << 20).into_bytes()),
    ];
    for (name, bytes) in cases {
        std::fs::write(dir.path().join(format!("{name}.pips")), bytes).unwrap();
        for format in ["human", "json"] {
            let out = pipc(dir.path(), &["check", "--error-format", format, &format!("{name}.pips")]);
            assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
            assert!(!text(&out.stderr).contains("panicked"), "{name}");
            assert!(out.stderr.len() + out.stdout.len() < 50_000, "{name}: {} bytes of diagnostics", out.stderr.len() + out.stdout.len());
        }
        // fmt formats what parses (the empty file, the long line) and refuses the rest.
        let fmt = pipc(dir.path(), &["fmt", &format!("{name}.pips")]);
        assert!(matches!(fmt.status.code(), Some(0 | 1)), "{name}: {:?}", fmt.status);
        assert!(!text(&fmt.stderr).contains("panicked"), "{name}");
    }
}
