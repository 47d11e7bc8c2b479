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

fn main() {
    let f = Product::fields();
    let _ = f.name.is_null();
}
