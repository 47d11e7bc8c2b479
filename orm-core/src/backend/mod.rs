//! The seam between the crate and a database driver.
//!
//! Everything above this module (the derive's code, the query layer, the
//! loader) sees a [`Conn`]: a borrowed connection of some backend. It asks
//! the connection what it can do ([`Caps`]), prepares statement text
//! rendered for its [`Dialect`](crate::render::Dialect), binds neutral
//! [`Param`]s and reads neutral [`Row`]s. Only the modules below name a
//! driver type.

pub(crate) mod sqlite;

#[cfg(feature = "postgres")]
pub(crate) mod postgres;

use crate::constraint::Index;
use crate::error::{DbError, Error, Result, UniqueViolation};
use crate::log;
use crate::model::Column;
use crate::render::Dialect;
use crate::value::{Value, ValueError};
use crate::SqlType;

/// A connection the generated functions accept: a `rusqlite::Connection`,
/// `Transaction` or `Savepoint`, with the `postgres` feature a
/// [`Postgres`](crate::Postgres) connection, and with the `r2d2` feature a
/// pooled connection of either.
///
/// Every function of a model takes `&impl Db`, so `&conn`, `&tx` and `&pg` all
/// work where a connection is wanted, as do the std wrappers around one
/// (`Box`, `Rc`, `Arc`, `MutexGuard`, `AssertUnwindSafe`). A pooled connection
/// of another pool crate works as `&*conn` (it dereferences to the
/// connection). The trait is sealed: the crate must know how to talk to each
/// kind of connection.
///
/// ```
/// use orm_core::{Db, Model};
/// #[derive(Model)] struct Note { id: i64 }
///
/// fn notes(conn: &impl Db) -> orm_core::Result<Vec<Note>> {
///     Note::all(conn)
/// }
/// let mut conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Note::create_table(&conn)?;
/// let tx = conn.transaction()?;
/// assert!(notes(&tx)?.is_empty());
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Db: crate::__private::Sealed {
    #[doc(hidden)]
    fn __conn(&self) -> Conn<'_>;
}

/// A borrowed connection of one backend. Not public API.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Conn<'c> {
    #[doc(hidden)]
    Sqlite(&'c rusqlite::Connection),
    #[doc(hidden)]
    #[cfg(feature = "postgres")]
    Postgres(&'c crate::Postgres),
}

impl crate::__private::Sealed for Conn<'_> {}
impl Db for Conn<'_> {
    fn __conn(&self) -> Conn<'_> {
        *self
    }
}

/// `Db` through the std wrappers a connection commonly sits in: a reference,
/// a `Box`, an `Rc` or `Arc`, a `MutexGuard` (`Arc<Mutex<Connection>>` in a web
/// server), `AssertUnwindSafe`.
macro_rules! through_deref {
    ($($ty:ty),+ $(,)?) => {$(
        impl<T: Db + ?Sized> crate::__private::Sealed for $ty {}
        impl<T: Db + ?Sized> Db for $ty {
            fn __conn(&self) -> Conn<'_> {
                (**self).__conn()
            }
        }
    )+};
}

through_deref!(
    &T,
    &mut T,
    Box<T>,
    std::rc::Rc<T>,
    std::sync::Arc<T>,
    std::sync::MutexGuard<'_, T>,
);

impl<T: Db> crate::__private::Sealed for std::panic::AssertUnwindSafe<T> {}
impl<T: Db> Db for std::panic::AssertUnwindSafe<T> {
    fn __conn(&self) -> Conn<'_> {
        self.0.__conn()
    }
}

/// What a backend can bind in one statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caps {
    /// At most this many bound values per statement (SQLite's
    /// `SQLITE_LIMIT_VARIABLE_NUMBER`, read on every call).
    Variables(usize),
    /// Any number of values, as one array parameter.
    #[cfg(feature = "postgres")]
    Arrays,
}

impl Caps {
    /// The most values one statement binds, where there is such a limit.
    pub(crate) fn variable_limit(self) -> Option<usize> {
        match self {
            Caps::Variables(limit) => Some(limit),
            #[cfg(feature = "postgres")]
            Caps::Arrays => None,
        }
    }

    /// The most parameters one statement may have at all, lists bound as
    /// arrays: PostgreSQL's protocol counts them in 16 bits.
    pub(crate) fn parameter_limit(self) -> usize {
        match self {
            Caps::Variables(limit) => limit,
            #[cfg(feature = "postgres")]
            Caps::Arrays => usize::from(u16::MAX),
        }
    }
}

