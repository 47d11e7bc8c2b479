//! The `Model` trait: what the derive knows about a struct and its table.

use std::fmt::Debug;
use std::hash::Hash;

use std::marker::PhantomData;

use crate::backend::{Ctx, Exec, Row};
use crate::column::Column;
use crate::constraint::Index;
use crate::db::{Database, Mode, Out, Plan};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::migrate::{ddl, TableDef};
use crate::query::Query;
use crate::render;
use crate::statement::{Shape, Table, Write};
use crate::{exec, schema, SqlType};

/// A struct stored as rows of one table. Derive it with `#[derive(Model)]`.
///
/// The derive implements the items without a default; the provided methods are
/// the table operations. Relation functions (`prefetch_*`, `load_*`, `count_*`
/// and the accessors) are generated as inherent methods; see the crate docs.
/// Every function takes any connection: `&conn`, `&tx`, or with the `postgres`
/// feature `&pg` (see [`Db`](crate::Db)).
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
///
/// Tag { slug: "sql".into(), uses: 4 }.update(&conn)?;
/// Tag { slug: "rust".into(), uses: 1 }.upsert(&conn)?;  // inserted
/// assert!(Tag { slug: "orm".into(), uses: 0 }.delete(&conn)?);
/// let f = Tag::fields();
/// assert_eq!(Tag::query().filter(f.uses.ge(1)).count(&conn)?, 2);
/// assert_eq!((Tag::TABLE, Tag::primary_key_column()), ("tags", "slug"));
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Model: Sized + Send + Sync + 'static + crate::__private::ModelImpl {
    /// The primary key's type: integers, `String`, or any `Eq + Hash` column type.
    type Key: SqlType + Eq + Hash + Clone + Debug + Send + Sync;

    /// The typed handles of the model's columns, one public field per struct
    /// field, from [`fields`](Model::fields).
    type Fields: Copy;

    /// The struct's name, for messages.
    const NAME: &'static str;
    /// The table name.
    const TABLE: &'static str;
    /// Every column, in field order.
    const COLUMNS: &'static [Column];
    /// Index of the primary key in [`COLUMNS`](Model::COLUMNS).
    const PRIMARY_KEY: usize;
    /// The unique constraints and indexes the model declares, with
    /// `#[model(unique(..), index(..))]` and `#[column(unique)]`,
    /// `#[column(index)]`, in that order. The index `create_table` adds on
    /// every foreign-key column is not listed: [`Column::references`] says
    /// which columns have one.
    const INDEXES: &'static [Index] = &[];
    /// `#[model(renamed_from = "...")]`: the table's former name, which the
    /// next generated migration renames instead of dropping and creating.
    const RENAMED_FROM: Option<&'static str> = None;

    /// This row's primary key.
    fn primary_key(&self) -> &Self::Key;

    /// Reads a row whose columns are [`COLUMNS`](Model::COLUMNS), in order,
    /// starting at index 0. A value that does not fit its field is an
    /// [`Error::Column`] naming the column.
    fn from_row(row: &Row<'_>) -> Result<Self>;

    /// The typed handle of every column, to build queries with:
    /// `let f = Product::fields(); Product::query().filter(f.price.lt(10.0))`.
    fn fields() -> Self::Fields;

    /// A query of this model's rows; see [`Query`].
    fn query() -> Query<Self> {
        Query::new()
    }

    /// Creates the table if it does not exist, with column types, `NOT NULL` on
    /// every non-`Option` field, `DEFAULT`s, the primary key, `REFERENCES` (and
    /// `ON DELETE`) on foreign keys, an index on every foreign-key column and
    /// every index of [`INDEXES`](Model::INDEXES). The indexes are created
    /// `IF NOT EXISTS` also when the table exists.
    ///
    /// On PostgreSQL, text columns and their indexes keep the database's
    /// collation, while `lt`, `le`, `gt` and `ge` on text compare bytewise
    /// (`COLLATE "C"`), as does primary-key order: in a database whose
    /// collation is not C, an index that should serve those comparisons needs
    /// that collation too, `CREATE INDEX ... ON product (name COLLATE "C")`.
    fn create_table<'a, D: Database + ?Sized + 'a>(db: &'a D) -> Out<'a, D, ()> {
        db.__run(CreateTable::<Self>(PhantomData))
    }

    /// The DDL [`create_table`](Model::create_table) runs on a connection
    /// of `dialect`, for a migration tool.
    ///
    /// ```
    /// use orm_core::{Dialect, Model};
    /// #[derive(Model)] struct Note { id: i64, body: String }
    /// assert!(Note::create_table_sql_for(Dialect::Postgres).contains("CREATE TABLE IF NOT EXISTS \"note\""));
    /// assert_eq!(Note::create_table_sql_for(Dialect::Sqlite), Note::create_table_sql());
    /// ```
    fn create_table_sql_for(dialect: Dialect) -> String {
        ddl::create_table_if_missing(dialect, &TableDef::of::<Self>())
    }

    /// The SQLite DDL [`create_table`](Model::create_table) runs, for a
    /// migration tool: [`create_table_sql_for(Dialect::Sqlite)`](Model::create_table_sql_for).
    fn create_table_sql() -> String {
        ddl::create_table_if_missing(Dialect::Sqlite, &TableDef::of::<Self>())
    }

    /// The PostgreSQL DDL [`create_table`](Model::create_table) runs there:
    /// [`create_table_sql_for(Dialect::Postgres)`](Model::create_table_sql_for).
    #[cfg(feature = "postgres")]
    fn create_table_sql_postgres() -> String {
        ddl::create_table_if_missing(Dialect::Postgres, &TableDef::of::<Self>())
    }

    /// Drops the table if it exists (`DROP TABLE IF EXISTS`), with its
    /// indexes. A table other tables reference is refused with an
    /// [`Error::Query`]: on PostgreSQL while any foreign key names it, on
    /// SQLite (with `PRAGMA foreign_keys = ON`, which deletes the rows first)
    /// when a child row would be left pointing at a deleted one. Drop the
    /// children's tables first.
    ///
    /// ```
    /// use orm_core::Model;
    /// #[derive(Model)]
    /// struct Note { id: i64 }
    ///
    /// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
    /// Note::create_table(&conn)?;
    /// Note::drop_table(&conn)?;
    /// Note::drop_table(&conn)?; // already gone: not an error
    /// assert!(Note::check_table(&conn).is_err());
    /// # Ok::<(), orm_core::Error>(())
    /// ```
    fn drop_table<'a, D: Database + ?Sized + 'a>(db: &'a D) -> Out<'a, D, ()> {
        let mut sql = String::from("DROP TABLE IF EXISTS ");
        render::push_ident(&mut sql, Self::TABLE);
        db.__run(exec::Batch {
            sql,
            ctx: Ctx::of::<Self>(),
        })
    }

    /// Compares the live table with the model and returns
    /// [`Error::Schema`] listing every difference: a missing or extra column,
    /// a column of another type, nullability or default, another primary key,
    /// foreign-key target or `ON DELETE`, a foreign-key column without an
    /// index, a missing unique constraint or index of
    /// [`INDEXES`](Model::INDEXES).
    fn check_table<'a, D: Database + ?Sized + 'a>(db: &'a D) -> Out<'a, D, ()> {
        db.__run(schema::Check::<Self>(PhantomData))
    }

    /// Inserts this row and returns its primary key: the one it holds, or,
    /// for a `#[primary_key(auto)]` model, the one the database assigned (the
    /// field's value is then ignored).
    fn insert<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Self::Key> {
        let keys = Self::insert_all(db, std::iter::once(self));
        D::Mode::__then(keys, |mut keys| {
            keys.pop().ok_or_else(|| Error::NotFound {
                model: Self::NAME,
                table: Self::TABLE,
                key: "(none returned by INSERT)".into(),
            })
        })
    }

    /// Inserts every row, all or none, and returns their keys in input order
    /// (for a `#[primary_key(auto)]` model, the keys the database assigned).
    ///
    /// When the rows take more than one statement, they run in a transaction
    /// of their own, or, inside yours, in a savepoint: a failed `insert_all`
    /// writes nothing and leaves your transaction as it was. On SQLite, rows
    /// go in multi-row `INSERT`s sized to the connection's
    /// `SQLITE_LIMIT_VARIABLE_NUMBER` (one `INSERT` per row for an automatic
    /// key, whose value is the row's rowid); on PostgreSQL, in one binary
    /// `COPY` (after drawing automatic keys from the sequence), inside a
    /// savepoint within [`Postgres::transaction`](crate::Postgres::transaction).
    /// A NaN is [`Error::Unwritable`] on SQLite, which would store NULL.
    ///
    /// ```
    /// use orm_core::Model;
    /// #[derive(Model, Debug, PartialEq)]
    /// struct Note { #[primary_key(auto)] id: i64, text: String }
    ///
    /// let mut conn = orm_core::rusqlite::Connection::open_in_memory()?;
    /// Note::create_table(&conn)?;
    /// let notes: Vec<Note> = (0..3).map(|i| Note { id: 0, text: format!("note {i}") }).collect();
    /// assert_eq!(Note::insert_all(&conn, &notes)?, [1, 2, 3]);
    /// // A failing row (here a duplicate key) leaves nothing behind.
    /// # #[derive(Model)] struct Tag { id: i64 }
    /// # Tag::create_table(&conn)?;
    /// assert!(Tag::insert_all(&conn, &[Tag { id: 1 }, Tag { id: 2 }, Tag { id: 1 }]).is_err());
    /// assert_eq!(Tag::query().count(&conn)?, 0);
    /// # Ok::<(), orm_core::Error>(())
    /// ```
    fn insert_all<'a, D: Database + ?Sized + 'a>(
        db: &'a D,
        rows: impl IntoIterator<Item = &'a Self>,
    ) -> Out<'a, D, Vec<Self::Key>>
    where
        Self: 'a,
    {
        db.__run(exec::InsertAll {
            rows: rows.into_iter().collect(),
        })
    }

    /// Every row, in primary-key order.
    fn all<'a, D: Database + ?Sized + 'a>(db: &'a D) -> Out<'a, D, Vec<Self>> {
        db.__run(exec::AllRows::<Self, ()> {
            shape: std::borrow::Cow::Owned(Shape::default()),
            model: PhantomData,
        })
    }

    /// The row with this primary key, if there is one.
    fn get<'a, D: Database + ?Sized + 'a>(db: &'a D, key: Self::Key) -> Out<'a, D, Option<Self>> {
        db.__run(exec::Get::<Self> { key })
    }

    /// Writes every column of this row to the row with its primary key. No
    /// such row is [`Error::NotFound`], naming the model and the key.
    fn update<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, ()> {
        let changed = db.__run(exec::WriteRow {
            row: self,
            write: Write::UpdateByKey {
                table: Table::of::<Self>(),
            },
        });
        D::Mode::__then(changed, move |changed| {
            if changed == 0 {
                return Err(Error::NotFound {
                    model: Self::NAME,
                    table: Self::TABLE,
                    key: format!("{:?}", self.primary_key()),
                });
            }
            Ok(())
        })
    }

    /// Inserts this row, or, when a row with its primary key exists, writes
    /// every other column to it.
    fn upsert<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, ()> {
        let changed = db.__run(exec::WriteRow {
            row: self,
            write: Write::Upsert {
                table: Table::of::<Self>(),
                auto_key: Self::AUTO_KEY,
            },
        });
        D::Mode::__then(changed, |_| Ok(()))
    }

    /// Deletes the row with this row's primary key; whether there was one.
    fn delete<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, bool> {
        let changed = db.__run(exec::WriteRow {
            row: self,
            write: Write::DeleteByKey {
                table: Table::of::<Self>(),
            },
        });
        D::Mode::__then(changed, |changed| Ok(changed > 0))
    }

    /// The primary key's column name.
    fn primary_key_column() -> &'static str {
        Self::COLUMNS[Self::PRIMARY_KEY].name()
    }
}

/// `CREATE TABLE IF NOT EXISTS` in the connection's dialect.
struct CreateTable<M>(PhantomData<fn() -> M>);

impl<M: Model> CreateTable<M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<()> {
        let ddl = ddl::create_table_if_missing(conn.dialect(), &TableDef::of::<M>());
        conn.batch(&ddl, Ctx::of::<M>()).await
    }
}

impl<M: Model> Plan for CreateTable<M> {
    type Output = ();
    crate::db::plan_methods!();
}

impl Ctx {
    /// The context of `M`'s statements: its names, columns and unique
    /// constraints, for their errors and log events.
    pub(crate) fn of<M: Model>() -> Self {
        Ctx {
            model: M::NAME,
            table: M::TABLE,
            columns: M::COLUMNS,
            indexes: M::INDEXES,
        }
    }
}

impl Table {
    /// `M`'s table as a statement sees it.
    pub(crate) fn of<M: Model>() -> Self {
        Table {
            name: M::TABLE,
            columns: M::COLUMNS,
            primary_key: M::PRIMARY_KEY,
        }
    }
}
