//! The models every suite shares and the helpers that fill them: the shop
//! (`models.rs`, re-exported here), for nesting [`music`], and for
//! transactions [`ledger`]. A suite keeps a model of its own only when its
//! test is about that model's shape (a key type, a column, the macro's
//! features).
#![allow(dead_code)]

pub mod ledger;
mod models;
pub mod music;

pub use models::*;
use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

pub fn category(id: i64) -> Category {
    Category {
        id,
        name: format!("category {id}"),
    }
}

/// A product of no brand and unknown stock; a third of them have a note.
pub fn product(id: i64, category: i64) -> Product {
    Product {
        id,
        name: format!("product {id}"),
        price: id as f64 / 2.0,
        stock: None,
        note: (id % 3 == 0).then(|| format!("note {id}")),
        category: ForeignKey::new(category),
        brand: None,
    }
}

/// The shop's tables, parents first (PostgreSQL checks a `REFERENCES`).
#[awaited::both]
pub fn create_tables(conn: &impl orm_core::Db) -> orm_core::Result<()> {
    Category::create_table(conn)?;
    Brand::create_table(conn)?;
    Product::create_table(conn)?;
    Tag::create_table(conn)?;
    ProductTag::create_table(conn)?;
    Label::create_table(conn)?;
    CategoryLabel::create_table(conn)?;
    Ok(())
}

/// A shop with `categories` categories; category `c` has `c % 4` products,
/// inserted in descending id order so that key order is not insertion order.
pub fn shop(categories: i64) -> orm_core::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    fill(&conn, categories)?;
    Ok(conn)
}

/// The same shop, in any connection.
#[awaited::both]
pub fn fill(conn: &impl orm_core::Db, categories: i64) -> orm_core::Result<()> {
    create_tables(conn)?;
    let cats: Vec<_> = (1..=categories).map(category).collect();
    Category::insert_all(conn, &cats)?;
    let mut rows = Vec::new();
    let mut id = 10_000;
    for c in 1..=categories {
        for _ in 0..c % 4 {
            rows.push(product(id, c));
            id -= 1;
        }
    }
    Product::insert_all(conn, &rows)?;
    Ok(())
}

/// What `db`, an async connection holding `fill`'s shop of 9 categories,
/// answers to queries, a prefetch and counts: what the sync shop answers,
/// in as many statements.
#[cfg(feature = "tokio")]
pub async fn answers_as_the_sync_shop(db: &impl orm_core::AsyncDb) -> orm_core::Result<()> {
    let sync = shop(9)?;
    let ids = |cats: &[Category]| cats.iter().map(|c| c.id).collect::<Vec<_>>();
    let f = Category::fields();
    let cats = Category::query().filter(f.id.gt(2)).all(db).await?;
    assert_eq!(cats, Category::query().filter(f.id.gt(2)).all(&sync)?);
    assert_eq!(ids(&cats), [3, 4, 5, 6, 7, 8, 9]);

    let loaded = Category::prefetch_products(db, cats.clone()).await?;
    assert_eq!(loaded, Category::prefetch_products(&sync, cats.clone())?);
    let sizes: Vec<usize> = loaded.iter().map(|(_, p)| p.len()).collect();
    assert_eq!(sizes, [3, 0, 1, 2, 3, 0, 1]);

    // Two statements, as on a sync connection.
    let (again, n) = orm_core::count_queries_async(async {
        let cats = Category::query().filter(f.id.gt(2)).all(db).await?;
        Category::prefetch_products(db, cats).await
    })
    .await;
    assert_eq!((again?, n), (loaded.clone(), 2));

    let counts = Category::count_products(db, &cats).await?;
    assert_eq!(counts, [3, 0, 1, 2, 3, 0, 1]);
    assert_eq!(Product::all(db).await?, Product::all(&sync)?);
    Ok(())
}

/// How many keys the statement's `IN (...)` list binds.
pub fn in_list_len(sql: &str) -> usize {
    let list = sql.split(" IN (").nth(1).expect("an IN list");
    list[..list.find(')').expect("closing parenthesis")]
        .matches('?')
        .count()
}
