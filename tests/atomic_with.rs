//! `atomic_with`: the kind of transaction a block asks for (a block that
//! will write, a read-only snapshot, serializable), on every connection,
//! each kind checked by what it promises: who waits, what a read sees, what
//! a write does, what the server says the transaction is.

#[macro_use]
mod backends;
mod common;

use std::path::PathBuf;
use std::time::Duration;

use orm_core::rusqlite::Connection;
use orm_core::{Atomic, Begin, Error, Model};

type R = orm_core::Result<()>;

/// A row per test write; the model is only the table's shape.
#[derive(Model, Debug, Clone, PartialEq)]
struct Acct {
    id: i64,
    amount: i64,
}

/// Account `id`, its balance ten times its id.
fn entry(id: i64) -> Acct {
    Acct {
        id,
        amount: id * 10,
    }
}

/// A fresh database file in WAL mode (a reader and a writer at once).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orm-atomic-with-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("db.sqlite")
}

fn open(path: &PathBuf, wait: Duration) -> orm_core::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.busy_timeout(wait)?;
    Ok(conn)
}

/// Two connections to one new file with an empty `entry` table; the second
/// does not wait for locks.
fn two(name: &str) -> orm_core::Result<(Connection, Connection)> {
    let path = scratch(name);
    let a = open(&path, Duration::from_secs(5))?;
    Acct::create_table(&a)?;
    let b = open(&path, Duration::ZERO)?;
    Ok((a, b))
}

#[test]
fn sqlite_write_takes_the_write_lock_when_it_begins() -> R {
    let (a, b) = two("write")?;
    a.atomic_with(Begin::Write, |_| {
        // Nothing written yet, and another writer is already shut out.
        let shut_out = entry(1).insert(&b);
        assert!(matches!(shut_out, Err(Error::Busy { .. })), "{shut_out:?}");
        Ok(())
    })?;
    // A default block takes no lock before its first write.
    a.atomic(|_| entry(2).insert(&b).map(drop))?;
    // Serializable is the same on SQLite (its transactions always are).
    a.atomic_with(Begin::Serializable, |tx| {
        assert!(entry(3).insert(&b).is_err());
        entry(4).insert(tx).map(drop)
    })?;
    let ids: Vec<i64> = Acct::all(&a)?.iter().map(|e| e.id).collect();
    assert_eq!(ids, [2, 4]);
    Ok(())
}

#[test]
fn sqlite_read_snapshot_sees_one_state_and_refuses_writes() -> R {
    let (a, b) = two("snapshot")?;
    entry(1).insert(&a)?;
    let seen = a.atomic_with(Begin::ReadSnapshot, |tx| {
        let before = Acct::query().count(tx)?;
        // Committed by another connection meanwhile: not seen here.
        entry(2).insert(&b)?;
        let after = Acct::query().count(tx)?;
        let refused = entry(3).insert(tx);
        assert!(
            refused.is_err(),
            "a write inside a read-only block: {refused:?}"
        );
        Ok((before, after))
    })?;
    assert_eq!(seen, (1, 1));
    // Writable again once the block is over, however it ended.
    entry(4).insert(&a)?;
    let failed: orm_core::Result<()> = a.atomic_with(Begin::ReadSnapshot, |tx| {
        Acct::get(tx, 1)?;
        entry(1).insert(tx).map(drop)
    });
    assert!(failed.is_err());
    entry(5).insert(&a)?;
    assert_eq!(Acct::query().count(&a)?, 4);
    Ok(())
}

