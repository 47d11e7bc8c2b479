//! Migrations generated from the models and applied on every backend: the
//! first migration, a model that changes (renamed, added, dropped and altered
//! columns, indexes, a renamed table) with its rows kept, checksums, refusals,
//! atomicity, concurrent appliers, and the `manage` command.

#[macro_use]
mod backends;

use backends::Backend;
use orm_core::migrate::{self, Migration, TableDef};
use orm_core::{Error, ForeignKey, Model};

type R = orm_core::Result<()>;

/// The models as they were first.
mod v1 {
    use orm_core::{ForeignKey, Model};

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Project {
        pub id: i64,
        pub name: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "issue")]
    pub struct Issue {
        pub id: i64,
        #[foreign_key(related_name = "issues")]
        pub project: ForeignKey<Project>,
        pub title: String,
        pub legacy: Option<String>,
        pub votes: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Tag {
        pub id: i64,
        pub label: String,
    }
}

/// The same models later: `title` renamed to `headline`, `legacy` dropped,
/// `open` added with a default, `votes` made optional, a unique constraint,
/// an index, a cascade, and `tag` renamed to `label`.
mod v2 {
    use orm_core::{ForeignKey, Model};

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Project {
        pub id: i64,
        pub name: String,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "issue", unique(project, headline))]
    pub struct Issue {
        pub id: i64,
        #[foreign_key(related_name = "issues", on_delete = "cascade")]
        pub project: ForeignKey<Project>,
        #[column(renamed_from = "title", index)]
        pub headline: String,
        pub votes: Option<i64>,
        #[column(default = true)]
        pub open: bool,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "label", renamed_from = "tag")]
    pub struct Label {
        pub id: i64,
        pub label: String,
    }
}

fn first() -> Vec<TableDef> {
    vec![
        TableDef::of::<v1::Project>(),
        TableDef::of::<v1::Issue>(),
        TableDef::of::<v1::Tag>(),
    ]
}

fn second() -> Vec<TableDef> {
    vec![
        TableDef::of::<v2::Project>(),
        TableDef::of::<v2::Issue>(),
        TableDef::of::<v2::Label>(),
    ]
}

fn made(files: &[Migration], models: &[TableDef], name: &str) -> Migration {
    let text = migrate::make(files, models)
        .expect("a migration")
        .expect("a change");
    Migration::new(name, text)
}

#[awaited::both]
fn seed_v1(conn: &impl Backend) -> R {
    v1::Project {
        id: 1,
        name: "Compiler".into(),
    }
    .insert(conn)?;
    for (id, title, legacy, votes) in [(1, "crash", Some("x"), 3), (2, "slow", None, 0)] {
        v1::Issue {
            id,
            project: ForeignKey::new(1),
            title: title.into(),
            legacy: legacy.map(str::to_owned),
            votes,
        }
        .insert(conn)?;
    }
    v1::Tag {
        id: 1,
        label: "bug".into(),
    }
    .insert(conn)?;
    Ok(())
}

/// Review: a model gains a foreign key to a model that is new in the same
/// migration.
mod v4 {
    use orm_core::{ForeignKey, Model};

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "project")]
    pub struct Project {
        pub id: i64,
        pub name: String,
        #[foreign_key(related_name = "projects")]
        pub owner: Option<ForeignKey<Owner>>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    pub struct Owner {
        pub id: i64,
    }
}

