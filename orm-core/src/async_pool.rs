//! Async connection pools (feature `tokio`): deadpool managers for
//! [`AsyncSqlite`] and (with `postgres`) [`AsyncPostgres`](crate::AsyncPostgres).
//!
//! A pooled connection is accepted as `&conn` wherever an async connection
//! is, and has [`atomic`](crate::AsyncAtomic::atomic):
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use orm_core::async_pool::{SqliteManager, SqlitePool};
//! use orm_core::Model;
//! #[derive(Model)] struct Note { id: i64 }
//!
//! let dir = std::env::temp_dir().join(format!("orm-pool-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let pool = SqlitePool::builder(SqliteManager::file(dir.join("app.db"))).max_size(4).build()?;
//! let conn = pool.get().await?;
//! Note::create_table(&conn).await?;
//! assert!(Note::all(&conn).await?.is_empty());
//! # drop(conn); drop(pool); std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! A connection is given back to the pool as it is; before lending it again
//! the pool checks it: a connection still inside a transaction (a block you
//! left open with raw SQL), a SQLite connection whose thread is gone, and a
//! PostgreSQL connection the server closed, is dropped instead.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deadpool::managed::{Manager, Metrics, Object, RecycleError, RecycleResult};

use crate::db::{Async, BoxFuture, Database, Out, Plan};
use crate::error::{Error, Result};
use crate::{AsyncAtomic, AsyncSqlite};

/// The deadpool this module's managers implement, so users need no second
/// dependency.
pub use deadpool;

type Init = Arc<dyn Fn(&mut rusqlite::Connection) -> Result<()> + Send + Sync>;

/// A pool of [`AsyncSqlite`] connections to one file.
pub type SqlitePool = deadpool::managed::Pool<SqliteManager>;

/// Opens [`AsyncSqlite`] connections to one database file, each on its own
/// thread.
pub struct SqliteManager {
    path: PathBuf,
    init: Option<Init>,
}

impl fmt::Debug for SqliteManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteManager")
            .field("path", &self.path)
            .field("init", &self.init.is_some())
            .finish()
    }
}

impl SqliteManager {
    /// Connections to the database file `path` (created when missing).
    pub fn file(path: impl AsRef<Path>) -> Self {
        SqliteManager {
            path: path.as_ref().to_owned(),
            init: None,
        }
    }

    /// Runs `init` on each new connection, on its thread (PRAGMAs: WAL,
    /// `busy_timeout`, `foreign_keys`). Set `busy_timeout` first: switching a
    /// new file to WAL takes a lock that connections opened at the same time
    /// wait for instead of failing with "database is locked".
    pub fn with_init(
        mut self,
        init: impl Fn(&mut rusqlite::Connection) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.init = Some(Arc::new(init));
        self
    }
}

impl Manager for SqliteManager {
    type Type = AsyncSqlite;
    type Error = Error;

    async fn create(&self) -> Result<AsyncSqlite> {
        let conn = AsyncSqlite::open(&self.path).await?;
        if let Some(init) = self.init.clone() {
            conn.call(move |c| init(c)).await?;
        }
        Ok(conn)
    }

    async fn recycle(&self, conn: &mut AsyncSqlite, _: &Metrics) -> RecycleResult<Error> {
        recycle_sqlite(conn).await
    }
}

/// Whether a SQLite connection may be lent again: its thread answers, and
/// it is not inside a transaction.
async fn recycle_sqlite(conn: &AsyncSqlite) -> RecycleResult<Error> {
    match conn.call(|c| Ok(c.is_autocommit())).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(RecycleError::message("left inside a transaction")),
        Err(e) => Err(RecycleError::Backend(e)),
    }
}

/// Whether a PostgreSQL connection may be lent again: the server has not
/// closed it, and it is not inside a transaction.
#[cfg(feature = "postgres")]
async fn recycle_postgres(conn: &crate::AsyncPostgres) -> RecycleResult<Error> {
    if conn.client().is_closed() {
        return Err(RecycleError::message("closed by the server"));
    }
    match conn.in_transaction().await {
        Ok(false) => Ok(()),
        Ok(true) => Err(RecycleError::message("left inside a transaction")),
        Err(e) => Err(RecycleError::Backend(e)),
    }
}

