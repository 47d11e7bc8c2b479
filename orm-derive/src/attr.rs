//! The derive's attributes, parsed with `parse_nested_meta`.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Meta};

use crate::ctxt::Ctxt;

pub(crate) const MODEL: &str = "model";
pub(crate) const PRIMARY_KEY: &str = "primary_key";
pub(crate) const FOREIGN_KEY: &str = "foreign_key";
pub(crate) const TABLE: &str = "table";
pub(crate) const RELATED_NAME: &str = "related_name";
pub(crate) const MANY_TO_MANY: &str = "many_to_many";
pub(crate) const AUTO: &str = "auto";

/// `#[model(...)]` on the struct.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) table: Option<LitStr>,
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
}

pub(crate) struct ForeignKey {
    pub(crate) related_name: Option<LitStr>,
    pub(crate) many_to_many: Option<LitStr>,
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
                } else {
                    unknown_key(cx, &meta, MODEL, &[TABLE])
                }
            });
            if let Err(err) = parsed {
                cx.push(err);
            }
        } else if attr.path().is_ident(PRIMARY_KEY) || attr.path().is_ident(FOREIGN_KEY) {
            cx.error_at(
                attr,
                "`#[primary_key]` and `#[foreign_key]` go on fields, not on the struct",
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
        } else if attr.path().is_ident(MODEL) {
            cx.error_at(
                attr,
                "`#[model(...)]` goes on the struct; fields take `#[primary_key]` and `#[foreign_key]`",
            );
        }
    }
    out
}

fn foreign_key(cx: &Ctxt, attr: &Attribute) -> ForeignKey {
    let mut out = ForeignKey {
        related_name: None,
        many_to_many: None,
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
                } else {
                    unknown_key(cx, &meta, FOREIGN_KEY, &[RELATED_NAME, MANY_TO_MANY])
                }
            });
            if let Err(err) = parsed {
                cx.push(err);
            }
        }
    }
    out
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
    cx.error_at(
        &meta.path,
        format!(
            "unknown key `{key}` in `#[{attr}(...)]`; expected {}",
            accepted.join(" or ")
        ),
    );
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}
