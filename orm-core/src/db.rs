//! One generated function for sync and async connections.
//!
//! Every function of a model takes `db: &impl` [`Database`] and returns
//! [`Out<'_, D, T>`](Out): the connection's [`Mode`] decides what that is. A
//! sync connection ([`Db`]: rusqlite's, [`Postgres`](crate::Postgres),
//! [`AnyDb`](crate::AnyDb), a pooled one) is [`Blocking`]: the call runs and
//! returns [`Result<T>`](crate::Result). An async one (`AsyncDb`, feature
//! `tokio`) is `Async`: the call returns a `Send` future of `Result<T>` to
//! `.await`. Forgetting the `.await` is a compile error (`?` on a future).
//!
//! Underneath, the function builds a [`Plan`]: the work (render, bind, read
//! rows, group them) as an `async fn` generic over the crate's driver seam,
//! never naming a driver. A sync connection answers each of its requests at
//! once, so the plan finishes in one poll; an async one awaits its driver.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use crate::backend::Conn;
use crate::error::{Error, Result};

/// How a connection returns what it ran: a [`Result`](crate::Result) for a
/// sync connection ([`Blocking`]), a future of one for an async connection
/// (`Async`). Sealed.
pub trait Mode: crate::sealed::Sealed + 'static {
    /// What a call returns: `Result<T>`, or a future of it.
    type Out<'a, T: Send + 'a>;
    #[doc(hidden)]
    fn __ready<'a, T: Send + 'a>(value: Result<T>) -> Self::Out<'a, T>;
    #[doc(hidden)]
    fn __then<'a, T: Send + 'a, U: Send + 'a>(
        out: Self::Out<'a, T>,
        f: impl FnOnce(T) -> Result<U> + Send + 'a,
    ) -> Self::Out<'a, U>;
}

/// The [`Mode`] of sync connections: a call returns `Result<T>`.
#[derive(Debug)]
pub enum Blocking {}

impl crate::sealed::Sealed for Blocking {}
impl Mode for Blocking {
    type Out<'a, T: Send + 'a> = Result<T>;

    fn __ready<'a, T: Send + 'a>(value: Result<T>) -> Result<T> {
        value
    }

    fn __then<'a, T: Send + 'a, U: Send + 'a>(
        out: Result<T>,
        f: impl FnOnce(T) -> Result<U> + Send + 'a,
    ) -> Result<U> {
        out.and_then(f)
    }
}

/// A future of a result, as async connections return them: `Send`, so that
/// it runs in `tokio::spawn` and in a web framework's handlers.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The [`Mode`] of async connections: a call returns a `Send` future of
/// `Result<T>`.
#[derive(Debug)]
pub enum Async {}

impl crate::sealed::Sealed for Async {}
impl Mode for Async {
    type Out<'a, T: Send + 'a> = BoxFuture<'a, Result<T>>;

    fn __ready<'a, T: Send + 'a>(value: Result<T>) -> Self::Out<'a, T> {
        Box::pin(std::future::ready(value))
    }

    fn __then<'a, T: Send + 'a, U: Send + 'a>(
        out: Self::Out<'a, T>,
        f: impl FnOnce(T) -> Result<U> + Send + 'a,
    ) -> Self::Out<'a, U> {
        Box::pin(async move { f(out.await?) })
    }
}

/// What a function of a model returns on connection `D`: `Result<T>` on a
/// sync connection, a future of it on an async one.
pub type Out<'a, D, T> = <<D as Database>::Mode as Mode>::Out<'a, T>;

