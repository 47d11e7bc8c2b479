//! What trying to break the library found, each as a test: schema drift,
//! guards under panics and nesting, answers that depended on the plan,
//! colliding index names, lossy reads, collations.

use orm_core::rusqlite::limits::Limit;
use orm_core::rusqlite::Connection;
use orm_core::{count_queries, record_queries, Error, ForeignKey, Model};

type R = orm_core::Result<()>;

mod drift {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Author {
        pub id: i64,
        pub name: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Book {
        pub id: i64,
        pub title: String,
        pub subtitle: Option<String>,
        #[foreign_key(related_name = "books")]
        pub author: ForeignKey<Author>,
    }

    /// Tables made by an older version of the structs.
    fn old_schema(sql: &str) -> orm_core::Result<Connection> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(sql)?;
        Ok(conn)
    }

    fn assert_missing(err: Error, model: &str, table: &str, column: &str) {
        match &err {
            Error::NoSuchColumn {
                model: m,
                table: t,
                column: c,
                ..
            } => assert_eq!((*m, *t, c.as_str()), (model, table, column), "{err}"),
            other => panic!("expected a missing column, got {other:?}"),
        }
        let message = err.to_string();
        for part in [model, table, column] {
            assert!(message.contains(part), "{message}");
        }
    }

    #[test]
    fn a_renamed_column_is_an_error_not_its_own_name() -> R {
        // `name` where the struct now has `title`.
        let conn = old_schema(
            "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE book (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 subtitle TEXT, author_id INTEGER NOT NULL);
             INSERT INTO author VALUES (1, 'Le Guin');
             INSERT INTO book VALUES (1, 'Earthsea', NULL, 1);",
        )?;
        assert_missing(Book::all(&conn).unwrap_err(), "Book", "book", "title");
        assert_missing(Book::get(&conn, 1).unwrap_err(), "Book", "book", "title");
        let author = Author::get(&conn, 1)?.expect("author 1");
        assert_missing(author.books(&conn).unwrap_err(), "Book", "book", "title");
        let err = Author::load_books(&conn, &[author]).unwrap_err();
        assert_missing(err, "Book", "book", "title");
        Ok(())
    }

    #[test]
    fn a_missing_option_column_is_an_error_not_some_name() -> R {
        let conn = old_schema(
            "CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL);
             INSERT INTO book VALUES (1, 'Earthsea', 1);",
        )?;
        assert_missing(Book::all(&conn).unwrap_err(), "Book", "book", "subtitle");
        Ok(())
    }

    #[test]
    fn a_renamed_foreign_key_column_is_an_error_not_empty_lists() -> R {
        let conn = old_schema(
            "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                 subtitle TEXT, writer_id INTEGER NOT NULL);
             INSERT INTO author VALUES (1, 'Le Guin'), (2, 'Banks');
             INSERT INTO book VALUES (1, 'Earthsea', NULL, 1);",
        )?;
        let authors = Author::all(&conn)?;
        assert_missing(
            authors[0].books(&conn).unwrap_err(),
            "Book",
            "book",
            "author_id",
        );
        // Both plans: two keys of two parents scan, one key probes.
        for some in [&authors[..], &authors[..1]] {
            let err = Author::load_books(&conn, some).unwrap_err();
            assert_missing(err, "Book", "book", "author_id");
        }
        assert_missing(
            Author::count_books(&conn, &authors).unwrap_err(),
            "Book",
            "book",
            "author_id",
        );
        Ok(())
    }

    #[test]
    fn a_renamed_primary_key_is_an_error_not_none() -> R {
        let conn = old_schema(
            "CREATE TABLE author (author_key INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO author VALUES (1, 'Le Guin');",
        )?;
        assert_missing(Author::get(&conn, 1).unwrap_err(), "Author", "author", "id");
        Ok(())
    }

