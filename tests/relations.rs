//! Several relations at once, nested, forward and many-to-many prefetch, and
//! the N+1 guards; each asserted on results and on statements run.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{in_list_len, product, Category, CategoryLabel, Label, Product};
use orm_core::rusqlite::limits::Limit;
use orm_core::rusqlite::Connection;
use orm_core::{
    assert_queries, count_queries, is_strict, record_queries, strict, Error, ForeignKey, Model,
    Nested,
};

type R = orm_core::Result<()>;

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

#[awaited::both]
fn catalog(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    for id in 1..=3 {
        Category {
            id,
            name: format!("c{id}"),
        }
        .insert(conn)?;
    }
    for (id, c) in [(10, 1), (11, 2), (12, 1), (13, 3)] {
        product(id, c).insert(conn)?;
    }
    for id in 1..=2 {
        Label {
            id,
            name: format!("l{id}"),
        }
        .insert(conn)?;
    }
    for (id, c, l) in [(20, 2, 1), (21, 2, 2)] {
        CategoryLabel {
            id,
            category: ForeignKey::new(c),
            label: ForeignKey::new(l),
        }
        .insert(conn)?;
    }
    Ok(())
}

fn catalog_sqlite() -> orm_core::Result<Connection> {
    let conn = backends::sqlite();
    catalog(&conn)?;
    Ok(conn)
}

on_each_backend! {
    fn several_relations_of_the_same_parents_without_cloning_them(conn) -> R {
        catalog(&conn)?;
        let cats = Category::all(&conn)?;
        let ((products, labels), n) = count_queries(&mut conn, |c| {
            (
                Category::load_products(c, &cats),
                Category::load_category_labels(c, &cats),
            )
        });
        assert_eq!(n, 2);
        let products: Vec<Vec<i64>> = products?.iter().map(|p| ids(p)).collect();
        let labels: Vec<Vec<i64>> = labels?.iter().map(|l| ids(l)).collect();
        assert_eq!(products, vec![vec![10, 12], vec![11], vec![13]]);
        assert_eq!(labels, vec![vec![], vec![20, 21], vec![]]);

        // Same semantics as prefetch: duplicates, order, empty input.
        let twice = [cats[1].clone(), cats[0].clone(), cats[1].clone()];
        let loaded = Category::load_products(&conn, &twice)?;
        assert_eq!(
            loaded.iter().map(|p| ids(p)).collect::<Vec<_>>(),
            vec![vec![11], vec![10, 12], vec![11]]
        );
        let (empty, n) = count_queries(&mut conn, |c| Category::load_category_labels(c, &[]));
        assert_eq!((empty?.len(), n), (0, 0));
        Ok(())
    }

    fn count_queries_sees_raw_sql_and_removes_its_hook(conn) -> R {
        catalog(&conn)?;
        let (_, n) = count_queries(&mut conn, |c| {
            c.exec("SELECT 1")?;
            Category::all(c)
        });
        assert_eq!(n, 2);
        // The hook is gone: a count around nothing sees nothing.
        Category::all(&conn)?;
        let ((), n) = count_queries(&mut conn, |_| ());
        assert_eq!(n, 0);
        Ok(())
    }

    #[should_panic(
        expected = "expected 1 statement(s), 2 ran:\n  1. SELECT t.\"id\", t.\"name\" FROM \"categories\" AS t"
    )]
    fn assert_queries_lists_every_statement(conn) -> () {
        catalog(&conn).unwrap();
        assert_queries(&mut conn, 1, |c| {
            let cats = Category::all(c).unwrap();
            for cat in cats.iter().take(1) {
                cat.products(c).unwrap();
            }
        });
    }

    fn strict_refuses_lazy_loads_and_allows_batches(conn) -> R {
        catalog(&conn)?;
        let cats = Category::all(&conn)?;
        let product = Product::get(&conn, 10)?.expect("product 10");
        strict(&conn, || -> R {
            let err = cats[0].products(&conn).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::LazyLoad {
                        model: "Category",
                        relation: "products",
                        prefetch: "Category::prefetch_products"
                    }
                ),
                "{err}"
            );
            assert!(
                err.to_string().contains("Category::prefetch_products"),
                "{err}"
            );
            let err = product.category(&conn).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::LazyLoad {
                        prefetch: "Product::prefetch_category",
                        ..
                    }
                ),
                "{err}"
            );
            // Batch functions are what strict mode is for.
            assert_eq!(Category::prefetch_products(&conn, cats.clone())?.len(), 3);
            assert_eq!(Category::load_category_labels(&conn, &cats)?.len(), 3);
            assert_eq!(
                Product::prefetch_category(&conn, vec![product.clone()])?.len(),
                1
            );
            // Nested scopes; an error inside leaves the outer scope strict.
            let inner: R = strict(&conn, || Err(cats[0].products(&conn).unwrap_err()));
            assert!(inner.is_err());
            assert!(is_strict(&conn));
            Ok(())
        })?;
        assert!(!is_strict(&conn));
        assert_eq!(ids(&cats[0].products(&conn)?), vec![10, 12]);
        Ok(())
    }

    // Sync only: `strict_async` holds for every connection the task uses.
    #[sync_only]
    fn strict_is_per_connection(a) -> R {
        catalog(&a)?;
        let b = backends::fresh_like(&a);
        catalog(&b)?;
        strict(&a, || -> R {
            assert!(Category {
                id: 1,
                name: String::new()
            }
            .products(&a)
            .is_err());
            assert_eq!(
                Category {
                    id: 1,
                    name: String::new()
                }
                .products(&b)?
                .len(),
                2
            );
            Ok(())
        })
    }
}

