//! The semantics of reverse prefetch, each asserted on results and on the
//! number of statements run.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::*;
use orm_core::rusqlite::limits::Limit;
use orm_core::rusqlite::Connection;
use orm_core::{count_queries, record_queries, Error, ForeignKey, Model};

type R = orm_core::Result<()>;

fn ids(products: &[Product]) -> Vec<i64> {
    products.iter().map(|p| p.id).collect()
}

fn backend<B: backends::Named>(_: &B) -> &'static str {
    B::NAME
}

on_each_backend! {
    fn one_query_per_relation_and_none_for_empty_input(conn) -> R {
        fill(&conn, 20)?;
        let cats = Category::all(&conn)?;
        let (pairs, n) = count_queries(&mut conn, |c| Category::prefetch_products(c, cats));
        let pairs = pairs?;
        assert_eq!(n, 1);
        assert_eq!(pairs.len(), 20);
        let total: usize = pairs.iter().map(|(_, p)| p.len()).sum();
        assert_eq!(total, (1..=20).map(|c| c % 4).sum::<i64>() as usize);

        let (empty, n) = count_queries(&mut conn, |c| Category::prefetch_products(c, Vec::new()));
        assert!(empty?.is_empty());
        assert_eq!(n, 0);
        Ok(())
    }

    fn a_large_scan_gives_each_parent_its_children_in_order(conn) -> R {
        // Enough rows that most wait and move into their parents once all are
        // in; inserted with descending ids, spread over the parents.
        fill(&conn, 300)?;
        let rows: Vec<Product> = (0..3000).map(|i| product(30_000 - i, i * 7 % 300 + 1)).collect();
        Product::insert_all(&conn, &rows)?;
        // Every parent, one of them twice, and one not in the table.
        let mut input: Vec<Category> = (1..=300).map(category).collect();
        input.insert(10, category(5));
        input.push(category(999));
        let (pairs, n) = count_queries(&mut conn, |c| Category::prefetch_products(c, input.clone()));
        assert_eq!(n, 1);
        let pairs = pairs?;
        assert_eq!(pairs.len(), input.len());
        for ((cat, products), asked) in pairs.iter().zip(&input) {
            assert_eq!(cat, asked);
            assert_eq!(products, &cat.products(&conn)?, "category {}", cat.id);
        }
        Ok(())
    }

    fn input_order_duplicates_and_childless_parents(conn) -> R {
        fill(&conn, 8)?;
        // 4 and 8 have no products; 3 is given twice; 99 is not in the table.
        let input: Vec<Category> = [3, 4, 1, 3, 99, 2, 8].into_iter().map(category).collect();
        let (pairs, n) = count_queries(&mut conn, |c| Category::prefetch_products(c, input.clone()));
        let pairs = pairs?;
        assert_eq!(n, 1);
        let got: Vec<(i64, Vec<i64>)> = pairs.iter().map(|(c, p)| (c.id, ids(p))).collect();
        // Products were inserted with descending ids; each list is in ascending key order.
        let three = {
            let mut v = ids(&Product::all(&conn)?
                .into_iter()
                .filter(|p| *p.category.key() == 3)
                .collect::<Vec<_>>());
            v.sort();
            v
        };
        assert_eq!(three.len(), 3);
        assert_eq!(
            got,
            vec![
                (3, three.clone()),
                (4, vec![]),
                (1, ids(&Category::get(&conn, 1)?.unwrap().products(&conn)?)),
                (3, three),
                (99, vec![]),
                (2, ids(&category(2).products(&conn)?)),
                (8, vec![]),
            ]
        );
        // The parents are the ones given, moved through unchanged.
        assert_eq!(pairs.into_iter().map(|(c, _)| c).collect::<Vec<_>>(), input);
        Ok(())
    }

    fn parent_accessor_runs_one_query(conn) -> R {
        fill(&conn, 5)?;
        let cat = Category::get(&conn, 3)?.expect("category 3");
        let (products, n) = count_queries(&mut conn, |c| cat.products(c));
        let products = products?;
        assert_eq!(n, 1);
        assert_eq!(products.len(), 3);
        assert!(products.windows(2).all(|w| w[0].id < w[1].id));
        assert!(products.iter().all(|p| p.category == ForeignKey::to(&cat)));
        Ok(())
    }

    fn basic_operations(conn) -> R {
        fill(&conn, 3)?;
        assert_eq!(
            Category::all(&conn)?,
            vec![category(1), category(2), category(3)]
        );
        assert_eq!(Category::get(&conn, 2)?, Some(category(2)));
        assert_eq!(Category::get(&conn, 42)?, None);
        // create_table is idempotent.
        Category::create_table(&conn)?;
        Product::create_table(&conn)?;
        // A duplicate key is a unique violation that names the model, table and key.
        let err = category(1).insert(&conn).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::UniqueViolation {
                    model: "Category",
                    table: "categories",
                    columns,
                    ..
                } if columns[..] == ["id"]
            ),
            "{err}"
        );
        Ok(())
    }

    fn a_missing_table_is_an_error(conn) -> R {
        Category::create_table(&conn)?;
        let err = Category::prefetch_products(&conn, vec![category(1)]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Query {
                    table: "product",
                    ..
                }
            ),
            "{err}"
        );
        let says = if backend(&conn) == "sqlite" { "no such table" } else { "does not exist" };
        assert!(err.to_string().contains(says), "{err}");
        Ok(())
    }
}

