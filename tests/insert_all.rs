//! `insert_all`: all rows or none, in as few statements as the backend
//! allows, keys in input order, on every backend.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::Ticket;
use orm_core::{count_queries, record_queries, Error, Model};

type R = orm_core::Result<()>;

/// Three columns, not the shop's seven: the statement counts below are
/// rows per chunk of bound variables.
#[derive(Model, Debug, Clone, PartialEq)]
struct Item {
    id: i64,
    name: String,
    price: f64,
}

/// A model whose only column is its automatic key.
#[derive(Model, Debug, Clone, PartialEq)]
struct Counter {
    #[primary_key(auto)]
    id: i64,
}

fn items(ids: impl IntoIterator<Item = i64>) -> Vec<Item> {
    ids.into_iter()
        .map(|id| Item {
            id,
            name: format!("item {id}"),
            price: id as f64 / 4.0,
        })
        .collect()
}

fn tickets(n: usize) -> Vec<Ticket> {
    (0..n)
        .map(|i| Ticket {
            id: 0,
            title: format!("ticket {i}"),
        })
        .collect()
}

/// Statements of `n` rows of three columns on SQLite at its default limit:
/// chunks of 64 rows, the rest as powers of two.
fn sqlite_statements(n: usize) -> usize {
    n / 64 + (n % 64).count_ones() as usize
}

