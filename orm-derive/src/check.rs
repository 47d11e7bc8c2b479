//! The rules a model must follow, one function each. Every violation is
//! reported, spanned at the tokens that break the rule.

use std::collections::HashMap;

use quote::ToTokens;
use syn::ext::IdentExt;

use crate::ast::{ForeignKey, Model};
use crate::attr::OnDelete;
use crate::ctxt::Ctxt;

/// Names the derive or the `Model` trait already gives a model's methods; a
/// relation with one of them would shadow or clash with it.
const RESERVED: &[&str] = &[
    "all",
    "get",
    "insert",
    "insert_all",
    "update",
    "upsert",
    "delete",
    "query",
    "fields",
    "create_table",
    "create_table_sql",
    "create_table_sql_postgres",
    "check_table",
    "drop_table",
    "from_row",
    "primary_key",
    "primary_key_column",
];

pub(crate) fn check(cx: &Ctxt, model: &Model<'_>) {
    check_table(cx, model);
    check_primary_key(cx, model);
    check_columns(cx, model);
    check_related_names(cx, model);
    check_relation_clashes(cx, model);
    check_many_to_many(cx, model);
    check_indexes(cx, model);
    check_on_delete(cx, model);
}

fn check_table(cx: &Ctxt, model: &Model<'_>) {
    if let (name, Some(lit)) = &model.table {
        if name.is_empty() {
            cx.error_at(
                lit,
                "`#[model(table = \"...\")]` needs a non-empty table name",
            );
        }
    }
}

fn check_primary_key(cx: &Ctxt, model: &Model<'_>) {
    let marked: Vec<_> = model
        .fields
        .iter()
        .filter(|f| f.primary_key.is_some())
        .collect();
    for extra in marked.iter().skip(1) {
        cx.error_at(
            extra.primary_key,
            "a model has one `#[primary_key]`; composite keys are not supported",
        );
    }
    let Some(index) = model.primary_key() else {
        cx.error_at(
            model.ident,
            format!(
                "`{}` has no primary key: mark a field with `#[primary_key]` or name it `id`",
                model.ident
            ),
        );
        return;
    };
    let field = &model.fields[index];
    if field.foreign_key.is_some() {
        cx.error_at(field.ty, "the primary key cannot be a `ForeignKey`");
    }
}

fn check_columns(cx: &Ctxt, model: &Model<'_>) {
    let mut seen = HashMap::new();
    for field in &model.fields {
        if let Some(lit) = &field.column_name {
            if field.column.is_empty() {
                cx.error_at(lit, "`#[column(name = \"...\")]` needs a non-empty name");
                continue;
            }
        }
        if let Some(first) = seen.insert(field.column.as_str(), field.ident) {
            let message = format!(
                "column `{}` is already used by field `{first}`",
                field.column
            );
            match &field.column_name {
                Some(lit) => cx.error_at(lit, message),
                None => cx.error_at(field.ident, message),
            }
        }
    }
}

/// `unique(...)` and `index(...)` name fields of the struct, each once.
fn check_indexes(cx: &Ctxt, model: &Model<'_>) {
    let mut declared: Vec<(bool, Vec<Option<usize>>)> = Vec::new();
    for index in &model.indexes {
        let key = if index.unique { "unique" } else { "index" };
        let positions: Vec<Option<usize>> = index.fields.iter().map(|(_, p)| *p).collect();
        if declared.contains(&(index.unique, positions.clone())) {
            cx.error_at(
                &index.key,
                format!("this `{key}` repeats an earlier one on the same fields"),
            );
        }
        declared.push((index.unique, positions));
        let mut seen = Vec::new();
        for (ident, position) in &index.fields {
            match position {
                None => cx.error_at(
                    ident,
                    format!(
                        "`{}` has no field `{ident}`; `{key}(...)` lists field names",
                        model.ident
                    ),
                ),
                Some(position) if seen.contains(position) => {
                    cx.error_at(ident, format!("`{ident}` is already in this `{key}(...)`"));
                }
                Some(position) => seen.push(*position),
            }
        }
    }
}

/// `on_delete = "set_null"` needs a column that can be NULL.
fn check_on_delete(cx: &Ctxt, model: &Model<'_>) {
    for (field, fk) in model.foreign_keys() {
        if let Some((OnDelete::SetNull, lit)) = &fk.on_delete {
            if !fk.nullable {
                cx.error_at(
                    lit,
                    format!(
                        "`on_delete = \"set_null\"` needs a nullable foreign key: \
                         declare `{}` as `Option<ForeignKey<{}>>`, or use \
                         `\"cascade\"` or `\"restrict\"`",
                        field.ident,
                        fk.target.to_token_stream()
                    ),
                );
            }
        }
    }
}

fn check_related_names(cx: &Ctxt, model: &Model<'_>) {
    for (field, fk) in model.foreign_keys() {
        if let (name, Some(lit)) = &fk.related_name {
            check_method_name(cx, lit, name, "related_name");
        }
        if let Some(lit) = &fk.many_to_many {
            check_method_name(cx, lit, &lit.value(), "many_to_many");
        }
        if RESERVED.contains(&field.ident.unraw().to_string().as_str()) {
            cx.error_at(
                field.ident,
                format!(
                    "a foreign-key field cannot be named `{}`: its accessor would shadow `Model::{}`",
                    field.ident, field.ident
                ),
            );
        }
    }
}

fn check_method_name(cx: &Ctxt, lit: &syn::LitStr, name: &str, key: &str) {
    if syn::parse_str::<syn::Ident>(name).is_err() || name.starts_with("r#") {
        cx.error_at(
            lit,
            format!(
                "`{key}` must be a Rust identifier such as `\"products\"`, \
                 since it names the generated methods; `{name:?}` is not"
            ),
        );
    } else if RESERVED.contains(&name) {
        cx.error_at(
            lit,
            format!("`{key} = {name:?}` would shadow `Model::{name}`; choose another name"),
        );
    }
}

/// Two relations of this model that would give one target model the same method.
fn check_relation_clashes(cx: &Ctxt, model: &Model<'_>) {
    let mut seen: HashMap<(String, String), ()> = HashMap::new();
    for (field, fk) in model.foreign_keys() {
        let target = fk.target.to_token_stream().to_string();
        let (name, lit) = &fk.related_name;
        if seen.insert((target.clone(), name.clone()), ()).is_some() {
            let message = format!(
                "`{}` already has a relation named `{name}` from `{}`; \
                 give this foreign key another `related_name`, \
                 as in `#[foreign_key(related_name = \"...\")]`",
                fk.target.to_token_stream(),
                model.ident
            );
            match lit {
                Some(lit) => cx.error_at(lit, message),
                None => cx.error_at(field.ident, message),
            }
        }
        if let Some(lit) = &fk.many_to_many {
            if seen.insert((target, lit.value()), ()).is_some() {
                cx.error_at(
                    lit,
                    format!(
                        "`{}` already has a relation named `{}`; choose another `many_to_many` name",
                        fk.target.to_token_stream(),
                        lit.value()
                    ),
                );
            }
        }
    }
}

fn check_many_to_many(cx: &Ctxt, model: &Model<'_>) {
    let fks: Vec<&ForeignKey<'_>> = model.foreign_keys().map(|(_, fk)| fk).collect();
    for fk in &fks {
        if let Some(lit) = &fk.many_to_many {
            if fks.len() != 2 {
                cx.error_at(
                    lit,
                    format!(
                        "`many_to_many` needs a junction model with exactly two foreign keys; \
                         `{}` has {}",
                        model.ident,
                        fks.len()
                    ),
                );
            }
        }
    }
}
