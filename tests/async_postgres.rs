//! `AsyncPostgres`: the models' functions as futures on a tokio-postgres
//! connection that tasks share (features `tokio` and `postgres`). Each test
//! works in a schema of its own on the server `ORM_POSTGRES_URL` names
//! (`scripts/with-postgres` starts a throwaway one).

mod common;

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{category, product, Category, Product};
use orm_core::{AsyncAtomic, AsyncPostgres, Error, Model, Result};

/// A connection whose statements go to a new, empty schema `schema`.
async fn connect(schema: &str) -> Result<AsyncPostgres> {
    let url = std::env::var("ORM_POSTGRES_URL")
        .expect("ORM_POSTGRES_URL is not set: run the tests under scripts/with-postgres");
    let pg = AsyncPostgres::connect(format!("{url} options='-c search_path={schema}'")).await?;
    pg.client()
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await?;
    Ok(pg)
}

/// The shop of `common::fill`, through the async connection.
async fn shop(schema: &str, categories: i64) -> Result<AsyncPostgres> {
    let pg = connect(schema).await?;
    common::fill(&pg, categories).await?;
    Ok(pg)
}

/// Whether the connection is inside a transaction, after a plan (which
/// first undoes what a dropped block left).
async fn in_transaction(pg: &AsyncPostgres) -> Result<bool> {
    Category::query().count(&pg).await?;
    let probe = pg.client().batch_execute("SAVEPOINT probe").await;
    match probe {
        Ok(()) => Ok(true),
        Err(e) if e.code().map(|c| c.code()) == Some("25P01") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

#[tokio::test]
async fn queries_and_prefetches_match_the_sync_connection() -> Result<()> {
    let pg = shop("apg_queries", 9).await?;
    common::answers_as_the_sync_shop(&pg).await?;
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

#[tokio::test]
async fn loads_awaited_together_share_the_connection() -> Result<()> {
    let pg = shop("apg_join", 12).await?;
    let cats = Category::all(&pg).await?;
    let (products, counts) = tokio::try_join!(
        Category::load_products(&pg, &cats),
        Category::count_products(&pg, &cats)
    )?;
    assert_eq!(products, Category::load_products(&pg, &cats).await?);
    let sizes: Vec<usize> = products.iter().map(Vec::len).collect();
    let counts: Vec<usize> = counts.into_iter().map(|n| n as usize).collect();
    assert_eq!(sizes, counts);

    // Twenty loads at once on the one connection.
    let started = Instant::now();
    let loads = (0..20).map(|_| Category::load_products(&pg, &cats));
    let all = join_all(loads).await;
    assert!(all.iter().all(|l| l.as_ref().ok() == Some(&products)));
    assert!(started.elapsed() < Duration::from_secs(5));
    Ok(())
}

/// Awaits every future together, in one task (`futures::future::join_all`).
async fn join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(&mut outputs) {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    Poll::Ready(out) => {
                        *output = Some(out);
                        *future = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[tokio::test]
async fn atomic_commits_rolls_back_and_nests() -> Result<()> {
    let pg = shop("apg_atomic", 2).await?;
    pg.atomic(async |tx| {
        category(10).insert(tx).await?;
        product(1, 10).insert(tx).await
    })
    .await?;
    assert_eq!(Category::query().count(&pg).await?, 3);

    // Rolled back on `Err`.
    let failed: Result<i64> = pg
        .atomic(async |tx| {
            category(11).insert(tx).await?;
            category(10).insert(tx).await
        })
        .await;
    assert!(
        matches!(failed, Err(Error::UniqueViolation { .. })),
        "{failed:?}"
    );
    assert_eq!(Category::query().count(&pg).await?, 3);

    // Nested blocks are savepoints: an inner failure undoes only itself.
    pg.atomic(async |tx| {
        category(12).insert(tx).await?;
        let inner: Result<i64> = tx
            .atomic(async |tx| {
                category(13).insert(tx).await?;
                category(12).insert(tx).await
            })
            .await;
        assert!(inner.is_err());
        tx.atomic(async |tx| category(14).insert(tx).await).await
    })
    .await?;
    let names = Category::all(&pg).await?;
    assert_eq!(ids(&names), [1, 2, 10, 12, 14]);

    // A failed statement whose error the block ignored: nothing committed.
    let aborted = pg
        .atomic(async |tx| {
            category(15).insert(tx).await?;
            let _ = category(1).insert(tx).await;
            Ok(())
        })
        .await;
    assert!(
        matches!(aborted, Err(Error::TransactionAborted { .. })),
        "{aborted:?}"
    );
    assert_eq!(Category::query().count(&pg).await?, 5);

    // The block's value, and a bulk insert (a COPY) inside it.
    let n = pg
        .atomic(async |tx| {
            let rows: Vec<_> = (100..400).map(|id| product(id, 1)).collect();
            Product::insert_all(tx, &rows).await?;
            Product::query().count(tx).await
        })
        .await?;
    // The shop's three, the first block's one, these 300.
    assert_eq!(n, 3 + 1 + 300);
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

#[tokio::test]
async fn a_dropped_atomic_block_rolls_back() -> Result<()> {
    let pg = shop("apg_dropped", 2).await?;
    let block = pg.atomic(async |tx| {
        category(10).insert(tx).await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(100), block).await;
    assert!(timed_out.is_err());
    assert!(!in_transaction(&pg).await?);
    assert_eq!(ids(&Category::all(&pg).await?), [1, 2]);
    category(10).insert(&pg).await?;
    assert_eq!(ids(&Category::all(&pg).await?), [1, 2, 10]);
    Ok(())
}

#[tokio::test]
async fn a_failed_bulk_insert_writes_nothing() -> Result<()> {
    let pg = shop("apg_bulk", 2).await?;
    let rows = [product(1, 1), product(2, 2), product(10_000, 1)];
    let failed = Product::insert_all(&pg, &rows).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(Product::query().count(&pg).await?, 3);
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_share_a_connection_and_wait_for_a_block() -> Result<()> {
    let pg = Arc::new(shop("apg_tasks", 8).await?);
    let cats = Category::all(&*pg).await?;
    let expected = Category::prefetch_products(&*pg, cats.clone()).await?;

    let (began_tx, began) = tokio::sync::oneshot::channel();
    let block = tokio::spawn({
        let pg = Arc::clone(&pg);
        async move {
            pg.atomic(async |tx| {
                category(20).insert(tx).await?;
                let _ = began_tx.send(());
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Fails: the block's own row goes, the other tasks' stay.
                category(20).insert(tx).await
            })
            .await
        }
    });
    began.await.expect("the block began");
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let pg = Arc::clone(&pg);
            let cats = cats.clone();
            tokio::spawn(async move {
                category(30 + i).insert(&*pg).await?;
                Category::prefetch_products(&*pg, cats).await
            })
        })
        .collect();
    assert!(block.await.expect("block task").is_err());
    for reader in readers {
        assert_eq!(reader.await.expect("reader task")?, expected);
    }
    assert_eq!(
        ids(&Category::all(&*pg).await?),
        [1, 2, 3, 4, 5, 6, 7, 8, 30, 31, 32, 33]
    );
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

/// Two nested blocks awaited together inside one block: each is a
/// savepoint of its own, so one that fails undoes only its own rows.
#[tokio::test]
async fn sibling_blocks_awaited_together_keep_apart() -> Result<()> {
    let pg = shop("apg_siblings", 1).await?;
    pg.atomic(async |tx| {
        let (kept, failed) = tokio::join!(
            tx.atomic(async |tx| {
                category(10).insert(tx).await?;
                tokio::time::sleep(Duration::from_millis(50)).await;
                category(11).insert(tx).await
            }),
            tx.atomic(async |tx| {
                category(20).insert(tx).await?;
                category(1).insert(tx).await
            })
        );
        assert!(failed.is_err());
        kept
    })
    .await?;
    assert_eq!(ids(&Category::all(&pg).await?), [1, 10, 11]);
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

/// A query dropped while the server runs it (a timeout): the next one on
/// the connection reads its own rows, outside any transaction.
#[tokio::test]
async fn a_query_dropped_midway_leaves_nothing_behind() -> Result<()> {
    use orm_core::Raw as _;
    let pg = shop("apg_dropped_query", 40).await?;
    let slow = pg
        .raw("SELECT 7::int8, pg_sleep(0.3)::text", ())
        .all::<(i64, String)>();
    let timed_out = tokio::time::timeout(Duration::from_millis(50), slow).await;
    assert!(timed_out.is_err());
    let fast: Vec<(i64,)> = pg.raw("SELECT 8::int8", ()).all().await?;
    assert_eq!(fast, [(8,)]);

    // A large prefetch dropped after its first rows arrived.
    let many: Vec<_> = (0..20_000)
        .map(|id| product(20_000 + id, 1 + id % 40))
        .collect();
    Product::insert_all(&pg, &many).await?;
    let cats = Category::all(&pg).await?;
    let expected = Category::prefetch_products(&pg, cats.clone()).await?;
    for micros in [200, 1_000, 5_000, 20_000] {
        let load = Category::prefetch_products(&pg, cats.clone());
        let _ = tokio::time::timeout(Duration::from_micros(micros), load).await;
        assert_eq!(
            Category::prefetch_products(&pg, cats.clone()).await?,
            expected
        );
        assert!(!in_transaction(&pg).await?);
    }
    Ok(())
}

/// A bulk insert dropped midway writes all its rows or none, and leaves
/// no transaction open.
#[tokio::test]
async fn a_bulk_insert_dropped_midway_writes_all_or_nothing() -> Result<()> {
    let pg = shop("apg_dropped_bulk", 2).await?;
    let rows: Vec<_> = (0..50_000).map(|id| product(20_000 + id, 1)).collect();
    for micros in [100, 1_000, 10_000, 50_000] {
        let insert = Product::insert_all(&pg, &rows);
        let done = tokio::time::timeout(Duration::from_micros(micros), insert).await;
        let n = Product::query().count(&pg).await?;
        assert!(!in_transaction(&pg).await?);
        match done {
            Ok(keys) => {
                assert_eq!(keys?.len(), rows.len());
                assert_eq!(n, 3 + 50_000);
                return Ok(());
            }
            Err(_) => assert!(n == 3 || n == 3 + 50_000, "{n} rows after a dropped insert"),
        }
        if n > 3 {
            return Ok(());
        }
    }
    Ok(())
}

/// Blocks from many tasks, plain statements and bulk inserts on one shared
/// connection all finish, each block whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_blocks_and_bulk_writes_on_one_connection() -> Result<()> {
    let pg = Arc::new(shop("apg_many", 2).await?);
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let pg = Arc::clone(&pg);
        tasks.push(tokio::spawn(async move {
            match i % 4 {
                0 => {
                    pg.atomic(async |tx| {
                        category(100 + i).insert(tx).await?;
                        tokio::task::yield_now().await;
                        tx.atomic(async |tx| product(100 + i, 100 + i).insert(tx).await)
                            .await?;
                        Ok(())
                    })
                    .await
                }
                1 => {
                    let rows: Vec<_> = (0..2_000).map(|k| product(100_000 * i + k, 1)).collect();
                    Product::insert_all(&*pg, &rows).await.map(drop)
                }
                2 => category(100 + i).insert(&*pg).await.map(drop),
                _ => {
                    let failed: Result<()> = pg
                        .atomic(async |tx| {
                            category(100 + i).insert(tx).await?;
                            category(1).insert(tx).await?;
                            Ok(())
                        })
                        .await;
                    assert!(failed.is_err());
                    Ok(())
                }
            }
        }));
    }
    let all = async {
        for task in tasks {
            task.await.expect("task")?;
        }
        Ok::<(), Error>(())
    };
    tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("no deadlock")?;
    let cats = ids(&Category::all(&*pg).await?);
    let expected: Vec<i64> = [1, 2]
        .into_iter()
        .chain(
            (0..16)
                .filter(|i| i % 4 == 0 || i % 4 == 2)
                .map(|i| 100 + i),
        )
        .collect();
    assert_eq!(cats, expected);
    assert_eq!(Product::query().count(&*pg).await?, 3 + 4 + 4 * 2_000);
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

/// `count_queries_async` counts the statements of its own future only,
/// while another task runs its own on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_per_task() -> Result<()> {
    let pg = Arc::new(shop("apg_counts", 4).await?);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise = tokio::spawn({
        let (pg, stop) = (Arc::clone(&pg), Arc::clone(&stop));
        async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                Category::all(&*pg).await?;
            }
            Ok::<(), Error>(())
        }
    });
    for _ in 0..20 {
        let (out, n) = orm_core::count_queries_async(async {
            let cats = Category::all(&*pg).await?;
            Category::prefetch_products(&*pg, cats).await
        })
        .await;
        out?;
        assert_eq!(n, 2);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    noise.await.expect("noise")?;
    Ok(())
}

/// A panic inside a block, in a task of its own: the block is rolled back
/// and the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_block_rolls_back() -> Result<()> {
    let pg = Arc::new(shop("apg_panic", 2).await?);
    let task = tokio::spawn({
        let pg = Arc::clone(&pg);
        async move {
            pg.atomic(async |tx| -> Result<()> {
                category(10).insert(tx).await?;
                panic!("a bug inside the block");
            })
            .await
        }
    });
    assert!(task.await.is_err_and(|e| e.is_panic()));
    assert_eq!(ids(&Category::all(&*pg).await?), [1, 2]);
    assert!(!in_transaction(&pg).await?);
    Ok(())
}

/// A pooled connection a user left inside a transaction (raw `BEGIN`) is
/// not lent again as it is: the next user's writes would be lost with it.
#[tokio::test]
async fn a_pool_does_not_lend_a_connection_left_in_a_transaction() -> Result<()> {
    use orm_core::async_pool::{PostgresManager, PostgresPool};
    use orm_core::Raw as _;
    let schema = "apg_pool_tx";
    let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
    drop(shop(schema, 1).await?);
    let manager = PostgresManager::new(format!("{url} options='-c search_path={schema}'"));
    let pool = PostgresPool::builder(manager)
        .max_size(1)
        .build()
        .expect("a pool");
    let pid = async || -> Result<i32> {
        let conn = pool.get().await.expect("a connection");
        let pid: Vec<(i32,)> = conn.raw("SELECT pg_backend_pid()", ()).all().await?;
        Ok(pid[0].0)
    };
    // A connection given back outside a transaction is lent again.
    assert_eq!(pid().await?, pid().await?);
    {
        let conn = pool.get().await.expect("a connection");
        conn.raw("BEGIN", ()).execute().await?;
        category(10).insert(&conn).await?;
    }
    let conn = pool.get().await.expect("a connection");
    assert!(
        !in_transaction(&conn).await?,
        "lent inside the previous user's transaction"
    );
    Ok(())
}

/// Generic helpers over `AsyncDb` are `Send` on every async connection:
/// pooled ones and `AsyncAnyDb` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_helpers_are_send_on_every_async_connection() -> Result<()> {
    use orm_core::async_pool::{AnyManager, AnyPool, PostgresManager, PostgresPool};
    use orm_core::{AsyncAnyDb, AsyncDb};
    async fn names(db: &impl AsyncDb) -> Result<Vec<String>> {
        let cats = Category::all(db).await?;
        let pairs = Category::prefetch_products(db, cats).await?;
        Ok(pairs.into_iter().map(|(c, _)| c.name).collect())
    }
    async fn in_block<D: AsyncDb + AsyncAtomic>(db: &D) -> Result<usize> {
        db.atomic(async |tx| Ok(names(tx).await?.len())).await
    }
    let schema = "apg_generic";
    drop(shop(schema, 3).await?);
    let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
    let url = format!("{url} options='-c search_path={schema}'");
    let pool = PostgresPool::builder(PostgresManager::new(url.clone()))
        .build()
        .expect("a pool");
    let any_pool = AnyPool::builder(AnyManager::new("sqlite::memory:"))
        .build()
        .expect("a pool");
    let task = tokio::spawn(async move {
        let pg = connect_to(&url).await?;
        assert_eq!(names(&pg).await?.len(), 3);
        assert_eq!(in_block(&pg).await?, 3);
        let pooled = pool.get().await.expect("pooled");
        assert_eq!(names(&pooled).await?.len(), 3);
        assert_eq!(in_block(&pooled).await?, 3);
        let any = AsyncAnyDb::Postgres(pg);
        assert_eq!(names(&any).await?.len(), 3);
        assert_eq!(in_block(&any).await?, 3);
        let lite = any_pool.get().await.expect("pooled");
        Category::create_table(&lite).await?;
        Product::create_table(&lite).await?;
        assert_eq!(in_block(&lite).await?, 0);
        Ok::<(), Error>(())
    });
    task.await.expect("task")
}

async fn connect_to(url: &str) -> Result<AsyncPostgres> {
    AsyncPostgres::connect(url).await
}

/// A migration whose future is dropped (a timeout while it waits for
/// another deploy's lock) leaves no transaction open on the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_dropped_midway_leaves_no_transaction() -> Result<()> {
    use orm_core::migrate::{make, Migration, Migrations, TableDef};
    const LOCK: &str = "SELECT pg_advisory_lock(7243038127041813857)";
    const UNLOCK: &str = "SELECT pg_advisory_unlock(7243038127041813857)";
    let pg = Arc::new(shop("apg_migrate", 2).await?);
    let other = connect("apg_migrate_other").await?;
    #[derive(Model)]
    struct Note {
        id: i64,
    }
    let text = make(&[], &[TableDef::of::<Note>()])?.expect("a migration");
    let files = [Migration::new("0001_notes", &text)];

    // Dropped while it waits for the lock another deploy holds.
    other.client().batch_execute(LOCK).await?;
    let migrations = Migrations::from_files(&files);
    let apply = migrations.apply(&*pg);
    let timed_out = tokio::time::timeout(Duration::from_millis(200), apply).await;
    assert!(timed_out.is_err());
    other.client().batch_execute(UNLOCK).await?;
    assert!(
        !in_transaction(&pg).await?,
        "left inside the migration's transaction"
    );
    Ok(())
}

/// Other tasks' statements never land in a migration's transaction (whose
/// failure would undo them after they returned `Ok`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tasks_wait_for_a_migration() -> Result<()> {
    use orm_core::migrate::{make, Migration, Migrations, TableDef};
    use orm_core::Raw as _;
    let pg = Arc::new(shop("apg_migrate_wait", 2).await?);
    let other = connect("apg_migrate_wait_other").await?;
    #[derive(Model)]
    struct Note {
        id: i64,
    }
    let text = make(&[], &[TableDef::of::<Note>()])?.expect("a migration");
    let files = [Migration::new("0001_notes", &text)];
    // Another deploy creates the same table: the migration waits for it
    // inside its transaction, then fails.
    other
        .client()
        .batch_execute("BEGIN; CREATE TABLE apg_migrate_wait.note (id int8)")
        .await?;
    let migrate = tokio::spawn({
        let pg = Arc::clone(&pg);
        async move { Migrations::from_files(&files).apply(&*pg).await.map(drop) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let insert = tokio::spawn({
        let pg = Arc::clone(&pg);
        async move { category(10).insert(&*pg).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    other.client().batch_execute("COMMIT").await?;
    let failed = migrate.await.expect("migrate");
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(insert.await.expect("insert")?, 10);
    let kept: Vec<(i64,)> = pg
        .raw("SELECT count(*) FROM categories WHERE id = 10", ())
        .all()
        .await?;
    assert_eq!(kept, [(1,)], "an insert that returned Ok was rolled back");
    Ok(())
}

/// A block's statements are recorded as on the sync connection.
#[tokio::test]
async fn a_block_records_what_the_sync_block_records() -> Result<()> {
    use orm_core::Atomic as _;
    let url = std::env::var("ORM_POSTGRES_URL").expect("ORM_POSTGRES_URL");
    let sync_url = format!("{url} options='-c search_path=apg_record_sync'");
    drop(shop("apg_record_sync", 1).await?);
    let sync = std::thread::spawn(move || -> Result<Vec<String>> {
        let mut pg = orm_core::Postgres::connect(&sync_url)?;
        let (out, sql) = orm_core::record_queries(&mut pg, |c| {
            c.atomic(|tx| {
                category(10).insert(tx)?;
                let inner: Result<i64> = tx.atomic(|tx| category(10).insert(tx));
                assert!(inner.is_err());
                tx.atomic(|tx| category(11).insert(tx))
            })
        });
        out?;
        Ok(sql)
    })
    .join()
    .expect("sync thread")?;
    let pg = shop("apg_record", 1).await?;
    let (out, seen) = orm_core::record_queries_async(pg.atomic(async |tx| {
        category(10).insert(tx).await?;
        let inner: Result<i64> = tx.atomic(async |tx| category(10).insert(tx).await).await;
        assert!(inner.is_err());
        tx.atomic(async |tx| category(11).insert(tx).await).await
    }))
    .await;
    out?;
    // The same statements; a savepoint's rollback also releases it here.
    let first_words = |sql: &[String]| -> Vec<String> {
        sql.iter()
            .map(|s| s.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(first_words(&seen), first_words(&sync));
    Ok(())
}
