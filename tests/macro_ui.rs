//! Misuse of `#[pip_invariant]` is a compile error on the offending tokens, with the original
//! item still emitted (one error, no cascade): trybuild cases in `ui/pip_invariant/`; misuse
//! of `pip_spec!` likewise, in `ui/pip_spec/`.
//!
//! trybuild compiles the cases in a project of its own under the target folder, whose
//! manifest is not beside any specs: the cases read the bundled `specs/` through `PIP_SPECS`.
//! The test sets it by running itself again with the variable in its environment (setting it
//! in-process would need `unsafe`).
#![allow(missing_docs, clippy::expect_used, clippy::panic)]

const SPECS_ENV: &str = "PIP_SPECS";

#[test]
fn misuse_is_a_compile_error_on_the_offending_tokens() {
    if std::env::var_os(SPECS_ENV).is_some() {
        let t = trybuild::TestCases::new();
        t.compile_fail("ui/pip_invariant/*.rs");
        t.compile_fail("ui/pip_spec/*.rs");
        return;
    }
    let specs = pip_tests::root().join("specs");
    let status = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "misuse_is_a_compile_error_on_the_offending_tokens", "--nocapture", "--test-threads=1"])
        .env(SPECS_ENV, &specs)
        .status()
        .expect("the test binary runs");
    assert!(status.success(), "trybuild cases failed (see above)");
}
