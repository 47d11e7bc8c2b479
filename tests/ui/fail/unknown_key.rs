use orm_core::{ForeignKey, Model};

#[derive(Model)]
#[model(tabel = "categories")]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(realted_name = "x")]
    category: ForeignKey<Category>,
}

fn main() {}
