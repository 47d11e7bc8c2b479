//! Joins, relation filters, annotations, group-by and aggregates against an
//! oracle in plain Rust over the same random rows, on every backend: NULL and
//! dangling keys, ties, parents with no children, few parents and many.

#![allow(clippy::type_complexity)] // the tuples are what the calls under test return

use std::cmp::Ordering;
use std::collections::BTreeMap;

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{product, Brand, Category, Product, ProductTag, Tag};
use orm_core::{Annotation, Condition, Error, Field, ForeignKey, Model, Order, Query};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

// ---- the rows -------------------------------------------------------------

/// At most this many products; their ids are a permutation of `0..1009`.
const PRODUCTS: usize = 30;

/// The `i`th product's key: scrambled (a permutation modulo the prime
/// 1009), so that key order is not insertion order.
fn product_id(i: usize) -> i64 {
    (i as i64 * 7919) % 1009
}

/// One case's rows, as stored (foreign keys off) and as the oracle reads them.
#[derive(Debug, Clone)]
struct World {
    categories: BTreeMap<i64, Category>,
    brands: BTreeMap<i64, Brand>,
    tags: BTreeMap<i64, Tag>,
    /// In key order.
    products: Vec<Product>,
    links: Vec<ProductTag>,
}

/// A product as drawn: price in halves (0.0 to 3.0, so sums are exact and
/// prices tie), then which category and brand it points at.
type RawProduct = (u8, u8, Index, u8, Index);

/// A junction row as drawn: which product (or a dangling one) and which tag
/// (4 is never stored).
type RawLink = (u8, Index, i64);

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "a", "b", "ab", "ba"][..])
}

fn world() -> impl Strategy<Value = World> {
    (
        // Few parents (many children each, ties) or many (most empty).
        prop_oneof![Just(4usize), Just(40usize)],
        // Which category ids are stored, and their names.
        prop::collection::vec(prop::option::weighted(0.8, name()), 40),
        prop::collection::vec(prop::option::weighted(0.7, name()), 3),
        prop::collection::vec(prop::option::weighted(0.7, name()), 4),
        prop::collection::vec(
            (0u8..7, 0u8..16, any::<Index>(), 0u8..8, any::<Index>()),
            0..PRODUCTS,
        ),
        prop::collection::vec((0u8..12, any::<Index>(), 0i64..5), 0..20),
        // Whether products' keys may dangle: when they do, a join of a
        // window of a few rows usually meets one.
        any::<bool>(),
    )
        .prop_map(|(span, cats, brands, tags, products, links, dangling)| {
            World::new(span, &cats, &brands, &tags, &products, &links, dangling)
        })
}

impl World {
    fn new(
        span: usize,
        cats: &[Option<&str>],
        brands: &[Option<&str>],
        tags: &[Option<&str>],
        products: &[RawProduct],
        links: &[RawLink],
        dangling: bool,
    ) -> Self {
        fn named(names: &[Option<&str>]) -> Vec<(i64, String)> {
            (0..)
                .zip(names)
                .filter_map(|(id, n)| n.map(|n| (id, n.to_owned())))
                .collect()
        }
        let categories: BTreeMap<i64, Category> = named(&cats[..span])
            .into_iter()
            .map(|(id, name)| (id, Category { id, name }))
            .collect();
        let brands: BTreeMap<i64, Brand> = named(brands)
            .into_iter()
            .map(|(id, name)| (id, Brand { id, name }))
            .collect();
        let tags: BTreeMap<i64, Tag> = named(tags)
            .into_iter()
            .map(|(id, name)| (id, Tag { id, name }))
            .collect();
        let cat_ids: Vec<i64> = categories.keys().copied().collect();
        let brand_ids: Vec<i64> = brands.keys().copied().collect();
        let mut products: Vec<Product> = products
            .iter()
            .enumerate()
            .map(|(i, &(halves, cat_pick, cat, brand_pick, brand))| Product {
                price: f64::from(halves) * 0.5,
                // One in sixteen dangles (all when no category is stored),
                // past the ids drawn.
                category: ForeignKey::new(if (dangling && cat_pick == 0) || cat_ids.is_empty() {
                    (span + cat.index(2)) as i64
                } else {
                    cat_ids[cat.index(cat_ids.len())]
                }),
                brand: match brand_pick {
                    0 | 1 => None,
                    2 if dangling => Some(ForeignKey::new(7)),
                    _ if brand_ids.is_empty() => None,
                    _ => Some(ForeignKey::new(brand_ids[brand.index(brand_ids.len())])),
                },
                ..product(product_id(i), 0)
            })
            .collect();
        let links = links
            .iter()
            .enumerate()
            .map(|(i, &(pick, product, tag))| ProductTag {
                id: i as i64,
                product: ForeignKey::new(if pick == 0 || products.is_empty() {
                    2000
                } else {
                    products[product.index(products.len())].id
                }),
                tag: ForeignKey::new(tag),
            })
            .collect();
        products.sort_by_key(|p| p.id);
        World {
            categories,
            brands,
            tags,
            products,
            links,
        }
    }

