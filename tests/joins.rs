//! Joins, filters across relations, annotations, aggregates, group-by,
//! projections and case-insensitive text: the calls issue 12 pins, asserted
//! on results and on statements run, on every backend.

#![allow(clippy::type_complexity)] // the tuples are what the pinned calls return

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{Brand, Category, Product, ProductTag, Tag};
use orm_core::{count_queries, record_queries, Error, ForeignKey, Model};

type R = orm_core::Result<()>;

fn product(
    id: i64,
    name: &str,
    price: f64,
    note: Option<&str>,
    cat: i64,
    brand: Option<i64>,
) -> Product {
    Product {
        id,
        name: name.into(),
        price,
        stock: None,
        note: note.map(str::to_owned),
        category: ForeignKey::new(cat),
        brand: brand.map(ForeignKey::new),
    }
}

/// Books (1): Dune 9.5 Acme, Dust 4.0 -, Hyperion 30.0 Zenith;
/// Games (2): Go board 40.0 Acme, Chess 25.0 -; Music (3): Blue 12.0 Zenith;
/// Garden (4): nothing.
#[awaited::both]
fn shop(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    for (id, name) in [(1, "Books"), (2, "Games"), (3, "Music"), (4, "Garden")] {
        Category {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    for (id, name) in [(1, "Acme"), (2, "Zenith")] {
        Brand {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    Product::insert_all(
        conn,
        &[
            product(1, "Dune", 9.5, None, 1, Some(1)),
            product(2, "Dust", 4.0, Some("used"), 1, None),
            product(3, "Hyperion", 30.0, None, 1, Some(2)),
            product(4, "Go board", 40.0, Some("big"), 2, Some(1)),
            product(5, "Chess", 25.0, None, 2, None),
            product(6, "Blue", 12.0, None, 3, Some(2)),
        ],
    )?;
    for (id, name) in [(1, "new"), (2, "sale")] {
        Tag {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    for (id, p, t) in [(1, 1, 1), (2, 1, 2), (3, 4, 2), (4, 6, 1)] {
        ProductTag {
            id,
            product: ForeignKey::new(p),
            tag: ForeignKey::new(t),
        }
        .insert(conn)?;
    }
    Ok(())
}

/// Which backend a connection is.
struct Backends;

impl Backends {
    fn is_sqlite<B: backends::Named>(_: &B) -> bool {
        B::NAME == "sqlite"
    }
}

/// The result of `f` and how many statements it ran.
fn counted<B: Backend, T>(
    conn: &mut B,
    f: impl FnOnce(&mut B) -> orm_core::Result<T>,
) -> orm_core::Result<(T, usize)> {
    let (out, n) = count_queries(conn, f);
    Ok((out?, n))
}

/// [`counted`] on an async connection: what `on_each_backend!` makes of
/// `counted(&mut conn, |conn| ..)`.
#[cfg(feature = "tokio")]
async fn counted_async<T>(
    f: impl std::future::Future<Output = orm_core::Result<T>>,
) -> orm_core::Result<(T, usize)> {
    let (out, n) = orm_core::count_queries_async(f).await;
    Ok((out?, n))
}

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

on_each_backend! {
    fn join_reads_the_parent_in_the_same_statement(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let (rows, n) = counted(&mut conn, |conn| {
            Product::query().filter(p.price.lt(10.0)).join(p.category).all(&conn)
        })?;
        assert_eq!(n, 1);
        let got: Vec<(i64, &str)> = rows.iter().map(|(p, c)| (p.id, c.name.as_str())).collect();
        assert_eq!(got, [(1, "Books"), (2, "Books")]);

        let rows: Vec<(Product, Option<Brand>)> = Product::query().join(p.brand).all(&conn)?;
        let got: Vec<(i64, Option<&str>)> = rows
            .iter()
            .map(|(p, b)| (p.id, b.as_ref().map(|b| b.name.as_str())))
            .collect();
        assert_eq!(
            got,
            [
                (1, Some("Acme")),
                (2, None),
                (3, Some("Zenith")),
                (4, Some("Acme")),
                (5, None),
                (6, Some("Zenith"))
            ]
        );

        let (rows, n) = counted(&mut conn, |conn| {
            Product::query()
                .order_by(p.price.desc())
                .limit(2)
                .offset(1)
                .join(p.category)
                .join(p.brand)
                .all(&conn)
        })?;
        assert_eq!(n, 1);
        let got: Vec<(i64, &str, Option<i64>)> = rows
            .iter()
            .map(|(p, c, b)| (p.id, c.name.as_str(), b.as_ref().map(|b| b.id)))
            .collect();
        assert_eq!(got, [(3, "Books", Some(2)), (5, "Games", None)]);

        let one: Option<(Product, Category)> = Product::query().join(p.category).first(&conn)?;
        assert_eq!(one.map(|(p, c)| (p.id, c.id)), Some((1, 1)));
        let none = Product::query().filter(p.price.gt(1000.0)).join(p.category).first(&conn)?;
        assert!(none.is_none());
        // Count and exists ignore the join: same rows.
        let joined = Product::query().join(p.category).join(p.brand);
        assert_eq!(joined.count(&conn)?, 6);
        assert!(joined.exists(&conn)?);
        Ok(())
    }

    fn a_dangling_key_is_an_error_never_a_dropped_row(conn) -> R {
        shop(&conn)?;
        conn.without_foreign_keys()?;
        product(7, "Orphan", 1.0, None, 99, Some(77)).insert(&conn)?;
        let p = Product::fields();
        let err = Product::query().join(p.category).all(&conn).unwrap_err();
        assert!(
            matches!(&err, Error::MissingParent { model: "Product", column: "category_id", table: "categories", key } if key == "99"),
            "{err}"
        );
        let err = Product::query().join(p.brand).all(&conn).unwrap_err();
        assert!(
            matches!(&err, Error::MissingParent { column: "brand_id", key, .. } if key == "77"),
            "{err}"
        );
        // Filtered away, it does not matter.
        let rows = Product::query().filter(p.id.lt(7)).join(p.category).all(&conn)?;
        assert_eq!(rows.len(), 6);
        Ok(())
    }

    fn a_joined_query_in_a_filtered_prefetch_is_one_statement(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let cats = Category::all(&conn)?;
        let (pairs, n) = counted(&mut conn, |conn| {
            Category::prefetch_products_with(
                &conn,
                cats.clone(),
                Product::query().order_by(p.price.desc()).limit(2).join(p.brand),
            )
        })?;
        assert_eq!(n, 1);
        let got: Vec<(i64, Vec<(i64, Option<i64>)>)> = pairs
            .iter()
            .map(|(c, ps)| {
                (c.id, ps.iter().map(|(p, b)| (p.id, b.as_ref().map(|b| b.id))).collect())
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, vec![(3, Some(2)), (1, Some(1))]),
                (2, vec![(4, Some(1)), (5, None)]),
                (3, vec![(6, Some(2))]),
                (4, vec![]),
            ]
        );
        // Without a window, and with two joins and an annotation.
        let (loaded, n) = counted(&mut conn, |conn| {
            Category::load_products_with(
                &conn,
                &cats,
                Product::query()
                    .join(p.brand)
                    .join(p.category)
                    .annotate(Product::TAGS.count()),
            )
        })?;
        assert_eq!(n, 1);
        let books: Vec<(i64, Option<i64>, i64, u64)> = loaded[0]
            .iter()
            .map(|(p, b, c, tags)| (p.id, b.as_ref().map(|b| b.id), c.id, *tags))
            .collect();
        assert_eq!(books, [(1, Some(1), 1, 2), (2, None, 1, 0), (3, Some(2), 1, 0)]);
        // Many-to-many with a join-free annotation, on a small chunk limit.
        conn.set_variable_limit(3);
        let prods = Product::all(&conn)?;
        let (tags, _) = counted(&mut conn, |conn| {
            Product::load_tags_with(&conn, &prods, Tag::query().annotate(Tag::PRODUCTS.count()))
        })?;
        let first: Vec<(i64, u64)> = tags[0].iter().map(|(t, n)| (t.id, *n)).collect();
        assert_eq!(first, [(1, 2), (2, 2)]);
        Ok(())
    }

    fn relation_filters_are_exists_subqueries(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let c = Category::fields();
        let t = Tag::fields();
        let (with_cheap, n) = counted(&mut conn, |conn| {
            Category::query().filter(Category::PRODUCTS.any(p.price.lt(10.0))).all(&conn)
        })?;
        assert_eq!(n, 1);
        assert_eq!(ids(&with_cheap), [1]);
        let empty = Category::query().filter(Category::PRODUCTS.exists().not()).all(&conn)?;
        assert_eq!(ids(&empty), [4]);
        let none_cheap = Category::query()
            .filter(Category::PRODUCTS.any(p.price.lt(10.0)).not())
            .all(&conn)?;
        assert_eq!(ids(&none_cheap), [2, 3, 4]);
        let in_books = Product::query().filter(p.category.has(c.name.eq("Books"))).all(&conn)?;
        assert_eq!(ids(&in_books), [1, 2, 3]);
        // A nullable key: NULL never has.
        let b = Brand::fields();
        let acme = Product::query().filter(p.brand.has(b.name.eq("Acme"))).all(&conn)?;
        assert_eq!(ids(&acme), [1, 4]);
        let not_acme = Product::query().filter(p.brand.has(b.name.eq("Acme")).not()).all(&conn)?;
        assert_eq!(ids(&not_acme), [2, 3, 5, 6]);
        // Nested: categories with a product whose brand is Zenith.
        let zenith = Category::query()
            .filter(Category::PRODUCTS.any(p.brand.has(b.name.eq("Zenith"))))
            .all(&conn)?;
        assert_eq!(ids(&zenith), [1, 3]);
        // Many-to-many, combined with `or` and another condition.
        let tagged = Product::query()
            .filter(Product::TAGS.any(t.name.eq("sale")) | p.price.gt(35.0))
            .all(&conn)?;
        assert_eq!(ids(&tagged), [1, 4]);
        let brands_with_books = Brand::query()
            .filter(Brand::PRODUCTS.any(p.category.has(c.name.eq("Books"))))
            .all(&conn)?;
        assert_eq!(ids(&brands_with_books), [1, 2]);
        // Writes by relation filter.
        let gone = Category::query().filter(Category::PRODUCTS.exists().not()).delete(&conn)?;
        assert_eq!(gone, 1);
        Ok(())
    }

    fn annotations_count_and_aggregate_per_row(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let (n, q) = counted(&mut conn, |conn| {
            Category::query().annotate(Category::PRODUCTS.count()).all(&conn)
        })?;
        assert_eq!(q, 1);
        let got: Vec<(i64, u64)> = n.iter().map(|(c, n)| (c.id, *n)).collect();
        assert_eq!(got, [(1, 3), (2, 2), (3, 1), (4, 0)]);

        let (stats, q) = counted(&mut conn, |conn| {
            Category::query()
                .annotate((
                    Category::PRODUCTS.filter(p.price.gt(5.0)).count(),
                    Category::PRODUCTS.max(p.price),
                ))
                .order_by(Category::PRODUCTS.count().desc())
                .limit(10)
                .all(&conn)
        })?;
        assert_eq!(q, 1);
        let got: Vec<(i64, (u64, Option<f64>))> = stats.iter().map(|(c, s)| (c.id, *s)).collect();
        assert_eq!(
            got,
            [(1, (2, Some(30.0))), (2, (2, Some(40.0))), (3, (1, Some(12.0))), (4, (0, None))]
        );
        let busy = Category::query().filter(Category::PRODUCTS.count().ge(2)).all(&conn)?;
        assert_eq!(ids(&busy), [1, 2]);
        // Ties by count broken by key; ascending puts the empty one first.
        let asc = Category::query().order_by(Category::PRODUCTS.count().asc()).all(&conn)?;
        assert_eq!(ids(&asc), [4, 3, 2, 1]);
        // NULL aggregates: nothing is less, `ne` matches (as `None != Some`).
        let dear = Category::query().filter(Category::PRODUCTS.max(p.price).gt(20.0)).all(&conn)?;
        assert_eq!(ids(&dear), [1, 2]);
        let not_30 = Category::query().filter(Category::PRODUCTS.max(p.price).ne(30.0)).all(&conn)?;
        assert_eq!(ids(&not_30), [2, 3, 4]);
        let no_max = Category::query().filter(Category::PRODUCTS.max(p.price).is_null()).all(&conn)?;
        assert_eq!(ids(&no_max), [4]);
        let by_max = Category::query().order_by(Category::PRODUCTS.max(p.price).desc()).all(&conn)?;
        assert_eq!(ids(&by_max), [2, 1, 3, 4]);
        // Sum, average, minimum; text maximum compares bytewise.
        let sums: Vec<(Category, (Option<f64>, Option<f64>, Option<f64>, Option<String>))> =
            Category::query()
                .annotate((
                    Category::PRODUCTS.sum(p.price),
                    Category::PRODUCTS.avg(p.price),
                    Category::PRODUCTS.min(p.price),
                    Category::PRODUCTS.max(p.name),
                ))
                .all(&conn)?;
        let books = &sums[0].1;
        assert_eq!(books.0, Some(43.5));
        assert_eq!(books.1, Some(14.5));
        assert_eq!(books.2, Some(4.0));
        assert_eq!(books.3.as_deref(), Some("Hyperion"));
        assert_eq!(sums[3].1, (None, None, None, None));
        // Many-to-many annotations and filters.
        let tag_counts: Vec<(Product, u64)> =
            Product::query().annotate(Product::TAGS.count()).all(&conn)?;
        let got: Vec<(i64, u64)> = tag_counts.iter().map(|(p, n)| (p.id, *n)).collect();
        assert_eq!(got, [(1, 2), (2, 0), (3, 0), (4, 1), (5, 0), (6, 1)]);
        Ok(())
    }

    fn aggregates_group_by_and_projections(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let ((count, total, avg, lo, hi), q) = counted(&mut conn, |conn| {
            Product::query()
                .filter(p.note.is_null())
                .aggregate((p.id.count(), p.price.sum(), p.price.avg(), p.price.min(), p.price.max()))
                .get(&conn)
        })?;
        assert_eq!(q, 1);
        assert_eq!((count, total, avg, lo, hi), (4, Some(76.5), Some(19.125), Some(9.5), Some(30.0)));
        // Of no row: a count of 0 and no value.
        let nothing: (u64, Option<f64>) = Product::query()
            .filter(p.price.gt(1000.0))
            .aggregate((p.id.count(), p.price.max()))
            .get(&conn)?;
        assert_eq!(nothing, (0, None));
        let never: (u64, Option<f64>) = Product::query()
            .filter(p.id.is_in(Vec::<i64>::new()))
            .aggregate((p.id.count(), p.price.sum()))
            .get(&conn)?;
        assert_eq!(never, (0, None));
        // Within the window.
        let top2: Option<f64> =
            Product::query().order_by(p.price.desc()).limit(2).aggregate(p.price.sum()).get(&conn)?;
        assert_eq!(top2, Some(70.0));
        let notes: u64 = Product::query().aggregate(p.note.count()).get(&conn)?;
        assert_eq!(notes, 2);

        let (per_category, q) = counted(&mut conn, |conn| {
            Product::query()
                .group_by(p.category)
                .aggregate((p.id.count(), p.price.avg()))
                .all(&conn)
        })?;
        assert_eq!(q, 1);
        let per_category: Vec<(ForeignKey<Category>, u64, Option<f64>)> = per_category;
        let got: Vec<(i64, u64, Option<f64>)> =
            per_category.iter().map(|(k, n, a)| (*k.key(), *n, *a)).collect();
        assert_eq!(got, [(1, 3, Some(14.5)), (2, 2, Some(32.5)), (3, 1, Some(12.0))]);
        // A nullable key: NULL is a group of its own, first.
        let per_brand: Vec<(Option<ForeignKey<Brand>>, u64)> =
            Product::query().group_by(p.brand).aggregate(p.id.count()).all(&conn)?;
        let got: Vec<(Option<i64>, u64)> =
            per_brand.iter().map(|(k, n)| (k.as_ref().map(|k| *k.key()), *n)).collect();
        assert_eq!(got, [(None, 2), (Some(1), 2), (Some(2), 2)]);
        // Text keys: bytewise, NULL first, on both backends.
        product(7, "dune", 1.0, Some("Big"), 3, None).insert(&conn)?;
        let per_note: Vec<(Option<String>, u64, Option<String>)> = Product::query()
            .group_by(p.note)
            .aggregate((p.id.count(), p.name.max()))
            .all(&conn)?;
        assert_eq!(
            per_note,
            [
                (None, 4, Some("Hyperion".into())),
                (Some("Big".into()), 1, Some("dune".into())),
                (Some("big".into()), 1, Some("Go board".into())),
                (Some("used".into()), 1, Some("Dust".into())),
            ]
        );
        Product::query().filter(p.id.eq(7)).delete(&conn)?;
        let two_keys: Vec<(ForeignKey<Category>, Option<ForeignKey<Brand>>, u64)> = Product::query()
            .filter(p.category.eq(ForeignKey::new(1)))
            .group_by((p.category, p.brand))
            .aggregate(p.id.count())
            .all(&conn)?;
        assert_eq!(two_keys.len(), 3);
        assert_eq!(two_keys[0].1, None);

        let (ids_names, q) = counted(&mut conn, |conn| {
            Product::query().filter(p.price.gt(20.0)).select((p.id, p.name)).all(&conn)
        })?;
        assert_eq!(q, 1);
        let ids_names: Vec<(i64, String)> = ids_names;
        assert_eq!(
            ids_names,
            [(3, "Hyperion".to_string()), (4, "Go board".into()), (5, "Chess".into())]
        );
        let just_ids: Vec<i64> = Product::query().order_by(p.price.asc()).select(p.id).all(&conn)?;
        assert_eq!(just_ids, [2, 1, 6, 5, 3, 4]);
        let first: Option<String> = Product::query().order_by(p.price.desc()).select(p.name).first(&conn)?;
        assert_eq!(first.as_deref(), Some("Go board"));
        Ok(())
    }

    fn case_insensitive_text_matches_ignore_ascii_case_only(conn) -> R {
        shop(&conn)?;
        product(7, "DUNE messiah", 11.0, None, 1, None).insert(&conn)?;
        product(8, "Éclair ÉTÉ", 3.0, Some("50%_off"), 3, None).insert(&conn)?;
        let p = Product::fields();
        let found = Product::query().filter(p.name.icontains("dUnE")).all(&conn)?;
        assert_eq!(ids(&found), [1, 7]);
        let exact = Product::query().filter(p.name.iexact("dune")).all(&conn)?;
        assert_eq!(ids(&exact), [1]);
        let starts = Product::query().filter(p.name.istarts_with("go B")).all(&conn)?;
        assert_eq!(ids(&starts), [4]);
        let ends = Product::query().filter(p.name.iends_with("MESSIAH")).all(&conn)?;
        assert_eq!(ids(&ends), [7]);
        // Other letters match only themselves, on every backend.
        assert_eq!(ids(&Product::query().filter(p.name.icontains("été")).all(&conn)?), Vec::<i64>::new());
        assert_eq!(ids(&Product::query().filter(p.name.icontains("ÉCLAIR")).all(&conn)?), [8]);
        // Literal: `%` and `_` are plain characters; NULL never matches.
        assert_eq!(ids(&Product::query().filter(p.note.icontains("%_OFF")).all(&conn)?), [8]);
        assert_eq!(ids(&Product::query().filter(p.note.icontains("%")).all(&conn)?), [8]);
        assert_eq!(
            ids(&Product::query().filter(p.note.icontains("").not()).all(&conn)?),
            [1, 3, 5, 6, 7]
        );
        Ok(())
    }

    fn logged_statements_cover_the_new_forms(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        let (rows, sql) = record_queries(&mut conn, |conn| {
            Category::query()
                .filter(Category::PRODUCTS.any(p.price.lt(10.0)))
                .annotate(Category::PRODUCTS.count())
                .all(&conn)
        });
        assert_eq!(rows?.len(), 1);
        assert_eq!(sql.len(), 1);
        // A relation filter alone over the whole table: on SQLite an `IN`
        // sub-select (run once), else `EXISTS`.
        let form = if Backends::is_sqlite(&conn) { " IN (SELECT " } else { "EXISTS (" };
        assert!(sql[0].contains(form), "{}", sql[0]);
        // Ordering by an annotation the query selects reads its column: the
        // sub-select runs once per row, not twice.
        let (rows, sql) = record_queries(&mut conn, |conn| {
            Category::query()
                .annotate(Category::PRODUCTS.filter(p.price.gt(5.0)).count())
                .order_by(Category::PRODUCTS.filter(p.price.gt(5.0)).count().desc())
                .all(&conn)
        });
        let got: Vec<(i64, u64)> = rows?.iter().map(|(c, n)| (c.id, *n)).collect();
        assert_eq!(got, [(1, 2), (2, 2), (3, 1), (4, 0)]);
        assert_eq!(sql[0].matches("count(*)").count(), 1, "{}", sql[0]);
        Ok(())
    }

    // Review: a join after a tuple of annotations. The parts tuple counts
    // the pair as one part; the statement's extras list has one entry per
    // annotation, so the join reader must not look its join up by part index.
    fn a_join_after_an_annotation_pair_reads_its_own_key(conn) -> R {
        shop(&conn)?;
        let p = Product::fields();
        // Product 2 (Dust) has no brand: its Option join must read `None`.
        let rows: Vec<(Product, (u64, u64), Option<Brand>)> = Product::query()
            .filter(p.id.eq(2))
            .annotate((Product::TAGS.count(), Product::TAGS.count()))
            .join(p.brand)
            .all(&conn)?;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].2, None);
        // Two joins after the pair: the second (brand NULL) must not read
        // the first's key (category 1, non-NULL) and report a missing parent.
        let rows: Vec<(Product, (u64, u64), Category, Option<Brand>)> = Product::query()
            .filter(p.id.eq(2))
            .annotate((Product::TAGS.count(), Product::TAGS.count()))
            .join(p.category)
            .join(p.brand)
            .all(&conn)?;
        assert_eq!(rows[0].2.id, 1);
        assert_eq!(rows[0].3, None);
        Ok(())
    }
}
