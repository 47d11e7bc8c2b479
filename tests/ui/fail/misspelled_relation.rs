use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

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

fn main() {
    let conn = Connection::open_in_memory().unwrap();
    let _ = Category::prefetch_prodcts(&conn, Vec::new());
}