mod music {
    use super::*;
    use crate::common::music::{Album, Artist, Take, Track};

    #[awaited::both]
    pub fn store(conn: &impl Backend) -> R {
        common::music::create_tables(conn)?;
        for id in 1..=4 {
            Artist { id }.insert(conn)?;
        }
        // Artist 4 has no albums; album 102 has no tracks.
        for (id, a) in [(100, 1), (101, 1), (102, 2), (103, 3)] {
            Album {
                id,
                artist: ForeignKey::new(a),
            }
            .insert(conn)?;
        }
        for (id, a) in [(1000, 101), (1001, 100), (1002, 101), (1003, 103)] {
            Track {
                id,
                album: ForeignKey::new(a),
            }
            .insert(conn)?;
        }
        for (id, t) in [(5, 1002), (6, 1000), (7, 1002)] {
            Take {
                id,
                track: ForeignKey::new(t),
            }
            .insert(conn)?;
        }
        Ok(())
    }

    type Tree = Vec<(Artist, Vec<(Album, Vec<(Track, Vec<Take>)>)>)>;

    type Shape = Vec<(i64, Vec<(i64, Vec<(i64, Vec<i64>)>)>)>;

    fn shape(tree: &Tree) -> Shape {
        tree.iter()
            .map(|(a, albums)| {
                let albums = albums
                    .iter()
                    .map(|(al, tracks)| {
                        let tracks = tracks.iter().map(|(t, lines)| (t.id, ids(lines))).collect();
                        (al.id, tracks)
                    })
                    .collect();
                (a.id, albums)
            })
            .collect()
    }

    on_each_backend! {
        fn three_levels_take_four_statements(conn) -> R {
            store(&conn)?;
            // Statement 1 loads the artists; each level is one more.
            let (tree, n) = count_queries(&mut conn, |conn| -> orm_core::Result<Tree> {
                let all = Artist::all(conn)?;
                let pick = |id: i64| all.iter().find(|a| a.id == id).cloned().expect("artist");
                let artists: Vec<Artist> = [3, 1, 4, 2, 1].into_iter().map(pick).collect();
                Artist::prefetch_albums(conn, artists)?.nested(conn, |conn, albums| {
                    Album::prefetch_tracks(conn, albums)?.nested(conn, Track::prefetch_takes)
                })
            });
            let tree = tree?;
            assert_eq!(n, 4);
            let c = |id, lines: Vec<i64>| (id, lines);
            assert_eq!(
                shape(&tree),
                vec![
                    (3, vec![(103, vec![c(1003, vec![])])]),
                    (
                        1,
                        vec![
                            (100, vec![c(1001, vec![])]),
                            (101, vec![c(1000, vec![6]), c(1002, vec![5, 7])])
                        ]
                    ),
                    (4, vec![]),
                    (2, vec![(102, vec![])]),
                    (
                        1,
                        vec![
                            (100, vec![c(1001, vec![])]),
                            (101, vec![c(1000, vec![6]), c(1002, vec![5, 7])])
                        ]
                    ),
                ]
            );
            Ok(())
        }

        fn no_query_below_a_level_without_children(conn) -> R {
            store(&conn)?;
            let (tree, n) = count_queries(&mut conn, |conn| {
                Artist::prefetch_albums(conn, vec![Artist { id: 4 }])?
                    .nested(conn, Album::prefetch_tracks)
            });
            assert_eq!(tree?, vec![(Artist { id: 4 }, vec![])]);
            assert_eq!(n, 1);
            Ok(())
        }

        fn a_nested_function_that_changes_the_length_is_an_error(conn) -> R {
            store(&conn)?;
            let err = Artist::prefetch_albums(&conn, vec![Artist { id: 1 }])?
                .nested(&conn, |_, _albums| Ok(Vec::<(Album, ())>::new()))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NestedLength {
                        expected: 2,
                        got: 0
                    }
                ),
                "{err}"
            );
            Ok(())
        }
    }
}