/// A pool of [`AsyncPostgres`](crate::AsyncPostgres) connections (features
/// `tokio` and `postgres`).
#[cfg(feature = "postgres")]
pub type PostgresPool = deadpool::managed::Pool<PostgresManager>;

/// Opens [`AsyncPostgres`](crate::AsyncPostgres) connections with one set of
/// connection parameters (`host=... user=...` or a `postgres://` URL).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
pub struct PostgresManager {
    params: String,
}

#[cfg(feature = "postgres")]
impl PostgresManager {
    /// Connections made with `params`.
    pub fn new(params: impl Into<String>) -> Self {
        PostgresManager {
            params: params.into(),
        }
    }
}

#[cfg(feature = "postgres")]
impl Manager for PostgresManager {
    type Type = crate::AsyncPostgres;
    type Error = Error;

    async fn create(&self) -> Result<crate::AsyncPostgres> {
        crate::AsyncPostgres::connect(&self.params).await
    }

    async fn recycle(&self, conn: &mut crate::AsyncPostgres, _: &Metrics) -> RecycleResult<Error> {
        recycle_postgres(conn).await
    }
}

/// A pool of [`AsyncAnyDb`](crate::AsyncAnyDb) connections to the database
/// a URL names (`sqlite://app.db`, `postgres://...`), for an application
/// that picks its backend at run time.
pub type AnyPool = deadpool::managed::Pool<AnyManager>;

/// Opens [`AsyncAnyDb`](crate::AsyncAnyDb) connections to one URL; each new
/// SQLite connection first runs the `init` given to
/// [`with_sqlite_init`](AnyManager::with_sqlite_init).
pub struct AnyManager {
    url: String,
    sqlite_init: Option<Init>,
}

impl fmt::Debug for AnyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyManager")
            .field("url", &self.url)
            .field("sqlite_init", &self.sqlite_init.is_some())
            .finish()
    }
}

impl AnyManager {
    /// Connections to `url`, as [`AsyncAnyDb::connect`](crate::AsyncAnyDb::connect) takes it.
    pub fn new(url: impl Into<String>) -> Self {
        AnyManager {
            url: url.into(),
            sqlite_init: None,
        }
    }

    /// Runs `init` on each new SQLite connection, on its thread.
    pub fn with_sqlite_init(
        mut self,
        init: impl Fn(&mut rusqlite::Connection) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.sqlite_init = Some(Arc::new(init));
        self
    }
}

impl Manager for AnyManager {
    type Type = crate::AsyncAnyDb;
    type Error = Error;

    async fn create(&self) -> Result<crate::AsyncAnyDb> {
        let db = crate::AsyncAnyDb::connect(&self.url).await?;
        if let (crate::AsyncAnyDb::Sqlite(conn), Some(init)) = (&db, self.sqlite_init.clone()) {
            conn.call(move |c| init(c)).await?;
        }
        Ok(db)
    }

    async fn recycle(&self, db: &mut crate::AsyncAnyDb, _: &Metrics) -> RecycleResult<Error> {
        match db {
            crate::AsyncAnyDb::Sqlite(conn) => recycle_sqlite(conn).await,
            #[cfg(feature = "postgres")]
            crate::AsyncAnyDb::Postgres(conn) => recycle_postgres(conn).await,
        }
    }
}

impl<M> crate::sealed::Sealed for Object<M>
where
    M: Manager,
    M::Type: Database<Mode = Async>,
{
}

impl<M> Database for Object<M>
where
    M: Manager,
    M::Type: Database<Mode = Async>,
{
    type Mode = Async;
    fn __run<'a, P: Plan + 'a>(&'a self, plan: P) -> Out<'a, Self, P::Output> {
        (**self).__run(plan)
    }
}

impl<M> AsyncAtomic for Object<M>
where
    M: Manager,
    M::Type: AsyncAtomic,
    Object<M>: Send + Sync,
{
    fn atomic_with<'a, T, F, Fut>(&'a self, begin: crate::Begin, f: F) -> BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a,
    {
        // The block's statements on the pooled connection reach the same
        // connection from the same task: they belong to the transaction.
        (**self).atomic_with(begin, move |_| f(self))
    }
}
