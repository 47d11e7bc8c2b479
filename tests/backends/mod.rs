//! One suite, every backend and every kind of connection: `on_each_backend!`
//! writes each test once per backend, SQLite (in memory) and, with the
//! `postgres` feature, PostgreSQL (a schema of its own per test, on the
//! server `ORM_POSTGRES_URL` names; `scripts/with-postgres` starts a
//! throwaway one), on a sync connection (`rusqlite::Connection`,
//! `orm_core::Postgres`) and, with the `tokio` feature, on an async one
//! (`AsyncSqlite`, `AsyncPostgres`), each in a tokio runtime of its own.
//!
//! The body is written once, for the sync connection, as the sync API is
//! used: `Category::all(&conn)?`, `count_queries(&mut conn, |c| ..)`. The
//! `sqlite` and `postgres` modules run it as it is. For `async_sqlite` and
//! `async_postgres` the `awaited` test-support crate rewrites it (the rules
//! are listed on `awaited::on_each_backend!`): `expr?` becomes
//! `Wait::wait(expr).await?` and every call given the connection is awaited
//! the same way, where `awaited::Wait` awaits a future and passes anything
//! else through, so the rewrite type-checks whatever a call returns; the
//! guards become `count_queries_async` and its kin, `conn.in_transaction(..)`
//! becomes `AsyncAtomic::atomic`. What a body asks of the connection besides
//! the library ([`Backend`]) an async connection answers through
//! [`AsyncBackend`], whose methods have the same names and return futures.
//! A helper the bodies share, `fn shop(conn: &impl Backend) -> R`, is marked
//! `#[awaited::both]`: it then runs as written on a sync connection and,
//! rewritten, returns a future on an async one.
//!
//! A test that can only mean something on a sync connection (rusqlite's
//! own `Transaction`, a sync-only API) is marked `#[sync_only]`, with the
//! reason beside it.
#![allow(dead_code)]

use orm_core::rusqlite::Connection;
use orm_core::{Db, Model, Recordable, Row};

/// Which backend a connection is, sync or async.
pub trait Named {
    /// `sqlite` or `postgres`.
    const NAME: &'static str;
}

/// What a test needs of a connection besides the library's own functions.
pub trait Backend: Named + Db + Recordable + Sized {
    /// Runs statements that return nothing, separated by `;`.
    fn exec(&self, sql: &str) -> orm_core::Result<()>;

    /// Lets rows point at parents that do not exist, as data from elsewhere may.
    fn without_foreign_keys(&self) -> orm_core::Result<()>;

    /// Rows of a hand-written query, `$1`, `$2` ... bound to `params` (SQLite
    /// reads `$1` as a parameter named "$1", the first): an oracle that does
    /// not go through the library's statements.
    fn rows<M: Model>(&self, sql: &str, params: &[i64]) -> Vec<M>;

    /// A new connection to a new, empty database of the same backend.
    fn fresh() -> Self;

    /// Sets SQLite's bound-variable limit; PostgreSQL binds a batch's keys as
    /// one array and has no such limit to set.
    fn set_variable_limit(&self, limit: i32);

    /// Runs `f` in a transaction of the backend's own API (rusqlite's
    /// `Transaction`, `Postgres::transaction`): committed when `f` returns
    /// `Ok`, rolled back otherwise.
    fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&Self) -> orm_core::Result<T>,
    ) -> orm_core::Result<T>;
}

/// A second connection, to a database of its own, on `like`'s backend.
pub fn fresh_like<B: Backend>(_like: &B) -> B {
    B::fresh()
}

impl Named for Connection {
    const NAME: &'static str = "sqlite";
}

impl Backend for Connection {
    fn exec(&self, sql: &str) -> orm_core::Result<()> {
        Ok(self.execute_batch(sql)?)
    }

    fn without_foreign_keys(&self) -> orm_core::Result<()> {
        Ok(self.pragma_update(None, "foreign_keys", false)?)
    }

    fn rows<M: Model>(&self, sql: &str, params: &[i64]) -> Vec<M> {
        let mut stmt = self.prepare(sql).expect("oracle statement");
        let mut rows = stmt
            .query(orm_core::rusqlite::params_from_iter(params))
            .expect("oracle query");
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("oracle row") {
            out.push(M::from_row(&Row::from(row)).expect("oracle decode"));
        }
        out
    }

    fn fresh() -> Self {
        sqlite()
    }

    fn set_variable_limit(&self, limit: i32) {
        self.set_limit(
            orm_core::rusqlite::limits::Limit::SQLITE_LIMIT_VARIABLE_NUMBER,
            limit,
        )
        .expect("a variable limit");
    }

    fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&Self) -> orm_core::Result<T>,
    ) -> orm_core::Result<T> {
        let tx = self.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// A fresh in-memory SQLite database.
pub fn sqlite() -> Connection {
    Connection::open_in_memory().expect("an in-memory database")
}

#[cfg(feature = "tokio")]
// Only the suites that run `on_each_backend!` use them.
#[allow(unused_imports)]
pub use nonblocking::{async_sqlite, AsyncBackend};

#[cfg(feature = "tokio")]
mod nonblocking {
    use orm_core::{AsyncDb, AsyncSqlite, BoxFuture, DbError, Model, Raw, Row};

    /// [`Backend`](super::Backend) on an async connection: the same methods,
    /// as futures, for the bodies `on_each_backend!` rewrites.
    pub trait AsyncBackend: super::Named + AsyncDb + Sized {
        /// Runs statements that return nothing, separated by `;`, through
        /// the library's raw SQL (so that the async guards count them, as
        /// the sync ones count the sync connection's).
        fn exec<'a>(&'a self, sql: &'a str) -> BoxFuture<'a, orm_core::Result<()>> {
            Box::pin(async move {
                for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    match self.raw(statement, ()).execute().await {
                        // It ran; SQLite's driver only complains that it
                        // returned rows (a `SELECT 1`), which `execute_batch` allows.
                        Ok(_)
                        | Err(orm_core::Error::Query {
                            source:
                                DbError::Sqlite(orm_core::rusqlite::Error::ExecuteReturnedResults),
                            ..
                        }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            })
        }

        /// See [`Backend::without_foreign_keys`](super::Backend::without_foreign_keys).
        fn without_foreign_keys(&self) -> BoxFuture<'_, orm_core::Result<()>>;

        /// See [`Backend::rows`](super::Backend::rows): through the driver,
        /// not the library.
        fn rows<'a, M: Model + Send + 'static>(
            &'a self,
            sql: &'a str,
            params: &'a [i64],
        ) -> BoxFuture<'a, Vec<M>>;

        /// See [`Backend::fresh`](super::Backend::fresh).
        fn fresh() -> BoxFuture<'static, Self>;

        /// See [`Backend::set_variable_limit`](super::Backend::set_variable_limit).
        fn set_variable_limit(&self, limit: i32) -> BoxFuture<'_, ()>;
    }

    impl super::Named for AsyncSqlite {
        const NAME: &'static str = "sqlite";
    }

    impl AsyncBackend for AsyncSqlite {
        fn without_foreign_keys(&self) -> BoxFuture<'_, orm_core::Result<()>> {
            Box::pin(self.call(|conn| Ok(conn.pragma_update(None, "foreign_keys", false)?)))
        }

        fn rows<'a, M: Model + Send + 'static>(
            &'a self,
            sql: &'a str,
            params: &'a [i64],
        ) -> BoxFuture<'a, Vec<M>> {
            let (sql, params) = (sql.to_owned(), params.to_vec());
            Box::pin(async move {
                self.call(move |conn| {
                    let mut stmt = conn.prepare(&sql).expect("oracle statement");
                    let mut rows = stmt
                        .query(orm_core::rusqlite::params_from_iter(params))
                        .expect("oracle query");
                    let mut out = Vec::new();
                    while let Some(row) = rows.next().expect("oracle row") {
                        out.push(M::from_row(&Row::from(row)).expect("oracle decode"));
                    }
                    Ok(out)
                })
                .await
                .expect("oracle rows")
            })
        }

        fn fresh() -> BoxFuture<'static, Self> {
            Box::pin(async_sqlite())
        }

        fn set_variable_limit(&self, limit: i32) -> BoxFuture<'_, ()> {
            Box::pin(async move {
                self.call(move |conn| {
                    conn.set_limit(
                        orm_core::rusqlite::limits::Limit::SQLITE_LIMIT_VARIABLE_NUMBER,
                        limit,
                    )?;
                    Ok(())
                })
                .await
                .expect("a variable limit")
            })
        }
    }

    /// A fresh in-memory SQLite database, behind an async connection.
    pub async fn async_sqlite() -> AsyncSqlite {
        AsyncSqlite::open_in_memory()
            .await
            .expect("an in-memory database")
    }

    #[cfg(feature = "postgres")]
    mod pg {
        use orm_core::postgres::types::ToSql;
        use orm_core::{AsyncPostgres, BoxFuture, Model, Row};

        impl crate::backends::Named for AsyncPostgres {
            const NAME: &'static str = "postgres";
        }

        impl super::AsyncBackend for AsyncPostgres {
            fn without_foreign_keys(&self) -> BoxFuture<'_, orm_core::Result<()>> {
                Box::pin(async move {
                    // As on the sync connection: replicas do not fire triggers.
                    self.client()
                        .batch_execute("SET session_replication_role = replica")
                        .await?;
                    Ok(())
                })
            }

            fn rows<'a, M: Model + Send + 'static>(
                &'a self,
                sql: &'a str,
                params: &'a [i64],
            ) -> BoxFuture<'a, Vec<M>> {
                Box::pin(async move {
                    let params: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    self.client()
                        .query(sql, &params)
                        .await
                        .expect("oracle query")
                        .iter()
                        .map(|row| M::from_row(&Row::from(row)).expect("oracle decode"))
                        .collect()
                })
            }

            fn fresh() -> BoxFuture<'static, Self> {
                Box::pin(crate::backends::async_postgres())
            }

            fn set_variable_limit(&self, _: i32) -> BoxFuture<'_, ()> {
                Box::pin(async {})
            }
        }
    }
}