    fn products_of(&self, category: i64) -> impl Iterator<Item = &Product> {
        self.products
            .iter()
            .filter(move |p| *p.category.key() == category)
    }

    /// A product's tags, once per junction row; a dangling tag is none.
    fn tags_of(&self, product: i64) -> impl Iterator<Item = &Tag> {
        self.links
            .iter()
            .filter(move |l| *l.product.key() == product)
            .filter_map(|l| self.tags.get(l.tag.key()))
    }

    fn tag_count(&self, product: i64) -> u64 {
        self.tags_of(product).count() as u64
    }
}

/// Stores a world's rows, foreign keys off.
#[awaited::both]
fn store<B: Backend>(conn: &B, world: &World) {
    conn.without_foreign_keys().unwrap();
    common::create_tables(conn).unwrap();
    let cats: Vec<Category> = world.categories.values().cloned().collect();
    Category::insert_all(conn, &cats).unwrap();
    let brands: Vec<Brand> = world.brands.values().cloned().collect();
    Brand::insert_all(conn, &brands).unwrap();
    let tags: Vec<Tag> = world.tags.values().cloned().collect();
    Tag::insert_all(conn, &tags).unwrap();
    Product::insert_all(conn, &world.products).unwrap();
    ProductTag::insert_all(conn, &world.links).unwrap();
}

// ---- conditions, as data --------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

/// `$lhs.<op>($value)`, for a field or an annotation.
macro_rules! compare {
    ($lhs:expr, $op:expr, $value:expr) => {
        match $op {
            Op::Eq => $lhs.eq($value),
            Op::Ne => $lhs.ne($value),
            Op::Lt => $lhs.lt($value),
            Op::Le => $lhs.le($value),
            Op::Gt => $lhs.gt($value),
            Op::Ge => $lhs.ge($value),
        }
    };
}

/// `eq`/`ne` as Rust's `==`/`!=` (`None` differs from every value); the
/// other comparisons never match `None`.
fn holds<T: PartialOrd>(op: Op, x: Option<T>, v: T) -> bool {
    match (op, x) {
        (Op::Eq, x) => x == Some(v),
        (Op::Ne, x) => x != Some(v),
        (_, None) => false,
        (Op::Lt, Some(x)) => x < v,
        (Op::Le, Some(x)) => x <= v,
        (Op::Gt, Some(x)) => x > v,
        (Op::Ge, Some(x)) => x >= v,
    }
}

/// A price, or a bound on one: a multiple of 0.5, so that sums are exact.
fn halves(max: u8) -> impl Strategy<Value = f64> {
    (0..max).prop_map(|h| f64::from(h) * 0.5)
}

