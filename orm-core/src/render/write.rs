//! Writes: insert, upsert, update and delete by key, and of the rows a query
//! selects; SQLite's multi-row insert; PostgreSQL's `COPY` and the keys it
//! draws from a sequence for the rows it writes.

use super::{push_ident, Slot, Sql, Writer};
use crate::column::Column;
use crate::dialect::Dialect;
use crate::statement::{Shape, Table, Write};

/// A write.
pub(crate) fn write<'q>(dialect: Dialect, write: &Write<'q>, lists_as_json: bool) -> Sql<'q> {
    let mut w = Writer::new(dialect, lists_as_json);
    match *write {
        Write::Insert { table, auto_key } => {
            let columns: Vec<usize> = (0..table.columns.len())
                .filter(|&i| !(auto_key && i == table.primary_key))
                .collect();
            w.push("INSERT INTO ");
            w.ident(table.name);
            if columns.is_empty() {
                w.push(" DEFAULT VALUES");
            } else {
                w.push(" (");
                for (n, &i) in columns.iter().enumerate() {
                    if n > 0 {
                        w.push(", ");
                    }
                    w.ident(table.columns[i].name());
                }
                w.push(") VALUES (");
                for (n, &i) in columns.iter().enumerate() {
                    if n > 0 {
                        w.push(", ");
                    }
                    w.param(Slot::Field(i));
                }
                w.push(")");
            }
            if auto_key {
                w.push(" RETURNING ");
                w.ident(table.key_column());
            }
        }
        Write::Upsert { table, auto_key } => {
            // PostgreSQL's identity sequence does not see a key written
            // explicitly: move it past this one, in the same statement, or
            // the next automatic insert would collide with it. (SQLite's
            // next rowid is one past the largest, whatever wrote it.)
            let sequence = auto_key && dialect == Dialect::Postgres;
            if sequence {
                w.push("WITH w AS (");
            }
            w.push("INSERT INTO ");
            w.ident(table.name);
            w.push(" (");
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(column.name());
            }
            w.push(") VALUES (");
            for i in 0..table.columns.len() {
                if i > 0 {
                    w.push(", ");
                }
                w.param(Slot::Field(i));
            }
            w.push(") ON CONFLICT (");
            w.ident(table.key_column());
            let others: Vec<&Column> = table
                .columns
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != table.primary_key)
                .map(|(_, c)| c)
                .collect();
            if others.is_empty() {
                w.push(") DO NOTHING");
            } else {
                w.push(") DO UPDATE SET ");
                for (i, column) in others.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.ident(column.name());
                    w.push(" = excluded.");
                    w.ident(column.name());
                }
            }
            if sequence {
                let key = table.key_column();
                let mut quoted = String::new();
                push_ident(&mut quoted, table.name);
                w.push(" RETURNING ");
                w.ident(key);
                w.push(") SELECT setval(q.s, w.");
                w.ident(key);
                w.push(") FROM w, (SELECT pg_get_serial_sequence(");
                w.param(Slot::Text(quoted));
                w.push(", ");
                w.param(Slot::Text(key.to_owned()));
                w.push(")::regclass AS s) AS q WHERE w.");
                w.ident(key);
                w.push(" > coalesce(pg_sequence_last_value(q.s), 0)");
            }
        }
        Write::UpdateByKey { table } => {
            w.push("UPDATE ");
            w.ident(table.name);
            w.push(" SET ");
            let mut first = true;
            for i in (0..table.columns.len()).filter(|&i| i != table.primary_key) {
                if !first {
                    w.push(", ");
                }
                first = false;
                w.ident(table.columns[i].name());
                w.push(" = ");
                w.param(Slot::Field(i));
            }
            if first {
                // Only a key: touch nothing, but still say whether the row exists.
                w.ident(table.key_column());
                w.push(" = ");
                w.ident(table.key_column());
            }
            w.push(" WHERE ");
            w.ident(table.key_column());
            w.push(" = ");
            w.param(Slot::Field(table.primary_key));
        }
        Write::DeleteByKey { table } => {
            w.push("DELETE FROM ");
            w.ident(table.name);
            w.push(" WHERE ");
            w.ident(table.key_column());
            w.push(" = ");
            w.param(Slot::Field(table.primary_key));
        }
        Write::Update {
            table,
            shape,
            assignments,
        } => {
            w.push("UPDATE ");
            w.table(table.name, "t");
            w.push(" SET ");
            for (i, (column, value)) in assignments.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(table.columns[*column].name());
                w.push(" = ");
                w.param(Slot::Value(value));
            }
            rows_of(&mut w, &table, shape);
        }
        Write::Delete { table, shape } => {
            w.push("DELETE FROM ");
            w.table(table.name, "t");
            rows_of(&mut w, &table, shape);
        }
    }
    w.finish(None, None)
}

