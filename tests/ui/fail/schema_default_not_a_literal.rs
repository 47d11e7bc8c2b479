use orm_core::Model;

const TEN: i64 = 10;

#[derive(Model)]
struct Settings {
    id: i64,
    #[column(default = TEN)]
    limit: i64,
}

fn main() {}
