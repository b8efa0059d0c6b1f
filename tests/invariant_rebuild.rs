//! Editing a spec rebuilds the crates whose `#[pip_invariant]` read it, and the new checks
//! take effect: the expansion includes the spec's files, so cargo tracks them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pip_tests::ScratchCrate;

const SPEC: &str = r#"spec scratch version "1.0.0" {
  owner   = "team"
  runbook = "https://runbooks.example.com/scratch"
}

invariant big_enough {
  severity     = P2
  requires     x > LIMIT
  on_violation = deny
}
"#;

const MAIN: &str = r#"
#[pip_runtime::pip_invariant("scratch.big_enough")]
fn check(x: u32) -> u32 {
    x
}

fn main() {
    let x: u32 = std::env::args().nth(1).unwrap().parse().unwrap();
    println!("{}", check(x));
}
"#;

#[test]
fn editing_the_spec_rebuilds_the_crate_and_the_new_check_applies() {
    let krate = ScratchCrate::new("pip_rebuild_probe", "\n[package.metadata.pip]\nspecs = \"specs\"\n", "main.rs", MAIN).unwrap();
    std::fs::create_dir_all(krate.dir.join("specs")).unwrap();
    let spec_file = krate.dir.join("specs/scratch.pips");

    std::fs::write(&spec_file, SPEC.replace("LIMIT", "5")).unwrap();
    let run = krate.cargo(&["run", "--quiet", "--", "3"]).unwrap();
    assert!(!run.status.success(), "x = 3 passed `requires x > 5`:\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("requires `x > 5`"), "{}", String::from_utf8_lossy(&run.stderr));

    // Only the spec changes; cargo must notice and rebuild.
    std::fs::write(&spec_file, SPEC.replace("LIMIT", "1")).unwrap();
    let run = krate.cargo(&["run", "--", "3"]).unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("Compiling pip_rebuild_probe"), "the spec change did not rebuild the crate:\n{stderr}");
    assert!(run.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "3");
}
