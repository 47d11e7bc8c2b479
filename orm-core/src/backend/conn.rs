//! The sync drivers' common part: a statement's and a scope's logging and
//! bookkeeping, written once over [`SyncDriver`]; `Conn`'s `Exec`
//! (`register.rs`) hands each request to them.

use super::{Ctx, Param, Row, ScopeKind, SyncDriver};
use crate::error::Result;
use crate::log;
use crate::value::Value;

/// Runs statements that return nothing (DDL), separated by `;`, logged.
pub(crate) fn batch<D: SyncDriver>(conn: D::Conn<'_>, sql: &str, ctx: Ctx) -> Result<()> {
    let start = log::start();
    let done = D::batch(conn, sql, &ctx);
    log::finish(start, D::SYSTEM, &ctx, sql, done.as_ref().map(|()| 0), None);
    done
}

/// Writes rows with a bulk copy (`copy`, PostgreSQL's `COPY ... FROM
/// STDIN (FORMAT binary)`), `values` holding every row's columns end to
/// end, in the order of the columns `columns` selects; how many rows it
/// wrote. Counted and logged as one statement.
#[cfg(feature = "postgres")]
pub(crate) fn copy_in<D: SyncDriver>(
    conn: D::Conn<'_>,
    copy: &str,
    columns: &str,
    values: &[Value<'_>],
    ctx: Ctx,
) -> Result<u64> {
    let start = log::start();
    let done = D::copy_in(conn, copy, columns, values, &ctx);
    log::finish(
        start,
        D::SYSTEM,
        &ctx,
        copy,
        done.as_ref()
            .map(|&n| usize::try_from(n).unwrap_or(usize::MAX)),
        None,
    );
    done
}

/// An open scope of a sync connection ([`Scope::open`]): committed by
/// [`close`](Scope::close), rolled back however else it ends, also when the
/// plan panics (a decoder of the user's may), so that the connection never
/// stays inside a transaction that would swallow every later write.
pub(crate) struct Scope<'c, D: SyncDriver> {
    pub(crate) conn: D::Conn<'c>,
    pub(crate) ctx: Ctx,
    pub(crate) commit: &'static str,
    pub(crate) rollback: &'static str,
    pub(crate) done: bool,
}

impl<'c, D: SyncDriver> Scope<'c, D> {
    /// Opens the scope `kind` needs on this connection, if any (the
    /// driver's [`scope`](SyncDriver::scope) decides). Its statements are
    /// the crate's own: logged, not counted by
    /// [`count_queries`](crate::count_queries).
    pub(crate) fn open(conn: D::Conn<'c>, kind: ScopeKind, ctx: Ctx) -> Result<Option<Self>> {
        let Some([begin, commit, rollback]) = D::scope(conn, kind) else {
            return Ok(None);
        };
        let scope = Scope {
            conn,
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

    fn run(&self, sql: &str) -> Result<()> {
        let start = log::start();
        let done = D::run_own(self.conn, sql, &self.ctx);
        log::finish(
            start,
            D::SYSTEM,
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

impl<D: SyncDriver> Drop for Scope<'_, D> {
    fn drop(&mut self) {
        if !self.done {
            // The plan's own error (or panic) is the one to report.
            let _ = self.run(self.rollback);
        }
    }
}

/// A prepared statement of a sync driver, run once per set of parameters.
pub(crate) struct Stmt<'c, D: SyncDriver> {
    conn: D::Conn<'c>,
    inner: D::Stmt<'c>,
    /// Its text; `None` when the driver does not keep it and no subscriber
    /// listened as it was prepared, and then it is not logged.
    sql: Option<Box<str>>,
    ctx: Ctx,
}

impl<'c, D: SyncDriver> Stmt<'c, D> {
    /// Prepares `sql`. A statement that fails to prepare (a missing table or
    /// column) is reported to the log as a failed statement.
    pub(crate) fn prepare(conn: D::Conn<'c>, sql: &str, ctx: Ctx) -> Result<Self> {
        // SQLite reads the text again only to log it: copied only when a
        // subscriber listens (the copy cost the one-row accessor 160
        // instructions a call, 0.3-0.5% of its total, in an N+1 loop).
        let text = if D::KEEPS_TEXT {
            Some(sql.into())
        } else {
            log::start().map(|_| sql.into())
        };
        match D::prepare(conn, sql, &ctx) {
            Ok(inner) => Ok(Stmt {
                conn,
                inner,
                sql: text,
                ctx,
            }),
            Err(e) => {
                log::finish(log::start(), D::SYSTEM, &ctx, sql, Err(&e), None);
                Err(e)
            }
        }
    }

    /// The rowid of the row the last `INSERT` on the statement's
    /// connection wrote; 0 on a backend without rowids.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        D::last_insert_rowid(self.conn)
    }

    /// When the statement starts, if it is logged.
    fn start(&self) -> Option<std::time::Instant> {
        self.sql.as_ref().and_then(|_| log::start())
    }

    /// Runs the statement and calls `on_row` for each row; returns the row
    /// count. The parameters are freed once bound, before the rows are read:
    /// a batch's keys need not be held while its rows are.
    #[inline]
    pub(crate) fn query<F>(&mut self, params: Vec<Param<'_>>, on_row: F) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let start = self.start();
        let values = log::values(start, &params);
        let ctx = self.ctx;
        let sql = self.sql.as_deref().unwrap_or_default();
        let rows = D::query(self.conn, &mut self.inner, sql, params, &ctx, on_row);
        log::finish(
            start,
            D::SYSTEM,
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
        let changed = D::execute(self.conn, &mut self.inner, sql, params, &ctx);
        log::finish(
            start,
            D::SYSTEM,
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
    /// are where the driver can ([`SyncDriver::BINDS_VALUES`]), without a
    /// [`Param`] each, which costs a bulk insert a tenth of its time.
    pub(crate) fn execute_values(&mut self, values: &[Value<'_>]) -> Result<u64> {
        if !D::BINDS_VALUES {
            let params: Vec<Param<'_>> = values.iter().map(|&v| Param::Value(v)).collect();
            return self.execute(&params);
        }
        let start = self.start();
        let logged = (start.is_some() && log::values_wanted()).then(|| format!("{values:?}"));
        let ctx = self.ctx;
        let changed = D::execute_values(self.conn, &mut self.inner, values, &ctx);
        log::finish(
            start,
            D::SYSTEM,
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
