//! The demo data, written once into an empty database.

use orm_core::{AsyncAnyDb, AsyncAtomic, AsyncDb, Begin, ForeignKey, Model, Raw};

use crate::models::{Category, Product, Review};

/// Each shelf with its products and prices. Two names carry `&` and `<` so
/// that the pages' HTML escaping is exercised by the demo itself.
const STOCK: &[(&str, &[(&str, f64)])] = &[
    (
        "Books",
        &[
            ("Dune", 9.50),
            ("Neuromancer", 8.00),
            ("Hyperion", 7.50),
            ("The Left Hand of Darkness", 10.99),
            ("Snow Crash", 11.25),
            ("Foundation", 6.99),
            ("The Dispossessed", 12.40),
        ],
    ),
    (
        "Games & Puzzles",
        &[
            ("Chess set", 25.00),
            ("Go board", 40.00),
            ("1000-piece jigsaw", 14.50),
            ("Backgammon", 22.00),
            ("Rubik's cube", 9.99),
            ("Playing cards", 3.50),
        ],
    ),
    (
        "Music",
        &[
            ("Kind of Blue", 12.00),
            ("A Love Supreme", 13.50),
            ("Blue Train", 11.00),
            ("Mingus Ah Um", 10.50),
            ("Moanin'", 9.00),
            ("Time Out", 12.75),
        ],
    ),
    (
        "Garden",
        &[
            ("Trowel", 8.90),
            ("Watering can", 15.00),
            ("Pruning shears", 19.50),
            ("Seed tray", 4.20),
            ("Kneeling pad", 11.00),
            ("Hose, 25 m", 34.00),
            ("Compost bin", 49.00),
        ],
    ),
    (
        "Kitchen",
        &[
            ("Chef's knife", 59.00),
            ("Cast-iron pan", 39.90),
            ("Wooden spoons, set of 3", 7.80),
            ("Pepper mill", 18.00),
            ("<blink> tag mug", 9.00),
            ("Salad spinner", 21.00),
        ],
    ),
    (
        "Outdoors",
        &[
            ("Head torch", 24.00),
            ("Water bottle", 12.00),
            ("Two-person tent", 149.00),
            ("Sleeping mat", 45.00),
            ("Camping stove", 38.50),
            ("Map case", 9.50),
        ],
    ),
    (
        "Stationery",
        &[
            ("Fountain pen", 28.00),
            ("Dot-grid notebook", 13.00),
            ("Mechanical pencil", 6.50),
            ("Ink, blue-black", 8.75),
            ("Desk lamp", 42.00),
            ("Paper clips, 100", 1.99),
        ],
    ),
    (
        "Toys",
        &[
            ("Wooden train set", 54.00),
            ("Kite", 17.50),
            ("Marbles, bag of 50", 5.00),
            ("Spinning top", 4.50),
            ("Building blocks", 29.00),
            ("Yo-yo", 3.00),
        ],
    ),
];

/// Ratings with what such a reviewer writes.
const OPINIONS: [(i64, &str); 5] = [
    (1, "Broke within a week."),
    (2, "Not what the picture suggested."),
    (3, "Does the job, nothing more."),
    (4, "Good value; would buy again."),
    (5, "Excellent. Exactly as described."),
];

/// Writes the demo data if there is no category yet; whether it wrote it.
/// Run it after the migrations. The check and the writes share one
/// transaction, which first takes a lock that a second process starting on
/// the same empty database waits for: it then finds the data and does not
/// write it again.
pub async fn seed_if_empty(db: &AsyncAnyDb) -> orm_core::Result<bool> {
    // On SQLite a block that will write takes the write lock as it begins
    // (`BEGIN IMMEDIATE`); the pool's `busy_timeout` bounds the wait.
    db.atomic_with(Begin::Write, async |tx| {
        lock_against_other_seeders(tx).await?;
        if Category::query().exists(tx).await? {
            return Ok(false);
        }
        seed(tx).await?;
        Ok(true)
    })
    .await
}

/// On PostgreSQL, where rows lock as they are written, the lock of
/// [`seed_if_empty`], taken inside its transaction and held until it ends:
/// a mode that conflicts with itself and with writers, not readers.
async fn lock_against_other_seeders(tx: &AsyncAnyDb) -> orm_core::Result<()> {
    if tx.backend() == "postgres" {
        let sql = format!(
            r#"LOCK TABLE "{}" IN SHARE ROW EXCLUSIVE MODE"#,
            Category::TABLE
        );
        tx.raw(&sql, ()).execute().await?;
    }
    Ok(())
}

/// Writes the demo data: 8 categories, 50 products, 100 reviews.
pub async fn seed(conn: &impl AsyncDb) -> orm_core::Result<()> {
    let categories: Vec<Category> = STOCK
        .iter()
        .map(|&(name, _)| Category {
            id: 0,
            name: name.to_owned(),
        })
        .collect();
    let category_ids = Category::insert_all(conn, &categories).await?;

    let mut products = Vec::new();
    for (&(_, stock), category) in STOCK.iter().zip(category_ids) {
        for &(name, price) in stock {
            products.push(Product {
                id: 0,
                name: name.to_owned(),
                price,
                category: ForeignKey::new(category),
            });
        }
    }
    let product_ids = Product::insert_all(conn, &products).await?;

    // Between zero and four reviews per product, with ratings that vary, from
    // a formula rather than randomness so that every start seeds the same.
    let mut reviews = Vec::new();
    for (n, product) in product_ids.into_iter().enumerate() {
        for k in 0..(n * 3) % 5 {
            let (rating, body) = OPINIONS[(n * 7 + k * 3) % 5];
            reviews.push(Review {
                id: 0,
                rating,
                body: body.to_owned(),
                product: ForeignKey::new(product),
            });
        }
    }
    Review::insert_all(conn, &reviews).await?;
    Ok(())
}
