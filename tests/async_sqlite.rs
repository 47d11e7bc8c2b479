//! `AsyncSqlite`: the models' functions as futures on a SQLite connection
//! whose statements run on a thread of its own (feature `tokio`).

mod backends;
mod common;

use std::sync::Arc;
use std::time::Duration;

use backends::AsyncBackend as _;
use common::{category, product, Category, Product};
use orm_core::{AsyncAtomic, AsyncSqlite, Atomic as _, Error, Model, Result};

/// The shop of `common::fill`, through the async connection.
async fn shop(categories: i64) -> Result<AsyncSqlite> {
    let lite = AsyncSqlite::open_in_memory().await?;
    common::fill(&lite, categories).await?;
    Ok(lite)
}

async fn in_transaction(lite: &AsyncSqlite) -> Result<bool> {
    lite.call(|conn| Ok(!conn.is_autocommit())).await
}

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

#[tokio::test]
async fn queries_and_prefetches_match_the_sync_connection() -> Result<()> {
    let lite = shop(9).await?;
    common::answers_as_the_sync_shop(&lite).await?;
    assert!(!in_transaction(&lite).await?);
    Ok(())
}

#[tokio::test]
async fn prefetch_in_batches_under_a_small_variable_limit() -> Result<()> {
    let lite = shop(40).await?;
    lite.set_variable_limit(3).await;
    let cats = Category::all(&lite).await?;
    let loading = Category::prefetch_products(&lite, cats.clone());
    let (loaded, sql) = orm_core::record_queries_async(loading).await;
    let loaded = loaded?;
    // The limit the connection's thread read after `call`: 40 keys, 3 at a
    // time, in one read transaction whose BEGIN and COMMIT are not counted.
    assert_eq!(sql.len(), 14);
    assert!(sql.iter().all(|s| common::in_list_len(s) <= 3), "{sql:#?}");
    let sync = common::shop(40)?;
    assert_eq!(loaded, Category::prefetch_products(&sync, cats)?);
    // Several statements, one snapshot: closed again.
    assert!(!in_transaction(&lite).await?);
    Ok(())
}