/// A condition on the columns of a category, a brand or a tag (`id`, `name`).
#[derive(Debug, Clone)]
enum Leaf {
    Id(Op, i64),
    /// Empty: matches nothing (folded to a constant when built).
    IdIn(Vec<i64>),
    /// `id.is_in(..).not()`; empty, every row: `has` of it is "the parent
    /// exists".
    IdNotIn(Vec<i64>),
    Name(bool, &'static str),
    Starts(&'static str),
}

fn leaf(ids: i64) -> impl Strategy<Value = Leaf> {
    prop_oneof![
        (op(), 0..ids).prop_map(|(o, v)| Leaf::Id(o, v)),
        prop::collection::vec(0..ids, 0..3).prop_map(Leaf::IdIn),
        prop::collection::vec(0..ids, 0..2).prop_map(Leaf::IdNotIn),
        (any::<bool>(), name()).prop_map(|(eq, n)| Leaf::Name(eq, n)),
        name().prop_map(Leaf::Starts),
    ]
}

fn build_leaf<M: Model, K1, K2>(
    leaf: &Leaf,
    id: Field<M, i64, K1>,
    name: Field<M, String, K2>,
) -> Condition<M> {
    match leaf {
        Leaf::Id(op, v) => compare!(id, op, *v),
        Leaf::IdIn(ids) => id.is_in(ids.clone()),
        Leaf::IdNotIn(ids) => id.is_in(ids.clone()).not(),
        Leaf::Name(true, n) => name.eq(*n),
        Leaf::Name(false, n) => name.ne(*n),
        Leaf::Starts(n) => name.starts_with(*n),
    }
}

fn leaf_holds(leaf: &Leaf, id: i64, name: &str) -> bool {
    match leaf {
        Leaf::Id(op, v) => holds(*op, Some(id), *v),
        Leaf::IdIn(ids) => ids.contains(&id),
        Leaf::IdNotIn(ids) => !ids.contains(&id),
        Leaf::Name(eq, n) => (name == *n) == *eq,
        Leaf::Starts(n) => name.starts_with(n),
    }
}

/// A condition on a product.
#[derive(Debug, Clone)]
enum P {
    Price(Op, f64),
    IdIn(Vec<i64>),
    BrandNull(bool),
    /// `p.category.has(..)`
    Category(Leaf),
    /// `p.brand.has(..)`: a NULL or dangling brand never has.
    Brand(Leaf),
    /// `Product::TAGS.any(..)`
    Tags(Leaf),
    /// `Product::TAGS.count().<op>(n)`
    TagCount(Op, u64),
    And(Box<P>, Box<P>),
    Or(Box<P>, Box<P>),
    Not(Box<P>),
}

fn product_condition() -> impl Strategy<Value = P> {
    let leaf = prop_oneof![
        (op(), halves(7)).prop_map(|(o, v)| P::Price(o, v)),
        prop::collection::vec((0..PRODUCTS).prop_map(product_id), 0..3).prop_map(P::IdIn),
        any::<bool>().prop_map(P::BrandNull),
        leaf(42).prop_map(P::Category),
        leaf(5).prop_map(P::Brand),
        leaf(5).prop_map(P::Tags),
        (op(), 0u64..3).prop_map(|(o, n)| P::TagCount(o, n)),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| P::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| P::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|c| P::Not(Box::new(c))),
        ]
    })
}

fn build_product(c: &P) -> Condition<Product> {
    let p = Product::fields();
    match c {
        P::Price(op, v) => compare!(p.price, op, *v),
        P::IdIn(ids) => p.id.is_in(ids.clone()),
        P::BrandNull(true) => p.brand.is_null(),
        P::BrandNull(false) => p.brand.is_not_null(),
        P::Category(l) => {
            let c = Category::fields();
            p.category.has(build_leaf(l, c.id, c.name))
        }
        P::Brand(l) => {
            let b = Brand::fields();
            p.brand.has(build_leaf(l, b.id, b.name))
        }
        P::Tags(l) => {
            let t = Tag::fields();
            Product::TAGS.any(build_leaf(l, t.id, t.name))
        }
        P::TagCount(op, n) => compare!(Product::TAGS.count(), op, *n),
        P::And(a, b) => build_product(a).and(build_product(b)),
        P::Or(a, b) => build_product(a).or(build_product(b)),
        P::Not(a) => build_product(a).not(),
    }
}

/// Which aggregate of a category's prices.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Max,
    Min,
    Sum,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Max), Just(Kind::Min), Just(Kind::Sum)]
}

fn price_aggregate(kind: Kind) -> Annotation<Category, Option<f64>> {
    let p = Product::fields();
    match kind {
        Kind::Max => Category::PRODUCTS.max(p.price),
        Kind::Min => Category::PRODUCTS.min(p.price),
        Kind::Sum => Category::PRODUCTS.sum(p.price),
    }
}

/// A condition on a category.
#[derive(Debug, Clone)]
enum C {
    Own(Leaf),
    /// `Category::PRODUCTS.any(..)`, with `has` nested inside; or, when
    /// `true`, the same as `Category::PRODUCTS.filter(..).exists()`.
    Any(P, bool),
    /// `Category::PRODUCTS.exists()`
    Exists,
    /// `Category::PRODUCTS[.filter(..)].count().<op>(n)`
    Count(Option<P>, Op, u64),
    /// `Category::PRODUCTS.max(p.price).<op>(v)`, and `min`, `sum`.
    Agg(Kind, Op, f64),
    AggNull(Kind, bool),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
    Not(Box<C>),
}

