//! PostgreSQL through tokio-postgres: the async connection, shared by tasks.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{SinkExt as _, TryStreamExt as _};
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::{stale_plan, BinaryCopy, Kind};
use crate::backend::gate::{first_polled, Exclusive, Gate, Undo};
use crate::backend::{Caps, Ctx, Exec, Param, Registered, RegisteredAsync, Row, ScopeKind};
use crate::db::{Async, BoxFuture, Database, Plan};
use crate::dialect::Dialect;
use crate::error::{DbError, Error, Result};
use crate::log;
use crate::value::Value;

/// At most this many prepared statements are kept per connection; past it
/// the cache starts over (as the sync connection's).
const STATEMENTS: usize = 256;

const SYSTEM: &str = "postgresql";

/// The connection's own statements (`atomic`'s `BEGIN` and `COMMIT`, what a
/// dropped block left to undo), named in their log events.
const OWN: Ctx = Ctx {
    model: "(transaction)",
    table: "-",
    columns: &[],
    indexes: &[],
};

/// An async PostgreSQL connection over tokio-postgres: every generated
/// function, `Model` method and query accepts `&pg` and returns a `Send`
/// future on it.
///
/// It is `Sync`: share one among tasks (`&pg`, `Arc<AsyncPostgres>`).
/// Statements awaited together pipeline on the connection, each plan's
/// statements in order. An [`atomic`](crate::AsyncAtomic::atomic) block has
/// the connection to itself: other tasks' statements wait until it ends,
/// while the block's own (on `tx`, from its task) run at once.
///
/// ```no_run
/// use orm_core::{AsyncAtomic, AsyncPostgres, Model};
/// #[derive(Model)] struct Category { id: i64, name: String }
///
/// # async fn run() -> orm_core::Result<()> {
/// let pg = AsyncPostgres::connect("host=127.0.0.1 user=postgres dbname=shop").await?;
/// Category::create_table(&pg).await?;
/// pg.atomic(async |tx| {
///     Category { id: 1, name: "Books".into() }.insert(tx).await
/// })
/// .await?;
/// let cats = Category::all(&pg).await?;
/// # Ok(()) }
/// ```
pub struct AsyncPostgres {
    /// Shared with the task that undoes a dropped block at once.
    client: Arc<Client>,
    statements: Mutex<HashMap<String, Statement>>,
    gate: Arc<Gate>,
}

impl From<Client> for AsyncPostgres {
    /// A client whose connection task the caller spawned (for TLS, or a
    /// runtime of their own).
    fn from(client: Client) -> Self {
        AsyncPostgres {
            client: Arc::new(client),
            statements: Mutex::default(),
            gate: Arc::default(),
        }
    }
}

impl std::fmt::Debug for AsyncPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPostgres")
            .field("statements", &self.cache().len())
            .field("closed", &self.client.is_closed())
            .finish_non_exhaustive()
    }
}

