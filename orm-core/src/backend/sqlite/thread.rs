//! SQLite for async code: rusqlite on a thread of its own per connection.
//!
//! A SQLite statement runs on the thread that steps it until it is done, so
//! an async connection keeps its rusqlite connection on a dedicated thread
//! (tokio-rusqlite's model): requests travel there as closures over one
//! channel, in order, and answers come back on a oneshot, so a runtime
//! worker only ever waits. The thread runs the sync driver's own code
//! (its statements and scopes, `backend/conn.rs`), so both kinds of
//! connection prepare, bind, scope and log alike; rows come back as owned
//! values and the plan decodes them on its own task.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

use super::block::SqliteBlock;
use super::{self as sqlite, Affinity};
use crate::atomic::AsyncAtomic;
use crate::backend::conn::Stmt as SyncStmt;
use crate::backend::{Caps, Ctx, Exec, Param, Registered, RegisteredAsync, Row, ScopeKind};
use crate::db::{Async, BoxFuture, Database, Out, Plan};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::log;
use crate::value::{Owned, Value, ValueError};

/// A request, run on the connection's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Identities of async connections: unlike an address, never reused, so
/// what the loader learns about one connection never reaches the next.
static IDENTITIES: AtomicUsize = AtomicUsize::new(1);

tokio::task_local! {
    /// The blocks of connections this task is running, innermost last: the
    /// connection's identity and the block's own gate. The task's statements
    /// there belong to the block and do not wait for the connection's gate,
    /// which the block holds, only for each other's turn inside the block:
    /// two nested blocks awaited together must not interleave their
    /// statements, or one's rollback undoes the other's rows.
    static INSIDE: Vec<(usize, Arc<Mutex<()>>)>;
}

/// An async SQLite connection (feature `tokio`): rusqlite on a thread of
/// its own, so that a statement never blocks a runtime worker.
///
/// Its [`Mode`](crate::Mode) is [`Async`]: every function of a model
/// returns a `Send` future on `&db`. Tasks may share one connection (`&db`
/// or an `Arc<AsyncSqlite>`): each call runs whole, so a call of several
/// statements (a prefetch, a multi-row insert) never sees another task's
/// statements among its own, and an [`atomic`](AsyncAtomic::atomic) block
/// holds the connection until it ends. Inside a block, use the connection
/// from the block's own task: another task's call waits for the block to
/// end (so a block that awaits a task it spawned on the connection never
/// ends). Calls and nested blocks the block's task awaits together take
/// turns inside the block as they do on the connection, so two nested
/// blocks never share a savepoint. Dropping the last handle closes the
/// connection.
///
/// ```
/// use orm_core::{AsyncAtomic, AsyncSqlite, Model};
/// #[derive(Model, Debug, PartialEq)] struct Note { id: i64, body: String }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let db = AsyncSqlite::open_in_memory().await?;
/// Note::create_table(&db).await?;
/// db.atomic(async |tx| {
///     Note { id: 1, body: "kept".into() }.insert(tx).await?;
///     Ok(())
/// })
/// .await?;
/// assert_eq!(Note::all(&db).await?, [Note { id: 1, body: "kept".into() }]);
/// # Ok::<(), orm_core::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncSqlite {
    jobs: mpsc::Sender<Job>,
    /// `SQLITE_LIMIT_VARIABLE_NUMBER`, as the thread last read it: at open
    /// and after every [`call`](AsyncSqlite::call), the only place it can
    /// change.
    limit: Arc<AtomicUsize>,
    /// Held by each call for its whole run, so that a scope it opens holds
    /// only its own statements.
    gate: Arc<Mutex<()>>,
    identity: usize,
    path: PathBuf,
}

impl fmt::Debug for AsyncSqlite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSqlite")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn closed() -> Error {
    Error::Closed(
        "the SQLite connection's thread has ended (a panic in `AsyncSqlite::call`?)".into(),
    )
}