on_each_backend! {
    // Review: the new column's foreign key needs its table created first.
    fn a_new_foreign_key_to_a_new_table_applies(conn) -> R {
        let models = [TableDef::of::<v1::Project>()];
        let first = made(&[], &models, "0001_initial");
        let files = vec![first.clone()];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        let models = [TableDef::of::<v4::Project>(), TableDef::of::<v4::Owner>()];
        let files = vec![first, made(&files, &models, "0002_owner")];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        v4::Project::check_table(&conn)?;
        v4::Owner::check_table(&conn)?;
        Ok(())
    }

    fn a_first_migration_creates_every_table(conn) -> R {

        let files = vec![made(&[], &first(), "0001_initial")];
        let migrations = migrate::Migrations::from_files(&files);
        assert_eq!(migrations.apply(&conn)?, ["0001_initial"]);
        assert!(migrations.apply(&conn)?.is_empty(), "applied once");
        migrations.check(&conn)?;
        v1::Project::check_table(&conn)?;
        v1::Issue::check_table(&conn)?;
        v1::Tag::check_table(&conn)?;
        assert_eq!(migrate::make(&files, &first())?, None);
        Ok(())
    }

    fn a_changed_model_migrates_in_place_and_keeps_its_rows(conn) -> R {
        let mut files = vec![made(&[], &first(), "0001_initial")];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        seed_v1(&conn)?;
        let second_file = made(&files, &second(), "0002_changes");
        let text = second_file.text().to_owned();
        assert!(text.contains("rename_column \"issue\" \"title\" \"headline\""), "{text}");
        assert!(text.contains("rename_table \"tag\" \"label\""), "{text}");
        assert!(text.contains("drop_column \"issue\" \"legacy\""), "{text}");
        assert!(text.contains("add_column \"issue\" \"open\" boolean not_null default true"), "{text}");
        files.push(second_file);
        let migrations = migrate::Migrations::from_files(&files);
        let err = migrations.check(&conn).unwrap_err();
        assert!(err.to_string().contains("`0002_changes` is not applied"), "{err}");
        assert_eq!(migrations.apply(&conn)?, ["0002_changes"]);
        migrations.check(&conn)?;
        v2::Project::check_table(&conn)?;
        v2::Issue::check_table(&conn)?;
        v2::Label::check_table(&conn)?;
        // Every row kept, renamed columns carrying their values.
        let issues = v2::Issue::all(&conn)?;
        let got: Vec<(i64, &str, Option<i64>, bool)> =
            issues.iter().map(|i| (i.id, i.headline.as_str(), i.votes, i.open)).collect();
        assert_eq!(got, [(1, "crash", Some(3), true), (2, "slow", Some(0), true)]);
        assert_eq!(v2::Label::all(&conn)?, [v2::Label { id: 1, label: "bug".into() }]);
        // The new constraints hold: unique, and cascade.
        let dup = v2::Issue {
            id: 3,
            project: ForeignKey::new(1),
            headline: "crash".into(),
            votes: None,
            open: false,
        };
        assert!(matches!(dup.insert(&conn), Err(Error::UniqueViolation { .. })));
        conn.exec("PRAGMA foreign_keys = ON").ok();
        v2::Project::query().delete(&conn)?;
        assert!(v2::Issue::all(&conn)?.is_empty(), "cascaded");
        // Nothing more to write.
        assert_eq!(migrate::make(&files, &second())?, None);
        Ok(())
    }

    fn an_edited_applied_migration_is_an_error(conn) -> R {
        let files = vec![made(&[], &first(), "0001_initial")];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        let edited = vec![Migration::new("0001_initial", format!("{}\n# edited\n", files[0].text()))];
        let err = migrate::Migrations::from_files(&edited).apply(&conn).unwrap_err();
        assert!(
            matches!(&err, Error::Migration { migration, reason } if migration == "0001_initial" && reason.contains("changed")),
            "{err}"
        );
        let err = migrate::Migrations::from_files(&edited).check(&conn).unwrap_err();
        assert!(err.to_string().contains("changed after it was applied"), "{err}");
        Ok(())
    }

    fn a_failing_migration_changes_nothing(conn) -> R {
        let mut files = vec![made(&[], &first(), "0001_initial")];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        seed_v1(&conn)?;
        files.push(Migration::new(
            "0002_broken",
            "add_column \"issue\" \"note\" text\nsql\nsqlite \"\"\"\nSELECT * FROM no_such_table\n\"\"\"\npostgres \"\"\"\nSELECT * FROM no_such_table\n\"\"\"\nend\n",
        ));
        let err = migrate::Migrations::from_files(&files).apply(&conn).unwrap_err();
        assert!(matches!(&err, Error::MigrationFailed { migration, .. } if migration == "0002_broken"), "{err}");
        // Not recorded, and the column was not added: the migration is atomic.
        v1::Issue::check_table(&conn)?;
        assert_eq!(v1::Issue::all(&conn)?.len(), 2);
        let err = migrate::Migrations::from_files(&files).check(&conn).unwrap_err();
        assert!(err.to_string().contains("`0002_broken` is not applied"), "{err}");
        Ok(())
    }

    fn a_data_migration_runs_its_backends_sql(conn) -> R {
        let mut files = vec![made(&[], &first(), "0001_initial")];
        migrate::Migrations::from_files(&files).apply(&conn)?;
        seed_v1(&conn)?;
        files.push(Migration::new(
            "0002_upper",
            "sql\nsqlite \"\"\"\nUPDATE \"issue\" SET \"title\" = upper(\"title\") || '!'\n\"\"\"\npostgres \"\"\"\nUPDATE \"issue\" SET \"title\" = upper(\"title\") || '?'\n\"\"\"\nend\n",
        ));
        migrate::Migrations::from_files(&files).apply(&conn)?;
        let mark = if conn.is_postgres() { "?" } else { "!" };
        assert_eq!(v1::Issue::all(&conn)?[0].title, format!("CRASH{mark}"));
        Ok(())
    }
}

trait Which {
    fn is_postgres(&self) -> bool;
}

impl<B: backends::Named> Which for B {
    fn is_postgres(&self) -> bool {
        B::NAME == "postgres"
    }
}

