//! Comparing a live table with its model.

use crate::backend::{Ctx, Exec, Param};
use crate::constraint::{canonical_default, index_name, OnDelete};
use crate::dialect::Dialect;
use crate::error::Result;
use crate::migrate::{IndexDef, TableDef};
use crate::value::Value;
use crate::{ColumnType, Model};

use crate::error::{Difference, SchemaError};

/// One column of the live table.
struct Live {
    name: String,
    declared: String,
    not_null: bool,
    /// Position in the primary key (0: not in it).
    pk: i64,
    /// The default expression, as the database reports it.
    default: Option<String>,
}

/// A foreign key of the live table.
struct LiveForeignKey {
    column: String,
    table: String,
    key: String,
    on_delete: String,
}

/// An index of the live table, with its columns in order.
struct LiveIndex {
    name: String,
    unique: bool,
    columns: Vec<String>,
}

fn text(row: &crate::Row<'_>, i: usize) -> String {
    match row.value(i) {
        Ok(Value::Text(s)) => s.to_owned(),
        _ => String::new(),
    }
}

fn integer(row: &crate::Row<'_>, i: usize) -> i64 {
    match row.value(i) {
        Ok(Value::Integer(n)) => n,
        _ => 0,
    }
}

/// Runs `sql` with the table name bound as `?1`/`$1` and collects its rows.
async fn rows<T, E: Exec>(
    conn: &E,
    ctx: Ctx,
    table: &str,
    sql: &str,
    mut f: impl FnMut(&crate::Row<'_>) -> T,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare(sql, ctx).await?;
    let params = vec![Param::Value(Value::Text(table))];
    conn.query(&mut stmt, params, |row| {
        out.push(f(row));
        Ok(())
    })
    .await?;
    Ok(out)
}

pub(crate) async fn check<M: Model, E: Exec>(conn: &E) -> Result<()> {
    let differences = live_differences(conn, Ctx::of::<M>(), &TableDef::of::<M>()).await?;
    if differences.is_empty() {
        return Ok(());
    }
    Err(SchemaError {
        model: M::NAME,
        table: M::TABLE,
        differences,
    }
    .into())
}

/// How the live table differs from `table`, for migrations.
pub(crate) async fn differences<E: Exec>(conn: &E, table: &TableDef) -> Result<Vec<Difference>> {
    live_differences(conn, Ctx::of::<crate::migrate::Applied>(), table).await
}

async fn live_differences<E: Exec>(
    conn: &E,
    ctx: Ctx,
    table: &TableDef,
) -> Result<Vec<Difference>> {
    let name = table.name.as_str();
    let dialect = conn.dialect();
    let sql = match dialect {
        Dialect::Sqlite => {
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?1)"
        }
        Dialect::Postgres => {
            "SELECT c.column_name::text, upper(c.data_type::text), \
             CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END, \
             coalesce((SELECT k.ordinal_position FROM information_schema.table_constraints tc \
               JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
                 AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name \
               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema \
                 AND tc.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint, \
             c.column_default::text \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 \
             ORDER BY c.ordinal_position"
        }
    };
    let columns: Vec<Live> = rows(conn, ctx, name, sql, |r| Live {
        name: text(r, 0),
        declared: text(r, 1),
        not_null: integer(r, 2) != 0,
        pk: integer(r, 3),
        default: match r.value(4) {
            Ok(Value::Text(s)) => Some(s.to_owned()),
            _ => None,
        },
    })
    .await?;
    Ok(if columns.is_empty() {
        vec![Difference::MissingTable]
    } else {
        let foreign_keys = foreign_keys(conn, ctx, name).await?;
        let indexes = indexes(conn, ctx, name).await?;
        compare(dialect, table, &columns, &foreign_keys, &indexes)
    })
}

/// Every foreign key of the table.
async fn foreign_keys<E: Exec>(conn: &E, ctx: Ctx, table: &str) -> Result<Vec<LiveForeignKey>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)"
        }
        Dialect::Postgres => {
            "SELECT a.attname::text, cf.relname::text, af.attname::text, \
             CASE k.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' \
               WHEN 'r' THEN 'RESTRICT' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END \
             FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_class cf ON cf.oid = k.confrelid \
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             JOIN pg_attribute af ON af.attrelid = k.confrelid AND af.attnum = k.confkey[1] \
             WHERE k.contype = 'f' AND c.relname = $1 AND n.nspname = current_schema()"
        }
    };
    rows(conn, ctx, table, sql, |r| LiveForeignKey {
        column: text(r, 0),
        table: text(r, 1),
        key: text(r, 2),
        on_delete: text(r, 3),
    })
    .await
}

/// Every index of the table (the primary key's and unique constraints'
/// included), with its columns in order.
async fn indexes<E: Exec>(conn: &E, ctx: Ctx, table: &str) -> Result<Vec<LiveIndex>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT il.name, il.\"unique\", ii.name \
             FROM pragma_index_list(?1) il, pragma_index_info(il.name) ii \
             ORDER BY il.seq, ii.seqno"
        }
        Dialect::Postgres => {
            "SELECT ic.relname::text, i.indisunique::int, a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE c.relname = $1 AND n.nspname = current_schema() \
             ORDER BY ic.relname, k.ord"
        }
    };
    let rows = rows(conn, ctx, table, sql, |r| {
        (text(r, 0), integer(r, 1) != 0, text(r, 2))
    })
    .await?;
    let mut out: Vec<LiveIndex> = Vec::new();
    for (name, unique, column) in rows {
        match out.last_mut() {
            Some(last) if last.name == name => last.columns.push(column),
            _ => out.push(LiveIndex {
                name,
                unique,
                columns: vec![column],
            }),
        }
    }
    Ok(out)
}

