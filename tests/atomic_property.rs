//! `atomic` against an oracle: random programs of writes, failing
//! statements (their errors passed on or ignored), nested blocks (their
//! errors passed on or ignored) and panics, run on every kind of connection;
//! afterwards the committed rows are exactly the oracle's, and the
//! connection is usable and outside any transaction.
//!
//! The oracle is the promise of `atomic`: a block's writes are kept when it
//! returns `Ok` and undone when it returns `Err` or panics; a nested block is
//! a savepoint. A failed statement undoes only itself on SQLite; on
//! PostgreSQL it aborts the transaction, so the innermost block around it
//! cannot commit: it is `Err` (`TransactionAborted` when it returned `Ok`),
//! and the blocks around it go on.

mod backends;
mod common;

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};

use common::ledger::Acct;
use orm_core::{Atomic, Db, Error, Model};
use proptest::prelude::*;

/// One step of a block.
#[derive(Debug, Clone)]
enum Op {
    /// Writes `bal` to the row `id` (inserting it when missing).
    Put { id: i64, bal: i64 },
    /// A statement that fails (a duplicate key), its error passed on with `?`
    /// or ignored.
    Fail { propagate: bool },
    /// A nested block, its result passed on with `?` or ignored.
    Block { block: Block, propagate: bool },
}

/// How a block ends once its steps ran.
#[derive(Debug, Clone, Copy)]
enum End {
    Ok,
    Err,
    Panic,
}

#[derive(Debug, Clone)]
struct Block {
    ops: Vec<Op>,
    end: End,
}

fn block(depth: u32) -> BoxedStrategy<Block> {
    let put = (0i64..6, 0i64..100).prop_map(|(id, bal)| Op::Put { id, bal });
    let fail = any::<bool>().prop_map(|propagate| Op::Fail { propagate });
    let end = prop_oneof![6 => Just(End::Ok), 2 => Just(End::Err), 1 => Just(End::Panic)];
    let op = if depth == 0 {
        prop_oneof![4 => put, 1 => fail].boxed()
    } else {
        let nested = (block(depth - 1), any::<bool>())
            .prop_map(|(block, propagate)| Op::Block { block, propagate });
        prop_oneof![4 => put, 1 => fail, 2 => nested].boxed()
    };
    (proptest::collection::vec(op, 0..6), end)
        .prop_map(|(ops, end)| Block { ops, end })
        .boxed()
}

/// What the oracle says a block did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Err,
    Panic,
}

/// Runs `block` on `state` as `atomic` promises: the state it leaves, and how
/// it ended. `aborts` says whether a failed statement aborts the enclosing
/// transaction (PostgreSQL).
fn oracle(
    state: &BTreeMap<i64, i64>,
    block: &Block,
    aborts: bool,
) -> (BTreeMap<i64, i64>, Outcome) {
    let mut inner = state.clone();
    let mut aborted = false;
    for op in &block.ops {
        match op {
            Op::Put { id, bal } => {
                inner.insert(*id, *bal);
            }
            Op::Fail { propagate } => {
                if *propagate {
                    return (state.clone(), Outcome::Err);
                }
                aborted |= aborts;
            }
            Op::Block { block, propagate } => {
                let (after, outcome) = oracle(&inner, block, aborts);
                match outcome {
                    Outcome::Panic => return (state.clone(), Outcome::Panic),
                    Outcome::Ok => inner = after,
                    Outcome::Err if *propagate => return (state.clone(), Outcome::Err),
                    Outcome::Err => {}
                }
            }
        }
        if aborted {
            // Every later statement of the block fails too; the program
            // below stops at the first one, as `?` would.
            break;
        }
    }
    match block.end {
        End::Panic => (state.clone(), Outcome::Panic),
        End::Err => (state.clone(), Outcome::Err),
        End::Ok if aborted => (state.clone(), Outcome::Err),
        End::Ok => (inner, Outcome::Ok),
    }
}

