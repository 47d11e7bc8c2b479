use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
#[model(table = "products", table = "again")]
struct Product {
    #[primary_key(autoincrement)]
    id: i64,
    #[foreign_key(related_name = "all")]
    category: ForeignKey<Category>,
    #[foreign_key = "x"]
    other: ForeignKey<Category>,
    #[model(table = "x")]
    name: String,
}

fn main() {}
