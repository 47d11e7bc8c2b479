use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct User {
    id: i64,
}

// Both names land on `User`.
#[derive(Model)]
struct Follow {
    id: i64,
    #[foreign_key(related_name = "following_links", many_to_many = "people")]
    follower: ForeignKey<User>,
    #[foreign_key(related_name = "follower_links", many_to_many = "people")]
    followed: ForeignKey<User>,
}

// A many-to-many name equal to a reverse name on the same model.
#[derive(Model)]
struct Membership {
    id: i64,
    #[foreign_key(related_name = "groups", many_to_many = "groups")]
    user: ForeignKey<User>,
    #[foreign_key(related_name = "members")]
    group: ForeignKey<User>,
}

fn main() {}
