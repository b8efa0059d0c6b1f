//! What the macro does with specs that do not check. A spec with errors makes every use of
//! the macro a compile error that shows each error after its `file:line:column`
//! (`ui/spec_error/`). An error the macro's build cannot see, in a threshold's PromQL (the
//! proc-macro builds the front end without the PromQL parser, and no threshold goes into
//! an expansion), does not stop it: the function expands and runs (`ui/promql_unchecked/`);
//! `pipc check`, which CI runs on the specs, is what refuses that spec (the front end's
//! `load` tests check both outcomes on the same file).
//!
//! trybuild compiles the cases in a project of its own under the target folder, away from
//! any specs: each group of cases reads its own folder through `PIP_SPECS`, which a test sets
//! by running itself again with the variable in its environment (setting it in-process would
//! need `unsafe`). The cases live here, not in pip-tests' `ui/`, because trybuild builds a
//! crate's dev-dependencies too, and pip-tests' (the payments service) need the real specs.
#![allow(missing_docs, clippy::expect_used, clippy::panic)]

const SPECS_ENV: &str = "PIP_SPECS";

/// Runs `cases` in a copy of this test binary whose `PIP_SPECS` is `specs` (relative to this
/// crate). `test` is the calling test's name, which the copy runs alone.
fn with_specs(test: &str, specs: &str, cases: impl FnOnce()) {
    if std::env::var_os(SPECS_ENV).is_some() {
        cases();
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(SPECS_ENV, std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(specs))
        .status()
        .expect("the test binary runs");
    assert!(status.success(), "trybuild cases failed (see above)");
}

#[test]
fn a_spec_with_errors_is_a_compile_error_that_shows_each_at_its_file_line_and_column() {
    with_specs("a_spec_with_errors_is_a_compile_error_that_shows_each_at_its_file_line_and_column", "tests/ui/spec_error/specs", || {
        trybuild::TestCases::new().compile_fail("tests/ui/spec_error/*.rs");
    });
}

#[test]
fn an_error_only_in_a_thresholds_promql_does_not_stop_the_macro() {
    with_specs("an_error_only_in_a_thresholds_promql_does_not_stop_the_macro", "tests/ui/promql_unchecked/specs", || {
        trybuild::TestCases::new().pass("tests/ui/promql_unchecked/*.rs");
    });
}