#[test]
fn sqlite_schema_is_declared_as_the_model_says() -> R {
    let conn = shop(3)?;
    let schema: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE name = 'product'",
        [],
        |r| r.get(0),
    )?;
    assert!(
        schema.contains("\"id\" INTEGER PRIMARY KEY NOT NULL"),
        "{schema}"
    );
    assert!(schema.contains("\"note\" TEXT,"), "{schema}");
    assert!(schema.contains("\"price\" REAL NOT NULL"), "{schema}");
    assert!(
        schema.contains("\"category_id\" INTEGER NOT NULL REFERENCES \"categories\" (\"id\")"),
        "{schema}"
    );
    let index: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'product' \
         AND sql LIKE '%(\"category_id\")%'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(index, 1);
    Ok(())
}

#[test]
fn keys_are_deduplicated_before_binding() -> R {
    // Seven keys, three distinct: at a limit of three variables, one statement
    // binds them all, so each was bound once.
    let mut conn = shop(60)?;
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 3)?;
    let input: Vec<Category> = [1, 2, 1, 2, 3, 3, 3].into_iter().map(category).collect();
    let (pairs, sql) = record_queries(&mut conn, |c| Category::prefetch_products(c, input));
    assert_eq!(pairs?.len(), 7);
    assert_eq!(sql.len(), 1);
    assert!(in_list_len(&sql[0]) <= 3, "{}", sql[0]);
    Ok(())
}

#[test]
fn calls_with_similar_key_counts_share_one_statement() -> R {
    let mut conn = shop(1000)?;
    // The first call measures the parent table; from then on, calls whose keys
    // are few for it take the plain IN list.
    Category::load_products(&conn, &(1..=20).map(category).collect::<Vec<_>>())?;
    let (_, sql) = record_queries(&mut conn, |c| -> R {
        for n in [20, 21, 30, 32] {
            Category::load_products(c, &(1..=n).map(category).collect::<Vec<_>>())?;
        }
        Ok(())
    });
    assert_eq!(sql.len(), 4);
    assert!(sql.iter().all(|s| s == &sql[0]), "{sql:#?}");
    assert_eq!(in_list_len(&sql[0]), 32);
    Ok(())
}

