//! `AnyDb`: the backend chosen at run time from a URL, accepted wherever a
//! connection is.

use crate::backend::{Conn, Db};
use crate::error::{Error, Result};
use crate::guard::Recordable;

/// A connection to SQLite or PostgreSQL, chosen by a URL at run time (SQLite
/// in development, PostgreSQL in production): every function of the crate
/// takes `&db` as it takes a concrete connection, with the same results.
///
/// ```
/// use orm_core::{AnyDb, Model};
/// #[derive(Model, Debug, PartialEq)] struct Note { id: i64, body: String }
///
/// let db = AnyDb::connect("sqlite::memory:")?;   // or "sqlite://app.db", "postgres://..."
/// Note::create_table(&db)?;
/// Note { id: 1, body: "hi".into() }.insert(&db)?;
/// assert_eq!(Note::all(&db)?, [Note { id: 1, body: "hi".into() }]);
/// assert_eq!(db.backend(), "sqlite");
/// # Ok::<(), orm_core::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
// One per connection, held for its lifetime: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum AnyDb {
    /// SQLite, from `sqlite://relative.db`, `sqlite:///absolute.db` or
    /// `sqlite::memory:`.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL (feature `postgres`), from `postgres://` or `postgresql://`.
    #[cfg(feature = "postgres")]
    Postgres(crate::Postgres),
}

impl AnyDb {
    /// Opens the database `url` names: `sqlite://relative.db`,
    /// `sqlite:///absolute.db` (a missing file is created, as
    /// `rusqlite::Connection::open` does), `sqlite::memory:`, or with the
    /// `postgres` feature `postgres://user@host/db` (also `postgresql://`).
    /// Anything else is [`Error::Url`].
    pub fn connect(url: impl AsRef<str>) -> Result<Self> {
        let url = url.as_ref();
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(AnyDb::Sqlite(rusqlite::Connection::open_in_memory()?));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::Url {
                    url: url.to_owned(),
                    reason: "no file after `sqlite://`".into(),
                });
            }
            return Ok(AnyDb::Sqlite(rusqlite::Connection::open(path)?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(AnyDb::Postgres(crate::Postgres::connect(url)?));
            #[cfg(not(feature = "postgres"))]
            return Err(Error::Url {
                url: url.to_owned(),
                reason: "PostgreSQL needs the crate's `postgres` feature".into(),
            });
        }
        Err(Error::Url {
            url: url.to_owned(),
            reason: "expected `sqlite://path`, `sqlite::memory:` or `postgres://...`".into(),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyDb::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyDb::Postgres(_) => "postgres",
        }
    }
}

impl crate::__private::Sealed for AnyDb {}
impl Db for AnyDb {
    fn __conn(&self) -> Conn<'_> {
        match self {
            AnyDb::Sqlite(conn) => conn.__conn(),
            #[cfg(feature = "postgres")]
            AnyDb::Postgres(pg) => pg.__conn(),
        }
    }
}
crate::db::blocking! {
    impl for AnyDb;
}

impl Recordable for AnyDb {
    fn __start_recording(&mut self) {
        match self {
            AnyDb::Sqlite(conn) => conn.__start_recording(),
            #[cfg(feature = "postgres")]
            AnyDb::Postgres(pg) => pg.__start_recording(),
        }
    }

    fn __stop_recording(&mut self) -> Vec<String> {
        match self {
            AnyDb::Sqlite(conn) => conn.__stop_recording(),
            #[cfg(feature = "postgres")]
            AnyDb::Postgres(pg) => pg.__stop_recording(),
        }
    }
}
