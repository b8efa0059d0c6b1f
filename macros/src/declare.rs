//! `pip_spec!("payments")`: the spec's invariants, rate limits and ledgers as a
//! `pip_runtime::declared::SpecDecl`, so that a service exports their series at start-up and
//! opens its ledgers with the spec's figures.

use pip_frontend::ir::{DEFAULT_WITNESS_SILENCE, KeySource, Sync};
use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate::expand::{backend_failure, track};
use crate::spec;
use crate::valid::{spec_named, window_nanos};

/// Expands `pip_spec!("name")`.
pub fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let lit: LitStr =
        syn::parse2(input).map_err(|e| syn::Error::new(e.span(), "expected the spec's name, e.g. pip_spec!(\"payments\")"))?;
    let dir = spec::specs_dir().map_err(|m| syn::Error::new_spanned(&lit, m))?;
    let loaded = spec::load(&dir);
    let spec = spec_named(&lit, &lit.value(), &loaded)?;
    let name = &spec.name;
    let invariants = spec.invariants.iter().map(|inv| {
        let inv_name = &inv.name;
        let level = &spec.severity(inv.severity).level;
        quote! { ::pip_runtime::declared::InvariantDecl { name: #inv_name, level: #level } }
    });
    let limits = spec
        .rate_limits
        .iter()
        .map(|rl| {
            let (limit_name, rate, max_keys) = (&rl.name, rl.limit, rl.max_keys);
            let window_nanos = window_nanos(rl, &lit)?;
            let on_backend_failure = backend_failure(rl.on_backend_failure);
            let backend_timeout_millis = rl.backend_timeout.millis;
            Ok(quote! {
                ::pip_runtime::declared::LimitDecl {
                    name: #limit_name,
                    rate: #rate,
                    window_nanos: #window_nanos,
                    max_keys: #max_keys,
                    on_backend_failure: #on_backend_failure,
                    backend_timeout_millis: #backend_timeout_millis,
                }
            })
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let ledgers = spec.ledgers.iter().map(|l| {
        let ledger_name = &l.name;
        let opt = |v: Option<u64>| v.map_or_else(|| quote!(::core::option::Option::None), |v| quote!(::core::option::Option::Some(#v)));
        let checkpoint_entries = opt(l.checkpoint.every_entries);
        let checkpoint_every = opt(l.checkpoint.every.map(|d| d.millis));
        let (every_append, sync_entries, sync_every) = match &l.sync {
            Sync::EveryAppend => (true, opt(None), opt(None)),
            Sync::Group { entries, interval } => (false, opt(*entries), opt(interval.map(|d| d.millis))),
        };
        let expected = l.expects.iter().map(|e| &e.subsystem);
        let clock_tolerance = l.clock_tolerance.millis;
        let some_str =
            |v: Option<&str>| v.map_or_else(|| quote!(::core::option::Option::None), |v| quote!(::core::option::Option::Some(#v)));
        let signing = l.signing.as_ref();
        let (key_env, key_file) = match signing.map(|s| &s.key) {
            Some(KeySource::Env(v)) => (Some(v.as_str()), None),
            Some(KeySource::File(p)) => (None, Some(p.as_str())),
            None => (None, None),
        };
        let (signing_key_env, signing_key_file) = (some_str(key_env), some_str(key_file));
        let origin = some_str(signing.map(|s| s.origin.as_str()));
        let witnesses = signing.map_or(&[][..], |s| &s.witnesses[..]).iter().map(|w| {
            let (url, key) = (&w.url, &w.key);
            quote! { ::pip_runtime::declared::WitnessDecl { url: #url, key: #key } }
        });
        let witness_quorum = signing.map_or(0, |s| s.quorum);
        let witness_silence = signing.map_or(DEFAULT_WITNESS_SILENCE, |s| s.silence).millis;
        quote! {
            ::pip_runtime::declared::LedgerDecl {
                name: #ledger_name,
                checkpoint_entries: #checkpoint_entries,
                checkpoint_every_millis: #checkpoint_every,
                sync_every_append: #every_append,
                sync_entries: #sync_entries,
                sync_every_millis: #sync_every,
                expected_subsystems: &[#(#expected),*],
                clock_tolerance_millis: #clock_tolerance,
                signing_key_env: #signing_key_env,
                signing_key_file: #signing_key_file,
                origin: #origin,
                witnesses: &[#(#witnesses),*],
                witness_quorum: #witness_quorum,
                witness_silence_millis: #witness_silence,
            }
        }
    });
    let tracking = track(spec, &loaded);
    Ok(quote! {{
        #tracking
        ::pip_runtime::declared::SpecDecl {
            name: #name,
            invariants: &[#(#invariants),*],
            limits: &[#(#limits),*],
            ledgers: &[#(#ledgers),*],
        }
    }})
}