#[test]
fn the_runtime_variable_limit_is_respected_and_read_on_every_call() -> R {
    let mut conn = shop(100)?;
    let cats = Category::all(&conn)?;
    let expected = Category::prefetch_products(&conn, cats.clone())?;

    for (limit, queries) in [(10, 10), (7, 15), (1, 100), (100, 1), (1000, 1)] {
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limit)?;
        let (got, sql) =
            record_queries(&mut conn, |c| Category::prefetch_products(c, cats.clone()));
        assert_eq!(got?, expected, "limit {limit}");
        assert_eq!(sql.len(), queries, "limit {limit}");
        // Every chunk has the same text, so one cached statement serves them all.
        assert!(sql.iter().all(|s| s == &sql[0]));
        assert!(sql[0].matches('?').count() <= limit as usize);
    }
    Ok(())
}

#[test]
fn few_keys_probe_the_index_and_many_keys_scan_the_table() -> R {
    // 81 keys at a limit of 10 take 9 IN lists, or one full scan of `product`.
    let keys: Vec<Category> = (1..=81).map(category).collect();
    let expected = |conn: &Connection| Category::prefetch_products(conn, keys.clone());

    // 81 of 1000 categories: under a tenth of the table, so the index is probed.
    let mut big = shop(1000)?;
    let want = expected(&big)?;
    big.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 10)?;
    let (got, n) = count_queries(&mut big, |c| Category::prefetch_products(c, keys.clone()));
    assert_eq!((got?, n), (want, 9));

    // 81 of 100 categories: a single scan, filtered and grouped in Rust.
    let mut small = shop(100)?;
    let want = expected(&small)?;
    small.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 10)?;
    let (got, n) = count_queries(&mut small, |c| Category::prefetch_products(c, keys.clone()));
    assert_eq!((got?, n), (want, 1));
    Ok(())
}

#[test]
fn a_scan_passes_over_bad_rows_of_parents_not_asked_for() -> R {
    // Category 8 has one product, whose price is text. Categories 1 to 7 (of
    // 8) scan the table, decoding each row first while nearly all are wanted:
    // that row is none of their business, as it is no index probe's.
    let conn = shop(8)?;
    conn.execute(
        "INSERT INTO product (id, name, price, category_id) VALUES (500, 'bad', 'free', 8)",
        [],
    )?;
    let asked: Vec<Category> = (1..=7).map(category).collect();
    let got = Category::load_products(&conn, &asked)?;
    let one_by_one = asked
        .iter()
        .map(|c| c.products(&conn))
        .collect::<orm_core::Result<Vec<_>>>()?;
    assert_eq!(got, one_by_one);
    // Asked for, the row is an error, on either plan.
    for asked in [vec![category(8)], (1..=8).map(category).collect()] {
        let err = Category::load_products(&conn, &asked).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Column {
                    column: "price",
                    ..
                }
            ),
            "{err}"
        );
    }
    Ok(())
}

#[test]
fn works_inside_a_transaction() -> R {
    let mut conn = shop(4)?;
    let tx = conn.transaction()?;
    product(1, 4).insert(&tx)?;
    let pairs = Category::prefetch_products(&tx, vec![category(4)])?;
    assert_eq!(ids(&pairs[0].1), vec![1]);
    tx.rollback()?;
    assert!(category(4).products(&conn)?.is_empty());
    Ok(())
}

mod text_keys {
    use super::*;

    /// Keyed by its text, unlike the shop's `Tag` it shadows here.
    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Tag {
        #[primary_key]
        pub slug: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Note {
        pub id: i64,
        #[foreign_key(related_name = "notes")]
        pub tag: ForeignKey<Tag>,
    }

    on_each_backend! {
        fn text_primary_keys(conn) -> R {
            Tag::create_table(&conn)?;
            Note::create_table(&conn)?;
            for slug in ["rust", "sql", "1"] {
                Tag { slug: slug.into() }.insert(&conn)?;
            }
            for (id, tag) in [(3, "rust"), (1, "sql"), (2, "rust"), (4, "1")] {
                Note {
                    id,
                    tag: ForeignKey::new(tag.to_string()),
                }
                .insert(&conn)?;
            }
            let tags = Tag::all(&conn)?;
            assert_eq!(tags[0].slug, "1");
            let (pairs, n) = count_queries(&mut conn, |c| Tag::prefetch_notes(c, tags));
            assert_eq!(n, 1);
            let got: Vec<(String, Vec<i64>)> = pairs?
                .into_iter()
                .map(|(t, notes)| (t.slug, notes.iter().map(|n| n.id).collect()))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("1".into(), vec![4]),
                    ("rust".into(), vec![2, 3]),
                    ("sql".into(), vec![1])
                ]
            );
            let rust = Tag::get(&conn, "rust".to_string())?.expect("rust");
            assert_eq!(rust.notes(&conn)?.len(), 2);
            Ok(())
        }
    }
}

