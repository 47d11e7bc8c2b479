//! Code generation. Generated functions are thin: each calls a generic
//! function of `orm_core::__private`, where the logic is written and tested
//! once. They take any connection (`&impl orm_core::Database`, sync or
//! async: its mode decides whether they return a result or a future) and
//! name no driver type.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::ast::{Field, ForeignKey, Literal, Model};
use crate::attr::OnDelete;

pub(crate) fn expand(model: &Model<'_>) -> TokenStream {
    let model_impl = model_impl(model);
    let (parts, relations): (Vec<_>, Vec<_>) = model
        .foreign_keys()
        .map(|(field, fk)| relation(model, field, fk))
        .unzip();
    let (m2m_parts, many_to_many) = many_to_many(model);
    let parts = parts.into_iter().flatten().chain(m2m_parts).collect();
    let (traits, trait_impls) = extensions(model.vis, parts);
    quote! {
        #traits

        #[allow(non_camel_case_types, clippy::all)]
        const _: () = {
            #model_impl
            #(#relations)*
            #many_to_many
            #trait_impls
        };
    }
}

/// After an error: impls of `Model` with nothing in them that could fail to
/// compile, so the user's other uses of the type do not add errors of their own.
pub(crate) fn fallback(input: &syn::DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let krate = fallback_runtime_path(input);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let model_where = {
        let bound: syn::WherePredicate = syn::parse_quote!(
            #ident #ty_generics: ::core::marker::Send + ::core::marker::Sync + 'static
        );
        let mut clause = where_clause.cloned().unwrap_or_else(|| syn::WhereClause {
            where_token: Default::default(),
            predicates: Default::default(),
        });
        clause.predicates.push(bound);
        clause
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::__private::ModelImpl for #ident #ty_generics #where_clause {
                const AUTO_KEY: bool = false;
                fn __with_values<R>(
                    &self,
                    _: impl ::core::ops::FnOnce(&[#krate::Value<'_>]) -> R,
                ) -> R {
                    ::core::unreachable!()
                }
                fn __from_row_at(
                    _: &#krate::Row<'_>,
                    _: usize,
                ) -> #krate::Result<Self> {
                    ::core::unreachable!()
                }
                fn __push_values<'a>(&'a self, _: &mut ::std::vec::Vec<#krate::Value<'a>>) {}
            }

            // Bounded by what `Model` requires, so that a rejected generic
            // struct gets its one error and not these.
            #[automatically_derived]
            impl #impl_generics #krate::Model for #ident #ty_generics #model_where {
                type Key = i64;
                type Fields = ();
                const NAME: &'static str = "";
                const TABLE: &'static str = "";
                const COLUMNS: &'static [#krate::Column] = &[];
                const PRIMARY_KEY: usize = 0;
                fn primary_key(&self) -> &i64 { ::core::unreachable!() }
                fn from_row(_: &#krate::Row<'_>) -> #krate::Result<Self> {
                    ::core::unreachable!()
                }
                fn fields() {}
            }
        };
    }
}

/// `#[model(crate = "...")]` read again for the fallback, whatever else the
/// attribute holds (its errors are reported by the derive itself).
fn fallback_runtime_path(input: &syn::DeriveInput) -> syn::Path {
    let mut path = syn::parse_quote!(::orm_core);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                if let Ok(lit) = meta.value()?.parse::<syn::LitStr>() {
                    if let Ok(parsed) = lit.parse() {
                        path = parsed;
                    }
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|_| Ok(()));
            }
            Ok(())
        });
    }
    path
}

