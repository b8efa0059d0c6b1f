//! Times the stages of a compilation of a synthetic spec, for profilers.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]
use std::time::Instant;

use pip_compiler::source::{SourceFile, Sources};
use pip_compiler::span::FileId;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let text = pip_compiler::synth::spec("prof", n);
    for _ in 0..3 {
        let t = Instant::now();
        let mut sources = Sources::new();
        sources.add(SourceFile::new("p.pips", text.clone()));
        let load = t.elapsed();
        let t = Instant::now();
        let ast = pip_compiler::text_to_ast::parse(FileId(0), &text).unwrap();
        let parse = t.elapsed();
        let t = Instant::now();
        let files = [pip_compiler::ast_to_ir::ParsedFile { id: FileId(0), ast: &ast }];
        let (specs, diags) = pip_compiler::ast_to_ir::check(&sources, &files);
        let check = t.elapsed();
        let t = Instant::now();
        drop((specs, diags, ast));
        let drop_time = t.elapsed();
        let t = Instant::now();
        let c = pip_compiler::compile(&sources);
        let all = t.elapsed();
        assert!(!c.has_errors());
        eprintln!("{} bytes: load {load:?} parse {parse:?} check {check:?} drop {drop_time:?}; compile {all:?}", text.len());
    }
}
