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
    /// `postgres` feature `postgres://user@host/db` (also `postgresql://`,
    /// and PostgreSQL's key=value form, `host=localhost dbname=shop`).
    /// Anything else is [`Error::Url`].
    pub fn connect(url: impl AsRef<str>) -> Result<Self> {
        Ok(match Target::of(url.as_ref())? {
            Target::Memory => AnyDb::Sqlite(rusqlite::Connection::open_in_memory()?),
            Target::File(path) => AnyDb::Sqlite(rusqlite::Connection::open(path)?),
            #[cfg(feature = "postgres")]
            Target::Postgres(url) => AnyDb::Postgres(crate::Postgres::connect(url)?),
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

    /// The SQL dialect of the backend, to match on.
    pub fn dialect(&self) -> crate::Dialect {
        match self {
            AnyDb::Sqlite(_) => crate::Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            AnyDb::Postgres(_) => crate::Dialect::Postgres,
        }
    }
}

/// `url` with its password, if any, as `***`: what an error may print.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// What a database URL names.
enum Target<'u> {
    Memory,
    File(&'u str),
    #[cfg(feature = "postgres")]
    Postgres(&'u str),
}

impl<'u> Target<'u> {
    fn of(url: &'u str) -> Result<Self> {
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Target::Memory);
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::Url {
                    url: redacted(url),
                    reason: "no file after `sqlite://`".into(),
                });
            }
            return Ok(Target::File(path));
        }
        // PostgreSQL's key=value form (`host=localhost user=app dbname=shop`)
        // as well as its URLs.
        let key_value = !url.contains("://") && url.split_whitespace().all(|kv| kv.contains('='));
        if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || key_value && !url.is_empty()
        {
            #[cfg(feature = "postgres")]
            return Ok(Target::Postgres(url));
            #[cfg(not(feature = "postgres"))]
            return Err(Error::Url {
                url: redacted(url),
                reason: "PostgreSQL needs the crate's `postgres` feature".into(),
            });
        }
        Err(Error::Url {
            url: redacted(url),
            reason: "expected `sqlite://path`, `sqlite::memory:` or `postgres://...`".into(),
        })
    }
}

impl crate::sealed::Sealed for AnyDb {}
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

/// [`AnyDb`] for async code (feature `tokio`): the backend chosen at run time
/// from a URL, accepted wherever an async connection is, with the same
/// results as [`AsyncSqlite`](crate::AsyncSqlite) and `AsyncPostgres`.
///
/// ```
/// # async fn demo() -> orm_core::Result<()> {
/// use orm_core::{AsyncAnyDb, Model};
/// #[derive(Model, Debug, PartialEq)] struct Note { id: i64, body: String }
///
/// let db = AsyncAnyDb::connect("sqlite::memory:").await?;   // or "postgres://..."
/// Note::create_table(&db).await?;
/// Note { id: 1, body: "hi".into() }.insert(&db).await?;
/// assert_eq!(Note::all(&db).await?, [Note { id: 1, body: "hi".into() }]);
/// assert_eq!(db.backend(), "sqlite");
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[cfg(feature = "tokio")]
#[derive(Debug)]
#[non_exhaustive]
pub enum AsyncAnyDb {
    /// SQLite, from `sqlite://relative.db`, `sqlite:///absolute.db` or
    /// `sqlite::memory:`, on a connection thread of its own.
    Sqlite(crate::AsyncSqlite),
    /// PostgreSQL (feature `postgres`), from `postgres://` or `postgresql://`.
    #[cfg(feature = "postgres")]
    Postgres(crate::AsyncPostgres),
}

#[cfg(feature = "tokio")]
impl AsyncAnyDb {
    /// Opens the database `url` names, as [`AnyDb::connect`] does.
    pub async fn connect(url: impl AsRef<str>) -> Result<Self> {
        Ok(match Target::of(url.as_ref())? {
            Target::Memory => AsyncAnyDb::Sqlite(crate::AsyncSqlite::open_in_memory().await?),
            Target::File(path) => AsyncAnyDb::Sqlite(crate::AsyncSqlite::open(path).await?),
            #[cfg(feature = "postgres")]
            Target::Postgres(url) => {
                AsyncAnyDb::Postgres(crate::AsyncPostgres::connect(url).await?)
            }
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            AsyncAnyDb::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AsyncAnyDb::Postgres(_) => "postgres",
        }
    }

    /// The SQL dialect of the backend, to match on.
    pub fn dialect(&self) -> crate::Dialect {
        match self {
            AsyncAnyDb::Sqlite(_) => crate::Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            AsyncAnyDb::Postgres(_) => crate::Dialect::Postgres,
        }
    }
}

#[cfg(feature = "tokio")]
impl crate::sealed::Sealed for AsyncAnyDb {}

#[cfg(feature = "tokio")]
impl crate::db::Database for AsyncAnyDb {
    type Mode = crate::db::Async;
    fn __run<'a, P: crate::db::Plan + 'a>(
        &'a self,
        plan: P,
    ) -> crate::db::Out<'a, Self, P::Output> {
        match self {
            AsyncAnyDb::Sqlite(db) => db.__run(plan),
            #[cfg(feature = "postgres")]
            AsyncAnyDb::Postgres(db) => db.__run(plan),
        }
    }
}

#[cfg(feature = "tokio")]
impl crate::AsyncAtomic for AsyncAnyDb {
    fn atomic_with<'a, T, F, Fut>(
        &'a self,
        begin: crate::Begin,
        f: F,
    ) -> crate::db::BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a,
    {
        // The block's statements on `self` go to the same connection from
        // the same task: they belong to the transaction.
        match self {
            AsyncAnyDb::Sqlite(db) => db.atomic_with(begin, move |_| f(self)),
            #[cfg(feature = "postgres")]
            AsyncAnyDb::Postgres(db) => db.atomic_with(begin, move |_| f(self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn postgres_key_value_strings_are_postgres() {
        use super::Target;
        let is_pg = |url| match Target::of(url) {
            #[cfg(feature = "postgres")]
            Ok(Target::Postgres(_)) => true,
            #[cfg(not(feature = "postgres"))]
            Err(crate::Error::Url { reason, .. }) => reason.contains("`postgres` feature"),
            _ => false,
        };
        assert!(is_pg("host=127.0.0.1 port=5432 user=postgres"));
        assert!(is_pg("postgresql://u@h/d"));
        assert!(!is_pg("app.db"));
        assert!(!is_pg(""));
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redacted("postgres://ann:s3cret@db.example:5432/shop?sslmode=require"),
            "postgres://ann:***@db.example:5432/shop?sslmode=require"
        );
        assert_eq!(redacted("postgres://ann@db/shop"), "postgres://ann@db/shop");
        assert_eq!(redacted("mysql://a:b@h/d"), "mysql://a:***@h/d");
        assert_eq!(redacted("sqlite://"), "sqlite://");
        assert_eq!(redacted("nonsense"), "nonsense");
    }
}
