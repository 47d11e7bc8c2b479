// The surface issue 7 pins, written as the issue writes it.
use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
struct Category {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Product {
    id: i64,
    name: String,
    price: f64,
    note: Option<String>,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Post {
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Tag {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct PostTag {
    id: i64,
    #[foreign_key(related_name = "post_tags", many_to_many = "tags")]
    post: ForeignKey<Post>,
    #[foreign_key(related_name = "tag_posts", many_to_many = "posts")]
    tag: ForeignKey<Tag>,
}

fn main() -> orm_core::Result<()> {
    let conn = Connection::open_in_memory()?;
    Category::create_table(&conn)?;
    Product::create_table(&conn)?;
    Post::create_table(&conn)?;
    Tag::create_table(&conn)?;
    PostTag::create_table(&conn)?;
    Category { id: 1, name: "Books".into() }.insert(&conn)?;
    Category { id: 2, name: "Games".into() }.insert(&conn)?;
    for id in 1..=50 {
        let price = id as f64;
        Product { id, name: format!("D{id}"), price, note: None, category: ForeignKey::new(1 + id % 2) }
            .insert(&conn)?;
    }
    Post { id: 1 }.insert(&conn)?;
    Tag { id: 1, name: "rust".into() }.insert(&conn)?;
    PostTag { id: 1, post: ForeignKey::new(1), tag: ForeignKey::new(1) }.insert(&conn)?;
    let product = Product::get(&conn, 1)?.unwrap();

    let f = Product::fields();            // generated: one typed handle per field
    let rows: Vec<Product> = Product::query()
        .filter(f.price.lt(10.0).and(f.name.like("D%")))
        .order_by(f.price.desc())         // several order_by calls: appended in order
        .limit(20)
        .offset(40)
        .all(&conn)?;
    let one: Option<Product> = Product::query().filter(f.id.eq(3)).first(&conn)?;
    let n: u64 = Product::query().filter(f.note.is_null()).count(&conn)?;
    let any: bool = Product::query().filter(f.category.eq(ForeignKey::new(1))).exists(&conn)?;
    assert_eq!((rows.len(), one.map(|p| p.id), n, any), (0, Some(3), 50, true));

    // writes
    let changed: usize = Product::query().filter(f.price.gt(100.0))
        .update(&conn, [f.price.set(99.0), f.note.set(Some("capped".to_string()))])?;
    let gone: usize = Product::query().filter(f.name.contains("50%")).delete(&conn)?;
    product.update(&conn)?;              // every column, by primary key
    product.upsert(&conn)?;              // insert, or update the row with that key
    let existed: bool = product.delete(&conn)?;
    assert_eq!((changed, gone, existed), (0, 0, true));

    // filtered, ordered, top-N prefetch: the query's limit/offset apply PER PARENT
    let cats = Category::query().filter(Category::fields().name.is_in(["Books", "Games"])).all(&conn)?;
    let cats2 = cats.clone();
    let top3: Vec<(Category, Vec<Product>)> = Category::prefetch_products_with(
        &conn, cats,
        Product::query().filter(f.price.gt(5.0)).order_by(f.price.desc()).limit(3),
    )?;
    let lists: Vec<Vec<Product>> = Category::load_products_with(&conn, &cats2, Product::query().filter(f.price.lt(3.0)))?;
    let posts = Post::all(&conn)?;
    let t = Tag::fields();
    let tags: Vec<(Post, Vec<Tag>)> = Post::prefetch_tags_with(&conn, posts, Tag::query().order_by(t.name.asc()))?; // many-to-many too
    let counts: Vec<u64> = Category::count_products(&conn, &cats2)?;                 // Django's annotate(Count)
    assert_eq!(counts, [25, 24]);
    let counts: Vec<u64> = Category::count_products_with(&conn, &cats2, Product::query().filter(f.price.lt(3.0)))?;
    assert_eq!(top3[0].1.iter().map(|p| p.id).collect::<Vec<_>>(), [50, 48, 46]);
    assert_eq!((lists[0].len(), lists[1].len(), tags[0].1.len(), counts), (1, 0, 1, vec![1, 0]));
    Ok(())
}
