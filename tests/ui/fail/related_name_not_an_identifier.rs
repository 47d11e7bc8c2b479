use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "my-products")]
    category: ForeignKey<Category>,
}

fn main() {}
