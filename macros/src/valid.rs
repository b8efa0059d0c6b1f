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
            let returned = [pip_frontend::ast_to_ir::RESULT, pip_frontend::ast_to_ir::OK];
            let known = args.contains(read) || (may_read_result && returned.contains(&read.as_str()));
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

/// What an `ensures` may say of the return value: `ok` (the `Ok` value) needs a function
/// returning `Result`, and one not taking an argument named `ok`; on a function returning
/// `Result`, `result.<field>` can only be a mistake for `ok.<field>`. Each is an error on the
/// attribute's construct name, naming the spec line.
pub fn checks_fit_the_return(f: &ItemFn, inv: &ir::Invariant, dir: &std::path::Path, target: &syn::LitStr) -> syn::Result<()> {
    let ok = pip_frontend::ast_to_ir::OK;
    let returns_result = result_error_type(f).is_some();
    let returns = match &f.sig.output {
        ReturnType::Default => "()".to_string(),
        ReturnType::Type(_, ty) => type_text(ty),
    };
    for check in &inv.ensures {
        let at = format!(
            "`ensures {}` of invariant `{}` ({}:{})",
            check.expr,
            inv.name,
            check.source.file.split('/').fold(dir.to_path_buf(), |p, c| p.join(c)).display(),
            check.source.line
        );
        if check.reads.iter().any(|r| r == ok) {
            if !returns_result {
                return Err(syn::Error::new_spanned(
                    target,
                    format!("{at} reads `ok`, the `Ok` value of a function returning `Result`, but `{}` returns `{returns}`", f.sig.ident),
                ));
            }
            if argument_names(f).iter().any(|a| a == ok) {
                return Err(syn::Error::new_spanned(
                    &f.sig.inputs,
                    format!("{at} reads `ok` as the `Ok` value, but `{}` has an argument named `ok`: rename the argument", f.sig.ident),
                ));
            }
        }
        if returns_result {
            let Ok(expr) = syn::parse_str::<syn::Expr>(&check.expr) else { continue };
            let mut fields = ResultFields::default();
            syn::visit::Visit::visit_expr(&mut fields, &expr);
            if let Some(field) = fields.0 {
                return Err(syn::Error::new_spanned(
                    target,
                    format!(
                        "{at} reads `result.{field}`, but `result` is the whole `{returns}` that `{}` returns, which has no fields: \
                         write `ok.{field}` to check the `Ok` value (the check then runs only when the function returns `Ok`)",
                        f.sig.ident
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A type as a person writes it (`Result<Upstream, String>`, not the token stream's
/// `Result < Upstream , String >`).
fn type_text(ty: &Type) -> String {
    let mut text = quote::ToTokens::to_token_stream(ty).to_string();
    for (spaced, tight) in [(" < ", "<"), (" <", "<"), (" >", ">"), (" ,", ","), ("& ", "&"), (" :: ", "::")] {
        text = text.replace(spaced, tight);
    }
    text
}

/// The first field read directly on `result` (`result.tenant`, not `result.as_ref()`).
#[derive(Default)]
struct ResultFields(Option<String>);

impl<'a> syn::visit::Visit<'a> for ResultFields {
    fn visit_expr_field(&mut self, e: &'a syn::ExprField) {
        let mut base = e.base.as_ref();
        while let syn::Expr::Paren(p) = base {
            base = p.expr.as_ref();
        }
        if self.0.is_none()
            && let syn::Expr::Path(p) = base
            && p.path.is_ident(pip_frontend::ast_to_ir::RESULT)
        {
            self.0 = Some(match &e.member {
                syn::Member::Named(i) => i.to_string(),
                syn::Member::Unnamed(i) => i.index.to_string(),
            });
        }
        syn::visit::visit_expr_field(self, e);
    }
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