impl AsyncSqlite {
    /// Opens (or creates) the database file at `path`, as
    /// `rusqlite::Connection::open` does.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = path.clone();
        Self::start(path, move || Connection::open(file)).await
    }

    /// Opens a new database in memory, private to this connection.
    pub async fn open_in_memory() -> Result<Self> {
        Self::start(":memory:".into(), Connection::open_in_memory).await
    }

    async fn start(
        path: PathBuf,
        open: impl FnOnce() -> rusqlite::Result<Connection> + Send + 'static,
    ) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, opened) = oneshot::channel();
        let limit = Arc::new(AtomicUsize::new(1));
        let shared = Arc::clone(&limit);
        std::thread::Builder::new()
            .name("orm-sqlite".into())
            .spawn(move || {
                let conn = open()
                    .map_err(Error::from)
                    .and_then(|conn| refresh(&conn, &shared).map(|()| conn));
                let mut conn = match conn {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                // Ends when the last handle is dropped; a panicking job
                // ends it too, and every later request is `Error::Closed`.
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|e| Error::Closed(format!("cannot start the SQLite thread: {e}")))?;
        opened.await.map_err(|_| closed())??;
        Ok(AsyncSqlite {
            jobs,
            limit,
            gate: Arc::default(),
            identity: IDENTITIES.fetch_add(1, Ordering::Relaxed),
            path,
        })
    }

    /// Runs `f` on the connection's thread, for what the crate does not
    /// do itself: PRAGMAs, migrations, hand-written SQL. Like a call of a
    /// model's function, it waits for other tasks' calls on this connection
    /// to end (not inside this connection's
    /// [`atomic`](AsyncAtomic::atomic) block, where it belongs to the block).
    ///
    /// A panic in `f` ends the thread: this call and every later one on the
    /// connection return [`Error::Closed`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let db = orm_core::AsyncSqlite::open_in_memory().await?;
    /// db.call(|conn| Ok(conn.pragma_update(None, "foreign_keys", true)?)).await?;
    /// let on: bool = db
    ///     .call(|conn| Ok(conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?))
    ///     .await?;
    /// assert!(on);
    /// # Ok::<(), orm_core::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _gate = self.gate().await;
        let limit = Arc::clone(&self.limit);
        self.ask(move |conn| {
            let out = f(conn);
            // `f` may have changed it (`Connection::set_limit`).
            let _ = refresh(conn, &limit);
            out
        })
        .await?
    }

    /// The connection for this task's call: the gate, or inside this
    /// connection's `atomic` block (which holds the gate) the block's own.
    async fn gate(&self) -> OwnedMutexGuard<()> {
        let gate = INSIDE
            .try_with(|inside| {
                inside
                    .iter()
                    .rev()
                    .find(|(identity, _)| *identity == self.identity)
                    .map(|(_, gate)| Arc::clone(gate))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| Arc::clone(&self.gate));
        gate.lock_owned().await
    }

    fn send(&self, job: impl FnOnce(&mut Connection) + Send + 'static) -> Result<()> {
        self.jobs.send(Box::new(job)).map_err(|_| closed())
    }

    /// Runs `f` on the thread and waits for its answer.
    async fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        self.send(move |conn| {
            let _ = answer.send(f(conn));
        })?;
        answered.await.map_err(|_| closed())
    }

    /// [`ask`](AsyncSqlite::ask) for the sync driver's code, whose log
    /// events then reach the caller's subscriber, in the caller's span.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let trace = Trace::here();
        self.ask(move |conn| trace.within(|| f(conn))).await?
    }

    /// Runs `begin` on the thread: what it opens comes back to be ended, or
    /// is rolled back if nobody waits for it any more.
    async fn open_with<E: Undo>(
        &self,
        begin: impl FnOnce(&Connection) -> Result<Option<E>> + Send + 'static,
    ) -> Result<Open<E>> {
        let jobs = self.jobs.clone();
        let trace = Trace::here();
        let (answer, answered) = oneshot::channel();
        self.send(move |conn| {
            let opened = trace.within(|| begin(conn)).map(|end| Open { jobs, end });
            // The future that asked was dropped: undone now, before any
            // request sent after the drop.
            if let Err(Ok(mut open)) = answer.send(opened) {
                if let Some(end) = open.end.take() {
                    end.undo(conn);
                }
            }
        })?;
        answered.await.map_err(|_| closed())?
    }
}

/// `SQLITE_LIMIT_VARIABLE_NUMBER` as it is now.
fn refresh(conn: &Connection, limit: &AtomicUsize) -> Result<()> {
    limit.store(sqlite::variable_limit(conn)?, Ordering::Relaxed);
    Ok(())
}

/// The caller's tracing context, when a subscriber listens, for the log
/// events of the statements it asks the thread to run.
struct Trace(Option<(tracing::Dispatch, tracing::Span)>);

impl Trace {
    fn here() -> Self {
        Trace(log::start().map(|_| {
            (
                tracing::dispatcher::get_default(tracing::Dispatch::clone),
                tracing::Span::current(),
            )
        }))
    }

    fn within<T>(self, f: impl FnOnce() -> T) -> T {
        match self.0 {
            Some((dispatch, span)) => {
                tracing::dispatcher::with_default(&dispatch, || span.in_scope(f))
            }
            None => f(),
        }
    }
}

/// What undoes something open on the connection's thread.
pub(crate) trait Undo: Send + 'static {
    fn undo(self, conn: &Connection);
}

