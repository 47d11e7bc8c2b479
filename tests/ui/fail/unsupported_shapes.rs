use orm_core::Model;

#[derive(Model)]
enum Color {
    Red,
}

#[derive(Model)]
struct Pair(i64, i64);

#[derive(Model)]
union Bits {
    a: u32,
    b: f32,
}

#[derive(Model)]
struct Wrapper<T> {
    id: i64,
    value: T,
}

fn main() {}
