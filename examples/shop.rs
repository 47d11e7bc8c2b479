//! A shop's categories and their products: the N+1 loop next to one prefetch.
//!
//! Run with `cargo run --example shop`.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "categories")]
struct Category {
    #[primary_key]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Product {
    #[primary_key]
    id: i64,
    name: String,
    price: f64,
    note: Option<String>,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

fn main() -> orm_core::Result<()> {
    let mut conn = Connection::open_in_memory()?;
    Category::create_table(&conn)?;
    Product::create_table(&conn)?;
    let tx = conn.transaction()?;
    for (id, name) in [(1, "Books"), (2, "Games"), (3, "Music"), (4, "Garden")] {
        Category {
            id,
            name: name.into(),
        }
        .insert(&tx)?;
    }
    let stock = [
        ("Dune", 9.5, 1),
        ("Neuromancer", 8.0, 1),
        ("Chess set", 25.0, 2),
        ("Go board", 40.0, 2),
        ("Kind of Blue", 12.0, 3),
        ("Hyperion", 7.5, 1),
    ];
    for (i, (name, price, category)) in stock.into_iter().enumerate() {
        let note = (price > 20.0).then(|| "ships separately".to_string());
        let category = ForeignKey::new(category);
        Product {
            id: i as i64 + 1,
            name: name.into(),
            price,
            note,
            category,
        }
        .insert(&tx)?;
    }
    tx.commit()?;

    // N+1: one query for the categories, then one per category.
    let (listing, n_plus_one) = count_queries(&mut conn, |conn| -> orm_core::Result<_> {
        let mut listing = Vec::new();
        for cat in Category::all(conn)? {
            let products = cat.products(conn)?;
            listing.push((cat, products));
        }
        Ok(listing)
    });
    let listing = listing?;

    // Prefetch: one query for the categories, one for all their products.
    let (pairs, prefetch) = count_queries(&mut conn, |conn| {
        Category::prefetch_products(conn, Category::all(conn)?)
    });
    let pairs = pairs?;
    assert_eq!(pairs, listing);

    for (cat, products) in &pairs {
        let names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
        println!(
            "{:<7} {} product(s): {}",
            cat.name,
            products.len(),
            names.join(", ")
        );
    }
    println!("N+1 loop: {n_plus_one} statements; prefetch_products: {prefetch} statements");

    // The other direction: every product with its category, in one query.
    let (with_category, n) = count_queries(&mut conn, |conn| {
        Product::prefetch_category(conn, Product::all(conn)?)
    });
    for (product, category) in with_category? {
        println!(
            "{:<13} {:>6.2}  in {}",
            product.name, product.price, category.name
        );
    }
    println!("prefetch_category: {n} statements");

    // One category's products: the typed reverse accessor.
    let books = Category::get(&conn, 1)?.expect("category 1 exists");
    println!(
        "{} has {} products",
        books.name,
        books.products(&conn)?.len()
    );

    // Some categories, each with its two cheapest products under 30 and how
    // many products it has: the limit applies to each category.
    let c = Category::fields();
    let p = Product::fields();
    let (capped, n) = count_queries(&mut conn, |conn| -> orm_core::Result<_> {
        let cats = Category::query()
            .filter(c.name.is_in(["Books", "Games", "Garden"]))
            .all(conn)?;
        let counts = Category::count_products(conn, &cats)?;
        let cheapest = Product::query()
            .filter(p.price.lt(30.0))
            .order_by(p.price.asc())
            .limit(2);
        let pairs = Category::prefetch_products_with(conn, cats, cheapest)?;
        Ok(pairs.into_iter().zip(counts).collect::<Vec<_>>())
    });
    for ((cat, products), count) in capped? {
        let names: Vec<String> = products
            .iter()
            .map(|p| format!("{} ({:.2})", p.name, p.price))
            .collect();
        println!(
            "{:<7} {count} in all; cheapest: {}",
            cat.name,
            names.join(", ")
        );
    }
    println!("filtered categories, counts, two cheapest each: {n} statements");

    // Writes: a price change by filter, then one row.
    let changed = Product::query()
        .filter(p.price.ge(25.0))
        .update(&conn, [p.note.set(Some("ships separately".to_string()))])?;
    let mut dune = Product::query()
        .filter(p.name.eq("Dune"))
        .first(&conn)?
        .expect("Dune");
    dune.price = 8.5;
    dune.update(&conn)?;
    println!(
        "{changed} product(s) noted; Dune now costs {:.2}",
        dune.price
    );
    Ok(())
}