mod forward {
    use super::*;
    use common::{category, Brand};

    #[test]
    fn forward_foreign_keys_in_one_query() -> R {
        let mut conn = catalog_sqlite()?;
        let products = Product::all(&conn)?;
        // Four products, three distinct keys: at a limit of three variables one
        // statement binds them all, so each was bound once.
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 3)?;
        let (pairs, sql) = record_queries(&mut conn, |c| Product::prefetch_category(c, products));
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)?;
        let pairs = pairs?;
        assert_eq!(sql.len(), 1);
        assert!(in_list_len(&sql[0]) <= 3, "{}", sql[0]);
        let got: Vec<(i64, i64)> = pairs.iter().map(|(p, c)| (p.id, c.id)).collect();
        assert_eq!(got, vec![(10, 1), (11, 2), (12, 1), (13, 3)]);

        let product = Product::get(&conn, 11)?.expect("product 11");
        let (parent, n) = count_queries(&mut conn, |c| product.category(c));
        assert_eq!((parent?.name, n), ("c2".to_string(), 1));

        let products = Product::all(&conn)?;
        let loaded = Product::load_category(&conn, &products)?;
        assert_eq!(
            loaded.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![1, 2, 1, 3]
        );
        Ok(())
    }

    #[test]
    fn forward_keys_are_chunked_at_the_runtime_limit() -> R {
        let mut conn = catalog_sqlite()?;
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 2)?;
        let products = Product::all(&conn)?;
        let (pairs, n) = count_queries(&mut conn, |c| Product::prefetch_category(c, products));
        assert_eq!(n, 2);
        assert_eq!(pairs?.len(), 4);
        Ok(())
    }

    on_each_backend! {
        fn nullable_forward_keys_give_none(conn) -> R {
            common::create_tables(&conn)?;
            category(1).insert(&conn)?;
            Brand {
                id: 1,
                name: "rust".into(),
            }
            .insert(&conn)?;
            Product {
                brand: Some(ForeignKey::new(1)),
                ..product(1, 1)
            }
            .insert(&conn)?;
            product(2, 1).insert(&conn)?;
            let products = Product::all(&conn)?;
            let (pairs, n) = count_queries(&mut conn, |c| Product::prefetch_brand(c, products));
            assert_eq!(n, 1);
            let got: Vec<(i64, Option<String>)> = pairs?
                .into_iter()
                .map(|(p, b)| (p.id, b.map(|b| b.name)))
                .collect();
            assert_eq!(got, vec![(1, Some("rust".into())), (2, None)]);
            // Only NULL keys: nothing to query.
            let (pairs, n) = count_queries(&mut conn, |c| {
                Product::prefetch_brand(c, vec![product(2, 1)])
            });
            assert_eq!((pairs?[0].1.clone(), n), (None, 0));
            assert_eq!(product(2, 1).brand(&conn)?, None);
            Ok(())
        }

        fn a_missing_parent_is_an_error_naming_table_and_key(conn) -> R {
            catalog(&conn)?;
            conn.without_foreign_keys()?;
            product(99, 42).insert(&conn)?;
            let err = Product::prefetch_category(&conn, Product::all(&conn)?).unwrap_err();
            assert!(
                matches!(err, Error::MissingParent { model: "Product", column: "category_id", table: "categories", ref key } if key == "42"),
                "{err}"
            );
            assert_eq!(
                err.to_string(),
                "Product.category_id = 42: no row in `categories` has that primary key"
            );
            let lonely = Product::get(&conn, 99)?.expect("product 99");
            assert!(matches!(
                lonely.category(&conn),
                Err(Error::MissingParent { .. })
            ));
            Ok(())
        }
    }
}