    #[test]
    fn a_parent_table_missing_a_column_is_an_error_in_forward_loads() -> R {
        let conn = old_schema(
            "CREATE TABLE author (id INTEGER PRIMARY KEY);
             CREATE TABLE book (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
                 subtitle TEXT, author_id INTEGER NOT NULL);
             INSERT INTO author VALUES (1);
             INSERT INTO book VALUES (1, 'Earthsea', NULL, 1);",
        )?;
        let book = Book::get(&conn, 1)?.expect("book 1");
        assert_missing(book.author(&conn).unwrap_err(), "Author", "author", "name");
        let err = Book::prefetch_author(&conn, vec![book]).unwrap_err();
        assert_missing(err, "Author", "author", "name");
        Ok(())
    }

    #[test]
    fn writes_to_a_missing_column_are_errors_too() -> R {
        let conn = old_schema(
            "CREATE TABLE book (id INTEGER PRIMARY KEY, name TEXT NOT NULL, subtitle TEXT, author_id INTEGER NOT NULL);",
        )?;
        let book = Book {
            id: 1,
            title: "Earthsea".into(),
            subtitle: None,
            author: ForeignKey::new(1),
        };
        let err = book.insert(&conn).unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
        let f = Book::fields();
        let err = Book::query()
            .filter(f.title.eq("x"))
            .delete(&conn)
            .unwrap_err();
        assert_missing(err, "Book", "book", "title");
        Ok(())
    }
}

mod guards {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Note {
        pub id: i64,
    }

    fn notes() -> orm_core::Result<Connection> {
        let conn = Connection::open_in_memory()?;
        Note::create_table(&conn)?;
        Note::insert_all(&conn, &[Note { id: 1 }, Note { id: 2 }])?;
        Ok(conn)
    }

    #[test]
    fn a_panic_inside_count_queries_removes_the_hook() -> R {
        let mut conn = notes()?;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            count_queries(&mut conn, |c| {
                Note::all(c).unwrap();
                panic!("inside the scope");
            })
        }));
        assert!(caught.is_err());
        // The hook is gone: nothing records outside a scope, and a new scope
        // sees only its own statements.
        for _ in 0..3 {
            Note::all(&conn)?;
        }
        let ((), n) = count_queries(&mut conn, |_| ());
        assert_eq!(n, 0);
        let (_, n) = count_queries(&mut conn, |c| Note::all(c));
        assert_eq!(n, 1);
        Ok(())
    }

    #[test]
    fn nested_scopes_each_see_every_statement_inside_them() -> R {
        let mut conn = notes()?;
        let (((_, innermost), inner_sql), outer) = record_queries(&mut conn, |c| {
            Note::all(c).unwrap();
            Note::get(c, 1).unwrap();
            let inner = record_queries(c, |c| {
                Note::all(c).unwrap();
                count_queries(c, |c| Note::get(c, 2).unwrap())
            });
            Note::all(c).unwrap();
            inner
        });
        assert_eq!(outer.len(), 5, "{outer:#?}");
        assert_eq!(inner_sql.len(), 2, "{inner_sql:#?}");
        assert_eq!(innermost, 1);
        // An assertion over an inner scope cannot pass when it should fail.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            orm_core::assert_queries(&mut conn, 1, |c| {
                Note::all(c).unwrap();
                orm_core::assert_queries(c, 1, |c| Note::all(c).unwrap());
            })
        }));
        assert!(caught.is_err());
        Ok(())
    }
}

mod plans {
    use super::*;

