//! Ordinary sync code, as users wrote it before the seam took any
//! connection: helpers over `&impl Db`, function items as values, closures
//! in the guards and in `Nested`. That it compiles is most of the test.

mod common;

use common::{Category, Product};
use orm_core::rusqlite::Connection;
use orm_core::{count_queries, Db, Model, Nested, Result};

type R = Result<()>;

/// A helper over any sync connection, as before.
fn expensive(conn: &impl Db, above: f64) -> Result<Vec<Product>> {
    let f = Product::fields();
    Product::query().filter(f.price.gt(above)).all(conn)
}

fn first_with_products(conn: &impl Db) -> Result<Option<(Category, Vec<Product>)>> {
    let cats = Category::all(conn)?;
    Ok(Category::prefetch_products(conn, cats)?
        .into_iter()
        .find(|(_, p)| !p.is_empty()))
}

#[test]
fn helpers_over_impl_db() -> R {
    let conn = common::shop(5)?;
    assert!(!expensive(&conn, 1.0)?.is_empty());
    assert_eq!(first_with_products(&conn)?.map(|(c, _)| c.id), Some(1));
    Ok(())
}

/// A generated function behind `dyn Fn`, as an application's table of
/// handlers holds it.
type Handler<T> = Box<dyn Fn(&Connection) -> Result<T>>;
type Counter = Box<dyn Fn(&Connection, &[Category]) -> Result<Vec<u64>>>;

#[test]
fn generated_functions_behind_dyn_fn() -> R {
    let conn = common::shop(5)?;
    // A closure, not the function item: the item's connection lifetime is
    // early-bound (see the review notes), so `Box::new(Category::all)` is
    // not general enough for `dyn Fn(&Connection)`.
    let all: Handler<Vec<Category>> = Box::new(|c| Category::all(c));
    assert_eq!(all(&conn)?.len(), 5);
    let loads: Vec<Counter> = vec![Box::new(|c, cats| Category::count_products(c, cats))];
    assert_eq!(loads[0](&conn, &all(&conn)?)?, [1, 2, 3, 0, 1]);
    // Items of one lifetime, as `[A::drop_table, B::drop_table]` is.
    for count in [Category::all, |c: &Connection| Category::query().all(c)] {
        assert_eq!(count(&conn)?.len(), 5);
    }
    Ok(())
}

#[test]
fn ufcs_and_closures_in_the_guards() -> R {
    let mut conn = common::shop(3)?;
    let row = common::product(1, 1);
    assert_eq!(Model::insert(&row, &conn)?, 1);
    assert_eq!(<Product as Model>::get(&conn, 1)?, Some(row.clone()));
    let (cats, n) = count_queries(&mut conn, |c| Category::all(c));
    assert_eq!((cats?.len(), n), (3, 1));
    let (pairs, n) = count_queries(&mut conn, |c| {
        let cats = Category::all(c)?;
        Category::prefetch_products(c, cats)?.nested(c, |_, products: Vec<Product>| {
            let keys: Vec<i64> = products.iter().map(|p| p.id).collect();
            Ok(products.into_iter().zip(keys).collect::<Vec<_>>())
        })
    });
    assert_eq!((pairs?.len(), n), (3, 2));
    Ok(())
}

mod three_levels {
    use crate::common::music::{self, Album, Artist, Take, Track};
    use orm_core::rusqlite::Connection;
    use orm_core::{ForeignKey, Model, Nested, Result};

    fn library() -> Result<Connection> {
        let conn = Connection::open_in_memory()?;
        music::create_tables(&conn)?;
        Artist { id: 1 }.insert(&conn)?;
        Album {
            id: 10,
            artist: ForeignKey::new(1),
        }
        .insert(&conn)?;
        Track {
            id: 100,
            album: ForeignKey::new(10),
        }
        .insert(&conn)?;
        Take {
            id: 1000,
            track: ForeignKey::new(100),
        }
        .insert(&conn)?;
        Ok(conn)
    }

    /// Closures that nest further, on a sync connection, as before the seam.
    #[test]
    fn nested_closures_that_nest_further() -> Result<()> {
        let conn = library()?;
        let artists = Artist::all(&conn)?;
        let tree = Artist::prefetch_albums(&conn, artists)?.nested(&conn, |c, albums| {
            Album::prefetch_tracks(c, albums)?.nested(c, Track::prefetch_takes)
        })?;
        let takes: Vec<i64> = tree[0].1[0].1[0].1.iter().map(|t| t.id).collect();
        assert_eq!(takes, [1000]);
        // Over a helper generic in the sync connection.
        fn tracks(
            conn: &impl orm_core::Db,
            albums: Vec<Album>,
        ) -> Result<Vec<(Album, Vec<Track>)>> {
            Album::prefetch_tracks(conn, albums)
        }
        let artists = Artist::all(&conn)?;
        let two = Artist::prefetch_albums(&conn, artists)?.nested(&conn, tracks)?;
        assert_eq!(two[0].1[0].1.len(), 1);
        Ok(())
    }
}
