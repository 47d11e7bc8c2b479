//! The connection pool, and the two ways a request touches the database:
//! off the async runtime, and inside one counted read snapshot.

use std::path::PathBuf;
use std::time::Duration;

use orm_core::count_queries;
use orm_core::pool::{r2d2, SqliteManager};
use orm_core::rusqlite::Connection;

use crate::error::AppError;

/// The pool every handler draws from.
pub type Pool = r2d2::Pool<SqliteManager>;

/// A connection borrowed from the [`Pool`].
pub type PooledConn = r2d2::PooledConnection<SqliteManager>;

/// A pool on the SQLite file at `path`, created if missing.
pub fn pool(path: impl Into<PathBuf>) -> Result<Pool, r2d2::Error> {
    let manager = SqliteManager::file(path).with_init(|conn| {
        // WAL lets pages be read while the seed or another writer writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A writer holding the lock makes others wait instead of failing at once.
        conn.busy_timeout(Duration::from_secs(5))?;
        // SQLite ignores the REFERENCES that create_table writes unless asked.
        conn.pragma_update(None, "foreign_keys", true)
    });
    r2d2::Pool::builder()
        .max_size(4)
        // A request that cannot get a connection soon is answered 503 rather
        // than left hanging for r2d2's default 30 s.
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
}

/// Runs `f` with a pooled connection on tokio's blocking thread pool: SQLite
/// calls block, and must not stall the threads that serve other requests.
pub async fn blocking<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut PooledConn) -> Result<T, AppError> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || f(&mut pool.get()?))
        .await
        .map_err(AppError::Task)?
}

/// Runs `f` inside one read transaction and returns how many statements it
/// ran. The transaction makes the statements of a page see one snapshot, so
/// a product count never disagrees with the list beside it; its `BEGIN` and
/// `ROLLBACK` are left out of the count, which is about the page's queries.
pub fn counted_read<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> orm_core::Result<T>,
) -> orm_core::Result<(T, usize)> {
    let snapshot = ReadSnapshot::begin(conn)?;
    let (out, statements) = count_queries(&mut *snapshot.conn, |conn| f(conn));
    Ok((out?, statements))
}

/// An open read transaction, ended when dropped: on every path, a panic
/// included, so that no pooled connection goes back to the pool still inside
/// a transaction. `rusqlite::Transaction` cannot serve here: it lends only
/// `&Connection`, and `count_queries` needs `&mut`.
struct ReadSnapshot<'c> {
    conn: &'c mut Connection,
}

impl<'c> ReadSnapshot<'c> {
    fn begin(conn: &'c mut Connection) -> orm_core::rusqlite::Result<Self> {
        conn.execute_batch("BEGIN")?;
        Ok(ReadSnapshot { conn })
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        // Nothing was written, so ROLLBACK loses nothing; it fails only when
        // no transaction is open, which is the state wanted anyway.
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}
