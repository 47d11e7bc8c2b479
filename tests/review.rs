//! Adversarial probes of this session's changes: `atomic_with`'s kinds on
//! SQLite (the connection is never left read-only, whatever ends the block),
//! AsyncSqlite's owned rows.

use orm_core::rusqlite::Connection;
use orm_core::{Atomic, Begin, Error, Model};

type R = orm_core::Result<()>;

#[derive(Model, Debug, Clone, PartialEq)]
struct Acct {
    id: i64,
    amount: i64,
}

fn acct(id: i64) -> Acct {
    Acct { id, amount: id }
}

fn query_only(conn: &Connection) -> bool {
    conn.pragma_query_value(None, "query_only", |r| r.get::<_, bool>(0))
        .expect("query_only")
}

fn conn() -> Connection {
    let conn = Connection::open_in_memory().expect("in memory");
    Acct::create_table(&conn).expect("table");
    conn
}

#[test]
fn a_panic_in_a_read_snapshot_leaves_the_connection_writable() {
    let conn = conn();
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: orm_core::Result<()> =
            conn.atomic_with(Begin::ReadSnapshot, |_| panic!("inside the block"));
    }));
    assert!(out.is_err());
    assert!(!query_only(&conn));
    assert!(conn.is_autocommit());
    acct(1).insert(&conn).unwrap();
}

#[test]
fn a_savepoint_inside_a_read_snapshot_nests_and_ends_writable() -> R {
    let conn = conn();
    acct(1).insert(&conn)?;
    let n = conn.atomic_with(Begin::ReadSnapshot, |tx| {
        let inner = tx.atomic(|tx| Acct::query().count(tx))?;
        let failed: orm_core::Result<()> = tx.atomic(|tx| acct(2).insert(tx).map(drop));
        assert!(failed.is_err(), "{failed:?}");
        let nested = tx.atomic_with(Begin::Write, |_| Ok(()));
        assert!(
            matches!(nested, Err(Error::NestedBegin { .. })),
            "{nested:?}"
        );
        Ok(inner)
    })?;
    assert_eq!(n, 1);
    assert!(!query_only(&conn));
    acct(3).insert(&conn)?;
    Ok(())
}

#[test]
fn a_read_snapshot_ended_by_hand_is_an_error_and_ends_writable() -> R {
    let conn = conn();
    let out = conn.atomic_with(Begin::ReadSnapshot, |tx| {
        tx.execute_batch("ROLLBACK")?;
        Ok(())
    });
    assert!(out.is_err(), "{out:?}");
    assert!(!query_only(&conn));
    assert!(conn.is_autocommit());
    acct(1).insert(&conn)?;
    Ok(())
}

#[test]
fn an_error_in_a_read_snapshot_ends_writable() -> R {
    let conn = conn();
    let out: orm_core::Result<()> =
        conn.atomic_with(Begin::ReadSnapshot, |_| Err(Error::Internal("mine")));
    assert!(matches!(out, Err(Error::Internal("mine"))), "{out:?}");
    assert!(!query_only(&conn));
    acct(1).insert(&conn)?;
    Ok(())
}

/// A connection the user made read-only stays read-only after a snapshot:
/// the block turns `query_only` off again only if it turned it on.
#[test]
fn a_read_snapshot_keeps_a_read_only_connection_read_only() -> R {
    let conn = conn();
    acct(1).insert(&conn)?;
    conn.pragma_update(None, "query_only", true)?;
    let n = conn.atomic_with(Begin::ReadSnapshot, |tx| Acct::query().count(tx))?;
    assert_eq!(n, 1);
    assert!(query_only(&conn), "the block made the connection writable");
    let failed: orm_core::Result<u64> = conn.atomic_with(Begin::ReadSnapshot, |tx| {
        Acct::query().count(tx).and(Err(Error::Internal("mine")))
    });
    assert!(failed.is_err());
    assert!(
        query_only(&conn),
        "the failed block made the connection writable"
    );
    assert!(acct(2).insert(&conn).is_err());
    Ok(())
}

