//! Django's `Prefetch(queryset=)`: `prefetch_<relation>_with`, `load_..._with`
//! and `count_...`, with the batch semantics of the plain functions and the
//! query's limit and offset applied per parent.

use orm_core::rusqlite::limits::Limit;
#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{category, product, Category, Product, ProductTag, Tag};
use orm_core::{count_queries, record_queries, Error, ForeignKey, Model};

type R = orm_core::Result<()>;

/// Categories 1..=6; category c has products priced 1.0 .. 2c (0.5 steps,
/// so ties appear in pairs by rounding), inserted in a scrambled order.
/// Category 5 has none; 6 is not stored.
#[awaited::both]
fn shop(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    Category::insert_all(conn, &(1..=5).map(category).collect::<Vec<_>>())?;
    let mut rows = Vec::new();
    for c in [1, 2, 3, 4] {
        for k in 1..=(2 * c) {
            rows.push(Product {
                name: format!("p{c}-{k}"),
                price: (k as f64 / 2.0).ceil(),
                ..product(c * 100 + k, c)
            });
        }
    }
    // Not in key order.
    rows.sort_by_key(|p| (p.id * 7919) % 1009);
    Product::insert_all(conn, &rows)?;
    Ok(())
}

fn ids(rows: &[Product]) -> Vec<i64> {
    rows.iter().map(|p| p.id).collect()
}

/// What each category's list must be: its products filtered, sorted by
/// price descending then key, sliced: the per-parent query, by hand.
#[awaited::both]
fn expected(
    conn: &impl Backend,
    cats: &[i64],
    min: f64,
    offset: usize,
    limit: usize,
) -> Vec<Vec<i64>> {
    let sql = format!(
        "SELECT * FROM product WHERE category_id = $1 \
         AND price > {min:?} ORDER BY price DESC, id LIMIT $2 OFFSET $3"
    );
    // A loop, not `map`: on an async connection each list is awaited.
    let mut lists = Vec::new();
    for &c in cats {
        lists.push(ids(
            &conn.rows::<Product>(&sql, &[c, limit as i64, offset as i64])
        ));
    }
    lists
}

/// Products 1..=3, in category 1, tagged.
#[awaited::both]
fn tagged(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    category(1).insert(conn)?;
    for id in 1..=3 {
        product(id, 1).insert(conn)?;
    }
    for (id, name) in [(1, "rust"), (2, "sql"), (3, "orm"), (4, "async")] {
        Tag {
            id,
            name: name.into(),
        }
        .insert(conn)?;
    }
    // Product 1: tags 3, 1, 4 and 3 again; product 2: tag 2; product 3: none.
    for (id, product, tag) in [(1, 1, 3), (2, 1, 1), (3, 2, 2), (4, 1, 4), (5, 1, 3)] {
        ProductTag {
            id,
            product: ForeignKey::new(product),
            tag: ForeignKey::new(tag),
        }
        .insert(conn)?;
    }
    Ok(())
}

/// How many variables a SQLite statement binds: each bare `?` is one, and
/// each numbered `?N` one however often it appears.
fn variables(sql: &str) -> usize {
    let mut numbered = std::collections::BTreeSet::new();
    let mut bare = 0;
    for (i, _) in sql.match_indices('?') {
        let digits: String = sql[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            bare += 1;
        } else {
            numbered.insert(digits);
        }
    }
    bare + numbered.len()
}

