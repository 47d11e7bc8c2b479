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

// Driver-neutral; only the PostgreSQL driver shares a connection among tasks so far.
#[cfg(all(feature = "tokio", feature = "postgres"))]
pub(crate) mod gate;

#[cfg(feature = "tokio")]
pub(crate) mod sqlite_async;

#[cfg(all(feature = "tokio", feature = "postgres"))]
pub(crate) mod postgres_async;

use crate::constraint::Index;
use crate::db::{Blocking, Database};
use crate::error::{DbError, Error, Result, UniqueViolation};
use crate::log;
use crate::model::Column;
use crate::render::Dialect;
use crate::value::{Value, ValueError};
use crate::SqlType;

/// A sync connection: a `rusqlite::Connection`, `Transaction` or
/// `Savepoint`, with the `postgres` feature a [`Postgres`](crate::Postgres)
/// connection, [`AnyDb`](crate::AnyDb), and with the `r2d2` feature a pooled
/// connection of either. Its [`Mode`](crate::Mode) is
/// [`Blocking`](crate::Blocking): every function of a model returns
/// `Result<T>` on it.
///
/// Every function of a model takes `&impl` [`Database`], so `&conn`, `&tx`
/// and `&pg` all work where a connection is wanted, as do the std wrappers
/// around one (`Box`, `Rc`, `Arc`, `MutexGuard`, `AssertUnwindSafe`). A
/// pooled connection of another pool crate works as `&*conn` (it
/// dereferences to the connection). The trait is sealed: the crate must know
/// how to talk to each kind of connection.
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
pub trait Db: Database<Mode = Blocking> {
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

impl crate::sealed::Sealed for Conn<'_> {}
impl Db for Conn<'_> {
    fn __conn(&self) -> Conn<'_> {
        *self
    }
}
crate::db::blocking! {
    impl<'c> for Conn<'c>;
}

