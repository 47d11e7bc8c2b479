//! `on_each_backend!`: each test once per connection, sync and async.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{parenthesized, Attribute, Block, Token, Type};

use crate::rewrite::Awaiter;

/// `#[sync_only] fn name(conn) -> R { body }`.
struct Test {
    attrs: Vec<Attribute>,
    sync_only: bool,
    name: Ident,
    conn: Ident,
    ret: Type,
    body: Block,
}

struct Tests(Vec<Test>);

/// The attribute that keeps a test off the async connections.
const SYNC_ONLY: &str = "sync_only";

impl Parse for Tests {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut tests = Vec::new();
        while !input.is_empty() {
            let mut attrs = input.call(Attribute::parse_outer)?;
            let before = attrs.len();
            attrs.retain(|a| !a.path().is_ident(SYNC_ONLY));
            let sync_only = attrs.len() != before;
            input.parse::<Token![fn]>()?;
            let name = input.parse()?;
            let params;
            parenthesized!(params in input);
            let conn = params.parse()?;
            input.parse::<Token![->]>()?;
            let ret = input.parse()?;
            let body = input.parse()?;
            tests.push(Test {
                attrs,
                sync_only,
                name,
                conn,
                ret,
                body,
            });
        }
        Ok(Tests(tests))
    }
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let Tests(tests) = syn::parse2(input)?;
    let sync = |open: TokenStream| {
        let tests = tests.iter().map(|t| {
            let Test {
                attrs,
                name,
                conn,
                ret,
                body,
                ..
            } = t;
            quote! {
                #(#attrs)*
                #[test]
                fn #name() -> #ret {
                    #[allow(unused_mut)]
                    let mut #conn = #open;
                    #body
                }
            }
        });
        quote!(#(#tests)*)
    };
    let asynchronous = |open: TokenStream| {
        let tests = tests.iter().filter(|t| !t.sync_only).map(|t| {
            let Test {
                attrs,
                name,
                conn,
                ret,
                body,
                ..
            } = t;
            let mut body = body.clone();
            Awaiter::new([conn.to_string()]).block(&mut body);
            let stmts = &body.stmts;
            quote! {
                #(#attrs)*
                #[test]
                // A closure with a return type becomes `(async || -> T { .. })()`.
                #[allow(clippy::redundant_closure_call)]
                fn #name() -> #ret {
                    ::awaited::block_on::<#ret, _>(async {
                        #[allow(unused_mut)]
                        let mut #conn = #open.await;
                        #(#stmts)*
                    })
                }
            }
        });
        quote!(#(#tests)*)
    };
    let sqlite = sync(quote!(crate::backends::sqlite()));
    let postgres = sync(quote!(crate::backends::postgres()));
    let async_sqlite = asynchronous(quote!(crate::backends::async_sqlite()));
    let async_postgres = asynchronous(quote!(crate::backends::async_postgres()));
    let async_uses = quote! {
        #[allow(unused_imports)]
        use super::*;
        #[allow(unused_imports)]
        use crate::backends::AsyncBackend as _;
        #[allow(unused_imports)]
        use ::orm_core::AsyncAtomic as _;
    };
    Ok(quote! {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            #sqlite
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            #postgres
        }

        #[cfg(feature = "tokio")]
        mod async_sqlite {
            #async_uses
            #async_sqlite
        }

        #[cfg(all(feature = "tokio", feature = "postgres"))]
        mod async_postgres {
            #async_uses
            #async_postgres
        }
    })
}