impl AsyncPostgres {
    /// Connects without TLS, with a connection string as tokio-postgres takes
    /// it: `"host=127.0.0.1 port=5432 user=postgres dbname=shop"` or a
    /// `postgresql://` URL, and spawns the connection's task on the current
    /// tokio runtime. For TLS, connect a `tokio_postgres::Client` yourself
    /// and convert it with `AsyncPostgres::from(client)`.
    pub async fn connect(params: impl AsRef<str>) -> Result<Self> {
        let (client, connection) = tokio_postgres::connect(params.as_ref(), NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(target: "orm_core::query", error = %e, "the PostgreSQL connection ended");
            }
        });
        Ok(client.into())
    }

    /// The client, for what the crate does not wrap (notifications, `COPY`
    /// out). Its statements bypass the connection's gate: inside another
    /// task's [`atomic`](crate::AsyncAtomic::atomic) block they would land
    /// in its transaction.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the connection is inside a transaction, once what dropped
    /// blocks left to undo has run: for a pool, before it lends the
    /// connection again (a transaction a user began with raw SQL and left
    /// open would take the next user's writes with it). A transaction's
    /// `now()` is when it began; outside one, each statement's own start.
    pub(crate) async fn in_transaction(&self) -> Result<bool> {
        let probe = async {
            let rows = self
                .client
                .simple_query("SELECT now() <> statement_timestamp()")
                .await?;
            Ok(rows.iter().any(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0) != Some("f"),
                _ => false,
            }))
        };
        self.gate.run(self, probe).await
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, Statement>> {
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a plan's future at the gate (see [`Gate::run`]).
    fn run_plan<'a, T: Send + 'a>(
        &'a self,
        plan: BoxFuture<'a, Result<T>>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(self.gate.run(self, plan))
    }

    /// The prepared statement for `sql`, from the cache or the server.
    async fn prepare_cached(&self, sql: &str) -> Result<Statement, postgres::Error> {
        let cached = self.cache().get(sql).cloned();
        if let Some(stmt) = cached {
            return Ok(stmt);
        }
        let stmt = self.client.prepare(sql).await?;
        let mut cache = self.cache();
        if cache.len() >= STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Prepares `stmt` again, after its table changed shape under it.
    async fn prepare_again(&self, stmt: &mut PgStmt) -> Result<()> {
        self.cache().remove(&*stmt.sql);
        stmt.stmt = self
            .prepare_cached(&stmt.sql)
            .await
            .map_err(|e| stmt.ctx.error(DbError::Postgres(e)))?;
        Ok(())
    }

    /// Runs one of the crate's own statements, logged, its error as `wrap` makes it.
    async fn own(
        &self,
        sql: &str,
        ctx: &Ctx,
        wrap: impl FnOnce(postgres::Error) -> Error,
    ) -> Result<()> {
        own(&self.client, sql, ctx, wrap).await
    }

    async fn stream<F>(
        &self,
        stmt: &mut PgStmt,
        params: Vec<Param<'_>>,
        mut on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let ctx = stmt.ctx;
        let rows = match self.client.query_raw(&stmt.stmt, bind(&params)).await {
            Err(e) if stale_plan(&e) => {
                self.prepare_again(stmt).await?;
                self.client.query_raw(&stmt.stmt, bind(&params)).await
            }
            other => other,
        }
        .map_err(|e| ctx.error(DbError::Postgres(e)))?;
        // Bound: a batch's keys need not be held while its rows are read.
        drop(params);
        let kinds = Kind::of_columns(&stmt.stmt);
        let mut rows = pin!(rows);
        let mut n = 0;
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| ctx.error(DbError::Postgres(e)))?
        {
            on_row(&Driver::row(super::PgRow {
                row: &row,
                kinds: Some(&kinds),
            }))?;
            n += 1;
        }
        Ok(n)
    }

    async fn run_execute(&self, stmt: &mut PgStmt, params: &[Param<'_>]) -> Result<u64> {
        let ctx = stmt.ctx;
        match self.client.execute_raw(&stmt.stmt, bind(params)).await {
            Err(e) if stale_plan(&e) => {
                self.prepare_again(stmt).await?;
                self.client.execute_raw(&stmt.stmt, bind(params)).await
            }
            other => other,
        }
        .map_err(|e| ctx.error(DbError::Postgres(e)))
    }

    async fn run_copy(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        let wrap = |e| ctx.error(DbError::Postgres(e));
        let types: Vec<Type> = self
            .prepare_cached(columns)
            .await
            .map_err(wrap)?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let sink = self
            .client
            .copy_in::<_, bytes::Bytes>(copy)
            .await
            .map_err(wrap)?;
        // Dropped unfinished (a value that does not fit, the future
        // dropped), the sink aborts the copy.
        let mut sink = pin!(sink);
        for chunk in BinaryCopy::new(values, &types, ctx) {
            sink.send(chunk?).await.map_err(wrap)?;
        }
        sink.as_mut().finish().await.map_err(wrap)
    }

    /// Runs `f` in a transaction; see [`AsyncAtomic`](crate::AsyncAtomic).
    async fn transaction<'a, T, Fut>(
        &'a self,
        kind: crate::Begin,
        f: impl FnOnce(&'a Self) -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        let turn = self.gate.exclusive(self).await;
        let depth = turn.depth();
        if depth > 0 {
            if let Some(nested) = kind.nested() {
                return Err(nested);
            }
        }
        let (begin, end, rollback) = match depth {
            0 => (
                super::begin_sql(kind).to_owned(),
                "SELECT 1; COMMIT".to_owned(),
                "ROLLBACK".to_owned(),
            ),
            d => (
                format!("SAVEPOINT orm_{d}"),
                format!("RELEASE SAVEPOINT orm_{d}"),
                format!("ROLLBACK TO SAVEPOINT orm_{d}; RELEASE SAVEPOINT orm_{d}"),
            ),
        };
        // Dropped before `turn`: what it leaves to undo is at the gate
        // before the turn ends.
        let mut undo = Rollback {
            conn: self,
            sql: rollback,
            armed: false,
        };
        let begun = first_polled(self.own(&begin, &OWN, Error::Postgres), || {
            undo.armed = true
        })
        .await;
        if let Err(e) = begun {
            // Nothing was begun.
            undo.armed = false;
            return Err(e);
        }
        // Recorded as the sync connection's block statements are.
        crate::guard::note_async(&begin);
        let out = self.gate.inside(&turn, f(self)).await;
        self.gate.settle(self, &turn).await;
        let value = match out {
            Ok(value) => value,
            Err(e) => {
                crate::guard::note_async(&undo.sql);
                undo.now().await;
                return Err(e);
            }
        };
        // A failed statement aborts a PostgreSQL transaction, even when the
        // block goes on and returns `Ok`, and `COMMIT` then rolls it back
        // without a word. The `SELECT` before it fails instead (SQLSTATE
        // 25P02), in the same round trip, as `RELEASE SAVEPOINT` does by
        // itself. Once the `RELEASE` is sent, a dropped future leaves
        // nothing to undo: released, the savepoint is the outer block's,
        // and a failed release has aborted the outer transaction, which
        // then cannot commit. A `COMMIT` is followed by a `ROLLBACK` that
        // finds nothing to undo, or the transaction the failed `SELECT`
        // left open.
        crate::guard::note_async(&end);
        let ended = first_polled(self.own(&end, &OWN, aborted), || {
            if depth > 0 {
                undo.armed = false;
            }
        })
        .await;
        match ended {
            Ok(()) => {
                undo.armed = false;
                drop(turn);
                Ok(value)
            }
            Err(e) => {
                crate::guard::note_async(&undo.sql);
                undo.now().await;
                Err(e)
            }
        }
    }
}

/// The error of a block's end: [`Error::TransactionAborted`] when a
/// statement inside had failed.
fn aborted(e: postgres::Error) -> Error {
    match e.code() {
        Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => Error::TransactionAborted { source: e },
        _ => Error::Postgres(e),
    }
}

/// The parameters as tokio-postgres binds them.
fn bind<'p>(params: &'p [Param<'_>]) -> impl ExactSizeIterator<Item = &'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync))
}

