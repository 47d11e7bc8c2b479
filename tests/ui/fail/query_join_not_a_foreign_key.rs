use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
    name: String,
}

#[derive(Model)]
struct Brand {
    id: i64,
    name: String,
}

#[derive(Model)]
struct Product {
    id: i64,
    name: String,
    price: f64,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
    #[foreign_key(related_name = "products")]
    brand: Option<ForeignKey<Brand>>,
}

fn main() {
    let p = Product::fields();
    let _ = Product::query().join(p.price);
}
