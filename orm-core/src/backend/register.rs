//! `drivers!`: the registration of the drivers, and everything that lists
//! them. From one line per driver it writes the variants of [`Conn`] (sync
//! drivers) and `AsyncConn` (async ones), of their statements and scopes,
//! and of the rows a plan reads, and the `match`es that hand each call to
//! the driver it is for. Nothing else in the crate names a driver's variant.

/// `Registered` for one driver whose rows are `RowInner::$name`: the same
/// for a sync driver and an async one.
macro_rules! registered {
    ($name:ident($driver:ty)) => {
        impl Registered for $driver {
            #[inline(always)]
            fn row<'r>(row: Self::Row<'r>) -> Row<'r> {
                Row {
                    inner: RowInner::$name(row),
                }
            }
            #[allow(unreachable_patterns)]
            fn unrow<'a, 'r>(row: &'a Row<'r>) -> Option<&'a Self::Row<'r>> {
                match &row.inner {
                    RowInner::$name(row) => Some(row),
                    _ => None,
                }
            }
        }
    };
}

/// Registers the drivers: `sync { Name(path::Driver), ... }` for
/// [`SyncDriver`](super::SyncDriver)s, `async { Name(path::Driver), ... }`
/// for [`AsyncDriver`](super::AsyncDriver)s, each with an optional
/// `#[cfg(..)]`.
macro_rules! drivers {
    (
        sync { $($(#[cfg($sc:meta)])? $sync:ident($sd:ty),)+ }
        async { $($(#[cfg($ac:meta)])? $asy:ident($ad:ty),)+ }
    ) => {
        /// A borrowed sync connection of one driver: what a plan runs on
        /// when the connection is a [`Db`]. Not public API.
        #[doc(hidden)]
        #[derive(Clone, Copy)]
        pub struct Conn<'c>(ConnInner<'c>);

        #[derive(Clone, Copy)]
        enum ConnInner<'c> {
            $($(#[cfg($sc)])? $sync(<$sd as SyncDriver>::Conn<'c>),)+
        }

        /// A prepared statement of a [`Conn`].
        pub(crate) enum ConnStmt<'c> {
            $($(#[cfg($sc)])? $sync(conn::Stmt<'c, $sd>),)+
        }

        /// An open scope of a [`Conn`].
        pub(crate) enum ConnScope<'c> {
            $($(#[cfg($sc)])? $sync(conn::Scope<'c, $sd>),)+
        }

        /// A row of any driver.
        enum RowInner<'r> {
            $($(#[cfg($sc)])? $sync(<$sd as Driver>::Row<'r>),)+
            $($(#[cfg($ac)])? $asy(<$ad as Driver>::Row<'r>),)+
        }

        $(
            $(#[cfg($sc)])?
            registered!($sync($sd));
            $(#[cfg($sc)])?
            impl RegisteredSync for $sd {
                #[inline(always)]
                fn conn(conn: Self::Conn<'_>) -> Conn<'_> {
                    Conn(ConnInner::$sync(conn))
                }
            }
        )+
        $(
            $(#[cfg($ac)])?
            registered!($asy($ad));
            $(#[cfg($ac)])?
            impl RegisteredAsync for $ad {
                #[inline(always)]
                fn conn(conn: Self::Conn<'_>) -> AsyncConn<'_> {
                    AsyncConn(AsyncConnInner::$asy(conn))
                }
            }
        )+

        impl RowInner<'_> {
            #[inline(always)]
            fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
                match self {
                    $($(#[cfg($sc)])? RowInner::$sync(row) => row.value(index),)+
                    $($(#[cfg($ac)])? RowInner::$asy(row) => row.value(index),)+
                }
            }

            // Converted in each arm, so each driver's read and the
            // conversion fuse into one match: through `value`, a value from
            // any driver would be matched once more to convert it (60
            // instructions a row of four on SQLite with the `postgres`
            // feature on).
            #[inline(always)]
            fn get<T: SqlType>(&self, index: usize) -> Result<T, ValueError> {
                match self {
                    $($(#[cfg($sc)])? RowInner::$sync(row) => T::from_value(row.value(index)?),)+
                    $($(#[cfg($ac)])? RowInner::$asy(row) => T::from_value(row.value(index)?),)+
                }
            }

            fn affinity(&self, index: usize) -> sqlite::Affinity {
                match self {
                    $($(#[cfg($sc)])? RowInner::$sync(row) => row.affinity(index),)+
                    $($(#[cfg($ac)])? RowInner::$asy(row) => row.affinity(index),)+
                }
            }
        }

        impl<'c> Conn<'c> {
            /// The same connection, borrowed for less long (`Conn` is
            /// invariant: its variants are named through the drivers).
            #[inline(always)]
            pub(crate) fn reborrow(&self) -> Conn<'_> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => Conn(ConnInner::$sync(c)),)+
                }
            }

            /// Identifies the connection (the same for a connection and its
            /// transactions) while it is borrowed.
            pub(crate) fn identity(&self) -> usize {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => <$sd as SyncDriver>::identity(c),)+
                }
            }

            /// Runs `f` in a transaction of the kind `begin` asks for (a
            /// savepoint inside one).
            pub(crate) fn atomic<T>(
                self,
                begin: crate::Begin,
                f: impl FnOnce() -> Result<T>,
            ) -> Result<T> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => <$sd as SyncDriver>::atomic(c, begin, f),)+
                }
            }
        }

        // The sync drivers answer every request at once (`conn.rs` holds
        // their statements' and scopes' common part): a plan run on a
        // `Conn` completes in its first poll.
        impl<'c> Exec for Conn<'c> {
            type Stmt = ConnStmt<'c>;
            type Scope = ConnScope<'c>;

            fn dialect(&self) -> Dialect {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(_) => <$sd as SyncDriver>::DIALECT,)+
                }
            }

            fn caps(&self) -> Result<Caps> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => <$sd as SyncDriver>::caps(c),)+
                }
            }

            fn identity(&self) -> usize {
                Conn::identity(self)
            }

            async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<ConnStmt<'c>> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => {
                        conn::Stmt::<$sd>::prepare(c, sql, ctx).map(ConnStmt::$sync)
                    })+
                }
            }

            async fn query<F>(
                &self,
                stmt: &mut ConnStmt<'c>,
                params: Vec<Param<'_>>,
                on_row: F,
            ) -> Result<usize>
            where
                F: FnMut(&Row<'_>) -> Result<()>,
            {
                match stmt {
                    $($(#[cfg($sc)])? ConnStmt::$sync(s) => s.query(params, on_row),)+
                }
            }

            async fn execute(&self, stmt: &mut ConnStmt<'c>, params: &[Param<'_>]) -> Result<u64> {
                match stmt {
                    $($(#[cfg($sc)])? ConnStmt::$sync(s) => s.execute(params),)+
                }
            }

            async fn execute_values(
                &self,
                stmt: &mut ConnStmt<'c>,
                values: &[Value<'_>],
            ) -> Result<(u64, i64)> {
                match stmt {
                    $($(#[cfg($sc)])? ConnStmt::$sync(s) => {
                        Ok((s.execute_values(values)?, s.last_insert_rowid()))
                    })+
                }
            }

            async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => conn::batch::<$sd>(c, sql, ctx),)+
                }
            }

            #[cfg(feature = "postgres")]
            async fn copy_in(
                &self,
                copy: &str,
                columns: &str,
                values: &[Value<'_>],
                ctx: Ctx,
            ) -> Result<u64> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => {
                        conn::copy_in::<$sd>(c, copy, columns, values, ctx)
                    })+
                }
            }

            async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<ConnScope<'c>>> {
                match self.0 {
                    $($(#[cfg($sc)])? ConnInner::$sync(c) => {
                        Ok(conn::Scope::<$sd>::open(c, kind, ctx)?.map(ConnScope::$sync))
                    })+
                }
            }

            async fn close(&self, scope: ConnScope<'c>) -> Result<()> {
                match scope {
                    $($(#[cfg($sc)])? ConnScope::$sync(s) => s.close(),)+
                }
            }
        }
        /// A borrowed async connection of one driver: what
        /// [`Plan::__async`](crate::db::Plan) runs on. Not public API.
        #[cfg(feature = "tokio")]
        #[doc(hidden)]
        #[derive(Clone, Copy)]
        pub struct AsyncConn<'c>(AsyncConnInner<'c>);

        #[cfg(feature = "tokio")]
        #[derive(Clone, Copy)]
        enum AsyncConnInner<'c> {
            $($(#[cfg($ac)])? $asy(<$ad as AsyncDriver>::Conn<'c>),)+
        }

        /// A prepared statement of an [`AsyncConn`], with its text for the
        /// task's recording scopes.
        #[cfg(feature = "tokio")]
        pub(crate) struct AsyncStmt<'c> {
            inner: AsyncStmtInner<'c>,
            sql: Box<str>,
        }

        #[cfg(feature = "tokio")]
        enum AsyncStmtInner<'c> {
            $($(#[cfg($ac)])? $asy(<<$ad as AsyncDriver>::Conn<'c> as Exec>::Stmt),)+
        }

        /// An open scope of an [`AsyncConn`].
        #[cfg(feature = "tokio")]
        pub(crate) enum AsyncScope<'c> {
            $($(#[cfg($ac)])? $asy(<<$ad as AsyncDriver>::Conn<'c> as Exec>::Scope),)+
        }

        // Each call handed to the driver, the statement noted for the
        // task's recording scopes. A statement or scope of another
        // connection than the one given can only be the crate's mistake.
        #[cfg(feature = "tokio")]
        #[allow(unreachable_patterns)]
        impl<'c> Exec for AsyncConn<'c> {
            type Stmt = AsyncStmt<'c>;
            type Scope = AsyncScope<'c>;

            fn dialect(&self) -> Dialect {
                match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => c.dialect(),)+
                }
            }

            fn caps(&self) -> Result<Caps> {
                match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => c.caps(),)+
                }
            }

            fn identity(&self) -> usize {
                match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => c.identity(),)+
                }
            }

            async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<AsyncStmt<'c>> {
                let inner = match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => {
                        AsyncStmtInner::$asy(c.prepare(sql, ctx).await?)
                    })+
                };
                Ok(AsyncStmt { inner, sql: sql.into() })
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
                match (self.0, &mut stmt.inner) {
                    $($(#[cfg($ac)])? (AsyncConnInner::$asy(c), AsyncStmtInner::$asy(s)) => {
                        c.query(s, params, on_row).await
                    })+
                    _ => Err(Error::Internal("a statement of another connection")),
                }
            }

            async fn execute(&self, stmt: &mut Self::Stmt, params: &[Param<'_>]) -> Result<u64> {
                crate::guard::note_async(&stmt.sql);
                match (self.0, &mut stmt.inner) {
                    $($(#[cfg($ac)])? (AsyncConnInner::$asy(c), AsyncStmtInner::$asy(s)) => {
                        c.execute(s, params).await
                    })+
                    _ => Err(Error::Internal("a statement of another connection")),
                }
            }

            async fn execute_values(
                &self,
                stmt: &mut Self::Stmt,
                values: &[Value<'_>],
            ) -> Result<(u64, i64)> {
                crate::guard::note_async(&stmt.sql);
                match (self.0, &mut stmt.inner) {
                    $($(#[cfg($ac)])? (AsyncConnInner::$asy(c), AsyncStmtInner::$asy(s)) => {
                        c.execute_values(s, values).await
                    })+
                    _ => Err(Error::Internal("a statement of another connection")),
                }
            }

            async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
                for statement in sql.split(";\n") {
                    crate::guard::note_async(statement);
                }
                match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => c.batch(sql, ctx).await,)+
                }
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
                match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => {
                        c.copy_in(copy, columns, values, ctx).await
                    })+
                }
            }

            async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<AsyncScope<'c>>> {
                Ok(match self.0 {
                    $($(#[cfg($ac)])? AsyncConnInner::$asy(c) => {
                        c.open(kind, ctx).await?.map(AsyncScope::$asy)
                    })+
                })
            }

            async fn close(&self, scope: AsyncScope<'c>) -> Result<()> {
                match (self.0, scope) {
                    $($(#[cfg($ac)])? (AsyncConnInner::$asy(c), AsyncScope::$asy(s)) => {
                        c.close(s).await
                    })+
                    _ => Err(Error::Internal("a scope of another connection")),
                }
            }
        }
    };
}
