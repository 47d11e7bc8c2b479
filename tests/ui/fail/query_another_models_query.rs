use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
    name: String,
}

#[derive(Model)]
struct Brand {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    name: String,
    price: f64,
    note: Option<String>,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

#[derive(Model)]
struct Tag {
    id: i64,
}

fn main() -> orm_core::Result<()> {
    let conn = Connection::open_in_memory()?;
    let cats = Category::all(&conn)?;
    let _ = Category::prefetch_products_with(&conn, Category::all(&conn)?, Tag::query())?;
    let _ = Category::prefetch_prodcts_with(&conn, cats, Product::query())?;
    Ok(())
}
