//! Prefetch against a naive oracle: one hand-written query per parent, on
//! every backend.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{product, Product, ProductTag, Tag};
use orm_core::{count_queries, ForeignKey, Model};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// A bare parent and a child with a nullable key and nothing else: the
// rows the strategies draw, NULL and dangling keys among them.
#[derive(Model, Debug, Clone, PartialEq)]
struct Parent {
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Child {
    id: i64,
    label: String,
    #[foreign_key(related_name = "children")]
    parent: Option<ForeignKey<Parent>>,
}

/// The obvious N+1 code, written without the library.
#[awaited::both]
fn oracle(conn: &impl Backend, parents: &[Parent]) -> Vec<Vec<Child>> {
    // (A loop, not a `map`: on an async connection each query is awaited.)
    let mut out = Vec::with_capacity(parents.len());
    for p in parents {
        out.push(conn.rows(
            "SELECT id, label, parent_id FROM child WHERE parent_id = $1 ORDER BY id",
            &[p.id],
        ));
    }
    out
}

/// How many statements a load of `distinct` keys takes: one per `limit`
/// keys on SQLite (or one scan), one array on PostgreSQL.
fn statements_ok<B: backends::Named>(
    n: usize,
    distinct: usize,
    limit: i32,
    may_scan: bool,
) -> bool {
    if B::NAME == "postgres" {
        return n == usize::from(distinct > 0);
    }
    let chunks = distinct.div_ceil(limit as usize);
    n == chunks || (may_scan && n == 1 && chunks > 1)
}

#[awaited::both]
#[allow(clippy::too_many_arguments)]
fn reverse_case<B: Backend>(
    mut conn: B,
    span: i64,
    stored: std::collections::BTreeSet<i64>,
    children: Vec<Option<i64>>,
    input: Vec<i64>,
    limit: i32,
) -> Result<(), TestCaseError> {
    conn.without_foreign_keys().unwrap();
    Parent::create_table(&conn).unwrap();
    Child::create_table(&conn).unwrap();
    let stored: std::collections::BTreeSet<i64> = stored.into_iter().map(|id| id % span).collect();
    let parents_stored: Vec<Parent> = stored.iter().map(|&id| Parent { id }).collect();
    Parent::insert_all(&conn, &parents_stored).unwrap();
    // Ids in a scrambled order (a permutation modulo the prime 1009), so
    // that key order differs from insertion order.
    let rows: Vec<Child> = children
        .iter()
        .enumerate()
        .map(|(i, parent)| Child {
            id: (i as i64 * 7919) % 1009,
            label: format!("c{i}"),
            parent: parent.map(ForeignKey::new),
        })
        .collect();
    Child::insert_all(&conn, &rows).unwrap();
    conn.set_variable_limit(limit);
    let parents: Vec<Parent> = input.iter().map(|&id| Parent { id }).collect();
    let expected = oracle(&conn, &parents);

    let (got, n) = count_queries(&mut conn, |c| Parent::prefetch_children(c, parents.clone()));
    let got = got.unwrap();
    let distinct = input.iter().collect::<std::collections::HashSet<_>>().len();
    prop_assert!(
        statements_ok::<B>(n, distinct, limit, true),
        "{} statements for {} keys",
        n,
        distinct
    );
    prop_assert_eq!(
        got.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        parents.clone()
    );
    prop_assert_eq!(
        got.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
        expected.clone()
    );
    prop_assert_eq!(Parent::load_children(&conn, &parents).unwrap(), expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prefetch_equals_one_query_per_parent(
        // Parent ids below `span`: with 20 the keys usually cover a third of the
        // parent table or more (the table is scanned), with 400 less (the
        // index is probed).
        span in prop_oneof![Just(20i64), Just(400i64)],
        stored in proptest::collection::btree_set(0i64..400, 0..300),
        // Keys up to 50 dangle; None is NULL.
        children in proptest::collection::vec(proptest::option::of(0i64..50), 0..150),
        input in proptest::collection::vec(0i64..45, 0..60),
        limit in prop_oneof![Just(32_766), 1i32..8],
    ) {
        reverse_case(backends::sqlite(), span, stored, children, input, limit)?;
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prefetch_equals_one_query_per_parent_on_postgres(
        span in prop_oneof![Just(20i64), Just(400i64)],
        stored in proptest::collection::btree_set(0i64..400, 0..300),
        children in proptest::collection::vec(proptest::option::of(0i64..50), 0..150),
        input in proptest::collection::vec(0i64..45, 0..60),
        limit in Just(32_766),
    ) {
        reverse_case(backends::postgres(), span, stored, children, input, limit)?;
    }
}

// The same cases on the async connections, each on a fresh one in a
// runtime of its own.
#[cfg(feature = "tokio")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn prefetch_equals_one_query_per_parent_on_async_sqlite(
        span in prop_oneof![Just(20i64), Just(400i64)],
        stored in proptest::collection::btree_set(0i64..400, 0..300),
        children in proptest::collection::vec(proptest::option::of(0i64..50), 0..150),
        input in proptest::collection::vec(0i64..45, 0..60),
        limit in prop_oneof![Just(32_766), 1i32..8],
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            reverse_case(conn, span, stored, children, input, limit).await
        })?;
    }
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn prefetch_equals_one_query_per_parent_on_async_postgres(
        span in prop_oneof![Just(20i64), Just(400i64)],
        stored in proptest::collection::btree_set(0i64..400, 0..300),
        children in proptest::collection::vec(proptest::option::of(0i64..50), 0..150),
        input in proptest::collection::vec(0i64..45, 0..60),
        limit in Just(32_766),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            reverse_case(conn, span, stored, children, input, limit).await
        })?;
    }
}