#[test]
fn unsafe_changes_are_refused_with_the_reason() {
    mod v3 {
        use orm_core::Model;
        #[derive(Model)]
        #[model(table = "issue")]
        pub struct Issue {
            pub id: i64,
            pub title: String,
            pub weight: i64,
        }
        #[derive(Model)]
        #[model(table = "issue")]
        pub struct KeyChanged {
            #[primary_key]
            pub title: String,
            pub id: i64,
        }
    }
    let before = [TableDef::of::<v1::Issue>()];
    let files = vec![Migration::new(
        "0001",
        migrate::make(&[], &before).unwrap().unwrap(),
    )];
    let err = migrate::make(&files, &[TableDef::of::<v3::Issue>()]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`issue.weight` is new and NOT NULL without a default"),
        "{message}"
    );
    let err = migrate::make(&files, &[TableDef::of::<v3::KeyChanged>()]).unwrap_err();
    assert!(err.to_string().contains("primary key changes"), "{err}");
}

#[test]
fn files_round_trip_through_their_text() {
    let ops = migrate::diff(&migrate::State::default(), &second()).unwrap();
    let text = migrate::write(&ops);
    assert_eq!(migrate::parse(&text).unwrap(), ops);
    let err = migrate::parse("create_table \"x\"\n  column \"id\" bigint\nend\n").unwrap_err();
    assert!(err.contains("no primary_key column"), "{err}");
    let err = migrate::parse("add_colum \"x\" \"y\" text\n").unwrap_err();
    assert_eq!(err, "line 1: unknown operation `add_colum`");
}

/// Embedded at compile time from `tests/migrations/`, as an application does.
static EMBEDDED: migrate::Migrations = orm_core::migrations!("../tests/migrations");

#[test]
fn embedded_migrations_match_the_models_they_were_made_from() -> R {
    let names: Vec<&str> = EMBEDDED.files().iter().map(Migration::name).collect();
    assert_eq!(names, ["0001_initial", "0002_changes"]);
    // The files are what `makemigrations` writes for v1, then v2.
    assert_eq!(migrate::make(&EMBEDDED.files()[..1], &first())?, None);
    assert_eq!(migrate::make(EMBEDDED.files(), &second())?, None);
    let conn = backends::sqlite();
    assert_eq!(EMBEDDED.apply(&conn)?, ["0001_initial", "0002_changes"]);
    EMBEDDED.check(&conn)?;
    Ok(())
}

