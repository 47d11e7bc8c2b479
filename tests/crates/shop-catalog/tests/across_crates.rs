//! Relations to models of another crate: the same calls, one `use` line more.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, ForeignKey, Model};
use shop_catalog::{CategoryProducts, Product, ProductTag, TagProducts};
use shop_core::{Category, Tag};

#[test]
fn parent_functions_of_another_crate_work_through_the_extension_trait() -> orm_core::Result<()> {
    let mut conn = Connection::open_in_memory()?;
    Category::create_table(&conn)?;
    Tag::create_table(&conn)?;
    Product::create_table(&conn)?;
    ProductTag::create_table(&conn)?;
    for (id, name) in [(1, "Books"), (2, "Games")] {
        Category {
            id,
            name: name.into(),
        }
        .insert(&conn)?;
    }
    Tag {
        id: 1,
        label: "sale".into(),
    }
    .insert(&conn)?;
    for (id, name, cat) in [(1, "Dune", 1), (2, "Go", 2), (3, "Dust", 1)] {
        Product {
            id,
            name: name.into(),
            category: ForeignKey::new(cat),
        }
        .insert(&conn)?;
    }
    ProductTag {
        id: 1,
        product: ForeignKey::new(3),
        tag: ForeignKey::new(1),
    }
    .insert(&conn)?;

    let cats = Category::all(&conn)?;
    let (pairs, n) = count_queries(&mut conn, |conn| {
        Category::prefetch_products(conn, cats.clone())
    });
    assert_eq!(n, 1);
    let got: Vec<(i64, Vec<i64>)> = pairs?
        .iter()
        .map(|(c, ps)| (c.id, ps.iter().map(|p| p.id).collect()))
        .collect();
    assert_eq!(got, [(1, vec![1, 3]), (2, vec![2])]);
    assert_eq!(Category::count_products(&conn, &cats)?, [2, 1]);
    assert_eq!(cats[1].products(&conn)?.len(), 1);
    let p = Product::fields();
    let dear = Category::load_products_with(
        &conn,
        &cats,
        Product::query().order_by(p.id.desc()).limit(1),
    )?;
    assert_eq!(dear[0][0].id, 3);
    // The relation constant, through the trait too.
    let with_dune = Category::query()
        .filter(Category::PRODUCTS.any(p.name.eq("Dune")))
        .all(&conn)?;
    assert_eq!(with_dune, [cats[0].clone()]);
    let counted: Vec<(Category, u64)> = Category::query()
        .annotate(Category::PRODUCTS.count())
        .all(&conn)?;
    assert_eq!(counted[0].1, 2);
    // Forward functions stay inherent: the child is of this crate.
    assert_eq!(
        Product::prefetch_category(&conn, Product::all(&conn)?)?[1]
            .1
            .name,
        "Games"
    );
    // Many-to-many both ways.
    let tags = Tag::all(&conn)?;
    assert_eq!(Tag::prefetch_products(&conn, tags)?[0].1[0].name, "Dust");
    assert_eq!(
        Product::load_tags(&conn, &Product::all(&conn)?)?[2].len(),
        1
    );
    Ok(())
}
