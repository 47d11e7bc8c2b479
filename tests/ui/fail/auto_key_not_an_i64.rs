use orm_core::Model;

#[derive(Model)]
struct Tag {
    #[primary_key(auto)]
    slug: String,
}

#[derive(Model)]
struct Narrow {
    #[primary_key(auto)]
    id: i32,
}

fn main() {}
