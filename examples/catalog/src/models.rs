//! The catalog's tables.

use orm_core::migrate::{Migrations, TableDef};
use orm_core::{ForeignKey, Model};

/// The migrations in `migrations/`, embedded when the crate is built (the
/// build script rebuilds it when a file is added). The server applies the
/// pending ones at start-up.
pub static MIGRATIONS: Migrations = orm_core::migrations!("migrations");

/// Every model, for `manage makemigrations` (`src/bin/manage.rs`).
pub fn tables() -> Vec<TableDef> {
    vec![
        TableDef::of::<Category>(),
        TableDef::of::<Product>(),
        TableDef::of::<Review>(),
    ]
}

/// A shelf of the shop.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Category {
    /// Assigned by SQLite, so the seed and the tests need no key bookkeeping.
    #[primary_key(auto)]
    pub id: i64,
    pub name: String,
}

/// Something for sale, on one shelf.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Product {
    #[primary_key(auto)]
    pub id: i64,
    pub name: String,
    pub price: f64,
    #[foreign_key(related_name = "products")]
    pub category: ForeignKey<Category>,
}

/// What a customer said about a product.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Review {
    #[primary_key(auto)]
    pub id: i64,
    /// One to five stars.
    pub rating: i64,
    pub body: String,
    #[foreign_key(related_name = "reviews")]
    pub product: ForeignKey<Product>,
}