    // A bare parent and child, not the shop's: the tests write the child's
    // table by hand, its key column's type being the point.
    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Parent {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Child {
        pub id: i64,
        #[foreign_key(related_name = "children")]
        pub parent: ForeignKey<Parent>,
    }

    #[test]
    fn rows_nobody_asked_for_do_not_change_the_answer() -> R {
        let conn = Connection::open_in_memory()?;
        Parent::create_table(&conn)?;
        Child::create_table(&conn)?;
        Parent::insert_all(&conn, &(1..=10).map(|id| Parent { id }).collect::<Vec<_>>())?;
        for id in 1..=20 {
            Child {
                id,
                parent: ForeignKey::new(id % 10 + 1),
            }
            .insert(&conn)?;
        }
        // One junk row, as data from elsewhere may hold.
        conn.pragma_update(None, "foreign_keys", false)?;
        conn.execute("INSERT INTO child VALUES (99, 'not-a-key')", [])?;
        let parents = Parent::all(&conn)?;
        // Two parents probe the index, all ten scan the table: the same answer.
        let two = Parent::load_children(&conn, &parents[..2])?;
        let all = Parent::load_children(&conn, &parents)?;
        assert_eq!(two[..], all[..2]);
        assert_eq!(all.iter().map(Vec::len).sum::<usize>(), 20);
        Ok(())
    }

    #[test]
    fn a_key_that_sqlite_matches_but_that_does_not_read_is_an_error_on_both_plans() -> R {
        let conn = Connection::open_in_memory()?;
        Parent::create_table(&conn)?;
        conn.execute_batch(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT NOT NULL);
             INSERT INTO child VALUES (1, '1.0');",
        )?;
        Parent::insert_all(&conn, &(1..=3).map(|id| Parent { id }).collect::<Vec<_>>())?;
        let parents = Parent::all(&conn)?;
        // '1.0' in a TEXT column is not the integer 1: neither plan finds it.
        assert_eq!(Parent::load_children(&conn, &parents[..1])?, vec![vec![]]);
        assert_eq!(
            Parent::load_children(&conn, &parents)?,
            vec![vec![], vec![], vec![]]
        );
        Ok(())
    }

    #[test]
    fn an_untyped_key_column_compares_without_conversion_on_both_plans() -> R {
        let conn = Connection::open_in_memory()?;
        Parent::create_table(&conn)?;
        // No declared type: no affinity, so SQLite's `=` converts nothing and
        // the text '1' is not the integer 1.
        conn.execute_batch(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id NOT NULL);
             INSERT INTO child VALUES (1, 1), (2, '1'), (3, 2);",
        )?;
        Parent::insert_all(&conn, &(1..=3).map(|id| Parent { id }).collect::<Vec<_>>())?;
        let parents = Parent::all(&conn)?;
        let ids = |lists: Vec<Vec<Child>>| {
            lists
                .iter()
                .map(|l| l.iter().map(|p| p.id).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        // One parent probes the index, all three scan: the same answer, and
        // the same as SQL's.
        assert_eq!(ids(Parent::load_children(&conn, &parents[..1])?), [vec![1]]);
        assert_eq!(
            ids(Parent::load_children(&conn, &parents)?),
            [vec![1], vec![3], vec![]]
        );
        assert_eq!(Parent::count_children(&conn, &parents)?, [1, 1, 0]);
        let sql: i64 =
            conn.query_row("SELECT count(*) FROM child WHERE parent_id = 1", [], |r| {
                r.get(0)
            })?;
        assert_eq!(sql, 1);
        Ok(())
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "a_b")]
    pub struct Ab {
        pub id: i64,
        #[foreign_key]
        pub c: ForeignKey<Parent>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "a")]
    pub struct A {
        pub id: i64,
        #[foreign_key]
        pub b_c: ForeignKey<Parent>,
    }

    #[test]
    fn every_foreign_key_gets_its_own_index() -> R {
        let conn = Connection::open_in_memory()?;
        Parent::create_table(&conn)?;
        Ab::create_table(&conn)?;
        A::create_table(&conn)?;
        let indexes: Vec<(String, String)> = conn
            .prepare(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY tbl_name",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        assert_eq!(
            indexes,
            [
                ("a_b_c_id_idx1".to_string(), "a".to_string()),
                ("a_b_c_id_idx3".to_string(), "a_b".to_string())
            ]
        );
        A::check_table(&conn)?;
        Ab::check_table(&conn)?;
        Ok(())
    }
}