mod many_to_many {
    use super::*;
    use common::{ProductTag, Tag};

    #[awaited::both]
    fn tagged(conn: &impl Backend) -> R {
        common::create_tables(conn)?;
        Category {
            id: 1,
            name: "c1".into(),
        }
        .insert(conn)?;
        for id in 1..=3 {
            product(id, 1).insert(conn)?;
        }
        for (id, name) in [(1, "rust"), (2, "sql"), (3, "orm")] {
            Tag {
                id,
                name: name.into(),
            }
            .insert(conn)?;
        }
        // Product 1: tags 3, 1, and 3 again; product 2: tag 2; product 3: none.
        for (id, product, tag) in [(1, 1, 3), (2, 1, 1), (3, 2, 2), (4, 1, 3)] {
            ProductTag {
                id,
                product: ForeignKey::new(product),
                tag: ForeignKey::new(tag),
            }
            .insert(conn)?;
        }
        Ok(())
    }

    fn tagged_sqlite() -> orm_core::Result<Connection> {
        let conn = backends::sqlite();
        tagged(&conn)?;
        Ok(conn)
    }

    on_each_backend! {
        fn many_to_many_in_one_query_each_way(conn) -> R {
            tagged(&conn)?;
            let products = Product::all(&conn)?;
            let (pairs, n) = count_queries(&mut conn, |c| Product::prefetch_tags(c, products));
            assert_eq!(n, 1);
            let got: Vec<(i64, Vec<i64>)> = pairs?.iter().map(|(p, t)| (p.id, ids(t))).collect();
            // In tag key order, once per junction row.
            assert_eq!(got, vec![(1, vec![1, 3, 3]), (2, vec![2]), (3, vec![])]);

            let tags = Tag::all(&conn)?;
            let (pairs, n) = count_queries(&mut conn, |c| Tag::prefetch_products(c, tags));
            assert_eq!(n, 1);
            let got: Vec<(i64, Vec<i64>)> = pairs?.iter().map(|(t, p)| (t.id, ids(p))).collect();
            assert_eq!(got, vec![(1, vec![1]), (2, vec![2]), (3, vec![1, 1])]);

            let product = Product::get(&conn, 2)?.expect("product 2");
            let (tags, n) = count_queries(&mut conn, |c| product.tags(c));
            assert_eq!(
                (tags?, n),
                (
                    vec![Tag {
                        id: 2,
                        name: "sql".into()
                    }],
                    1
                )
            );

            let products = Product::all(&conn)?;
            let loaded = Product::load_tags(&conn, &[products[1].clone(), products[1].clone()])?;
            assert_eq!(
                loaded.iter().map(|t| ids(t)).collect::<Vec<_>>(),
                vec![vec![2], vec![2]]
            );
            // The junction's own reverse relations are there too.
            assert_eq!(ids(&products[0].product_tags(&conn)?), vec![1, 2, 4]);
            Ok(())
        }
    }

    #[test]
    fn many_to_many_keys_are_chunked_at_the_runtime_limit() -> R {
        let mut conn = tagged_sqlite()?;
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 2)?;
        let products = Product::all(&conn)?;
        let (pairs, n) = count_queries(&mut conn, |c| Product::prefetch_tags(c, products));
        assert_eq!(n, 2);
        assert_eq!(
            pairs?.iter().map(|(_, t)| t.len()).collect::<Vec<_>>(),
            vec![3, 1, 0]
        );
        Ok(())
    }
}

#[test]
fn strict_covers_transactions_and_is_restored_after_a_panic() -> R {
    let mut conn = catalog_sqlite()?;
    {
        let tx = conn.transaction()?;
        let cat = Category {
            id: 1,
            name: "c1".into(),
        };
        strict(conn_of(&tx), || {
            assert!(matches!(cat.products(&tx), Err(Error::LazyLoad { .. })))
        });
    }
    let conn = std::panic::AssertUnwindSafe(conn);
    let result = std::panic::catch_unwind(|| strict(&conn, || panic!("inside")));
    assert!(result.is_err());
    assert!(!is_strict(&conn));
    assert_eq!(
        Category {
            id: 1,
            name: String::new()
        }
        .products(&conn)?
        .len(),
        2
    );
    Ok(())
}

fn conn_of<'a>(tx: &'a orm_core::rusqlite::Transaction<'_>) -> &'a Connection {
    tx
}
