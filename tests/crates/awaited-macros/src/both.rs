//! `#[both]`: a helper over a sync connection, also for an async one.
//!
//! ```text
//! #[both] fn shop(conn: &impl Backend, n: i64) -> R { body }
//! ```
//! becomes a function of the same name generic over any connection, that
//! dispatches on the connection's `Mode` through a trait of its own:
//! `Blocking` runs the body as written (so on a sync connection the call
//! returns `R`, as before), `Async` returns a boxed future of the body
//! rewritten (see `on_each_backend!`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{parse_quote, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Type, TypeParamBound};

use crate::rewrite::{async_bound, Awaiter};

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(args, "expected `#[both]`"));
    }
    let f: ItemFn = syn::parse2(item)?;
    let sig = &f.sig;
    let name = &sig.ident;
    let shape = || {
        syn::Error::new_spanned(
            &sig.inputs,
            "expected the connection first: `conn: &impl Backend` or `conn: &impl Db`",
        )
    };
    let mut inputs = sig.inputs.iter();
    let Some(FnArg::Typed(first)) = inputs.next() else {
        return Err(shape());
    };
    let Pat::Ident(conn) = &*first.pat else {
        return Err(shape());
    };
    let conn = &conn.ident;
    let Type::Reference(reference) = &*first.ty else {
        return Err(shape());
    };
    let Type::ImplTrait(bounds) = &*reference.elem else {
        return Err(shape());
    };
    let sync_bounds = &bounds.bounds;
    let mut async_bounds = Vec::new();
    for b in sync_bounds {
        if let TypeParamBound::Trait(t) = b {
            async_bounds.push(async_bound(&t.path).ok_or_else(shape)?);
        }
    }
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
    let generics: Vec<&GenericParam> = sig.generics.params.iter().collect();
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
    let attrs = &f.attrs;
    let body = &f.block;
    let mut async_body = (*f.block).clone();
    Awaiter::new([conn.to_string()]).block(&mut async_body);
    let module = format_ident!("__both_{}", name);
    let d = Ident::new("__D", Span::call_site());

    Ok(quote! {
        #(#attrs)*
        #vis fn #name<'c, #(#generics,)* #d: ::orm_core::Database + 'c>(
            #conn: &'c #d, #(#rest),*
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
            pub trait Both<'c, D: 'c, #(#generics,)*> #where_clause {
                type Out;
                fn call(#conn: &'c D, #(#rest),*) -> Self::Out;
            }

            impl<'c, D: #sync_bounds + 'c, #(#generics,)*> Both<'c, D, #(#generic_args),*>
                for ::orm_core::Blocking #where_clause
            {
                type Out = #ret;
                fn call(#conn: &'c D, #(#rest),*) -> #ret #body
            }

            #[cfg(feature = "tokio")]
            impl<'c, D: #(#async_bounds)+* + 'c, #(#generics,)*> Both<'c, D, #(#generic_args),*>
                for ::orm_core::Async #where_clause
            {
                type Out = ::std::pin::Pin<
                    ::std::boxed::Box<dyn ::std::future::Future<Output = #ret> + ::std::marker::Send + 'c>,
                >;
                fn call(#conn: &'c D, #(#rest),*) -> Self::Out {
                    ::std::boxed::Box::pin(async move #async_body)
                }
            }
        }
    })
}
