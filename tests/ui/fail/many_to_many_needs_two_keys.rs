use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Post {
    id: i64,
}

#[derive(Model)]
struct Tag {
    id: i64,
}

#[derive(Model)]
struct Like {
    id: i64,
    #[foreign_key(many_to_many = "liked")]
    post: ForeignKey<Post>,
}

#[derive(Model)]
struct PostTagAuthor {
    id: i64,
    #[foreign_key(many_to_many = "tags")]
    post: ForeignKey<Post>,
    #[foreign_key(related_name = "tagged")]
    tag: ForeignKey<Tag>,
    #[foreign_key(related_name = "authored")]
    author: ForeignKey<Post>,
}

fn main() {}
