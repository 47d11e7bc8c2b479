//! Column types from other crates, behind orm-core's features:
//! `cargo test -p orm-tests --all-features --test column_types`.
#![cfg(all(
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "serde_json"
))]

#[macro_use]
mod backends;

use orm_core::{count_queries, ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
struct Account {
    #[primary_key]
    id: uuid::Uuid,
    opened: chrono::NaiveDate,
    seen: Option<chrono::DateTime<chrono::Utc>>,
    settings: serde_json::Value,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Login {
    id: i64,
    at: time::PrimitiveDateTime,
    #[foreign_key(related_name = "logins")]
    account: ForeignKey<Account>,
}

/// Each backend stores these types its own way: SQLite as rusqlite does
/// (a UUID in 16 bytes, dates as ISO 8601 text, JSON as text), PostgreSQL
/// in its native UUID, DATE, TIMESTAMPTZ and JSONB.
#[test]
fn each_backend_declares_its_own_types() {
    let sqlite = Account::create_table_sql();
    assert!(
        sqlite.contains("\"id\" BLOB PRIMARY KEY NOT NULL"),
        "{sqlite}"
    );
    assert!(sqlite.contains("\"opened\" TEXT NOT NULL"), "{sqlite}");
    #[cfg(feature = "postgres")]
    {
        let pg = Account::create_table_sql_postgres();
        for column in [
            "\"id\" UUID PRIMARY KEY NOT NULL",
            "\"opened\" DATE NOT NULL",
            "\"seen\" TIMESTAMPTZ,",
            "\"settings\" JSONB NOT NULL",
        ] {
            assert!(pg.contains(column), "{pg}");
        }
        assert!(Login::create_table_sql_postgres().contains("\"at\" TIMESTAMP NOT NULL"));
    }
}

on_each_backend! {
fn dates_uuids_and_json_round_trip_and_key_relations(conn) -> orm_core::Result<()> {
    Account::create_table(&conn)?;
    Login::create_table(&conn)?;
    Account::check_table(&conn)?;
    Login::check_table(&conn)?;

    let ids = [uuid::Uuid::from_u128(7), uuid::Uuid::from_u128(3)];
    for (i, id) in ids.into_iter().enumerate() {
        Account {
            id,
            opened: chrono::NaiveDate::from_ymd_opt(2026, 11, 1 + i as u32).expect("a date"),
            seen: (i == 1).then(|| chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a time")),
            settings: serde_json::json!({ "theme": "dark", "n": i }),
        }
        .insert(&conn)?;
    }
    let at = time::macros::datetime!(2026-11-25 21:16);
    for (id, account) in [(1, ids[0]), (2, ids[1]), (3, ids[0])] {
        Login {
            id,
            at,
            account: ForeignKey::new(account),
        }
        .insert(&conn)?;
    }
    let accounts = Account::all(&conn)?;
    // Primary-key order of 16-byte blobs: 3 before 7.
    assert_eq!(
        accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![ids[1], ids[0]]
    );
    assert_eq!(accounts[1].settings["theme"], "dark");
    let (pairs, n) = count_queries(&mut conn, |c| Account::prefetch_logins(c, accounts));
    assert_eq!(n, 1);
    let logins: Vec<Vec<i64>> = pairs?
        .iter()
        .map(|(_, l)| l.iter().map(|l| l.id).collect())
        .collect();
    assert_eq!(logins, vec![vec![2], vec![1, 3]]);
    assert_eq!(Login::get(&conn, 1)?.expect("login 1").at, at);
    Ok(())
}

/// `insert_all` binds each column of several rows together (on PostgreSQL,
/// as one array of the column's type): every type goes through it too.
fn several_rows_of_every_type_in_one_insert_all(conn) -> orm_core::Result<()> {
    Account::create_table(&conn)?;
    Login::create_table(&conn)?;
    let accounts: Vec<Account> = (1..=5u32)
        .map(|i| Account {
            id: uuid::Uuid::from_u128(u128::from(i)),
            opened: chrono::NaiveDate::from_ymd_opt(2026, 1, i).expect("a date"),
            seen: (i % 2 == 0)
                .then(|| chrono::DateTime::from_timestamp(1_700_000_000 + i64::from(i), 0).expect("a time")),
            settings: serde_json::json!({ "n": i, "name": format!("a \"{i}\"") }),
        })
        .collect();
    Account::insert_all(&conn, &accounts)?;
    let logins: Vec<Login> = (1..=9)
        .map(|id| Login {
            id,
            at: time::macros::datetime!(2026-11-25 21:16) + time::Duration::seconds(id),
            account: ForeignKey::new(accounts[id as usize % 5].id),
        })
        .collect();
    Login::insert_all(&conn, &logins)?;
    assert_eq!(Account::all(&conn)?, accounts);
    assert_eq!(Login::all(&conn)?, logins);
    Ok(())
}
}
