//! Guards against N+1: counting statements, and a scope where lazy loads fail.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

use crate::backend::{Conn, Db};
use crate::error::{Error, Result};

/// A connection whose statements [`count_queries`], [`record_queries`] and
/// [`assert_queries`] can see: a `rusqlite::Connection`, a
/// [`Postgres`](crate::Postgres) connection, or a pooled connection of either
/// (feature `r2d2`). Sealed.
pub trait Recordable: Db {
    #[doc(hidden)]
    fn __start_recording(&mut self);
    #[doc(hidden)]
    fn __stop_recording(&mut self) -> Vec<String>;
}

/// Runs `f` and returns its result with the number of statements it ran on
/// `conn`: every statement, the crate's and your own raw SQL alike.
///
/// This is Django's `assertNumQueries` for your tests. On SQLite it installs
/// SQLite's trace hook (which needs `&mut Connection`) for the duration of `f`
/// and removes it afterwards, also when `f` panics, replacing any trace hook
/// you had installed. Scopes nest: each counts every statement run inside it,
/// including those an inner scope counts too. The `BEGIN` and `COMMIT` the
/// crate wraps around a load that takes several statements are not counted.
/// On PostgreSQL it counts the statements run through the
/// [`Postgres`](crate::Postgres) connection.
///
/// ```
/// use orm_core::{count_queries, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// let mut conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Category::create_table(&conn)?;
/// let (all, n) = count_queries(&mut conn, |conn| Category::all(conn));
/// assert_eq!((all?.len(), n), (0, 1));
/// # Ok::<(), orm_core::Error>(())
/// ```
pub fn count_queries<C, T>(conn: &mut C, f: impl FnOnce(&mut C) -> T) -> (T, usize)
where
    C: Recordable + ?Sized,
{
    let (out, sql) = record_queries(conn, f);
    (out, sql.len())
}

/// Runs `f` and returns its result with the SQL text of every statement it
/// ran on `conn`, in order. See [`count_queries`].
///
/// ```
/// use orm_core::{record_queries, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// let mut conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Category::create_table(&conn)?;
/// let (_, sql) = record_queries(&mut conn, |conn| Category::get(conn, 1));
/// assert_eq!(sql, [r#"SELECT t."id" FROM "category" AS t WHERE t."id" = ?1 ORDER BY t."id""#]);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub fn record_queries<C, T>(conn: &mut C, f: impl FnOnce(&mut C) -> T) -> (T, Vec<String>)
where
    C: Recordable + ?Sized,
{
    conn.__start_recording();
    // The scope ends however `f` ends: a panic must not leave the hook
    // recording into a buffer nobody will read.
    let out = panic::catch_unwind(AssertUnwindSafe(|| f(conn)));
    let seen = conn.__stop_recording();
    match out {
        Ok(out) => (out, seen),
        Err(panic) => panic::resume_unwind(panic),
    }
}

/// Runs `f` and panics, listing the SQL of every statement seen, unless it ran
/// exactly `expected` statements on `conn`. For tests.
///
/// ```should_panic
/// use orm_core::{assert_queries, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// let mut conn = orm_core::rusqlite::Connection::open_in_memory().unwrap();
/// Category::create_table(&conn).unwrap();
/// assert_queries(&mut conn, 0, |conn| Category::all(conn)); // panics: 1 statement
/// ```
#[track_caller]
pub fn assert_queries<C, T>(conn: &mut C, expected: usize, f: impl FnOnce(&mut C) -> T) -> T
where
    C: Recordable + ?Sized,
{
    let (out, seen) = record_queries(conn, f);
    expect_statements(expected, &seen);
    out
}

/// Panics, listing the SQL of every statement seen, unless there are
/// `expected` of them.
#[track_caller]
fn expect_statements(expected: usize, seen: &[String]) {
    if seen.len() != expected {
        let mut list = String::new();
        for (i, sql) in seen.iter().enumerate() {
            list.push_str(&format!("\n  {}. {sql}", i + 1));
        }
        panic!(
            "expected {expected} statement(s), {} ran:{list}",
            seen.len()
        );
    }
}

/// The statements seen by the open recording scopes of one connection.
#[derive(Default)]
pub(crate) struct Frames {
    /// One list per open scope, outermost first; each statement goes to all.
    stack: Vec<Vec<String>>,
    /// While positive, statements are the crate's own bookkeeping (`BEGIN`,
    /// `COMMIT` around a load): not counted.
    quiet: u32,
}

impl Frames {
    pub(crate) fn push(&mut self) {
        self.stack.push(Vec::new());
    }

    /// Closes the innermost scope; its statements, and whether it was the last.
    pub(crate) fn pop(&mut self) -> (Vec<String>, bool) {
        let seen = self.stack.pop().unwrap_or_default();
        (seen, self.stack.is_empty())
    }