mod text_child_keys {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Shelf {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Item {
        #[primary_key]
        pub code: String,
        #[foreign_key(related_name = "items")]
        pub shelf: ForeignKey<Shelf>,
    }

    on_each_backend! {
        fn children_in_key_order_when_rows_arrive_out_of_it(conn) -> R {
            Shelf::create_table(&conn)?;
            Item::create_table(&conn)?;
            let shelves: Vec<Shelf> = (1..=20).map(|id| Shelf { id }).collect();
            Shelf::insert_all(&conn, &shelves)?;
            // Rowid order (insertion) is not key order; "Z" sorts before "a" bytewise.
            for code in ["m", "b", "Z", "a", "é", "c"] {
                Item {
                    code: code.into(),
                    shelf: ForeignKey::new(1),
                }
                .insert(&conn)?;
            }
            let codes = |items: &[Item]| items.iter().map(|i| i.code.clone()).collect::<Vec<_>>();
            let want = ["Z", "a", "b", "c", "m", "é"];
            // One shelf of twenty: the index is probed. Twenty of twenty: a scan.
            assert_eq!(codes(&Shelf::load_items(&conn, &shelves[..1])?[0]), want);
            assert_eq!(codes(&Shelf::load_items(&conn, &shelves)?[0]), want);
            assert_eq!(codes(&shelves[0].items(&conn)?), want);
            Ok(())
        }
    }
}

mod self_reference {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Employee {
        pub id: i64,
        pub name: String,
        #[foreign_key(related_name = "reports")]
        pub manager: Option<ForeignKey<Employee>>,
    }

    on_each_backend! {
        fn self_referential_foreign_keys(conn) -> R {
            Employee::create_table(&conn)?;
            let boss = |id| Some(ForeignKey::new(id));
            for (id, name, manager) in [
                (1, "ceo", None),
                (2, "cto", boss(1)),
                (3, "dev", boss(2)),
                (4, "ops", boss(2)),
            ] {
                Employee {
                    id,
                    name: name.into(),
                    manager,
                }
                .insert(&conn)?;
            }
            let all = Employee::all(&conn)?;
            let (pairs, n) = count_queries(&mut conn, |c| Employee::prefetch_reports(c, all));
            assert_eq!(n, 1);
            let got: Vec<(i64, Vec<i64>)> = pairs?
                .into_iter()
                .map(|(e, r)| (e.id, r.iter().map(|e| e.id).collect()))
                .collect();
            assert_eq!(
                got,
                vec![(1, vec![2]), (2, vec![3, 4]), (3, vec![]), (4, vec![])]
            );
            Ok(())
        }
    }
}

mod two_keys_to_one_parent {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct User {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Message {
        pub id: i64,
        #[foreign_key(related_name = "sent")]
        pub sender: ForeignKey<User>,
        #[foreign_key(related_name = "received")]
        pub recipient: ForeignKey<User>,
    }

