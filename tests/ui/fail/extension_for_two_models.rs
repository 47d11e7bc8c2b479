use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Brand {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "products", extension = "Products")]
    category: ForeignKey<Category>,
    #[foreign_key(related_name = "products", extension = "Products")]
    brand: ForeignKey<Brand>,
}

fn main() {}
