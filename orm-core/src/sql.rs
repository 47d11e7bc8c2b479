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
    select_with(table, columns, "")
}

/// `SELECT <columns><extra> FROM "table"`.
fn select_with(table: &str, columns: &[Column], extra: &str) -> String {
    let mut out = String::from("SELECT ");
    push_columns(&mut out, None, columns);
    out.push_str(extra);
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

/// The rows whose `key` column is one of `n` bound values. No `ORDER BY`:
/// sorting in SQLite cost 40% on 100k rows, so the loader orders groups itself.
pub(crate) fn select_where_in(table: &str, columns: &[Column], key: &str, n: usize) -> String {
    let mut out = select_from(table, columns);
    let _ = write!(out, " WHERE {} IN (", ident(key));
    push_placeholders(&mut out, n);
    out.push(')');
    out
}

/// One statement that lets SQLite choose between an `IN` list and a full scan.
///
/// `?1` is a row count: when it reaches the number of rows of `sized_by`
/// (estimated by its largest rowid, which costs one B-tree descent), the second
/// arm scans the whole table and the caller filters in Rust; otherwise the
/// first arm probes the `key` index with `?2 ...`. The size is a one-row table
/// joined first (`CROSS JOIN` fixes the order), so each arm's condition is
/// tested once, before its loop, not once per row. A last column tells which
/// arm a row came from: 1 for the `IN` list, 0 for the scan.
pub(crate) fn select_where_in_or_scan(
    table: &str,
    columns: &[Column],
    key: &str,
    sized_by: &str,
    n: usize,
) -> String {
    let mut out = format!(
        "WITH s(n) AS (SELECT coalesce(max(rowid), 0) FROM {}) SELECT ",
        ident(sized_by)
    );
    let from = format!(" FROM s CROSS JOIN {} AS t WHERE ", ident(table));
    push_columns(&mut out, Some("t"), columns);
    let _ = write!(out, ", 1{from}?1 < s.n AND t.{} IN (", ident(key));
    push_placeholders(&mut out, n);
    out.push_str(") UNION ALL SELECT ");
    push_columns(&mut out, Some("t"), columns);
    let _ = write!(out, ", 0{from}?1 >= s.n");
    out
}

/// Many-to-many through a junction table: every column of the far table `t`,
/// then the junction's near key, for the junction rows whose near key is one of
/// `n` bound values.
pub(crate) struct Junction<'a> {
    pub(crate) table: &'a str,
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
    out.push(')');
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
            select_where_in("order", COLUMNS, "group", 3),
            "SELECT \"id\", \"group\" FROM \"order\" WHERE \"group\" IN (?, ?, ?)"
        );
    }

    #[test]
    fn in_or_scan_marks_each_arm_and_reuses_the_threshold() {
        assert_eq!(
            select_where_in_or_scan("order", COLUMNS, "group", "parent", 2),
            "WITH s(n) AS (SELECT coalesce(max(rowid), 0) FROM \"parent\") \
             SELECT t.\"id\", t.\"group\", 1 FROM s CROSS JOIN \"order\" AS t \
             WHERE ?1 < s.n AND t.\"group\" IN (?, ?) \
             UNION ALL SELECT t.\"id\", t.\"group\", 0 FROM s CROSS JOIN \"order\" AS t WHERE ?1 >= s.n"
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
