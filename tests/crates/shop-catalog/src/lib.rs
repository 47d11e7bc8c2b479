//! Children of `shop-core`'s models. Rust allows inherent methods only in the
//! crate that defines the type, so the parent-side functions of these
//! relations are extension traits (`extension = "..."`), implemented for
//! `shop_core::Category` and `shop_core::Tag` here.

use orm_core::{ForeignKey, Model};
use shop_core::{Category, Tag};

/// A product of a category of the other crate.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Product {
    /// The key.
    pub id: i64,
    /// The name.
    pub name: String,
    /// The category, in `shop-core`.
    #[foreign_key(related_name = "products", extension = "CategoryProducts")]
    pub category: ForeignKey<Category>,
}

/// Products and tags, many-to-many; `Product::tags` is of this crate, so it
/// stays inherent, while `Tag::products` is an extension.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct ProductTag {
    /// The key.
    pub id: i64,
    /// The product.
    #[foreign_key(many_to_many = "tags")]
    pub product: ForeignKey<Product>,
    /// The tag, in `shop-core`.
    #[foreign_key(many_to_many = "products", extension = "TagProducts")]
    pub tag: ForeignKey<Tag>,
}
