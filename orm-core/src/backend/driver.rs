//! What a driver provides, and where it is registered.
//!
//! A driver is one way of talking to one backend: rusqlite (sync SQLite),
//! the `postgres` crate (sync PostgreSQL), a rusqlite connection on a thread
//! of its own (async SQLite), tokio-postgres (async PostgreSQL). Each lives
//! in its backend's directory and is a zero-sized type implementing
//! [`SyncDriver`] or [`AsyncDriver`]: its connection, its statements, its
//! rows, its scopes. The crate sees drivers only through
//! [`Conn`](super::Conn) and `AsyncConn`, whose variants, and those of the
//! rows they read, the [`drivers!`](super::drivers) list in `backend/mod.rs`
//! writes: a new driver is its directory and one line there.

use super::{Caps, Ctx, Param, Row, ScopeKind};
use crate::dialect::Dialect;
use crate::error::Result;
use crate::value::{Value, ValueError};

/// What every driver names: the rows it hands to a plan.
pub(crate) trait Driver: 'static {
    /// One row of a result, as the driver holds it while the plan reads it.
    type Row<'r>: DriverRow;
}

/// A row of some driver, read by column index.
pub(crate) trait DriverRow {
    /// The value of column `index` (from 0).
    fn value(&self, index: usize) -> Result<Value<'_>, ValueError>;
    /// How SQLite's `=` would compare a value with column `index`; a
    /// backend that compares typed values exactly answers `Blob` (no
    /// affinity).
    fn affinity(&self, index: usize) -> super::sqlite::Affinity;
}

/// A driver whose connection answers at once: every call runs the
/// statement and returns. What [`Conn`](super::Conn) dispatches to; the
/// logging, the text kept for it, and the scopes' bookkeeping are written
/// once, over this trait, in `conn.rs`.
pub(crate) trait SyncDriver: Driver {
    /// The log's `db.system`: `sqlite`, `postgresql`.
    const SYSTEM: &'static str;
    const DIALECT: Dialect;
    /// Whether a statement keeps its text when no subscriber listens
    /// (PostgreSQL counts statements by it and prepares again from it).
    const KEEPS_TEXT: bool;
    /// Whether [`execute_values`](SyncDriver::execute_values) binds values
    /// itself; else they are bound as parameters through
    /// [`execute`](SyncDriver::execute).
    const BINDS_VALUES: bool = false;

    /// A borrowed connection.
    type Conn<'c>: Copy;
    /// A prepared statement.
    type Stmt<'c>;

    fn caps(conn: Self::Conn<'_>) -> Result<Caps>;
    /// Identifies the connection (the same for a connection and its
    /// transactions) while it is borrowed.
    fn identity(conn: Self::Conn<'_>) -> usize;
    /// Prepares `sql`, from the connection's cache when it can.
    fn prepare<'c>(conn: Self::Conn<'c>, sql: &str, ctx: &Ctx) -> Result<Self::Stmt<'c>>;
    /// Binds `params`, runs the statement, calls `on_row` for each row; the
    /// row count. `sql` is the statement's text when it was kept.
    fn query<'c, F>(
        conn: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        sql: &str,
        params: Vec<Param<'_>>,
        ctx: &Ctx,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>;
    /// Runs a statement that returns no rows; how many it changed.
    fn execute<'c>(
        conn: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        sql: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
    ) -> Result<u64>;
    /// Binds `values` one per placeholder and runs the statement, when
    /// [`BINDS_VALUES`](SyncDriver::BINDS_VALUES).
    fn execute_values<'c>(
        _conn: Self::Conn<'c>,
        _stmt: &mut Self::Stmt<'c>,
        _values: &[Value<'_>],
        _ctx: &Ctx,
    ) -> Result<u64> {
        Err(crate::Error::Internal(
            "this driver binds values as parameters",
        ))
    }
    /// The rowid of the row the last `INSERT` wrote, on a backend with rowids.
    fn last_insert_rowid(_conn: Self::Conn<'_>) -> i64 {
        0
    }
    /// Runs statements that return nothing (DDL), separated by `;`.
    fn batch(conn: Self::Conn<'_>, sql: &str, ctx: &Ctx) -> Result<()>;
    /// A bulk copy (PostgreSQL's binary `COPY`); a plan asks for one only
    /// on a backend that has it.
    #[cfg(feature = "postgres")]
    fn copy_in(
        _conn: Self::Conn<'_>,
        _copy: &str,
        _columns: &str,
        _values: &[Value<'_>],
        _ctx: &Ctx,
    ) -> Result<u64> {
        Err(crate::Error::Internal("this backend has no bulk copy"))
    }
    /// The begin, commit and rollback statements of the scope `kind`
    /// needs here, if it needs one.
    fn scope(conn: Self::Conn<'_>, kind: ScopeKind) -> Option<[&'static str; 3]>;
    /// Runs one of the crate's own statements (a scope's begin, commit or
    /// rollback): never counted as the user's.
    fn run_own(conn: Self::Conn<'_>, sql: &str, ctx: &Ctx) -> Result<()>;
    /// Runs `f` in a transaction of the kind `begin` asks for, a savepoint
    /// inside one: the sync [`atomic_with`](crate::Atomic::atomic_with).
    fn atomic<T>(
        conn: Self::Conn<'_>,
        begin: crate::Begin,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T>;
}

/// A driver whose connection awaits: its borrowed connection implements the
/// driver seam ([`Exec`](super::Exec)) itself.
#[cfg(feature = "tokio")]
pub(crate) trait AsyncDriver: Driver {
    /// A borrowed connection.
    type Conn<'c>: super::Exec + Copy + Send + Sync;
}

/// How a registered driver's values enter the crate's dispatching types;
/// written by [`drivers!`](super::drivers) for each driver it lists.
pub(crate) trait Registered: Driver {
    /// One of this driver's rows, as a [`Row`].
    fn row<'r>(row: Self::Row<'r>) -> Row<'r>;
    /// A [`Row`] as this driver's, if it is one of its rows (the async
    /// SQLite driver's thread reads the sync driver's).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn unrow<'a, 'r>(row: &'a Row<'r>) -> Option<&'a Self::Row<'r>>;
}

/// A registered sync driver's borrowed connection as a [`Conn`](super::Conn).
pub(crate) trait RegisteredSync: SyncDriver + Registered {
    fn conn(conn: Self::Conn<'_>) -> super::Conn<'_>;
}

/// A registered async driver's borrowed connection as an `AsyncConn`.
#[cfg(feature = "tokio")]
pub(crate) trait RegisteredAsync: AsyncDriver + Registered {
    fn conn(conn: Self::Conn<'_>) -> super::AsyncConn<'_>;
}
