//! The attribute's arguments: `"spec.construct"`, then `key = <expr>` and `subsystem = "..."`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// The arguments of one `#[pip_invariant(...)]` as written, before [`crate::valid::target`] resolves them against the specs.
pub struct Args {
    /// `"spec.construct"`.
    pub target: LitStr,
    /// `key = <expr>`: the `key` word (errors point at it) and the expression a rate limit counts calls by.
    pub key: Option<(Ident, Expr)>,
    /// `subsystem = "..."`: the ledger subsystem of the function's violation events (default `invariants`).
    pub subsystem: Option<LitStr>,
}

struct Named {
    name: Ident,
    value: Expr,
}

impl Parse for Named {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let _: Token![=] = input.parse()?;
        let value: Expr = input.parse()?;
        Ok(Named { name, value })
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("expected the spec construct, e.g. #[pip_invariant(\"payments.balance_non_negative\")]"));
        }
        let target: LitStr = input.parse().map_err(|e| {
            syn::Error::new(e.span(), "expected the spec construct as a string, e.g. #[pip_invariant(\"payments.balance_non_negative\")]")
        })?;
        let mut args = Args { target, key: None, subsystem: None };
        if input.is_empty() {
            return Ok(args);
        }
        let _: Token![,] = input.parse()?;
        let named: Punctuated<Named, Token![,]> = Punctuated::parse_terminated(input)?;
        for n in named {
            match n.name.to_string().as_str() {
                "key" if args.key.is_none() => args.key = Some((n.name, n.value)),
                "subsystem" if args.subsystem.is_none() => match n.value {
                    Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => args.subsystem = Some(s),
                    other => return Err(syn::Error::new_spanned(other, "`subsystem` takes a string, e.g. subsystem = \"billing\"")),
                },
                "key" | "subsystem" => return Err(syn::Error::new_spanned(&n.name, format!("`{}` is given twice", n.name))),
                _ => {
                    return Err(syn::Error::new_spanned(
                        &n.name,
                        format!("unknown argument `{}`; #[pip_invariant] takes `key = <expr>` and `subsystem = \"...\"`", n.name),
                    ));
                }
            }
        }
        Ok(args)
    }
}
