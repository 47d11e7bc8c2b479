//! Guards against N+1: counting statements, and a scope where lazy loads fail.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::Connection;

use crate::error::{Error, Result};

/// Runs `f` and returns its result with the number of statements it ran on
/// `conn`: every statement, the crate's and your own raw SQL alike.
///
/// This is Django's `assertNumQueries` for your tests. It installs SQLite's
/// trace hook (which needs `&mut Connection`) for the duration of `f` and
/// removes it afterwards, replacing any trace hook you had installed.
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
pub fn count_queries<T>(conn: &mut Connection, f: impl FnOnce(&mut Connection) -> T) -> (T, usize) {
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
/// assert_eq!(sql, ["SELECT \"id\" FROM \"category\" WHERE \"id\" = ? ORDER BY \"id\""]);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub fn record_queries<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> T,
) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let hook = move |event: TraceEvent<'_>| {
        if let TraceEvent::Stmt(_, sql) = event {
            // Trigger bodies are reported as `-- ...` comments; they are not statements.
            if !sql.starts_with("--") {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(sql.to_owned());
            }
        }
    };
    // Installing or removing the hook only fails for a bad mask, which these are not.
    let _ = conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(hook));
    let out = f(conn);
    let _ = conn.trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>);
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    (out, seen)
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
pub fn assert_queries<T>(
    conn: &mut Connection,
    expected: usize,
    f: impl FnOnce(&mut Connection) -> T,
) -> T {
    let (out, seen) = record_queries(conn, f);
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
    out
}

thread_local! {
    /// Addresses of the connections inside a `strict` scope on this thread.
    /// A `Connection` is `!Sync` and stays borrowed for the whole scope, so its
    /// address identifies it and it cannot be used from another thread meanwhile.
    static STRICT: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn address(conn: &Connection) -> usize {
    std::ptr::from_ref(conn) as usize
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
pub fn strict<T>(conn: &Connection, f: impl FnOnce() -> T) -> T {
    struct Scope;
    impl Drop for Scope {
        fn drop(&mut self) {
            STRICT.with(|s| s.borrow_mut().pop());
        }
    }
    STRICT.with(|s| s.borrow_mut().push(address(conn)));
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
pub fn is_strict(conn: &Connection) -> bool {
    let conn = address(conn);
    STRICT.with(|s| s.borrow().contains(&conn))
}

pub(crate) fn refuse_lazy(
    conn: &Connection,
    model: &'static str,
    relation: &'static str,
    prefetch: &'static str,
) -> Result<()> {
    if is_strict(conn) {
        return Err(Error::LazyLoad {
            model,
            relation,
            prefetch,
        });
    }
    Ok(())
}
