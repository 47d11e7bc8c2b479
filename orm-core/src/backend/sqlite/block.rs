//! A block's transaction on a SQLite connection, or its savepoint inside
//! one: what the sync `atomic` runs, and the async driver on its thread.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Savepoint names, unique within the process.
static SAVEPOINTS: AtomicU64 = AtomicU64::new(0);

/// A block's transaction on a SQLite connection, or its savepoint inside
/// one: what the sync `atomic` runs, and the async driver on its thread.
pub(crate) struct SqliteBlock {
    savepoint: Option<String>,
}

impl SqliteBlock {
    /// `BEGIN`, or inside a transaction a savepoint of a name of its own.
    pub(crate) fn begin(conn: &rusqlite::Connection) -> Result<Self> {
        let savepoint = if conn.is_autocommit() {
            conn.execute_batch("BEGIN")?;
            None
        } else {
            let name = format!("orm_{}", SAVEPOINTS.fetch_add(1, Ordering::Relaxed));
            conn.execute_batch(&format!("SAVEPOINT \"{name}\""))?;
            Some(name)
        };
        Ok(SqliteBlock { savepoint })
    }

    /// Commits the block (releases its savepoint). When this fails the
    /// block is still open: [`rollback`](SqliteBlock::rollback) it.
    pub(crate) fn commit(&self, conn: &rusqlite::Connection) -> Result<()> {
        match &self.savepoint {
            Some(name) => conn.execute_batch(&format!("RELEASE \"{name}\""))?,
            // SQLite rolled the transaction back by itself (an I/O or
            // disk-full error inside the block, its error ignored).
            None if conn.is_autocommit() => {
                return Err(Error::Query {
                    model: "atomic",
                    table: "(transaction)",
                    source: crate::DbError::Sqlite(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                        Some(
                            "the transaction was rolled back by SQLite before the block ended"
                                .into(),
                        ),
                    )),
                })
            }
            None => conn.execute_batch("COMMIT")?,
        }
        Ok(())
    }

    /// The statements [`begin`](SqliteBlock::begin) ran, as a sync
    /// connection's recording sees them: an async block notes them for
    /// `record_queries_async` on the task.
    #[cfg(feature = "tokio")]
    pub(crate) fn begun(&self) -> String {
        match &self.savepoint {
            Some(name) => format!("SAVEPOINT \"{name}\""),
            None => "BEGIN".to_owned(),
        }
    }

    /// The statements [`commit`](SqliteBlock::commit) runs, as
    /// [`begun`](SqliteBlock::begun) gives them.
    #[cfg(feature = "tokio")]
    pub(crate) fn committing(&self) -> String {
        match &self.savepoint {
            Some(name) => format!("RELEASE \"{name}\""),
            None => "COMMIT".to_owned(),
        }
    }

    /// The statements [`rollback`](SqliteBlock::rollback) runs, as
    /// [`begun`](SqliteBlock::begun) gives them.
    #[cfg(feature = "tokio")]
    pub(crate) fn rolling_back(&self) -> Vec<String> {
        match &self.savepoint {
            // The second as SQLite traces it: the batch's text after `;`.
            Some(name) => vec![
                format!("ROLLBACK TO \"{name}\""),
                format!(" RELEASE \"{name}\""),
            ],
            None => vec!["ROLLBACK".to_owned()],
        }
    }

    /// Undoes the block: after an `Err`, a panic or a failed commit.
    pub(crate) fn rollback(&self, conn: &rusqlite::Connection) {
        // The block's own error (or panic) is what the caller sees; a failed
        // rollback leaves SQLite's transaction as it is, which the next
        // `atomic` or the pool's check then finds.
        let _ = match &self.savepoint {
            Some(name) => {
                conn.execute_batch(&format!("ROLLBACK TO \"{name}\"; RELEASE \"{name}\""))
            }
            None if !conn.is_autocommit() => conn.execute_batch("ROLLBACK"),
            None => Ok(()),
        };
    }
}

/// Undoes the block unless it finished: after an `Err` or a panic.
struct Undo<'c> {
    conn: &'c rusqlite::Connection,
    block: SqliteBlock,
    done: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.block.rollback(self.conn);
        }
    }
}

pub(crate) fn atomic<T>(conn: &rusqlite::Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut undo = Undo {
        conn,
        block: SqliteBlock::begin(conn)?,
        done: false,
    };
    let out = f()?;
    undo.block.commit(conn)?;
    undo.done = true;
    Ok(out)
}