fn category_condition() -> impl Strategy<Value = C> {
    let leaf = prop_oneof![
        1 => leaf(42).prop_map(C::Own),
        3 => (product_condition(), any::<bool>()).prop_map(|(p, filter)| C::Any(p, filter)),
        1 => Just(C::Exists),
        2 => (prop::option::of(product_condition()), op(), 0u64..4)
            .prop_map(|(f, o, n)| C::Count(f, o, n)),
        2 => (kind(), op(), halves(13)).prop_map(|(k, o, v)| C::Agg(k, o, v)),
        1 => (kind(), any::<bool>()).prop_map(|(k, null)| C::AggNull(k, null)),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|c| C::Not(Box::new(c))),
        ]
    })
}

fn build_category(c: &C) -> Condition<Category> {
    let f = Category::fields();
    match c {
        C::Own(l) => build_leaf(l, f.id, f.name),
        C::Any(p, false) => Category::PRODUCTS.any(build_product(p)),
        C::Any(p, true) => Category::PRODUCTS.filter(build_product(p)).exists(),
        C::Exists => Category::PRODUCTS.exists(),
        C::Count(None, op, n) => compare!(Category::PRODUCTS.count(), op, *n),
        C::Count(Some(p), op, n) => {
            compare!(Category::PRODUCTS.filter(build_product(p)).count(), op, *n)
        }
        C::Agg(kind, op, v) => compare!(price_aggregate(*kind), op, *v),
        C::AggNull(kind, true) => price_aggregate(*kind).is_null(),
        C::AggNull(kind, false) => price_aggregate(*kind).is_not_null(),
        C::And(a, b) => build_category(a).and(build_category(b)),
        C::Or(a, b) => build_category(a).or(build_category(b)),
        C::Not(a) => build_category(a).not(),
    }
}

// ---- the oracle -----------------------------------------------------------

/// What a join reports of the first row whose key dangles: column, table, key.
type Missing = (&'static str, &'static str, String);

/// Aggregates of some prices: count, sum, avg, min, max.
type Prices = (u64, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn prices<'a>(products: impl IntoIterator<Item = &'a Product>) -> Prices {
    let prices: Vec<f64> = products.into_iter().map(|p| p.price).collect();
    if prices.is_empty() {
        return (0, None, None, None, None);
    }
    let sum: f64 = prices.iter().sum();
    let min = prices.iter().copied().fold(f64::INFINITY, f64::min);
    let max = prices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        prices.len() as u64,
        Some(sum),
        Some(sum / prices.len() as f64),
        Some(min),
        Some(max),
    )
}

impl World {
    fn product_holds(&self, c: &P, x: &Product) -> bool {
        match c {
            P::Price(op, v) => holds(*op, Some(x.price), *v),
            P::IdIn(ids) => ids.contains(&x.id),
            P::BrandNull(null) => x.brand.is_none() == *null,
            P::Category(l) => self
                .categories
                .get(x.category.key())
                .is_some_and(|c| leaf_holds(l, c.id, &c.name)),
            P::Brand(l) => x
                .brand
                .and_then(|b| self.brands.get(b.key()))
                .is_some_and(|b| leaf_holds(l, b.id, &b.name)),
            P::Tags(l) => self.tags_of(x.id).any(|t| leaf_holds(l, t.id, &t.name)),
            P::TagCount(op, n) => holds(*op, Some(self.tag_count(x.id)), *n),
            P::And(a, b) => self.product_holds(a, x) && self.product_holds(b, x),
            P::Or(a, b) => self.product_holds(a, x) || self.product_holds(b, x),
            P::Not(a) => !self.product_holds(a, x),
        }
    }