/// One bound parameter.
#[derive(Debug)]
pub(crate) enum Param<'a> {
    Value(Value<'a>),
    /// A list of values as one JSON array, for SQLite's `json_each`.
    Json(String),
    /// A list of values as one array, for PostgreSQL's `= ANY($n)`.
    #[cfg(feature = "postgres")]
    Array(Vec<Value<'a>>),
}

/// Which model a statement is for: named in its errors and its log events.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub(crate) model: &'static str,
    pub(crate) table: &'static str,
    pub(crate) columns: &'static [Column],
    /// The model's unique constraints, to name a violated one's columns.
    pub(crate) indexes: &'static [Index],
}

impl Ctx {
    pub(crate) fn of<M: crate::Model>() -> Self {
        Ctx {
            model: M::NAME,
            table: M::TABLE,
            columns: M::COLUMNS,
            indexes: M::INDEXES,
        }
    }

    /// A failed statement, as the most specific error the driver's error allows.
    pub(crate) fn error(&self, source: DbError) -> Error {
        if let Some(column) = source.missing_column() {
            // The driver names the column as the statement wrote it: `t."name"`.
            let column = column.rsplit('.').next().unwrap_or(&column);
            let column = column.trim_matches('"').to_owned();
            return Error::NoSuchColumn {
                model: self.model,
                table: self.table,
                column,
                source,
            };
        }
        if let Some(violated) = source.unique_violation() {
            return Error::UniqueViolation {
                model: self.model,
                table: self.table,
                columns: self.unique_columns(violated).into_boxed_slice(),
                source,
            };
        }
        if source.is_busy() {
            return Error::Busy {
                model: self.model,
                table: self.table,
                source,
            };
        }
        Error::Query {
            model: self.model,
            table: self.table,
            source,
        }
    }

    /// The columns of a violated unique constraint: those of the model's
    /// unique index the database names (PostgreSQL) or lists (SQLite:
    /// `t.a, t.b`, which a comma in a column's name would make ambiguous),
    /// else those read from its message.
    fn unique_columns(&self, violated: UniqueViolation) -> Vec<String> {
        let table = self.table;
        let declared = self.indexes.iter().filter(|i| i.unique()).find(|i| {
            violated.constraint.as_deref() == Some(&i.name(table))
                || violated.listed.as_deref().is_some_and(|listed| {
                    let columns: Vec<String> =
                        i.columns().iter().map(|c| format!("{table}.{c}")).collect();
                    listed == columns.join(", ")
                })
        });
        declared.map_or(violated.columns, |i| {
            i.columns().iter().map(|&c| c.to_owned()).collect()
        })
    }

    /// A value of column `index` that does not fit its field.
    pub(crate) fn column_error(&self, index: usize, source: ValueError) -> Error {
        Error::Column {
            model: self.model,
            table: self.table,
            column: self.columns.get(index).map_or("?", Column::name),
            source,
        }
    }
}

/// One row of a result, from any backend. Generated `from_row` functions read
/// it by column index.
///
/// ```
/// use orm_core::rusqlite::Connection;
/// use orm_core::{Model, Row};
/// #[derive(Model, Debug, PartialEq)] struct Note { id: i64, body: String }
///
/// let conn = Connection::open_in_memory()?;
/// let note = conn.query_row("SELECT 7, 'hi'", [], |row| Ok(Note::from_row(&Row::from(row))))??;
/// assert_eq!(note, Note { id: 7, body: "hi".into() });
/// # Ok::<(), orm_core::Error>(())
/// ```
pub struct Row<'a> {
    inner: RowInner<'a>,
}

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    #[cfg(feature = "postgres")]
    /// A row, and how to read each column when the query worked it out.
    Postgres(&'a ::postgres::Row, Option<&'a [postgres::Kind]>),
}

impl<'a> From<&'a rusqlite::Row<'a>> for Row<'a> {
    fn from(row: &'a rusqlite::Row<'a>) -> Self {
        Row {
            inner: RowInner::Sqlite(row),
        }
    }
}

#[cfg(feature = "postgres")]
impl<'a> Row<'a> {
    /// A row of a statement whose columns' kinds are known.
    pub(crate) fn postgres(row: &'a ::postgres::Row, kinds: &'a [postgres::Kind]) -> Self {
        Row {
            inner: RowInner::Postgres(row, Some(kinds)),
        }
    }
}

#[cfg(feature = "postgres")]
impl<'a> From<&'a ::postgres::Row> for Row<'a> {
    fn from(row: &'a ::postgres::Row) -> Self {
        Row {
            inner: RowInner::Postgres(row, None),
        }
    }
}