/// Runs one of the crate's own statements, logged, its error as `wrap` makes it.
async fn own(
    client: &Client,
    sql: &str,
    ctx: &Ctx,
    wrap: impl FnOnce(postgres::Error) -> Error,
) -> Result<()> {
    let start = log::start();
    let done = client.batch_execute(sql).await.map_err(wrap);
    log::finish(start, SYSTEM, ctx, sql, done.as_ref().map(|()| 0), None);
    done
}

impl Undo for AsyncPostgres {
    async fn undo(&self, sql: &str) -> Result<()> {
        self.own(sql, &OWN, Error::Postgres).await
    }
}

/// The client alone, for the task that undoes a dropped block.
struct Detached(Arc<Client>);

impl Undo for Detached {
    async fn undo(&self, sql: &str) -> Result<()> {
        own(&self.0, sql, &OWN, Error::Postgres).await
    }
}

/// The undo of a block or scope: run when it fails, left to the gate when
/// its future is dropped once its first statement was sent.
struct Rollback<'c> {
    conn: &'c AsyncPostgres,
    sql: String,
    armed: bool,
}

impl Rollback<'_> {
    /// Undoes now, after an error: the error is the caller's to report.
    async fn now(&mut self) {
        self.armed = true;
        let _ = first_polled(self.conn.undo(&self.sql), || self.armed = false).await;
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let gate = &self.conn.gate;
        gate.defer(std::mem::take(&mut self.sql));
        // Undone at once by a task of its own, rather than by the next
        // statement on the connection, which may come much later (a pooled
        // connection left idle) while the transaction holds its locks. It
        // waits for the turn this block holds, which ends right after. The
        // next turn undoes it anyway when there is no runtime to spawn on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let gate = Arc::clone(gate);
            let client = Detached(Arc::clone(&self.conn.client));
            runtime.spawn(async move { gate.settle_detached(&client).await });
        }
    }
}

impl crate::sealed::Sealed for AsyncPostgres {}

impl Database for AsyncPostgres {
    type Mode = Async;

    fn __run<'a, P: Plan + 'a>(&'a self, plan: P) -> BoxFuture<'a, Result<P::Output>> {
        self.run_plan(plan.__async(Driver::conn(Pg(self))))
    }
}

impl crate::atomic::AsyncAtomic for AsyncPostgres {
    fn atomic_with<'a, T, F, Fut>(&'a self, begin: crate::Begin, f: F) -> BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a,
    {
        Box::pin(self.transaction(begin, f))
    }
}

/// The async PostgreSQL driver: a borrowed [`AsyncPostgres`].
pub(crate) struct Driver;

impl crate::backend::Driver for Driver {
    type Row<'r> = super::PgRow<'r>;
}