    /// A category's products matching `filter` (all without one).
    fn matching<'a>(
        &'a self,
        category: i64,
        filter: Option<&'a P>,
    ) -> impl Iterator<Item = &'a Product> {
        self.products_of(category)
            .filter(move |x| filter.is_none_or(|f| self.product_holds(f, x)))
    }

    fn price_aggregate(&self, kind: Kind, category: i64) -> Option<f64> {
        let (_, sum, _, min, max) = prices(self.products_of(category));
        match kind {
            Kind::Max => max,
            Kind::Min => min,
            Kind::Sum => sum,
        }
    }

    fn category_holds(&self, c: &C, x: &Category) -> bool {
        match c {
            C::Own(l) => leaf_holds(l, x.id, &x.name),
            C::Any(p, _) => self.matching(x.id, Some(p)).next().is_some(),
            C::Exists => self.products_of(x.id).next().is_some(),
            C::Count(f, op, n) => holds(
                *op,
                Some(self.matching(x.id, f.as_ref()).count() as u64),
                *n,
            ),
            C::Agg(kind, op, v) => holds(*op, self.price_aggregate(*kind, x.id), *v),
            C::AggNull(kind, null) => self.price_aggregate(*kind, x.id).is_none() == *null,
            C::And(a, b) => self.category_holds(a, x) && self.category_holds(b, x),
            C::Or(a, b) => self.category_holds(a, x) || self.category_holds(b, x),
            C::Not(a) => !self.category_holds(a, x),
        }
    }

    fn category_of(&self, p: &Product) -> Result<Category, Missing> {
        let key = *p.category.key();
        self.categories
            .get(&key)
            .cloned()
            .ok_or(("category_id", "categories", key.to_string()))
    }

    fn brand_of(&self, p: &Product) -> Result<Option<Brand>, Missing> {
        let Some(key) = p.brand.map(ForeignKey::into_key) else {
            return Ok(None);
        };
        match self.brands.get(&key) {
            Some(b) => Ok(Some(b.clone())),
            None => Err(("brand_id", "brand", key.to_string())),
        }
    }
}

/// The rows a window keeps, as `limit` and `offset` say.
fn window<T>(rows: Vec<T>, limit: Option<u64>, offset: u64) -> Vec<T> {
    rows.into_iter()
        .skip(offset as usize)
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect()
}

/// A join's result as the oracle's: rows, or the dangling key reported.
fn joined<T>(result: orm_core::Result<T>) -> Result<Result<T, Missing>, TestCaseError> {
    match result {
        Ok(rows) => Ok(Ok(rows)),
        Err(Error::MissingParent {
            model: "Product",
            column,
            table,
            key,
        }) => Ok(Err((column, table, key))),
        Err(e) => Err(TestCaseError::fail(format!("unexpected error: {e}"))),
    }
}

// ---- the product side: joins, filters, group-by, aggregates --------------