    pub(crate) fn record(&mut self, sql: &str) {
        // Trigger bodies are reported as `-- ...` comments; they are not statements.
        if self.quiet > 0 || sql.starts_with("--") {
            return;
        }
        for frame in &mut self.stack {
            frame.push(sql.to_owned());
        }
    }

    pub(crate) fn set_quiet(&mut self, quiet: bool) {
        if quiet {
            self.quiet += 1;
        } else {
            self.quiet = self.quiet.saturating_sub(1);
        }
    }
}

type Shared = Arc<Mutex<Frames>>;

/// The recording state of every SQLite connection with an open scope, by
/// address: the trace hook writes into it, nested scopes and the loader's
/// quiet statements find it here.
static SQLITE: Mutex<Option<HashMap<usize, Shared>>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn sqlite_frames(identity: usize) -> Option<Shared> {
    lock(&SQLITE).as_ref()?.get(&identity).cloned()
}

impl Recordable for Connection {
    fn __start_recording(&mut self) {
        let identity = Db::__conn(self).identity();
        if let Some(frames) = sqlite_frames(identity) {
            lock(&frames).push();
            return;
        }
        let frames: Shared = Arc::default();
        lock(&frames).push();
        let sink = Arc::clone(&frames);
        let hook = move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                lock(&sink).record(sql);
            }
        };
        // Installing or removing the hook only fails for a bad mask, which these are not.
        let _ = self.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(hook));
        lock(&SQLITE)
            .get_or_insert_with(HashMap::new)
            .insert(identity, frames);
    }

    fn __stop_recording(&mut self) -> Vec<String> {
        let identity = Db::__conn(self).identity();
        let Some(frames) = sqlite_frames(identity) else {
            return Vec::new();
        };
        let (seen, last) = lock(&frames).pop();
        if last {
            let _ = self.trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>);
            if let Some(map) = lock(&SQLITE).as_mut() {
                map.remove(&identity);
            }
        }
        seen
    }
}

/// Runs the crate's own bookkeeping statement `f` on the connection with this
/// identity without counting it in open recording scopes.
pub(crate) fn quietly<T>(identity: usize, f: impl FnOnce() -> T) -> T {
    let Some(frames) = sqlite_frames(identity) else {
        return f();
    };
    lock(&frames).set_quiet(true);
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    lock(&frames).set_quiet(false);
    match out {
        Ok(out) => out,
        Err(panic) => panic::resume_unwind(panic),
    }
}

