//! A third sync driver, for the tests only: the proof that a driver is its
//! directory and one line in `drivers!`. It speaks SQLite through rusqlite
//! (the renderer knows that dialect) but is a driver of its own: its own
//! connection type, statements, rows, scopes and `atomic`, and it counts
//! what it is asked, so that a test sees every call went through it.

use std::cell::Cell;

use rusqlite::{CachedStatement, Connection};

use crate::backend::sqlite::{self, Affinity};
use crate::backend::{
    Caps, Conn, Ctx, Db, DriverRow, Param, Registered, RegisteredSync, Row, ScopeKind, SyncDriver,
};
use crate::dialect::Dialect;
use crate::error::{DbError, Result};
use crate::value::{Value, ValueError};

/// A connection of the probe driver: a rusqlite connection and a count of
/// the statements it ran and the rows it handed out.
pub(crate) struct Probe {
    pub(crate) conn: Connection,
    pub(crate) statements: Cell<usize>,
    pub(crate) rows: Cell<usize>,
}

impl Probe {
    pub(crate) fn open() -> Self {
        Probe {
            conn: Connection::open_in_memory().expect("an in-memory database"),
            statements: Cell::new(0),
            rows: Cell::new(0),
        }
    }
}

/// The driver.
pub(crate) struct Driver;

/// A row of the probe driver: rusqlite's, read by its own rules.
pub(crate) struct ProbeRow<'r>(&'r rusqlite::Row<'r>);

impl DriverRow for ProbeRow<'_> {
    fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        sqlite::value(self.0, index)
    }

    fn affinity(&self, index: usize) -> Affinity {
        sqlite::affinity(self.0, index)
    }
}

impl crate::backend::Driver for Driver {
    type Row<'r> = ProbeRow<'r>;
}

impl SyncDriver for Driver {
    const SYSTEM: &'static str = "probe";
    const DIALECT: Dialect = Dialect::Sqlite;
    const KEEPS_TEXT: bool = true;

    type Conn<'c> = &'c Probe;
    type Stmt<'c> = CachedStatement<'c>;

    fn caps(probe: Self::Conn<'_>) -> Result<Caps> {
        sqlite::variable_limit(&probe.conn).map(Caps::Variables)
    }

    fn identity(probe: Self::Conn<'_>) -> usize {
        std::ptr::from_ref::<Probe>(probe) as usize
    }

    fn prepare<'c>(probe: Self::Conn<'c>, sql: &str, ctx: &Ctx) -> Result<Self::Stmt<'c>> {
        probe
            .conn
            .prepare_cached(sql)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn query<'c, F>(
        probe: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        _: &str,
        params: Vec<Param<'_>>,
        ctx: &Ctx,
        mut on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        probe.statements.set(probe.statements.get() + 1);
        let wrap = |e| ctx.error(DbError::Sqlite(e));
        sqlite::bind(stmt, &params).map_err(wrap)?;
        let mut rows = stmt.raw_query();
        let mut n = 0;
        while let Some(row) = rows.next().map_err(wrap)? {
            n += 1;
            probe.rows.set(probe.rows.get() + 1);
            on_row(&Driver::row(ProbeRow(row)))?;
        }
        Ok(n)
    }

    fn execute<'c>(
        probe: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        _: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        probe.statements.set(probe.statements.get() + 1);
        sqlite::bind(stmt, params)
            .and_then(|()| stmt.raw_execute())
            .map(|n| n as u64)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn last_insert_rowid(probe: Self::Conn<'_>) -> i64 {
        probe.conn.last_insert_rowid()
    }

    fn batch(probe: Self::Conn<'_>, sql: &str, ctx: &Ctx) -> Result<()> {
        probe.statements.set(probe.statements.get() + 1);
        probe
            .conn
            .execute_batch(sql)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn scope(probe: Self::Conn<'_>, kind: ScopeKind) -> Option<[&'static str; 3]> {
        (kind.several() && probe.conn.is_autocommit()).then_some(["BEGIN", "COMMIT", "ROLLBACK"])
    }

    fn run_own(probe: Self::Conn<'_>, sql: &str, ctx: &Ctx) -> Result<()> {
        probe
            .conn
            .execute_batch(sql)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn atomic<T>(
        probe: Self::Conn<'_>,
        begin: crate::Begin,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        sqlite::block::atomic(&probe.conn, begin, f)
    }
}

impl crate::sealed::Sealed for Probe {}
impl Db for Probe {
    fn __conn(&self) -> Conn<'_> {
        Driver::conn(self)
    }
}
crate::db::blocking! {
    impl for Probe;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Atomic as _, ForeignKey, Model};

    #[derive(crate::Model, Debug, Clone, PartialEq)]
    struct Shelf {
        id: i64,
        name: String,
    }

    #[derive(crate::Model, Debug, Clone, PartialEq)]
    struct Tome {
        id: i64,
        title: String,
        #[foreign_key(related_name = "tomes")]
        shelf: ForeignKey<Shelf>,
    }

    #[test]
    fn a_third_driver_runs_every_kind_of_call() -> Result<()> {
        let db = Probe::open();
        Shelf::create_table(&db)?;
        Tome::create_table(&db)?;
        let shelves: Vec<Shelf> = (1..=3)
            .map(|id| Shelf {
                id,
                name: format!("shelf {id}"),
            })
            .collect();
        Shelf::insert_all(&db, &shelves)?;
        db.atomic(|tx| {
            for id in 1..=5 {
                Tome {
                    id,
                    title: format!("tome {id}"),
                    shelf: ForeignKey::new(id % 2 + 1),
                }
                .insert(tx)?;
            }
            Ok(())
        })?;
        let failed = db.atomic(|tx| {
            Tome {
                id: 9,
                title: "undone".into(),
                shelf: ForeignKey::new(1),
            }
            .insert(tx)?;
            Err::<(), _>(crate::Error::Internal("undo"))
        });
        assert!(failed.is_err());

        let before = (db.statements.get(), db.rows.get());
        let pairs = Shelf::prefetch_tomes(&db, Shelf::all(&db)?)?;
        let got: Vec<(i64, Vec<i64>)> = pairs
            .iter()
            .map(|(s, t)| (s.id, t.iter().map(|t| t.id).collect()))
            .collect();
        assert_eq!(got, [(1, vec![2, 4]), (2, vec![1, 3, 5]), (3, vec![])]);
        // Two statements (the shelves, their tomes) and eight rows, all
        // through the probe.
        assert_eq!(db.statements.get() - before.0, 2);
        assert_eq!(db.rows.get() - before.1, 8);
        let f = Tome::fields();
        assert_eq!(Tome::query().filter(f.title.ne("tome 1")).count(&db)?, 4);
        assert!(Tome::get(&db, 9)?.is_none());
        Ok(())
    }
}
