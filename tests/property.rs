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
fn oracle(conn: &impl Backend, parents: &[Parent]) -> Vec<Vec<Child>> {
    parents
        .iter()
        .map(|p| {
            conn.rows(
                "SELECT id, label, parent_id FROM child WHERE parent_id = $1 ORDER BY id",
                &[p.id],
            )
        })
        .collect()
}

/// How many statements a load of `distinct` keys takes: one per `limit`
/// keys on SQLite (or one scan), one array on PostgreSQL.
fn statements_ok<B: Backend>(n: usize, distinct: usize, limit: i32, may_scan: bool) -> bool {
    if B::NAME == "postgres" {
        return n == usize::from(distinct > 0);
    }
    let chunks = distinct.div_ceil(limit as usize);
    n == chunks || (may_scan && n == 1 && chunks > 1)
}

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

/// The same property on the async connections: the same data, prefetched
/// through the async driver, against one raw query per parent (the
/// library's raw path, not its loader).
#[cfg(feature = "tokio")]
mod in_async {
    use std::collections::{BTreeSet, HashSet};

    use orm_core::{count_queries_async, AsyncDb, Raw};

    use super::*;

    /// The tables and rows of a case.
    pub(super) async fn fill<D: AsyncDb>(
        db: &D,
        span: i64,
        stored: BTreeSet<i64>,
        children: Vec<Option<i64>>,
    ) {
        Parent::create_table(db).await.unwrap();
        Child::create_table(db).await.unwrap();
        let stored: BTreeSet<i64> = stored.into_iter().map(|id| id % span).collect();
        let parents_stored: Vec<Parent> = stored.iter().map(|&id| Parent { id }).collect();
        Parent::insert_all(db, &parents_stored).await.unwrap();
        let rows: Vec<Child> = children
            .iter()
            .enumerate()
            .map(|(i, parent)| Child {
                id: (i as i64 * 7919) % 1009,
                label: format!("c{i}"),
                parent: parent.map(ForeignKey::new),
            })
            .collect();
        Child::insert_all(db, &rows).await.unwrap();
    }

    /// Prefetch against the oracle; `limit` is SQLite's variable limit.
    pub(super) async fn check<D: AsyncDb>(
        db: &D,
        input: Vec<i64>,
        limit: Option<i32>,
    ) -> Result<(), TestCaseError> {
        let parents: Vec<Parent> = input.iter().map(|&id| Parent { id }).collect();
        let mut expected = Vec::new();
        for p in &parents {
            let sql = "SELECT id, label, parent_id FROM child WHERE parent_id = ? ORDER BY id";
            expected.push(db.raw(sql, (p.id,)).all::<Child>().await.unwrap());
        }

        let (got, n) = count_queries_async(Parent::prefetch_children(db, parents.clone())).await;
        let got = got.unwrap();
        let distinct = input.iter().collect::<HashSet<_>>().len();
        let ok = match limit {
            // PostgreSQL: one array.
            None => n == usize::from(distinct > 0),
            Some(limit) => {
                let chunks = distinct.div_ceil(limit as usize);
                n == chunks || (n == 1 && chunks > 1)
            }
        };
        prop_assert!(ok, "{} statements for {} keys", n, distinct);
        prop_assert_eq!(
            got.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            parents.clone()
        );
        prop_assert_eq!(
            got.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
            expected.clone()
        );
        prop_assert_eq!(Parent::load_children(db, &parents).await.unwrap(), expected);
        Ok(())
    }

    pub(super) fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }
}

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
        in_async::runtime().block_on(async {
            let lite = orm_core::AsyncSqlite::open_in_memory().await.unwrap();
            // Dangling keys, as data from elsewhere may have.
            lite.call(|c| Ok(c.pragma_update(None, "foreign_keys", false)?)).await.unwrap();
            in_async::fill(&lite, span, stored, children).await;
            lite.call(move |c| {
                c.set_limit(orm_core::rusqlite::limits::Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limit)?;
                Ok(())
            })
            .await
            .unwrap();
            in_async::check(&lite, input, Some(limit)).await
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
    ) {
        in_async::runtime().block_on(async {
            let pg = backends::async_postgres().await;
            // Dangling keys, as data from elsewhere may have: foreign keys
            // are triggers, and replicas do not fire them.
            pg.client().batch_execute("SET session_replication_role = replica").await.unwrap();
            in_async::fill(&pg, span, stored, children).await;
            in_async::check(&pg, input, None).await
        })?;
    }
}

/// Many-to-many and forward prefetch against one hand-written query per row.
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
    let expected: Vec<Vec<Tag>> = products
        .iter()
        .map(|p| {
            conn.rows(
                "SELECT t.id, t.name FROM product_tag j JOIN tag t ON t.id = j.tag_id \
                 WHERE j.product_id = $1 ORDER BY t.id",
                &[p.id],
            )
        })
        .collect();
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
