//! `#[both]`: a helper over a sync connection, also for an async one.
//!
//! ```text
//! #[both] fn shop(conn: &impl Backend, n: i64) -> R { body }
//! ```
//! becomes a function of the same name generic over any connection, that
//! dispatches on the connection's `Mode` through a trait of its own:
//! `Blocking` runs the body as written (so on a sync connection the call
//! returns `R`, as before), `Async` returns a boxed future of the body
//! rewritten (see `on_each_backend!`). A connection typed by a parameter of
//! the helper's own (`fn case<B: Backend>(conn: B, ..)`) keeps its name in
//! both forms, bounded by `AsyncBackend` in the async one.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{
    parse_quote, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Signature, Token, Type,
    TypeParamBound,
};

use crate::rewrite::{async_bound, Awaiter};

/// The connection parameter, and the type parameter its type names.
struct Conn {
    name: Ident,
    /// The name as the body binds it (`mut conn`).
    pat: syn::PatIdent,
    /// `impl Backend`'s stand-in (`__D`), or the function's own `B`.
    param: Ident,
    /// The parameter's type, written with `param` (`&'c __D`, `B`, `&'c mut B`).
    ty: Type,
    sync_bounds: Vec<TypeParamBound>,
    async_bounds: Vec<TokenStream>,
}

