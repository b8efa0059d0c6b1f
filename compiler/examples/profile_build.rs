//! Times each emitter on a synthetic spec, for profilers.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]
use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let text = pip_compiler::synth::spec("prof", n);
    let (_, c) = pip_compiler::compile_str("p.pips", &text);
    for e in pip_compiler::emit::EMITTERS {
        let t = Instant::now();
        let out = (e.emit)(&c.specs[0]).unwrap();
        let bytes: usize = out.iter().map(|a| a.contents.len()).sum();
        eprintln!("{}: {:?}, {} bytes", e.name, t.elapsed(), bytes);
    }
    let t = Instant::now();
    let plan = pip_compiler::emit::plan::plan(&c.specs[0]);
    eprintln!("plan {:?}", t.elapsed());
    let t = Instant::now();
    let _ = pip_compiler::emit::prometheus::rules_yaml(&c.specs[0], &plan).unwrap();
    eprintln!("rules yaml {:?}", t.elapsed());
    let t = Instant::now();
    let _ = pip_compiler::emit::promtool::tests_yaml(&c.specs[0], &plan).unwrap();
    eprintln!("tests yaml {:?}", t.elapsed());
}
