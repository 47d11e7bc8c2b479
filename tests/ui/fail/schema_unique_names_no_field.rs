use orm_core::Model;

#[derive(Model)]
#[model(unique(nope), index(number, numbr))]
struct Issue {
    id: i64,
    number: i64,
}

fn main() {}
