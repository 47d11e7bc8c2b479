//! `atomic`: Django's name for a block that commits as a whole or not at all,
//! on every connection of both backends.

use crate::backend::Db;
use crate::error::Result;

/// Runs a closure in a transaction on any connection: `conn.atomic(|tx| ...)`.
/// In scope with `use orm_core::Atomic` (or `use orm_core::*`).
///
/// Committed when the closure returns `Ok`; rolled back when it returns `Err`
/// or panics. Inside another `atomic` (or a transaction of your own) it is a
/// savepoint: an inner failure undoes only the inner block. `Ok` always means
/// committed: on PostgreSQL a statement that failed inside the block (its
/// error ignored) has aborted the transaction, which is then rolled back and
/// reported as [`Error::TransactionAborted`](crate::Error::TransactionAborted); on SQLite, a transaction the
/// database ended by itself (after an I/O or disk-full error) is an error too,
/// and so is each later statement of the block, which would otherwise run,
/// and be committed, outside any transaction.
///
/// ```
/// use orm_core::{Atomic, Model};
/// #[derive(Model, Debug, PartialEq)] struct Acct { id: i64, bal: i64 }
///
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Acct::create_table(&conn)?;
/// conn.atomic(|tx| {
///     Acct { id: 1, bal: 100 }.insert(tx)?;
///     // A nested block is a savepoint: its failure undoes only itself.
///     let inner = tx.atomic(|tx| {
///         Acct { id: 2, bal: 5 }.insert(tx)?;
///         Acct { id: 1, bal: 0 }.insert(tx) // duplicate key: fails
///     });
///     assert!(inner.is_err());
///     Ok(())
/// })?;
/// assert_eq!(Acct::all(&conn)?, [Acct { id: 1, bal: 100 }]);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Atomic: Db {
    /// Runs `f` in a transaction (a savepoint when one is open already).
    fn atomic<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.atomic_with(Begin::Default, f)
    }

    /// Runs `f` in a transaction of the kind `begin` asks for: a block that
    /// will write ([`Begin::Write`]), a read-only snapshot
    /// ([`Begin::ReadSnapshot`]), a serializable one
    /// ([`Begin::Serializable`]). Inside a transaction already open it is
    /// [`Error::NestedBegin`](crate::Error::NestedBegin) (the open
    /// transaction's kind holds; nest with [`atomic`](Atomic::atomic)),
    /// except for [`Begin::Default`], a savepoint as `atomic`'s.
    ///
    /// ```
    /// use orm_core::{Atomic, Begin, Error, Model};
    /// #[derive(Model, Debug, PartialEq)] struct Acct { id: i64, bal: i64 }
    ///
    /// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
    /// Acct::create_table(&conn)?;
    /// conn.atomic_with(Begin::Write, |tx| Acct { id: 1, bal: 100 }.insert(tx))?;
    /// let total = conn.atomic_with(Begin::ReadSnapshot, |tx| {
    ///     // Both reads see the same data; a write here would fail.
    ///     assert!(Acct { id: 2, bal: 1 }.insert(tx).is_err());
    ///     Ok(Acct::all(tx)?.iter().map(|a| a.bal).sum::<i64>())
    /// })?;
    /// assert_eq!(total, 100);
    /// let nested = conn.atomic(|tx| tx.atomic_with(Begin::Write, |_| Ok(())));
    /// assert!(matches!(nested, Err(Error::NestedBegin { .. })));
    /// # Ok::<(), orm_core::Error>(())
    /// ```
    fn atomic_with<T>(&self, begin: Begin, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.__conn().atomic(begin, || f(self))
    }
}

/// The kind of transaction an `atomic_with` block begins
/// ([`Atomic::atomic_with`], `AsyncAtomic::atomic_with`), on both backends.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Begin {
    /// What `atomic` begins: SQLite's deferred `BEGIN` (the write lock is
    /// taken at the block's first write), PostgreSQL's `BEGIN` (`READ
    /// COMMITTED`: each statement sees the data committed when it starts).
    #[default]
    Default,
    /// A block that will write. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`): the block waits for another writer at its start
    /// (the connection's busy timeout) instead of failing with "database is
    /// locked" when it first writes after reading. PostgreSQL: `BEGIN`, as
    /// `atomic`'s (its rows lock as they are written).
    Write,
    /// A read-only snapshot: every statement of the block sees the data as
    /// of its first read, and a write fails. SQLite: `BEGIN` with `PRAGMA
    /// query_only` on until the block ends (off again only if it was off);
    /// PostgreSQL: `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`.
    ReadSnapshot,
    /// As if the blocks ran one after another. PostgreSQL: `BEGIN ISOLATION
    /// LEVEL SERIALIZABLE`, where a conflict with another transaction fails
    /// a statement or the commit with SQLSTATE `40001` (run the block
    /// again); SQLite's transactions always are, and this takes its write
    /// lock at once, as [`Begin::Write`].
    Serializable,
}

impl Begin {
    /// Its name, for [`Error::NestedBegin`](crate::Error::NestedBegin).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Begin::Default => "Default",
            Begin::Write => "Write",
            Begin::ReadSnapshot => "ReadSnapshot",
            Begin::Serializable => "Serializable",
        }
    }

    /// The error for a kind asked for inside an open transaction; `None`
    /// for [`Begin::Default`], a savepoint.
    pub(crate) fn nested(self) -> Option<crate::Error> {
        (self != Begin::Default).then(|| crate::Error::NestedBegin { begin: self.name() })
    }
}

impl<D: Db + ?Sized> Atomic for D {}

/// Runs an async block in a transaction on any async connection:
/// `db.atomic(async |tx| { a.insert(tx).await?; Ok(()) }).await?`. In scope
/// with `use orm_core::AsyncAtomic` (or `use orm_core::*`).
///
/// The same promises as [`Atomic`]: committed when the block returns `Ok`,
/// rolled back when it returns `Err`, panics or is dropped before it ends (a
/// timeout, a client gone); nested calls are savepoints; `Ok` always means
/// committed. `tx` is the connection itself: inside the block, statements
/// on `tx` (or on the connection, from the same task) belong to the
/// transaction, while other tasks' statements on the connection wait until
/// it ends.
#[cfg(feature = "tokio")]
pub trait AsyncAtomic: crate::db::AsyncDb {
    /// Runs `f` in a transaction (a savepoint when one is open already).
    fn atomic<'a, T, F, Fut>(&'a self, f: F) -> crate::db::BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a,
    {
        self.atomic_with(Begin::Default, f)
    }

    /// Runs `f` in a transaction of the kind `begin` asks for, as the sync
    /// [`Atomic::atomic_with`]: `db.atomic_with(Begin::ReadSnapshot, async |tx| ..)`.
    fn atomic_with<'a, T, F, Fut>(
        &'a self,
        begin: Begin,
        f: F,
    ) -> crate::db::BoxFuture<'a, Result<T>>
    where
        F: FnOnce(&'a Self) -> Fut + Send + 'a,
        Fut: std::future::Future<Output = Result<T>> + Send + 'a,
        T: Send + 'a;
}