/// SQLite binds each key: chunks at its runtime limit, counting the
/// filter's own values. (PostgreSQL binds every key as one array.)
#[test]
fn chunks_count_the_filters_own_values() -> R {
    let mut conn = backends::sqlite();
    shop(&conn)?;
    let f = Product::fields();
    let cats: Vec<Category> = (1..=6).map(category).collect();
    let want = Category::load_products_with(
        &conn,
        &cats,
        Product::query().filter(f.price.gt(1.0).and(f.name.starts_with("p"))),
    )?;
    // Two values in the filter and a limit of 4: two keys per statement.
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 4)?;
    let (got, sql) = record_queries(&mut conn, |c| {
        Category::load_products_with(
            c,
            &cats,
            Product::query().filter(f.price.gt(1.0).and(f.name.starts_with("p"))),
        )
    });
    assert_eq!(got?, want);
    assert_eq!(sql.len(), 3, "{sql:#?}");
    for s in &sql {
        assert!(variables(s) <= 4, "{s}");
    }
    // A window adds two values: one key per statement at a limit of 4.
    let (got, n) = count_queries(&mut conn, |c| {
        Category::load_products_with(c, &cats, Product::query().filter(f.price.gt(1.0)).limit(2))
    });
    assert_eq!((got?.len(), n), (6, 6));
    // A filter that cannot fit is an error naming the model, not a panic.
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 2)?;
    let err = Category::load_products_with(
        &conn,
        &cats,
        Product::query().filter(f.price.gt(1.0).and(f.name.starts_with("p"))),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyParameters {
                model: "Product",
                needed: 3,
                limit: 2,
                ..
            }
        ),
        "{err}"
    );
    // Long `is_in` lists in the filter are bound as one value.
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 5)?;
    let wanted: Vec<i64> = (0..1000).map(|i| i * 3 + 101).collect();
    let (got, n) = count_queries(&mut conn, |c| {
        Category::load_products_with(
            c,
            &cats,
            Product::query().filter(f.id.is_in(wanted.clone())),
        )
    });
    let got: Vec<Vec<i64>> = got?.iter().map(|p| ids(p)).collect();
    let all = Category::load_products(&conn, &cats)?;
    let want: Vec<Vec<i64>> = all
        .iter()
        .map(|p| {
            ids(p)
                .into_iter()
                .filter(|id| wanted.contains(id))
                .collect()
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[1], [203]);
    // Six keys for a table of five: one scan answers them all.
    assert_eq!(n, 1);
    // Counts are chunked like the loads.
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 2)?;
    let cats: Vec<Category> = [4, 1, 5, 6, 1].into_iter().map(category).collect();
    let (counts, n) = count_queries(&mut conn, |c| Category::count_products(c, &cats));
    assert_eq!((counts?, n), (vec![8, 2, 0, 0, 2], 2));
    Ok(())
}

