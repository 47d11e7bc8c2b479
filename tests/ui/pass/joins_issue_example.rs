//! The calls issue 12 pins, as written there.
use orm_core::rusqlite::Connection;
use orm_core::{ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
struct Category { id: i64, name: String }

#[derive(Model, Debug, Clone, PartialEq)]
struct Brand { id: i64, name: String }

#[derive(Model, Debug, Clone, PartialEq)]
struct Product {
    id: i64,
    name: String,
    price: f64,
    note: Option<String>,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
    #[foreign_key(related_name = "products")]
    brand: Option<ForeignKey<Brand>>,
}

fn main() -> orm_core::Result<()> {
    let conn = Connection::open_in_memory()?;
    Category::create_table(&conn)?;
    Brand::create_table(&conn)?;
    Product::create_table(&conn)?;
    let cats = Category::all(&conn)?;
    let p = Product::fields();
    let c = Category::fields();

    let rows: Vec<(Product, Category)> = Product::query().filter(p.price.lt(10.0)).join(p.category).all(&conn)?;
    let rows2: Vec<(Product, Option<Brand>)> = Product::query().join(p.brand).all(&conn)?;
    let rows3: Vec<(Product, Category, Option<Brand>)> = Product::query().join(p.category).join(p.brand).all(&conn)?;
    let one: Option<(Product, Category)> = Product::query().join(p.category).first(&conn)?;

    let pairs: Vec<(Category, Vec<(Product, Option<Brand>)>)> = Category::prefetch_products_with(
        &conn, cats, Product::query().order_by(p.price.desc()).limit(3).join(p.brand))?;

    let with_cheap: Vec<Category> = Category::query().filter(Category::PRODUCTS.any(p.price.lt(10.0))).all(&conn)?;
    let empty: Vec<Category> = Category::query().filter(Category::PRODUCTS.exists().not()).all(&conn)?;
    let in_books: Vec<Product> = Product::query().filter(p.category.has(c.name.eq("Books"))).all(&conn)?;

    let n: Vec<(Category, u64)> = Category::query().annotate(Category::PRODUCTS.count()).all(&conn)?;
    let stats: Vec<(Category, (u64, Option<f64>))> = Category::query()
        .annotate((Category::PRODUCTS.filter(p.price.gt(5.0)).count(), Category::PRODUCTS.max(p.price)))
        .order_by(Category::PRODUCTS.count().desc())
        .limit(10)
        .all(&conn)?;
    let busy: Vec<Category> = Category::query().filter(Category::PRODUCTS.count().ge(3)).all(&conn)?;

    let (count, total, avg, lo, hi): (u64, Option<f64>, Option<f64>, Option<f64>, Option<f64>) = Product::query()
        .filter(p.note.is_null())
        .aggregate((p.id.count(), p.price.sum(), p.price.avg(), p.price.min(), p.price.max()))
        .get(&conn)?;
    let per_category: Vec<(ForeignKey<Category>, u64, Option<f64>)> = Product::query()
        .group_by(p.category)
        .aggregate((p.id.count(), p.price.avg()))
        .all(&conn)?;

    let ids: Vec<(i64, String)> = Product::query().filter(p.price.gt(100.0)).select((p.id, p.name)).all(&conn)?;

    let found: Vec<Product> = Product::query().filter(p.name.icontains("dUnE")).all(&conn)?;
    let exact: Vec<Product> = Product::query().filter(p.name.iexact("dune")).all(&conn)?;

    assert!(rows.is_empty() && rows2.is_empty() && rows3.is_empty() && one.is_none());
    assert!(pairs.is_empty() && with_cheap.is_empty() && empty.is_empty() && in_books.is_empty());
    assert!(n.is_empty() && stats.is_empty() && busy.is_empty() && per_category.is_empty());
    assert_eq!((count, total, avg, lo, hi), (0, None, None, None, None));
    assert!(ids.is_empty() && found.is_empty() && exact.is_empty());
    Ok(())
}
