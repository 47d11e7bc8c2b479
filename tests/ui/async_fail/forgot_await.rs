use orm_core::{AsyncSqlite, ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

async fn page(db: &AsyncSqlite) -> orm_core::Result<usize> {
    // The async connection returns futures: each call needs `.await`.
    let cats: Vec<Category> = Category::all(db)?;
    let pairs = Category::prefetch_products(db, cats)?;
    Ok(pairs.len())
}

fn main() {
    let _ = page;
}
