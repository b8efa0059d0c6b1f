//! Runs the stages on a synthetic spec for profilers: `grammar` (pest only), `parse` (to AST)
//! or `check` (everything).
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "check".into());
    let text = pip_compiler::synth::spec("prof", 10_000);
    for _ in 0..10 {
        match mode.as_str() {
            "grammar" => assert!(pip_compiler::text_to_ast::parse_only(&text)),
            "parse" => assert!(pip_compiler::text_to_ast::parse(pip_compiler::span::FileId(0), &text).is_ok()),
            _ => assert!(!pip_compiler::compile_str("p.pips", &text).1.has_errors()),
        }
    }
}
