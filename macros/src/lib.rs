//! `#[pip_invariant("spec.construct")]`: puts a spec's `requires`/`ensures` checks, or its
//! rate limit, into a Rust function. Use it through `pip_runtime::pip_invariant`.
//!
//! # Finding the spec
//! The attribute reads the specs of the crate being compiled with pip's compiler, once per
//! compiler process: the folder named by `[package.metadata.pip] specs = "..."` in the
//! crate's `Cargo.toml` (relative to it), or else the nearest `specs/` folder in the crate's
//! directory or one of its parents. The expansion includes the spec's files with
//! `include_bytes!`, so cargo rebuilds the crate when a spec changes.
//!
//! The specs are read and checked with `pip_frontend::load`, as `pipc` reads them. When any
//! spec in the folder has an error, every use of the attribute is a compile error that lists
//! the errors, each led by its `file:line:column`. The front end is built without its PromQL
//! parser (no threshold goes into an expansion, and a service need not compile it): an error
//! in a threshold's PromQL is left to `pipc check`.
//!
//! # Arguments
//! - `"spec.construct"`: an `invariant` or a `rate_limit` of a spec;
//! - `key = <expr>` (rate limits, required): what requests are counted by, e.g. `tenant_id`;
//! - `subsystem = "..."` (invariants, optional): the ledger subsystem of violation events
//!   (default `invariants`).
//!
//! `pip_spec!("payments")` reads the same specs and gives the spec's invariants, rate limits
//! and ledgers as a `pip_runtime::declared::SpecDecl`: a service calls its `declare()` at
//! start-up so that every series exists at zero, and opens ledgers with its `ledger_config`.
#![warn(missing_docs)]

mod attr;
mod declare;
mod expand;
mod spec;
mod valid;

use proc_macro::TokenStream;

/// Checks the spec's `requires` on entry and `ensures` on every exit of the function (or
/// consults the spec's rate limiter), counting every check and recording violations as
/// evidence. See the crate docs.
#[proc_macro_attribute]
pub fn pip_invariant(args: TokenStream, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item.clone());
    match expand::expand(args.into(), item2.clone()) {
        Ok(tokens) => tokens.into(),
        // The original item is emitted unchanged next to the error, so that the error is
        // the only one the user sees.
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item2);
            out.into()
        }
    }
}

/// The spec's invariants, rate limits and ledgers as a `pip_runtime::declared::SpecDecl` (a
/// constant expression): `static SPEC: SpecDecl = pip_spec!("payments");`.
#[proc_macro]
pub fn pip_spec(input: TokenStream) -> TokenStream {
    match declare::expand(input.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