impl crate::backend::AsyncDriver for Driver {
    type Conn<'c> = Pg<'c>;
}

/// A borrowed [`AsyncPostgres`], as the driver seam sees it.
#[derive(Clone, Copy)]
pub(crate) struct Pg<'c>(pub(crate) &'c AsyncPostgres);

/// A prepared statement of an [`AsyncPostgres`], with its text (to prepare
/// it again) and its model (for its errors and log events).
pub(crate) struct PgStmt {
    stmt: Statement,
    sql: Box<str>,
    ctx: Ctx,
}

/// An open write scope: committed by [`Exec::close`], rolled back however
/// else it ends; it has the connection to itself meanwhile.
pub(crate) struct PgScope<'c> {
    conn: &'c AsyncPostgres,
    ctx: Ctx,
    commit: &'static str,
    undo: Rollback<'c>,
    /// Dropped after `undo`, which leaves its statement at the gate first.
    turn: Exclusive,
}

impl<'c> Exec for Pg<'c> {
    type Stmt = PgStmt;
    type Scope = PgScope<'c>;

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn caps(&self) -> Result<Caps> {
        Ok(Caps::Arrays)
    }

    fn identity(&self) -> usize {
        self.0.gate.id()
    }

    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<PgStmt> {
        let start = log::start();
        match self.0.prepare_cached(sql).await {
            Ok(stmt) => Ok(PgStmt {
                stmt,
                sql: sql.into(),
                ctx,
            }),
            Err(e) => {
                let e = ctx.error(DbError::Postgres(e));
                log::finish(start, SYSTEM, &ctx, sql, Err(&e), None);
                Err(e)
            }
        }
    }

    async fn query<F>(&self, stmt: &mut PgStmt, params: Vec<Param<'_>>, on_row: F) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let start = log::start();
        let values = log::values(start, &params);
        let rows = self.0.stream(stmt, params, on_row).await;
        log::finish(
            start,
            SYSTEM,
            &stmt.ctx,
            &stmt.sql,
            rows.as_ref().copied(),
            values.as_deref(),
        );
        rows
    }

    async fn execute(&self, stmt: &mut PgStmt, params: &[Param<'_>]) -> Result<u64> {
        let start = log::start();
        let values = log::values(start, params);
        let changed = self.0.run_execute(stmt, params).await;
        let rows = changed
            .as_ref()
            .map(|&n| usize::try_from(n).unwrap_or(usize::MAX));
        log::finish(start, SYSTEM, &stmt.ctx, &stmt.sql, rows, values.as_deref());
        changed
    }

    async fn execute_values(&self, stmt: &mut PgStmt, values: &[Value<'_>]) -> Result<(u64, i64)> {
        let params: Vec<Param<'_>> = values.iter().map(|&v| Param::Value(v)).collect();
        let changed = self.execute(stmt, &params).await?;
        // No rowid on PostgreSQL: a plan that needs new keys draws them itself.
        Ok((changed, 0))
    }

    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        let start = log::start();
        let done = self
            .0
            .client
            .batch_execute(sql)
            .await
            .map_err(|e| ctx.error(DbError::Postgres(e)));
        // A table's shape may have changed under the cached statements.
        self.0.cache().clear();
        log::finish(start, SYSTEM, &ctx, sql, done.as_ref().map(|()| 0), None);
        done
    }

    async fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        let start = log::start();
        let done = self.0.run_copy(copy, columns, values, &ctx).await;
        let rows = done
            .as_ref()
            .map(|&n| usize::try_from(n).unwrap_or(usize::MAX));
        log::finish(start, SYSTEM, &ctx, copy, rows, None);
        done
    }

