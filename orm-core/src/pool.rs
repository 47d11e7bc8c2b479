//! Connection pools with r2d2 (feature `r2d2`).
//!
//! `r2d2_sqlite` cannot be used with this crate: each of its versions links
//! one version of SQLite's C library, and cargo allows one per build, so it
//! must match the rusqlite this crate re-exports, which no released version
//! does. [`SqliteManager`] is the same few lines against that rusqlite, and
//! [`PostgresManager`] hands out [`Postgres`](crate::Postgres) connections
//! (feature `postgres` too). A pooled connection is accepted as `&conn`
//! wherever a connection is, and by [`count_queries`](crate::count_queries)
//! as `&mut conn`.
//!
//! ```
//! use orm_core::pool::{r2d2, SqliteManager};
//! use orm_core::Model;
//! # #[derive(Model)] struct Note { id: i64 }
//! # let dir = std::env::temp_dir().join(format!("orm-pool-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let manager = SqliteManager::file(dir.join("app.db")).with_init(|conn| {
//!     // WAL lets readers go on while a writer writes.
//!     conn.pragma_update(None, "journal_mode", "WAL")?;
//!     conn.busy_timeout(std::time::Duration::from_secs(5))
//! });
//! let pool = r2d2::Pool::builder().max_size(4).build(manager).unwrap();
//! let conn = pool.get().unwrap();
//! Note::create_table(&conn)?;
//! Note { id: 1 }.insert(&conn)?;
//! assert_eq!(Note::all(&pool.get().unwrap())?.len(), 1);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), orm_core::Error>(())
//! ```

use std::fmt;
use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags};

use crate::backend::{Conn, Db};
use crate::guard::Recordable;

/// The r2d2 this module's managers implement, so users need no second dependency.
pub use r2d2;

type Init = Box<dyn Fn(&mut Connection) -> rusqlite::Result<()> + Send + Sync>;

/// An r2d2 connection manager for one SQLite database file.
pub struct SqliteManager {
    path: PathBuf,
    flags: OpenFlags,
    init: Option<Init>,
}

impl fmt::Debug for SqliteManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteManager")
            .field("path", &self.path)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl SqliteManager {
    /// Connections to the database file at `path`, created if missing, with
    /// rusqlite's default flags (and its 5 s busy timeout).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        SqliteManager {
            path: path.into(),
            flags: OpenFlags::default(),
            init: None,
        }
    }

    /// Opens connections with these flags instead (read-only, say).
    #[must_use]
    pub fn with_flags(mut self, flags: OpenFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Runs `init` on every new connection: pragmas such as WAL mode, a busy
    /// timeout, foreign keys.
    #[must_use]
    pub fn with_init(
        mut self,
        init: impl Fn(&mut Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.init = Some(Box::new(init));
        self
    }
}

impl r2d2::ManageConnection for SqliteManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let mut conn = Connection::open_with_flags(&self.path, self.flags)?;
        if let Some(init) = &self.init {
            init(&mut conn)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    /// A connection still inside a transaction (begun and never ended by
    /// whoever held it) would hold its snapshot and swallow the next user's
    /// writes: the pool drops it instead of handing it out again.
    fn has_broken(&self, conn: &mut Connection) -> bool {
        !conn.is_autocommit()
    }
}

/// An r2d2 connection manager for PostgreSQL, handing out
/// [`Postgres`](crate::Postgres) connections (without TLS).
#[cfg(feature = "postgres")]
#[derive(Debug, Clone)]
pub struct PostgresManager {
    config: postgres::Config,
}

#[cfg(feature = "postgres")]
impl PostgresManager {
    /// Connections as the `postgres` crate's connection string says.
    pub fn new(params: &str) -> crate::Result<Self> {
        Ok(PostgresManager {
            config: params.parse()?,
        })
    }

    /// Connections with this configuration.
    pub fn from_config(config: postgres::Config) -> Self {
        PostgresManager { config }
    }
}

#[cfg(feature = "postgres")]
impl r2d2::ManageConnection for PostgresManager {
    type Connection = crate::Postgres;
    type Error = postgres::Error;

    fn connect(&self) -> Result<crate::Postgres, postgres::Error> {
        Ok(self.config.connect(postgres::NoTls)?.into())
    }

    fn is_valid(&self, conn: &mut crate::Postgres) -> Result<(), postgres::Error> {
        conn.client().simple_query("").map(|_| ())
    }

    /// A connection still inside a transaction would swallow the next user's
    /// writes (an open one, begun and never ended by whoever held it) or fail
    /// every statement with SQLSTATE 25P02 (one aborted by a failed
    /// statement): the pool drops it instead of lending it again. Asking
    /// costs one round trip each time a connection comes back.
    fn has_broken(&self, conn: &mut crate::Postgres) -> bool {
        let mut client = conn.client();
        if client.is_closed() {
            return true;
        }
        // The two are equal only during the first statement of a
        // transaction (PostgreSQL documents so), that is when this statement
        // is a transaction of its own. Any error (25P02 in an aborted
        // transaction, a lost connection) makes the connection unfit too.
        match client.simple_query("SELECT transaction_timestamp() = statement_timestamp()") {
            Ok(messages) => !messages.iter().any(
                |m| matches!(m, postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("t")),
            ),
            Err(_) => true,
        }
    }
}

impl<M> crate::sealed::Sealed for r2d2::PooledConnection<M>
where
    M: r2d2::ManageConnection,
    M::Connection: Db,
{
}

impl<M> Db for r2d2::PooledConnection<M>
where
    M: r2d2::ManageConnection,
    M::Connection: Db,
{
    fn __conn(&self) -> Conn<'_> {
        (**self).__conn()
    }
}

crate::db::blocking! {
    impl<M> for r2d2::PooledConnection<M> where [M: r2d2::ManageConnection, M::Connection: Db];
}

impl<M> Recordable for r2d2::PooledConnection<M>
where
    M: r2d2::ManageConnection,
    M::Connection: Recordable,
{
    fn __start_recording(&mut self) {
        (**self).__start_recording();
    }

    fn __stop_recording(&mut self) -> Vec<String> {
        (**self).__stop_recording()
    }
}
