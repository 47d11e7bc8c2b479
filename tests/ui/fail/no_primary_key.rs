use orm_core::Model;

#[derive(Model)]
struct Category {
    code: i64,
    name: String,
}

#[derive(Model)]
struct Tag {
    #[primary_key]
    slug: String,
    #[primary_key]
    name: String,
}

fn main() {}
