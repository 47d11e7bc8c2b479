//! The `Model` trait: what the derive knows about a struct and its table.

use std::fmt::Debug;
use std::hash::Hash;

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::{sql, SqlType};

/// One column of a model's table, as `#[derive(Model)]` describes it.
///
/// ```
/// use orm_core::{ForeignKey, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// #[derive(Model)]
/// struct Product {
///     id: i64,
///     note: Option<String>,
///     #[foreign_key(related_name = "products")]
///     category: ForeignKey<Category>,
/// }
///
/// let fk = &Product::COLUMNS[2];
/// assert_eq!((fk.name(), fk.sql_type(), fk.nullable()), ("category_id", "INTEGER", false));
/// assert_eq!(fk.references(), Some(("category", "id")));
/// assert!(Product::COLUMNS[1].nullable());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Column {
    name: &'static str,
    sql_type: &'static str,
    nullable: bool,
    references: Option<fn() -> (&'static str, &'static str)>,
}

impl Column {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        sql_type: &'static str,
        nullable: bool,
        references: Option<fn() -> (&'static str, &'static str)>,
    ) -> Self {
        Column {
            name,
            sql_type,
            nullable,
            references,
        }
    }

    /// The column name (the field name; `<field>_id` for a foreign key).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The declared SQLite type.
    pub const fn sql_type(&self) -> &'static str {
        self.sql_type
    }

    /// Whether NULL is allowed (the field is an `Option`).
    pub const fn nullable(&self) -> bool {
        self.nullable
    }

    /// For a foreign key: the table and column it references.
    pub fn references(&self) -> Option<(&'static str, &'static str)> {
        self.references.map(|f| f())
    }
}

/// A struct stored as rows of one SQLite table. Derive it with `#[derive(Model)]`.
///
/// The derive implements the items without a default; the provided methods are
/// the basic table operations. Relation functions (`prefetch_*`, `load_*` and the
/// accessors) are generated as inherent methods; see the crate docs.
///
/// ```
/// use orm_core::rusqlite::Connection;
/// use orm_core::Model;
///
/// #[derive(Model, Debug, PartialEq)]
/// #[model(table = "tags")]
/// struct Tag {
///     #[primary_key]
///     slug: String,
///     uses: i64,
/// }
///
/// let conn = Connection::open_in_memory()?;
/// Tag::create_table(&conn)?;
/// Tag { slug: "sql".into(), uses: 3 }.insert(&conn)?;
/// Tag::insert_all(&conn, &[Tag { slug: "orm".into(), uses: 1 }])?;
///
/// assert_eq!(Tag::all(&conn)?.len(), 2); // in key order: "orm", "sql"
/// assert_eq!(Tag::get(&conn, "sql".to_string())?, Some(Tag { slug: "sql".into(), uses: 3 }));
/// assert_eq!(Tag::get(&conn, "nope".to_string())?, None);
/// assert_eq!((Tag::TABLE, Tag::primary_key_column()), ("tags", "slug"));
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Model: Sized {
    /// The primary key's type: integers, `String`, or any `Eq + Hash` column type.
    type Key: SqlType + Eq + Hash + Clone + Debug;

    /// The struct's name, for messages.
    const NAME: &'static str;
    /// The table name.
    const TABLE: &'static str;
    /// Every column, in field order.
    const COLUMNS: &'static [Column];
    /// Index of the primary key in [`COLUMNS`](Model::COLUMNS).
    const PRIMARY_KEY: usize;

    /// This row's primary key.
    fn primary_key(&self) -> &Self::Key;

    /// Reads a row whose columns are [`COLUMNS`](Model::COLUMNS), in order,
    /// starting at index 0. A value that does not fit its field is an
    /// [`Error::Column`] naming the column.
    fn from_row(row: &Row<'_>) -> Result<Self>;

    /// Calls `f` with every field as a bindable value, in column order.
    #[doc(hidden)]
    fn __with_values<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;

    /// Creates the table if it does not exist, with column types, `NOT NULL` on
    /// every non-`Option` field, the primary key, `REFERENCES` on foreign keys and
    /// an index on every foreign-key column.
    fn create_table(conn: &Connection) -> Result<()> {
        let ddl = sql::create_table(Self::TABLE, Self::COLUMNS, Self::PRIMARY_KEY);
        conn.execute_batch(&ddl).map_err(query_error::<Self>)
    }

    /// Inserts this row.
    fn insert(&self, conn: &Connection) -> Result<()> {
        Self::insert_all(conn, std::iter::once(self))
    }

    /// Inserts every row with one prepared statement. Wrap the call in a
    /// transaction to make it all-or-nothing and fast.
    fn insert_all<'a>(conn: &Connection, rows: impl IntoIterator<Item = &'a Self>) -> Result<()>
    where
        Self: 'a,
    {
        let mut stmt = conn
            .prepare_cached(&sql::insert(Self::TABLE, Self::COLUMNS))
            .map_err(query_error::<Self>)?;
        for row in rows {
            row.__with_values(|values| stmt.execute(values))
                .map_err(query_error::<Self>)?;
        }
        Ok(())
    }

    /// Every row, in primary-key order.
    fn all(conn: &Connection) -> Result<Vec<Self>> {
        let sql = sql::select_all(Self::TABLE, Self::COLUMNS, Self::primary_key_column());
        let mut stmt = conn.prepare_cached(&sql).map_err(query_error::<Self>)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(query_error::<Self>)? {
            out.push(Self::from_row(row)?);
        }
        Ok(out)
    }

    /// The row with this primary key, if there is one.
    fn get(conn: &Connection, key: Self::Key) -> Result<Option<Self>> {
        let pk = Self::primary_key_column();
        let sql = sql::select_where_eq(Self::TABLE, Self::COLUMNS, pk, pk);
        let mut stmt = conn.prepare_cached(&sql).map_err(query_error::<Self>)?;
        stmt.query_row([&key], |row| Ok(Self::from_row(row)))
            .optional()
            .map_err(query_error::<Self>)?
            .transpose()
    }

    /// The primary key's column name.
    fn primary_key_column() -> &'static str {
        Self::COLUMNS[Self::PRIMARY_KEY].name()
    }
}

pub(crate) fn query_error<M: Model>(source: rusqlite::Error) -> Error {
    Error::Query {
        model: M::NAME,
        table: M::TABLE,
        source,
    }
}

/// Reads column `index` of `M` from `row` into a field of type `T`.
pub(crate) fn read_column<M: Model, T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    index: usize,
) -> Result<T> {
    row.get(index).map_err(|source| Error::Column {
        model: M::NAME,
        table: M::TABLE,
        column: M::COLUMNS.get(index).map_or("?", Column::name),
        source,
    })
}
