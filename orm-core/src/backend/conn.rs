//! The sync connections' side of the seam: what `Conn` (a borrowed
//! rusqlite or `postgres` connection) does, its prepared statements and
//! scopes, and its `Exec`, which answers every request at once.

use super::{sqlite, Caps, Conn, Ctx, Exec, Param, Row, ScopeKind};
use crate::error::{DbError, Result};
use crate::log;
use crate::render::Dialect;
use crate::value::Value;

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
        // SQLite reads the text again only to log it: copied only when a
        // subscriber listens (the copy cost the one-row accessor 160
        // instructions a call, 0.3-0.5% of its total, in an N+1 loop).
        // PostgreSQL counts statements by it and re-prepares from it.
        let text = match self {
            Conn::Sqlite(_) => log::start().map(|_| sql.into()),
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Some(sql.into()),
        };
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
                sql: text,
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
        const SQLITE_SAVEPOINT: [&str; 3] = [
            "SAVEPOINT orm_write",
            "RELEASE orm_write",
            "ROLLBACK TO orm_write; RELEASE orm_write",
        ];
        let [begin, commit, rollback] = match (self, kind) {
            (Conn::Sqlite(conn), ScopeKind::Read { .. })
                if kind.several() && conn.is_autocommit() =>
            {
                TRANSACTION
            }
            (Conn::Sqlite(conn), ScopeKind::Write { .. }) if kind.several() => {
                if conn.is_autocommit() {
                    TRANSACTION
                } else {
                    SQLITE_SAVEPOINT
                }
            }
            (Conn::Sqlite(conn), ScopeKind::Migration { foreign_keys }) => {
                match (conn.is_autocommit(), foreign_keys) {
                    (false, _) => SQLITE_SAVEPOINT,
                    (true, false) => ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"],
                    (true, true) => [
                        "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE",
                        "COMMIT; PRAGMA foreign_keys = ON",
                        "ROLLBACK; PRAGMA foreign_keys = ON",
                    ],
                }
            }
            #[cfg(feature = "postgres")]
            (Conn::Postgres(pg), _) if super::postgres::needs_scope(kind, pg.in_transaction()) => {
                super::postgres::scope_statements(pg.in_transaction())
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
    pub(crate) conn: Conn<'c>,
    pub(crate) ctx: Ctx,
    pub(crate) commit: &'static str,
    pub(crate) rollback: &'static str,
    pub(crate) done: bool,
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
    /// Its text; `None` on SQLite when no subscriber listened as it was
    /// prepared, and then it is not logged.
    sql: Option<Box<str>>,
    ctx: Ctx,
}

impl Stmt<'_> {
    /// When the statement starts, if it is logged.
    fn start(&self) -> Option<std::time::Instant> {
        self.sql.as_ref().and_then(|_| log::start())
    }

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
        let start = self.start();
        let values = log::values(start, &params);
        let ctx = self.ctx;
        let sql = self.sql.as_deref().unwrap_or_default();
        let rows = match &mut self.inner {
            StmtInner::Sqlite(stmt) => sqlite::query(stmt, params, &ctx, on_row),
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(pg, stmt) => pg.run_query(stmt, sql, params, &ctx, on_row),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            sql,
            rows.as_ref().copied(),
            values.as_deref(),
        );
        rows
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub(crate) fn execute(&mut self, params: &[Param<'_>]) -> Result<u64> {
        let start = self.start();
        let values = log::values(start, params);
        let ctx = self.ctx;
        let sql = self.sql.as_deref().unwrap_or_default();
        let changed = match &mut self.inner {
            StmtInner::Sqlite(stmt) => {
                let wrap = |e| ctx.error(DbError::Sqlite(e));
                sqlite::bind(stmt, params)
                    .and_then(|()| stmt.raw_execute())
                    .map(|n| n as u64)
                    .map_err(wrap)
            }
            #[cfg(feature = "postgres")]
            StmtInner::Postgres(pg, stmt) => pg.run_execute(stmt, sql, params, &ctx),
        };
        log::finish(
            start,
            self.system(),
            &ctx,
            sql,
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
        let start = self.sql.as_ref().and_then(|_| log::start());
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
            self.sql.as_deref().unwrap_or_default(),
            changed
                .as_ref()
                .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
            logged.as_deref(),
        );
        changed
    }
}
