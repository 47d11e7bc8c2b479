//! Raw SQL with one placeholder style on every backend: tuples and models
//! read, values bound, statements counted.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::ledger::{acct, Acct};
use common::{category, product, Product};
use orm_core::{count_queries, Error, Model, Raw};

type R = orm_core::Result<()>;

#[awaited::both]
fn shop(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    category(1).insert(conn)?;
    for (id, name, price, note) in [
        (1, "Dune", 9.5, None),
        (2, "Go board", 40.0, Some("big")),
        (3, "Why?", 12.0, Some("it's '?'")),
    ] {
        Product {
            id,
            name: name.into(),
            price,
            note: note.map(str::to_owned),
            ..product(id, 1)
        }
        .insert(conn)?;
    }
    Ok(())
}

on_each_backend! {
    fn raw_sql_reads_tuples_and_models(conn) -> R {
        shop(&conn)?;
        let (rows, n) = count_queries(&mut conn, |conn| {
            conn.raw("SELECT id, name FROM product WHERE price > ? ORDER BY id", (5.0,))
                .all::<(i64, String)>()
        });
        assert_eq!(n, 1);
        assert_eq!(rows?, [(1, "Dune".to_string()), (2, "Go board".into()), (3, "Why?".into())]);
        let products: Vec<Product> = conn
            .raw("SELECT * FROM product WHERE name = ? OR note = ? ORDER BY id", ("Dune", "big"))
            .all()?;
        assert_eq!(products.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
        // A `?` inside quotes is text, not a parameter.
        let q: Option<(i64, Option<String>)> = conn
            .raw("SELECT id, note FROM product WHERE name = 'Why?' AND price < ?", (20.0,))
            .first()?;
        assert_eq!(q, Some((3, Some("it's '?'".into()))));
        let none: Option<(i64,)> = conn.raw("SELECT id FROM product WHERE id = ?", (99,)).first()?;
        assert_eq!(none, None);
        let count: Vec<(i64,)> = conn.raw("SELECT count(*) FROM product", ()).all()?;
        assert_eq!(count, [(3,)]);
        Ok(())
    }

    fn raw_sql_writes_and_reports_errors(conn) -> R {
        shop(&conn)?;
        let changed = conn.raw("UPDATE product SET price = price * ? WHERE price < ?", (2.0, 10.0)).execute()?;
        assert_eq!(changed, 1);
        assert_eq!(Product::get(&conn, 1)?.map(|p| p.price), Some(19.0));
        let err = conn.raw("SELECT nope FROM product", ()).all::<(i64,)>().unwrap_err();
        assert!(matches!(err, Error::Query { .. } | Error::NoSuchColumn { .. }), "{err}");
        // A value of another type than the column's is a clear error, not a panic.
        let err = conn.raw("SELECT name FROM product", ()).all::<(i64,)>().unwrap_err();
        assert!(matches!(err, Error::Column { .. }), "{err}");
        Ok(())
    }
}

/// The same calls on the backend a URL names.
fn through_any(db: &mut orm_core::AnyDb) -> R {
    common::create_tables(&*db)?;
    category(1).insert(&*db)?;
    Product {
        id: 1,
        name: "Dune".into(),
        price: 9.5,
        note: None,
        ..product(1, 1)
    }
    .insert(&*db)?;
    let f = Product::fields();
    let (rows, n) = count_queries(db, |db| {
        Product::query().filter(f.name.icontains("DUNE")).all(&*db)
    });
    assert_eq!((rows?.len(), n), (1, 1));
    let names: Vec<(String,)> = db
        .raw("SELECT name FROM product WHERE price < ?", (10.0,))
        .all()?;
    assert_eq!(names, [("Dune".to_string(),)]);
    Ok(())
}

#[test]
fn any_db_opens_sqlite_from_a_url() -> R {
    let mut db = orm_core::AnyDb::connect("sqlite::memory:")?;
    assert_eq!(db.backend(), "sqlite");
    through_any(&mut db)?;
    let dir = std::env::temp_dir().join(format!("orm-anydb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("app.db");
    let mut db = orm_core::AnyDb::connect(format!("sqlite://{}", file.display()))?;
    through_any(&mut db)?;
    assert!(file.exists(), "a missing file is created");
    let _ = std::fs::remove_dir_all(&dir);
    for bad in ["mysql://x", "sqlite://", "app.db"] {
        let err = orm_core::AnyDb::connect(bad).unwrap_err();
        assert!(
            matches!(&err, Error::Url { url, .. } if url == bad),
            "{err}"
        );
    }
    Ok(())
}

#[cfg(feature = "postgres")]
#[test]
fn any_db_opens_postgres_from_a_url() -> R {
    // The server's `key=value` parameters, as the URL a deployment would set.
    let params = std::env::var("ORM_POSTGRES_URL").expect("run under scripts/with-postgres");
    let get = |key: &str| {
        params
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_default()
            .to_owned()
    };
    let url = format!(
        "postgres://{}@{}:{}/{}",
        get("user"),
        get("host"),
        get("port"),
        get("dbname")
    );
    let mut db = orm_core::AnyDb::connect(&url)?;
    assert_eq!(db.backend(), "postgres");
    let schema = format!("anydb_{}", std::process::id());
    db.raw(&format!("CREATE SCHEMA {schema}"), ()).execute()?;
    db.raw(&format!("SET search_path TO {schema}"), ())
        .execute()?;
    through_any(&mut db)
}

/// `atomic` on every backend.
mod atomic {
    use super::*;

    on_each_backend! {
        fn atomic_commits_on_ok_and_rolls_back_on_err_or_panic(conn) -> R {
            use orm_core::Atomic;
            Acct::create_table(&conn)?;
            conn.atomic(|tx| {
                acct(1, 100).insert(tx)?;
                acct(2, 50).insert(tx)?;
                Ok(())
            })?;
            let failed: orm_core::Result<()> = conn.atomic(|tx| {
                acct(3, 1).insert(tx)?;
                Err(Error::NotFound { model: "Acct", table: "acct", key: "test".into() })
            });
            assert!(failed.is_err());
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = conn.atomic(|tx| -> orm_core::Result<()> {
                    acct(4, 1).insert(tx)?;
                    panic!("in the block");
                });
            }));
            assert!(panicked.is_err());
            assert_eq!(Acct::all(&conn)?, [acct(1, 100), acct(2, 50)]);
            // Nested: a savepoint; the inner failure undoes only the inner block.
            conn.atomic(|tx| {
                acct(5, 5).insert(tx)?;
                let inner = tx.atomic(|tx| {
                    acct(6, 6).insert(tx)?;
                    acct(1, 0).insert(tx) // duplicate key
                });
                assert!(inner.is_err());
                tx.atomic(|tx| acct(7, 7).insert(tx))?;
                Ok(())
            })?;
            let ids: Vec<i64> = Acct::all(&conn)?.iter().map(|a| a.id).collect();
            assert_eq!(ids, [1, 2, 5, 7]);
            // The connection is usable afterwards, outside any transaction.
            acct(8, 8).insert(&conn)?;
            assert_eq!(Acct::query().count(&conn)?, 5);
            Ok(())
        }

        fn atomic_is_never_ok_unless_committed(conn) -> R {
            use orm_core::Atomic;
            Acct::create_table(&conn)?;
            // An ignored failure inside the block: SQLite goes on and commits;
            // PostgreSQL has aborted the transaction, so the block is an error
            // and nothing is kept. Either way `Ok` means committed.
            let r = conn.atomic(|tx| {
                acct(10, 100).insert(tx)?;
                let _ = acct(10, 100).insert(tx); // duplicate, ignored
                Ok(())
            });
            let kept = Acct::all(&conn)?;
            match r {
                Ok(()) => assert_eq!(kept, [acct(10, 100)]),
                Err(_) => assert!(kept.is_empty()),
            }
            assert_eq!(r.is_ok(), !kept.is_empty());
            Ok(())
        }
    }
}
