//! Parse + check throughput on synthetic specs of 1k and 10k constructs.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pip_compiler::source::{SourceFile, Sources};

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_and_check");
    group.sample_size(20);
    for n in [1_000usize, 10_000] {
        let text = pip_compiler::synth::spec("bench", n);
        let mut sources = Sources::new();
        sources.add(SourceFile::new("bench.pips", text.clone()));
        assert!(pip_compiler::compile(&sources).diagnostics.is_empty());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("constructs", n), &sources, |b, sources| {
            b.iter(|| {
                let c = pip_compiler::compile(sources);
                assert!(!c.has_errors());
                c
            })
        });
    }
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
