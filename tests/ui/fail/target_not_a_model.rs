use orm_core::{ForeignKey, Model};

struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key]
    category: ForeignKey<Category>,
}

fn main() {}