fn model_impl(model: &Model<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = model.ident;
    let name = ident.unraw().to_string();
    let table = &model.table.0;
    // `check` reports a missing primary key before expansion runs.
    let Some(pk_field) = model.primary_key().and_then(|i| model.fields.get(i)) else {
        return quote!(::core::compile_error!("`#[derive(Model)]` needs a primary key"););
    };
    let pk = pk_field.index;
    let pk_ident = pk_field.ident;
    let pk_ty = pk_field.ty;
    let key_type = quote_spanned!(pk_ty.span()=> #pk_ty);
    let auto = pk_field.auto.is_some();
    // `#[primary_key(auto)]` needs an `i64` key: the error points at the type.
    let auto_check = pk_field.auto.as_ref().map(|path| {
        let assert = quote_spanned!(path.span()=> __orm_auto_key::<#pk_ty>());
        quote! {
            const _: fn() = || {
                fn __orm_auto_key<T: #krate::__private::AutoKey>() {}
                #assert;
            };
        }
    });

    let columns = model.fields.iter().map(|f| {
        let column = &f.column;
        let ty = f.ty;
        let sql_type = quote_spanned!(ty.span()=> <#ty as #krate::SqlType>);
        let references = match &f.foreign_key {
            Some(fk) => {
                let target = fk.target;
                quote_spanned!(target.span()=>
                    ::core::option::Option::Some(#krate::__private::references::<#target>))
            }
            None => quote!(::core::option::Option::None),
        };
        let field_name = f.ident.unraw().to_string();
        let default = f.default.as_ref().map(|d| {
            let literal = match &d.value {
                Literal::Bool(b) => quote!(Bool(#b)),
                Literal::Integer(i) => quote!(Integer(#i)),
                Literal::Real(r) => quote!(Real(#r)),
                Literal::Text(t) => quote!(Text(#t)),
            };
            quote!(.__default(#krate::Literal::#literal))
        });
        let renamed = f
            .renamed_from
            .as_ref()
            .map(|lit| quote!(.__renamed_from(#lit)));
        let on_delete = f
            .foreign_key
            .as_ref()
            .and_then(|fk| fk.on_delete.as_ref())
            .map(|(action, _)| {
                let action = match action {
                    OnDelete::Cascade => quote!(Cascade),
                    OnDelete::SetNull => quote!(SetNull),
                    OnDelete::Restrict => quote!(Restrict),
                };
                quote!(.__on_delete(#krate::OnDelete::#action))
            });
        quote! {
            #krate::Column::__new(
                #column, #sql_type::COLUMN_TYPE, #sql_type::NULLABLE, #references,
            )
            .__field(#field_name)
            #default
            #on_delete
            #renamed
        }
    });
    // A default's literal must be of the field's type: the error points at it.
    let default_checks = model.fields.iter().filter_map(|f| {
        let d = f.default.as_ref()?;
        let ty = f.ty;
        let expr = &d.expr;
        Some(quote_spanned!(expr.span()=> #krate::__private::default_of::<#ty, _>(#expr);))
    });
    let indexes = model.indexes.iter().map(|index| {
        let unique = index.unique;
        let columns = index
            .fields
            .iter()
            .filter_map(|(_, position)| position.and_then(|i| model.fields.get(i)))
            .map(|f| &f.column);
        quote!(#krate::Index::__new(&[#(#columns),*], #unique))
    });
    let reads_at = model.fields.iter().map(|f| {
        let field = f.ident;
        let ty = f.ty;
        let index = f.index;
        let read = quote_spanned!(ty.span()=> #krate::__private::read_at::<Self, #ty>);
        quote!(#field: #read(row, offset, #index)?)
    });
    let values: Vec<TokenStream> = model
        .fields
        .iter()
        .map(|f| {
            let field = f.ident;
            let ty = f.ty;
            quote_spanned!(ty.span()=> <#ty as #krate::SqlType>::to_value(&self.#field))
        })
        .collect();

    let renamed_table = match &model.renamed_from {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let vis = model.vis;
    let handles = model.fields.iter().map(|f| {
        let field = f.ident;
        let ty = f.ty;
        let kind = if f.index == pk {
            quote!(#krate::PrimaryKey)
        } else {
            quote!(#krate::Plain)
        };
        let doc = format!("The `{}` column.", f.column);
        quote! {
            #[doc = #doc]
            pub #field: #krate::Field<#ident, #ty, #kind>
        }
    });
    let inits = model.fields.iter().map(|f| {
        let field = f.ident;
        let index = f.index;
        quote!(#field: #krate::Field::__new(#index))
    });
    let fields_doc = format!(
        "The typed column handles of `{name}`, from `{name}::fields()`: \
         one per field, to build `{name}::query()` filters, orders and updates."
    );

    quote! {
        #auto_check

        const _: fn() = || {
            #(#default_checks)*
        };

        #[doc = #fields_doc]
        #vis struct __OrmFields {
            #(#handles,)*
        }

        #[automatically_derived]
        impl ::core::clone::Clone for __OrmFields {
            fn clone(&self) -> Self {
                *self
            }
        }

        #[automatically_derived]
        impl ::core::marker::Copy for __OrmFields {}

        #[automatically_derived]
        impl #krate::__private::ModelImpl for #ident {
            const AUTO_KEY: bool = #auto;

            fn __with_values<R>(
                &self,
                f: impl ::core::ops::FnOnce(&[#krate::Value<'_>]) -> R,
            ) -> R {
                f(&[#(#values),*])
            }

            #[inline]
            fn __from_row_at(
                row: &#krate::Row<'_>,
                offset: usize,
            ) -> #krate::Result<Self> {
                #krate::__private::Ok(Self { #(#reads_at),* })
            }

            fn __push_values<'a>(&'a self, out: &mut ::std::vec::Vec<#krate::Value<'a>>) {
                out.extend_from_slice(&[#(#values),*]);
            }
        }

        #[automatically_derived]
        impl #krate::Model for #ident {
            type Key = #key_type;
            type Fields = __OrmFields;
            const NAME: &'static str = #name;
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [#krate::Column] = &[#(#columns),*];
            const PRIMARY_KEY: usize = #pk;
            const INDEXES: &'static [#krate::Index] = &[#(#indexes),*];
            const RENAMED_FROM: ::core::option::Option<&'static str> = #renamed_table;

            fn primary_key(&self) -> &Self::Key {
                &self.#pk_ident
            }

            #[inline]
            fn from_row(row: &#krate::Row<'_>) -> #krate::Result<Self> {
                <Self as #krate::__private::ModelImpl>::__from_row_at(row, 0)
            }

            fn fields() -> __OrmFields {
                __OrmFields { #(#inits),* }
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

/// The batch functions of a to-many relation, generated on the model that
/// has them: `prefetch_r`, `load_r`, `r`, their `_with` forms and the counts.
struct ToMany<'a> {
    /// `related_name` or `many_to_many`.
    name: &'a str,
    span: Span,
    vis: &'a syn::Visibility,
    /// The model the functions are on.
    owner: &'a Type,
    /// The model they load.
    target: TokenStream,
    /// The runtime functions: `reverse` or `through`, and the marker type.
    kind: &'static str,
    marker: &'a Ident,
    /// Words for the docs.
    owner_name: String,
    target_name: String,
    via: String,
    /// `extension = "Name"`: the functions as a trait of that name.
    extension: Option<&'a Ident>,
    /// The runtime's path.
    krate: &'a syn::Path,
}

impl ToMany<'_> {
    /// The functions as an extension trait's part, if one is asked for, else
    /// as inherent methods of the owner.
    fn expand(&self) -> (Option<ExtensionPart>, TokenStream) {
        let ToMany {
            name,
            span,
            vis,
            owner,
            target,
            kind,
            marker,
            owner_name,
            target_name,
            via,
            extension,
            krate,
        } = self;
        let span = *span;
        let prefetch = method(&format!("prefetch_{name}"), span);
        let load = method(&format!("load_{name}"), span);
        let accessor = method(name, span);
        let prefetch_with = method(&format!("prefetch_{name}_with"), span);
        let load_with = method(&format!("load_{name}_with"), span);
        let count = method(&format!("count_{name}"), span);
        let count_with = method(&format!("count_{name}_with"), span);
        let private = quote!(#krate::__private);
        let f = |what: &str| format_ident!("{what}_{kind}");
        let (prefetch_rt, load_rt, of_rt) = (f("prefetch"), f("load"), format_ident!("{kind}_of"));
        let with = |what: &str| format_ident!("{what}_{kind}_with");
        let (prefetch_with_rt, load_with_rt) = (with("prefetch"), with("load"));
        let (count_rt, count_with_rt) = (f("count"), with("count"));
        let conn = quote!(conn: &'__a __D);
        let vec = quote!(::std::vec::Vec);
        let query = quote!(#krate::Query<#target, __X>);
        let constant = method(&name.to_uppercase(), span);
        let relation_rt = format_ident!("{kind}_relation");
        let doc_relation = format!(
            "The `{target_name}`s of a `{owner_name}` {via}, for filters and annotations of \
             `{owner_name}::query()`: `{owner_name}::{}.any(cond)`, `.exists()`, `.count()`, `.max(field)`.",
            name.to_uppercase()
        );

        let doc_prefetch = format!(
            "Every `{owner_name}` with its `{target_name}`s {via}, in one query per \
             batch of keys (the connection's bound-variable limit on SQLite, one \
             array on PostgreSQL). Generated by `#[derive(Model)]`."
        );
        let doc_load = format!(
            "The `{target_name}`s of each `{owner_name}` {via}, aligned with `rows`; \
             the borrowing form of `{owner_name}::prefetch_{name}`."
        );
        let doc_accessor = format!(
            "This `{owner_name}`'s `{target_name}`s {via}, in one query. \
             Refused inside `orm_core::strict`; batch with `{owner_name}::prefetch_{name}`."
        );
        let doc_prefetch_with = format!(
            "Every `{owner_name}` with the `{target_name}`s {via} that `query` selects, \
             in its order; its `limit` and `offset` apply to each `{owner_name}`."
        );
        let doc_load_with = format!(
            "The `{target_name}`s {via} that `query` selects for each `{owner_name}`, \
             aligned with `rows`; the borrowing form of `{owner_name}::prefetch_{name}_with`."
        );
        let doc_count = format!(
            "How many `{target_name}`s each `{owner_name}` has {via}, aligned with \
             `rows`, in one `GROUP BY` query per batch of keys."
        );
        let doc_count_with = format!(
            "How many `{target_name}`s {via} `query` selects for each `{owner_name}`, \
             aligned with `rows` (within its `limit` and `offset`, applied to each)."
        );

        // Spanned at the name's literal, so that two models claiming one name
        // on the same model get a duplicate-definition error pointing at it.
        // Each function as its doc, its signature and its body, so that they
        // can be written as inherent methods or as an extension trait.
        let fns: Vec<(String, TokenStream, TokenStream)> = vec![
            (
                doc_prefetch,
                quote_spanned!(span=> fn #prefetch<'__a, __D: #krate::Database + ?::core::marker::Sized + '__a>(#conn, rows: #vec<#owner>) -> #krate::Out<'__a, __D, #vec<(#owner, #vec<#target>)>>),
                quote_spanned!(span=> { #private::#prefetch_rt::<#marker, __D>(conn, rows) }),
            ),
            (
                doc_load,
                quote_spanned!(span=> fn #load<'__a, __D: #krate::Database + ?::core::marker::Sized + '__a>(#conn, rows: &'__a [#owner]) -> #krate::Out<'__a, __D, #vec<#vec<#target>>>),
                quote_spanned!(span=> { #private::#load_rt::<#marker, __D>(conn, rows) }),
            ),
            (
                doc_accessor,
                quote_spanned!(span=> fn #accessor<'__a, __D: #krate::Database + ?::core::marker::Sized + '__a>(&'__a self, #conn) -> #krate::Out<'__a, __D, #vec<#target>>),
                quote_spanned!(span=> { #private::#of_rt::<#marker, __D>(conn, self) }),
            ),
            (
                doc_prefetch_with,
                quote_spanned!(span=> fn #prefetch_with<'__a, __X: #krate::Extras<#target>, __D: #krate::Database + ?::core::marker::Sized + '__a>(
                    #conn,
                    rows: #vec<#owner>,
                    query: #query,
                ) -> #krate::Out<'__a, __D, #vec<(#owner, #vec<<__X as #krate::Extras<#target>>::Row>)>>),
                quote_spanned!(span=> {
                    #private::#prefetch_with_rt::<#marker, __X, __D>(conn, rows, query)
                }),
            ),
            (
                doc_load_with,
                quote_spanned!(span=> fn #load_with<'__a, __X: #krate::Extras<#target>, __D: #krate::Database + ?::core::marker::Sized + '__a>(
                    #conn,
                    rows: &'__a [#owner],
                    query: #query,
                ) -> #krate::Out<'__a, __D, #vec<#vec<<__X as #krate::Extras<#target>>::Row>>>),
                quote_spanned!(span=> {
                    #private::#load_with_rt::<#marker, __X, __D>(conn, rows, query)
                }),
            ),
            (
                doc_count,
                quote_spanned!(span=> fn #count<'__a, __D: #krate::Database + ?::core::marker::Sized + '__a>(#conn, rows: &'__a [#owner]) -> #krate::Out<'__a, __D, #vec<u64>>),
                quote_spanned!(span=> { #private::#count_rt::<#marker, __D>(conn, rows) }),
            ),
            (
                doc_count_with,
                quote_spanned!(span=> fn #count_with<'__a, __X: #krate::Extras<#target>, __D: #krate::Database + ?::core::marker::Sized + '__a>(#conn, rows: &'__a [#owner], query: #query) -> #krate::Out<'__a, __D, #vec<u64>>),
                quote_spanned!(span=> {
                    #private::#count_with_rt::<#marker, __X, __D>(conn, rows, query)
                }),
            ),
        ];
        let relation_ty = quote!(#krate::Relation<#owner, #target>);
        let relation_value = quote!(#private::#relation_rt::<#marker>());
        let Some(extension) = extension else {
            // Inherent methods of the owner: it must be in this crate.
            let fns = fns
                .iter()
                .map(|(doc, sig, body)| quote_spanned!(span=> #[doc = #doc] #vis #sig #body));
            let inherent = quote_spanned! {span=>
                #[allow(dead_code)]
                impl #owner {
                    #(#fns)*

                    #[doc = #doc_relation]
                    #vis const #constant: #relation_ty = #relation_value;
                }
            };
            return (None, inherent);
        };
        // An extension trait, declared next to the struct (so that it can be
        // imported) and implemented for the owner, which may be of another crate.
        let decls = fns
            .iter()
            .map(|(doc, sig, _)| quote_spanned!(span=> #[doc = #doc] #sig;));
        let impls = fns
            .iter()
            .map(|(_, sig, body)| quote_spanned!(span=> #sig #body));
        let part = ExtensionPart {
            name: (*extension).clone(),
            owner: quote!(#owner),
            owner_name: owner_name.clone(),
            decls: quote_spanned! {span=>
                #(#decls)*

                #[doc = #doc_relation]
                const #constant: #relation_ty;
            },
            impls: quote_spanned! {span=>
                #(#impls)*

                const #constant: #relation_ty = #relation_value;
            },
        };
        (Some(part), TokenStream::new())
    }
}

/// Some functions of an extension trait (`extension = "Name"`): those of one
/// relation. The relations that name the same trait share it.
struct ExtensionPart {
    name: Ident,
    owner: TokenStream,
    owner_name: String,
    decls: TokenStream,
    impls: TokenStream,
}

/// The extension traits, declared next to the struct (so that they can be
/// imported), and their impls for the owners, which may be of another crate.
fn extensions(vis: &syn::Visibility, parts: Vec<ExtensionPart>) -> (TokenStream, TokenStream) {
    let mut names: Vec<Ident> = Vec::new();
    for part in &parts {
        if !names.contains(&part.name) {
            names.push(part.name.clone());
        }
    }
    let mut declared = TokenStream::new();
    let mut implemented = TokenStream::new();
    for name in names {
        let mine: Vec<&ExtensionPart> = parts.iter().filter(|p| p.name == name).collect();
        let owner = &mine[0].owner;
        // One trait is for one model: the same name for relations of two
        // models is an error at the second one's name.
        if let Some(other) = mine
            .iter()
            .find(|p| p.owner.to_string() != owner.to_string())
        {
            let message = format!(
                "`extension = \"{name}\"` names a trait for `{}` already; relations of `{}` \
                 need another name",
                mine[0].owner_name, other.owner_name
            );
            declared.extend(syn::Error::new(other.name.span(), message).to_compile_error());
            continue;
        }
        let doc = format!(
            "Functions of `{}` for relations declared in this crate, written by \
             `#[derive(Model)]` as a trait (`extension = \"{name}\"`) so that `{}` may be \
             of another crate: `use` this trait to call them as `{}::prefetch_...`.",
            mine[0].owner_name, mine[0].owner_name, mine[0].owner_name
        );
        let decls = mine.iter().map(|p| &p.decls);
        let impls = mine.iter().map(|p| &p.impls);
        declared.extend(quote! {
            #[doc = #doc]
            #vis trait #name {
                #(#decls)*
            }
        });
        implemented.extend(quote! {
            #[automatically_derived]
            impl #name for #owner {
                #(#impls)*
            }
        });
    }
    (declared, implemented)
}

fn relation(
    model: &Model<'_>,
    field: &Field<'_>,
    fk: &ForeignKey<'_>,
) -> (Option<ExtensionPart>, TokenStream) {
    let krate = &model.krate;
    let child = model.ident;
    let vis = model.vis;
    let marker = marker(field);
    let field_ident = field.ident;
    let field_ty = field.ty;
    let field_name = field.ident.unraw().to_string();
    let column = field.index;
    let parent = fk.target;
    let parent_name = type_name(parent);
    let child_name = child.unraw().to_string();

    let (related, related_lit) = &fk.related_name;
    let span = related_lit
        .as_ref()
        .map_or_else(|| field.span(), |lit| lit.span());
    let reverse_path = format!("{parent_name}::prefetch_{related}");
    let forward_path = format!("{child_name}::prefetch_{field_name}");
    let child_ty: Type = syn::parse_quote!(#child);
    let reverse_fns = ToMany {
        name: related,
        span,
        vis,
        owner: parent,
        target: quote!(#child),
        kind: "reverse",
        marker: &marker,
        owner_name: parent_name.clone(),
        target_name: child_name.clone(),
        via: format!("(through `{child_name}::{field_name}`)"),
        extension: fk.extension.as_ref(),
        krate: &model.krate,
    }
    .expand();
    let (reverse_trait, reverse_fns) = reverse_fns;

    let prefetch_forward = method(&format!("prefetch_{field_name}"), field.span());
    let load_forward = method(&format!("load_{field_name}"), field.span());
    let loaded = if fk.nullable {
        quote!(::core::option::Option<#parent>)
    } else {
        quote!(#parent)
    };
    let doc_prefetch_forward = format!(
        "Every `{child_name}` with the `{parent_name}` its `{field_name}` points at, in one query."
    );
    let doc_load_forward =
        format!("The `{parent_name}` of each `{child_name}`, aligned with `children`.");
    let doc_forward = format!(
        "The `{parent_name}` this `{child_name}`'s `{field_name}` points at, in one query. \
         Refused inside `orm_core::strict`; batch with `{child_name}::{prefetch_forward}`."
    );
    let conn = quote!(conn: &'__a __D);
    let generics = quote!(<'__a, __D: #krate::Database + ?::core::marker::Sized + '__a>);
    let vec = quote!(::std::vec::Vec);
    let private = quote!(#krate::__private);

    let field_span = field.span();
    let forward_fns = quote_spanned! {field_span=>
        #[doc = #doc_prefetch_forward]
        #vis fn #prefetch_forward #generics (#conn, children: #vec<#child_ty>)
            -> #krate::Out<'__a, __D, #vec<(#child_ty, #loaded)>>
        {
            #private::prefetch_forward::<#marker, __D>(conn, children)
        }

        #[doc = #doc_load_forward]
        #vis fn #load_forward #generics (#conn, children: &'__a [#child_ty])
            -> #krate::Out<'__a, __D, #vec<#loaded>>
        {
            #private::load_forward::<#marker, __D>(conn, children)
        }

        #[doc = #doc_forward]
        #vis fn #field_ident #generics (&'__a self, #conn) -> #krate::Out<'__a, __D, #loaded> {
            #private::forward_of::<#marker, __D>(conn, self)
        }
    };

    let inner = quote! {
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

        #reverse_fns

        #[allow(dead_code)]
        impl #child {
            #forward_fns
        }
    };
    (reverse_trait, inner)
}

/// `many_to_many = "..."` on either foreign key of a two-key junction model.
fn many_to_many(model: &Model<'_>) -> (Vec<ExtensionPart>, TokenStream) {
    let krate = &model.krate;
    let fks: Vec<_> = model.foreign_keys().collect();
    let [(near_field, near), (far_field, far)] = fks[..] else {
        return (Vec::new(), TokenStream::new());
    };
    let one_side = |near_field: &Field<'_>,
                    near: &ForeignKey<'_>,
                    far_field: &Field<'_>,
                    far: &ForeignKey<'_>| {
        let Some(lit) = &near.many_to_many else {
            return (None, TokenStream::new());
        };
        let name = lit.value();
        let near_ty = near.target;
        let far_ty = far.target;
        let near_marker = marker(near_field);
        let far_marker = marker(far_field);
        let marker = format_ident!("__OrmManyToMany_{}", name);
        let near_name = type_name(near_ty);
        let prefetch_path = format!("{near_name}::prefetch_{name}");
        let junction = model.ident.unraw().to_string();
        let fns = ToMany {
            name: &name,
            span: lit.span(),
            vis: model.vis,
            owner: near_ty,
            target: quote!(#far_ty),
            kind: "through",
            marker: &marker,
            owner_name: near_name,
            target_name: type_name(far_ty),
            via: format!("(through `{junction}`)"),
            extension: near.extension.as_ref(),
            krate: &model.krate,
        }
        .expand();
        let (extension, fns) = fns;
        let private = quote!(#krate::__private);
        let inner = quote! {
            struct #marker;

            #[automatically_derived]
            impl #private::ManyToMany for #marker {
                type Near = #near_marker;
                type Far = #far_marker;
                const NAME: &'static str = #name;
                const PREFETCH: &'static str = #prefetch_path;
            }

            #fns
        };
        (extension, inner)
    };
    let (a_part, a) = one_side(near_field, near, far_field, far);
    let (b_part, b) = one_side(far_field, far, near_field, near);
    (a_part.into_iter().chain(b_part).collect(), quote!(#a #b))
}
