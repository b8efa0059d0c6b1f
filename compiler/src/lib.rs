//! The `.pips` specification compiler: the front end ([`pip_frontend`], re-exported here
//! module by module) and the emitters that turn a checked spec into `generated/`.
//!
//! One straight line: `source → pest pairs → AST (spans) → checked IR → emitters`.
//! [`compile`] runs the first three stages; [`emit::emit_all`] runs the emitters and
//! [`build::write`] writes their artifacts (or [`build::check`] compares them).
#![warn(missing_docs)]

pub mod build;
pub mod emit;
pub mod synth;

pub use pip_frontend::{
    Compilation, VERSION, ast, ast_to_ir, compile, compile_str, diagnostics, fmt, ir, load, parallelism, sha256_hex, source, span,
    spec_hash, text_to_ast, units,
};