    /// A write scope for several writes, or several rows in one statement
    /// inside an `atomic` block (whose failure would otherwise abort it): a
    /// savepoint inside a block, else a transaction; a migration's, always.
    /// PostgreSQL's statements each read their own snapshot, as the sync
    /// connection's: no read scope.
    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<PgScope<'c>>> {
        if !super::needs_scope(kind, self.0.gate.depth() > 0) {
            return Ok(None);
        }
        let turn = self.0.gate.exclusive(self.0).await;
        let [begin, commit, rollback] = super::scope_statements(turn.depth() > 0);
        let mut scope = PgScope {
            conn: self.0,
            ctx,
            commit,
            undo: Rollback {
                conn: self.0,
                sql: rollback.to_owned(),
                armed: false,
            },
            turn,
        };
        let wrap = |e| ctx.error(DbError::Postgres(e));
        let begun = first_polled(self.0.own(begin, &ctx, wrap), || scope.undo.armed = true).await;
        if let Err(e) = begun {
            scope.undo.armed = false;
            return Err(e);
        }
        Ok(Some(scope))
    }

    async fn close(&self, mut scope: PgScope<'c>) -> Result<()> {
        let ctx = scope.ctx;
        let wrap = |e| ctx.error(DbError::Postgres(e));
        match scope.conn.own(scope.commit, &ctx, wrap).await {
            Ok(()) => {
                scope.undo.armed = false;
                let PgScope { turn, .. } = scope;
                turn.end();
                Ok(())
            }
            Err(e) => {
                scope.undo.now().await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Run under `scripts/with-postgres`, which sets `ORM_POSTGRES_URL`.

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::AsyncAtomic as _;

    #[derive(crate::Model, Debug, PartialEq)]
    struct Note {
        id: i64,
        body: String,
    }

    const NOTE: Ctx = Ctx {
        model: "Note",
        table: "note",
        columns: &[],
        indexes: &[],
    };

    /// A connection in a schema of its own, with an empty `note` table.
    async fn connect(schema: &str) -> AsyncPostgres {
        let url = std::env::var("ORM_POSTGRES_URL")
            .expect("ORM_POSTGRES_URL is not set: run the tests under scripts/with-postgres");
        let pg = AsyncPostgres::connect(&url).await.expect("connect");
        pg.client()
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
                 SET search_path TO {schema};
                 CREATE TABLE note (id int8 PRIMARY KEY, body text NOT NULL)"
            ))
            .await
            .expect("schema");
        pg
    }

    /// Runs `f` as a plan runs: at the connection's gate.
    async fn plan<'a, T: Send + 'a>(
        pg: &'a AsyncPostgres,
        f: impl FnOnce(Pg<'a>) -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        pg.run_plan(f(Pg(pg))).await
    }

    /// Column 0 of every row of `sql`, as integers.
    async fn ints(pg: Pg<'_>, sql: &str) -> Result<Vec<i64>> {
        let mut stmt = pg.prepare(sql, NOTE).await?;
        let mut out = Vec::new();
        pg.query(&mut stmt, Vec::new(), |row| {
            out.push(row.get::<i64>(0).map_err(|e| NOTE.column_error(0, e))?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn execute(pg: Pg<'_>, sql: &str) -> Result<u64> {
        let mut stmt = pg.prepare(sql, NOTE).await?;
        pg.execute(&mut stmt, &[]).await
    }

    /// The ids in `note`, and whether the connection is outside a
    /// transaction (where `SAVEPOINT` fails with SQLSTATE 25P01).
    async fn state(pg: &AsyncPostgres) -> (Vec<i64>, bool) {
        plan(pg, |pg| {
            Box::pin(async move {
                let ids = ints(pg, "SELECT id FROM note ORDER BY id").await?;
                let probe = execute(pg, "SAVEPOINT probe").await;
                let alone = probe.is_err_and(|e| e.sqlstate().as_deref() == Some("25P01"));
                Ok((ids, alone))
            })
        })
        .await
        .expect("state")
    }

    fn insert(pg: &AsyncPostgres, id: i64) -> BoxFuture<'_, Result<u64>> {
        plan_box(pg, move |pg| {
            Box::pin(
                async move { execute(pg, &format!("INSERT INTO note VALUES ({id}, 'x')")).await },
            )
        })
    }

    fn plan_box<'a, T: Send + 'a>(
        pg: &'a AsyncPostgres,
        f: impl FnOnce(Pg<'a>) -> BoxFuture<'a, Result<T>>,
    ) -> BoxFuture<'a, Result<T>> {
        pg.run_plan(f(Pg(pg)))
    }

    #[tokio::test]
    async fn a_statement_that_fails_to_prepare_names_the_column() {
        let pg = connect("pga_prepare").await;
        let e = plan(&pg, |pg| {
            Box::pin(async move {
                pg.prepare("SELECT t.nope FROM note AS t", NOTE)
                    .await
                    .map(drop)
            })
        })
        .await
        .expect_err("no such column");
        assert!(
            matches!(&e, Error::NoSuchColumn { column, table: "note", .. } if column == "nope"),
            "{e:?}"
        );
        // The connection goes on.
        assert_eq!(state(&pg).await, (vec![], true));
    }

    #[tokio::test]
    async fn a_query_decodes_its_rows() {
        let pg = connect("pga_query").await;
        let rows = plan(&pg, |pg| {
            Box::pin(async move {
                let sql = "SELECT x, 'n' || x, x / 2.0::float8, x > 1, NULLIF(x, 2)::int4 \
                           FROM generate_series(1::int8, $1) AS x WHERE x <> ALL($2)";
                let mut stmt = pg.prepare(sql, NOTE).await?;
                let params = vec![
                    Param::Value(Value::Integer(4)),
                    Param::Array(vec![Value::Integer(3)]),
                ];
                let mut rows = Vec::new();
                let n = pg
                    .query(&mut stmt, params, |row| {
                        rows.push((
                            row.get::<i64>(0).map_err(|e| NOTE.column_error(0, e))?,
                            row.get::<String>(1).map_err(|e| NOTE.column_error(1, e))?,
                            row.get::<f64>(2).map_err(|e| NOTE.column_error(2, e))?,
                            row.get::<bool>(3).map_err(|e| NOTE.column_error(3, e))?,
                            row.get::<Option<i32>>(4)
                                .map_err(|e| NOTE.column_error(4, e))?,
                        ));
                        Ok(())
                    })
                    .await?;
                assert_eq!(n, rows.len());
                Ok(rows)
            })
        })
        .await
        .expect("query");
        assert_eq!(
            rows,
            [
                (1, "n1".to_owned(), 0.5, false, Some(1)),
                (2, "n2".to_owned(), 1.0, true, None),
                (4, "n4".to_owned(), 2.0, true, Some(4)),
            ]
        );
    }

    #[tokio::test]
    async fn a_statement_prepared_before_its_table_changed_is_prepared_again() {
        let pg = connect("pga_stale").await;
        insert(&pg, 1).await.expect("insert");
        let all = |pg| ints(pg, "SELECT * FROM note");
        assert_eq!(
            plan(&pg, |pg| Box::pin(all(pg))).await.expect("before"),
            [1]
        );
        pg.client()
            .batch_execute("ALTER TABLE note DROP COLUMN body")
            .await
            .expect("alter");
        assert_eq!(plan(&pg, |pg| Box::pin(all(pg))).await.expect("after"), [1]);
    }

    #[tokio::test]
    async fn plans_awaited_together_pipeline() {
        let pg = connect("pga_pipeline").await;
        // Each plan's statements, and when the plan began and ended.
        let sleep = |pg| {
            Box::pin(async move {
                let began = Instant::now();
                let rows = ints(pg, "SELECT 1 FROM pg_sleep(0.2)").await?;
                Ok((rows, began, Instant::now()))
            }) as BoxFuture<'_, Result<(Vec<i64>, Instant, Instant)>>
        };
        // Prepared once, so that only the sleeps count.
        plan(&pg, sleep).await.expect("warm");
        let started = Instant::now();
        let (a, b) = tokio::join!(plan(&pg, sleep), plan(&pg, sleep));
        let elapsed = started.elapsed();
        let ((a, _, a_ended), (b, b_began, _)) = (a.expect("a"), b.expect("b"));
        assert_eq!((a, b), (vec![1], vec![1]));
        // The second plan did not wait for the first: its statement went out
        // behind the first one's, on the same connection.
        assert!(b_began < a_ended);
        // One connection is one server process, which runs them in turn:
        // 0.4 s and no round trip in between.
        assert!(elapsed < Duration::from_millis(600), "{elapsed:?}");
    }

    #[tokio::test]
    async fn a_block_commits() {
        let pg = connect("pga_commit").await;
        let out = pg
            .atomic(async |tx| {
                insert(tx, 1).await?;
                insert(tx, 2).await?;
                Ok("done")
            })
            .await;
        assert_eq!(out.expect("committed"), "done");
        assert_eq!(state(&pg).await, (vec![1, 2], true));
    }

    #[tokio::test]
    async fn a_block_that_fails_rolls_back() {
        let pg = connect("pga_rollback").await;
        let out: Result<()> = pg
            .atomic(async |tx| {
                insert(tx, 1).await?;
                insert(tx, 1).await?;
                Ok(())
            })
            .await;
        assert!(matches!(out, Err(Error::UniqueViolation { .. })), "{out:?}");
        assert_eq!(state(&pg).await, (vec![], true));
    }

    #[tokio::test]
    async fn a_block_dropped_midway_rolls_back() {
        let pg = connect("pga_dropped").await;
        let out = tokio::time::timeout(
            Duration::from_millis(100),
            pg.atomic(async |tx| {
                insert(tx, 1).await?;
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            }),
        )
        .await;
        assert!(out.is_err(), "timed out");
        // The next plan undoes the block first.
        assert_eq!(state(&pg).await, (vec![], true));
        insert(&pg, 2).await.expect("insert");
        assert_eq!(state(&pg).await, (vec![2], true));
    }

    #[tokio::test]
    async fn a_block_dropped_while_its_statement_runs_rolls_back() {
        let pg = connect("pga_dropped_inflight").await;
        let out = tokio::time::timeout(
            Duration::from_millis(100),
            pg.atomic(async |tx| {
                insert(tx, 1).await?;
                plan(tx, |pg| Box::pin(ints(pg, "SELECT 1 FROM pg_sleep(0.5)"))).await?;
                insert(tx, 2).await?;
                Ok(())
            }),
        )
        .await;
        assert!(out.is_err(), "timed out");
        assert_eq!(state(&pg).await, (vec![], true));
        // Another block begins afresh.
        pg.atomic(async |tx| insert(tx, 3).await)
            .await
            .expect("block");
        assert_eq!(state(&pg).await, (vec![3], true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_block_releases_its_locks_at_once() {
        let pg = connect("pga_locks").await;
        insert(&pg, 1).await.expect("insert");
        let out = tokio::time::timeout(
            Duration::from_millis(100),
            pg.atomic(async |tx| {
                plan(tx, |pg| {
                    Box::pin(execute(pg, "UPDATE note SET body = 'held' WHERE id = 1"))
                })
                .await?;
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            }),
        )
        .await;
        assert!(out.is_err(), "timed out");
        // Nothing more runs on `pg`: the row is free all the same.
        let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
        let other = AsyncPostgres::connect(&url).await.expect("connect");
        let started = Instant::now();
        other
            .client()
            .batch_execute(
                "SET search_path TO pga_locks; SET lock_timeout = '2s';
                 UPDATE note SET body = 'free' WHERE id = 1",
            )
            .await
            .expect("the row is not locked");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(state(&pg).await, (vec![1], true));
    }

    #[tokio::test]
    async fn a_block_whose_statement_failed_is_not_committed() {
        let pg = connect("pga_aborted").await;
        let out = pg
            .atomic(async |tx| {
                insert(tx, 1).await?;
                // Its error ignored: the server has aborted the transaction.
                let _ = plan(tx, |pg| Box::pin(ints(pg, "SELECT 1/0"))).await;
                Ok(())
            })
            .await;
        assert!(
            matches!(out, Err(Error::TransactionAborted { .. })),
            "{out:?}"
        );
        assert_eq!(state(&pg).await, (vec![], true));
    }

    #[tokio::test]
    async fn nested_blocks_are_savepoints() {
        let pg = connect("pga_nested").await;
        pg.atomic(async |tx| {
            insert(tx, 1).await?;
            let inner: Result<()> = tx
                .atomic(async |tx| {
                    insert(tx, 2).await?;
                    insert(tx, 1).await?;
                    Ok(())
                })
                .await;
            assert!(inner.is_err());
            // A failed statement inside a savepoint does not abort the outer block.
            tx.atomic(async |tx| {
                tx.atomic(async |tx| insert(tx, 3).await).await?;
                insert(tx, 4).await
            })
            .await?;
            // Nor does an inner block dropped midway, once undone.
            let dropped = tokio::time::timeout(
                Duration::from_millis(50),
                tx.atomic(async |tx| {
                    insert(tx, 5).await?;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(())
                }),
            )
            .await;
            assert!(dropped.is_err());
            insert(tx, 6).await
        })
        .await
        .expect("outer");
        assert_eq!(state(&pg).await, (vec![1, 3, 4, 6], true));
    }

    #[tokio::test]
    async fn an_inner_failure_ignored_aborts_the_outer_block() {
        let pg = connect("pga_nested_aborted").await;
        let out = pg
            .atomic(async |tx| {
                insert(tx, 1).await?;
                tx.atomic(async |tx| {
                    let _ = insert(tx, 1).await;
                    Ok(())
                })
                .await
            })
            .await;
        assert!(
            matches!(out, Err(Error::TransactionAborted { .. })),
            "{out:?}"
        );
        assert_eq!(state(&pg).await, (vec![], true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_tasks_wait_for_a_block() {
        let pg = Arc::new(connect("pga_tasks").await);
        let (began_tx, began) = tokio::sync::oneshot::channel();
        let block = tokio::spawn({
            let pg = Arc::clone(&pg);
            async move {
                pg.atomic(async |tx| {
                    insert(tx, 1).await?;
                    let _ = began_tx.send(());
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    // Fails, rolling back only the block's own row.
                    insert(tx, 1).await?;
                    Ok(())
                })
                .await
            }
        });
        began.await.expect("began");
        let other = tokio::spawn({
            let pg = Arc::clone(&pg);
            async move { insert(&pg, 2).await }
        });
        assert!(block.await.expect("block task").is_err());
        assert_eq!(other.await.expect("other task").expect("insert"), 1);
        assert_eq!(state(&pg).await, (vec![2], true));
    }

    #[tokio::test]
    async fn a_write_scope_commits_or_rolls_back() {
        let pg = connect("pga_scope").await;
        let write = ScopeKind::Write {
            statements: 2,
            rows: 2,
        };
        plan(&pg, |pg| {
            Box::pin(async move {
                let scope = pg.open(write, NOTE).await?.expect("a scope");
                execute(pg, "INSERT INTO note VALUES (1, 'a')").await?;
                execute(pg, "INSERT INTO note VALUES (2, 'b')").await?;
                pg.close(scope).await?;
                // A plan's scope that fails is dropped unclosed.
                let _scope = pg.open(write, NOTE).await?.expect("a scope");
                execute(pg, "INSERT INTO note VALUES (3, 'c')").await?;
                execute(pg, "INSERT INTO note VALUES (1, 'a')").await?;
                Ok(())
            })
        })
        .await
        .expect_err("duplicate");
        // Undone before the plan returned.
        let idle = pg
            .client()
            .query_one("SELECT count(*) FROM note", &[])
            .await;
        assert_eq!(idle.expect("count").get::<_, i64>(0), 2);
        assert_eq!(state(&pg).await, (vec![1, 2], true));
        // One statement, or one row: no scope.
        let one = ScopeKind::Write {
            statements: 1,
            rows: 5,
        };
        let none = plan(&pg, |pg| {
            Box::pin(async move { Ok(pg.open(one, NOTE).await?.is_none()) })
        });
        assert!(none.await.expect("open"));
    }

    #[tokio::test]
    async fn a_write_scope_inside_a_block_is_a_savepoint() {
        let pg = connect("pga_scope_block").await;
        let write = ScopeKind::Write {
            statements: 1,
            rows: 2,
        };
        pg.atomic(async |tx| {
            insert(tx, 1).await?;
            let failed = plan(tx, |pg| {
                Box::pin(async move {
                    let _scope = pg.open(write, NOTE).await?.expect("a savepoint");
                    execute(pg, "INSERT INTO note VALUES (2, 'b'), (1, 'a')").await
                })
            })
            .await;
            assert!(failed.is_err());
            insert(tx, 3).await
        })
        .await
        .expect("block");
        assert_eq!(state(&pg).await, (vec![1, 3], true));
    }

    #[tokio::test]
    async fn copy_in_writes_every_row() {
        let pg = connect("pga_copy").await;
        let ctx = Ctx::of::<Note>();
        let bodies: Vec<String> = (0..5000).map(|i| format!("note {i}")).collect();
        let mut values = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            values.push(Value::Integer(i as i64));
            values.push(Value::Text(body));
        }
        let copy = "COPY \"note\" (\"id\", \"body\") FROM STDIN (FORMAT binary)";
        let columns = "SELECT \"id\", \"body\" FROM \"note\"";
        let n = plan(&pg, |pg| {
            Box::pin(async move { pg.copy_in(copy, columns, &values, ctx).await })
        })
        .await
        .expect("copy");
        assert_eq!(n, 5000);
        let (ids, _) = state(&pg).await;
        assert_eq!(ids.len(), 5000);
        // A value that does not fit its column names it, and writes nothing.
        let bad = [Value::Integer(9000), Value::Real(1.5)];
        let e = plan(&pg, |pg| {
            Box::pin(async move { pg.copy_in(copy, columns, &bad, ctx).await })
        })
        .await
        .expect_err("a REAL into text");
        assert!(
            matches!(e, Error::Unwritable { column: "body", .. }),
            "{e:?}"
        );
        assert_eq!(state(&pg).await.0.len(), 5000);
    }

    #[tokio::test]
    async fn batch_forgets_the_prepared_statements() {
        let pg = connect("pga_batch").await;
        plan(&pg, |pg| Box::pin(ints(pg, "SELECT id FROM note")))
            .await
            .expect("select");
        assert_eq!(pg.cache().len(), 1);
        plan(&pg, |pg| {
            Box::pin(async move {
                pg.batch("CREATE TABLE other (id int8);\nDROP TABLE other", NOTE)
                    .await
            })
        })
        .await
        .expect("batch");
        assert_eq!(pg.cache().len(), 0);
    }

    #[test]
    fn the_connection_and_its_futures_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<AsyncPostgres>();
        fn send<T: Send>(_: &T) {}
        let pg: Option<&AsyncPostgres> = None;
        if let Some(pg) = pg {
            send(&pg.atomic(async |tx| insert(tx, 1).await));
            send(&insert(pg, 1));
        }
    }
}