on_each_backend! {
    fn top_n_per_parent_in_one_statement(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats: Vec<Category> = [3, 1, 5, 3, 6, 2, 4].into_iter().map(category).collect();
        let query = Product::query()
            .filter(f.price.gt(1.0))
            .order_by(f.price.desc())
            .limit(3);
        let (top3, n) = count_queries(&mut conn, |c| {
            Category::prefetch_products_with(c, cats.clone(), query.clone())
        });
        let top3 = top3?;
        assert_eq!(n, 1);
        // Input order, duplicates get the same list, childless and unknown
        // parents get empty lists.
        assert_eq!(
            top3.iter().map(|(c, _)| c.id).collect::<Vec<_>>(),
            [3, 1, 5, 3, 6, 2, 4]
        );
        let got: Vec<Vec<i64>> = top3.iter().map(|(_, p)| ids(p)).collect();
        assert_eq!(got, expected(&conn, &[3, 1, 5, 3, 6, 2, 4], 1.0, 0, 3));
        // Ties on price break by key: category 3 has prices 3, 3, 2, 2, 1, 1.
        assert_eq!(got[0], [305, 306, 303]);
        // Category 1's products cost 1.0: none passes the filter.
        assert_eq!(got[1], Vec::<i64>::new());
        Ok(())
    }

    fn offset_and_limit_per_parent(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats: Vec<Category> = (1..=6).map(category).collect();
        for (offset, limit) in [(0, 1), (1, 3), (2, 100), (5, 2), (100, 1)] {
            let lists = Category::load_products_with(
                &conn,
                &cats,
                Product::query()
                    .filter(f.price.gt(0.0))
                    .order_by(f.price.desc())
                    .offset(offset as u64)
                    .limit(limit as u64),
            )?;
            let got: Vec<Vec<i64>> = lists.iter().map(|p| ids(p)).collect();
            assert_eq!(
                got,
                expected(&conn, &[1, 2, 3, 4, 5, 6], 0.0, offset, limit),
                "{offset} {limit}"
            );
        }
        // An offset alone.
        let lists = Category::load_products_with(&conn, &cats[..2], Product::query().offset(1))?;
        assert_eq!(
            lists.iter().map(|p| ids(p)).collect::<Vec<_>>(),
            [vec![102], vec![202, 203, 204]]
        );
        Ok(())
    }

    fn filtered_without_order_keeps_key_order_and_nothing_is_cached(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats: Vec<Category> = (1..=4).map(category).collect();
        let cheap =
            Category::load_products_with(&conn, &cats, Product::query().filter(f.price.le(1.0)))?;
        assert_eq!(
            cheap.iter().map(|p| ids(p)).collect::<Vec<_>>(),
            [
                vec![101, 102],
                vec![201, 202],
                vec![301, 302],
                vec![401, 402]
            ]
        );
        // The plain relation is still the whole relation.
        let (all, n) = count_queries(&mut conn, |c| Category::load_products(c, &cats));
        assert_eq!(n, 1);
        assert_eq!(all?.iter().map(Vec::len).collect::<Vec<_>>(), [2, 4, 6, 8]);
        Ok(())
    }

    fn nothing_to_load_runs_no_statement(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats: Vec<Category> = (1..=4).map(category).collect();
        for query in [
            Product::query().limit(0),
            Product::query().filter(f.id.is_in(Vec::<i64>::new())),
            Product::query().filter(f.price.gt(1.0).and(f.id.is_in([0i64; 0]))),
        ] {
            let (lists, n) = count_queries(&mut conn, |c| {
                Category::load_products_with(c, &cats, query.clone())
            });
            assert_eq!((lists?, n), (vec![vec![]; 4], 0));
            let (counts, n) = count_queries(&mut conn, |c| {
                Category::count_products_with(c, &cats, query.clone())
            });
            assert_eq!((counts?, n), (vec![0; 4], 0));
        }
        let (pairs, n) = count_queries(&mut conn, |c| {
            Category::prefetch_products_with(c, Vec::new(), Product::query())
        });
        assert_eq!((pairs?.len(), n), (0, 0));
        Ok(())
    }


    fn counts_per_parent(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats: Vec<Category> = [4, 1, 5, 6, 1].into_iter().map(category).collect();
        let (counts, n) = count_queries(&mut conn, |c| Category::count_products(c, &cats));
        assert_eq!((counts?, n), (vec![8, 2, 0, 0, 2], 1));
        let expensive = Product::query().filter(f.price.ge(2.0));
        let counts = Category::count_products_with(&conn, &cats, expensive.clone())?;
        assert_eq!(counts, [6, 0, 0, 0, 0]);
        // Within the query's window, per parent, as the loaded lists would be.
        let windowed = expensive.clone().offset(1).limit(4);
        let counts = Category::count_products_with(&conn, &cats, windowed.clone())?;
        let lists = Category::load_products_with(&conn, &cats, windowed)?;
        assert_eq!(
            counts,
            lists.iter().map(|l| l.len() as u64).collect::<Vec<_>>()
        );
        assert_eq!(counts, [4, 0, 0, 0, 0]);
        Ok(())
    }


    fn many_to_many_with_a_query(conn) -> R {
        tagged(&conn)?;
        let t = Tag::fields();
        let products = Product::all(&conn)?;
        let (tags, n) = count_queries(&mut conn, |c| {
            Product::prefetch_tags_with(c, products.clone(), Tag::query().order_by(t.name.asc()))
        });
        assert_eq!(n, 1);
        let names: Vec<Vec<String>> = tags?
            .into_iter()
            .map(|(_, tags)| tags.into_iter().map(|t| t.name).collect())
            .collect();
        // In the query's order, once per junction row.
        assert_eq!(
            names,
            [vec!["async", "orm", "orm", "rust"], vec!["sql"], vec![]]
        );
        // Filtered and capped per product.
        let lists = Product::load_tags_with(
            &conn,
            &products,
            Tag::query()
                .filter(t.name.ne("async"))
                .order_by(t.name.desc())
                .limit(2),
        )?;
        let names: Vec<Vec<&str>> = lists
            .iter()
            .map(|l| l.iter().map(|t| t.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["rust", "orm"], vec!["sql"], vec![]]);
        assert_eq!(Product::count_tags(&conn, &products)?, [4, 1, 0]);
        assert_eq!(
            Product::count_tags_with(&conn, &products, Tag::query().filter(t.name.eq("orm")))?,
            [2, 0, 0]
        );
        // The other side, and the pinned spelling.
        let tags_all = Tag::all(&conn)?;
        let p = Product::fields();
        let by_tag = Tag::load_products_with(&conn, &tags_all, Product::query().filter(p.id.ne(1)))?;
        assert_eq!(
            by_tag.iter().map(Vec::len).collect::<Vec<_>>(),
            [0, 1, 0, 0]
        );
        Ok(())
    }
}