/// Something open on the connection's thread (a plan's scope, an `atomic`
/// block). Dropped before it ends (an error, a panic, a dropped future),
/// it sends its rollback, which the thread runs before any request sent
/// later: the connection is never left inside a transaction.
pub(crate) struct Open<E: Undo> {
    jobs: mpsc::Sender<Job>,
    end: Option<E>,
}

impl<E: Undo> Drop for Open<E> {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            let trace = Trace::here();
            // A closed connection has nothing left to roll back.
            let _ = self
                .jobs
                .send(Box::new(move |conn| trace.within(|| end.undo(conn))));
        }
    }
}

/// A plan's scope (the sync driver's) as the thread ends it.
pub(crate) struct ScopeEnd {
    ctx: Ctx,
    commit: &'static str,
    rollback: &'static str,
}

impl ScopeEnd {
    /// The sync driver's scope, to end on the thread.
    fn on(self, conn: &Connection) -> crate::backend::conn::Scope<'_, sqlite::Driver> {
        crate::backend::conn::Scope {
            conn,
            ctx: self.ctx,
            commit: self.commit,
            rollback: self.rollback,
            done: false,
        }
    }
}

impl Undo for ScopeEnd {
    fn undo(self, conn: &Connection) {
        // Dropped unclosed, the sync scope rolls back (quietly, logged).
        drop(self.on(conn));
    }
}

impl Undo for SqliteBlock {
    fn undo(self, conn: &Connection) {
        self.rollback(conn);
    }
}

/// An open scope of an [`AsyncSqlite`].
pub(crate) type Scope = Open<ScopeEnd>;

/// A prepared statement of an [`AsyncSqlite`]: its text, prepared again
/// (from the connection's cache) each time it runs.
pub(crate) struct Stmt {
    sql: Arc<str>,
    ctx: Ctx,
}

/// One value of a row read on the thread: rusqlite's, owned. Text and
/// bytes are a range of the rows' one buffer ([`Rows::bytes`]: no
/// allocation per value); text stays bytes, checked as UTF-8 when read, as
/// a borrowed row's is.
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(usize, usize),
    Blob(usize, usize),
}

impl Cell {
    fn new(value: ValueRef<'_>, bytes: &mut Vec<u8>) -> Self {
        let mut keep = |b: &[u8]| {
            let start = bytes.len();
            bytes.extend_from_slice(b);
            (start, bytes.len())
        };
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Integer(i),
            ValueRef::Real(r) => Cell::Real(r),
            ValueRef::Text(t) => {
                let (start, end) = keep(t);
                Cell::Text(start, end)
            }
            ValueRef::Blob(b) => {
                let (start, end) = keep(b);
                Cell::Blob(start, end)
            }
        }
    }

    fn as_ref<'a>(&self, bytes: &'a [u8]) -> ValueRef<'a> {
        match *self {
            Cell::Null => ValueRef::Null,
            Cell::Integer(i) => ValueRef::Integer(i),
            Cell::Real(r) => ValueRef::Real(r),
            Cell::Text(start, end) => ValueRef::Text(bytes.get(start..end).unwrap_or_default()),
            Cell::Blob(start, end) => ValueRef::Blob(bytes.get(start..end).unwrap_or_default()),
        }
    }
}

/// Every row a statement returned, read on the thread: one flat list of
/// values, row after row, the bytes of their texts and blobs end to end,
/// and each column's affinity.
#[derive(Default)]
struct Rows {
    cells: Vec<Cell>,
    bytes: Vec<u8>,
    width: usize,
    count: usize,
    affinities: Vec<Affinity>,
}

impl Rows {
    fn push(&mut self, row: &Row<'_>) -> Result<()> {
        let Some(&row) = sqlite::Driver::unrow(row) else {
            return Err(Error::Internal(
                "a SQLite statement returned another kind of row",
            ));
        };
        if self.count == 0 {
            let statement: &rusqlite::Statement<'_> = row.as_ref();
            self.width = statement.column_count();
            self.affinities = (0..self.width).map(|i| sqlite::affinity(row, i)).collect();
        }
        for i in 0..self.width {
            self.cells.push(Cell::new(row.get_ref(i)?, &mut self.bytes));
        }
        self.count += 1;
        Ok(())
    }

    /// Calls `on_row` for each row; the row count.
    fn each(&self, mut on_row: impl FnMut(&Row<'_>) -> Result<()>) -> Result<usize> {
        for i in 0..self.count {
            let cells = self
                .cells
                .get(i * self.width..(i + 1) * self.width)
                .unwrap_or_default();
            on_row(&Driver::row(OwnedRow {
                cells,
                bytes: &self.bytes,
                affinities: &self.affinities,
            }))?;
        }
        Ok(self.count)
    }
}

/// A row read on an async connection's thread: what [`Row`] reads.
#[derive(Clone, Copy)]
pub(crate) struct OwnedRow<'a> {
    cells: &'a [Cell],
    bytes: &'a [u8],
    affinities: &'a [Affinity],
}

