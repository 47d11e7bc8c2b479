//! Comparing a live table with its model.

use std::fmt;

use crate::backend::{Conn, Ctx, Param};
use crate::error::Result;
use crate::render::{index_name, Dialect};
use crate::value::Value;
use crate::{ColumnType, Model};

/// A live table differs from its model, in every way listed.
///
/// ```
/// use orm_core::{Error, Model};
/// #[derive(Model)]
/// struct Book { id: i64, title: String, year: Option<i64> }
///
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// conn.execute_batch("CREATE TABLE book (id INTEGER PRIMARY KEY, name TEXT NOT NULL, year TEXT)")?;
/// let Err(Error::Schema(e)) = Book::check_table(&conn) else { panic!("the table differs") };
/// assert_eq!(e.to_string(), "Book: table `book` differs from the struct:\n\
///     - column `title` is missing\n\
///     - column `year` is TEXT, the field needs INTEGER\n\
///     - column `name` is not in the struct");
/// # Ok::<(), orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The model.
    pub model: &'static str,
    /// Its table.
    pub table: &'static str,
    /// Every difference found.
    pub differences: Vec<Difference>,
}

impl std::error::Error for SchemaError {}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: table `{}` differs from the struct:",
            self.model, self.table
        )?;
        for d in &self.differences {
            write!(f, "\n- {d}")?;
        }
        Ok(())
    }
}

/// One way a live table differs from its model.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The table does not exist.
    MissingTable,
    /// A column the struct has is not in the table.
    MissingColumn(String),
    /// A column of the table is not in the struct.
    ExtraColumn(String),
    /// A column's declared type reads differently from the field's type
    /// (compared by SQLite's type affinity, or by PostgreSQL type).
    Type {
        /// The column.
        column: String,
        /// The type the field needs.
        expected: String,
        /// The declared type.
        found: String,
    },
    /// A column is `NOT NULL` where the field is an `Option`, or nullable
    /// where it is not (reading a NULL into it would fail).
    Nullability {
        /// The column.
        column: String,
        /// Whether the field allows NULL.
        field_nullable: bool,
    },
    /// The primary key is another column, or more than one.
    PrimaryKey {
        /// The field's column.
        expected: String,
        /// The table's key columns.
        found: Vec<String>,
    },
    /// A foreign key references another table or column, or nothing.
    ForeignKey {
        /// The column.
        column: String,
        /// The table and column the field points at.
        expected: (String, String),
        /// What the table declares, if anything.
        found: Option<(String, String)>,
    },
    /// A foreign-key column has no index starting with it, so every batch
    /// load scans the table.
    MissingIndex {
        /// The column.
        column: String,
        /// The index `create_table` would make.
        index: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingTable => write!(f, "the table does not exist"),
            Difference::MissingColumn(c) => write!(f, "column `{c}` is missing"),
            Difference::ExtraColumn(c) => write!(f, "column `{c}` is not in the struct"),
            Difference::Type {
                column,
                expected,
                found,
            } => write!(
                f,
                "column `{column}` is {found}, the field needs {expected}"
            ),
            Difference::Nullability {
                column,
                field_nullable: true,
            } => write!(f, "column `{column}` is NOT NULL, the field is an Option"),
            Difference::Nullability { column, .. } => write!(
                f,
                "column `{column}` allows NULL, the field is not an Option"
            ),
            Difference::PrimaryKey { expected, found } => write!(
                f,
                "the primary key is ({}), the struct's is `{expected}`",
                found.join(", ")
            ),
            Difference::ForeignKey {
                column,
                expected: (table, key),
                found,
            } => match found {
                Some((t, k)) => write!(
                    f,
                    "column `{column}` references `{t}`.`{k}`, the field `{table}`.`{key}`"
                ),
                None => write!(
                    f,
                    "column `{column}` has no foreign key; the field references `{table}`.`{key}`"
                ),
            },
            Difference::MissingIndex { column, index } => write!(
                f,
                "column `{column}` has no index (create_table would make `{index}`)"
            ),
        }
    }
}

