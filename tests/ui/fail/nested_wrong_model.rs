use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model, Nested};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Product {
    id: i64,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

#[derive(Model)]
struct Post {
    id: i64,
}

#[derive(Model)]
struct Tag {
    id: i64,
}

#[derive(Model)]
struct PostTag {
    id: i64,
    #[foreign_key(many_to_many = "tags")]
    post: ForeignKey<Post>,
    #[foreign_key(many_to_many = "posts")]
    tag: ForeignKey<Tag>,
}

fn main() -> orm_core::Result<()> {
    let conn = Connection::open_in_memory()?;
    let cats = Category::all(&conn)?;
    let _ = Category::prefetch_products(&conn, cats)?.nested(&conn, Tag::prefetch_posts)?;
    Ok(())
}
