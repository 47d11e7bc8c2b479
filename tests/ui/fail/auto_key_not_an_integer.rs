use orm_core::Model;

#[derive(Model)]
struct Tag {
    #[primary_key(auto)]
    slug: String,
}

fn main() {}
