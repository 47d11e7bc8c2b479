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
    Category::create_table(&pg).await?;
    Product::create_table(&pg).await?;
    let cats: Vec<_> = (1..=categories).map(category).collect();
    Category::insert_all(&pg, &cats).await?;
    let mut rows = Vec::new();
    let mut id = 10_000;
    for c in 1..=categories {
        for _ in 0..c % 4 {
            rows.push(product(id, c));
            id -= 1;
        }
    }
    Product::insert_all(&pg, &rows).await?;
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
    let sync = common::shop(9)?;

    let f = Category::fields();
    let cats = Category::query().filter(f.id.gt(2)).all(&pg).await?;
    assert_eq!(cats, Category::query().filter(f.id.gt(2)).all(&sync)?);
    assert_eq!(ids(&cats), [3, 4, 5, 6, 7, 8, 9]);

    let loaded = Category::prefetch_products(&pg, cats.clone()).await?;
    assert_eq!(loaded, Category::prefetch_products(&sync, cats.clone())?);
    let sizes: Vec<usize> = loaded.iter().map(|(_, p)| p.len()).collect();
    assert_eq!(sizes, [3, 0, 1, 2, 3, 0, 1]);

    // Two statements, as on a sync connection.
    let (again, n) = orm_core::count_queries_async(async {
        let cats = Category::query().filter(f.id.gt(2)).all(&pg).await?;
        Category::prefetch_products(&pg, cats).await
    })
    .await;
    assert_eq!((again?, n), (loaded.clone(), 2));

    let counts = Category::count_products(&pg, &cats).await?;
    assert_eq!(counts, [3, 0, 1, 2, 3, 0, 1]);
    assert_eq!(Product::all(&pg).await?, Product::all(&sync)?);
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