mod reads {
    use super::*;

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Sensor {
        pub id: i64,
        pub reading: f32,
        pub on: bool,
        pub level: u8,
    }

    fn column_of(err: &Error) -> &'static str {
        match err {
            Error::Column { column, .. } => column,
            other => panic!("expected a column error, got {other:?}"),
        }
    }

    #[test]
    fn values_that_do_not_fit_are_errors_not_lossy() -> R {
        let conn = Connection::open_in_memory()?;
        Sensor::create_table(&conn)?;
        conn.execute("INSERT INTO sensor VALUES (1, 1e300, 1, 7)", [])?;
        conn.execute("INSERT INTO sensor VALUES (2, 0.5, 2, 7)", [])?;
        conn.execute("INSERT INTO sensor VALUES (3, 0.5, 0, 300)", [])?;
        conn.execute("INSERT INTO sensor VALUES (4, 0.25, 1, 255)", [])?;
        assert_eq!(column_of(&Sensor::get(&conn, 1).unwrap_err()), "reading");
        let err = Sensor::get(&conn, 2).unwrap_err();
        assert_eq!(column_of(&err), "on");
        assert!(err.to_string().contains("2 does not fit in bool"), "{err}");
        assert_eq!(column_of(&Sensor::get(&conn, 3).unwrap_err()), "level");
        assert_eq!(
            Sensor::get(&conn, 4)?,
            Some(Sensor {
                id: 4,
                reading: 0.25,
                on: true,
                level: 255
            })
        );
        Ok(())
    }
}

mod collation {
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

    /// Keys compare exactly (bytewise) in every relation function, so on a
    /// `COLLATE NOCASE` key the accessor and the batch functions agree with
    /// each other, whichever plan runs; only filters follow the collation.
    #[test]
    fn keys_compare_exactly_in_every_relation_function() -> R {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE team (code TEXT PRIMARY KEY COLLATE NOCASE NOT NULL);
             CREATE TABLE player (id INTEGER PRIMARY KEY, team_id TEXT COLLATE NOCASE NOT NULL);
             CREATE INDEX player_team ON player (team_id);
             INSERT INTO team VALUES ('Rust'), ('Go'), ('Zig');
             INSERT INTO player VALUES (1, 'rust'), (2, 'Rust'), (3, 'GO');",
        )?;
        let teams = Team::all(&conn)?;
        let rust = teams
            .iter()
            .find(|t| t.code == "Rust")
            .cloned()
            .expect("Rust");
        let ids = |players: &[Player]| players.iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(&rust.players(&conn)?), [2]);
        assert_eq!(
            ids(&Team::load_players(&conn, std::slice::from_ref(&rust))?[0]),
            [2]
        );
        // All three teams: the scan plan, the same answer.
        let all = Team::load_players(&conn, &teams)?;
        assert_eq!(
            all.iter().map(|p| ids(p)).collect::<Vec<_>>(),
            [vec![], vec![2], vec![]]
        );
        assert_eq!(Team::count_players(&conn, &teams)?, [0, 1, 0]);
        // A window partitions by exact key too: with a binary parent key,
        // 'Rust' and 'rust' are two teams, even to a NOCASE child column.
        conn.execute_batch(
            "DROP TABLE team; CREATE TABLE team (code TEXT PRIMARY KEY NOT NULL);
             INSERT INTO team VALUES ('Rust'), ('rust'), ('Go');
             INSERT INTO player VALUES (4, 'rust');",
        )?;
        let teams = Team::all(&conn)?;
        let whole = Team::load_players(&conn, &teams)?;
        assert_eq!(
            whole.iter().map(|p| ids(p)).collect::<Vec<_>>(),
            [vec![], vec![2], vec![1, 4]]
        );
        let capped = Team::load_players_with(&conn, &teams, Player::query().limit(2))?;
        assert_eq!(capped, whole);
        assert_eq!(
            Team::count_players_with(&conn, &teams, Player::query().limit(2))?,
            whole.iter().map(|p| p.len() as u64).collect::<Vec<_>>()
        );
        assert_eq!(
            Team::count_players_with(&conn, &teams, Player::query().limit(1))?,
            [0, 1, 1]
        );
        // Forward: 'GO' has no team spelled that way, in the accessor and the batch.
        let lower = Player::get(&conn, 3)?.expect("player 3");
        assert!(matches!(
            lower.team(&conn),
            Err(Error::MissingParent { .. })
        ));
        assert!(matches!(
            Player::load_team(&conn, &[lower]),
            Err(Error::MissingParent { .. })
        ));
        // A filter is SQL, and follows the column's collation.
        let f = Player::fields();
        let (rows, n) = count_queries(&mut conn, |c| {
            Player::query()
                .filter(f.team.eq(ForeignKey::new("RUST".to_string())))
                .all(c)
        });
        assert_eq!(ids(&rows?), [1, 2, 4]);
        assert_eq!(n, 1);
        Ok(())
    }
}

