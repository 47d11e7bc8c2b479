//! Prefetch against a naive oracle: one hand-written query per parent.

use orm_core::rusqlite::limits::Limit;
use orm_core::rusqlite::{params, Connection};
use orm_core::{count_queries, ForeignKey, Model};
use proptest::prelude::*;

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
fn oracle(conn: &Connection, parents: &[Parent]) -> Vec<Vec<Child>> {
    let mut stmt = conn
        .prepare("SELECT id, label, parent_id FROM child WHERE parent_id = ?1 ORDER BY id")
        .unwrap();
    parents
        .iter()
        .map(|p| {
            stmt.query_map(params![p.id], |r| {
                Ok(Child {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    parent: r.get::<_, Option<i64>>(2)?.map(ForeignKey::new),
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn prefetch_equals_one_query_per_parent(
        // Up to 400 parents, so that the keys sometimes cover under a tenth of
        // them (the index is probed) and sometimes more (the table is scanned).
        stored in proptest::collection::btree_set(0i64..400, 0..300),
        // Keys up to 50 dangle; None is NULL.
        children in proptest::collection::vec(proptest::option::of(0i64..50), 0..150),
        input in proptest::collection::vec(0i64..45, 0..60),
        limit in prop_oneof![Just(32_766), 1i32..8],
    ) {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        Parent::create_table(&conn).unwrap();
        Child::create_table(&conn).unwrap();
        for &id in &stored {
            Parent { id }.insert(&conn).unwrap();
        }
        // Ids in a scrambled order, so that key order differs from insertion order.
        for (i, parent) in children.iter().enumerate() {
            let id = (i as i64 * 7919) % 1_000_003;
            Child { id, label: format!("c{i}"), parent: parent.map(ForeignKey::new) }
                .insert(&conn)
                .unwrap();
        }
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limit).unwrap();
        let parents: Vec<Parent> = input.iter().map(|&id| Parent { id }).collect();
        let expected = oracle(&conn, &parents);

        let (got, n) = count_queries(&mut conn, |c| Parent::prefetch_children(c, parents.clone()));
        let got = got.unwrap();
        let distinct = input.iter().collect::<std::collections::HashSet<_>>().len();
        // One IN list per `limit` keys, or a single scan when the keys are many.
        let chunks = distinct.div_ceil(limit as usize);
        prop_assert!(n == chunks || (n == 1 && chunks > 1), "{} statements for {} chunks", n, chunks);
        prop_assert_eq!(got.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(), parents.clone());
        prop_assert_eq!(got.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), expected.clone());
        prop_assert_eq!(Parent::load_children(&conn, &parents).unwrap(), expected);
    }
}