#[cfg(feature = "postgres")]
// Every suite but the async SQLite one uses it.
#[allow(unused_imports)]
pub use pg::postgres;

#[cfg(all(feature = "postgres", feature = "tokio"))]
// Only the suites with async connections use it.
#[allow(unused_imports)]
pub use pg::async_postgres;

#[cfg(feature = "postgres")]
mod pg {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use orm_core::postgres::types::ToSql;
    use orm_core::{Model, Postgres, Row};

    impl super::Named for Postgres {
        const NAME: &'static str = "postgres";
    }

    impl super::Backend for Postgres {
        fn exec(&self, sql: &str) -> orm_core::Result<()> {
            self.batch_execute(sql)
        }

        fn without_foreign_keys(&self) -> orm_core::Result<()> {
            // Foreign keys are triggers; replicas do not fire them.
            self.batch_execute("SET session_replication_role = replica")
        }

        fn rows<M: Model>(&self, sql: &str, params: &[i64]) -> Vec<M> {
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            self.query(sql, &params)
                .expect("oracle query")
                .iter()
                .map(|row| M::from_row(&Row::from(row)).expect("oracle decode"))
                .collect()
        }

        fn fresh() -> Self {
            postgres()
        }

        fn set_variable_limit(&self, _: i32) {}

        fn in_transaction<T>(
            &mut self,
            f: impl FnOnce(&Self) -> orm_core::Result<T>,
        ) -> orm_core::Result<T> {
            self.transaction(f)
        }
    }

    static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

    /// A connection to the server in `ORM_POSTGRES_URL`, in a new schema of
    /// its own, so that tests running in parallel never meet. The schemas are
    /// left to the throwaway cluster.
    pub fn postgres() -> Postgres {
        let url = std::env::var("ORM_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "the postgres feature is on but ORM_POSTGRES_URL is not set: run the \
                 PostgreSQL tests against a throwaway server with \
                 `scripts/with-postgres cargo test --workspace --features postgres`"
            )
        });
        let pg = Postgres::connect(&url).unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at ORM_POSTGRES_URL={url:?}: {e}; \
                 start one with `scripts/with-postgres cargo test --workspace --features postgres`"
            )
        });
        let schema = format!(
            "test_{}_{}",
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::Relaxed)
        );
        pg.batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}"
        ))
        .expect("a schema of its own");
        pg
    }

    /// [`postgres`], as an `AsyncPostgres`: its connection string sets the
    /// schema, so that it holds for whatever the connection runs.
    #[cfg(feature = "tokio")]
    pub async fn async_postgres() -> orm_core::AsyncPostgres {
        let url = std::env::var("ORM_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "the postgres feature is on but ORM_POSTGRES_URL is not set: run the \
                 PostgreSQL tests against a throwaway server with \
                 `scripts/with-postgres cargo test --workspace --all-features`"
            )
        });
        let schema = format!(
            "test_{}_{}",
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::Relaxed)
        );
        let pg =
            orm_core::AsyncPostgres::connect(format!("{url} options='-c search_path={schema}'"))
                .await
                .unwrap_or_else(|e| {
                    panic!("cannot connect to PostgreSQL at ORM_POSTGRES_URL={url:?}: {e}")
                });
        pg.client()
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("a schema of its own");
        pg
    }
}

/// Writes each test once per backend and kind of connection: `fn name(conn)
/// -> R { body }` becomes `sqlite::name`, `postgres::name`, `async_sqlite::name`
/// and `async_postgres::name`, with `conn` a fresh connection (see the
/// module's documentation and `awaited::on_each_backend!`).
#[macro_export]
macro_rules! on_each_backend {
    ($($tests:tt)*) => {
        ::awaited::on_each_backend! { $($tests)* }
    };
}
