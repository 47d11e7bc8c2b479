//! The seam between the crate and a database driver.
//!
//! Everything above this module (the derive's code, the query layer, the
//! loader) sees a [`Conn`]: a borrowed connection of some backend. It asks
//! the connection what it can do ([`Caps`]), prepares statement text
//! rendered for its [`Dialect`](crate::dialect::Dialect), binds neutral
//! [`Param`]s and reads neutral [`Row`]s. Only the modules below name a
//! driver type.

pub(crate) mod sqlite;

#[cfg(feature = "postgres")]
pub(crate) mod postgres;

mod conn;
mod driver;
mod native;
#[cfg(test)]
mod probe;
#[cfg(feature = "tokio")]
pub(crate) use driver::{AsyncDriver, RegisteredAsync};
pub(crate) use driver::{Driver, DriverRow, Registered, RegisteredSync, SyncDriver};

// Driver-neutral; only the PostgreSQL driver shares a connection among tasks so far.
#[cfg(all(feature = "tokio", feature = "postgres"))]
pub(crate) mod gate;

#[macro_use]
mod register;

// The drivers. Each is a directory (its connection, statements, rows,
// scopes, type conversions, limits) and one line here, which gives it its
// variant of `Conn` or `AsyncConn` and of the rows a plan reads.
drivers! {
    sync {
        Sqlite(sqlite::Driver),
        #[cfg(feature = "postgres")]
        Postgres(postgres::Driver),
        #[cfg(test)]
        Probe(probe::Driver),
    }
    async {
        #[cfg(feature = "tokio")]
        AsyncSqlite(sqlite::thread::Driver),
        #[cfg(all(feature = "tokio", feature = "postgres"))]
        AsyncPostgres(postgres::nonblocking::Driver),
    }
}

use crate::column::Column;
use crate::constraint::Index;
use crate::db::{Blocking, Database};
use crate::dialect::Dialect;
use crate::error::{DbError, Error, Result, UniqueViolation};
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

impl crate::sealed::Sealed for Conn<'_> {}
impl Db for Conn<'_> {
    fn __conn(&self) -> Conn<'_> {
        self.reborrow()
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

impl Row<'_> {
    /// The value of column `index` (from 0).
    #[inline(always)]
    pub fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        self.inner.value(index)
    }

    /// Column `index` (from 0) read as `T`.
    #[inline(always)]
    pub fn get<T: SqlType>(&self, index: usize) -> Result<T, ValueError> {
        self.inner.get(index)
    }

    /// How SQLite's `=` would compare a value with column `index`.
    /// PostgreSQL compares typed values exactly, as a column without
    /// affinity does.
    pub(crate) fn affinity(&self, index: usize) -> sqlite::Affinity {
        self.inner.affinity(index)
    }
}

/// What a plan may wait for.
pub(crate) use std::future::Future;

/// Why a plan opens a scope: to read one snapshot over several statements,
/// to write all or nothing, or to apply a migration.
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
    /// A migration: a transaction of its own (a savepoint inside one),
    /// which SQLite takes for writing at once (`BEGIN IMMEDIATE`: two
    /// processes applying never both read the table of applied migrations
    /// first). With `foreign_keys`, SQLite's foreign keys are off for its
    /// duration and on again however it ends, also when its future is
    /// dropped (the plan reads the PRAGMA back: inside a transaction SQLite
    /// ignores the change).
    Migration { foreign_keys: bool },
}

impl ScopeKind {
    /// Whether the scope spans more than one statement: SQLite opens no
    /// snapshot or savepoint for one.
    pub(crate) fn several(self) -> bool {
        match self {
            ScopeKind::Read { statements } | ScopeKind::Write { statements, .. } => statements > 1,
            ScopeKind::Migration { .. } => true,
        }
    }
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