#[test]
fn the_variable_limit_is_read_per_call_for_queries_too() -> R {
    #[derive(Model, Debug, Clone, PartialEq)]
    struct Row {
        id: i64,
    }
    let mut conn = Connection::open_in_memory()?;
    Row::create_table(&conn)?;
    Row::insert_all(&conn, &(1..=100).map(|id| Row { id }).collect::<Vec<_>>())?;
    let f = Row::fields();
    for limit in [1, 3, 32_766] {
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limit)?;
        let (rows, n) = count_queries(&mut conn, |c| {
            Row::query().filter(f.id.is_in(1..=50)).all(c)
        });
        assert_eq!((rows?.len(), n), (50, 1), "limit {limit}");
    }
    Ok(())
}

mod panics {
    use super::*;
    use orm_core::{ColumnType, SqlType, Value, ValueError};

    /// A user's column type whose decoder panics on one value.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Fragile(i64);

    impl SqlType for Fragile {
        const COLUMN_TYPE: ColumnType = ColumnType::BigInt;
        fn to_value(&self) -> Value<'_> {
            Value::Integer(self.0)
        }
        fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
            let n = i64::from_value(value)?;
            assert!(n != 13, "unlucky");
            Ok(Fragile(n))
        }
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Shelf {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Book {
        pub id: i64,
        pub weight: Fragile,
        #[foreign_key(related_name = "books")]
        pub shelf: ForeignKey<Shelf>,
    }

    /// A load of several statements runs in a read transaction; a panic in
    /// the middle must end it, or every later write on the connection would
    /// sit in a transaction nobody commits.
    #[test]
    fn a_panic_inside_a_multi_statement_load_ends_its_transaction() -> R {
        let dir = std::env::temp_dir().join(format!("orm-panic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("shelves.db");
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path)?;
        Shelf::create_table(&conn)?;
        Book::create_table(&conn)?;
        Shelf::insert_all(&conn, &(1..=40).map(|id| Shelf { id }).collect::<Vec<_>>())?;
        let books: Vec<Book> = (1..=40)
            .map(|id| Book {
                id,
                weight: Fragile(id),
                shelf: ForeignKey::new(id),
            })
            .collect();
        Book::insert_all(&conn, &books)?;
        conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 4)?;
        let shelves: Vec<Shelf> = (1..=20).map(|id| Shelf { id }).collect();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Shelf::load_books(&conn, &shelves)
        }));
        assert!(panicked.is_err());
        assert!(conn.is_autocommit(), "the read transaction is still open");
        // A write after it is committed: another connection sees it.
        Shelf { id: 100 }.insert(&conn)?;
        let other = Connection::open(&path)?;
        assert!(Shelf::get(&other, 100)?.is_some());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