#[cfg(feature = "tokio")]
mod async_sqlite {
    use super::*;
    use orm_core::{AsyncAtomic, AsyncSqlite};
    use std::time::Duration;

    async fn db() -> AsyncSqlite {
        let db = AsyncSqlite::open_in_memory().await.unwrap();
        Acct::create_table(&db).await.unwrap();
        db
    }

    async fn read_only(db: &AsyncSqlite) -> bool {
        db.call(|c| Ok(query_only(c))).await.unwrap()
    }

    #[tokio::test]
    async fn a_dropped_read_snapshot_leaves_the_connection_writable() -> R {
        let db = db().await;
        let block = db.atomic_with(Begin::ReadSnapshot, async |tx| {
            Acct::query().count(tx).await?;
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), block)
            .await
            .is_err());
        assert!(!read_only(&db).await);
        acct(1).insert(&db).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_panicking_read_snapshot_leaves_the_connection_writable() -> R {
        let db = std::sync::Arc::new(db().await);
        let db2 = std::sync::Arc::clone(&db);
        let task = tokio::spawn(async move {
            let _: orm_core::Result<()> = db2
                .atomic_with(Begin::ReadSnapshot, async |tx| {
                    Acct::query().count(tx).await?;
                    panic!("inside the block")
                })
                .await;
        });
        assert!(task.await.is_err());
        assert!(!read_only(&db).await);
        acct(1).insert(&*db).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_read_snapshot_ended_by_hand_is_an_error_and_ends_writable() -> R {
        let db = db().await;
        let out = db
            .atomic_with(Begin::ReadSnapshot, async |tx| {
                tx.call(|c| Ok(c.execute_batch("ROLLBACK")?)).await
            })
            .await;
        assert!(out.is_err(), "{out:?}");
        assert!(!read_only(&db).await);
        acct(1).insert(&db).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_read_snapshot_keeps_a_read_only_connection_read_only() -> R {
        let db = db().await;
        acct(1).insert(&db).await?;
        db.call(|c| Ok(c.pragma_update(None, "query_only", true)?))
            .await?;
        let n = db
            .atomic_with(Begin::ReadSnapshot, async |tx| {
                Acct::query().count(tx).await
            })
            .await?;
        assert_eq!(n, 1);
        assert!(
            read_only(&db).await,
            "the block made the connection writable"
        );
        assert!(acct(2).insert(&db).await.is_err());
        Ok(())
    }

    /// A snapshot block's statements are recorded as on the sync
    /// connection, writable or read-only, committed or rolled back.
    #[tokio::test]
    async fn a_read_snapshot_records_what_the_sync_block_records() -> R {
        for made_read_only in [false, true] {
            for fail in [false, true] {
                let mut conn = conn();
                let db = db().await;
                if made_read_only {
                    conn.pragma_update(None, "query_only", true)?;
                    db.call(|c| Ok(c.pragma_update(None, "query_only", true)?))
                        .await?;
                }
                let end = move |n: u64| {
                    if fail {
                        Err(Error::Internal("mine"))
                    } else {
                        Ok(n)
                    }
                };
                let (out, sync) = orm_core::record_queries(&mut conn, |c| {
                    c.atomic_with(Begin::ReadSnapshot, |tx| end(Acct::query().count(tx)?))
                });
                assert_eq!(out.is_err(), fail);
                let (out, seen) = orm_core::record_queries_async(
                    db.atomic_with(Begin::ReadSnapshot, async |tx| {
                        end(Acct::query().count(tx).await?)
                    }),
                )
                .await;
                assert_eq!(out.is_err(), fail);
                assert_eq!(seen, sync, "read-only {made_read_only}, failed {fail}");
                assert_eq!(query_only(&conn), made_read_only);
                assert_eq!(read_only(&db).await, made_read_only);
            }
        }
        Ok(())
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    struct Note {
        id: i64,
        body: String,
        data: Vec<u8>,
    }

    #[tokio::test]
    async fn owned_rows_keep_texts_and_blobs_apart() -> R {
        let db = AsyncSqlite::open_in_memory().await?;
        Note::create_table(&db).await?;
        let big = (0..3_000_000u32).map(|i| i as u8).collect::<Vec<u8>>();
        let notes = vec![
            Note {
                id: 1,
                body: String::new(),
                data: Vec::new(),
            },
            Note {
                id: 2,
                body: "héllo".into(),
                data: big.clone(),
            },
            Note {
                id: 3,
                body: "x".repeat(100_000),
                data: vec![0],
            },
            Note {
                id: 4,
                body: String::new(),
                data: vec![],
            },
        ];
        for n in &notes {
            n.insert(&db).await?;
        }
        assert_eq!(Note::all(&db).await?, notes);
        // Invalid UTF-8 in a TEXT column: an error naming the column, no panic.
        db.call(|c| {
            Ok(c.execute_batch(
                r#"INSERT INTO "note" ("id", "body", "data") VALUES (5, CAST(X'FF00FE' AS TEXT), X'')"#,
            )?)
        })
        .await?;
        let bad = Note::all(&db).await;
        let Err(err) = bad else {
            panic!("decoded: {bad:?}")
        };
        let text = err.to_string();
        assert!(text.contains("body"), "{text}");
        // The same on the sync connection, for comparison.
        Ok(())
    }
}

/// SQLite may roll a block's transaction back by itself (here `ON CONFLICT
/// ROLLBACK`; also disk full, I/O errors). The block goes on if its code
/// ignores that statement's error; its later statements would run outside
/// any transaction, each committed at once, while the block's end reports
/// an error. They are refused instead, a nested block too.
#[test]
fn writes_after_sqlites_own_rollback_are_not_committed() -> R {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(
        r#"CREATE TABLE "acct" ("id" INTEGER PRIMARY KEY ON CONFLICT ROLLBACK, "amount" INTEGER NOT NULL)"#,
    )?;
    acct(1).insert(&conn)?;
    let out = conn.atomic_with(Begin::Write, |tx| {
        // Fails, and SQLite rolls the whole transaction back.
        let dup = acct(1).insert(tx);
        assert!(dup.is_err());
        let _ = tx.atomic(|tx| acct(3).insert(tx));
        let _ = Acct::insert_all(tx, &[acct(4), acct(5)]);
        acct(2).insert(tx).map(drop)
    });
    assert!(out.is_err(), "{out:?}");
    assert!(out
        .unwrap_err()
        .to_string()
        .contains("rolled back by SQLite"));
    assert_eq!(Acct::query().count(&conn)?, 1, "the failed block wrote");
    // The connection goes on, in blocks and outside them.
    conn.atomic(|tx| acct(6).insert(tx))?;
    acct(7).insert(&conn)?;
    assert_eq!(Acct::query().count(&conn)?, 3);
    Ok(())
}

/// The same on AsyncSqlite, whose blocks run on the connection's thread.
#[cfg(feature = "tokio")]
#[tokio::test]
async fn async_writes_after_sqlites_own_rollback_are_not_committed() -> R {
    use orm_core::{AsyncAtomic, AsyncSqlite};
    let db = AsyncSqlite::open_in_memory().await?;
    db.call(|c| {
        Ok(c.execute_batch(
            r#"CREATE TABLE "acct" ("id" INTEGER PRIMARY KEY ON CONFLICT ROLLBACK, "amount" INTEGER NOT NULL)"#,
        )?)
    })
    .await?;
    acct(1).insert(&db).await?;
    let out = db
        .atomic_with(Begin::Write, async |tx| {
            assert!(acct(1).insert(tx).await.is_err());
            let _ = tx.atomic(async |tx| acct(3).insert(tx).await).await;
            acct(2).insert(tx).await.map(drop)
        })
        .await;
    assert!(out.is_err(), "{out:?}");
    assert_eq!(Acct::query().count(&db).await?, 1, "the failed block wrote");
    db.atomic(async |tx| acct(6).insert(tx).await).await?;
    acct(7).insert(&db).await?;
    assert_eq!(Acct::query().count(&db).await?, 3);
    Ok(())
}

mod scan {
    use super::*;
    use orm_core::ForeignKey;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Owner {
        #[primary_key]
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Pet {
        #[primary_key]
        pub id: i64,
        pub name: String,
        #[foreign_key(related_name = "pets")]
        pub owner: ForeignKey<Owner>,
    }

    fn db(owners: &[i64], pets: &[(i64, i64)]) -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        Owner::create_table(&conn).expect("owner");
        Pet::create_table(&conn).expect("pet");
        conn.execute_batch("PRAGMA foreign_keys = OFF").expect("fk");
        for &id in owners {
            conn.execute(r#"INSERT INTO "owner" ("id") VALUES (?1)"#, [id])
                .expect("owner row");
        }
        for &(id, owner) in pets {
            conn.execute(
                r#"INSERT INTO "pet" ("id", "name", "owner_id") VALUES (?1, 'p' || ?1, ?2)"#,
                [id, owner],
            )
            .expect("pet row");
        }
        conn
    }

    /// The prefetch against one lazy query per parent.
    fn check(conn: &Connection, asked: &[i64]) {
        let input: Vec<Owner> = asked.iter().map(|&id| Owner { id }).collect();
        let pairs = Owner::prefetch_pets(conn, input.clone()).expect("prefetch");
        assert_eq!(pairs.len(), input.len());
        for ((owner, pets), want) in pairs.iter().zip(&input) {
            assert_eq!(owner, want);
            assert_eq!(pets, &owner.pets(conn).expect("lazy"), "owner {}", owner.id);
        }
    }

    /// A small deterministic generator.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
    }

    #[test]
    fn odd_keys_give_what_one_query_per_parent_gives() {
        let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        let mut rng = Lcg(7);
        for case in 0..60 {
            let base: i64 = match case % 4 {
                0 => 0,
                1 => -1_000,
                2 => i64::MAX - 500,
                _ => i64::MIN,
            };
            let spread: u64 = [1, 2, 3, 1_000_000_000][case / 4 % 4];
            let n_owners = 1 + rng.next() % 300;
            let mut owners: Vec<i64> = (0..n_owners)
                .map(|i| base.saturating_add((i * spread) as i64))
                .collect();
            if case % 3 == 0 {
                owners.extend(extremes);
            }
            owners.sort();
            owners.dedup();
            let mut pets = Vec::new();
            for id in 1..=(rng.next() % 900) as i64 {
                let pick = owners[(rng.next() % owners.len() as u64) as usize];
                // Some pets point at no owner in the table.
                let owner = if rng.next().is_multiple_of(10) {
                    pick.wrapping_add(1 + (rng.next() % 5) as i64)
                } else {
                    pick
                };
                pets.push((id, owner));
            }
            let conn = db(&owners, &pets);
            // Most owners, some twice, some absent from the table.
            let mut asked: Vec<i64> = owners
                .iter()
                .copied()
                .filter(|_| !rng.next().is_multiple_of(8))
                .collect();
            for _ in 0..(rng.next() % 4) {
                if !asked.is_empty() {
                    let again = asked[(rng.next() % asked.len() as u64) as usize];
                    asked.push(again);
                }
            }
            if case % 2 == 0 {
                asked.push(base.wrapping_sub(7));
                asked.extend(extremes);
            }
            check(&conn, &asked);
        }
    }

    #[test]
    fn keys_of_other_types_in_the_key_column() -> R {
        let owners: Vec<i64> = (1..=40).collect();
        let pets: Vec<(i64, i64)> = (1..=120).map(|i| (i, i % 40 + 1)).collect();
        let conn = db(&owners, &pets);
        // Text that reads as a number (INTEGER affinity stores it as one),
        // a real, text that does not, a blob, NULL.
        conn.execute_batch(
            r#"INSERT INTO "pet" ("id", "name", "owner_id") VALUES
               (1001, 'a', '5'), (1002, 'b', 6.0), (1003, 'c', 'x'), (1004, 'd', X'07'),
               (1006, 'f', ' 8'), (1007, 'g', 9.5)"#,
        )?;
        let all: Vec<i64> = owners.clone();
        let input: Vec<Owner> = all.iter().map(|&id| Owner { id }).collect();
        let got = Owner::prefetch_pets(&conn, input.clone());
        // What one query per parent says about the same rows.
        let lazy: orm_core::Result<Vec<Vec<Pet>>> = input.iter().map(|o| o.pets(&conn)).collect();
        match (&got, &lazy) {
            (Ok(got), Ok(lazy)) => {
                for ((_, a), b) in got.iter().zip(lazy) {
                    assert_eq!(a, b);
                }
            }
            (Err(_), Err(_)) => {}
            _ => panic!("prefetch {got:?} vs lazy {lazy:?}"),
        }
        Ok(())
    }

    #[test]
    fn a_row_that_does_not_decode_fails_only_when_asked_for() -> R {
        let owners: Vec<i64> = (1..=3000).collect();
        let pets: Vec<(i64, i64)> = (1..=6000).map(|i| (i, i % 3000 + 1)).collect();
        let conn = db(&owners, &pets);
        // A name that is not text, for owner 77 (a blob: no conversion).
        conn.execute_batch(r#"UPDATE "pet" SET "name" = X'FF' WHERE "owner_id" = 77"#)?;
        conn.execute_batch(
            r#"UPDATE "pet" SET "name" = CAST(X'FF' AS TEXT) WHERE "owner_id" = 78"#,
        )?;
        let asked: Vec<Owner> = (1..=3000)
            .filter(|&i| i != 77 && i != 78)
            .map(|id| Owner { id })
            .collect();
        let pairs = Owner::prefetch_pets(&conn, asked)?;
        assert_eq!(pairs.iter().map(|(_, p)| p.len()).sum::<usize>(), 6000 - 4);
        for bad in [77, 78] {
            let asked: Vec<Owner> = (1..=3000)
                .filter(|&i| i != 155 - bad)
                .map(|id| Owner { id })
                .collect();
            let err = Owner::prefetch_pets(&conn, asked).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("Pet") && text.contains("name"), "{text}");
        }
        Ok(())
    }

    /// The same loads on AsyncSqlite (rows owned by the thread's buffer),
    /// against the sync connection's answers on a copy of the same data.
    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn async_sqlite_loads_as_the_sync_connection_does() -> R {
        use orm_core::AsyncSqlite;
        let owners: Vec<i64> = (-50..=2950).chain([i64::MIN, i64::MAX]).collect();
        let pets: Vec<(i64, i64)> = (1..=6000)
            .map(|i| (i, owners[(i as usize * 7) % owners.len()]))
            .collect();
        let conn = db(&owners, &pets);
        conn.execute_batch(r#"UPDATE "pet" SET "name" = '' WHERE "owner_id" = 6"#)?;
        conn.execute_batch(
            r#"UPDATE "pet" SET "name" = CAST(X'FF' AS TEXT) WHERE "owner_id" = 13"#,
        )?;
        let path = std::env::temp_dir().join(format!("orm-review-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        conn.execute("VACUUM INTO ?1", [path.to_str().expect("utf-8")])?;
        let lite = AsyncSqlite::open(path.to_str().expect("utf-8")).await?;
        let asked: Vec<Owner> = owners
            .iter()
            .filter(|&&i| i != 13)
            .map(|&id| Owner { id })
            .chain([Owner { id: 3 }])
            .collect();
        let sync = Owner::prefetch_pets(&conn, asked.clone())?;
        let got = Owner::prefetch_pets(&lite, asked).await?;
        assert_eq!(got, sync);
        let all: Vec<Owner> = owners.iter().map(|&id| Owner { id }).collect();
        let Err(err) = Owner::prefetch_pets(&lite, all).await else {
            panic!("a name that is not UTF-8 decoded")
        };
        let err = err.to_string();
        assert!(err.contains("Pet") && err.contains("name"), "{err}");
        let _ = std::fs::remove_file(&path);
        Ok(())
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use orm_core::Postgres;

    fn connect(schema: &str) -> Postgres {
        let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
        let pg = Postgres::connect(&url).expect("connect");
        pg.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
        ))
        .expect("schema");
        pg
    }

    /// Write skew under `Serializable`: the second block to commit fails
    /// (SQLSTATE 40001), nothing of it is committed, and its connection is
    /// out of the transaction and runs the next block.
    #[test]
    fn a_serialization_failure_is_an_error_and_leaves_the_connection_usable() -> R {
        let schema = format!("review_serial_{}", std::process::id());
        let (a, b) = (connect(&schema), connect(&schema));
        Acct::create_table(&a)?;
        acct(1).insert(&a)?;
        for ignore_failure in [false, true] {
            let out = a.atomic_with(Begin::Serializable, |t1| {
                let seen = Acct::query().count(t1)?;
                b.atomic_with(Begin::Serializable, |t2| {
                    let seen = Acct::query().count(t2)?;
                    acct(100 + seen as i64).insert(t2).map(drop)
                })?;
                let write = acct(200 + seen as i64 + i64::from(ignore_failure)).insert(t1);
                if !ignore_failure {
                    write?;
                }
                Ok(())
            });
            assert!(out.is_err(), "ignore {ignore_failure}: {out:?}");
            // Out of the transaction: a new block of any kind begins.
            a.atomic_with(Begin::Write, |tx| Acct::query().count(tx).map(drop))?;
            let ids: Vec<i64> = Acct::all(&a)?.iter().map(|x| x.id).collect();
            assert!(ids.iter().all(|&id| id < 200), "{ids:?}");
        }
        Ok(())
    }

    /// A read-only block whose refused write is ignored: PostgreSQL has
    /// aborted the transaction, and the block's end says so.
    #[test]
    fn a_refused_write_ignored_in_a_snapshot_is_an_error() -> R {
        let schema = format!("review_snapshot_{}", std::process::id());
        let pg = connect(&schema);
        Acct::create_table(&pg)?;
        let out = pg.atomic_with(Begin::ReadSnapshot, |tx| {
            assert!(acct(1).insert(tx).is_err());
            Ok(())
        });
        assert!(
            matches!(out, Err(Error::TransactionAborted { .. })),
            "{out:?}"
        );
        acct(2).insert(&pg)?;
        assert_eq!(Acct::query().count(&pg)?, 1);
        Ok(())
    }

    /// The write skew above on AsyncPostgres.
    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn an_async_serialization_failure_is_an_error_and_leaves_the_connection_usable() -> R {
        use orm_core::{AsyncAtomic, AsyncPostgres};
        let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
        let schema = format!("review_async_serial_{}", std::process::id());
        let open = || AsyncPostgres::connect(format!("{url} options='-c search_path={schema}'"));
        let (a, b) = (open().await?, open().await?);
        a.client()
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        Acct::create_table(&a).await?;
        acct(1).insert(&a).await?;
        for ignore_failure in [false, true] {
            let b = &b;
            let out = a
                .atomic_with(Begin::Serializable, async |t1| {
                    let seen = Acct::query().count(t1).await?;
                    b.atomic_with(Begin::Serializable, async |t2| {
                        let seen = Acct::query().count(t2).await?;
                        acct(100 + seen as i64).insert(t2).await.map(drop)
                    })
                    .await?;
                    let write = acct(200 + seen as i64 + i64::from(ignore_failure))
                        .insert(t1)
                        .await;
                    if !ignore_failure {
                        write?;
                    }
                    Ok(())
                })
                .await;
            assert!(out.is_err(), "ignore {ignore_failure}: {out:?}");
            a.atomic_with(Begin::Write, async |tx| {
                Acct::query().count(tx).await.map(drop)
            })
            .await?;
            let ids: Vec<i64> = Acct::all(&a).await?.iter().map(|x| x.id).collect();
            assert!(ids.iter().all(|&id| id < 200), "{ids:?}");
        }
        Ok(())
    }
}
