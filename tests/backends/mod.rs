//! One suite, every backend: `on_each_backend!` writes each test once per
//! backend, SQLite (in memory) and, with the `postgres` feature, PostgreSQL
//! (a schema of its own per test, on the server `ORM_POSTGRES_URL` names;
//! `scripts/with-postgres` starts a throwaway one).
#![allow(dead_code)]

use orm_core::rusqlite::Connection;
use orm_core::{Db, Model, Recordable, Row};

/// What a test needs of a connection besides the library's own functions.
pub trait Backend: Db + Recordable + Sized {
    /// `sqlite` or `postgres`.
    const NAME: &'static str;

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

impl Backend for Connection {
    const NAME: &'static str = "sqlite";

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

#[cfg(feature = "postgres")]
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

    impl super::Backend for Postgres {
        const NAME: &'static str = "postgres";

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

/// Writes each test once per backend: `fn name(conn) -> R { body }` becomes
/// `sqlite::name` and `postgres::name`, with `conn` a fresh connection.
#[macro_export]
macro_rules! on_each_backend {
    ($($(#[$meta:meta])* fn $name:ident($conn:ident) -> $ret:ty $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() -> $ret {
                    #[allow(unused_mut)]
                    let mut $conn = $crate::backends::sqlite();
                    $body
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[test]
                fn $name() -> $ret {
                    #[allow(unused_mut)]
                    let mut $conn = $crate::backends::postgres();
                    $body
                }
            )*
        }
    };
}
