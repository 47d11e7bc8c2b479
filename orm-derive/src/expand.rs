//! Code generation. Generated functions are thin: each calls a generic
//! function of `orm_core::__private`, where the logic is written and tested once.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::ast::{Field, ForeignKey, Model};

pub(crate) fn expand(model: &Model<'_>) -> TokenStream {
    let model_impl = model_impl(model);
    let relations = model
        .foreign_keys()
        .map(|(field, fk)| relation(model, field, fk));
    let many_to_many = many_to_many(model);
    quote! {
        #[allow(non_camel_case_types, clippy::all)]
        const _: () = {
            #model_impl
            #(#relations)*
            #many_to_many
        };
    }
}

/// After an error: an impl of `Model` with nothing in it that could fail to
/// compile, so the user's other uses of the type do not add errors of their own.
pub(crate) fn fallback(input: &syn::DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::orm_core::Model for #ident #ty_generics #where_clause {
                type Key = i64;
                const NAME: &'static str = "";
                const TABLE: &'static str = "";
                const COLUMNS: &'static [::orm_core::Column] = &[];
                const PRIMARY_KEY: usize = 0;
                fn primary_key(&self) -> &i64 { ::core::unreachable!() }
                fn from_row(_: &::orm_core::rusqlite::Row<'_>) -> ::orm_core::Result<Self> {
                    ::core::unreachable!()
                }
                fn __with_values<R>(
                    &self,
                    _: impl ::core::ops::FnOnce(&[&dyn ::orm_core::rusqlite::ToSql]) -> R,
                ) -> R {
                    ::core::unreachable!()
                }
            }
        };
    }
}

