//! A typed view of the derive input that borrows the syn tree, so that every
//! later error can be spanned at the user's own tokens.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{
    Data, DeriveInput, Expr, Fields, GenericArgument, Ident, Lit, LitStr, Path, PathArguments,
    Type, UnOp, Visibility,
};

use crate::attr;
use crate::case::snake_case;
use crate::ctxt::Ctxt;

pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    /// The table name and, when given, the literal that gave it.
    pub(crate) table: (String, Option<LitStr>),
    /// `#[model(renamed_from = "...")]`.
    pub(crate) renamed_from: Option<LitStr>,
    /// The runtime's path: `::orm_core`, or `#[model(crate = "...")]`.
    pub(crate) krate: syn::Path,
    pub(crate) fields: Vec<Field<'a>>,
    /// `#[model(unique(..), index(..))]` in order, then each field's
    /// `#[column(unique)]` and `#[column(index)]`.
    pub(crate) indexes: Vec<Index>,
}

/// A unique constraint or an index.
pub(crate) struct Index {
    pub(crate) unique: bool,
    /// The `unique` or `index` key that declared it, for spans.
    pub(crate) key: Path,
    /// Each field as written, with its position among the fields; `None`
    /// when the struct has no such field (`check` reports it).
    pub(crate) fields: Vec<(Ident, Option<usize>)>,
}

pub(crate) struct Field<'a> {
    /// Position among the struct's fields: the column's index in `COLUMNS`.
    pub(crate) index: usize,
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) column: String,
    /// The `name` of `#[column(name = "...")]`, which gave `column`.
    pub(crate) column_name: Option<LitStr>,
    /// `#[column(renamed_from = "...")]`.
    pub(crate) renamed_from: Option<LitStr>,
    /// `#[column(default = ...)]`, when it is a literal.
    pub(crate) default: Option<ColumnDefault>,
    pub(crate) primary_key: Option<&'a syn::Attribute>,
    /// `auto` of `#[primary_key(auto)]`.
    pub(crate) auto: Option<syn::Path>,
    pub(crate) foreign_key: Option<ForeignKey<'a>>,
}

pub(crate) struct ForeignKey<'a> {
    /// `T` in `ForeignKey<T>`.
    pub(crate) target: &'a Type,
    pub(crate) nullable: bool,
    /// The reverse name, and the `related_name` literal if one was given.
    pub(crate) related_name: (String, Option<LitStr>),
    pub(crate) many_to_many: Option<LitStr>,
    pub(crate) on_delete: Option<(attr::OnDelete, LitStr)>,
    /// `extension = "Name"`: the parent-side functions as a trait of that name.
    pub(crate) extension: Option<Ident>,
}

/// A column default: the user's expression and the literal it is.
pub(crate) struct ColumnDefault {
    pub(crate) expr: Expr,
    pub(crate) value: Literal,
}

pub(crate) enum Literal {
    Bool(bool),
    Integer(i64),
    Real(f64),
    Text(String),
}

impl<'a> Model<'a> {
    /// Parses the input; `None` when it is not a struct with named fields.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let container = attr::container(cx, &input.attrs);
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            cx.error_at(
                &input.generics,
                "`#[derive(Model)]` does not support generic structs: a model is one table",
            );
        }
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                _ => {
                    cx.error_at(
                        &input.ident,
                        "`#[derive(Model)]` needs a struct with named fields; \
                         tuple and unit structs are not supported",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_at(
                    data.enum_token,
                    "`#[derive(Model)]` supports structs with named fields, not enums",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_at(
                    data.union_token,
                    "`#[derive(Model)]` supports structs with named fields, not unions",
                );
                return None;
            }
        };
        let child = input.ident.unraw().to_string();
        let mut column_indexes = Vec::new();
        let fields: Vec<Field<'a>> = named
            .named
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                Field::from_syn(cx, index, field, &child, &mut column_indexes)
            })
            .collect();
        let position = |ident: &Ident| {
            fields
                .iter()
                .find(|f| f.ident.unraw() == ident.unraw())
                .map(|f| f.index)
        };
        let indexes = container
            .indexes
            .into_iter()
            .map(|list| Index {
                unique: list.unique,
                key: list.key,
                fields: list
                    .fields
                    .into_iter()
                    .map(|f| {
                        let index = position(&f);
                        (f, index)
                    })
                    .collect(),
            })
            .chain(column_indexes)
            .collect();
        let table = match container.table {
            Some(lit) => (lit.value(), Some(lit)),
            None => (snake_case(&child), None),
        };
        Some(Model {
            ident: &input.ident,
            vis: &input.vis,
            table,
            renamed_from: container.renamed_from,
            krate: runtime_path(cx, container.krate.as_ref()),
            fields,
            indexes,
        })
    }

    /// Index of the primary-key field: the one marked `#[primary_key]`, else the
    /// one named `id`. `check` reports when there is none or more than one.
    pub(crate) fn primary_key(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.primary_key.is_some())
            .or_else(|| self.fields.iter().position(|f| f.ident == "id"))
    }

    pub(crate) fn foreign_keys(&self) -> impl Iterator<Item = (&Field<'a>, &ForeignKey<'a>)> {
        self.fields
            .iter()
            .filter_map(|f| f.foreign_key.as_ref().map(|fk| (f, fk)))
    }
}