/// `Database` and `Db` through the std wrappers a connection commonly sits
/// in: a reference, a `Box`, an `Rc` or `Arc`, a `MutexGuard`
/// (`Arc<Mutex<Connection>>` in a web server), `AssertUnwindSafe`.
macro_rules! through_deref {
    ($($ty:ty),+ $(,)?) => {$(
        impl<T: Database + ?Sized> crate::sealed::Sealed for $ty {}
        impl<T: Database + ?Sized> Database for $ty {
            type Mode = T::Mode;
            fn __run<'a, P: crate::db::Plan + 'a>(&'a self, plan: P) -> crate::db::Out<'a, Self, P::Output> {
                (**self).__run(plan)
            }
        }
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

impl<T: Database> crate::sealed::Sealed for std::panic::AssertUnwindSafe<T> {}
impl<T: Database> Database for std::panic::AssertUnwindSafe<T> {
    type Mode = T::Mode;
    fn __run<'a, P: crate::db::Plan + 'a>(
        &'a self,
        plan: P,
    ) -> crate::db::Out<'a, Self, P::Output> {
        self.0.__run(plan)
    }
}
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
    /// A row an async SQLite connection's thread read into owned values.
    #[cfg(feature = "tokio")]
    Owned(sqlite_async::OwnedRow<'a>),
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
            #[cfg(feature = "tokio")]
            RowInner::Owned(row) => row.value(index),
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
            #[cfg(feature = "tokio")]
            RowInner::Owned(row) => T::from_value(row.value(index)?),
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
            #[cfg(feature = "tokio")]
            RowInner::Owned(row) => row.affinity(index),
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
    pub(crate) fn prepare(&self, sql: &str, ctx: Ctx) -> Result<Stmt<'c>> {
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
            Ok(inner) => Ok(Stmt {
                inner,
                sql: sql.into(),
                ctx,
            }),
            Err(e) => {
                log::finish(log::start(), self.system(), &ctx, sql, Err(&e), None);
                Err(e)
            }
        }
    }

    /// Opens the scope `kind` needs here, if any: a read transaction for
    /// several reads on SQLite outside a transaction (one snapshot); for
    /// several writes, or several rows in one statement inside a PostgreSQL
    /// [`transaction`](crate::Postgres::transaction) (whose failure would
    /// otherwise abort it), a savepoint, or a transaction when none is open.
    /// (A `SAVEPOINT` would open a transaction on SQLite too, but then SQLite
    /// journals each page's first change for it: a third slower on the
    /// benchmark's 10,000 rows.) Its statements are the crate's own: logged,
    /// not counted by [`count_queries`](crate::count_queries).
    pub(crate) fn open(self, kind: ScopeKind, ctx: Ctx) -> Result<Option<Scope<'c>>> {
        const TRANSACTION: [&str; 3] = ["BEGIN", "COMMIT", "ROLLBACK"];
        let [begin, commit, rollback] = match (self, kind) {
            (Conn::Sqlite(conn), ScopeKind::Read { statements })
                if statements > 1 && conn.is_autocommit() =>
            {
                TRANSACTION
            }
            (Conn::Sqlite(conn), ScopeKind::Write { statements, .. }) if statements > 1 => {
                if conn.is_autocommit() {
                    TRANSACTION
                } else {
                    [
                        "SAVEPOINT orm_write",
                        "RELEASE orm_write",
                        "ROLLBACK TO orm_write; RELEASE orm_write",
                    ]
                }
            }
            #[cfg(feature = "postgres")]
            (Conn::Postgres(pg), ScopeKind::Write { statements, rows })
                if statements > 1 || (rows > 1 && pg.in_transaction()) =>
            {
                if pg.in_transaction() {
                    [
                        "SAVEPOINT orm_write",
                        "RELEASE SAVEPOINT orm_write",
                        "ROLLBACK TO SAVEPOINT orm_write; RELEASE SAVEPOINT orm_write",
                    ]
                } else {
                    TRANSACTION
                }
            }
            _ => return Ok(None),
        };
        let scope = Scope {
            conn: self,
            ctx,
            commit,
            rollback,
            done: true,
        };
        scope.run(begin)?;
        Ok(Some(Scope {
            done: false,
            ..scope
        }))
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

/// What a plan may wait for.
pub(crate) use std::future::Future;

/// Why a plan opens a scope: to read one snapshot over several statements,
/// or to write all or nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScopeKind {
    /// `statements` reads that must see one snapshot (SQLite outside a
    /// transaction; PostgreSQL's statements each see their own, as before).
    Read { statements: usize },
    /// `statements` writes of `rows` rows, kept all or none.
    Write {
        statements: usize,
        // Read by PostgreSQL's drivers only.
        #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
        rows: usize,
    },
}

/// The driver seam: what a plan asks of a connection, sync or async.
///
/// A plan (the loader, the query layer, the writes) is an `async fn`
/// generic over an `Exec`; it renders statements and reads rows, and never
/// names a driver. A sync connection answers every call at once, so its
/// plan finishes in one poll ([`crate::db::block_on`]); an async one awaits
/// its driver. Crate-private: a new driver implements it in its own module.
pub(crate) trait Exec {
    /// A prepared statement.
    type Stmt;
    /// An open snapshot or write scope; dropped without
    /// [`close`](Exec::close) (an error, a panic, a dropped future), it is
    /// rolled back.
    type Scope;

    fn dialect(&self) -> Dialect;
    /// What one statement can bind.
    fn caps(&self) -> Result<Caps>;
    /// Identifies the connection (the same for a connection and its
    /// transactions) while it is borrowed.
    fn identity(&self) -> usize;
    /// Prepares `sql` (cached by text, per connection). A statement that
    /// fails to prepare (a missing table or column) is reported to the log
    /// as a failed statement.
    fn prepare(&self, sql: &str, ctx: Ctx) -> impl Future<Output = Result<Self::Stmt>>;
    /// Runs a prepared statement and calls `on_row` for each row; the row count.
    fn query<F>(
        &self,
        stmt: &mut Self::Stmt,
        params: Vec<Param<'_>>,
        on_row: F,
    ) -> impl Future<Output = Result<usize>>
    where
        F: FnMut(&Row<'_>) -> Result<()>;
    /// Runs a prepared statement that returns no rows; how many it changed.
    fn execute(
        &self,
        stmt: &mut Self::Stmt,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64>>;
    /// [`execute`](Exec::execute) binding `values` one per placeholder (a
    /// multi-row `INSERT` on SQLite); how many rows it changed and the
    /// rowid of the last row inserted.
    fn execute_values(
        &self,
        stmt: &mut Self::Stmt,
        values: &[Value<'_>],
    ) -> impl Future<Output = Result<(u64, i64)>>;
    /// Runs statements that return nothing (DDL), separated by `;`.
    fn batch(&self, sql: &str, ctx: Ctx) -> impl Future<Output = Result<()>>;
    /// A bulk copy (PostgreSQL's `COPY ... FROM STDIN (FORMAT binary)`).
    #[cfg(feature = "postgres")]
    fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> impl Future<Output = Result<u64>>;
    /// Opens a scope when `kind` needs one on this connection.
    fn open(&self, kind: ScopeKind, ctx: Ctx) -> impl Future<Output = Result<Option<Self::Scope>>>;
    /// Commits (releases) a scope.
    fn close(&self, scope: Self::Scope) -> impl Future<Output = Result<()>>;
}

impl<'c> Exec for Conn<'c> {
    type Stmt = Stmt<'c>;
    type Scope = Scope<'c>;

    fn dialect(&self) -> Dialect {
        Conn::dialect(self)
    }

    fn caps(&self) -> Result<Caps> {
        Conn::caps(self)
    }

    fn identity(&self) -> usize {
        Conn::identity(self)
    }

    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<Stmt<'c>> {
        Conn::prepare(self, sql, ctx)
    }

    async fn query<F>(
        &self,
        stmt: &mut Self::Stmt,
        params: Vec<Param<'_>>,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        stmt.query(params, on_row)
    }

    async fn execute(&self, stmt: &mut Self::Stmt, params: &[Param<'_>]) -> Result<u64> {
        stmt.execute(params)
    }

    async fn execute_values(
        &self,
        stmt: &mut Self::Stmt,
        values: &[Value<'_>],
    ) -> Result<(u64, i64)> {
        let changed = stmt.execute_values(values)?;
        Ok((changed, self.last_insert_rowid().unwrap_or(0)))
    }

    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        Conn::batch(self, sql, ctx)
    }

    #[cfg(feature = "postgres")]
    async fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        Conn::copy_in(self, copy, columns, values, ctx)
    }

    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<Scope<'c>>> {
        Conn::open(*self, kind, ctx)
    }

    async fn close(&self, scope: Scope<'c>) -> Result<()> {
        scope.close()
    }
}

/// An open scope of a sync connection ([`Conn::open`]): committed by
/// [`close`](Scope::close), rolled back however else it ends, also when the
/// plan panics (a decoder of the user's may), so that the connection never
/// stays inside a transaction that would swallow every later write.
pub(crate) struct Scope<'c> {
    conn: Conn<'c>,
    ctx: Ctx,
    commit: &'static str,
    rollback: &'static str,
    done: bool,
}

impl Scope<'_> {
    fn run(&self, sql: &str) -> Result<()> {
        let start = log::start();
        let done = match self.conn {
            Conn::Sqlite(conn) => {
                crate::guard::quietly(self.conn.identity(), || conn.execute_batch(sql))
                    .map_err(|e| self.ctx.error(DbError::Sqlite(e)))
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(pg) => pg.run_own(sql, &self.ctx),
        };
        log::finish(
            start,
            self.conn.system(),
            &self.ctx,
            sql,
            done.as_ref().map(|()| 0),
            None,
        );
        done
    }

    pub(crate) fn close(mut self) -> Result<()> {
        self.run(self.commit)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        if !self.done {
            // The plan's own error (or panic) is the one to report.
            let _ = self.run(self.rollback);
        }
    }
}

enum StmtInner<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    #[cfg(feature = "postgres")]
    Postgres(&'c crate::Postgres, ::postgres::Statement),
}

/// A prepared statement, run once per set of parameters.
pub(crate) struct Stmt<'c> {
    inner: StmtInner<'c>,
    sql: Box<str>,
    ctx: Ctx,
}

