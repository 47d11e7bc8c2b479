//! Every statement the library runs is one `tracing` event: target
//! `orm_core::query`, DEBUG (WARN past the slow threshold), with the SQL, the
//! model, the rows and the time; bound values only when asked for.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{product, Category, Product};
use orm_core::rusqlite::Connection;
use orm_core::Model;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One event as seen by a subscriber.
#[derive(Debug, Clone)]
struct Seen {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
}

fn recorded<T>(f: impl FnOnce() -> T) -> (T, Vec<Seen>) {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    let seen = recorder.0.lock().unwrap().clone();
    (out, seen)
}

fn shop() -> orm_core::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    common::create_tables(&conn)?;
    Category {
        id: 1,
        name: "Books".into(),
    }
    .insert(&conn)?;
    for id in 1..=3 {
        Product {
            note: Some(format!("password{id}")),
            ..product(id, 1)
        }
        .insert(&conn)?;
    }
    Ok(conn)
}

/// One test, so that the global threshold and opt-in are not changed under
/// another test running in parallel.
#[test]
fn every_statement_is_one_event() -> orm_core::Result<()> {
    let conn = shop()?;
    let cats = Category::all(&conn)?;

    let (products, seen) = recorded(|| Category::load_products(&conn, &cats));
    assert_eq!(products?[0].len(), 3);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let event = &seen[0];
    assert_eq!(event.target, "orm_core::query");
    assert_eq!(event.level, Level::DEBUG);
    assert_eq!(event.fields["model"], "Product");
    assert_eq!(event.fields["table"], "product");
    assert_eq!(event.fields["db.system"], "sqlite");
    assert_eq!(event.fields["rows"], "3");
    assert!(
        event.fields["db.statement"].starts_with("SELECT t.\"id\""),
        "{event:?}"
    );
    let ms: f64 = event.fields["elapsed_ms"].parse().expect("a number");
    assert!(ms >= 0.0);
    // Values stay out of the log unless asked for: they may be private.
    assert!(!format!("{seen:?}").contains("password"));
    assert_eq!(event.fields["db.params"], "(not logged)");

    // Writes report the rows they changed; DDL is a statement too.
    let f = Product::fields();
    let (changed, seen) = recorded(|| {
        Product::query()
            .filter(f.id.le(2))
            .update(&conn, [f.note.set("hunter2")])
    });
    assert_eq!(changed?, 2);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].fields["rows"], "2");
    let (_, seen) = recorded(|| Category::create_table(&conn));
    assert_eq!(seen.len(), 1);
    assert!(seen[0].fields["db.statement"].starts_with("CREATE TABLE"));

    orm_core::log::set_log_values(true);
    let (_, seen) = recorded(|| Product::query().filter(f.note.eq("hunter2")).count(&conn));
    orm_core::log::set_log_values(false);
    assert!(seen[0].fields["db.params"].contains("hunter2"), "{seen:?}");

    // Past the threshold: WARN.
    orm_core::log::set_slow_threshold(Duration::ZERO);
    let (_, seen) = recorded(|| Category::all(&conn));
    orm_core::log::set_slow_threshold(Duration::from_secs(1));
    assert_eq!(seen[0].level, Level::WARN);

    // A failed statement is an event too, carrying the error: one that fails
    // as it runs (a duplicate key) and one that fails to prepare (a column
    // the table lacks).
    let (dup, seen) = recorded(|| {
        Category {
            id: 1,
            name: "again".into(),
        }
        .insert(&conn)
    });
    assert!(dup.is_err());
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(seen[0].fields["db.statement"].starts_with("INSERT INTO \"categories\""));
    assert!(seen[0].fields["error"].contains("UNIQUE"), "{seen:?}");
    conn.execute_batch("ALTER TABLE product RENAME COLUMN note TO hidden")?;
    let (missing, seen) = recorded(|| Product::all(&conn));
    assert!(matches!(missing, Err(orm_core::Error::NoSuchColumn { .. })));
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].fields["model"], "Product");
    assert!(seen[0].fields["error"].contains("note"), "{seen:?}");
    // A statement that succeeds has no `error` field.
    let (_, seen) = recorded(|| Category::all(&conn));
    assert!(!seen[0].fields.contains_key("error"));

    // With no subscriber, nothing happens and nothing is timed.
    assert_eq!(Category::all(&conn)?.len(), 1);
    Ok(())
}