/// A program's failing statement: a second row with key 1000.
fn fail_sync(conn: &impl Db) -> orm_core::Result<()> {
    Acct { id: 1000, bal: 0 }.insert(conn).map(|_| ())
}

fn put_sync(conn: &impl Db, id: i64, bal: i64) -> orm_core::Result<()> {
    let row = Acct { id, bal };
    match Acct::get(conn, id)? {
        Some(_) => row.update(conn),
        None => row.insert(conn).map(|_| ()),
    }
}

/// Runs `block` through `atomic` on a sync connection.
fn run_sync<C: Db + Atomic>(conn: &C, block: &Block, aborts: bool) -> orm_core::Result<()> {
    conn.atomic(|tx| {
        let mut aborted = false;
        for op in &block.ops {
            match op {
                Op::Put { id, bal } => put_sync(tx, *id, *bal)?,
                Op::Fail { propagate } => {
                    let failed = fail_sync(tx);
                    assert!(failed.is_err(), "the failing statement succeeded");
                    if *propagate {
                        failed?;
                    }
                    aborted |= aborts;
                }
                Op::Block { block, propagate } => {
                    let inner = run_sync(tx, block, aborts);
                    if *propagate {
                        inner?;
                    }
                }
            }
            if aborted {
                break;
            }
        }
        match block.end {
            End::Ok => Ok(()),
            End::Err => Err(Error::Internal("the block's own error")),
            End::Panic => panic!("the block's own panic"),
        }
    })
}

/// The committed rows, read back outside any transaction.
fn rows_sync(conn: &impl Db) -> BTreeMap<i64, i64> {
    Acct::all(conn)
        .expect("the rows")
        .into_iter()
        .filter(|a| a.id != 1000)
        .map(|a| (a.id, a.bal))
        .collect()
}

fn case_sync<C: Db + Atomic>(conn: &C, program: &Block, aborts: bool) -> Result<(), TestCaseError> {
    let before = rows_sync(conn);
    let (expected, outcome) = oracle(&before, program, aborts);
    let got = panic::catch_unwind(AssertUnwindSafe(|| run_sync(conn, program, aborts)));
    match (outcome, &got) {
        (Outcome::Panic, Err(_)) | (Outcome::Ok, Ok(Ok(()))) | (Outcome::Err, Ok(Err(_))) => {}
        _ => prop_assert!(false, "the oracle says {outcome:?}, atomic gave {got:?}"),
    }
    prop_assert_eq!(rows_sync(conn), expected);
    Ok(())
}

fn setup_sync(conn: &impl Db) {
    Acct::create_table(conn).expect("the table");
    Acct { id: 1000, bal: 0 }
        .insert(conn)
        .expect("the row a failing statement collides with");
}

fn quiet_panics() {
    // The programs' own panics are expected: keep them off the test output.
    panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("the block's own panic") {
            eprintln!("{info}");
        }
    }));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn atomic_keeps_what_the_oracle_keeps_on_sqlite(programs in proptest::collection::vec(block(2), 1..4)) {
        quiet_panics();
        let conn = backends::sqlite();
        setup_sync(&conn);
        for program in &programs {
            case_sync(&conn, program, false)?;
            prop_assert!(conn.is_autocommit(), "left inside a transaction");
        }
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn atomic_keeps_what_the_oracle_keeps_on_postgres(programs in proptest::collection::vec(block(2), 1..4)) {
        quiet_panics();
        let pg = backends::postgres();
        setup_sync(&pg);
        for program in &programs {
            case_sync(&pg, program, true)?;
        }
        // Usable, and outside a transaction: a transaction of its own works.
        pg.transaction(|pg| Acct::all(pg).map(|_| ())).expect("the connection is usable");
    }
}

#[cfg(feature = "tokio")]
mod in_async {
    //! The same programs on the async connections, each run in a task of its
    //! own (a panic ends the task, as it ends a request).