impl Stmt<'_> {
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
            StmtInner::Postgres(pg, stmt) => pg.run_query(stmt, &self.sql, params, &ctx, on_row),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            &self.sql,
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
            StmtInner::Postgres(pg, stmt) => pg.run_execute(stmt, &self.sql, params, &ctx),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            &self.sql,
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
            &self.sql,
            changed
                .as_ref()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
            logged.as_deref(),
        );
        changed
    }
}

/// A borrowed async connection of one backend: what [`Plan::__async`]
/// (crate::db::Plan) runs on. Not public API.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum AsyncConn<'c> {
    #[doc(hidden)]
    Sqlite(sqlite_async::Lite<'c>),
    #[doc(hidden)]
    #[cfg(feature = "postgres")]
    Postgres(postgres_async::Pg<'c>),
}

/// A prepared statement of an [`AsyncConn`], with its text for the
/// task's recording scopes ([`count_queries_async`](crate::count_queries_async)).
#[cfg(feature = "tokio")]
pub(crate) struct AsyncStmt<'c> {
    inner: AsyncStmtInner<'c>,
    sql: Box<str>,
}

#[cfg(feature = "tokio")]
enum AsyncStmtInner<'c> {
    Sqlite(<sqlite_async::Lite<'c> as Exec>::Stmt),
    #[cfg(feature = "postgres")]
    Postgres(<postgres_async::Pg<'c> as Exec>::Stmt),
}

/// An open scope of an [`AsyncConn`].
#[cfg(feature = "tokio")]
pub(crate) enum AsyncScope<'c> {
    Sqlite(<sqlite_async::Lite<'c> as Exec>::Scope),
    #[cfg(feature = "postgres")]
    Postgres(<postgres_async::Pg<'c> as Exec>::Scope),
}

/// Calls the same method of whichever driver `$self` is.
#[cfg(feature = "tokio")]
macro_rules! dispatch {
    ($self:expr, $conn:ident => $body:expr) => {
        match $self {
            AsyncConn::Sqlite($conn) => $body,
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres($conn) => $body,
        }
    };
}

#[cfg(feature = "tokio")]
impl<'c> Exec for AsyncConn<'c> {
    type Stmt = AsyncStmt<'c>;
    type Scope = AsyncScope<'c>;

    fn dialect(&self) -> Dialect {
        dispatch!(self, c => c.dialect())
    }

    fn caps(&self) -> Result<Caps> {
        dispatch!(self, c => c.caps())
    }

    fn identity(&self) -> usize {
        dispatch!(self, c => c.identity())
    }

    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<AsyncStmt<'c>> {
        let inner = match self {
            AsyncConn::Sqlite(c) => AsyncStmtInner::Sqlite(c.prepare(sql, ctx).await?),
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres(c) => AsyncStmtInner::Postgres(c.prepare(sql, ctx).await?),
        };
        Ok(AsyncStmt {
            inner,
            sql: sql.into(),
        })
    }

    async fn query<F>(
        &self,
        stmt: &mut Self::Stmt,
        params: Vec<Param<'_>>,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.query(s, params, on_row).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => {
                c.query(s, params, on_row).await
            }
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn execute(&self, stmt: &mut Self::Stmt, params: &[Param<'_>]) -> Result<u64> {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.execute(s, params).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => c.execute(s, params).await,
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn execute_values(
        &self,
        stmt: &mut Self::Stmt,
        values: &[Value<'_>],
    ) -> Result<(u64, i64)> {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.execute_values(s, values).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => {
                c.execute_values(s, values).await
            }
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        for statement in sql.split(";\n") {
            crate::guard::note_async(statement);
        }
        dispatch!(self, c => c.batch(sql, ctx).await)
    }

    #[cfg(feature = "postgres")]
    async fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        crate::guard::note_async(copy);
        dispatch!(self, c => c.copy_in(copy, columns, values, ctx).await)
    }

    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<AsyncScope<'c>>> {
        Ok(match self {
            AsyncConn::Sqlite(c) => c.open(kind, ctx).await?.map(AsyncScope::Sqlite),
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres(c) => c.open(kind, ctx).await?.map(AsyncScope::Postgres),
        })
    }

    async fn close(&self, scope: AsyncScope<'c>) -> Result<()> {
        match (self, scope) {
            (AsyncConn::Sqlite(c), AsyncScope::Sqlite(s)) => c.close(s).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncScope::Postgres(s)) => c.close(s).await,
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a scope of another connection")),
        }
    }
}