impl crate::backend::DriverRow for OwnedRow<'_> {
    #[inline]
    fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        OwnedRow::value(self, index)
    }

    fn affinity(&self, index: usize) -> Affinity {
        OwnedRow::affinity(self, index)
    }
}

impl<'a> OwnedRow<'a> {
    #[inline]
    pub(crate) fn value(&self, index: usize) -> Result<Value<'a>, ValueError> {
        let cell = self.cells.get(index).ok_or_else(|| {
            ValueError::Other(Box::new(rusqlite::Error::InvalidColumnIndex(index)))
        })?;
        sqlite::from_value_ref(cell.as_ref(self.bytes))
    }

    pub(crate) fn affinity(&self, index: usize) -> Affinity {
        self.affinities
            .get(index)
            .copied()
            .unwrap_or(Affinity::Blob)
    }
}

/// A [`Param`] owned, to cross to the thread.
enum OwnedParam {
    Value(Owned),
    Json(String),
    #[cfg(feature = "postgres")]
    Array(Vec<Owned>),
}

impl OwnedParam {
    fn new(param: Param<'_>) -> Self {
        match param {
            Param::Value(v) => OwnedParam::Value(Owned::from_value(v)),
            Param::Json(json) => OwnedParam::Json(json),
            #[cfg(feature = "postgres")]
            Param::Array(values) => {
                OwnedParam::Array(values.into_iter().map(Owned::from_value).collect())
            }
        }
    }

    fn copy(param: &Param<'_>) -> Self {
        match param {
            Param::Value(v) => OwnedParam::Value(Owned::from_value(*v)),
            Param::Json(json) => OwnedParam::Json(json.clone()),
            #[cfg(feature = "postgres")]
            Param::Array(values) => {
                OwnedParam::Array(values.iter().map(|&v| Owned::from_value(v)).collect())
            }
        }
    }
}

/// The parameters as the sync driver binds them (the JSON lists moved out).
fn bound(params: &mut [OwnedParam]) -> Vec<Param<'_>> {
    params
        .iter_mut()
        .map(|param| match param {
            OwnedParam::Value(v) => Param::Value(v.as_value()),
            OwnedParam::Json(json) => Param::Json(std::mem::take(json)),
            #[cfg(feature = "postgres")]
            OwnedParam::Array(values) => Param::Array(values.iter().map(Owned::as_value).collect()),
        })
        .collect()
}

/// The async SQLite driver: a borrowed [`AsyncSqlite`], whose thread runs
/// the sync driver's statements.
pub(crate) struct Driver;

impl crate::backend::Driver for Driver {
    type Row<'r> = OwnedRow<'r>;
}

impl crate::backend::AsyncDriver for Driver {
    type Conn<'c> = Lite<'c>;
}

/// A borrowed [`AsyncSqlite`], as the driver seam sees it.
#[derive(Clone, Copy)]
pub(crate) struct Lite<'c>(pub(crate) &'c AsyncSqlite);