thread_local! {
    /// Identities of the connections inside a `strict` scope on this thread.
    /// A connection is `!Sync` and stays borrowed for the whole scope, so its
    /// address identifies it and it cannot be used from another thread meanwhile.
    static STRICT: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with lazy loading refused on `conn`: inside it, the single-row
/// relation accessors (`category.products(&conn)`, `product.category(&conn)`,
/// `post.tags(&conn)`) return [`Error::LazyLoad`] instead of querying, naming
/// the batch function to call. `prefetch_*` and `load_*` work as usual.
///
/// Like Django's `RAISE` fetch mode or Rails' `strict_loading`, it proves that a
/// page makes no per-row queries. Scopes nest; the mode is restored when `f`
/// returns or unwinds. A transaction of `conn` is covered too.
///
/// ```
/// use orm_core::{strict, ForeignKey, Model};
/// #[derive(Model)] struct Category { id: i64 }
/// #[derive(Model)] struct Product {
///     id: i64,
///     #[foreign_key(related_name = "products")] category: ForeignKey<Category>,
/// }
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Category::create_table(&conn)?;
/// Product::create_table(&conn)?;
/// let cats = Category::all(&conn)?;
/// strict(&conn, || {
///     assert!(Category { id: 1 }.products(&conn).is_err());      // refused
///     Category::prefetch_products(&conn, cats).map(|_| ())       // fine
/// })?;
/// # Ok::<(), orm_core::Error>(())
/// ```
pub fn strict<C: Db + ?Sized, T>(conn: &C, f: impl FnOnce() -> T) -> T {
    struct Scope;
    impl Drop for Scope {
        fn drop(&mut self) {
            STRICT.with(|s| s.borrow_mut().pop());
        }
    }
    let identity = conn.__conn().identity();
    STRICT.with(|s| s.borrow_mut().push(identity));
    let _scope = Scope;
    f()
}

/// Whether `conn` is inside a [`strict`] scope on this thread.
///
/// ```
/// use orm_core::{is_strict, strict};
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// assert!(!is_strict(&conn));
/// assert!(strict(&conn, || is_strict(&conn)));
/// assert!(!is_strict(&conn));
/// # Ok::<(), orm_core::Error>(())
/// ```
pub fn is_strict<C: Db + ?Sized>(conn: &C) -> bool {
    is_strict_conn(conn.__conn())
}

fn is_strict_conn(conn: Conn<'_>) -> bool {
    let identity = conn.identity();
    STRICT.with(|s| s.borrow().contains(&identity))
}

pub(crate) fn refuse_lazy(
    identity: usize,
    model: &'static str,
    relation: &'static str,
    prefetch: &'static str,
) -> Result<()> {
    #[cfg(feature = "tokio")]
    let strict_task = in_task::strict();
    #[cfg(not(feature = "tokio"))]
    let strict_task = false;
    if strict_task || STRICT.with(|s| s.borrow().contains(&identity)) {
        return Err(Error::LazyLoad {
            model,
            relation,
            prefetch,
        });
    }
    Ok(())
}

/// The async forms of the guards (feature `tokio`): scoped to a future and
/// to the task that polls it, so that statements of other tasks, on the same
/// connection or not, are never seen.
#[cfg(feature = "tokio")]
mod in_task {
    use std::future::Future;
    use std::sync::{Arc, Mutex};

    type Sink = Arc<Mutex<Vec<String>>>;

    tokio::task_local! {
        /// The recording scopes the polled future is inside, outermost first.
        static SINKS: Vec<Sink>;
        /// Whether lazy loads are refused in this task.
        static STRICT_TASK: bool;
    }

    /// Notes a statement an async connection ran for the current task.
    pub(crate) fn note(sql: &str) {
        let _ = SINKS.try_with(|sinks| {
            for sink in sinks {
                super::lock(sink).push(sql.to_owned());
            }
        });
    }

    /// Whether the current task is inside [`strict_async`].
    pub(crate) fn strict() -> bool {
        STRICT_TASK.try_with(|s| *s).unwrap_or(false)
    }

    /// [`record_queries`](crate::record_queries) for async connections: `f`'s
    /// result with the SQL of every statement it ran on any async
    /// connection, in order, counting only this task's statements (not those
    /// of futures it spawns). Scopes nest.
    ///
    /// ```
    /// # async fn demo() -> orm_core::Result<()> {
    /// use orm_core::{record_queries_async, AsyncSqlite, Model};
    /// #[derive(Model)] struct Note { id: i64 }
    /// let db = AsyncSqlite::open_in_memory().await?;
    /// Note::create_table(&db).await?;
    /// let (notes, sql) = record_queries_async(Note::all(&db)).await;
    /// assert_eq!((notes?.len(), sql.len()), (0, 1));
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
    /// ```
    pub async fn record_queries_async<F: Future>(f: F) -> (F::Output, Vec<String>) {
        let sink: Sink = Arc::default();
        let mut sinks = SINKS.try_with(Clone::clone).unwrap_or_default();
        sinks.push(sink.clone());
        let out = SINKS.scope(sinks, f).await;
        let seen = std::mem::take(&mut *super::lock(&sink));
        (out, seen)
    }

    /// [`count_queries`](crate::count_queries) for async connections: see
    /// [`record_queries_async`].
    pub async fn count_queries_async<F: Future>(f: F) -> (F::Output, usize) {
        let (out, seen) = record_queries_async(f).await;
        (out, seen.len())
    }

    /// [`assert_queries`](crate::assert_queries) for async connections:
    /// panics, listing the statements, unless `f` ran exactly `expected`.
    pub async fn assert_queries_async<F: Future>(expected: usize, f: F) -> F::Output {
        let (out, seen) = record_queries_async(f).await;
        super::expect_statements(expected, &seen);
        out
    }

    /// [`strict`](crate::strict) for async connections: inside `f`, in this
    /// task, the single-row relation accessors return
    /// [`Error::LazyLoad`](crate::Error::LazyLoad) on every connection.
    pub async fn strict_async<F: Future>(f: F) -> F::Output {
        STRICT_TASK.scope(true, f).await
    }

    /// Whether the current task is inside [`strict_async`]: the async
    /// [`is_strict`](crate::is_strict), for a task rather than a connection.
    ///
    /// ```
    /// # async fn demo() {
    /// use orm_core::{is_strict_async, strict_async};
    /// assert!(!is_strict_async());
    /// assert!(strict_async(async { is_strict_async() }).await);
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo());
    /// ```
    pub fn is_strict_async() -> bool {
        strict()
    }
}

#[cfg(feature = "tokio")]
pub(crate) use in_task::note as note_async;
#[cfg(feature = "tokio")]
pub use in_task::{
    assert_queries_async, count_queries_async, is_strict_async, record_queries_async, strict_async,
};