    on_each_backend! {
        fn two_foreign_keys_with_different_names(conn) -> R {
            User::create_table(&conn)?;
            Message::create_table(&conn)?;
            User::insert_all(&conn, &[User { id: 1 }, User { id: 2 }])?;
            for (id, from, to) in [(1, 1, 2), (2, 2, 1), (3, 1, 2), (4, 1, 1)] {
                Message {
                    id,
                    sender: ForeignKey::new(from),
                    recipient: ForeignKey::new(to),
                }
                .insert(&conn)?;
            }
            let users = User::all(&conn)?;
            let ((sent, received), n) = count_queries(&mut conn, |c| {
                (User::load_sent(c, &users), User::load_received(c, &users))
            });
            assert_eq!(n, 2);
            let ids = |v: Vec<Vec<Message>>| -> Vec<Vec<i64>> {
                v.iter().map(|m| m.iter().map(|m| m.id).collect()).collect()
            };
            assert_eq!(ids(sent?), vec![vec![1, 3, 4], vec![2]]);
            assert_eq!(ids(received?), vec![vec![2, 4], vec![1, 3]]);
            Ok(())
        }
    }
}

mod nullable_and_dangling {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Folder {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct File {
        pub id: i64,
        #[foreign_key]
        pub folder: Option<ForeignKey<Folder>>,
    }

    on_each_backend! {
        fn null_and_dangling_keys_are_ignored(conn) -> R {
            Folder::create_table(&conn)?;
            File::create_table(&conn)?;
            Folder { id: 1 }.insert(&conn)?;
            // Bundled SQLite enforces foreign keys; data from elsewhere may not have.
            conn.without_foreign_keys()?;
            for (id, folder) in [(1, Some(1)), (2, None), (3, Some(7)), (4, Some(1))] {
                File {
                    id,
                    folder: folder.map(ForeignKey::new),
                }
                .insert(&conn)?;
            }
            let (pairs, n) = count_queries(&mut conn, |c| {
                Folder::prefetch_file_set(c, vec![Folder { id: 1 }])
            });
            assert_eq!(n, 1);
            let files: Vec<i64> = pairs?[0].1.iter().map(|f| f.id).collect();
            assert_eq!(files, vec![1, 4]);
            Ok(())
        }
    }
}

mod keywords {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "order")]
    pub struct Order {
        pub id: i64,
        pub group: String,
        pub select: i64,
        pub from: Option<String>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "where")]
    pub struct Line {
        pub id: i64,
        #[foreign_key(related_name = "lines")]
        pub r#order: ForeignKey<Order>,
    }

    on_each_backend! {
        fn sql_keywords_as_names_are_quoted(conn) -> R {
            Order::create_table(&conn)?;
            Line::create_table(&conn)?;
            let order = Order {
                id: 1,
                group: "a\"b'c".into(),
                select: 2,
                from: None,
            };
            order.insert(&conn)?;
            Line {
                id: 1,
                order: ForeignKey::new(1),
            }
            .insert(&conn)?;
            assert_eq!(Order::get(&conn, 1)?.as_ref(), Some(&order));
            let pairs = Order::prefetch_lines(&conn, Order::all(&conn)?)?;
            assert_eq!(pairs[0].1.len(), 1);
            Ok(())
        }
    }
}

