//! The derive's attributes, parsed with `parse_nested_meta`.

use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, LitStr, Meta, Path};

use crate::ctxt::Ctxt;

pub(crate) const MODEL: &str = "model";
pub(crate) const PRIMARY_KEY: &str = "primary_key";
pub(crate) const FOREIGN_KEY: &str = "foreign_key";
pub(crate) const TABLE: &str = "table";
pub(crate) const CRATE: &str = "crate";
pub(crate) const RELATED_NAME: &str = "related_name";
pub(crate) const MANY_TO_MANY: &str = "many_to_many";
pub(crate) const AUTO: &str = "auto";
pub(crate) const COLUMN: &str = "column";
pub(crate) const NAME: &str = "name";
pub(crate) const UNIQUE: &str = "unique";
pub(crate) const INDEX: &str = "index";
pub(crate) const DEFAULT: &str = "default";
pub(crate) const ON_DELETE: &str = "on_delete";
pub(crate) const RENAMED_FROM: &str = "renamed_from";
pub(crate) const EXTENSION: &str = "extension";
/// The values of `on_delete`.
pub(crate) const CASCADE: &str = "cascade";
pub(crate) const SET_NULL: &str = "set_null";
pub(crate) const RESTRICT: &str = "restrict";

/// `#[model(...)]` on the struct.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) table: Option<LitStr>,
    /// `renamed_from = "..."`: the table's former name, for migrations.
    pub(crate) renamed_from: Option<LitStr>,
    /// `crate = "path"`: where the runtime is, for crates that re-export it.
    pub(crate) krate: Option<LitStr>,
    /// `unique(a, b)` and `index(a, b)`, in order.
    pub(crate) indexes: Vec<IndexList>,
}

/// `unique(a, b)` or `index(a, b)` in `#[model(...)]`.
pub(crate) struct IndexList {
    /// The `unique` or `index` key, for spans.
    pub(crate) key: Path,
    pub(crate) unique: bool,
    /// The fields, as written.
    pub(crate) fields: Vec<Ident>,
}

/// The attributes of one field.
#[derive(Default)]
pub(crate) struct Field<'a> {
    /// `#[primary_key]`, the attribute itself for spans.
    pub(crate) primary_key: Option<&'a Attribute>,
    /// `auto` in `#[primary_key(auto)]`, for spans.
    pub(crate) auto: Option<syn::Path>,
    /// `#[foreign_key]` or `#[foreign_key(...)]`.
    pub(crate) foreign_key: Option<ForeignKey>,
    /// `#[column(...)]`.
    pub(crate) column: Column,
}

pub(crate) struct ForeignKey {
    pub(crate) related_name: Option<LitStr>,
    pub(crate) many_to_many: Option<LitStr>,
    /// `on_delete = "..."`, a value checked against the accepted ones.
    pub(crate) on_delete: Option<(OnDelete, LitStr)>,
    /// `extension = "Name"`: the parent-side functions as a trait.
    pub(crate) extension: Option<LitStr>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDelete {
    Cascade,
    SetNull,
    Restrict,
}

/// `#[column(name = "...", unique, index, default = ...)]`.
#[derive(Default)]
pub(crate) struct Column {
    pub(crate) name: Option<LitStr>,
    pub(crate) unique: Option<Path>,
    pub(crate) index: Option<Path>,
    pub(crate) default: Option<Expr>,
    /// `renamed_from = "..."`: the column's former name, for migrations.
    pub(crate) renamed_from: Option<LitStr>,
}

pub(crate) fn container(cx: &Ctxt, attrs: &[Attribute]) -> Container {
    let mut out = Container::default();
    for attr in attrs {
        if attr.path().is_ident(MODEL) {
            if !matches!(attr.meta, Meta::List(_)) {
                cx.error_at(attr, "expected `#[model(table = \"...\")]`");
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident(TABLE) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.table, value, &meta, TABLE);
                    Ok(())
                } else if meta.path.is_ident(RENAMED_FROM) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.renamed_from, value, &meta, RENAMED_FROM);
                    Ok(())
                } else if meta.path.is_ident(CRATE) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.krate, value, &meta, CRATE);
                    Ok(())
                } else if meta.path.is_ident(UNIQUE) || meta.path.is_ident(INDEX) {
                    if let Some(list) = index_list(cx, &meta)? {
                        out.indexes.push(list);
                    }
                    Ok(())
                } else {
                    unknown_key(
                        cx,
                        &meta,
                        MODEL,
                        &[TABLE, UNIQUE, INDEX, RENAMED_FROM, CRATE],
                    )
                }
            });
            if let Err(err) = parsed {
                cx.push(err);
            }
        } else if attr.path().is_ident(PRIMARY_KEY)
            || attr.path().is_ident(FOREIGN_KEY)
            || attr.path().is_ident(COLUMN)
        {
            cx.error_at(
                attr,
                "`#[primary_key]`, `#[foreign_key]` and `#[column]` go on fields, not on the struct",
            );
        }
    }
    out
}

