use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "products", extension = "Category Products")]
    category: ForeignKey<Category>,
}

fn main() {}