impl Exec for Lite<'_> {
    type Stmt = Stmt;
    type Scope = Scope;

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn caps(&self) -> Result<Caps> {
        Ok(Caps::Variables(self.0.limit.load(Ordering::Relaxed)))
    }

    fn identity(&self) -> usize {
        self.0.identity
    }

    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<Stmt> {
        let sql: Arc<str> = sql.into();
        let text = Arc::clone(&sql);
        self.0
            .run(move |conn| SyncStmt::<sqlite::Driver>::prepare(conn, &text, ctx).map(drop))
            .await?;
        Ok(Stmt { sql, ctx })
    }

    async fn query<F>(&self, stmt: &mut Stmt, params: Vec<Param<'_>>, on_row: F) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let mut params: Vec<OwnedParam> = params.into_iter().map(OwnedParam::new).collect();
        let (sql, ctx) = (Arc::clone(&stmt.sql), stmt.ctx);
        let rows = self
            .0
            .run(move |conn| {
                let mut rows = Rows::default();
                SyncStmt::<sqlite::Driver>::prepare(conn, &sql, ctx)?
                    .query(bound(&mut params), |row| rows.push(row))?;
                Ok(rows)
            })
            .await?;
        rows.each(on_row)
    }

    async fn execute(&self, stmt: &mut Stmt, params: &[Param<'_>]) -> Result<u64> {
        let mut params: Vec<OwnedParam> = params.iter().map(OwnedParam::copy).collect();
        let (sql, ctx) = (Arc::clone(&stmt.sql), stmt.ctx);
        self.0
            .run(move |conn| {
                SyncStmt::<sqlite::Driver>::prepare(conn, &sql, ctx)?.execute(&bound(&mut params))
            })
            .await
    }

    async fn execute_values(&self, stmt: &mut Stmt, values: &[Value<'_>]) -> Result<(u64, i64)> {
        let values: Vec<Owned> = values.iter().map(|&v| Owned::from_value(v)).collect();
        let (sql, ctx) = (Arc::clone(&stmt.sql), stmt.ctx);
        self.0
            .run(move |conn| {
                let values: Vec<Value<'_>> = values.iter().map(Owned::as_value).collect();
                let changed = SyncStmt::<sqlite::Driver>::prepare(conn, &sql, ctx)?
                    .execute_values(&values)?;
                Ok((changed, conn.last_insert_rowid()))
            })
            .await
    }

    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        let sql = sql.to_owned();
        self.0
            .run(move |conn| crate::backend::conn::batch::<sqlite::Driver>(conn, &sql, ctx))
            .await
    }

    #[cfg(feature = "postgres")]
    async fn copy_in(&self, copy: &str, _: &str, _: &[Value<'_>], ctx: Ctx) -> Result<u64> {
        // SQLite has no bulk copy: the sync driver's error, logged.
        let copy = copy.to_owned();
        self.0
            .run(move |conn| {
                crate::backend::conn::copy_in::<sqlite::Driver>(conn, &copy, "", &[], ctx)
            })
            .await
    }

    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<Scope>> {
        if !kind.several() {
            // The sync driver opens nothing for one statement on SQLite: no
            // trip to the thread to learn it.
            return Ok(None);
        }
        let open = self
            .0
            .open_with(move |conn| {
                Ok(
                    crate::backend::conn::Scope::<sqlite::Driver>::open(conn, kind, ctx)?.map(
                        |mut scope| {
                            // Ended by the `Scope` sent back, not here.
                            scope.done = true;
                            ScopeEnd {
                                ctx,
                                commit: scope.commit,
                                rollback: scope.rollback,
                            }
                        },
                    ),
                )
            })
            .await?;
        Ok(open.end.is_some().then_some(open))
    }

    async fn close(&self, mut scope: Scope) -> Result<()> {
        let Some(end) = scope.end.take() else {
            return Ok(());
        };
        // Once sent, the commit runs even if this future is dropped; a
        // failed commit rolls back (the sync scope's drop).
        self.0.run(move |conn| end.on(conn).close()).await
    }
}

impl crate::sealed::Sealed for AsyncSqlite {}
impl Database for AsyncSqlite {
    type Mode = Async;

    fn __run<'a, P: Plan + 'a>(&'a self, plan: P) -> Out<'a, Self, P::Output> {
        // The plan's future does nothing before its first poll, which
        // waits for the gate; made here, it need not hold a `P` (not `Send`).
        let run = plan.__async(Driver::conn(Lite(self)));
        Box::pin(async move {
            let _gate = self.gate().await;
            run.await
        })
    }
}

impl AsyncAtomic for AsyncSqlite {
    fn atomic_with<'a, T, F, Fut>(&'a self, begin: crate::Begin, f: F) -> BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a,
    {
        Box::pin(async move {
            let mut inside = INSIDE.try_with(Vec::clone).unwrap_or_default();
            let _gate = self.gate().await;
            // `BEGIN`, or a savepoint inside a transaction (this task's
            // enclosing block, or one of the user's), as the sync `atomic`.
            // Declared after the gate: dropped first, its rollback is sent
            // before another task gets the connection.
            let mut block = self
                .open_with(move |conn| SqliteBlock::begin(conn, begin).map(Some))
                .await?;
            // Recorded as the sync block's statements are.
            if let Some(end) = &block.end {
                for sql in end.begun() {
                    crate::guard::note_async(&sql);
                }
            }
            inside.push((self.identity, Arc::default()));
            let out = INSIDE.scope(inside, f(self)).await;
            let Some(end) = block.end.take() else {
                return Err(Error::Internal("an atomic block ended twice"));
            };
            match out {
                Ok(value) => {
                    for sql in end.committing() {
                        crate::guard::note_async(&sql);
                    }
                    self.ask(move |conn| {
                        let committed = end.commit(conn);
                        if committed.is_err() {
                            end.rollback(conn);
                        }
                        committed
                    })
                    .await??;
                    Ok(value)
                }
                Err(e) => {
                    for sql in end.rolling_back() {
                        crate::guard::note_async(&sql);
                    }
                    // The block's error is the one to report.
                    let _ = self.ask(move |conn| end.rollback(conn)).await;
                    Err(e)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Waker};
    use std::time::Duration;

    use super::*;

    const CTX: Ctx = Ctx {
        model: "Note",
        table: "note",
        columns: &[],
        indexes: &[],
    };
    const WRITES: ScopeKind = ScopeKind::Write {
        statements: 2,
        rows: 2,
    };
    const INSERT: &str = r#"INSERT INTO "note" ("body") VALUES (?1)"#;

    async fn notes() -> AsyncSqlite {
        let db = AsyncSqlite::open_in_memory().await.unwrap();
        db.call(|conn| {
            Ok(conn.execute_batch(
                r#"CREATE TABLE "note" ("id" INTEGER PRIMARY KEY, "body" TEXT, "n")"#,
            )?)
        })
        .await
        .unwrap();
        db
    }

    async fn in_transaction(db: &AsyncSqlite) -> bool {
        !db.call(|conn| Ok(conn.is_autocommit())).await.unwrap()
    }

    async fn count(db: &AsyncSqlite) -> i64 {
        db.call(|conn| Ok(conn.query_row(r#"SELECT count(*) FROM "note""#, [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    async fn insert(lite: Lite<'_>, body: &str) -> Result<u64> {
        let mut stmt = lite.prepare(INSERT, CTX).await?;
        lite.execute(&mut stmt, &[Param::Value(Value::Text(body))])
            .await
    }

    /// Polls `fut` once, then drops it.
    fn poll_once(fut: impl Future) {
        let mut fut = pin!(fut);
        let _ = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }

    #[tokio::test]
    async fn prepare_names_the_missing_column() {
        let db = notes().await;
        let prepared = Lite(&db)
            .prepare(r#"SELECT t."nope" FROM "note" AS t"#, CTX)
            .await;
        let Err(err) = prepared else {
            panic!("prepared")
        };
        assert!(
            matches!(&err, Error::NoSuchColumn { table: "note", column, .. } if column == "nope"),
            "{err:?}"
        );
        // The connection goes on.
        assert_eq!(count(&db).await, 0);
    }

    #[tokio::test]
    async fn query_returns_rows_that_decode() {
        let db = notes().await;
        let lite = Lite(&db);
        for body in ["a", "b", "c"] {
            insert(lite, body).await.unwrap();
        }
        let sql = r#"SELECT t."id", t."body", t."n" FROM "note" AS t
            WHERE t."id" IN (SELECT value FROM json_each(?1)) AND t."body" <> ?2 ORDER BY t."id""#;
        let mut stmt = lite.prepare(sql, CTX).await.unwrap();
        let mut seen = Vec::new();
        let params = vec![
            Param::Json("[1, 2, 3]".into()),
            Param::Value(Value::Text("b")),
        ];
        let n = lite
            .query(&mut stmt, params, |row| {
                let affinities = [row.affinity(0), row.affinity(1), row.affinity(2)];
                assert_eq!(
                    affinities,
                    [Affinity::Numeric, Affinity::Text, Affinity::Blob]
                );
                assert!(row.value(3).is_err());
                let col = |i| move |e| CTX.column_error(i, e);
                seen.push((
                    row.get::<i64>(0).map_err(col(0))?,
                    row.get::<String>(1).map_err(col(1))?,
                    row.get::<Option<i64>>(2).map_err(col(2))?,
                ));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen, [(1, "a".into(), None), (3, "c".into(), None)]);
        // An error of `on_row` is the query's.
        let params = vec![Param::Json("[1]".into()), Param::Value(Value::Text("b"))];
        let failed = lite
            .query(&mut stmt, params, |_| Err(Error::Internal("on_row")))
            .await;
        assert!(
            matches!(failed, Err(Error::Internal("on_row"))),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn execute_values_returns_the_last_rowid() {
        let db = notes().await;
        let lite = Lite(&db);
        let mut stmt = lite
            .prepare(r#"INSERT INTO "note" ("body") VALUES (?1), (?2)"#, CTX)
            .await
            .unwrap();
        let values = [Value::Text("a"), Value::Text("b")];
        assert_eq!(
            lite.execute_values(&mut stmt, &values).await.unwrap(),
            (2, 2)
        );
        assert_eq!(
            lite.execute_values(&mut stmt, &values).await.unwrap(),
            (2, 4)
        );
        let mut update = lite
            .prepare(r#"UPDATE "note" SET "n" = ?1"#, CTX)
            .await
            .unwrap();
        let changed = lite
            .execute(&mut update, &[Param::Value(Value::Integer(5))])
            .await;
        assert_eq!(changed.unwrap(), 4);
        lite.batch(r#"DELETE FROM "note"; DELETE FROM "note""#, CTX)
            .await
            .unwrap();
        assert_eq!(count(&db).await, 0);
    }

    #[tokio::test]
    async fn a_failed_statement_is_the_models_error() {
        let db = notes().await;
        let lite = Lite(&db);
        let mut stmt = lite
            .prepare(r#"INSERT INTO "note" ("id") VALUES (?1)"#, CTX)
            .await
            .unwrap();
        let one = [Param::Value(Value::Integer(1))];
        lite.execute(&mut stmt, &one).await.unwrap();
        let again = lite.execute(&mut stmt, &one).await;
        assert!(
            matches!(again, Err(Error::UniqueViolation { table: "note", .. })),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn scopes_commit_and_roll_back() {
        let db = notes().await;
        let lite = Lite(&db);
        let one = ScopeKind::Read { statements: 1 };
        assert!(lite.open(one, CTX).await.unwrap().is_none());

        let scope = lite.open(WRITES, CTX).await.unwrap().expect("a scope");
        assert!(in_transaction(&db).await);
        insert(lite, "kept").await.unwrap();
        lite.close(scope).await.unwrap();
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 1);

        let scope = lite.open(WRITES, CTX).await.unwrap();
        insert(lite, "undone").await.unwrap();
        drop(scope);
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 1);

        // Inside a transaction of the user's: no read scope, a savepoint
        // for writes, and the user's transaction stays open.
        db.call(|conn| Ok(conn.execute_batch("BEGIN")?))
            .await
            .unwrap();
        let reads = ScopeKind::Read { statements: 2 };
        assert!(lite.open(reads, CTX).await.unwrap().is_none());
        let scope = lite.open(WRITES, CTX).await.unwrap();
        insert(lite, "undone").await.unwrap();
        drop(scope);
        assert!(in_transaction(&db).await);
        assert_eq!(count(&db).await, 1);
        db.call(|conn| Ok(conn.execute_batch("ROLLBACK")?))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_dropped_future_rolls_its_scope_back() {
        let db = notes().await;
        let lite = Lite(&db);
        let plan = async {
            let scope = lite.open(WRITES, CTX).await?;
            insert(lite, "never").await?;
            std::future::pending::<()>().await;
            lite.close(scope.expect("a scope")).await
        };
        let timed_out = tokio::time::timeout(Duration::from_millis(50), plan).await;
        assert!(timed_out.is_err());
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 0);
        insert(lite, "usable").await.unwrap();
        assert_eq!(count(&db).await, 1);

        // Dropped before the thread answered, and after.
        for wait in [false, true] {
            for _ in 0..50 {
                poll_once(lite.open(WRITES, CTX));
                if wait {
                    std::thread::sleep(Duration::from_millis(1));
                }
                assert!(!in_transaction(&db).await);
            }
        }
    }

    #[tokio::test]
    async fn a_panicking_call_closes_the_connection() {
        let db = notes().await;
        let panicked = db.call(|_| -> Result<()> { panic!("a user's bug") }).await;
        assert!(matches!(panicked, Err(Error::Closed(_))), "{panicked:?}");
        let after = db.call(|_| Ok(())).await;
        assert!(matches!(after, Err(Error::Closed(_))), "{after:?}");
        let prepared = Lite(&db).prepare("SELECT 1", CTX).await.map(drop);
        assert!(matches!(prepared, Err(Error::Closed(_))), "{prepared:?}");
    }

    #[tokio::test]
    async fn open_creates_a_missing_file_and_caps_follow_call() {
        let dir = std::env::temp_dir().join(format!("orm-async-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("new.db");
        let _ = std::fs::remove_file(&path);
        let db = AsyncSqlite::open(path.to_str().unwrap()).await.unwrap();
        assert!(path.exists());
        assert!(format!("{db:?}").contains("new.db"));
        let lite = Lite(&db);
        assert_ne!(lite.identity(), Lite(&notes().await).identity());
        db.call(|conn| {
            conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 7)?;
            Ok(())
        })
        .await
        .unwrap();
        assert!(matches!(lite.caps(), Ok(Caps::Variables(7))));
        drop(db);
        AsyncSqlite::open(String::from(path.to_str().unwrap()))
            .await
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(AsyncSqlite::open(dir.join("no/such/dir.db")).await.is_err());
    }

    /// Two writes in one scope, with a pause between them in which other
    /// tasks run.
    struct TwoWrites(i64);

    impl TwoWrites {
        async fn run<E: Exec>(self, e: &E) -> Result<()> {
            let scope = e.open(WRITES, CTX).await?;
            let mut stmt = e
                .prepare(r#"INSERT INTO "note" ("n") VALUES (?1)"#, CTX)
                .await?;
            e.execute(&mut stmt, &[Param::Value(Value::Integer(self.0))])
                .await?;
            tokio::task::yield_now().await;
            e.execute(&mut stmt, &[Param::Value(Value::Integer(self.0))])
                .await?;
            if self.0 % 3 == 0 {
                return Err(Error::Internal("undone"));
            }
            if let Some(scope) = scope {
                e.close(scope).await?;
            }
            Ok(())
        }
    }

    impl Plan for TwoWrites {
        type Output = ();
        crate::db::plan_methods!();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_sharing_a_connection_never_see_each_others_scopes() {
        let db = Arc::new(notes().await);
        let tasks: Vec<_> = (1..=12)
            .map(|n| {
                let db = Arc::clone(&db);
                tokio::spawn(async move { db.__run(TwoWrites(n)).await })
            })
            .collect();
        for (n, task) in (1..).zip(tasks) {
            let done = task.await.unwrap();
            assert_eq!(done.is_ok(), n % 3 != 0, "{n}: {done:?}");
        }
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 16);
    }

    async fn insert_call(db: &AsyncSqlite, body: &'static str) -> Result<()> {
        db.call(move |conn| Ok(conn.execute(INSERT, [body]).map(drop)?))
            .await
    }

    #[tokio::test]
    async fn atomic_commits_and_rolls_back() {
        let db = notes().await;
        db.atomic(async |tx| insert_call(tx, "kept").await)
            .await
            .unwrap();
        assert_eq!(count(&db).await, 1);

        let failed: Result<()> = db
            .atomic(async |tx| {
                insert_call(tx, "undone").await?;
                Err(Error::Internal("the block's error"))
            })
            .await;
        assert!(matches!(failed, Err(Error::Internal("the block's error"))));
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 1);

        // Nested: a savepoint, whose failure undoes only itself.
        db.atomic(async |tx| {
            insert_call(tx, "outer").await?;
            let inner: Result<()> = tx
                .atomic(async |tx| {
                    insert_call(tx, "inner").await?;
                    Err(Error::Internal("inner"))
                })
                .await;
            assert!(inner.is_err());
            tx.atomic(async |tx| insert_call(tx, "inner kept").await)
                .await
        })
        .await
        .unwrap();
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 3);
    }

    #[tokio::test]
    async fn atomic_rolls_back_a_dropped_or_panicking_block() {
        let db = Arc::new(notes().await);
        let block = db.atomic(async |tx| {
            insert_call(tx, "never").await?;
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), block)
            .await
            .is_err());
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 0);

        let shared = Arc::clone(&db);
        let task = tokio::spawn(async move {
            shared
                .atomic(async |tx| -> Result<()> {
                    insert_call(tx, "never").await?;
                    panic!("a bug in the block")
                })
                .await
        });
        assert!(task.await.is_err());
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 0);
        insert_call(&db, "usable").await.unwrap();
        assert_eq!(count(&db).await, 1);
    }

    #[tokio::test]
    async fn a_transaction_sqlite_ended_is_an_error() {
        let db = notes().await;
        let ended: Result<()> = db
            .atomic(async |tx| {
                insert_call(tx, "undone").await?;
                // As SQLite does by itself after an I/O or disk-full error.
                tx.call(|conn| Ok(conn.execute_batch("ROLLBACK")?)).await
            })
            .await;
        assert!(
            matches!(
                ended,
                Err(Error::Query {
                    model: "atomic",
                    ..
                })
            ),
            "{ended:?}"
        );
        assert!(!in_transaction(&db).await);
        assert_eq!(count(&db).await, 0);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_closes_the_connection() {
        let dir = std::env::temp_dir().join(format!("orm-async-drop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("locked.db");
        let db = AsyncSqlite::open(&path).await.unwrap();
        // An exclusive lock, held until the connection closes.
        db.call(|conn| {
            let sql =
                "PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE t (x); INSERT INTO t VALUES (1)";
            Ok(conn.execute_batch(sql)?)
        })
        .await
        .unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let write = || other.execute("INSERT INTO t VALUES (2)", []);
        assert!(write().is_err());
        drop(db);
        let mut tries = 0;
        while write().is_err() {
            tries += 1;
            assert!(tries < 200, "the connection stayed open");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(other);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_connection_is_shared_between_threads() {
        fn shared<T: Send + Sync + fmt::Debug>() {}
        shared::<AsyncSqlite>();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_tasks_wait_for_an_atomic_block() {
        let db = Arc::new(notes().await);
        let (started, start) = oneshot::channel();
        let shared = Arc::clone(&db);
        let block = tokio::spawn(async move {
            shared
                .atomic(async |tx| {
                    insert_call(tx, "a").await?;
                    let _ = started.send(());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    insert_call(tx, "b").await
                })
                .await
        });
        start.await.unwrap();
        // Runs once the block has committed: outside any transaction, both rows there.
        let seen = db
            .call(|conn| {
                let n: i64 = conn.query_row(r#"SELECT count(*) FROM "note""#, [], |r| r.get(0))?;
                Ok((conn.is_autocommit(), n))
            })
            .await
            .unwrap();
        assert_eq!(seen, (true, 2));
        block.await.unwrap().unwrap();
    }
}
