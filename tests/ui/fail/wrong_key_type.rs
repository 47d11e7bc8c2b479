use orm_core::{ForeignKey, Model};

#[derive(Model)]
struct Category {
    id: i64,
}

#[derive(Model)]
struct Brand {
    id: i64,
}

fn main() {
    let _ = ForeignKey::<Category>::new("x");
    let brand: ForeignKey<Brand> = ForeignKey::new(1);
    let _category: ForeignKey<Category> = brand;
}
