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
/// database ended by itself (after an I/O or disk-full error) is an error too.
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
        self.__conn().atomic(|| f(self))
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
        T: Send + 'a;
}
