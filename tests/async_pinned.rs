//! The calls issue 14 pins, as a user writes them (features `tokio` and
//! `postgres`): each async one inside `tokio::spawn`, so that its future
//! must be `Send`, and every result checked. Run under
//! `scripts/with-postgres`, which sets `ORM_POSTGRES_URL`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Brand, Category, CategoryLabel, Label, Product};
use orm_core::rusqlite::Connection;
use orm_core::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// A `postgres://` URL to the server `ORM_POSTGRES_URL` names (whose
/// `host`, `port`, `user` and `dbname` it reads), with a new, empty schema
/// of its own as search path.
async fn postgres_url() -> Result<String, BoxError> {
    let url = std::env::var("ORM_POSTGRES_URL")?;
    let schema = format!(
        "pinned_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed)
    );
    let setup = AsyncPostgres::connect(&url).await?;
    setup
        .client()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await?;
    let part = |key: &str| {
        url.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_owned()
    };
    Ok(format!(
        "postgres://{}@{}:{}/{}?options=-c%20search_path%3D{schema}",
        part("user"),
        part("host"),
        part("port"),
        part("dbname")
    ))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orm-pinned-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn category(id: i64, name: &str) -> Category {
    Category {
        id,
        name: name.into(),
    }
}

fn product(id: i64, price: f64, category: i64) -> Product {
    Product {
        id,
        name: format!("p{id}"),
        price,
        stock: None,
        note: None,
        category: ForeignKey::new(category),
        brand: None,
    }
}

/// The shop on any async connection: Books (2 products, labels 1 and 2),
/// Bikes (1 product, label 2), Cars (none).
async fn fill(db: &impl AsyncDb) -> Result<()> {
    common::create_tables(db).await?;
    Category::insert_all(
        db,
        &[
            category(1, "Books"),
            category(2, "Bikes"),
            category(3, "Cars"),
        ],
    )
    .await?;
    Product::insert_all(
        db,
        &[
            product(10, 4.0, 1),
            product(11, 9.0, 1),
            product(12, 300.0, 2),
        ],
    )
    .await?;
    Label::insert_all(
        db,
        &[
            Label {
                id: 1,
                name: "paper".into(),
            },
            Label {
                id: 2,
                name: "sport".into(),
            },
        ],
    )
    .await?;
    let links = [(1, 1, 1), (2, 1, 2), (3, 2, 2)].map(|(id, c, l)| CategoryLabel {
        id,
        category: ForeignKey::new(c),
        label: ForeignKey::new(l),
    });
    CategoryLabel::insert_all(db, &links).await?;
    Ok(())
}

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_async_calls_in_spawned_tasks() -> Result<(), BoxError> {
    let url = postgres_url().await?;
    let dir = temp_dir("async");
    let task = tokio::spawn(async move {
        let pg = orm_core::AsyncPostgres::connect(url.clone()).await?; // tokio-postgres
        let lite = orm_core::AsyncSqlite::open(dir.join("shop.db")).await?; // rusqlite on a connection thread of its own
        fill(&pg).await?;
        fill(&lite).await?;
        let c = Category::fields();

        let cats: Vec<Category> = Category::query()
            .filter(c.name.starts_with("B"))
            .all(&pg)
            .await?;
        assert_eq!(ids(&cats), [1, 2]);
        let pairs: Vec<(Category, Vec<Product>)> =
            Category::prefetch_products(&pg, cats.clone()).await?;
        let shape: Vec<(i64, Vec<i64>)> = pairs.iter().map(|(c, p)| (c.id, ids(p))).collect();
        assert_eq!(shape, [(1, vec![10, 11]), (2, vec![12])]);

        let cats2 = Category::all(&lite).await?;
        let n: Vec<u64> = Category::count_products(&lite, &cats2).await?;
        assert_eq!(n, [2, 1, 0]);

        let key: i64 = Product {
            id: 13,
            name: "Bell".into(),
            price: 12.5,
            stock: None,
            note: None,
            category: ForeignKey::new(2),
            brand: None,
        }
        .insert(&pg)
        .await?;
        assert_eq!(key, 13);

        let (products, labels) = tokio::try_join!(
            Category::load_products(&pg, &cats),
            Category::load_labels(&pg, &cats)
        )?;
        let products: Vec<Vec<i64>> = products.iter().map(|p| ids(p)).collect();
        let labels: Vec<Vec<i64>> = labels.iter().map(|l| ids(l)).collect();
        assert_eq!(products, [vec![10, 11], vec![12, 13]]);
        assert_eq!(labels, [vec![1, 2], vec![2]]);

        // The block's statements commit together, on both backends.
        let a = category(4, "Boats");
        pg.atomic(async |tx| {
            a.insert(tx).await?;
            Ok(())
        })
        .await?;
        let a = category(4, "Boats");
        lite.atomic(async |tx| {
            a.insert(tx).await?;
            Ok(())
        })
        .await?;
        assert_eq!(Category::get(&pg, 4).await?, Some(category(4, "Boats")));
        assert_eq!(Category::get(&lite, 4).await?, Some(category(4, "Boats")));

        let rows: Vec<(i64, String)> = pg
            .raw(
                "SELECT id, name FROM product WHERE price > ? ORDER BY id",
                (5.0,),
            )
            .all()
            .await?;
        assert_eq!(
            rows,
            [(11, "p11".into()), (12, "p12".into()), (13, "Bell".into())]
        );

        let db = orm_core::AsyncAnyDb::connect(url).await?; // async
        assert_eq!(db.backend(), "postgres");
        assert_eq!(ids(&Category::all(&db).await?), [1, 2, 3, 4]);
        let any_lite =
            orm_core::AsyncAnyDb::connect(format!("sqlite://{}", dir.join("shop.db").display()))
                .await?;
        assert_eq!(
            Category::count_products(&any_lite, &cats2).await?,
            [2, 1, 0]
        );
        Ok::<(), BoxError>(())
    });
    task.await?
}

#[test]
fn the_pinned_sync_calls() -> Result<(), BoxError> {
    let dir = temp_dir("sync");
    let conn = Connection::open(dir.join("shop.db"))?;
    Category::create_table(&conn)?;
    Brand::create_table(&conn)?;
    Product::create_table(&conn)?;
    category(1, "Books").insert(&conn)?;
    let a = product(10, 4.0, 1);
    let mut b = product(11, 1.0, 1);
    b.insert(&conn)?;
    b.price = 9.0;
    conn.atomic(|tx| {
        a.insert(tx)?;
        b.update(tx)?;
        Ok(())
    })?;
    let rows: Vec<(i64, String)> = conn
        .raw("SELECT id, name FROM product WHERE price > ?", (5.0,))
        .all()?;
    assert_eq!(rows, [(11, "p11".to_string())]);

    let db = orm_core::AnyDb::connect(format!("sqlite://{}", dir.join("app.db").display()))?;
    Category::create_table(&db)?;
    category(1, "Books").insert(&db)?;
    assert_eq!(Category::all(&db)?, [category(1, "Books")]);
    Ok(())
}

mod three_levels {
    use crate::common::music::{Album, Artist, Take, Track};
    use orm_core::{AsyncSqlite, ForeignKey, Model, Nested, Result};

    /// `Nested` on an async connection, with a closure that nests further,
    /// in a spawned task.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nested_closures_that_nest_further() -> Result<()> {
        let task = tokio::spawn(async {
            let db = AsyncSqlite::open_in_memory().await?;
            Artist::create_table(&db).await?;
            Album::create_table(&db).await?;
            Track::create_table(&db).await?;
            Take::create_table(&db).await?;
            Artist { id: 1 }.insert(&db).await?;
            Album {
                id: 10,
                artist: ForeignKey::new(1),
            }
            .insert(&db)
            .await?;
            Track {
                id: 100,
                album: ForeignKey::new(10),
            }
            .insert(&db)
            .await?;
            Take {
                id: 1000,
                track: ForeignKey::new(100),
            }
            .insert(&db)
            .await?;
            let artists = Artist::all(&db).await?;
            let tree = Artist::prefetch_albums(&db, artists)
                .await?
                .nested(&db, |db, albums| {
                    Box::pin(async move {
                        Album::prefetch_tracks(db, albums)
                            .await?
                            .nested(db, Track::prefetch_takes)
                            .await
                    })
                })
                .await?;
            let takes: Vec<i64> = tree[0].1[0].1[0].1.iter().map(|t| t.id).collect();
            assert_eq!(takes, [1000]);
            Ok(())
        });
        task.await.expect("task")
    }
}