/// `conn: &impl Backend`, or `conn: B` (`&B`, `&mut B`) with `B: Backend`
/// among the function's generic parameters.
fn conn(sig: &Signature, counterparts: &Punctuated<Counterpart, Token![,]>) -> syn::Result<Conn> {
    let shape = || {
        syn::Error::new_spanned(
            &sig.inputs,
            "expected the connection first: `conn: &impl Backend`, `conn: &impl Db`, \
             or `conn: B` (`&B`, `&mut B`) with `B: Backend` or `B: Db`",
        )
    };
    let Some(FnArg::Typed(first)) = sig.inputs.first() else {
        return Err(shape());
    };
    let Pat::Ident(name) = &*first.pat else {
        return Err(shape());
    };
    let (reference, elem) = match &*first.ty {
        Type::Reference(r) => (Some(r), &*r.elem),
        other => (None, other),
    };
    let typed = |param: &Ident| -> Type {
        match reference {
            Some(r) if r.mutability.is_some() => parse_quote!(&'c mut #param),
            Some(_) => parse_quote!(&'c #param),
            None => parse_quote!(#param),
        }
    };
    let (param, bounds): (Ident, Vec<TypeParamBound>) = match elem {
        Type::ImplTrait(t) if reference.is_some() => (
            Ident::new("__D", Span::call_site()),
            t.bounds.iter().cloned().collect(),
        ),
        Type::Path(p) => {
            let ident = p.path.get_ident().ok_or_else(shape)?;
            let t = sig
                .generics
                .type_params()
                .find(|t| t.ident == *ident)
                .ok_or_else(shape)?;
            (ident.clone(), t.bounds.iter().cloned().collect())
        }
        _ => return Err(shape()),
    };
    let mut async_bounds = Vec::new();
    for b in &bounds {
        if let TypeParamBound::Trait(t) = b {
            let given = counterparts
                .iter()
                .find(|c| t.path.is_ident(&c.sync))
                .map(|c| c.asynchronous.to_token_stream());
            async_bounds.push(given.or_else(|| async_bound(&t.path)).ok_or_else(shape)?);
        }
    }
    if async_bounds.is_empty() {
        return Err(shape());
    }
    Ok(Conn {
        name: name.ident.clone(),
        pat: name.clone(),
        ty: typed(&param),
        param,
        sync_bounds: bounds,
        async_bounds,
    })
}

/// `Probe => AsyncProbe`: a suite's own connection trait and its async
/// counterpart.
struct Counterpart {
    sync: Ident,
    asynchronous: syn::Path,
}

impl Parse for Counterpart {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let sync = input.parse()?;
        input.parse::<Token![=>]>()?;
        Ok(Counterpart {
            sync,
            asynchronous: input.parse()?,
        })
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let counterparts = Punctuated::<Counterpart, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `#[both]` or `#[both(Probe => AsyncProbe, ..)]`",
            )
        })?;
    let f: ItemFn = syn::parse2(item)?;
    let sig = &f.sig;
    let name = &sig.ident;
    let Conn {
        name: conn,
        pat: conn_pat,
        param: d,
        ty: conn_ty,
        sync_bounds,
        async_bounds,
    } = conn(sig, &counterparts)?;
    let conn = &conn;
    let inputs = sig.inputs.iter().skip(1);
    // The async form's future holds every argument: an elided lifetime is the connection's.
    let mut rest: Vec<FnArg> = inputs.cloned().collect();
    for arg in &mut rest {
        if let FnArg::Typed(t) = arg {
            if let Type::Reference(r) = &mut *t.ty {
                if r.lifetime.is_none() {
                    r.lifetime = Some(parse_quote!('c));
                }
            }
        }
    }
    let rest_names: Vec<_> = rest
        .iter()
        .map(|a| match a {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => Ok(i.ident.clone()),
                _ => Err(syn::Error::new_spanned(t, "expected a named parameter")),
            },
            FnArg::Receiver(r) => Err(syn::Error::new_spanned(r, "expected a free function")),
        })
        .collect::<syn::Result<_>>()?;
    let ret: Type = match &sig.output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    // The connection's own type parameter, if it has one, comes last.
    let generics: Vec<&GenericParam> = sig
        .generics
        .params
        .iter()
        .filter(|g| !matches!(g, GenericParam::Type(t) if t.ident == d))
        .collect();
    let generic_args: Vec<TokenStream> = generics
        .iter()
        .map(|g| match g {
            GenericParam::Type(t) => {
                let i = &t.ident;
                quote!(#i)
            }
            GenericParam::Lifetime(l) => {
                let l = &l.lifetime;
                quote!(#l)
            }
            GenericParam::Const(c) => {
                let i = &c.ident;
                quote!(#i)
            }
        })
        .collect();
    let where_clause = &sig.generics.where_clause;
    let predicates = where_clause.as_ref().map(|w| &w.predicates);
    let vis = &f.vis;
    // No more visible than the helper: its types may be private ones.
    let trait_vis = match vis {
        syn::Visibility::Inherited => quote!(pub(super)),
        _ => quote!(pub),
    };
    let attrs = &f.attrs;
    let body = &f.block;
    // Every parameter of the connection's own type is a connection too.
    let conns = std::iter::once(conn.to_string()).chain(rest.iter().filter_map(|a| match a {
        FnArg::Typed(t) if names_param(&t.ty, &d) => match &*t.pat {
            Pat::Ident(i) => Some(i.ident.to_string()),
            _ => None,
        },
        _ => None,
    }));
    let mut async_body = (*f.block).clone();
    Awaiter::new(conns).block(&mut async_body);
    let module = format_ident!("__both_{}", name);

    Ok(quote! {
        #(#attrs)*
        #vis fn #name<'c, #(#generics,)* #d: ::orm_core::Database + 'c>(
            #conn: #conn_ty, #(#rest),*
        ) -> <<#d as ::orm_core::Database>::Mode as #module::Both<'c, #d, #(#generic_args),*>>::Out
        where
            <#d as ::orm_core::Database>::Mode: #module::Both<'c, #d, #(#generic_args),*>,
            #predicates
        {
            <<#d as ::orm_core::Database>::Mode as #module::Both<'c, #d, #(#generic_args),*>>::call(
                #conn, #(#rest_names),*
            )
        }

        #[doc(hidden)]
        #[allow(non_snake_case, clippy::all)]
        #vis mod #module {
            #[allow(unused_imports)]
            use super::*;

            /// What the helper is on a connection of this `Mode`.
            #trait_vis trait Both<'c, #d: 'c, #(#generics,)*> #where_clause {
                type Out;
                fn call(#conn: #conn_ty, #(#rest),*) -> Self::Out;
            }

            impl<'c, #d: #(#sync_bounds)+* + 'c, #(#generics,)*> Both<'c, #d, #(#generic_args),*>
                for ::orm_core::Blocking #where_clause
            {
                type Out = #ret;
                fn call(#conn_pat: #conn_ty, #(#rest),*) -> #ret #body
            }

            #[cfg(feature = "tokio")]
            impl<'c, #d: #(#async_bounds)+* + 'c, #(#generics,)*> Both<'c, #d, #(#generic_args),*>
                for ::orm_core::Async #where_clause
            {
                type Out = ::std::pin::Pin<
                    ::std::boxed::Box<dyn ::std::future::Future<Output = #ret> + ::std::marker::Send + 'c>,
                >;
                // A `&mut conn` of the sync body is a `&conn` on an async connection.
                #[allow(unused_mut)]
                fn call(#conn_pat: #conn_ty, #(#rest),*) -> Self::Out {
                    ::std::boxed::Box::pin(async move #async_body)
                }
            }
        }
    })
}

/// Whether `ty` is `param`, `&param` or `&mut param`.
fn names_param(ty: &Type, param: &Ident) -> bool {
    match ty {
        Type::Reference(r) => names_param(&r.elem, param),
        Type::Path(p) => p.path.is_ident(param),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion, spacing aside.
    fn expanded(args: &str, item: &str) -> syn::Result<String> {
        let out = expand(args.parse().expect("args"), item.parse().expect("item"))?;
        Ok(out.to_string().replace(' ', ""))
    }

    #[test]
    fn a_connection_of_the_helpers_own_type_keeps_its_name() {
        let out = expanded(
            "Probe => AsyncProbe",
            "fn case<B: Probe>(mut db: B, other: B, n: u8) -> R {
                 db.x(B::NAME)?; other.y(n)
             }",
        )
        .expect("an expansion");
        // Last among the generic parameters, bounded by the counterpart when async.
        assert!(out.contains("fncase<'c,B:::orm_core::Database+'c>(db:B,other:B,n:u8)"));
        assert!(out.contains("impl<'c,B:Probe+'c,>"));
        assert!(out.contains("impl<'c,B:AsyncProbe+'c,>"));
        assert!(out.contains("fncall(mutdb:B,other:B,n:u8)->R{db.x(B::NAME)?;other.y(n)}"));
        // Both parameters are connections on the async side.
        assert!(out.contains("::awaited::Wait::wait(db.x(B::NAME)).await?"));
        assert!(out.contains("::awaited::Wait::wait(other.y(n)).await"));
    }

    #[test]
    fn a_bound_without_a_counterpart_is_refused() {
        let err = expanded("", "fn case<B: Probe>(db: &B) {}").unwrap_err();
        assert!(err.to_string().starts_with("expected the connection first"));
        let err = expanded("Probe", "fn case<B: Probe>(db: &B) {}").unwrap_err();
        assert!(err.to_string().contains("#[both(Probe => AsyncProbe, ..)]"));
    }
}
