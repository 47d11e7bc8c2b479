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

use backends::Backend;
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

#[derive(Model, Debug, Clone, PartialEq)]
struct Event {
    id: i64,
    at: chrono::DateTime<chrono::FixedOffset>,
    when: time::OffsetDateTime,
}

/// The same instant written at the offset `hours`.
fn at_offset(utc_hour: u32, hours: i32) -> Event {
    let utc = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(utc_hour, 0, 0))
        .expect("a time")
        .and_utc();
    let offset = chrono::FixedOffset::east_opt(hours * 3600).expect("an offset");
    let when = time::OffsetDateTime::from_unix_timestamp(utc.timestamp())
        .expect("a time")
        .to_offset(
            time::UtcOffset::from_hms(i8::try_from(hours).expect("hours"), 0, 0)
                .expect("an offset"),
        );
    Event {
        id: 0,
        at: utc.with_timezone(&offset),
        when,
    }
}

fn backend_name<B: backends::Named>(_: &B) -> &'static str {
    B::NAME
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

/// Points in time with an offset compare as instants, whatever offset each
/// row was written at: the answers of PostgreSQL and of Rust.
fn times_with_offsets_compare_as_instants(conn) -> orm_core::Result<()> {
    Event::create_table(&conn)?;
    // 05:00Z written at +05:00, 08:00Z, 09:00Z written at -08:00, 05:00Z.
    let rows = [(1, 5, 5), (2, 8, 0), (3, 9, -8), (4, 5, 0)];
    for (id, hour, offset) in rows {
        Event { id, ..at_offset(hour, offset) }.insert(&conn)?;
    }
    let f = Event::fields();
    let ids = |events: Vec<Event>| events.iter().map(|e| e.id).collect::<Vec<_>>();
    let eight = at_offset(8, 3);
    let five = at_offset(5, -2);
    assert_eq!(ids(Event::query().filter(f.at.lt(eight.at)).all(&conn)?), [1, 4]);
    assert_eq!(ids(Event::query().filter(f.when.lt(eight.when)).all(&conn)?), [1, 4]);
    assert_eq!(ids(Event::query().filter(f.at.eq(five.at)).all(&conn)?), [1, 4]);
    assert_eq!(ids(Event::query().filter(f.when.eq(five.when)).all(&conn)?), [1, 4]);
    assert_eq!(ids(Event::query().filter(f.at.is_in([five.at, eight.at])).all(&conn)?), [1, 2, 4]);
    assert_eq!(ids(Event::query().order_by(f.at.desc()).all(&conn)?), [3, 2, 1, 4]);
    assert_eq!(ids(Event::query().order_by(f.when.desc()).all(&conn)?), [3, 2, 1, 4]);
    // Read back: the same instants (in UTC, on both backends).
    let back = Event::get(&conn, 3)?.expect("row 3");
    assert_eq!((back.at, back.when), (at_offset(9, 0).at, at_offset(9, 0).when));
    assert_eq!(back.at.offset().local_minus_utc(), 0);
    // Writes by filter select the same rows.
    assert_eq!(Event::query().filter(f.at.lt(eight.at)).delete(&conn)?, 2);
    assert_eq!(ids(Event::all(&conn)?), [2, 3]);
    // A row written at an offset by an earlier version still reads.
    conn.exec(
        "INSERT INTO event VALUES (5, '2024-01-01 10:00:00+05:00', '2024-01-01 10:00:00.0+05:00')",
    )?;
    let old = Event::get(&conn, 5)?.expect("row 5");
    assert_eq!((old.at, old.when), (at_offset(5, 0).at, at_offset(5, 0).when));
    // insert_all writes them the same way as insert.
    let more: Vec<Event> = [(6, 7, 9), (7, 10, -3)]
        .into_iter()
        .map(|(id, hour, offset)| Event { id, ..at_offset(hour, offset) })
        .collect();
    Event::insert_all(&conn, &more)?;
    // The old row compares as text on SQLite until it is saved again (as
    // the README says), after which it compares as an instant there too.
    old.update(&conn)?;
    assert_eq!(ids(Event::query().filter(f.at.lt(eight.at)).all(&conn)?), [5, 6]);
    assert_eq!(ids(Event::query().filter(f.when.lt(eight.when)).all(&conn)?), [5, 6]);
    Ok(())
}

/// PostgreSQL keeps microseconds: a finer time is an error there rather
/// than a silently different value; SQLite keeps every digit.
fn times_finer_than_a_microsecond(conn) -> orm_core::Result<()> {
    Event::create_table(&conn)?;
    let micro = Event {
        id: 1,
        at: at_offset(5, 2).at + chrono::Duration::microseconds(123_456),
        when: at_offset(5, 2).when + time::Duration::microseconds(123_456),
    };
    micro.insert(&conn)?;
    assert_eq!(Event::get(&conn, 1)?, Some(micro.clone()));
    let nano = Event {
        id: 2,
        at: micro.at + chrono::Duration::nanoseconds(789),
        when: micro.when,
    };
    let nano_time = Event {
        id: 3,
        at: micro.at,
        when: micro.when + time::Duration::nanoseconds(789),
    };
    let f = Event::fields();
    if backend_name(&conn) == "postgres" {
        for event in [&nano, &nano_time] {
            let err = event.clone().insert(&conn).unwrap_err();
            assert!(err.to_string().contains("finer than a microsecond"), "{err}");
            let rows = [Event { id: 9, ..micro.clone() }, event.clone()];
            let err = Event::insert_all(&conn, &rows).unwrap_err();
            assert!(format!("{err} {err:?}").contains("finer than a microsecond"), "{err}");
        }
        assert!(Event::query().filter(f.at.eq(nano.at)).count(&conn).is_err());
        assert_eq!(Event::all(&conn)?.len(), 1);
    } else {
        nano.insert(&conn)?;
        nano_time.insert(&conn)?;
        let back = Event::get(&conn, 2)?.expect("row 2");
        assert_eq!(back.at, nano.at);
        assert_eq!(Event::get(&conn, 3)?.expect("row 3").when, nano_time.when);
        assert_eq!(Event::query().filter(f.at.gt(micro.at)).count(&conn)?, 1);
    }
    Ok(())
}
}
