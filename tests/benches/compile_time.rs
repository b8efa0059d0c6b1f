//! Build time of a crate with 200 `#[pip_invariant]` functions against the same crate
//! without the attribute, in one criterion run. Each sample rebuilds only that crate (its
//! dependencies are built once, into the workspace's target folder).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use pip_tests::ScratchCrate;

const FUNCTIONS: usize = 200;

fn source(annotated: bool) -> String {
    let mut s = String::from(
        "pub struct Account { pub balance: i64 }\n#[derive(Debug)]\npub struct Denied;\nimpl From<pip_runtime::Violation> for Denied { fn from(_: pip_runtime::Violation) -> Self { Denied } }\n",
    );
    for i in 0..FUNCTIONS {
        if annotated {
            s.push_str("#[pip_runtime::pip_invariant(\"payments.balance_non_negative\")]\n");
        }
        s.push_str(&format!(
            "pub fn withdraw_{i}(account: &mut Account, amount: i64) -> Result<i64, Denied> {{\n    account.balance -= amount + {i};\n    Ok(account.balance)\n}}\n"
        ));
    }
    s
}

fn build(krate: &ScratchCrate) {
    // Touch the source so that cargo rebuilds this crate and only it.
    let lib = krate.dir.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text).unwrap();
    let out = krate.cargo(&["build", "--quiet", "--lib"]).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn bench(c: &mut Criterion) {
    let specs = pip_tests::root().join("specs");
    let meta = format!("\n[package.metadata.pip]\nspecs = \"{}\"\n", specs.display());
    let plain = ScratchCrate::new("pip_compile_plain", &meta, "lib.rs", &source(false)).unwrap();
    let annotated = ScratchCrate::new("pip_compile_annotated", &meta, "lib.rs", &source(true)).unwrap();
    build(&plain);
    build(&annotated);
    let mut g = c.benchmark_group("build_200_functions");
    g.sample_size(10);
    g.bench_function("without_attribute", |b| b.iter(|| build(&plain)));
    g.bench_function("with_pip_invariant", |b| b.iter(|| build(&annotated)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
