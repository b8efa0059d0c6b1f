//! The expansion: the function with its body wrapped so that every exit passes the checks.
//!
//! ```text
//! fn f(args) -> R {
//!     static SITE: InvariantSite = ...;               // the spec's invariant
//!     const _: &[u8] = include_bytes!("spec.pips");   // rebuild when the spec changes
//!     <requires: count, or record the violation and deny/record>
//!     let result = call::<R, _>(|| { original body }); // `return` and `?` leave the closure
//!     <ensures, reading `result`; one reading `ok` inside `if let Ok(ok) = &result`>
//!     result
//! }
//! ```

use pip_frontend::ir::{self, OnViolation, Spec};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Expr, ItemFn, ReturnType};

use crate::attr::Args;
use crate::spec::{self, Loaded};
use crate::valid::{self, Target};

/// Expands one `#[pip_invariant]`: parses its arguments, resolves the construct in the crate's specs, and generates the checked function.
pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(args)?;
    let f: ItemFn = syn::parse2(item).map_err(|e| {
        syn::Error::new(e.span(), "#[pip_invariant] goes on a function with a body (a free function, a method, or an async fn)")
    })?;
    let dir = spec::specs_dir().map_err(|m| syn::Error::new_spanned(&args.target, m))?;
    let loaded = spec::load(&dir);
    match valid::target(&args, &loaded)? {
        Target::Invariant(spec, inv) => invariant(&args, f, spec, inv, &loaded),
        Target::RateLimit(spec, rl) => rate_limit(&args, f, spec, rl, &loaded),
    }
}

/// `include_bytes!` of the spec's files and `option_env!` of the override, so that cargo
/// rebuilds when one changes.
pub(crate) fn track(spec: &Spec, loaded: &Loaded) -> TokenStream {
    let paths: Vec<String> = spec
        .provenance
        .files
        .iter()
        .filter_map(|f| loaded.files.iter().find(|(name, _)| *name == f.file).map(|(_, p)| p.display().to_string()))
        .collect();
    let env = spec::SPECS_ENV;
    quote! {
        #( const _: &[u8] = ::core::include_bytes!(#paths); )*
        const _: ::core::option::Option<&str> = ::core::option_env!(#env);
    }
}

/// The return type to name in `call::<R, _>`: `_` when it cannot be named (`impl Trait`).
fn return_type(f: &ItemFn) -> TokenStream {
    match &f.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            if ty.to_token_stream().into_iter().any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "impl")) {
                quote!(_)
            } else {
                ty.to_token_stream()
            }
        }
    }
}

fn parse_expr(check: &ir::Check, lit: &syn::LitStr) -> syn::Result<Expr> {
    syn::parse_str::<Expr>(&check.expr)
        .map_err(|e| syn::Error::new_spanned(lit, format!("the spec's expression `{}` does not parse: {e}", check.expr)))
}