/// Product order terms: (0 = price, 1 = brand key, 2 = category key,
/// 3 = how many tags; descending).
fn product_order(world: &World, terms: &[(u8, bool)]) -> impl Fn(&Product, &Product) -> Ordering {
    let tags: BTreeMap<i64, u64> = world
        .products
        .iter()
        .map(|p| (p.id, world.tag_count(p.id)))
        .collect();
    let terms = terms.to_vec();
    move |x, y| {
        for &(key, desc) in &terms {
            let o = match key {
                0 => x.price.total_cmp(&y.price),
                1 => x
                    .brand
                    .map(ForeignKey::into_key)
                    .cmp(&y.brand.map(ForeignKey::into_key)),
                2 => x.category.key().cmp(y.category.key()),
                _ => tags[&x.id].cmp(&tags[&y.id]),
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        x.id.cmp(&y.id)
    }
}

fn ordered_products(mut q: Query<Product>, terms: &[(u8, bool)]) -> Query<Product> {
    let p = Product::fields();
    for &(key, desc) in terms {
        q = q.order_by(match (key, desc) {
            (0, false) => p.price.asc(),
            (0, true) => p.price.desc(),
            (1, false) => p.brand.asc(),
            (1, true) => p.brand.desc(),
            (2, false) => p.category.asc(),
            (2, true) => p.category.desc(),
            (_, false) => Product::TAGS.count().asc(),
            (_, true) => Product::TAGS.count().desc(),
        });
    }
    q
}

#[awaited::both]
fn product_case<B: Backend>(
    conn: B,
    world: World,
    filter: Option<P>,
    terms: Vec<(u8, bool)>,
    limit: Option<u64>,
    offset: u64,
) -> Result<(), TestCaseError> {
    store(&conn, &world);
    let p = Product::fields();
    let mut q = ordered_products(Product::query(), &terms).offset(offset);
    if let Some(f) = &filter {
        q = q.filter(build_product(f));
    }
    if let Some(limit) = limit {
        q = q.limit(limit);
    }

    let mut rows: Vec<Product> = world
        .products
        .iter()
        .filter(|x| filter.as_ref().is_none_or(|f| world.product_holds(f, x)))
        .cloned()
        .collect();
    rows.sort_by(product_order(&world, &terms));
    let rows = window(rows, limit, offset);

    // Filters (relation filters among them), order and window.
    prop_assert_eq!(&q.all(&conn).unwrap(), &rows);
    prop_assert_eq!(q.count(&conn).unwrap(), rows.len() as u64);

    // Joins: the same rows, each with its parents, or the first dangling key.
    let with_category: Result<Vec<(Product, Category)>, Missing> = rows
        .iter()
        .map(|x| Ok((x.clone(), world.category_of(x)?)))
        .collect();
    let with_brand: Result<Vec<(Product, Option<Brand>)>, Missing> = rows
        .iter()
        .map(|x| Ok((x.clone(), world.brand_of(x)?)))
        .collect();
    let with_both: Result<Vec<(Product, Category, Option<Brand>)>, Missing> = rows
        .iter()
        .map(|x| Ok((x.clone(), world.category_of(x)?, world.brand_of(x)?)))
        .collect();
    let by_category = q.clone().join(p.category);
    prop_assert_eq!(joined(by_category.all(&conn))?, with_category);
    // `first` reads one row: only its key matters.
    let first: Result<Option<(Product, Category)>, Missing> = rows
        .first()
        .map(|x| Ok((x.clone(), world.category_of(x)?)))
        .transpose();
    prop_assert_eq!(joined(by_category.first(&conn))?, first);
    prop_assert_eq!(
        joined(q.clone().join(p.brand).all(&conn))?,
        with_brand.clone()
    );
    let both = q.clone().join(p.category).join(p.brand);
    prop_assert_eq!(joined(both.all(&conn))?, with_both);
    // A join does not change which rows, however many of them dangle.
    prop_assert_eq!(both.count(&conn).unwrap(), rows.len() as u64);
    prop_assert_eq!(both.exists(&conn).unwrap(), !rows.is_empty());
    // A join and a many-to-many annotation together.
    let with_tags = with_brand.map(|r| {
        r.into_iter()
            .map(|(x, b)| {
                let n = world.tag_count(x.id);
                (x, b, n)
            })
            .collect::<Vec<_>>()
    });
    prop_assert_eq!(
        joined(
            q.clone()
                .join(p.brand)
                .annotate(Product::TAGS.count())
                .all(&conn)
        )?,
        with_tags
    );

    // A projection.
    let got: Vec<(i64, i64, f64)> = q
        .clone()
        .select((p.id, p.category, p.price))
        .all(&conn)
        .unwrap()
        .into_iter()
        .map(|(id, c, price)| (id, c.into_key(), price))
        .collect();
    let want: Vec<(i64, i64, f64)> = rows
        .iter()
        .map(|x| (x.id, *x.category.key(), x.price))
        .collect();
    prop_assert_eq!(got, want);

    // Aggregates of the window's rows.
    let (count, sum, avg, min, max) = prices(&rows);
    let brands = rows.iter().filter(|x| x.brand.is_some()).count() as u64;
    let got = q
        .clone()
        .aggregate((
            p.id.count(),
            p.brand.count(),
            p.price.sum(),
            p.price.avg(),
            p.price.min(),
            p.price.max(),
        ))
        .get(&conn)
        .unwrap();
    prop_assert_eq!(got, (count, brands, sum, avg, min, max));

    // Groups of the window's rows, in key order: NULL first, a dangling key
    // a group of its own.
    let mut per_category: BTreeMap<i64, Vec<&Product>> = BTreeMap::new();
    let mut per_brand: BTreeMap<Option<i64>, Vec<&Product>> = BTreeMap::new();
    let mut per_pair: BTreeMap<(i64, Option<i64>), u64> = BTreeMap::new();
    for x in &rows {
        let (c, b) = (*x.category.key(), x.brand.map(ForeignKey::into_key));
        per_category.entry(c).or_default().push(x);
        per_brand.entry(b).or_default().push(x);
        *per_pair.entry((c, b)).or_default() += 1;
    }
    let got: Vec<(i64, u64, Option<f64>, Option<f64>)> = q
        .clone()
        .group_by(p.category)
        .aggregate((p.id.count(), p.price.sum(), p.price.max()))
        .all(&conn)
        .unwrap()
        .into_iter()
        .map(|(k, n, s, m)| (k.into_key(), n, s, m))
        .collect();
    let want: Vec<(i64, u64, Option<f64>, Option<f64>)> = per_category
        .iter()
        .map(|(&k, ps)| {
            let (n, s, _, _, m) = prices(ps.iter().copied());
            (k, n, s, m)
        })
        .collect();
    prop_assert_eq!(got, want);
    let got: Vec<(Option<i64>, u64, Option<f64>)> = q
        .clone()
        .group_by(p.brand)
        .aggregate((p.id.count(), p.price.min()))
        .all(&conn)
        .unwrap()
        .into_iter()
        .map(|(k, n, m)| (k.map(ForeignKey::into_key), n, m))
        .collect();
    let want: Vec<(Option<i64>, u64, Option<f64>)> = per_brand
        .iter()
        .map(|(&k, ps)| {
            let (n, _, _, m, _) = prices(ps.iter().copied());
            (k, n, m)
        })
        .collect();
    prop_assert_eq!(got, want);
    let got: Vec<((i64, Option<i64>), u64)> = q
        .clone()
        .group_by((p.category, p.brand))
        .aggregate(p.id.count())
        .all(&conn)
        .unwrap()
        .into_iter()
        .map(|(c, b, n)| ((c.into_key(), b.map(ForeignKey::into_key)), n))
        .collect();
    prop_assert_eq!(got, per_pair.into_iter().collect::<Vec<_>>());
    Ok(())
}

// ---- the category side: relation filters and annotations ----------------

/// A category's annotations: count, filtered count, max, min, sum, avg.
type Stats = (u64, u64, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

impl World {
    fn stats(&self, category: i64, filter: &P) -> Stats {
        let (count, sum, avg, min, max) = prices(self.products_of(category));
        let filtered = self.matching(category, Some(filter)).count() as u64;
        (count, filtered, max, min, sum, avg)
    }
}

/// Category order terms, by annotation: (0 = count, 1 = filtered count,
/// 2 = max, 3 = min, 4 = sum; descending).
fn category_order(
    terms: &[(u8, bool)],
) -> impl Fn(&(Category, Stats), &(Category, Stats)) -> Ordering + '_ {
    move |(x, a), (y, b)| {
        for &(key, desc) in terms {
            // `None` first, as Rust orders `Option`s; no price is NaN.
            let by = |f: fn(&Stats) -> Option<f64>| f(a).partial_cmp(&f(b)).unwrap();
            let o = match key {
                0 => a.0.cmp(&b.0),
                1 => a.1.cmp(&b.1),
                2 => by(|s| s.2),
                3 => by(|s| s.3),
                _ => by(|s| s.4),
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        x.id.cmp(&y.id)
    }
}

fn direction<T>(a: Annotation<Category, T>, desc: bool) -> Order<Category> {
    if desc {
        a.desc()
    } else {
        a.asc()
    }
}

#[awaited::both]
fn category_case<B: Backend>(
    conn: B,
    world: World,
    filter: Option<C>,
    counted: P,
    terms: Vec<(u8, bool)>,
    limit: Option<u64>,
    offset: u64,
) -> Result<(), TestCaseError> {
    store(&conn, &world);
    let p = Product::fields();
    let mut q = Category::query().offset(offset);
    if let Some(f) = &filter {
        q = q.filter(build_category(f));
    }
    for &(key, desc) in &terms {
        q = q.order_by(match key {
            0 => direction(Category::PRODUCTS.count(), desc),
            1 => direction(
                Category::PRODUCTS.filter(build_product(&counted)).count(),
                desc,
            ),
            2 => direction(Category::PRODUCTS.max(p.price), desc),
            3 => direction(Category::PRODUCTS.min(p.price), desc),
            _ => direction(Category::PRODUCTS.sum(p.price), desc),
        });
    }
    if let Some(limit) = limit {
        q = q.limit(limit);
    }

    let mut want: Vec<(Category, Stats)> = world
        .categories
        .values()
        .filter(|c| filter.as_ref().is_none_or(|f| world.category_holds(f, c)))
        .map(|c| (c.clone(), world.stats(c.id, &counted)))
        .collect();
    want.sort_by(category_order(&terms));
    let want = window(want, limit, offset);

    let got = q
        .clone()
        .annotate((
            Category::PRODUCTS.count(),
            Category::PRODUCTS.filter(build_product(&counted)).count(),
            Category::PRODUCTS.max(p.price),
            Category::PRODUCTS.min(p.price),
            Category::PRODUCTS.sum(p.price),
            Category::PRODUCTS.avg(p.price),
        ))
        .all(&conn)
        .unwrap();
    prop_assert_eq!(&got, &want);
    // Without annotations: the same rows.
    let plain: Vec<Category> = want.iter().map(|(c, _)| c.clone()).collect();
    prop_assert_eq!(&q.all(&conn).unwrap(), &plain);
    prop_assert_eq!(q.count(&conn).unwrap(), plain.len() as u64);
    Ok(())
}

// ---- the properties -------------------------------------------------------

fn terms(keys: u8) -> impl Strategy<Value = Vec<(u8, bool)>> {
    prop::collection::vec((0..keys, any::<bool>()), 0..3)
}

/// A `product_case`'s inputs but the connection: the same strategy, in the
/// same order, for every connection.
fn product_inputs() -> impl Strategy<Value = (World, Option<P>, Vec<(u8, bool)>, Option<u64>, u64)>
{
    (
        world(),
        prop::option::weighted(0.8, product_condition()),
        terms(4),
        prop::option::of(0u64..8),
        prop_oneof![Just(0u64), 0u64..4],
    )
}

/// A `category_case`'s inputs but the connection, as [`product_inputs`].
fn category_inputs(
) -> impl Strategy<Value = (World, Option<C>, P, Vec<(u8, bool)>, Option<u64>, u64)> {
    (
        world(),
        prop::option::weighted(0.9, category_condition()),
        product_condition(),
        terms(5),
        prop::option::of(0u64..8),
        prop_oneof![Just(0u64), 0u64..4],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn joins_filters_groups_and_aggregates_of_products_equal_rust(
        (world, filter, terms, limit, offset) in product_inputs(),
    ) {
        product_case(backends::sqlite(), world, filter, terms, limit, offset)?;
    }

    #[test]
    fn relation_filters_and_annotations_of_categories_equal_rust(
        (world, filter, counted, terms, limit, offset) in category_inputs(),
    ) {
        category_case(backends::sqlite(), world, filter, counted, terms, limit, offset)?;
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn joins_filters_groups_and_aggregates_of_products_equal_rust_on_postgres(
        (world, filter, terms, limit, offset) in product_inputs(),
    ) {
        product_case(backends::postgres(), world, filter, terms, limit, offset)?;
    }

    #[test]
    fn relation_filters_and_annotations_of_categories_equal_rust_on_postgres(
        (world, filter, counted, terms, limit, offset) in category_inputs(),
    ) {
        category_case(backends::postgres(), world, filter, counted, terms, limit, offset)?;
    }
}

// The same cases on the async connections, each on a fresh one in a
// runtime of its own; fewer of them, the sync entries above cover the
// statements, these the async drivers.
#[cfg(feature = "tokio")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn joins_filters_groups_and_aggregates_of_products_equal_rust_on_async_sqlite(
        (world, filter, terms, limit, offset) in product_inputs(),
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            product_case(conn, world, filter, terms, limit, offset).await
        })?;
    }

    #[test]
    fn relation_filters_and_annotations_of_categories_equal_rust_on_async_sqlite(
        (world, filter, counted, terms, limit, offset) in category_inputs(),
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            category_case(conn, world, filter, counted, terms, limit, offset).await
        })?;
    }
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn joins_filters_groups_and_aggregates_of_products_equal_rust_on_async_postgres(
        (world, filter, terms, limit, offset) in product_inputs(),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            product_case(conn, world, filter, terms, limit, offset).await
        })?;
    }

    #[test]
    fn relation_filters_and_annotations_of_categories_equal_rust_on_async_postgres(
        (world, filter, counted, terms, limit, offset) in category_inputs(),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            category_case(conn, world, filter, counted, terms, limit, offset).await
        })?;
    }
}