#[test]
fn values_that_do_not_fit_their_field_are_errors_naming_the_column() -> R {
    let conn = shop(2)?;
    conn.execute(
        "UPDATE product SET price = 'cheap' WHERE category_id = 1",
        [],
    )?;
    let err = Category::prefetch_products(&conn, vec![category(1)]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Column {
                model: "Product",
                column: "price",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`price`"), "{err}");
    assert!(err.to_string().contains("Product"), "{err}");

    conn.execute("UPDATE categories SET name = NULL WHERE id = 2", [])
        .expect_err("NOT NULL is enforced by the schema");
    Ok(())
}

mod across_modules {
    pub mod catalog {
        #[derive(orm_core::Model, Debug)]
        pub struct Author {
            pub id: i64,
        }
    }
    pub mod library {
        use orm_core::ForeignKey;
        #[derive(orm_core::Model, Debug)]
        pub struct Book {
            pub id: i64,
            #[foreign_key]
            pub author: ForeignKey<super::catalog::Author>,
        }
    }

    use super::R;

    on_each_backend! {
        fn parent_and_child_in_different_modules(conn) -> R {
            use orm_core::Model;
            catalog::Author::create_table(&conn)?;
            library::Book::create_table(&conn)?;
            catalog::Author { id: 1 }.insert(&conn)?;
            library::Book {
                id: 5,
                author: orm_core::ForeignKey::new(1),
            }
            .insert(&conn)?;
            let pairs = catalog::Author::prefetch_book_set(&conn, catalog::Author::all(&conn)?)?;
            assert_eq!(pairs[0].1[0].id, 5);
            Ok(())
        }
    }
}

/// A model that derives nothing else: `ForeignKey<Bare>` still has every trait.
#[derive(Model)]
pub struct Bare {
    pub id: i64,
}

#[test]
fn foreign_key_is_typed_and_copy_when_the_key_is() {
    fn assert_copy<T: Copy + Clone + Eq + std::hash::Hash + std::fmt::Debug>() {}
    fn assert_clone<T: Clone + Eq + std::hash::Hash + std::fmt::Debug>() {}
    assert_copy::<ForeignKey<Category>>();
    assert_copy::<ForeignKey<Bare>>();
    assert_clone::<ForeignKey<text_keys::Tag>>();
    let fk: ForeignKey<Category> = ForeignKey::new(3);
    assert_eq!(format!("{fk:?}"), "ForeignKey<Category>(3)");
    assert_eq!(fk.into_key(), 3);
}

mod without_rowid {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Country {
        #[primary_key]
        pub code: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct City {
        pub id: i64,
        #[foreign_key(related_name = "cities")]
        pub country: ForeignKey<Country>,
    }

    #[test]
    fn tables_without_rowid_fall_back_to_the_in_list() -> R {
        let mut conn = Connection::open_in_memory()?;
        // Tables made by hand, as an existing schema may be.
        conn.execute_batch(
            "CREATE TABLE country (code TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
             CREATE TABLE city (id INTEGER PRIMARY KEY NOT NULL, country_id TEXT NOT NULL);
             INSERT INTO country VALUES ('fr'), ('jp');
             INSERT INTO city VALUES (1, 'jp'), (2, 'fr'), (3, 'jp');",
        )?;
        let countries = Country::all(&conn)?;
        let (pairs, n) = count_queries(&mut conn, |c| Country::prefetch_cities(c, countries));
        assert_eq!(n, 1);
        let got: Vec<(String, Vec<i64>)> = pairs?
            .into_iter()
            .map(|(c, cities)| (c.code, cities.iter().map(|c| c.id).collect()))
            .collect();
        assert_eq!(got, vec![("fr".into(), vec![2]), ("jp".into(), vec![1, 3])]);
        Ok(())
    }
}

mod mismatched_schema {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Team {
        #[primary_key]
        pub code: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Player {
        pub id: i64,
        #[foreign_key(related_name = "players")]
        pub team: ForeignKey<Team>,
    }

    #[test]
    fn a_key_column_of_the_wrong_type_is_an_error_on_either_plan() -> R {
        let conn = Connection::open_in_memory()?;
        // Made by hand: the model says TEXT keys, the table stores integers.
        conn.execute_batch(
            "CREATE TABLE team (code TEXT PRIMARY KEY NOT NULL);
             CREATE TABLE player (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL);
             INSERT INTO team VALUES ('1'), ('2'), ('3'), ('4'), ('5'), ('6');
             INSERT INTO player VALUES (1, 1), (2, 2);",
        )?;
        let teams = Team::all(&conn)?;
        // One team of six probes the index; all six scan the table.
        for input in [&teams[..1], &teams[..]] {
            let err = Team::load_players(&conn, input).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Column {
                        model: "Player",
                        column: "team_id",
                        ..
                    }
                ),
                "{err}"
            );
        }
        Ok(())
    }
}