/// Many-to-many and forward prefetch against one hand-written query per row.
#[awaited::both]
fn through_case<B: Backend>(
    mut conn: B,
    tags: std::collections::BTreeSet<i64>,
    pairs: Vec<(i64, i64)>,
    input: Vec<i64>,
    limit: i32,
) -> Result<(), TestCaseError> {
    conn.without_foreign_keys().unwrap();
    common::create_tables(&conn).unwrap();
    let stored: Vec<Tag> = tags
        .iter()
        .map(|&id| Tag {
            id,
            name: format!("t{id}"),
        })
        .collect();
    Tag::insert_all(&conn, &stored).unwrap();
    let links: Vec<ProductTag> = pairs
        .iter()
        .enumerate()
        .map(|(i, &(product, tag))| ProductTag {
            id: (i as i64 * 7919) % 1009,
            product: ForeignKey::new(product),
            tag: ForeignKey::new(tag),
        })
        .collect();
    ProductTag::insert_all(&conn, &links).unwrap();
    conn.set_variable_limit(limit);
    let products: Vec<Product> = input.iter().map(|&id| product(id, 0)).collect();

    // Oracle: the far rows of each product, in tag key order, once per junction row.
    let mut expected: Vec<Vec<Tag>> = Vec::with_capacity(products.len());
    for p in &products {
        expected.push(conn.rows(
            "SELECT t.id, t.name FROM product_tag j JOIN tag t ON t.id = j.tag_id \
             WHERE j.product_id = $1 ORDER BY t.id",
            &[p.id],
        ));
    }
    let (got, n) = count_queries(&mut conn, |c| Product::load_tags(c, &products));
    let distinct = input.iter().collect::<std::collections::HashSet<_>>().len();
    prop_assert!(
        statements_ok::<B>(n, distinct, limit, false),
        "{} statements for {} keys",
        n,
        distinct
    );
    prop_assert_eq!(got.unwrap(), expected);

    // Forward: each junction row's tag, or the error naming the dangling key.
    let links = ProductTag::all(&conn).unwrap();
    let forward = ProductTag::load_tag(&conn, &links);
    let dangling = links.iter().find(|l| !tags.contains(l.tag.key()));
    match (forward, dangling) {
        (Ok(found), None) => {
            for (link, tag) in links.iter().zip(found) {
                prop_assert_eq!(Some(tag), Tag::get(&conn, *link.tag.key()).unwrap());
            }
        }
        (Err(orm_core::Error::MissingParent { table: "tag", .. }), Some(_)) => {}
        (other, dangling) => prop_assert!(
            false,
            "{:?} with dangling {:?}",
            other.map(|v| v.len()),
            dangling
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn many_to_many_and_forward_equal_per_row_queries(
        tags in proptest::collection::btree_set(0i64..60, 0..40),
        // Junction rows, repeats allowed; tags up to 70 dangle.
        pairs in proptest::collection::vec((0i64..30, 0i64..70), 0..120),
        input in proptest::collection::vec(0i64..35, 0..40),
        limit in prop_oneof![Just(32_766), 1i32..6],
    ) {
        through_case(backends::sqlite(), tags, pairs, input, limit)?;
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn many_to_many_and_forward_equal_per_row_queries_on_postgres(
        tags in proptest::collection::btree_set(0i64..60, 0..40),
        pairs in proptest::collection::vec((0i64..30, 0i64..70), 0..120),
        input in proptest::collection::vec(0i64..35, 0..40),
        limit in Just(32_766),
    ) {
        through_case(backends::postgres(), tags, pairs, input, limit)?;
    }
}

#[cfg(feature = "tokio")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn many_to_many_and_forward_equal_per_row_queries_on_async_sqlite(
        tags in proptest::collection::btree_set(0i64..60, 0..40),
        pairs in proptest::collection::vec((0i64..30, 0i64..70), 0..120),
        input in proptest::collection::vec(0i64..35, 0..40),
        limit in prop_oneof![Just(32_766), 1i32..6],
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            through_case(conn, tags, pairs, input, limit).await
        })?;
    }
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn many_to_many_and_forward_equal_per_row_queries_on_async_postgres(
        tags in proptest::collection::btree_set(0i64..60, 0..40),
        pairs in proptest::collection::vec((0i64..30, 0i64..70), 0..120),
        input in proptest::collection::vec(0i64..35, 0..40),
        limit in Just(32_766),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            through_case(conn, tags, pairs, input, limit).await
        })?;
    }
}
