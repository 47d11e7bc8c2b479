//! `#[derive(Model)]` for `orm-core`. Use it through `orm_core::Model`; this
//! crate is an implementation detail of that one.
//!
//! The derive runs in three steps: `ast` parses the struct and its
//! attributes into a typed view that keeps the user's tokens, `check`
//! applies every rule and collects all errors, and `expand` writes the code.
#![forbid(unsafe_code)]

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;

/// Derives `orm_core::Model` and the relation functions of every
/// `#[foreign_key]` field. See the `orm_core` documentation.
#[proc_macro_derive(Model, attributes(model, primary_key, foreign_key, column))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    derive(input.into()).into()
}

/// The whole derive on `proc_macro2` tokens, so it runs outside a compiler session.
fn derive(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(err) => return err.to_compile_error(),
    };
    let cx = ctxt::Ctxt::new();
    let model = ast::Model::from_syn(&cx, &input);
    if let Some(model) = &model {
        check::check(&cx, model);
    }
    match (model, cx.finish()) {
        (Some(model), Ok(())) => expand::expand(&model),
        (_, Err(errors)) => {
            let fallback = expand::fallback(&input);
            quote::quote!(#errors #fallback)
        }
        // `from_syn` returns `None` only after reporting an error.
        (None, Ok(())) => expand::fallback(&input),
    }
}

#[cfg(test)]
mod tests;

/// `migrations!("dir")`: every `*.migration` file of `dir` (relative to the
/// crate's root, `CARGO_MANIFEST_DIR`), in name order, embedded with
/// `include_str!` so that a changed file rebuilds the crate.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    migrations::expand(input.into()).into()
}

mod migrations;