/// SQLite's affinity of a declared type (section 3.1 of its datatype page).
fn affinity(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "TEXT"
    } else if t.is_empty() || t.contains("BLOB") {
        "BLOB"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// PostgreSQL's `information_schema` name of a column type.
fn postgres_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Time => "TIME WITHOUT TIME ZONE",
        ColumnType::Timestamp => "TIMESTAMP WITHOUT TIME ZONE",
        ColumnType::TimestampTz => "TIMESTAMP WITH TIME ZONE",
        // Spelled as in `CREATE TABLE`.
        other => other.postgres(),
    }
}

fn compare(
    dialect: Dialect,
    table: &TableDef,
    live: &[Live],
    foreign_keys: &[LiveForeignKey],
    indexes: &[LiveIndex],
) -> Vec<Difference> {
    let mut out = Vec::new();
    for column in &table.columns {
        let name = column.name.as_str();
        let is_key = name == table.primary_key;
        let Some(found) = live.iter().find(|c| c.name == name) else {
            out.push(Difference::MissingColumn(name.to_owned()));
            continue;
        };
        let (expected, declared) = match dialect {
            Dialect::Sqlite => (column.ty.sqlite(), affinity(&found.declared)),
            Dialect::Postgres => (postgres_type(column.ty), found.declared.as_str()),
        };
        if expected != declared {
            out.push(Difference::Type {
                column: name.to_owned(),
                expected: expected.to_owned(),
                found: if found.declared.is_empty() {
                    "untyped".to_owned()
                } else {
                    found.declared.clone()
                },
            });
        }
        // A primary key is never NULL, whatever the declaration says.
        let not_null = found.not_null || (is_key && found.pk > 0);
        if not_null == column.nullable {
            out.push(Difference::Nullability {
                column: name.to_owned(),
                field_nullable: column.nullable,
            });
        }
        let expected = column.default.as_ref().map(|d| d.sql(dialect));
        let differs = match (&expected, &found.default) {
            (None, None) => false,
            (Some(e), Some(f)) => canonical_default(e) != canonical_default(f),
            _ => true,
        };
        // An automatic key's sequence is the database's, not a default.
        if differs && !is_key {
            out.push(Difference::Default {
                column: name.to_owned(),
                expected,
                found: found.default.clone(),
            });
        }
        if let Some(reference) = &column.references {
            let (parent, key) = (&reference.table, &reference.column);
            let live = foreign_keys.iter().find(|fk| fk.column == name);
            let declared = live.map(|fk| (fk.table.clone(), fk.key.clone()));
            // SQLite leaves `to` empty when a foreign key names only the table.
            let matches = declared
                .as_ref()
                .is_some_and(|(t, k)| t == parent && (k == key || k.is_empty()));
            if !matches {
                out.push(Difference::ForeignKey {
                    column: name.to_owned(),
                    expected: (parent.clone(), key.clone()),
                    found: declared,
                });
            } else if let Some(fk) = live {
                if OnDelete::parse(&fk.on_delete) != Some(reference.on_delete) {
                    out.push(Difference::OnDelete {
                        column: name.to_owned(),
                        expected: reference.on_delete,
                        found: fk.on_delete.clone(),
                    });
                }
            }
            if !indexes.iter().any(|i| i.columns[0] == name) {
                out.push(Difference::MissingIndex {
                    column: name.to_owned(),
                    index: index_name(&table.name, &[name], false),
                });
            }
        }
    }
    // A foreign key's own index was checked with its column.
    let own = |index: &IndexDef| {
        index.columns.len() == 1
            && !index.unique
            && table
                .column(&index.columns[0])
                .is_some_and(|c| c.references.is_some())
    };
    for index in table.indexes.iter().filter(|i| !own(i)) {
        let columns: Vec<&str> = index.columns.iter().map(String::as_str).collect();
        let present = if index.unique {
            // (a, b) and (b, a) constrain the same rows.
            let mut want: Vec<&str> = columns.clone();
            want.sort_unstable();
            indexes.iter().any(|i| {
                let mut have: Vec<&str> = i.columns.iter().map(String::as_str).collect();
                have.sort_unstable();
                i.unique && have == want
            })
        } else {
            indexes.iter().any(|i| {
                i.columns
                    .iter()
                    .map(String::as_str)
                    .take(columns.len())
                    .eq(columns.iter().copied())
            })
        };
        if !present {
            let columns = index.columns.clone();
            let name = index.name(&table.name);
            out.push(if index.unique {
                Difference::MissingUnique {
                    columns,
                    index: name,
                }
            } else {
                Difference::MissingIndexOn {
                    columns,
                    index: name,
                }
            });
        }
    }
    let mut keys: Vec<&Live> = live.iter().filter(|c| c.pk > 0).collect();
    keys.sort_by_key(|c| c.pk);
    let expected = table.primary_key.as_str();
    if keys.len() != 1 || keys[0].name != expected {
        out.push(Difference::PrimaryKey {
            expected: expected.to_owned(),
            found: keys.iter().map(|c| c.name.clone()).collect(),
        });
    }
    for column in live {
        if table.column(&column.name).is_none() {
            out.push(Difference::ExtraColumn(column.name.clone()));
        }
    }
    out
}

/// [`check`] of model `M`, on any connection.
pub(crate) struct Check<M>(pub(crate) std::marker::PhantomData<fn() -> M>);

impl<M: Model> Check<M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<()> {
        check::<M, E>(conn).await
    }
}

impl<M: Model> crate::db::Plan for Check<M> {
    type Output = ();
    crate::db::plan_methods!();
}
