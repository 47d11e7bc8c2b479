use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "categories")]          // optional; default: the struct name in snake_case
struct Category {
    #[primary_key]                      // optional when the key field is named `id`
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Product {
    #[primary_key]
    id: i64,
    name: String,
    price: f64,
    note: Option<String>,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,     // column `category_id`
}

fn main() -> orm_core::Result<()> {
    let conn = Connection::open_in_memory()?;
    Category::create_table(&conn)?;
    Product::create_table(&conn)?;
    Category { id: 1, name: "Books".into() }.insert(&conn)?;
    Product { id: 1, name: "Dune".into(), price: 9.5, note: None, category: ForeignKey::new(1) }.insert(&conn)?;

    let cats: Vec<Category> = Category::all(&conn)?;
    let pairs: Vec<(Category, Vec<Product>)> = Category::prefetch_products(&conn, cats)?; // one query
    let books: Category = Category::get(&conn, 1)?.unwrap();
    let products: Vec<Product> = books.products(&conn)?;                                   // one query
    assert_eq!(pairs.len(), 1);
    assert_eq!(products.len(), 1);
    Ok(())
}