/// Two processes (here threads with connections of their own) applying at
/// once: each migration is applied exactly once, the other waits.
#[test]
fn concurrent_appliers_apply_each_migration_once() -> R {
    let dir = std::env::temp_dir().join(format!("orm-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("race.db");
    let _ = std::fs::remove_file(&path);
    let files = vec![
        made(&[], &first(), "0001_initial"),
        Migration::new(
            "0002_slow",
            "sql\nsqlite \"\"\"\nWITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT count(*) FROM n\n\"\"\"\npostgres \"\"\"\nSELECT 1\n\"\"\"\nend\n",
        ),
    ];
    let applied: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let conn = orm_core::rusqlite::Connection::open(&path).unwrap();
                    conn.busy_timeout(std::time::Duration::from_secs(30))
                        .unwrap();
                    migrate::Migrations::from_files(&files).apply(&conn)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let mut all: Vec<String> = applied.into_iter().flatten().collect();
    all.sort();
    assert_eq!(all, ["0001_initial", "0002_slow"]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(feature = "postgres")]
#[test]
fn concurrent_appliers_apply_each_migration_once_on_postgres() -> R {
    let first_conn = backends::postgres();
    let schema: String = first_conn.query("SELECT current_schema()", &[])?[0].get(0);
    let files = vec![made(&[], &first(), "0001_initial")];
    let applied: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let schema = schema.clone();
                let files = &files;
                s.spawn(move || {
                    let url = std::env::var("ORM_POSTGRES_URL").unwrap();
                    let pg = orm_core::Postgres::connect(&url).unwrap();
                    pg.batch_execute(&format!("SET search_path TO {schema}"))
                        .unwrap();
                    migrate::Migrations::from_files(files).apply(&pg)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let all: Vec<String> = applied.into_iter().flatten().collect();
    assert_eq!(all, ["0001_initial"]);
    Ok(())
}

#[test]
fn the_manage_command_writes_checks_and_applies() {
    let dir = std::env::temp_dir().join(format!("orm-manage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |models: &[TableDef], args: &[&str]| {
        migrate::manage(
            dir.to_str().unwrap(),
            models,
            args.iter().map(|s| (*s).to_owned()),
        )
    };
    let ok = std::process::ExitCode::SUCCESS;
    let failure = std::process::ExitCode::FAILURE;
    assert_eq!(run(&first(), &["makemigrations", "--check"]), failure);
    assert_eq!(run(&first(), &["makemigrations"]), ok);
    assert!(dir.join("0001_initial.migration").exists());
    assert_eq!(run(&first(), &["makemigrations", "--check"]), ok);
    assert_eq!(run(&second(), &["makemigrations", "--check"]), failure);
    assert_eq!(
        run(&second(), &["makemigrations", "--name", "rename_title"]),
        ok
    );
    assert!(dir.join("0002_rename_title.migration").exists());
    assert_eq!(
        run(&second(), &["makemigrations"]),
        ok,
        "nothing to do is a success"
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    let db = dir.join("app.db");
    let url = format!("sqlite://{}", db.display());
    assert_eq!(run(&second(), &["migrate", &url]), ok);
    let conn = orm_core::rusqlite::Connection::open(&db).unwrap();
    v2::Issue::check_table(&conn).unwrap();
    assert_eq!(run(&second(), &["showmigrations"]), ok);
    assert_eq!(run(&second(), &["frobnicate"]), failure);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Review: a text default with a line break (a model's
/// `#[column(default = "a\nb")]`) must survive `write` then `parse`: the
/// file is read line by line.
#[test]
fn a_text_default_with_a_line_break_round_trips() {
    #[derive(Model, Debug, Clone, PartialEq)]
    struct Note {
        id: i64,
        #[column(default = "first line\nsecond line")]
        body: String,
    }
    let ops = migrate::diff(&migrate::State::default(), &[TableDef::of::<Note>()]).unwrap();
    let text = migrate::write(&ops);
    assert_eq!(migrate::parse(&text), Ok(ops), "{text}");
}

/// Review: with foreign keys on, rebuilding a parent table (SQLite drops
/// and recreates it) must keep the rows of a child whose key cascades.
mod v5 {
    use orm_core::{ForeignKey, Model};

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "project")]
    pub struct Project {
        pub id: i64,
        pub name: String,
        pub note: Option<String>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "task")]
    pub struct Task {
        pub id: i64,
        #[foreign_key(related_name = "tasks", on_delete = "cascade")]
        pub project: ForeignKey<Project>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "project")]
    pub struct ProjectAfter {
        pub id: i64,
        pub name: String,
    }
}

#[test]
fn a_rebuilt_parent_keeps_its_cascading_children_with_foreign_keys_on() -> R {
    let conn = backends::sqlite();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let before = [TableDef::of::<v5::Project>(), TableDef::of::<v5::Task>()];
    let first = made(&[], &before, "0001");
    migrate::Migrations::from_files(std::slice::from_ref(&first)).apply(&conn)?;
    v5::Project {
        id: 1,
        name: "a".into(),
        note: None,
    }
    .insert(&conn)?;
    v5::Task {
        id: 1,
        project: ForeignKey::new(1),
    }
    .insert(&conn)?;
    let after = [
        TableDef::of::<v5::ProjectAfter>(),
        TableDef::of::<v5::Task>(),
    ];
    let files = vec![first.clone(), made(&[first], &after, "0002")];
    migrate::Migrations::from_files(&files).apply(&conn)?;
    assert_eq!(v5::Task::all(&conn)?.len(), 1);
    let on: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert!(on, "foreign keys are on again");
    Ok(())
}

/// Review: a foreign key dropped from a column whose table and column names
/// are long (PostgreSQL shortens the name it gives the constraint to 63
/// bytes its own way, keeping `_fkey`).
#[cfg(feature = "postgres")]
mod v6 {
    use orm_core::{ForeignKey, Model};

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "parent")]
    pub struct Parent {
        pub id: i64,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "customer_subscription_invoice_line_item")]
    pub struct Before {
        pub id: i64,
        #[foreign_key(related_name = "lines")]
        pub billing_account_parent_reference: ForeignKey<Parent>,
    }

    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "customer_subscription_invoice_line_item")]
    pub struct After {
        pub id: i64,
        pub billing_account_parent_reference_id: i64,
    }
}

#[cfg(feature = "postgres")]
#[test]
fn a_foreign_key_with_a_long_name_is_dropped_on_postgres() -> R {
    let conn = backends::postgres();
    let before = [TableDef::of::<v6::Parent>(), TableDef::of::<v6::Before>()];
    let first = made(&[], &before, "0001");
    let after = [TableDef::of::<v6::Parent>(), TableDef::of::<v6::After>()];
    let files = vec![first.clone(), made(&[first], &after, "0002")];
    migrate::Migrations::from_files(&files).apply(&conn)?;
    // No foreign key any more: a value with no parent row is accepted.
    v6::After {
        id: 1,
        billing_account_parent_reference_id: 99,
    }
    .insert(&conn)?;
    Ok(())
}