/// An SQLite `INSERT` of `rows` rows of values in one statement, without
/// the key when it is automatic (then one row: SQLite does not say in which
/// order it numbers the rows of one statement). `Slot::Field` numbers the
/// rows' columns end to end.
pub(crate) fn insert_many(table: &Table, auto_key: bool, rows: usize) -> Sql<'static> {
    let mut w = Writer::new(Dialect::Sqlite, false);
    let stride = table.columns.len();
    let columns: Vec<usize> = (0..stride)
        .filter(|&i| !(auto_key && i == table.primary_key))
        .collect();
    w.push("INSERT INTO ");
    w.ident(table.name);
    if columns.is_empty() {
        w.push(" DEFAULT VALUES");
        return w.finish(None, None);
    }
    w.push(" (");
    for (n, &i) in columns.iter().enumerate() {
        if n > 0 {
            w.push(", ");
        }
        w.ident(table.columns[i].name());
    }
    w.push(") VALUES ");
    for row in 0..rows {
        w.push(if row == 0 { "(" } else { ", (" });
        for (n, &i) in columns.iter().enumerate() {
            if n > 0 {
                w.push(", ");
            }
            // Each value is bound once, in order: a bare `?` is its own
            // number (see `key_list`).
            w.alloc(Slot::Field(row * stride + i));
            w.push("?");
        }
        w.push(")");
    }
    w.finish(None, None)
}

/// PostgreSQL's bulk insert of every column, key included: the `COPY`
/// statement (binary format), and a `SELECT` of the same columns, prepared
/// (never run) to learn the table's own column types, which the binary
/// format must match.
#[cfg(feature = "postgres")]
pub(crate) fn copy_in(table: &Table) -> (String, String) {
    let mut columns = String::new();
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            columns.push_str(", ");
        }
        push_ident(&mut columns, column.name());
    }
    let mut name = String::new();
    push_ident(&mut name, table.name);
    (
        format!("COPY {name} ({columns}) FROM STDIN (FORMAT binary)"),
        format!("SELECT {columns} FROM {name}"),
    )
}

/// `rows` new keys from the sequence of an automatic key (PostgreSQL), to
/// write with the rows: each row's key is the one drawn for it.
#[cfg(feature = "postgres")]
pub(crate) fn draw_keys(table: &Table, rows: usize) -> Sql<'static> {
    let mut w = Writer::new(Dialect::Postgres, false);
    let key = table.key_column();
    let mut quoted = String::new();
    push_ident(&mut quoted, table.name);
    // The sequence is looked up once, not once per key (a catalog search).
    w.push("WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(");
    w.param(Slot::Text(quoted));
    w.push(", ");
    w.param(Slot::Text(key.to_owned()));
    w.push(")::regclass AS s) SELECT nextval(q.s) FROM q, generate_series(1, ");
    w.param(Slot::Integer(i64::try_from(rows).unwrap_or(i64::MAX)));
    w.push(")");
    w.finish(None, None)
}

/// The `WHERE` clause of a write to the rows a shape selects: its filter, or,
/// when it has a limit or an offset, the keys of the rows its window keeps.
fn rows_of<'q>(w: &mut Writer<'q>, table: &Table, shape: &'q Shape) {
    if !shape.is_windowed() {
        w.filter(" WHERE ", "t", table, shape);
        return;
    }
    w.push(" WHERE ");
    w.column("t", table.key_column());
    w.push(" IN (SELECT ");
    w.column("s", table.key_column());
    w.push(" FROM ");
    w.table(table.name, "s");
    w.filter(" WHERE ", "s", table, shape);
    w.push(" ORDER BY ");
    w.order("s", table, &shape.order);
    w.limit(shape);
    w.push(")");
}

#[cfg(test)]
mod tests {
    use super::super::tests::TABLE;
    use super::*;
    use crate::types::ColumnType;

    #[test]
    fn multi_row_inserts_bind_every_column_in_order() {
        let sql = insert_many(&TABLE, false, 2);
        assert_eq!(
            sql.text,
            r#"INSERT INTO "order" ("id", "group") VALUES (?, ?), (?, ?)"#
        );
        let fields: Vec<usize> = sql
            .slots
            .iter()
            .map(|s| match s {
                Slot::Field(i) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, [0, 1, 2, 3]);
        // An automatic key is left out; with nothing else, DEFAULT VALUES.
        let auto = insert_many(&TABLE, true, 1);
        assert_eq!(auto.text, r#"INSERT INTO "order" ("group") VALUES (?)"#);
        const KEY_ONLY: Table = Table {
            name: "t",
            columns: &[Column::__new("id", ColumnType::BigInt, false, None)],
            primary_key: 0,
        };
        assert_eq!(
            insert_many(&KEY_ONLY, true, 1).text,
            r#"INSERT INTO "t" DEFAULT VALUES"#
        );
    }
}
