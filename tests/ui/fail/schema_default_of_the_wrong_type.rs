use orm_core::Model;

#[derive(Model)]
struct Settings {
    id: i64,
    #[column(default = "ten")]
    limit: i64,
    #[column(default = 1)]
    ratio: f64,
    #[column(default = 5)]
    label: Option<String>,
    #[column(default = true)]
    data: Vec<u8>,
}

fn main() {}
