//! The catalog's tables.

use orm_core::{ForeignKey, Model};

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
