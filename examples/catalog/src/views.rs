//! What each page shows, loaded in a number of statements that does not grow
//! with the data: one per relation, never one per row.

use orm_core::{AsyncDb, Model, Nested};
use serde::Serialize;

use crate::models::{Category, Product, Review};

/// How many of each category's cheapest products the listing shows.
pub const CHEAPEST: u64 = 5;

/// The listing of `/` and `/api/categories`.
#[derive(Debug, Serialize)]
pub struct Catalog {
    /// Statements the request ran: 3, however many rows there are.
    pub statements: usize,
    pub categories: Vec<CategorySummary>,
}

/// One category of the listing.
#[derive(Debug, Serialize)]
pub struct CategorySummary {
    pub id: i64,
    pub name: String,
    /// All its products, not only the ones listed.
    pub product_count: u64,
    /// Its [`CHEAPEST`] cheapest products, cheapest first.
    pub cheapest: Vec<ProductSummary>,
}

/// A product as the listing shows it. A view of its own, so that the JSON's
/// shape is chosen here rather than by the table's columns.
#[derive(Debug, Serialize)]
pub struct ProductSummary {
    pub id: i64,
    pub name: String,
    pub price: f64,
}

/// The page of `/categories/{id}`.
#[derive(Debug)]
pub struct CategoryPage {
    pub category: Category,
    /// Every product, cheapest first, each with its reviews in the order written.
    pub products: Vec<(Product, Vec<Review>)>,
    /// Statements the request ran: 3, or 2 when the category has no products.
    pub statements: usize,
}

/// Every category with its product count and cheapest products: 3 statements
/// (the categories, the counts, the products), for any number of rows.
pub async fn categories(conn: &impl AsyncDb) -> orm_core::Result<Vec<CategorySummary>> {
    let categories = Category::all(conn).await?;
    let counts = Category::count_products(conn, &categories).await?;
    let p = Product::fields();
    let cheapest = Product::query().order_by(p.price.asc()).limit(CHEAPEST);
    let shelves = Category::prefetch_products_with(conn, categories, cheapest).await?;
    Ok(shelves
        .into_iter()
        .zip(counts)
        .map(|((category, products), product_count)| CategorySummary {
            id: category.id,
            name: category.name,
            product_count,
            cheapest: products
                .into_iter()
                .map(|p| ProductSummary {
                    id: p.id,
                    name: p.name,
                    price: p.price,
                })
                .collect(),
        })
        .collect())
}

/// One category with all its products and their reviews, or `None` if there
/// is no such category: 3 statements (the category, its products, all their
/// reviews at once), 2 when it has no products, 1 when it does not exist.
#[allow(clippy::type_complexity)] // the nesting is the page's shape
pub async fn category(
    conn: &impl AsyncDb,
    id: i64,
) -> orm_core::Result<Option<(Category, Vec<(Product, Vec<Review>)>)>> {
    let Some(category) = Category::get(conn, id).await? else {
        return Ok(None);
    };
    let p = Product::fields();
    let by_price = Product::query().order_by(p.price.asc());
    let mut tree = Category::prefetch_products_with(conn, vec![category], by_price)
        .await?
        .nested(conn, Product::prefetch_reviews)
        .await?;
    // One parent in, one entry out.
    Ok(tree.pop())
}
