use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct User {
    id: i64,
}

#[derive(Model)]
struct Message {
    id: i64,
    #[foreign_key(related_name = "messages")]
    sender: ForeignKey<User>,
    #[foreign_key(related_name = "messages")]
    recipient: ForeignKey<User>,
}

#[derive(Model)]
struct Transfer {
    id: i64,
    // Both default to `transfer_set`.
    from: ForeignKey<User>,
    to: ForeignKey<User>,
}

fn main() {}
