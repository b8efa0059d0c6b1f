//! Checks of an attribute against its spec and its function, each an error on the
//! offending tokens.

use std::collections::BTreeSet;

use pip_frontend::ast_to_ir::did_you_mean;
use pip_frontend::ir::{self, Spec};
use pip_frontend::load::Checked;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::attr::Args;
use crate::spec::Loaded;

/// The construct the attribute's `"spec.construct"` resolves to, with the spec that holds it.
pub enum Target<'s> {
    /// An `invariant`: the function's body is wrapped in its `requires` and `ensures` checks.
    Invariant(&'s Spec, &'s ir::Invariant),
    /// A `rate_limit`: each call is decided by the limiter for the attribute's `key = <expr>`.
    RateLimit(&'s Spec, &'s ir::RateLimit),
}

/// The checked specs of `loaded`, or an error on `lit` that shows why there are none.
fn checked<'s>(lit: &syn::LitStr, loaded: &'s Loaded) -> syn::Result<&'s Checked> {
    loaded.checked.as_ref().map_err(|errors| {
        let dir = loaded.dir.display();
        syn::Error::new_spanned(lit, format!("the specs in {dir} have errors; run `pipc check {dir}`:\n{errors}"))
    })
}

/// The spec `spec_name` of the loaded specs; an error on `lit` when the specs do not check
/// or have no such spec.
pub fn spec_named<'s>(lit: &syn::LitStr, spec_name: &str, loaded: &'s Loaded) -> syn::Result<&'s Spec> {
    checked(lit, loaded)?.spec(spec_name).map_err(|e| syn::Error::new_spanned(lit, e.to_string()))
}

/// Resolves `"spec.construct"` in the loaded specs.
pub fn target<'s>(args: &Args, loaded: &'s Loaded) -> syn::Result<Target<'s>> {
    let lit = &args.target;
    let text = lit.value();
    let Some((spec_name, construct)) = text.split_once('.') else {
        checked(lit, loaded)?;
        return Err(syn::Error::new_spanned(
            lit,
            format!("expected \"spec.construct\", e.g. \"payments.balance_non_negative\", found \"{text}\""),
        ));
    };
    let spec = spec_named(lit, spec_name, loaded)?;
    if let Some(inv) = spec.invariants.iter().find(|i| i.name == construct) {
        return Ok(Target::Invariant(spec, inv));
    }
    if let Some(rl) = spec.rate_limits.iter().find(|r| r.name == construct) {
        return Ok(Target::RateLimit(spec, rl));
    }
    if let Some(other) = spec.construct(construct) {
        return Err(syn::Error::new_spanned(
            lit,
            format!("`{spec_name}.{construct}` is a {}; #[pip_invariant] takes an invariant or a rate_limit", other.kind.keyword()),
        ));
    }
    let candidates = spec.invariants.iter().map(|i| i.name.as_str()).chain(spec.rate_limits.iter().map(|r| r.name.as_str()));
    Err(syn::Error::new_spanned(
        lit,
        format!(
            "spec `{spec_name}` has no invariant or rate_limit named `{construct}`{}",
            did_you_mean(construct, candidates).map(|hint| format!("; {hint}")).unwrap_or_default()
        ),
    ))
}

/// A rate limit's window in nanoseconds, as the runtime's limiter counts it; an error on
/// `tokens` when that does not fit a `u64` (a window of over 584 years).
pub fn window_nanos(rl: &ir::RateLimit, tokens: impl quote::ToTokens) -> syn::Result<u64> {
    rl.window
        .millis
        .checked_mul(1_000_000)
        .ok_or_else(|| syn::Error::new_spanned(tokens, format!("the window of rate limit `{}` is too long", rl.name)))
}

/// The names a function's arguments bind (`self` for a receiver).
pub fn argument_names(f: &ItemFn) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for input in &f.sig.inputs {
        match input {
            FnArg::Receiver(_) => {
                names.insert("self".to_string());
            }
            FnArg::Typed(t) => pattern_names(&t.pat, &mut names),
        }
    }
    names
}

fn pattern_names(p: &Pat, out: &mut BTreeSet<String>) {
    match p {
        Pat::Ident(i) => {
            out.insert(i.ident.to_string());
            if let Some((_, sub)) = &i.subpat {
                pattern_names(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|e| pattern_names(e, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|e| pattern_names(e, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pattern_names(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|e| pattern_names(e, out)),
        Pat::Reference(r) => pattern_names(&r.pat, out),
        Pat::Type(t) => pattern_names(&t.pat, out),
        _ => {}
    }
}

/// Every name a check reads must be an argument (or `self`, or `result` in `ensures`).
/// `dir` is the specs folder: the message, for the terminal, names the spec file by its full
/// path (the IR names it below that folder).
pub fn checks_read_arguments(f: &ItemFn, inv: &ir::Invariant, dir: &std::path::Path) -> syn::Result<()> {
    let args = argument_names(f);
    let clauses = inv.requires.iter().map(|c| ("requires", c, false)).chain(inv.ensures.iter().map(|c| ("ensures", c, true)));
    for (clause, check, may_read_result) in clauses {
        for read in &check.reads {
            let known = args.contains(read) || (may_read_result && read == pip_frontend::ast_to_ir::RESULT);
            if !known {
                let list: Vec<&str> = args.iter().map(String::as_str).collect();
                // The offending tokens: the argument list that lacks the name.
                let offending = if f.sig.inputs.is_empty() {
                    quote::ToTokens::to_token_stream(&f.sig.ident)
                } else {
                    quote::ToTokens::to_token_stream(&f.sig.inputs)
                };
                return Err(syn::Error::new_spanned(
                    offending,
                    format!(
                        "`{clause} {}` of invariant `{}` ({}:{}) reads `{read}`, but `{}` has no argument named `{read}` (it has {})",
                        check.expr,
                        inv.name,
                        check.source.file.split('/').fold(dir.to_path_buf(), |p, c| p.join(c)).display(),
                        check.source.line,
                        f.sig.ident,
                        if list.is_empty() { "none".to_string() } else { list.join(", ") }
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `Result<T, E>` → `Some(Some(E))`; another `...Result<T>` alias → `Some(None)`; else `None`.
pub fn result_error_type(f: &ItemFn) -> Option<Option<Type>> {
    let ReturnType::Type(_, ty) = &f.sig.output else { return None };
    let Type::Path(p) = ty.as_ref() else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => {
            let types: Vec<&Type> = a
                .args
                .iter()
                .filter_map(|g| match g {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect();
            match types.as_slice() {
                [_, e] => Some(Some((*e).clone())),
                _ => Some(None),
            }
        }
        _ => Some(None),
    }
}

/// The span the "cannot hold a violation" error should land on.
pub fn error_type_span(f: &ItemFn) -> proc_macro2::Span {
    match &f.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => f.sig.ident.span(),
    }
}
