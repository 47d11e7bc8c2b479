use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "items")]
    category: ForeignKey<Category>,
}

#[derive(Model)]
struct Service {
    id: i64,
    #[foreign_key(related_name = "items")]
    category: ForeignKey<Category>,
}

fn main() {}