/// One column of the live table.
struct Live {
    name: String,
    declared: String,
    not_null: bool,
    /// Position in the primary key (0: not in it).
    pk: i64,
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
fn rows<T>(
    conn: Conn<'_>,
    ctx: Ctx,
    sql: &str,
    mut f: impl FnMut(&crate::Row<'_>) -> T,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare(sql, ctx)?;
    stmt.query(vec![Param::Value(Value::Text(ctx.table))], |row| {
        out.push(f(row));
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn check<M: Model>(conn: Conn<'_>) -> Result<()> {
    let ctx = Ctx::of::<M>();
    let dialect = conn.dialect();
    let sql = match dialect {
        Dialect::Sqlite => "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)",
        Dialect::Postgres => {
            "SELECT c.column_name::text, upper(c.data_type::text), \
             CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END, \
             coalesce((SELECT k.ordinal_position FROM information_schema.table_constraints tc \
               JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name \
                 AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name \
               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema \
                 AND tc.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 \
             ORDER BY c.ordinal_position"
        }
    };
    let columns: Vec<Live> = rows(conn, ctx, sql, |r| Live {
        name: text(r, 0),
        declared: text(r, 1),
        not_null: integer(r, 2) != 0,
        pk: integer(r, 3),
    })?;
    let differences = if columns.is_empty() {
        vec![Difference::MissingTable]
    } else {
        let foreign_keys = foreign_keys(conn, ctx)?;
        let indexed = indexed_columns(conn, ctx)?;
        compare::<M>(dialect, &columns, &foreign_keys, &indexed)
    };
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

/// (column, referenced table, referenced column) of every foreign key.
fn foreign_keys(conn: Conn<'_>, ctx: Ctx) -> Result<Vec<(String, String, String)>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?1)",
        Dialect::Postgres => {
            "SELECT a.attname::text, cf.relname::text, af.attname::text \
             FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_class cf ON cf.oid = k.confrelid \
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             JOIN pg_attribute af ON af.attrelid = k.confrelid AND af.attnum = k.confkey[1] \
             WHERE k.contype = 'f' AND c.relname = $1 AND n.nspname = current_schema()"
        }
    };
    rows(conn, ctx, sql, |r| (text(r, 0), text(r, 1), text(r, 2)))
}

/// The first column of every index of the table (the primary key's included).
fn indexed_columns(conn: Conn<'_>, ctx: Ctx) -> Result<Vec<String>> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT (SELECT ii.name FROM pragma_index_info(il.name) ii WHERE ii.seqno = 0) \
             FROM pragma_index_list(?1) il"
        }
        Dialect::Postgres => {
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE c.relname = $1 AND n.nspname = current_schema()"
        }
    };
    rows(conn, ctx, sql, |r| text(r, 0))
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

fn compare<M: Model>(
    dialect: Dialect,
    live: &[Live],
    foreign_keys: &[(String, String, String)],
    indexed: &[String],
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (i, column) in M::COLUMNS.iter().enumerate() {
        let name = column.name();
        let Some(found) = live.iter().find(|c| c.name == name) else {
            out.push(Difference::MissingColumn(name.to_owned()));
            continue;
        };
        let (expected, declared) = match dialect {
            Dialect::Sqlite => (column.column_type().sqlite(), affinity(&found.declared)),
            Dialect::Postgres => (postgres_type(column.column_type()), found.declared.as_str()),
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
        let not_null = found.not_null || (i == M::PRIMARY_KEY && found.pk > 0);
        if not_null == column.nullable() {
            out.push(Difference::Nullability {
                column: name.to_owned(),
                field_nullable: column.nullable(),
            });
        }
        if let Some((table, key)) = column.references() {
            let declared = foreign_keys
                .iter()
                .find(|(from, ..)| from == name)
                .map(|(_, t, k)| (t.clone(), k.clone()));
            // SQLite leaves `to` empty when a foreign key names only the table.
            let matches = declared
                .as_ref()
                .is_some_and(|(t, k)| t == table && (k == key || k.is_empty()));
            if !matches {
                out.push(Difference::ForeignKey {
                    column: name.to_owned(),
                    expected: (table.to_owned(), key.to_owned()),
                    found: declared,
                });
            }
            if !indexed.iter().any(|c| c == name) {
                out.push(Difference::MissingIndex {
                    column: name.to_owned(),
                    index: index_name(M::TABLE, name),
                });
            }
        }
    }
    let mut keys: Vec<&Live> = live.iter().filter(|c| c.pk > 0).collect();
    keys.sort_by_key(|c| c.pk);
    let expected = M::primary_key_column();
    if keys.len() != 1 || keys[0].name != expected {
        out.push(Difference::PrimaryKey {
            expected: expected.to_owned(),
            found: keys.iter().map(|c| c.name.clone()).collect(),
        });
    }
    for column in live {
        if !M::COLUMNS.iter().any(|c| c.name() == column.name) {
            out.push(Difference::ExtraColumn(column.name.clone()));
        }
    }
    out
}
