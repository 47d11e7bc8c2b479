//! Every piece of SQL text the crate sends is built here, and only here.
//!
//! Identifiers are always quoted; values never appear in the text, only `?`
//! placeholders. A second backend would add its own version of this module.

use std::fmt::Write;

use crate::model::Column;

/// `name` as a quoted SQL identifier: `"name"`, with inner quotes doubled.
pub(crate) fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_ident(&mut out, name);
    out
}

fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// `"a", "b", "c"`, each optionally qualified by `alias.`.
fn push_columns(out: &mut String, alias: Option<&str>, columns: &[Column]) {
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(alias) = alias {
            out.push_str(alias);
            out.push('.');
        }
        push_ident(out, column.name());
    }
}

/// `?, ?, ?` with `n` placeholders.
fn push_placeholders(out: &mut String, n: usize) {
    out.reserve(n * 3);
    for i in 0..n {
        out.push_str(if i == 0 { "?" } else { ", ?" });
    }
}

/// `CREATE TABLE IF NOT EXISTS` for the table and `CREATE INDEX IF NOT EXISTS`
/// for each foreign-key column, as one batch.
pub(crate) fn create_table(table: &str, columns: &[Column], primary_key: usize) -> String {
    let mut out = String::from("CREATE TABLE IF NOT EXISTS ");
    push_ident(&mut out, table);
    out.push_str(" (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_ident(&mut out, column.name());
        out.push(' ');
        out.push_str(column.sql_type());
        if i == primary_key {
            out.push_str(" PRIMARY KEY");
        }
        if !column.nullable() {
            out.push_str(" NOT NULL");
        }
        if let Some((parent, parent_key)) = column.references() {
            out.push_str(" REFERENCES ");
            push_ident(&mut out, parent);
            out.push_str(" (");
            push_ident(&mut out, parent_key);
            out.push(')');
        }
    }
    out.push_str(");");
    for column in columns.iter().filter(|c| c.references().is_some()) {
        out.push_str("\nCREATE INDEX IF NOT EXISTS ");
        push_ident(&mut out, &format!("{table}_{}_idx", column.name()));
        out.push_str(" ON ");
        push_ident(&mut out, table);
        out.push_str(" (");
        push_ident(&mut out, column.name());
        out.push_str(");");
    }
    out
}

/// `INSERT INTO "t" ("a", "b") VALUES (?, ?)`.
pub(crate) fn insert(table: &str, columns: &[Column]) -> String {
    let mut out = String::from("INSERT INTO ");
    push_ident(&mut out, table);
    out.push_str(" (");
    push_columns(&mut out, None, columns);
    out.push_str(") VALUES (");
    push_placeholders(&mut out, columns.len());
    out.push(')');
    out
}

fn select_from(table: &str, columns: &[Column]) -> String {
    let mut out = String::from("SELECT ");
    push_columns(&mut out, None, columns);
    out.push_str(" FROM ");
    push_ident(&mut out, table);
    out
}

/// Every row, in primary-key order.
pub(crate) fn select_all(table: &str, columns: &[Column], order_by: &str) -> String {
    let mut out = select_from(table, columns);
    let _ = write!(out, " ORDER BY {}", ident(order_by));
    out
}

/// The rows whose `key` column equals one bound value.
pub(crate) fn select_where_eq(
    table: &str,
    columns: &[Column],
    key: &str,
    order_by: &str,
) -> String {
    let mut out = select_from(table, columns);
    let _ = write!(
        out,
        " WHERE {} = ? ORDER BY {}",
        ident(key),
        ident(order_by)
    );
    out
}

/// The rows whose `key` column is one of `n` bound values, ordered by `key`
/// then `order_by`. With an index on `key` and an integer primary key this is
/// the index's own order, so SQLite sorts nothing.
pub(crate) fn select_where_in(
    table: &str,
    columns: &[Column],
    key: &str,
    order_by: &str,
    n: usize,
) -> String {
    let mut out = select_from(table, columns);
    let _ = write!(out, " WHERE {} IN (", ident(key));
    push_placeholders(&mut out, n);
    let _ = write!(out, ") ORDER BY {}, {}", ident(key), ident(order_by));
    out
}

/// Many-to-many through a junction table: every column of the far table `t`,
/// then the junction's near key, for the junction rows whose near key is one of
/// `n` bound values; ordered by far key, then junction key.
pub(crate) struct Junction<'a> {
    pub(crate) table: &'a str,
    pub(crate) primary_key: &'a str,
    pub(crate) near: &'a str,
    pub(crate) far: &'a str,
}

pub(crate) fn select_through(
    far_table: &str,
    far_columns: &[Column],
    far_key: &str,
    junction: &Junction<'_>,
    n: usize,
) -> String {
    let mut out = String::from("SELECT ");
    push_columns(&mut out, Some("t"), far_columns);
    let _ = write!(
        out,
        ", j.{near} FROM {jt} AS j JOIN {ft} AS t ON t.{fk} = j.{far} WHERE j.{near} IN (",
        near = ident(junction.near),
        jt = ident(junction.table),
        ft = ident(far_table),
        fk = ident(far_key),
        far = ident(junction.far),
    );
    push_placeholders(&mut out, n);
    let _ = write!(
        out,
        ") ORDER BY t.{}, j.{}",
        ident(far_key),
        ident(junction.primary_key)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::__new("id", "INTEGER", false, None),
        Column::__new("group", "TEXT", true, None),
    ];

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn select_in_has_one_placeholder_per_value() {
        assert_eq!(
            select_where_in("order", COLUMNS, "group", "id", 3),
            "SELECT \"id\", \"group\" FROM \"order\" WHERE \"group\" IN (?, ?, ?) ORDER BY \"group\", \"id\""
        );
    }

    #[test]
    fn create_table_marks_key_and_nullability() {
        assert_eq!(
            create_table("order", COLUMNS, 0),
            "CREATE TABLE IF NOT EXISTS \"order\" (\"id\" INTEGER PRIMARY KEY NOT NULL, \"group\" TEXT);"
        );
    }
}
