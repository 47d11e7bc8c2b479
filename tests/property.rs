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
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        Parent::create_table(&conn).unwrap();
        Child::create_table(&conn).unwrap();
        let stored: std::collections::BTreeSet<i64> = stored.into_iter().map(|id| id % span).collect();
        for &id in &stored {
            Parent { id }.insert(&conn).unwrap();
        }
        // Ids in a scrambled order (a permutation modulo the prime 1009), so
        // that key order differs from insertion order.
        for (i, parent) in children.iter().enumerate() {
            let id = (i as i64 * 7919) % 1009;
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Many-to-many and forward prefetch against one hand-written query per row.
    #[test]
    fn many_to_many_and_forward_equal_per_row_queries(
        tags in proptest::collection::btree_set(0i64..60, 0..40),
        // Junction rows, repeats allowed; tags up to 70 dangle.
        pairs in proptest::collection::vec((0i64..30, 0i64..70), 0..120),
        input in proptest::collection::vec(0i64..35, 0..40),
        limit in prop_oneof![Just(32_766), 1i32..6],
    ) {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        Post::create_table(&conn).unwrap();
        Tag::create_table(&conn).unwrap();
        PostTag::create_table(&conn).unwrap();
        for &id in &tags {
            Tag { id, name: format!("t{id}") }.insert(&conn).unwrap();
        }
        for (i, &(post, tag)) in pairs.iter().enumerate() {
            let id = (i as i64 * 7919) % 1009;
            PostTag { id, post: ForeignKey::new(post), tag: ForeignKey::new(tag) }.insert(&conn).unwrap();
        }
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limit).unwrap();
        let posts: Vec<Post> = input.iter().map(|&id| Post { id }).collect();

        // Oracle: the far rows of each post, in tag key order, once per junction row.
        let expected: Vec<Vec<Tag>> = {
            let mut stmt = conn.prepare(
                "SELECT t.id, t.name FROM post_tag j JOIN tag t ON t.id = j.tag_id \
                 WHERE j.post_id = ?1 ORDER BY t.id",
            ).unwrap();
            posts.iter().map(|p| {
                stmt.query_map(params![p.id], |r| Ok(Tag { id: r.get(0)?, name: r.get(1)? }))
                    .unwrap().collect::<Result<_, _>>().unwrap()
            }).collect()
        };
        let (got, n) = count_queries(&mut conn, |c| Post::load_tags(c, &posts));
        let distinct = input.iter().collect::<std::collections::HashSet<_>>().len();
        prop_assert_eq!(n, distinct.div_ceil(limit as usize));
        prop_assert_eq!(got.unwrap(), expected);

        // Forward: each junction row's tag, or the error naming the dangling key.
        let links = PostTag::all(&conn).unwrap();
        let forward = PostTag::load_tag(&conn, &links);
        let dangling = links.iter().find(|l| !tags.contains(l.tag.key()));
        match (forward, dangling) {
            (Ok(found), None) => {
                for (link, tag) in links.iter().zip(found) {
                    prop_assert_eq!(Some(tag), Tag::get(&conn, *link.tag.key()).unwrap());
                }
            }
            (Err(orm_core::Error::MissingParent { table: "tag", .. }), Some(_)) => {}
            (other, dangling) => prop_assert!(false, "{:?} with dangling {:?}", other.map(|v| v.len()), dangling),
        }
    }
}