    use std::sync::Arc;

    use orm_core::{AsyncAtomic, AsyncDb};

    use super::*;

    async fn put<D: AsyncDb + ?Sized>(db: &D, id: i64, bal: i64) -> orm_core::Result<()> {
        let row = Acct { id, bal };
        match Acct::get(db, id).await? {
            Some(_) => row.update(db).await,
            None => row.insert(db).await.map(|_| ()),
        }
    }

    /// Runs `block` through `atomic` on an async connection.
    fn run<'a, D: AsyncDb + AsyncAtomic>(
        db: &'a D,
        block: &'a Block,
        aborts: bool,
    ) -> orm_core::BoxFuture<'a, orm_core::Result<()>> {
        db.atomic(move |tx| async move {
            let mut aborted = false;
            for op in &block.ops {
                match op {
                    Op::Put { id, bal } => put(tx, *id, *bal).await?,
                    Op::Fail { propagate } => {
                        let failed = Acct { id: 1000, bal: 0 }.insert(tx).await.map(|_| ());
                        assert!(failed.is_err(), "the failing statement succeeded");
                        if *propagate {
                            failed?;
                        }
                        aborted |= aborts;
                    }
                    Op::Block { block, propagate } => {
                        let inner = run(tx, block, aborts).await;
                        if *propagate {
                            inner?;
                        }
                    }
                }
                if aborted {
                    break;
                }
            }
            match block.end {
                End::Ok => Ok(()),
                End::Err => Err(Error::Internal("the block's own error")),
                End::Panic => panic!("the block's own panic"),
            }
        })
    }

    async fn rows<D: AsyncDb>(db: &D) -> BTreeMap<i64, i64> {
        Acct::all(db)
            .await
            .expect("the rows")
            .into_iter()
            .filter(|a| a.id != 1000)
            .map(|a| (a.id, a.bal))
            .collect()
    }

    pub(super) async fn case<D>(
        db: Arc<D>,
        programs: Vec<Block>,
        aborts: bool,
    ) -> Result<(), TestCaseError>
    where
        D: AsyncDb + AsyncAtomic + 'static,
    {
        Acct::create_table(&*db).await.expect("the table");
        Acct { id: 1000, bal: 0 }
            .insert(&*db)
            .await
            .expect("the colliding row");
        for program in programs {
            let before = rows(&*db).await;
            let (expected, outcome) = oracle(&before, &program, aborts);
            let task = {
                let db = db.clone();
                tokio::spawn(async move { run(&*db, &program, aborts).await })
            };
            let got = task.await;
            match (outcome, &got) {
                (Outcome::Panic, Err(e)) if e.is_panic() => {}
                (Outcome::Ok, Ok(Ok(()))) | (Outcome::Err, Ok(Err(_))) => {}
                _ => prop_assert!(false, "the oracle says {outcome:?}, atomic gave {got:?}"),
            }
            prop_assert_eq!(rows(&*db).await, expected);
        }
        // Usable, and outside any transaction: a block of its own commits.
        db.atomic(async |tx| Acct::all(tx).await.map(|_| ()))
            .await
            .expect("the connection is usable");
        Ok(())
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn async_atomic_keeps_what_the_oracle_keeps_on_sqlite(programs in proptest::collection::vec(block(2), 1..4)) {
            quiet_panics();
            runtime().block_on(async {
                let db = Arc::new(orm_core::AsyncSqlite::open_in_memory().await.expect("a database"));
                case(db, programs, false).await
            })?;
        }
    }

    #[cfg(feature = "postgres")]
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn async_atomic_keeps_what_the_oracle_keeps_on_postgres(programs in proptest::collection::vec(block(2), 1..4)) {
            quiet_panics();
            runtime().block_on(async {
                let db = Arc::new(super::backends::async_postgres().await);
                case(db, programs, true).await
            })?;
        }
    }
}
