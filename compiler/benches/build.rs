//! `pipc build` of a 10k-construct spec against `promtool check rules` on the rules it
//! writes, in the same run (the target: the build takes at most as long as the check).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use pip_compiler::source::{SourceFile, Sources};

/// What `pipc build` does: load, check, emit every artifact, write the changed files.
fn build(text: &str, out: &Path) {
    let mut sources = Sources::new();
    sources.add(SourceFile::new("bench.pips", text.to_string()));
    let c = pip_compiler::compile(&sources);
    assert!(!c.has_errors());
    let artifacts = pip_compiler::emit::emit_all(&c.specs).unwrap();
    pip_compiler::build::write(out, &artifacts, pip_compiler::build::Others::Prune).unwrap();
}

fn bench(c: &mut Criterion) {
    let text = pip_compiler::synth::spec("bench", 10_000);
    let dir = tempfile::tempdir().unwrap();
    build(&text, dir.path());
    let rules = dir.path().join("prometheus/bench.rules.yml");
    let status = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool is installed (tests/run-all.sh installs it)");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stdout));

    let mut group = c.benchmark_group("build_vs_promtool_10k");
    group.sample_size(10);
    group.bench_function("pipc_build", |b| {
        b.iter(|| {
            // A fresh output folder each time: every file is written, as in a first build.
            let out = tempfile::tempdir().unwrap();
            build(&text, out.path());
        })
    });
    group.bench_function("promtool_check_rules", |b| {
        b.iter(|| {
            let out = Command::new("promtool").args(["check", "rules"]).arg(&rules).output().unwrap();
            assert!(out.status.success());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