pub(crate) fn field<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> Field<'a> {
    let mut out = Field::default();
    for attr in attrs {
        if attr.path().is_ident(PRIMARY_KEY) {
            if out.primary_key.is_some() {
                cx.error_at(attr, "duplicate `#[primary_key]` on this field");
                continue;
            }
            out.primary_key = Some(attr);
            match &attr.meta {
                Meta::Path(_) => {}
                Meta::NameValue(_) => {
                    cx.error_at(attr, "expected `#[primary_key]` or `#[primary_key(auto)]`")
                }
                Meta::List(_) => {
                    let parsed = attr.parse_nested_meta(|meta| {
                        if meta.path.is_ident(AUTO) {
                            if out.auto.is_some() {
                                cx.error_at(&meta.path, format!("duplicate `{AUTO}`"));
                            }
                            out.auto = Some(meta.path.clone());
                            Ok(())
                        } else {
                            unknown_key(cx, &meta, PRIMARY_KEY, &[AUTO])
                        }
                    });
                    if let Err(err) = parsed {
                        cx.push(err);
                    }
                }
            }
        } else if attr.path().is_ident(FOREIGN_KEY) {
            if out.foreign_key.is_some() {
                cx.error_at(attr, "duplicate `#[foreign_key]` on this field");
                continue;
            }
            out.foreign_key = Some(foreign_key(cx, attr));
        } else if attr.path().is_ident(COLUMN) {
            column(cx, attr, &mut out.column);
        } else if attr.path().is_ident(MODEL) {
            cx.error_at(
                attr,
                "`#[model(...)]` goes on the struct; fields take `#[primary_key]`, \
                 `#[foreign_key]` and `#[column]`",
            );
        }
    }
    out
}

fn foreign_key(cx: &Ctxt, attr: &Attribute) -> ForeignKey {
    let mut out = ForeignKey {
        related_name: None,
        many_to_many: None,
        on_delete: None,
        extension: None,
    };
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::NameValue(_) => cx.error_at(
            attr,
            "expected `#[foreign_key]` or `#[foreign_key(related_name = \"products\")]`",
        ),
        Meta::List(_) => {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident(RELATED_NAME) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.related_name, value, &meta, RELATED_NAME);
                    Ok(())
                } else if meta.path.is_ident(MANY_TO_MANY) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.many_to_many, value, &meta, MANY_TO_MANY);
                    Ok(())
                } else if meta.path.is_ident(EXTENSION) {
                    let value: LitStr = meta.value()?.parse()?;
                    set_once(cx, &mut out.extension, value, &meta, EXTENSION);
                    Ok(())
                } else if meta.path.is_ident(ON_DELETE) {
                    let value: LitStr = meta.value()?.parse()?;
                    let action = match value.value().as_str() {
                        CASCADE => OnDelete::Cascade,
                        SET_NULL => OnDelete::SetNull,
                        RESTRICT => OnDelete::Restrict,
                        _ => {
                            cx.error_at(
                                &value,
                                format!(
                                    "expected `{ON_DELETE} = \"{CASCADE}\"`, \
                                     `{ON_DELETE} = \"{SET_NULL}\"` or `{ON_DELETE} = \"{RESTRICT}\"`"
                                ),
                            );
                            return Ok(());
                        }
                    };
                    if out.on_delete.is_some() {
                        cx.error_at(&meta.path, format!("duplicate `{ON_DELETE}`"));
                    } else {
                        out.on_delete = Some((action, value));
                    }
                    Ok(())
                } else {
                    unknown_key(
                        cx,
                        &meta,
                        FOREIGN_KEY,
                        &[RELATED_NAME, MANY_TO_MANY, ON_DELETE, EXTENSION],
                    )
                }
            });
            if let Err(err) = parsed {
                cx.push(err);
            }
        }
    }
    out
}