impl Row<'_> {
    /// The value of column `index` (from 0).
    #[inline(always)]
    pub fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        match &self.inner {
            RowInner::Sqlite(row) => sqlite::value(row, index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row, kinds) => postgres::value(row, *kinds, index),
        }
    }

    /// Column `index` (from 0) read as `T`.
    #[inline(always)]
    pub fn get<T: SqlType>(&self, index: usize) -> Result<T, ValueError> {
        // Converted in each arm, so each backend's read and the conversion
        // fuse into one match: through `value`, a value from either backend
        // would be matched once more to convert it (60 instructions a row
        // of four on SQLite with the `postgres` feature on).
        match &self.inner {
            RowInner::Sqlite(row) => T::from_value(sqlite::value(row, index)?),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row, kinds) => T::from_value(postgres::value(row, *kinds, index)?),
        }
    }

    /// How SQLite's `=` would compare a value with column `index`.
    /// PostgreSQL compares typed values exactly, as a column without
    /// affinity does.
    pub(crate) fn affinity(&self, index: usize) -> sqlite::Affinity {
        match &self.inner {
            RowInner::Sqlite(row) => sqlite::affinity(row, index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(..) => sqlite::Affinity::Blob,
        }
    }
}

impl<'c> Conn<'c> {
    fn system(&self) -> &'static str {
        match self {
            Conn::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => "postgresql",
        }
    }

    /// The SQLite connection, for what only SQLite needs.
    pub(crate) fn sqlite(&self) -> Option<&'c rusqlite::Connection> {
        match self {
            Conn::Sqlite(conn) => Some(conn),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) fn caps(&self) -> Result<Caps> {
        match self {
            Conn::Sqlite(conn) => sqlite::variable_limit(conn).map(Caps::Variables),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Ok(Caps::Arrays),
        }
    }

    /// Identifies the connection (the same for a connection and its
    /// transactions) while it is borrowed.
    pub(crate) fn identity(&self) -> usize {
        match self {
            Conn::Sqlite(conn) => std::ptr::from_ref::<rusqlite::Connection>(conn) as usize,
            #[cfg(feature = "postgres")]
            Conn::Postgres(pg) => std::ptr::from_ref::<crate::Postgres>(pg) as usize,
        }
    }

    /// Prepares `sql` (cached by text, per connection).
    /// A statement that fails to prepare (a missing table or column) is
    /// reported to the log as a failed statement.
    pub(crate) fn prepare<'s>(&self, sql: &'s str, ctx: Ctx) -> Result<Stmt<'c, 's>> {
        let inner = match self {
            Conn::Sqlite(conn) => conn
                .prepare_cached(sql)
                .map(StmtInner::Sqlite)
                .map_err(|e| ctx.error(DbError::Sqlite(e))),
            #[cfg(feature = "postgres")]
            Conn::Postgres(pg) => pg
                .prepare_cached(sql, &ctx)
                .map(|stmt| StmtInner::Postgres(pg, stmt)),
        };
        match inner {
            Ok(inner) => Ok(Stmt { inner, sql, ctx }),
            Err(e) => {
                log::finish(log::start(), self.system(), &ctx, sql, Err(&e), None);
                Err(e)
            }
        }
    }

    /// Runs `f`, whose statements must all see one snapshot of the database,
    /// inside a read transaction when the connection is not already in one.
    /// `statements` is how many `f` will run: one needs no transaction.
    pub(crate) fn snapshot<T>(
        &self,
        statements: usize,
        ctx: Ctx,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        match self {
            Conn::Sqlite(conn) if statements > 1 && conn.is_autocommit() => {
                sqlite::in_read_transaction(conn, self.identity(), ctx, f)
            }
            _ => f(),
        }
    }

    /// Runs `f`, which writes `rows` rows in `statements` statements, so
    /// that they are all written or none: inside a savepoint when they take
    /// more than one statement, and on PostgreSQL also when several rows go
    /// in one statement inside a [`transaction`](crate::Postgres::transaction),
    /// whose failure would otherwise abort the whole transaction (a failed
    /// statement on SQLite undoes only itself).
    pub(crate) fn atomically<T>(
        &self,
        statements: usize,
        rows: usize,
        ctx: Ctx,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        #[cfg(not(feature = "postgres"))]
        let _ = rows;
        match self {
            Conn::Sqlite(conn) if statements > 1 => {
                sqlite::in_savepoint(conn, self.identity(), ctx, f)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(pg) if statements > 1 || (rows > 1 && pg.in_transaction()) => {
                pg.in_savepoint(ctx, f)
            }
            _ => f(),
        }
    }

    /// The rowid of the row the last `INSERT` on this connection wrote
    /// (SQLite); `None` on a backend without rowids.
    pub(crate) fn last_insert_rowid(&self) -> Option<i64> {
        match self {
            Conn::Sqlite(conn) => Some(conn.last_insert_rowid()),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => None,
        }
    }

    /// Writes rows with a bulk copy (`copy`, PostgreSQL's `COPY ... FROM
    /// STDIN (FORMAT binary)`), `values` holding every row's columns end to
    /// end, in the order of the columns `columns` selects; how many rows it
    /// wrote. Counted and logged as one statement.
    #[cfg(feature = "postgres")]
    pub(crate) fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        let start = log::start();
        let done = match self {
            // Only PostgreSQL has a bulk copy; SQLite's plan never asks for one.
            Conn::Sqlite(_) => Err(ctx.error(DbError::Sqlite(rusqlite::Error::InvalidQuery))),
            Conn::Postgres(pg) => pg.copy_in(copy, columns, values, &ctx),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            copy,
            done.as_ref()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
            None,
        );
        done
    }

    /// Runs statements that return nothing (DDL), separated by `;`.
    pub(crate) fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        let start = log::start();
        let done = match self {
            Conn::Sqlite(conn) => conn
                .execute_batch(sql)
                .map_err(|e| ctx.error(DbError::Sqlite(e))),
            #[cfg(feature = "postgres")]
            Conn::Postgres(pg) => pg.run_batch(sql, &ctx),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            sql,
            done.as_ref().map(|()| 0),
            None,
        );
        done
    }
}

