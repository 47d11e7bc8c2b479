//! The one schema of the suites: a shop.
//!
//! ```text
//! Category 1─n Product n─1 Brand (nullable)
//!              Product n─m Tag    through ProductTag
//! Category n─m Label              through CategoryLabel
//! Ticket (alone, its key assigned by the database)
//! ```

use orm_core::{ForeignKey, Model};

/// Its table is `categories`, not the default `category`: a child's
/// `REFERENCES`, and errors about the parent, must name the table the
/// parent's `Model` says.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "categories")]
pub struct Category {
    #[primary_key]
    pub id: i64,
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Brand {
    #[primary_key]
    pub id: i64,
    pub name: String,
}

/// Every kind of column the suites query: text, a real, nullable integer
/// and text, a foreign key and a nullable one.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Product {
    #[primary_key]
    pub id: i64,
    pub name: String,
    pub price: f64,
    pub stock: Option<i64>,
    pub note: Option<String>,
    #[foreign_key(related_name = "products")]
    pub category: ForeignKey<Category>,
    #[foreign_key(related_name = "products")]
    pub brand: Option<ForeignKey<Brand>>,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Tag {
    #[primary_key]
    pub id: i64,
    pub name: String,
}

/// A product's tags, many-to-many.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct ProductTag {
    #[primary_key]
    pub id: i64,
    #[foreign_key(related_name = "product_tags", many_to_many = "tags")]
    pub product: ForeignKey<Product>,
    #[foreign_key(related_name = "tag_products", many_to_many = "products")]
    pub tag: ForeignKey<Tag>,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Label {
    #[primary_key]
    pub id: i64,
    pub name: String,
}

/// A category's labels, many-to-many; its rows are also a second reverse
/// relation of `Category` (`category_labels`), beside `products`.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct CategoryLabel {
    #[primary_key]
    pub id: i64,
    #[foreign_key(related_name = "category_labels", many_to_many = "labels")]
    pub category: ForeignKey<Category>,
    #[foreign_key(related_name = "label_categories", many_to_many = "categories")]
    pub label: ForeignKey<Label>,
}

/// A key the database assigns: `id` is ignored on insert.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Ticket {
    #[primary_key(auto)]
    pub id: i64,
    pub title: String,
}