/// `#[column(...)]`; several on one field add up, a key given twice is an error.
fn column(cx: &Ctxt, attr: &Attribute, out: &mut Column) {
    if !matches!(attr.meta, Meta::List(_)) {
        cx.error_at(
            attr,
            "expected `#[column(name = \"...\")]`, `#[column(unique)]`, \
             `#[column(index)]` or `#[column(default = ...)]`",
        );
        return;
    }
    let parsed = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident(NAME) {
            let value: LitStr = meta.value()?.parse()?;
            set_once(cx, &mut out.name, value, &meta, NAME);
        } else if meta.path.is_ident(UNIQUE) {
            flag(cx, &mut out.unique, &meta, UNIQUE);
        } else if meta.path.is_ident(INDEX) {
            flag(cx, &mut out.index, &meta, INDEX);
        } else if meta.path.is_ident(RENAMED_FROM) {
            let value: LitStr = meta.value()?.parse()?;
            set_once(cx, &mut out.renamed_from, value, &meta, RENAMED_FROM);
        } else if meta.path.is_ident(DEFAULT) {
            let value: Expr = meta.value()?.parse()?;
            if out.default.is_some() {
                cx.error_at(&meta.path, format!("duplicate `{DEFAULT}`"));
            } else {
                out.default = Some(value);
            }
        } else {
            return unknown_key(
                cx,
                &meta,
                COLUMN,
                &[NAME, UNIQUE, INDEX, DEFAULT, RENAMED_FROM],
            );
        }
        Ok(())
    });
    if let Err(err) = parsed {
        cx.push(err);
    }
}

/// A key without a value, such as `unique`.
fn flag(cx: &Ctxt, slot: &mut Option<Path>, meta: &ParseNestedMeta<'_>, key: &str) {
    if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
        cx.error_at(
            &meta.path,
            format!("expected `{key}` alone, as in `#[column({key})]`"),
        );
        skip_value(meta);
    } else if slot.is_some() {
        cx.error_at(&meta.path, format!("duplicate `{key}`"));
    } else {
        *slot = Some(meta.path.clone());
    }
}

/// `unique(a, b)` or `index(a, b)`: the field names, at least one.
fn index_list(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<IndexList>> {
    let unique = meta.path.is_ident(UNIQUE);
    let key = if unique { UNIQUE } else { INDEX };
    if !meta.input.peek(syn::token::Paren) {
        cx.error_at(
            &meta.path,
            format!(
                "expected `{key}(field, ...)` listing the fields, as in `{key}(project, number)`"
            ),
        );
        skip_value(meta);
        return Ok(None);
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let listed = Punctuated::<Expr, syn::Token![,]>::parse_terminated(&content)?;
    let mut fields = Vec::new();
    let empty = listed.is_empty();
    for expr in listed {
        match &expr {
            Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                fields.extend(p.path.get_ident().cloned());
            }
            _ => cx.error_at(
                &expr,
                format!("expected a field name in `{key}(...)`, as in `{key}(project, number)`"),
            ),
        }
    }
    if empty {
        cx.error_at(&meta.path, format!("`{key}(...)` needs at least one field"));
    }
    if fields.is_empty() {
        return Ok(None);
    }
    Ok(Some(IndexList {
        key: meta.path.clone(),
        unique,
        fields,
    }))
}

/// Skips whatever follows a key up to the next `,`, so the rest is still read.
fn skip_value(meta: &ParseNestedMeta<'_>) {
    let _ = meta.input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Stores `value`, or reports a duplicate at its second occurrence.
fn set_once(
    cx: &Ctxt,
    slot: &mut Option<LitStr>,
    value: LitStr,
    meta: &ParseNestedMeta<'_>,
    key: &str,
) {
    if slot.is_some() {
        cx.error_at(&meta.path, format!("duplicate `{key}`"));
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown key with the accepted ones, then skips its value so the
/// rest of the attribute is still read.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    attr: &str,
    accepted: &[&str],
) -> syn::Result<()> {
    let key = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_owned(), ToString::to_string);
    let accepted: Vec<String> = accepted.iter().map(|k| format!("`{k}`")).collect();
    let expected = match accepted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => accepted.concat(),
    };
    cx.error_at(
        &meta.path,
        format!("unknown key `{key}` in `#[{attr}(...)]`; expected {expected}"),
    );
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}