fn model_impl(model: &Model<'_>) -> TokenStream {
    let ident = model.ident;
    let name = ident.unraw().to_string();
    let table = &model.table.0;
    // `check` reports a missing primary key before expansion runs.
    let Some((pk, pk_field)) = model.primary_key().map(|i| (i, &model.fields[i])) else {
        return quote!(::core::compile_error!("`#[derive(Model)]` needs a primary key"););
    };
    let pk_ident = pk_field.ident;
    let pk_ty = pk_field.ty;
    let key_type = quote_spanned!(pk_ty.span()=> #pk_ty);

    let columns = model.fields.iter().map(|f| {
        let column = &f.column;
        let ty = f.ty;
        let sql_type = quote_spanned!(ty.span()=> <#ty as ::orm_core::SqlType>);
        let references = match &f.foreign_key {
            Some(fk) => {
                let target = fk.target;
                quote_spanned!(target.span()=>
                    ::core::option::Option::Some(::orm_core::__private::references::<#target>))
            }
            None => quote!(::core::option::Option::None),
        };
        quote! {
            ::orm_core::Column::__new(
                #column, #sql_type::SQL_TYPE, #sql_type::NULLABLE, #references,
            )
        }
    });
    let reads = model.fields.iter().enumerate().map(|(i, f)| {
        let field = f.ident;
        let ty = f.ty;
        let read = quote_spanned!(ty.span()=> ::orm_core::__private::read::<Self, #ty>);
        quote!(#field: #read(row, #i)?)
    });
    let values = model.fields.iter().map(|f| {
        let field = f.ident;
        let ty = f.ty;
        quote_spanned!(ty.span()=> &self.#field as &dyn ::orm_core::rusqlite::ToSql)
    });

    quote! {
        #[automatically_derived]
        impl ::orm_core::Model for #ident {
            type Key = #key_type;
            const NAME: &'static str = #name;
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [::orm_core::Column] = &[#(#columns),*];
            const PRIMARY_KEY: usize = #pk;

            fn primary_key(&self) -> &Self::Key {
                &self.#pk_ident
            }

            fn from_row(row: &::orm_core::rusqlite::Row<'_>) -> ::orm_core::Result<Self> {
                ::orm_core::__private::Ok(Self { #(#reads),* })
            }

            fn __with_values<R>(
                &self,
                f: impl ::core::ops::FnOnce(&[&dyn ::orm_core::rusqlite::ToSql]) -> R,
            ) -> R {
                f(&[#(#values),*])
            }
        }
    }
}

/// The marker type that describes one foreign-key field to the runtime.
fn marker(field: &Field<'_>) -> Ident {
    format_ident!("__OrmForeignKey_{}", field.ident.unraw())
}

/// The last path segment of a type, for messages: `crate::shop::Category` -> `Category`.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.unraw().to_string()),
        other => other.to_token_stream().to_string(),
    }
}

/// An identifier for a generated method, spanned at `span` (the `related_name`
/// literal or the field), so a clash is reported at the user's attribute.
fn method(name: &str, span: Span) -> Ident {
    Ident::new(name, span)
}

fn relation(model: &Model<'_>, field: &Field<'_>, fk: &ForeignKey<'_>) -> TokenStream {
    let child = model.ident;
    let vis = model.vis;
    let marker = marker(field);
    let field_ident = field.ident;
    let field_ty = field.ty;
    let field_name = field.ident.unraw().to_string();
    let column = model
        .fields
        .iter()
        .position(|f| std::ptr::eq(f, field))
        .unwrap_or(0);
    let parent = fk.target;
    let parent_name = type_name(parent);
    let child_name = child.unraw().to_string();

    let (related, related_lit) = &fk.related_name;
    let span = related_lit
        .as_ref()
        .map_or_else(|| field.span(), |lit| lit.span());
    let prefetch_reverse = method(&format!("prefetch_{related}"), span);
    let load_reverse = method(&format!("load_{related}"), span);
    let reverse = method(related, span);
    let prefetch_forward = method(&format!("prefetch_{field_name}"), field.span());
    let load_forward = method(&format!("load_{field_name}"), field.span());
    let reverse_path = format!("{parent_name}::prefetch_{related}");
    let forward_path = format!("{child_name}::prefetch_{field_name}");
    let loaded = if fk.nullable {
        quote!(::core::option::Option<#parent>)
    } else {
        quote!(#parent)
    };

    let doc_prefetch_reverse = format!(
        "Every `{parent_name}` with its `{child_name}`s (`{child_name}::{field_name}`), \
         in one query per {{variable limit}} keys. Generated by `#[derive(Model)]` on `{child_name}`."
    )
    .replace("{variable limit}", "`SQLITE_LIMIT_VARIABLE_NUMBER`");
    let doc_load_reverse = format!(
        "The `{child_name}`s of each `{parent_name}`, aligned with `parents`; \
         the borrowing form of `{parent_name}::{prefetch_reverse}`."
    );
    let doc_reverse = format!(
        "This `{parent_name}`'s `{child_name}`s, in one query. \
         Refused inside `orm_core::strict`; batch with `{parent_name}::{prefetch_reverse}`."
    );
    let doc_prefetch_forward = format!(
        "Every `{child_name}` with the `{parent_name}` its `{field_name}` points at, in one query."
    );
    let doc_load_forward =
        format!("The `{parent_name}` of each `{child_name}`, aligned with `children`.");
    let doc_forward = format!(
        "The `{parent_name}` this `{child_name}`'s `{field_name}` points at, in one query. \
         Refused inside `orm_core::strict`; batch with `{child_name}::{prefetch_forward}`."
    );

    let conn = quote!(conn: &::orm_core::rusqlite::Connection);
    let vec = quote!(::std::vec::Vec);
    let result = quote!(::orm_core::Result);
    let private = quote!(::orm_core::__private);

    // Spanned at the `related_name` literal, so that two models claiming one
    // name on the same parent get a duplicate-definition error pointing at it.
    let reverse_fns = quote_spanned! {span=>
        #[doc = #doc_prefetch_reverse]
        #vis fn #prefetch_reverse(#conn, parents: #vec<#parent>)
            -> #result<#vec<(#parent, #vec<#child>)>>
        {
            #private::prefetch_reverse::<#marker>(conn, parents)
        }

        #[doc = #doc_load_reverse]
        #vis fn #load_reverse(#conn, parents: &[#parent]) -> #result<#vec<#vec<#child>>> {
            #private::load_reverse::<#marker>(conn, parents)
        }

        #[doc = #doc_reverse]
        #vis fn #reverse(&self, #conn) -> #result<#vec<#child>> {
            #private::reverse_of::<#marker>(conn, self)
        }
    };

    let field_span = field.span();
    let forward_fns = quote_spanned! {field_span=>
        #[doc = #doc_prefetch_forward]
        #vis fn #prefetch_forward(#conn, children: #vec<#child>)
            -> #result<#vec<(#child, #loaded)>>
        {
            #private::prefetch_forward::<#marker>(conn, children)
        }

        #[doc = #doc_load_forward]
        #vis fn #load_forward(#conn, children: &[#child]) -> #result<#vec<#loaded>> {
            #private::load_forward::<#marker>(conn, children)
        }

        #[doc = #doc_forward]
        #vis fn #field_ident(&self, #conn) -> #result<#loaded> {
            #private::forward_of::<#marker>(conn, self)
        }
    };

    quote! {
        struct #marker;

        #[automatically_derived]
        impl #private::ForeignKeyRelation for #marker {
            type Child = #child;
            type Field = #field_ty;
            const COLUMN: usize = #column;
            const FIELD: &'static str = #field_name;
            const RELATED_NAME: &'static str = #related;
            const PREFETCH_REVERSE: &'static str = #reverse_path;
            const PREFETCH_FORWARD: &'static str = #forward_path;
            fn field(child: &#child) -> &#field_ty {
                &child.#field_ident
            }
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #parent {
            #reverse_fns
        }

        #[automatically_derived]
        #[allow(dead_code)]
        impl #child {
            #forward_fns
        }
    }
}

/// `many_to_many = "..."` on either foreign key of a two-key junction model.
fn many_to_many(model: &Model<'_>) -> TokenStream {
    let fks: Vec<_> = model.foreign_keys().collect();
    let [(near_field, near), (far_field, far)] = fks[..] else {
        return TokenStream::new();
    };
    let one_side = |near_field: &Field<'_>,
                    near: &ForeignKey<'_>,
                    far_field: &Field<'_>,
                    far: &ForeignKey<'_>| {
        let Some(lit) = &near.many_to_many else {
            return TokenStream::new();
        };
        let name = lit.value();
        let vis = model.vis;
        let near_ty = near.target;
        let far_ty = far.target;
        let near_marker = marker(near_field);
        let far_marker = marker(far_field);
        let marker = format_ident!("__OrmManyToMany_{}", name);
        let prefetch = method(&format!("prefetch_{name}"), lit.span());
        let load = method(&format!("load_{name}"), lit.span());
        let accessor = method(&name, lit.span());
        let near_name = type_name(near_ty);
        let far_name = type_name(far_ty);
        let prefetch_path = format!("{near_name}::prefetch_{name}");
        let junction = model.ident.unraw().to_string();
        let doc_prefetch = format!(
            "Every `{near_name}` with its `{far_name}`s through `{junction}`, in one query."
        );
        let doc_load = format!(
            "The `{far_name}`s of each `{near_name}` through `{junction}`, aligned with `rows`."
        );
        let doc_accessor = format!(
            "This `{near_name}`'s `{far_name}`s through `{junction}`, in one query. \
             Refused inside `orm_core::strict`; batch with `{near_name}::{prefetch}`."
        );
        let conn = quote!(conn: &::orm_core::rusqlite::Connection);
        let private = quote!(::orm_core::__private);
        let vec = quote!(::std::vec::Vec);
        let fns = quote_spanned! {lit.span()=>
            #[doc = #doc_prefetch]
            #vis fn #prefetch(#conn, rows: #vec<#near_ty>)
                -> ::orm_core::Result<#vec<(#near_ty, #vec<#far_ty>)>>
            {
                #private::prefetch_through::<#marker>(conn, rows)
            }

            #[doc = #doc_load]
            #vis fn #load(#conn, rows: &[#near_ty]) -> ::orm_core::Result<#vec<#vec<#far_ty>>> {
                #private::load_through::<#marker>(conn, rows)
            }

            #[doc = #doc_accessor]
            #vis fn #accessor(&self, #conn) -> ::orm_core::Result<#vec<#far_ty>> {
                #private::through_of::<#marker>(conn, self)
            }
        };
        quote! {
            struct #marker;

            #[automatically_derived]
            impl #private::ManyToMany for #marker {
                type Near = #near_marker;
                type Far = #far_marker;
                const NAME: &'static str = #name;
                const PREFETCH: &'static str = #prefetch_path;
            }

            #[automatically_derived]
            #[allow(dead_code)]
            impl #near_ty {
                #fns
            }
        }
    };
    let a = one_side(near_field, near, far_field, far);
    let b = one_side(far_field, far, near_field, near);
    quote!(#a #b)
}
