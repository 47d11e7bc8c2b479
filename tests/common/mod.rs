//! Models and fixtures shared by the integration tests.
#![allow(dead_code)]

use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "categories")]
pub struct Category {
    #[primary_key]
    pub id: i64,
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Product {
    #[primary_key]
    pub id: i64,
    pub name: String,
    pub price: f64,
    pub note: Option<String>,
    #[foreign_key(related_name = "products")]
    pub category: ForeignKey<Category>,
}

pub fn category(id: i64) -> Category {
    Category {
        id,
        name: format!("category {id}"),
    }
}

pub fn product(id: i64, category: i64) -> Product {
    Product {
        id,
        name: format!("product {id}"),
        price: id as f64 / 2.0,
        note: (id % 3 == 0).then(|| format!("note {id}")),
        category: ForeignKey::new(category),
    }
}

/// A shop with `categories` categories; category `c` has `c % 4` products,
/// inserted in descending id order so that key order is not insertion order.
pub fn shop(categories: i64) -> orm_core::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    fill(&conn, categories)?;
    Ok(conn)
}

/// The same shop, in any connection.
pub fn fill(conn: &impl orm_core::Db, categories: i64) -> orm_core::Result<()> {
    Category::create_table(conn)?;
    Product::create_table(conn)?;
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

/// How many keys the statement's `IN (...)` list binds.
pub fn in_list_len(sql: &str) -> usize {
    let list = sql.split(" IN (").nth(1).expect("an IN list");
    list[..list.find(')').expect("closing parenthesis")]
        .matches('?')
        .count()
}
