//! A block's transaction on a SQLite connection, or its savepoint inside
//! one: what the sync `atomic` runs, and the async driver on its thread.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::Begin;

/// Savepoint names, unique within the process.
static SAVEPOINTS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The connections (by address) inside a block's transaction on this
    /// thread: a connection is not `Sync`, so the block's statements run
    /// on the thread that began it (the async driver's own thread).
    static OPEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

fn address(conn: &rusqlite::Connection) -> usize {
    std::ptr::from_ref(conn) as usize
}

/// What a block's statement, or its end, meets once SQLite has rolled the
/// block's transaction back by itself (an I/O or disk-full error, an `ON
/// CONFLICT ROLLBACK`, its error ignored by the block).
pub(crate) fn lost() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the transaction was rolled back by SQLite before the block ended".into()),
    )
}

/// Refuses a statement of a block whose transaction SQLite rolled back by
/// itself: run outside any transaction, it would be committed at once,
/// while the block then fails.
#[inline]
pub(crate) fn check(conn: &rusqlite::Connection) -> std::result::Result<(), rusqlite::Error> {
    let inside = OPEN.with(|open| {
        let open = open.borrow();
        !open.is_empty() && open.contains(&address(conn))
    });
    if inside && conn.is_autocommit() {
        return Err(lost());
    }
    Ok(())
}

fn enter(conn: &rusqlite::Connection) {
    OPEN.with(|open| open.borrow_mut().push(address(conn)));
}

fn leave(conn: &rusqlite::Connection) {
    let conn = address(conn);
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        if let Some(at) = open.iter().rposition(|&c| c == conn) {
            open.swap_remove(at);
        }
    });
}

/// A block's transaction on a SQLite connection, or its savepoint inside
/// one: what the sync `atomic` runs, and the async driver on its thread.
pub(crate) struct SqliteBlock {
    savepoint: Option<String>,
    /// Read by the async driver's recording of the block's statements.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    begin: Begin,
    /// Whether the block turned `query_only` on, and turns it off again
    /// when it ends (not when the connection was read-only already).
    read_only: bool,
}

/// Reads `PRAGMA query_only`: a connection made read-only by its user
/// stays so after a read-only block.
const IS_READ_ONLY: &str = "PRAGMA query_only";

/// Turns `PRAGMA query_only` on for a read-only block ([`Begin::ReadSnapshot`]).
const READ_ONLY: &str = "PRAGMA query_only = ON";
/// Turns it off again, however the block ends.
const WRITABLE: &str = "PRAGMA query_only = OFF";

impl SqliteBlock {
    /// The transaction `begin` asks for (`BEGIN`; `BEGIN IMMEDIATE` for a
    /// block that will write; with `query_only` on for a read-only
    /// snapshot), or inside a transaction a savepoint of a name of its own,
    /// which only [`Begin::Default`] may ask for.
    pub(crate) fn begin(conn: &rusqlite::Connection, begin: Begin) -> Result<Self> {
        check(conn)?;
        let mut read_only = false;
        let savepoint = if conn.is_autocommit() {
            conn.execute_batch(Self::begin_sql(begin))?;
            if begin == Begin::ReadSnapshot {
                let turned_on = conn
                    .query_row(IS_READ_ONLY, [], |row| row.get::<_, bool>(0))
                    .and_then(|on| {
                        if !on {
                            conn.execute_batch(READ_ONLY)?;
                        }
                        Ok(!on)
                    });
                match turned_on {
                    Ok(on) => read_only = on,
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        return Err(e.into());
                    }
                }
            }
            enter(conn);
            None
        } else {
            if let Some(nested) = begin.nested() {
                return Err(nested);
            }
            let name = format!("orm_{}", SAVEPOINTS.fetch_add(1, Ordering::Relaxed));
            conn.execute_batch(&format!("SAVEPOINT \"{name}\""))?;
            Some(name)
        };
        Ok(SqliteBlock {
            savepoint,
            begin,
            read_only,
        })
    }

    fn begin_sql(begin: Begin) -> &'static str {
        match begin {
            Begin::Write | Begin::Serializable => "BEGIN IMMEDIATE",
            Begin::Default | Begin::ReadSnapshot => "BEGIN",
        }
    }

    /// Whether the block turned `query_only` on (a read-only transaction
    /// on a connection that was writable).
    fn read_only(&self) -> bool {
        self.savepoint.is_none() && self.read_only
    }

    /// Turns `query_only` off again after a read-only transaction.
    fn writable(&self, conn: &rusqlite::Connection) -> Result<()> {
        if self.read_only() {
            conn.execute_batch(WRITABLE)?;
        }
        Ok(())
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
                    source: crate::DbError::Sqlite(lost()),
                })
            }
            None => {
                // Writable again before the commit, so that a failure to
                // turn it back is the block's error, nothing committed.
                self.writable(conn)?;
                conn.execute_batch("COMMIT")?;
                leave(conn);
            }
        }
        Ok(())
    }

    /// The statements [`begin`](SqliteBlock::begin) ran, as a sync
    /// connection's recording sees them: an async block notes them for
    /// `record_queries_async` on the task.
    #[cfg(feature = "tokio")]
    pub(crate) fn begun(&self) -> Vec<String> {
        match &self.savepoint {
            Some(name) => vec![format!("SAVEPOINT \"{name}\"")],
            None if self.read_only() => vec![
                Self::begin_sql(self.begin).to_owned(),
                IS_READ_ONLY.to_owned(),
                READ_ONLY.to_owned(),
            ],
            None if self.begin == Begin::ReadSnapshot => vec![
                Self::begin_sql(self.begin).to_owned(),
                IS_READ_ONLY.to_owned(),
            ],
            None => vec![Self::begin_sql(self.begin).to_owned()],
        }
    }

    /// The statements [`commit`](SqliteBlock::commit) runs, as
    /// [`begun`](SqliteBlock::begun) gives them.
    #[cfg(feature = "tokio")]
    pub(crate) fn committing(&self) -> Vec<String> {
        match &self.savepoint {
            Some(name) => vec![format!("RELEASE \"{name}\"")],
            None if self.read_only() => vec![WRITABLE.to_owned(), "COMMIT".to_owned()],
            None => vec!["COMMIT".to_owned()],
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
            None if self.read_only() => vec!["ROLLBACK".to_owned(), WRITABLE.to_owned()],
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
        // On again for the connection's next user whatever happened above.
        let _ = self.writable(conn);
        if self.savepoint.is_none() {
            leave(conn);
        }
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

/// The sync `atomic_with` on a SQLite connection.
pub(crate) fn atomic<T>(
    conn: &rusqlite::Connection,
    begin: Begin,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let mut undo = Undo {
        conn,
        block: SqliteBlock::begin(conn, begin)?,
        done: false,
    };
    let out = f()?;
    undo.block.commit(conn)?;
    undo.done = true;
    Ok(out)
}