enum StmtInner<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    #[cfg(feature = "postgres")]
    Postgres(&'c crate::Postgres, ::postgres::Statement),
}

/// A prepared statement, run once per set of parameters.
pub(crate) struct Stmt<'c, 's> {
    inner: StmtInner<'c>,
    sql: &'s str,
    ctx: Ctx,
}

impl Stmt<'_, '_> {
    fn system(&self) -> &'static str {
        match self.inner {
            StmtInner::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(..) => "postgresql",
        }
    }

    /// Runs the statement and calls `on_row` for each row; returns the row
    /// count. The parameters are freed once bound, before the rows are read:
    /// a batch's keys need not be held while its rows are.
    pub(crate) fn query<F>(&mut self, params: Vec<Param<'_>>, on_row: F) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let start = log::start();
        let values = log::values(start, &params);
        let ctx = self.ctx;
        let rows = match &mut self.inner {
            StmtInner::Sqlite(stmt) => sqlite::query(stmt, params, &ctx, on_row),
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(pg, stmt) => pg.run_query(stmt, self.sql, params, &ctx, on_row),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            self.sql,
            rows.as_ref().copied(),
            values.as_deref(),
        );
        rows
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub(crate) fn execute(&mut self, params: &[Param<'_>]) -> Result<u64> {
        let start = log::start();
        let values = log::values(start, params);
        let ctx = self.ctx;
        let changed = match &mut self.inner {
            StmtInner::Sqlite(stmt) => {
                let wrap = |e| ctx.error(DbError::Sqlite(e));
                sqlite::bind(stmt, params)
                    .and_then(|()| stmt.raw_execute())
                    .map(|n| n as u64)
                    .map_err(wrap)
            }
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(pg, stmt) => pg.run_execute(stmt, self.sql, params, &ctx),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            self.sql,
            changed
                .as_ref()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
            values.as_deref(),
        );
        changed
    }

    /// [`execute`](Stmt::execute) for a statement whose placeholders bind
    /// `values`, one each, in order (a multi-row `INSERT`): bound as they
    /// are, without a [`Param`] each, which costs a bulk insert a tenth of
    /// its time.
    pub(crate) fn execute_values(&mut self, values: &[Value<'_>]) -> Result<u64> {
        // One arm without the `postgres` feature.
        #[allow(clippy::infallible_destructuring_match)]
        let stmt = match &mut self.inner {
            StmtInner::Sqlite(stmt) => stmt,
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(..) => {
                let params: Vec<Param<'_>> = values.iter().map(|&v| Param::Value(v)).collect();
                return self.execute(&params);
            }
        };
        let start = log::start();
        let logged = (start.is_some() && log::values_wanted()).then(|| format!("{values:?}"));
        let ctx = self.ctx;
        let changed = sqlite::bind_values(stmt, values)
            .and_then(|()| stmt.raw_execute())
            .map(|n| n as u64)
            .map_err(|e| ctx.error(DbError::Sqlite(e)));
        log::finish(
            start,
            "sqlite",
            &ctx,
            self.sql,
            changed
                .as_ref()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
            logged.as_deref(),
        );
        changed
    }
}
