//! Every supported column type, public models, and `pub(crate)` ones.
use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiny {
    pub id: u32,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub(crate) struct Everything {
    pub id: i64,
    pub a: i32,
    pub b: i16,
    pub c: i8,
    pub d: u8,
    pub e: u16,
    pub f: f32,
    pub g: bool,
    pub h: Vec<u8>,
    pub i: Option<Vec<u8>>,
    pub j: Option<bool>,
    pub r#type: String,
    #[foreign_key]
    pub tiny: ForeignKey<Tiny>,
    #[foreign_key(related_name = "maybe_of")]
    pub maybe: Option<ForeignKey<Tiny>>,
}

fn main() -> orm_core::Result<()> {
    let conn = orm_core::rusqlite::Connection::open_in_memory()?;
    Tiny::create_table(&conn)?;
    Everything::create_table(&conn)?;
    Tiny { id: 7 }.insert(&conn)?;
    let e = Everything {
        id: 1, a: -1, b: 2, c: -3, d: 4, e: 5, f: 0.5, g: true, h: vec![1, 2],
        i: None, j: Some(false), r#type: "t".into(), tiny: ForeignKey::new(7), maybe: None,
    };
    e.insert(&conn)?;
    assert_eq!(Everything::all(&conn)?, vec![e.clone()]);
    let pairs = Tiny::prefetch_everything_set(&conn, Tiny::all(&conn)?)?;
    assert_eq!(pairs[0].1, vec![e.clone()]);
    assert!(Tiny::load_everything_set(&conn, &[])?.is_empty());
    let copy: ForeignKey<Tiny> = e.tiny; // Copy, because the key is.
    assert_eq!(*copy.key(), 7u32);
    Ok(())
}