fn invariant(args: &Args, mut f: ItemFn, spec: &Spec, inv: &ir::Invariant, loaded: &Loaded) -> syn::Result<TokenStream> {
    if let Some((key, _)) = &args.key {
        return Err(syn::Error::new_spanned(key, format!("`key` is for rate limits, and `{}.{}` is an invariant", spec.name, inv.name)));
    }
    valid::checks_read_arguments(&f, inv, &loaded.dir)?;
    valid::checks_fit_the_return(&f, inv, &loaded.dir, &args.target)?;
    let policy = spec.severity(inv.severity);
    let deny = inv.on_violation == OnViolation::Deny;

    let spec_name = &spec.name;
    let inv_name = &inv.name;
    let level = &policy.level;
    let priority = inv.severity.as_str();
    let policy_tokens =
        if deny { quote!(::pip_runtime::invariant::Policy::Deny) } else { quote!(::pip_runtime::invariant::Policy::Record) };
    let evidence = match &inv.evidence {
        Some(l) => quote!(::core::option::Option::Some(#l)),
        None => quote!(::core::option::Option::None),
    };
    let kept = match inv.evidence_values {
        ir::EvidenceValues::Debug => quote!(::pip_runtime::invariant::EvidenceValues::Text),
        ir::EvidenceValues::Hash => quote!(::pip_runtime::invariant::EvidenceValues::Hashed),
        ir::EvidenceValues::Omit => quote!(::pip_runtime::invariant::EvidenceValues::Omitted),
    };
    let omit = inv.evidence_values == ir::EvidenceValues::Omit;
    let subsystem = args.subsystem.as_ref().map_or_else(|| pip_conventions::check::DEFAULT_SUBSYSTEM.to_string(), syn::LitStr::value);
    let ident = &f.sig.ident;
    let source = inv.source.to_string();
    let tracking = track(spec, loaded);

    let on_violation = on_violation(&f, deny);

    let arg_names: Vec<String> = valid::argument_names(&f).into_iter().filter(|n| n != "self").collect();
    let requires = inv
        .requires
        .iter()
        .map(|c| {
            let expr = parse_expr(c, &args.target)?;
            let text = &c.expr;
            let values = values(&arg_names, omit);
            Ok(quote! {
                let __pip_ok: bool = #expr;
                if __pip_ok {
                    __PIP_SITE.held(::pip_runtime::invariant::Clause::Requires);
                } else {
                    let __pip_violation = __PIP_SITE.violated(::pip_runtime::invariant::Clause::Requires, #text, #values);
                    #on_violation
                }
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let ensures = inv
        .ensures
        .iter()
        .map(|c| {
            let expr = parse_expr(c, &args.target)?;
            let text = &c.expr;
            let read: Vec<String> = c.reads.iter().filter(|r| *r != "self").cloned().collect();
            let values = values(&read, omit);
            let check = quote! {
                let __pip_ok: bool = #expr;
                if __pip_ok {
                    __PIP_SITE.held(::pip_runtime::invariant::Clause::Ensures);
                } else {
                    let __pip_violation = __PIP_SITE.violated(::pip_runtime::invariant::Clause::Ensures, #text, #values);
                    #on_violation
                }
            };
            // A check of the `Ok` value runs only on an `Ok` return.
            let ok = syn::Ident::new(pip_frontend::ast_to_ir::OK, Span::call_site());
            Ok(if c.reads.iter().any(|r| r == pip_frontend::ast_to_ir::OK) {
                quote! { if let ::core::result::Result::Ok(#ok) = &result { #check } }
            } else {
                check
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;

    let body = &f.block;
    let r = return_type(&f);
    let run = if f.sig.asyncness.is_some() {
        quote! { ::pip_runtime::invariant::future::<#r, _>(async #body).await }
    } else {
        quote! { ::pip_runtime::invariant::call::<#r, _>(|| #body) }
    };
    let new_body: syn::Block = syn::parse2(quote! {{
        #[allow(unused_imports)]
        use ::pip_runtime::invariant::{ViaDebug as _, ViaOpaque as _};
        static __PIP_SITE: ::pip_runtime::invariant::InvariantSite = ::pip_runtime::invariant::InvariantSite::new(
            #spec_name, #inv_name, #level, #priority, #policy_tokens, #evidence, #kept, #subsystem,
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)), #source,
        );
        #tracking
        #(#requires)*
        #[allow(clippy::let_and_return, clippy::redundant_closure_call)]
        let result = #run;
        #(#ensures)*
        result
    }})?;
    *f.block = new_body;
    Ok(f.into_token_stream())
}

/// `vec![("name", Some(<Debug of name>) or None), ...]`; under `evidence_values = omit` the
/// values are not even formatted: `vec![("name", None), ...]`.
fn values(names: &[String], omit: bool) -> TokenStream {
    if omit {
        return quote! { ::std::vec![ #( (#names, ::core::option::Option::None) ),* ] };
    }
    let idents: Vec<syn::Ident> = names.iter().map(|n| syn::Ident::new(n, Span::call_site())).collect();
    quote! { ::std::vec![ #( (#names, (&::pip_runtime::invariant::Repr(&#idents)).pip_value()) ),* ] }
}

/// What a violation (in `__pip_violation`) does. On `Result<_, E>` the conversion names `E`
/// and is spanned on it, so an `E` that cannot hold a violation is one error, on `E`; on a
/// `Result` alias it is spanned on the return type; elsewhere `deny` panics.
fn on_violation(f: &ItemFn, deny: bool) -> TokenStream {
    match (deny, valid::result_error_type(f)) {
        (false, _) => quote! { let _ = __pip_violation; },
        (true, Some(Some(e))) => {
            let span = syn::spanned::Spanned::span(&e);
            quote_spanned! { span => return ::core::result::Result::Err(::pip_runtime::invariant::into_error::<#e>(__pip_violation)); }
        }
        (true, Some(None)) => {
            let span = valid::error_type_span(f);
            quote_spanned! { span => return ::core::result::Result::Err(::core::convert::From::from(__pip_violation)); }
        }
        (true, None) => quote! { ::core::panic!("{}", __pip_violation); },
    }
}

/// A rate limit: the key is evaluated once on entry and the call is refused, like a `deny`
/// invariant, when the limiter says no.
///
/// ```text
/// fn f(args) -> R {
///     static LIMIT: LimitSite = ...;      // the spec's figures
///     if let Err(v) = LIMIT.check(&(key), || <Debug of key>) { <deny with v> }
///     original body
/// }
/// ```
fn rate_limit(args: &Args, mut f: ItemFn, spec: &Spec, rl: &ir::RateLimit, loaded: &Loaded) -> syn::Result<TokenStream> {
    let Some((_, key)) = &args.key else {
        return Err(syn::Error::new_spanned(
            &args.target,
            format!(
                "`{}.{}` is a rate limit keyed by {}: name the key, e.g. #[pip_invariant(\"{}.{}\", key = {})]",
                spec.name, rl.name, rl.key, spec.name, rl.name, rl.key
            ),
        ));
    };
    if let Some(sub) = &args.subsystem {
        return Err(syn::Error::new_spanned(sub, "`subsystem` names where invariant violations are recorded; a rate limit records none"));
    }
    let spec_name = &spec.name;
    let limit_name = &rl.name;
    let rate = rl.limit;
    let window_nanos = valid::window_nanos(rl, &args.target)?;
    let max_keys = rl.max_keys;
    let on_backend_failure = backend_failure(rl.on_backend_failure);
    let backend_timeout_millis = rl.backend_timeout.millis;
    let key_text = key.to_token_stream().to_string();
    let ident = &f.sig.ident;
    let source = rl.source.to_string();
    let tracking = track(spec, loaded);
    let on_violation = on_violation(&f, true);
    let key_span = syn::spanned::Spanned::span(key);
    // Spanned on the key, so that a key that is not `Hash` is reported there.
    let key_ref = quote_spanned! { key_span => &(#key) };
    let check = quote_spanned! { key_span =>
        __PIP_LIMIT.check(__pip_key, || (&::pip_runtime::invariant::Repr(__pip_key)).pip_repr())
    };
    let body = &f.block;
    let new_body: syn::Block = syn::parse2(quote! {{
        #[allow(unused_imports)]
        use ::pip_runtime::invariant::{ViaDebug as _, ViaOpaque as _};
        static __PIP_LIMIT: ::pip_runtime::invariant::LimitSite = ::pip_runtime::invariant::LimitSite::new(
            #spec_name, #limit_name, #rate, #window_nanos, #max_keys, #on_backend_failure, #backend_timeout_millis, #key_text,
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)), #source,
        );
        #tracking
        {
            let __pip_key = #key_ref;
            if let ::core::result::Result::Err(__pip_violation) = #check {
                #on_violation
            }
        }
        #body
    }})?;
    *f.block = new_body;
    Ok(f.into_token_stream())
}

/// The runtime's value of a limit's `on_backend_failure`.
pub(crate) fn backend_failure(b: ir::BackendFailure) -> TokenStream {
    match b {
        ir::BackendFailure::Allow => quote!(::pip_runtime::limiter::BackendFailure::Allow),
        ir::BackendFailure::Deny => quote!(::pip_runtime::limiter::BackendFailure::Deny),
    }
}
