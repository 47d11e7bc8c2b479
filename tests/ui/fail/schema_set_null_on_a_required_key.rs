use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Project {
    id: i64,
}

#[derive(Model)]
struct Issue {
    id: i64,
    #[foreign_key(on_delete = "set_null")]
    project: ForeignKey<Project>,
}

fn main() {}