/// Any connection, sync or async: what every function of a model takes.
///
/// Its [`Mode`] says what a call returns. Write helpers over [`Db`](crate::Db) (sync)
/// or `AsyncDb` (async) to get plain types back; over `Database` itself, a
/// helper returns [`Out`]:
///
/// ```
/// use orm_core::{Database, Model, Out};
/// #[derive(Model)] struct Note { id: i64 }
///
/// // Works on every connection: `?` it on a sync one, `.await?` on an async one.
/// fn notes<D: Database + ?Sized>(db: &D) -> Out<'_, D, Vec<Note>> {
///     Note::all(db)
/// }
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Note::create_table(&conn)?;
/// assert!(notes(&conn)?.is_empty());
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Database: crate::sealed::Sealed {
    /// Sync ([`Blocking`]) or async (`Async`).
    type Mode: Mode;
    #[doc(hidden)]
    fn __run<'a, P: Plan + 'a>(&'a self, plan: P) -> Out<'a, Self, P::Output>;
}

/// The work of one call, to run on any connection. Not public API.
#[doc(hidden)]
pub trait Plan: Sized {
    /// What the call returns.
    type Output: Send;
    /// Runs on a sync connection.
    fn __sync(self, conn: Conn<'_>) -> Result<Self::Output>;
    /// Runs on an async connection.
    #[cfg(feature = "tokio")]
    fn __async<'a>(
        self,
        conn: crate::backend::AsyncConn<'a>,
    ) -> BoxFuture<'a, Result<Self::Output>>
    where
        Self: 'a;
}

/// Implements [`Plan`]'s methods over an `async fn run<E: Exec>(self, e: &E)`
/// of the plan's own, so each connection kind gets its own instance of it.
macro_rules! plan_methods {
    () => {
        fn __sync(self, conn: crate::backend::Conn<'_>) -> crate::Result<Self::Output> {
            crate::db::block_on(self.run(&conn))
        }
        #[cfg(feature = "tokio")]
        fn __async<'p>(
            self,
            conn: crate::backend::AsyncConn<'p>,
        ) -> crate::db::BoxFuture<'p, crate::Result<Self::Output>>
        where
            Self: 'p,
        {
            Box::pin(async move { self.run(&conn).await })
        }
    };
}
pub(crate) use plan_methods;

/// Runs a plan on a sync connection: its requests are answered at once, so
/// it completes in its first poll.
///
/// Inlined into each plan's `__sync`, so that the plan's future is built
/// where it is pinned: called, it was built in the caller's frame and copied
/// into this one (a `memcpy` of the whole state machine: about 420
/// instructions a call, 0.7-1.4% of the one-row accessor's on SQLite).
#[inline(always)]
pub(crate) fn block_on<T>(plan: impl Future<Output = Result<T>>) -> Result<T> {
    let mut plan = pin!(plan);
    match plan.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        // A sync connection never makes a plan wait.
        Poll::Pending => Err(Error::Internal("a sync connection made a plan wait")),
    }
}

/// Implements [`Database`] for sync connection types: [`Blocking`], each
/// plan run on the connection [`Db::__conn`] gives.
macro_rules! blocking {
    ($(impl$(<$($g:tt),*>)? for $ty:ty $(where [$($w:tt)*])?;)+) => {$(
        impl$(<$($g),*>)? crate::db::Database for $ty $(where $($w)*)? {
            type Mode = crate::db::Blocking;
            fn __run<'a, P: crate::db::Plan + 'a>(&'a self, plan: P) -> crate::Result<P::Output> {
                plan.__sync(crate::backend::Db::__conn(self))
            }
        }
    )+};
}
pub(crate) use blocking;

/// An async connection (feature `tokio`): `AsyncSqlite`, with `postgres`
/// also `AsyncPostgres` and `AsyncAnyDb`, and their pooled connections.
/// Its [`Mode`] is [`Async`]: every function of a model returns a `Send`
/// future of `Result<T>` on it.
///
/// Write helpers over it to get plain futures back:
/// `async fn notes(db: &impl AsyncDb) -> Result<Vec<Note>> { Note::all(db).await }`.
#[cfg(feature = "tokio")]
pub trait AsyncDb: Database<Mode = Async> + Send + Sync {}

#[cfg(feature = "tokio")]
impl<T: Database<Mode = Async> + Send + Sync + ?Sized> AsyncDb for T {}