#[test]
fn a_kind_inside_an_open_transaction_is_an_error() -> R {
    let conn = backends::sqlite();
    Acct::create_table(&conn)?;
    let out = conn.atomic(|tx| {
        let nested = tx.atomic_with(Begin::ReadSnapshot, |_| Ok(()));
        assert!(
            matches!(
                nested,
                Err(Error::NestedBegin {
                    begin: "ReadSnapshot"
                })
            ),
            "{nested:?}"
        );
        // The default kind nests as a savepoint.
        tx.atomic_with(Begin::Default, |tx| entry(1).insert(tx).map(drop))
    });
    out?;
    assert_eq!(Acct::query().count(&conn)?, 1);
    Ok(())
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use orm_core::{Postgres, Raw};

    fn show(pg: &Postgres, setting: &str) -> orm_core::Result<String> {
        let rows: Vec<(String,)> = pg.raw(&format!("SHOW {setting}"), ()).all()?;
        Ok(rows.into_iter().next().map(|(v,)| v).unwrap_or_default())
    }

    #[test]
    fn each_kind_begins_the_transaction_it_names() -> R {
        let pg = backends::postgres();
        Acct::create_table(&pg)?;
        pg.atomic_with(Begin::Serializable, |tx| {
            assert_eq!(show(tx, "transaction_isolation")?, "serializable");
            entry(1).insert(tx).map(drop)
        })?;
        pg.atomic_with(Begin::Write, |tx| {
            assert_eq!(show(tx, "transaction_isolation")?, "read committed");
            entry(2).insert(tx).map(drop)
        })?;
        let refused = pg.atomic_with(Begin::ReadSnapshot, |tx| {
            assert_eq!(show(tx, "transaction_isolation")?, "repeatable read");
            assert_eq!(show(tx, "transaction_read_only")?, "on");
            // Refused by the server, which then aborts the transaction: the
            // block is not reported committed.
            assert!(entry(3).insert(tx).is_err());
            Ok(())
        });
        assert!(
            matches!(refused, Err(Error::TransactionAborted { .. })),
            "{refused:?}"
        );
        assert_eq!(Acct::query().count(&pg)?, 2);
        let nested = pg.atomic(|tx| tx.atomic_with(Begin::Write, |_| Ok(())));
        assert!(matches!(nested, Err(Error::NestedBegin { begin: "Write" })));
        Ok(())
    }

    #[test]
    fn a_read_snapshot_sees_one_state() -> R {
        let pg = backends::postgres();
        Acct::create_table(&pg)?;
        entry(1).insert(&pg)?;
        // Another connection to the same schema.
        let schema = show(&pg, "search_path")?;
        let other = Postgres::connect(&std::env::var("ORM_POSTGRES_URL").expect("url"))?;
        other.batch_execute(&format!("SET search_path TO {schema}"))?;
        let seen = pg.atomic_with(Begin::ReadSnapshot, |tx| {
            let before = Acct::query().count(tx)?;
            entry(2).insert(&other)?;
            Ok((before, Acct::query().count(tx)?))
        })?;
        assert_eq!(seen, (1, 1));
        assert_eq!(Acct::query().count(&pg)?, 2);
        Ok(())
    }
}

#[cfg(feature = "tokio")]
mod asynchronous {
    use super::*;
    #[cfg(feature = "postgres")]
    use orm_core::Raw;
    use orm_core::{AsyncAtomic, AsyncSqlite};

    #[tokio::test]
    async fn async_sqlite_blocks_begin_as_asked() -> R {
        let path = scratch("async");
        let db = AsyncSqlite::open(path.to_str().expect("a UTF-8 path")).await?;
        Acct::create_table(&db).await?;
        // A sync connection of the test's own, shared with the blocks' futures.
        let other = std::sync::Mutex::new(open(&path, Duration::ZERO)?);
        let other = || other.lock().expect("the other connection");
        db.atomic_with(Begin::Write, async |_| {
            let shut_out = entry(1).insert(&*other());
            assert!(matches!(shut_out, Err(Error::Busy { .. })), "{shut_out:?}");
            Ok(())
        })
        .await?;
        entry(1).insert(&db).await?;
        let seen = db
            .atomic_with(Begin::ReadSnapshot, async |tx| {
                let before = Acct::query().count(tx).await?;
                entry(2).insert(&*other())?;
                let after = Acct::query().count(tx).await?;
                assert!(entry(3).insert(tx).await.is_err());
                Ok((before, after))
            })
            .await?;
        assert_eq!(seen, (1, 1));
        entry(4).insert(&db).await?;
        let nested = db
            .atomic(async |tx| tx.atomic_with(Begin::ReadSnapshot, async |_| Ok(())).await)
            .await;
        assert!(
            matches!(nested, Err(Error::NestedBegin { .. })),
            "{nested:?}"
        );
        assert_eq!(Acct::query().count(&db).await?, 3);
        Ok(())
    }

    #[cfg(feature = "postgres")]
    #[tokio::test]
    async fn async_postgres_blocks_begin_as_asked() -> R {
        let pg = backends::async_postgres().await;
        Acct::create_table(&pg).await?;
        let isolation = pg
            .atomic_with(Begin::ReadSnapshot, async |tx| {
                let rows: Vec<(String,)> = tx.raw("SHOW transaction_isolation", ()).all().await?;
                let ro: Vec<(String,)> = tx.raw("SHOW transaction_read_only", ()).all().await?;
                Ok((rows[0].0.clone(), ro[0].0.clone()))
            })
            .await?;
        assert_eq!(isolation, ("repeatable read".to_owned(), "on".to_owned()));
        let serializable = pg
            .atomic_with(Begin::Serializable, async |tx| {
                entry(1).insert(tx).await?;
                let rows: Vec<(String,)> = tx.raw("SHOW transaction_isolation", ()).all().await?;
                Ok(rows[0].0.clone())
            })
            .await?;
        assert_eq!(serializable, "serializable");
        let nested = pg
            .atomic(async |tx| tx.atomic_with(Begin::Write, async |_| Ok(())).await)
            .await;
        assert!(
            matches!(nested, Err(Error::NestedBegin { .. })),
            "{nested:?}"
        );
        assert_eq!(Acct::query().count(&pg).await?, 1);
        Ok(())
    }
}
