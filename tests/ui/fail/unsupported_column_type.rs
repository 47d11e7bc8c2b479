use orm_core::Model;

#[derive(Model)]
struct Event {
    id: i64,
    at: std::time::Instant,
}

#[derive(Model)]
struct Reading {
    #[primary_key]
    value: f64,
}

fn main() {}