on_each_backend! {
    fn rows_go_in_few_statements_and_read_back(conn) -> R {
        Item::create_table(&conn)?;
        let rows = items(1..=1_000);
        let (keys, n) = count_queries(&mut conn, |c| Item::insert_all(c, &rows));
        assert_eq!(keys?, (1..=1_000).collect::<Vec<_>>());
        let expected = match conn_name(&conn) {
            "sqlite" => sqlite_statements(1_000),
            _ => 1,
        };
        assert_eq!(n, expected);
        assert_eq!(Item::all(&conn)?, rows);
        // One row is one statement; none is none.
        let (_, n) = count_queries(&mut conn, |c| Item::insert_all(c, &items([5_000])));
        assert_eq!(n, 1);
        let (keys, n) = count_queries(&mut conn, |c| Item::insert_all(c, &[]));
        assert_eq!((keys?.len(), n), (0, 0));
        Ok(())
    }

    fn statement_texts_repeat(conn) -> R {
        Item::create_table(&conn)?;
        // 100 rows and 100 more: the same texts, each prepared once and cached.
        let (_, first) = record_queries(&mut conn, |c| Item::insert_all(c, &items(1..=100)));
        let (_, second) = record_queries(&mut conn, |c| Item::insert_all(c, &items(101..=200)));
        assert_eq!(first, second);
        if conn_name(&conn) == "sqlite" {
            // 64 + 32 + 4 rows.
            assert_eq!(first.len(), 3);
            assert!(first[0].matches("), (").count() == 63, "{}", first[0]);
        } else {
            assert_eq!(first.len(), 1);
            assert!(first[0].starts_with("COPY \"item\""), "{}", first[0]);
        }
        Ok(())
    }

    fn chunks_past_the_variable_limit(conn) -> R {
        Item::create_table(&conn)?;
        // Three columns under a limit of 10: at most three rows per
        // statement, so two (a power of two); 7 rows are 2 + 2 + 2 + 1.
        conn.set_variable_limit(10);
        let rows = items(1..=7);
        let (sql, n) = record_queries(&mut conn, |c| Item::insert_all(c, &rows));
        let keys = sql?;
        assert_eq!(keys, (1..=7).collect::<Vec<_>>());
        let expected = match conn_name(&conn) {
            "sqlite" => 4,
            _ => 1,
        };
        assert_eq!(n.len(), expected, "{n:#?}");
        assert_eq!(Item::all(&conn)?, rows);
        // A failing row in the last chunk undoes the chunks before it.
        let mut bad = items(10..=16);
        bad[6].id = 10;
        assert!(Item::insert_all(&conn, &bad).is_err());
        assert_eq!(Item::query().count(&conn)?, 7);
        Ok(())
    }

    fn a_failing_row_in_the_middle_leaves_nothing(conn) -> R {
        Item::create_table(&conn)?;
        items([500])[0].insert(&conn)?;
        // Row 500 exists: the statement (or chunk) holding it fails, after
        // others have been written.
        let err = Item::insert_all(&conn, &items(1..=1_000)).expect_err("a duplicate key");
        assert!(matches!(err, Error::UniqueViolation { model: "Item", .. }), "{err}");
        assert_eq!(Item::query().count(&conn)?, 1);
        // The connection is not left inside a transaction of its own.
        Item::insert_all(&conn, &items(1..=10))?;
        assert_eq!(Item::query().count(&conn)?, 11);
        Ok(())
    }

    fn inside_a_transaction_a_savepoint(conn) -> R {
        Item::create_table(&conn)?;
        let kept = conn.in_transaction(|tx| {
            Item::insert_all(tx, &items(1..=3))?;
            // A failing insert_all undoes its own rows only; the
            // transaction goes on, on both backends.
            let mut bad = items(100..=300);
            bad[150].id = 2;
            assert!(Item::insert_all(tx, &bad).is_err());
            Item::insert_all(tx, &items(4..=5))?;
            Item::query().count(tx)
        })?;
        assert_eq!(kept, 5);
        assert_eq!(Item::query().count(&conn)?, 5);
        // And when the transaction rolls back, so do its insert_all's rows.
        let err = conn.in_transaction(|tx| -> orm_core::Result<()> {
            Item::insert_all(tx, &items(10..=200))?;
            Err(Error::NotFound { model: "Item", table: "item", key: "-".into() })
        });
        assert!(err.is_err());
        assert_eq!(Item::query().count(&conn)?, 5);
        Ok(())
    }

    fn automatic_keys_come_back_in_input_order(conn) -> R {
        Ticket::create_table(&conn)?;
        Ticket { id: 0, title: "first".into() }.insert(&conn)?;
        // A key far ahead: SQLite continues past it, PostgreSQL's sequence
        // is moved past it by upsert.
        Ticket { id: 1_000, title: "far".into() }.upsert(&conn)?;
        let rows = tickets(300);
        let (keys, n) = count_queries(&mut conn, |c| Ticket::insert_all(c, &rows));
        let keys = keys?;
        assert_eq!(keys.len(), 300);
        // SQLite: a statement per row, each key the row's rowid; PostgreSQL:
        // the keys drawn from the sequence, then one COPY.
        let expected = match conn_name(&conn) {
            "sqlite" => 300,
            _ => 2,
        };
        assert_eq!(n, expected);
        for (key, row) in keys.iter().zip(&rows) {
            let stored = Ticket::get(&conn, *key)?.expect("the returned key's row");
            assert_eq!(stored.title, row.title);
        }
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 300);
        assert!(keys[0] > 1_000, "{keys:?}");
        // Inside a transaction too, and the next single insert follows.
        let more = conn.in_transaction(|tx| Ticket::insert_all(tx, &tickets(3)))?;
        let next = Ticket { id: 0, title: "next".into() }.insert(&conn)?;
        assert!(more.windows(2).all(|w| w[0] < w[1]) && more[2] < next, "{more:?} {next}");
        Ok(())
    }

    fn a_model_of_only_an_automatic_key(conn) -> R {
        Counter::create_table(&conn)?;
        let keys = Counter::insert_all(&conn, &[Counter { id: 7 }, Counter { id: 7 }, Counter { id: 7 }])?;
        assert_eq!(keys, [1, 2, 3]);
        assert_eq!(Counter::query().count(&conn)?, 3);
        Ok(())
    }

    fn nan_is_refused_where_it_would_be_null(conn) -> R {
        Item::create_table(&conn)?;
        let mut rows = items(1..=200);
        rows[130].price = f64::NAN;
        let result = Item::insert_all(&conn, &rows);
        match conn_name(&conn) {
            "sqlite" => {
                let err = result.expect_err("SQLite would store NULL for NaN");
                assert!(
                    matches!(err, Error::Unwritable { model: "Item", column: "price", .. }),
                    "{err}"
                );
                assert_eq!(Item::query().count(&conn)?, 0);
            }
            _ => {
                result?;
                assert!(Item::get(&conn, 131)?.is_some_and(|i| i.price.is_nan()));
            }
        }
        Ok(())
    }
}

fn conn_name<B: backends::Named>(_: &B) -> &'static str {
    B::NAME
}

#[test]
fn a_row_wider_than_the_limit_is_an_error() -> R {
    let conn = backends::sqlite();
    Item::create_table(&conn)?;
    conn.set_variable_limit(2);
    let err = Item::insert_all(&conn, &items(1..=3)).expect_err("3 columns, limit 2");
    assert!(
        matches!(
            err,
            Error::TooManyParameters {
                needed: 3,
                limit: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(Item::query().count(&conn)?, 0);
    Ok(())
}
