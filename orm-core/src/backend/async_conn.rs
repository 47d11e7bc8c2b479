//! The async connections' side of the seam: `AsyncConn`, a borrowed async
//! connection of one driver, and its `Exec`, which hands each request to
//! that driver and notes the statement for the task's recording scopes.

use super::{Caps, Ctx, Exec, Param, Row, ScopeKind};
#[cfg(feature = "postgres")]
use crate::backend::postgres;
use crate::backend::sqlite;
#[cfg(feature = "postgres")]
use crate::error::Error;
use crate::error::Result;
use crate::render::Dialect;
use crate::value::Value;

/// A borrowed async connection of one backend: what [`Plan::__async`]
/// (crate::db::Plan) runs on. Not public API.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum AsyncConn<'c> {
    #[doc(hidden)]
    Sqlite(sqlite::thread::Lite<'c>),
    #[doc(hidden)]
    #[cfg(feature = "postgres")]
    Postgres(postgres::nonblocking::Pg<'c>),
}

/// A prepared statement of an [`AsyncConn`], with its text for the
/// task's recording scopes ([`count_queries_async`](crate::count_queries_async)).
#[cfg(feature = "tokio")]
pub(crate) struct AsyncStmt<'c> {
    inner: AsyncStmtInner<'c>,
    sql: Box<str>,
}

#[cfg(feature = "tokio")]
enum AsyncStmtInner<'c> {
    Sqlite(<sqlite::thread::Lite<'c> as Exec>::Stmt),
    #[cfg(feature = "postgres")]
    Postgres(<postgres::nonblocking::Pg<'c> as Exec>::Stmt),
}

/// An open scope of an [`AsyncConn`].
#[cfg(feature = "tokio")]
pub(crate) enum AsyncScope<'c> {
    Sqlite(<sqlite::thread::Lite<'c> as Exec>::Scope),
    #[cfg(feature = "postgres")]
    Postgres(<postgres::nonblocking::Pg<'c> as Exec>::Scope),
}

/// Calls the same method of whichever driver `$self` is.
#[cfg(feature = "tokio")]
macro_rules! dispatch {
    ($self:expr, $conn:ident => $body:expr) => {
        match $self {
            AsyncConn::Sqlite($conn) => $body,
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres($conn) => $body,
        }
    };
}

#[cfg(feature = "tokio")]
impl<'c> Exec for AsyncConn<'c> {
    type Stmt = AsyncStmt<'c>;
    type Scope = AsyncScope<'c>;

    fn dialect(&self) -> Dialect {
        dispatch!(self, c => c.dialect())
    }

    fn caps(&self) -> Result<Caps> {
        dispatch!(self, c => c.caps())
    }

    fn identity(&self) -> usize {
        dispatch!(self, c => c.identity())
    }

    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<AsyncStmt<'c>> {
        let inner = match self {
            AsyncConn::Sqlite(c) => AsyncStmtInner::Sqlite(c.prepare(sql, ctx).await?),
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres(c) => AsyncStmtInner::Postgres(c.prepare(sql, ctx).await?),
        };
        Ok(AsyncStmt {
            inner,
            sql: sql.into(),
        })
    }

    async fn query<F>(
        &self,
        stmt: &mut Self::Stmt,
        params: Vec<Param<'_>>,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.query(s, params, on_row).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => {
                c.query(s, params, on_row).await
            }
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn execute(&self, stmt: &mut Self::Stmt, params: &[Param<'_>]) -> Result<u64> {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.execute(s, params).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => c.execute(s, params).await,
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn execute_values(
        &self,
        stmt: &mut Self::Stmt,
        values: &[Value<'_>],
    ) -> Result<(u64, i64)> {
        crate::guard::note_async(&stmt.sql);
        match (self, &mut stmt.inner) {
            (AsyncConn::Sqlite(c), AsyncStmtInner::Sqlite(s)) => c.execute_values(s, values).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncStmtInner::Postgres(s)) => {
                c.execute_values(s, values).await
            }
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a statement of another connection")),
        }
    }

    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        for statement in sql.split(";\n") {
            crate::guard::note_async(statement);
        }
        dispatch!(self, c => c.batch(sql, ctx).await)
    }

    #[cfg(feature = "postgres")]
    async fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        crate::guard::note_async(copy);
        dispatch!(self, c => c.copy_in(copy, columns, values, ctx).await)
    }

    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<AsyncScope<'c>>> {
        Ok(match self {
            AsyncConn::Sqlite(c) => c.open(kind, ctx).await?.map(AsyncScope::Sqlite),
            #[cfg(feature = "postgres")]
            AsyncConn::Postgres(c) => c.open(kind, ctx).await?.map(AsyncScope::Postgres),
        })
    }

    async fn close(&self, scope: AsyncScope<'c>) -> Result<()> {
        match (self, scope) {
            (AsyncConn::Sqlite(c), AsyncScope::Sqlite(s)) => c.close(s).await,
            #[cfg(feature = "postgres")]
            (AsyncConn::Postgres(c), AsyncScope::Postgres(s)) => c.close(s).await,
            #[cfg(feature = "postgres")]
            _ => Err(Error::Internal("a scope of another connection")),
        }
    }
}