impl<'a> Field<'a> {
    fn from_syn(
        cx: &Ctxt,
        index: usize,
        field: &'a syn::Field,
        child: &str,
        indexes: &mut Vec<Index>,
    ) -> Option<Self> {
        let ident = field.ident.as_ref()?;
        let attrs = attr::field(cx, &field.attrs);
        for (key, unique) in [(&attrs.column.unique, true), (&attrs.column.index, false)] {
            if let Some(key) = key {
                indexes.push(Index {
                    unique,
                    key: key.clone(),
                    fields: vec![(ident.clone(), Some(index))],
                });
            }
        }
        let name = ident.unraw().to_string();
        let foreign_key = match (foreign_key_target(&field.ty), attrs.foreign_key) {
            (Some((target, nullable)), attr) => {
                let (related_name, many_to_many, on_delete, extension) = attr
                    .map(|a| (a.related_name, a.many_to_many, a.on_delete, a.extension))
                    .unwrap_or_default();
                // The trait's name must be an identifier: the error points at it.
                let extension = extension.and_then(|lit| match lit.parse::<Ident>() {
                    Ok(ident) => Some(Ident::new(&ident.to_string(), lit.span())),
                    Err(_) => {
                        cx.error_at(
                            &lit,
                            "`extension` names the trait to write, as in \
                             `#[foreign_key(related_name = \"products\", extension = \"CategoryProducts\")]`",
                        );
                        None
                    }
                });
                let related_name = match related_name {
                    Some(lit) => (lit.value(), Some(lit)),
                    None => (format!("{}_set", snake_case(child)), None),
                };
                Some(ForeignKey {
                    target,
                    nullable,
                    related_name,
                    many_to_many,
                    on_delete,
                    extension,
                })
            }
            (None, Some(_)) => {
                cx.error_at(
                    &field.ty,
                    "`#[foreign_key]` needs a field of type `ForeignKey<T>` or \
                     `Option<ForeignKey<T>>`, where `T` is the model it points at",
                );
                None
            }
            (None, None) => None,
        };
        let column = match &attrs.column.name {
            Some(lit) => lit.value(),
            None if foreign_key.is_some() => format!("{name}_id"),
            None => name,
        };
        let default = attrs.column.default.and_then(|expr| {
            let value = literal(&expr);
            if value.is_none() {
                cx.error_at(
                    &expr,
                    "`default` must be a literal of the field's type, as in \
                     `default = 0`, `default = 1.5`, `default = \"\"` or `default = true`",
                );
            }
            value.map(|value| ColumnDefault { expr, value })
        });
        Some(Field {
            index,
            ident,
            ty: &field.ty,
            column,
            column_name: attrs.column.name,
            renamed_from: attrs.column.renamed_from,
            default,
            primary_key: attrs.primary_key,
            auto: attrs.auto,
            foreign_key,
        })
    }

    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }
}

/// The literal a `default = ...` expression is: `true`, `3`, `-3`, `1.5`, `"a"`.
fn literal(expr: &Expr) -> Option<Literal> {
    let (negative, lit) = match expr {
        Expr::Lit(lit) => (false, &lit.lit),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(lit) => (true, &lit.lit),
            _ => return None,
        },
        Expr::Group(group) => return literal(&group.expr),
        _ => return None,
    };
    let sign = if negative { "-" } else { "" };
    match lit {
        Lit::Bool(b) if !negative => Some(Literal::Bool(b.value)),
        Lit::Str(s) if !negative => Some(Literal::Text(s.value())),
        Lit::Int(i) => format!("{sign}{}", i.base10_digits())
            .parse()
            .ok()
            .map(Literal::Integer),
        Lit::Float(f) => format!("{sign}{}", f.base10_digits())
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())
            .map(Literal::Real),
        _ => None,
    }
}

/// `T` and whether it is nullable, for `ForeignKey<T>` and `Option<ForeignKey<T>>`.
fn foreign_key_target(ty: &Type) -> Option<(&Type, bool)> {
    if let Some(inner) = single_argument(ty, "Option") {
        return single_argument(inner, "ForeignKey").map(|t| (t, true));
    }
    single_argument(ty, "ForeignKey").map(|t| (t, false))
}

/// `T` in `Name<T>` (with any path prefix), when `ty` is that.
fn single_argument<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// The runtime crate's path: `#[model(crate = "...")]` (a crate that
/// re-exports orm-core), else `::orm_core`.
pub(crate) fn runtime_path(cx: &Ctxt, lit: Option<&LitStr>) -> syn::Path {
    let default = || syn::parse_quote!(::orm_core);
    match lit {
        Some(lit) => lit.parse().unwrap_or_else(|_| {
            cx.error_at(
                lit,
                "`crate` is the path the runtime is re-exported at, as in \
                 `#[model(crate = \"my_app::orm\")]`",
            );
            default()
        }),
        None => default(),
    }
}
