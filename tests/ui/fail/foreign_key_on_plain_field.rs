use orm_core::Model;

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "products")]
    category: i64,
}

fn main() {}
