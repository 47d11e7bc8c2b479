//! The connection pool, and the one way a page reads the database: inside
//! one counted read snapshot.

use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

use orm_core::async_pool::deadpool::managed::{BuildError, Object, PoolError};
use orm_core::async_pool::deadpool::Runtime;
use orm_core::async_pool::{AnyManager, AnyPool};
use orm_core::rusqlite::{self, Connection, ErrorCode};
use orm_core::{count_queries_async, AsyncAtomic, Begin};

/// The pool every handler draws from.
pub type Pool = AnyPool;

/// A connection borrowed from the [`Pool`]; `&conn` is accepted wherever an
/// async connection is.
pub type PooledConn = Object<AnyManager>;

/// What [`Pool::get`] fails with: no connection came free in time, or a new
/// one could not be opened.
pub type GetError = PoolError<orm_core::Error>;

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a connection, or for a new one to open,
/// before it is answered 503 rather than left hanging.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool on the database `url` names (`sqlite://catalog.sqlite3`,
/// `postgres://...`). Nothing is opened yet: the first `get` connects.
pub fn pool(url: &str) -> Result<Pool, BuildError> {
    let manager = AnyManager::new(url).with_sqlite_init(|conn| {
        // A writer holding the lock makes others wait instead of failing at once.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets pages be read while the seed or another writer writes.
        use_wal(conn)?;
        // SQLite ignores the REFERENCES that the migrations write unless asked.
        conn.pragma_update(None, "foreign_keys", true)?;
        Ok(())
    });
    AnyPool::builder(manager)
        .max_size(4)
        .wait_timeout(Some(CONNECTION_TIMEOUT))
        .create_timeout(Some(CONNECTION_TIMEOUT))
        // The timeouts above need a runtime to measure them.
        .runtime(Runtime::Tokio1)
        .build()
}

/// Switches the database to WAL (a setting kept in the file). Processes
/// starting together on a new file all switch it at once, and SQLite
/// answers all but one "database is locked" without waiting (its busy
/// handler is not called where waiting could deadlock); the switch the
/// winner made is the one wanted, so the others try again. This runs on the
/// connection's own thread, where sleeping blocks no task.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let start = Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && start.elapsed() < BUSY_TIMEOUT =>
            {
                thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

/// Runs `f` inside one read transaction and returns how many statements it
/// ran. The transaction makes the statements of a page see one snapshot, so
/// a product count never disagrees with the list beside it.
///
/// Only `f`'s statements are counted: the transaction's own statements are
/// the library's and never counted. The block is a read-only snapshot
/// (`Begin::ReadSnapshot`): on SQLite a transaction is one already (from its
/// first read on, in WAL mode); on PostgreSQL the default `READ COMMITTED`
/// would take a new snapshot per statement, so the block begins
/// `REPEATABLE READ, READ ONLY`. A page writes nothing; a write there would
/// fail on both.
pub async fn counted_read<'c, T, F, Fut>(conn: &'c PooledConn, f: F) -> orm_core::Result<(T, usize)>
where
    F: FnOnce(&'c PooledConn) -> Fut + Send + 'c,
    Fut: Future<Output = orm_core::Result<T>> + Send + 'c,
    T: Send + 'c,
{
    conn.atomic_with(Begin::ReadSnapshot, async move |tx| {
        let (out, statements) = count_queries_async(f(tx)).await;
        Ok((out?, statements))
    })
    .await
}