#[tokio::test]
async fn insert_and_errors() -> Result<()> {
    let lite = shop(2).await?;
    product(1, 1).insert(&lite).await?;
    assert_eq!(Product::get(&lite, 1).await?, Some(product(1, 1)));
    let again = product(1, 2).insert(&lite).await;
    assert!(
        matches!(again, Err(Error::UniqueViolation { .. })),
        "{again:?}"
    );
    // The connection goes on after a failed statement.
    assert_eq!(Product::all(&lite).await?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn atomic_commits_rolls_back_and_nests() -> Result<()> {
    let lite = shop(2).await?;
    lite.atomic(async |tx| {
        product(1, 1).insert(tx).await?;
        product(2, 1).insert(tx).await?;
        Ok(())
    })
    .await?;
    assert_eq!(Product::get(&lite, 2).await?, Some(product(2, 1)));

    let failed: Result<()> = lite
        .atomic(async |tx| {
            product(3, 1).insert(tx).await?;
            product(1, 1).insert(tx).await?; // a duplicate key
            Ok(())
        })
        .await;
    assert!(
        matches!(failed, Err(Error::UniqueViolation { .. })),
        "{failed:?}"
    );
    assert_eq!(Product::get(&lite, 3).await?, None);

    lite.atomic(async |tx| {
        product(4, 1).insert(tx).await?;
        let inner: Result<()> = tx
            .atomic(async |tx| {
                product(5, 1).insert(tx).await?;
                Err(Error::Internal("undo the inner block"))
            })
            .await;
        assert!(inner.is_err());
        Ok(())
    })
    .await?;
    assert_eq!(Product::get(&lite, 4).await?, Some(product(4, 1)));
    assert_eq!(Product::get(&lite, 5).await?, None);
    assert!(!in_transaction(&lite).await?);
    Ok(())
}

#[tokio::test]
async fn a_dropped_atomic_block_rolls_back() -> Result<()> {
    let lite = shop(2).await?;
    let block = lite.atomic(async |tx| {
        product(1, 1).insert(tx).await?;
        product(2, 1).insert(tx).await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    let timed_out = tokio::time::timeout(Duration::from_millis(50), block).await;
    assert!(timed_out.is_err());
    assert!(!in_transaction(&lite).await?);
    assert_eq!(Product::get(&lite, 1).await?, None);
    // Usable afterwards.
    product(1, 1).insert(&lite).await?;
    assert_eq!(Product::get(&lite, 1).await?, Some(product(1, 1)));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_share_one_connection() -> Result<()> {
    let lite = Arc::new(shop(20).await?);
    let sync = common::shop(20)?;
    // The tasks add products to category 1, and load the others'.
    let cats: Vec<Category> = Category::all(&sync)?.into_iter().skip(1).collect();
    let want = Category::prefetch_products(&sync, cats.clone())?;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (lite, cats) = (Arc::clone(&lite), cats.clone());
            tokio::spawn(async move {
                let loaded = Category::prefetch_products(&*lite, cats).await?;
                let rows: Vec<Product> = (0..3).map(|k| product(100 * i + k, 1)).collect();
                if i % 2 == 0 {
                    Product::insert_all(&*lite, &rows).await?;
                } else {
                    lite.atomic(async |tx| {
                        for row in &rows {
                            row.insert(tx).await?;
                        }
                        Ok(())
                    })
                    .await?;
                }
                Ok::<_, Error>(loaded)
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("no panic")?, want);
    }
    assert_eq!(
        Product::all(&*lite).await?.len(),
        Product::all(&sync)?.len() + 24
    );
    assert!(!in_transaction(&lite).await?);
    Ok(())
}

/// The `orm_core::query` events a subscriber sees: their fields.
#[derive(Clone, Default)]
struct Recorder(Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == orm_core::log::TARGET {
            let mut fields = std::collections::BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[tokio::test]
async fn statements_reach_the_callers_subscriber() -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    let recorder = Recorder::default();
    // The task's own (thread-local) subscriber: the statements run on the
    // connection's thread, and are reported to it all the same.
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let lite = shop(3).await?;
    let cats = Category::all(&lite).await?;
    // A key per statement: the load reads in a transaction of its own.
    lite.set_variable_limit(1).await;
    let loaded = Category::prefetch_products(&lite, cats.clone()).await?;
    assert_eq!(loaded.len(), 3);
    Product::drop_table(&lite).await?;
    let failed = Category::prefetch_products(&lite, cats).await;
    assert!(failed.is_err());
    // Runs after whatever the failed load left to do on the thread.
    assert!(!in_transaction(&lite).await?);

    let seen = recorder.0.lock().unwrap().clone();
    let field = |e: &std::collections::BTreeMap<String, String>, k: &str| {
        e.get(k).cloned().unwrap_or_default()
    };
    assert!(
        seen.iter().all(|e| field(e, "db.system") == "sqlite"),
        "{seen:#?}"
    );
    let select = seen
        .iter()
        .find(|e| {
            field(e, "db.statement").starts_with("SELECT") && field(e, "table") == "categories"
        })
        .expect("the categories' SELECT");
    assert_eq!(field(select, "rows"), "3");
    // The loads: a snapshot committed, then one rolled back (from the
    // dropped scope, on the connection's thread) after its failed SELECT.
    let sql: Vec<String> = seen.iter().map(|e| field(e, "db.statement")).collect();
    let tail: Vec<&str> = sql[sql.len() - 9..]
        .iter()
        .map(|s| &s[..s.len().min(6)])
        .collect();
    assert_eq!(
        tail,
        ["BEGIN", "SELECT", "SELECT", "SELECT", "COMMIT", "DROP T", "BEGIN", "SELECT", "ROLLBA"],
        "{sql:#?}"
    );
    let missing = &seen[seen.len() - 2];
    assert!(!field(missing, "error").is_empty(), "{missing:#?}");
    Ok(())
}

/// Two nested blocks awaited together inside one block: each is a
/// savepoint of its own, so one that fails undoes only its own rows.
#[tokio::test]
async fn sibling_blocks_awaited_together_keep_apart() -> Result<()> {
    let lite = shop(1).await?;
    lite.atomic(async |tx| {
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
    assert_eq!(ids(&Category::all(&lite).await?), [1, 10, 11]);
    assert!(!in_transaction(&lite).await?);
    Ok(())
}

/// A panic in `call` ends the connection's thread: later calls are
/// `Error::Closed`, not a hang, and a pool does not lend it again.
#[tokio::test]
async fn a_panic_in_call_closes_the_connection() -> Result<()> {
    let lite = shop(2).await?;
    let panicked = tokio::spawn({
        let lite = Arc::new(lite);
        let again = Arc::clone(&lite);
        async move {
            let _ = lite
                .call(|_| -> Result<()> { panic!("a bug in the user's closure") })
                .await;
            again
        }
    })
    .await;
    let lite = panicked.expect("the task itself does not panic");
    let after = tokio::time::timeout(Duration::from_secs(5), Category::all(&*lite)).await;
    assert!(
        matches!(after, Ok(Err(Error::Closed(_)))),
        "{:?}",
        after.map(|r| r.map(|c| c.len()))
    );
    Ok(())
}

/// Polls `future` until it has been pending `polls` times, then drops it,
/// as a timeout would at that point; its output if it finished first.
async fn dropped_after<F: std::future::Future>(polls: usize, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut pending = 0;
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
        std::task::Poll::Pending if pending == polls => std::task::Poll::Ready(None),
        std::task::Poll::Pending => {
            pending += 1;
            std::task::Poll::Pending
        }
    })
    .await
}

/// Migrations applied on an async connection and dropped at any point
/// (a timeout around a deploy step) leave no transaction open and the
/// foreign keys on.
#[tokio::test]
async fn a_migration_dropped_midway_leaves_the_connection_as_it_was() -> Result<()> {
    use orm_core::migrate::{make, Migration, Migrations, TableDef};
    let text = make(
        &[],
        &[TableDef::of::<Category>(), TableDef::of::<Product>()],
    )?
    .expect("a first migration");
    let files = [Migration::new("0001_initial", &text)];
    let migrations = Migrations::from_files(&files);
    for polls in 0..30 {
        let lite = AsyncSqlite::open_in_memory().await?;
        lite.call(|c| Ok(c.pragma_update(None, "foreign_keys", true)?))
            .await?;
        let done = dropped_after(polls, migrations.apply(&lite)).await;
        let foreign_keys: i64 = lite
            .call(|c| Ok(c.pragma_query_value(None, "foreign_keys", |r| r.get(0))?))
            .await?;
        assert!(!in_transaction(&lite).await?, "after {polls} polls");
        assert_eq!(foreign_keys, 1, "after {polls} polls");
        if let Some(done) = done {
            assert_eq!(done?, ["0001_initial"]);
            return Ok(());
        }
    }
    panic!("the migration never finished");
}

/// A block's statements are recorded as on the sync connection, where
/// `record_queries` sees its `BEGIN` and `COMMIT`.
#[tokio::test]
async fn a_block_records_what_the_sync_block_records() -> Result<()> {
    let mut conn = common::shop(1)?;
    let lite = shop(1).await?;
    let (out, sync) = orm_core::record_queries(&mut conn, |c| {
        c.atomic(|tx| {
            category(10).insert(tx)?;
            let inner: Result<i64> = tx.atomic(|tx| category(10).insert(tx));
            assert!(inner.is_err());
            tx.atomic(|tx| category(11).insert(tx))
        })
    });
    out?;
    let (out, seen) = orm_core::record_queries_async(lite.atomic(async |tx| {
        category(10).insert(tx).await?;
        let inner: Result<i64> = tx.atomic(async |tx| category(10).insert(tx).await).await;
        assert!(inner.is_err());
        tx.atomic(async |tx| category(11).insert(tx).await).await
    }))
    .await;
    out?;
    // Savepoint names are unique in the process: compare their shapes.
    let shape = |sql: &[String]| -> Vec<String> {
        sql.iter()
            .map(|s| s.split(" \"orm_").next().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(shape(&seen), shape(&sync));
    Ok(())
}

/// A chunked prefetch (several statements in one read transaction) and a
/// chunked bulk insert, dropped at each of their awaits, leave no
/// transaction open and no half-written rows.
#[tokio::test]
async fn chunked_plans_dropped_at_any_await_leave_nothing_open() -> Result<()> {
    let lite = shop(40).await?;
    lite.set_variable_limit(6).await;
    let cats = Category::all(&lite).await?;
    let expected = Category::prefetch_products(&lite, cats.clone()).await?;
    let rows: Vec<_> = (50..90).map(category).collect();
    for polls in 0..40 {
        let load = dropped_after(polls, Category::prefetch_products(&lite, cats.clone())).await;
        assert!(
            !in_transaction(&lite).await?,
            "load dropped after {polls} polls"
        );
        if let Some(load) = load {
            assert_eq!(load?, expected);
        }
        let insert = dropped_after(polls, Category::insert_all(&lite, &rows)).await;
        assert!(
            !in_transaction(&lite).await?,
            "insert dropped after {polls} polls"
        );
        let n = Category::query().count(&lite).await?;
        assert!(n == 40 || n == 80, "{n} rows after {polls} polls");
        if n == 80 {
            let f = Category::fields();
            Category::query().filter(f.id.ge(50)).delete(&lite).await?;
        }
        drop(insert);
    }
    Ok(())
}

/// The `_with` functions' futures are `Send` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_functions_in_spawned_tasks() -> Result<()> {
    let lite = Arc::new(shop(9).await?);
    let task = tokio::spawn({
        let lite = Arc::clone(&lite);
        async move {
            let cats = Category::all(&*lite).await?;
            let f = Product::fields();
            let cheap = || Product::query().filter(f.price.lt(4990.0));
            let counts = Category::count_products_with(&*lite, &cats, cheap()).await?;
            let loaded = Category::load_products_with(&*lite, &cats, cheap()).await?;
            let pairs = Category::prefetch_products_with(&*lite, cats.clone(), cheap()).await?;
            let sizes: Vec<u64> = loaded.iter().map(|p| p.len() as u64).collect();
            assert_eq!(counts, sizes);
            assert_eq!(pairs.len(), cats.len());
            Ok::<(), Error>(())
        }
    });
    task.await.expect("task")
}
