//! Schema attributes: unique constraints, indexes, `ON DELETE`, defaults and
//! column names, in the DDL, in `check_table`, in errors and in every
//! statement; and `drop_table`. On every backend.

#[macro_use]
mod backends;

use backends::Backend;
use orm_core::{Difference, Error, ForeignKey, Index, Literal, Model, OnDelete, SchemaError};

type R = orm_core::Result<()>;

fn backend<B: backends::Named>(_: &B) -> &'static str {
    B::NAME
}

/// SQLite enforces foreign keys, and so `ON DELETE`, only when asked to.
#[awaited::both]
fn enforce_foreign_keys(conn: &impl Backend) -> R {
    if backend(conn) == "sqlite" {
        conn.exec("PRAGMA foreign_keys = ON")?;
    }
    Ok(())
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Project {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "users")]
struct User {
    id: i64,
    name: String,
}

// The issue's pinned example.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "issues", unique(project, number), index(project, updated_at))]
struct Issue {
    #[primary_key(auto)]
    id: i64,
    #[foreign_key(related_name = "issues", on_delete = "cascade")]
    project: ForeignKey<Project>,
    #[foreign_key(related_name = "assigned", on_delete = "set_null")]
    assignee: Option<ForeignKey<User>>,
    number: i64,
    #[column(name = "title_text")]
    title: String,
    #[column(unique)]
    slug: String,
    #[column(index)]
    updated_at: i64,
    #[column(default = true)]
    open: bool,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Comment {
    id: i64,
    #[foreign_key(related_name = "comments", on_delete = "restrict")]
    issue: ForeignKey<Issue>,
    /// A renamed foreign key: column `author`, not `written_by_id`.
    #[foreign_key(related_name = "comments")]
    #[column(name = "author")]
    written_by: Option<ForeignKey<User>>,
}

fn issue(id: i64, project: i64, number: i64, assignee: Option<i64>) -> Issue {
    Issue {
        id,
        project: ForeignKey::new(project),
        assignee: assignee.map(ForeignKey::new),
        number,
        title: format!("issue {number}"),
        slug: format!("p{project}-{number}"),
        updated_at: 100 + id,
        open: id % 2 == 0,
    }
}

#[awaited::both]
fn tracker(conn: &impl Backend) -> R {
    enforce_foreign_keys(conn)?;
    Project::create_table(conn)?;
    User::create_table(conn)?;
    Issue::create_table(conn)?;
    Comment::create_table(conn)?;
    for id in 1..=2 {
        Project {
            id,
            name: format!("p{id}"),
        }
        .insert(conn)?;
        User {
            id,
            name: format!("u{id}"),
        }
        .insert(conn)?;
    }
    Issue::insert_all(
        conn,
        &[
            issue(1, 1, 1, Some(1)),
            issue(2, 1, 2, Some(2)),
            issue(3, 2, 1, Some(1)),
        ],
    )?;
    Ok(())
}

fn ids<M: Model<Key = i64>>(rows: &[M]) -> Vec<i64> {
    rows.iter().map(|r| *r.primary_key()).collect()
}

#[awaited::both]
fn differences<M: Model>(conn: &impl Backend) -> Vec<Difference> {
    match M::check_table(conn) {
        Ok(()) => Vec::new(),
        Err(Error::Schema(SchemaError { differences, .. })) => differences,
        Err(other) => panic!("check_table failed: {other}"),
    }
}

#[test]
fn the_model_describes_its_constraints() {
    let indexes: Vec<(&[&str], bool)> = Issue::INDEXES
        .iter()
        .map(|i: &Index| (i.columns(), i.unique()))
        .collect();
    assert_eq!(
        indexes,
        [
            (&["project_id", "number"][..], true),
            (&["project_id", "updated_at"][..], false),
            (&["slug"][..], true),
            (&["updated_at"][..], false),
        ]
    );
    let column = |name: &str| {
        *Issue::COLUMNS
            .iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    assert_eq!(column("title_text").field(), "title");
    assert_eq!(column("project_id").field(), "project");
    assert_eq!(column("project_id").on_delete(), OnDelete::Cascade);
    assert_eq!(column("assignee_id").on_delete(), OnDelete::SetNull);
    assert_eq!(column("open").default(), Some(Literal::Bool(true)));
    assert_eq!(column("number").default(), None);
    assert_eq!(Comment::COLUMNS[2].name(), "author");
    assert_eq!(Comment::COLUMNS[2].references(), Some(("users", "id")));

    let ddl = Issue::create_table_sql();
    for part in [
        "\"project_id\" INTEGER NOT NULL REFERENCES \"project\" (\"id\") ON DELETE CASCADE",
        "\"assignee_id\" INTEGER REFERENCES \"users\" (\"id\") ON DELETE SET NULL",
        "\"title_text\" TEXT NOT NULL",
        "\"open\" INTEGER NOT NULL DEFAULT 1",
        "CREATE UNIQUE INDEX IF NOT EXISTS \"issues_project_id_number_key6_10\" ON \"issues\" (\"project_id\", \"number\");",
        "CREATE INDEX IF NOT EXISTS \"issues_project_id_updated_at_idx6_10\" ON \"issues\" (\"project_id\", \"updated_at\");",
        "CREATE UNIQUE INDEX IF NOT EXISTS \"issues_slug_key6\" ON \"issues\" (\"slug\");",
        "CREATE INDEX IF NOT EXISTS \"issues_updated_at_idx6\" ON \"issues\" (\"updated_at\");",
        "CREATE INDEX IF NOT EXISTS \"issues_project_id_idx6\" ON \"issues\" (\"project_id\");",
    ] {
        assert!(ddl.contains(part), "{part}\nnot in\n{ddl}");
    }
    assert!(!Comment::create_table_sql().contains("ON DELETE NO ACTION"));
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_ddl_spells_the_same_constraints() {
    let ddl = Issue::create_table_sql_postgres();
    for part in [
        "\"id\" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "\"project_id\" BIGINT NOT NULL REFERENCES \"project\" (\"id\") ON DELETE CASCADE",
        "\"open\" BOOLEAN NOT NULL DEFAULT TRUE",
        "CREATE UNIQUE INDEX IF NOT EXISTS \"issues_project_id_number_key6_10\"",
    ] {
        assert!(ddl.contains(part), "{part}\nnot in\n{ddl}");
    }
}

/// Index names that a naive `<table>_<columns>_idx` would give twice.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(index(a, b_c), index(a_b, c), unique(a, b_c))]
struct Crowded {
    id: i64,
    #[column(unique, index)]
    a: i64,
    b_c: i64,
    a_b: i64,
    c: i64,
}

/// Defaults of each literal kind.
#[derive(Model, Debug, Clone, PartialEq)]
struct Settings {
    id: i64,
    #[column(default = -3)]
    offset: i32,
    #[column(default = 1.5)]
    ratio: f64,
    #[column(default = "it's")]
    label: String,
    #[column(default = 7)]
    limit: Option<i64>,
    #[column(default = false)]
    hidden: bool,
}

on_each_backend! {
    fn the_pinned_example_checks_clean_and_drops(conn) -> R {
        tracker(&conn)?;
        for found in [
            differences::<Project, _>(&conn),
            differences::<User, _>(&conn),
            differences::<Issue, _>(&conn),
            differences::<Comment, _>(&conn),
        ] {
            assert_eq!(found, []);
        }
        // create_table is idempotent, indexes included.
        Issue::create_table(&conn)?;
        assert_eq!(Issue::all(&conn)?.len(), 3);

        Comment::drop_table(&conn)?;
        Issue::drop_table(&conn)?;
        assert_eq!(differences::<Issue, _>(&conn), [Difference::MissingTable]);
        // IF EXISTS: dropping what is gone is not an error.
        Issue::drop_table(&conn)?;
        Issue::create_table(&conn)?;
        assert_eq!(Issue::all(&conn)?, []);
        assert_eq!(differences::<Issue, _>(&conn), []);
        Ok(())
    }

    fn a_referenced_table_is_not_dropped(conn) -> R {
        tracker(&conn)?;
        Comment { id: 1, issue: ForeignKey::new(1), written_by: None }.insert(&conn)?;
        // PostgreSQL refuses while a foreign key names the table; SQLite
        // deletes the rows first, and the comment restricts that.
        let err = Project::drop_table(&conn).unwrap_err();
        assert!(matches!(err, Error::Query { model: "Project", .. }), "{err}");
        assert_eq!(Project::all(&conn)?.len(), 2);
        assert_eq!(Issue::all(&conn)?.len(), 3);
        for drop in [Comment::drop_table, Issue::drop_table, User::drop_table, Project::drop_table] {
            drop(&conn)?;
        }
        assert_eq!(differences::<Project, _>(&conn), [Difference::MissingTable]);
        Ok(())
    }

    fn index_names_do_not_collide(conn) -> R {
        Crowded::create_table(&conn)?;
        assert_eq!(differences::<Crowded, _>(&conn), []);
        let names: Vec<String> = Crowded::INDEXES.iter().map(|i| i.name(Crowded::TABLE)).collect();
        let sql = if backend(&conn) == "sqlite" {
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'crowded' \
             AND sql IS NOT NULL"
        } else {
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'crowded' \
             AND schemaname = current_schema() AND indexname <> 'crowded_pkey'"
        };
        #[derive(Model)]
        struct Count {
            id: i64,
        }
        let count = conn.rows::<Count>(sql, &[]);
        assert_eq!(count[0].id, 5, "{names:?}");
        Ok(())
    }

    fn cascade_deletes_children_and_set_null_clears_keys(conn) -> R {
        tracker(&conn)?;
        assert!(Project { id: 1, name: "p1".into() }.delete(&conn)?);
        assert_eq!(ids(&Issue::all(&conn)?), [3]);

        assert!(User { id: 1, name: "u1".into() }.delete(&conn)?);
        let left = Issue::all(&conn)?;
        assert_eq!(left[0].assignee, None);
        assert_eq!(left[0].project, ForeignKey::new(2));
        Ok(())
    }

    fn restrict_refuses_to_delete_a_parent_with_children(conn) -> R {
        tracker(&conn)?;
        Comment { id: 1, issue: ForeignKey::new(3), written_by: Some(ForeignKey::new(2)) }.insert(&conn)?;
        let err = issue(3, 2, 1, Some(1)).delete(&conn).unwrap_err();
        assert!(matches!(err, Error::Query { model: "Issue", .. }), "{err}");
        // Nor through a cascade from the project.
        assert!(Project { id: 2, name: "p2".into() }.delete(&conn).is_err());
        assert_eq!(ids(&Issue::all(&conn)?), [1, 2, 3]);
        // Without children the delete goes through.
        assert!(issue(2, 1, 2, None).delete(&conn)?);
        Ok(())
    }

    fn a_unique_violation_names_the_model_and_the_columns(conn) -> R {
        tracker(&conn)?;
        let expect = |err: Error, columns: &[&str]| {
            let code = err.sqlstate();
            match &err {
                Error::UniqueViolation { model: "Issue", table: "issues", columns: found, .. } => {
                    assert_eq!(&found[..], columns, "{err}");
                }
                other => panic!("expected a unique violation, got {other:?}"),
            }
            let expected = if backend(&conn) == "sqlite" { "2067" } else { "23505" };
            assert_eq!(code.as_deref(), Some(expected), "{err}");
            assert!(err.to_string().contains(&format!("({})", columns.join(", "))), "{err}");
        };
        // Same project and number, another slug.
        let mut twin = issue(4, 1, 2, None);
        twin.slug = "other".into();
        expect(twin.insert(&conn).unwrap_err(), &["project_id", "number"]);
        // Same slug.
        let mut slug = issue(4, 2, 9, None);
        slug.slug = "p1-1".into();
        expect(slug.insert(&conn).unwrap_err(), &["slug"]);
        // Through update and upsert too.
        let mut moved = issue(3, 1, 1, None);
        moved.slug = "moved".into();
        expect(moved.update(&conn).unwrap_err(), &["project_id", "number"]);
        assert_eq!(Issue::all(&conn)?.len(), 3);
        // The primary key is a unique constraint like the others.
        let err = Project { id: 1, name: "again".into() }.insert(&conn).unwrap_err();
        match &err {
            Error::UniqueViolation { model: "Project", table: "project", columns, .. } => {
                assert_eq!(&columns[..], ["id"], "{err}");
            }
            other => panic!("expected a unique violation, got {other:?}"),
        }
        let code = if backend(&conn) == "sqlite" { "1555" } else { "23505" };
        assert_eq!(err.sqlstate().as_deref(), Some(code));
        Ok(())
    }

    fn a_violated_constraint_is_found_by_name_not_by_reading_the_message(conn) -> R {
        // A comma in a column's name: the database's message alone is ambiguous.
        #[derive(Model, Debug)]
        #[model(unique(first, second))]
        struct Odd {
            id: i64,
            #[column(name = "a, b")]
            first: i64,
            #[column(name = "c")]
            second: i64,
        }
        Odd::create_table(&conn)?;
        Odd { id: 1, first: 1, second: 1 }.insert(&conn)?;
        let twin = Odd { id: 2, first: 1, second: 1 };
        match twin.insert(&conn).unwrap_err() {
            Error::UniqueViolation { columns, .. } => assert_eq!(&columns[..], ["a, b", "c"]),
            other => panic!("expected a unique violation, got {other:?}"),
        }
        Ok(())
    }

    fn defaults_fill_columns_a_raw_insert_leaves_out(conn) -> R {
        tracker(&conn)?;
        conn.exec(
            "INSERT INTO issues (id, project_id, number, title_text, slug, updated_at) \
             VALUES (10, 2, 10, 'raw', 'raw', 1)",
        )?;
        let raw = Issue::get(&conn, 10)?.expect("the raw row");
        assert!(raw.open);
        assert_eq!(raw.assignee, None);

        Settings::create_table(&conn)?;
        assert_eq!(differences::<Settings, _>(&conn), []);
        conn.exec("INSERT INTO settings (id) VALUES (1)")?;
        assert_eq!(
            Settings::get(&conn, 1)?,
            Some(Settings {
                id: 1,
                offset: -3,
                ratio: 1.5,
                label: "it's".into(),
                limit: Some(7),
                hidden: false,
            })
        );
        Ok(())
    }

    fn a_renamed_column_is_used_by_every_statement(conn) -> R {
        tracker(&conn)?;
        let f = Issue::fields();
        assert_eq!(f.title.name(), "title_text");
        let found = Issue::query().filter(f.title.eq("issue 2")).all(&conn)?;
        assert_eq!(ids(&found), [2]);
        let changed = Issue::query()
            .filter(f.title.eq("issue 1"))
            .update(&conn, [f.title.set("renamed")])?;
        assert_eq!(changed, 2);
        let by_sql = conn.rows::<Issue>(
            "SELECT id, project_id, assignee_id, number, title_text, slug, updated_at, open \
             FROM issues WHERE title_text = 'renamed' ORDER BY id",
            &[],
        );
        assert_eq!(ids(&by_sql), [1, 3]);
        let projects = Project::prefetch_issues(&conn, Project::all(&conn)?)?;
        assert_eq!(ids(&projects[0].1), [1, 2]);
        assert_eq!(projects[0].1[0].title, "renamed");

        // A renamed foreign-key column, both ways.
        Comment { id: 1, issue: ForeignKey::new(1), written_by: Some(ForeignKey::new(2)) }.insert(&conn)?;
        Comment { id: 2, issue: ForeignKey::new(1), written_by: None }.insert(&conn)?;
        let users = User::prefetch_comments(&conn, User::all(&conn)?)?;
        assert_eq!(users.iter().map(|(_, c)| ids(c)).collect::<Vec<_>>(), [vec![], vec![1]]);
        let authors = Comment::load_written_by(&conn, &Comment::all(&conn)?)?;
        assert_eq!(authors.iter().map(|u| u.as_ref().map(|u| u.id)).collect::<Vec<_>>(), [Some(2), None]);
        let g = Comment::fields();
        assert_eq!(Comment::query().filter(g.written_by.is_null()).count(&conn)?, 1);
        // Joins, relation filters, annotations and projections too.
        let joined: Vec<(Comment, Option<User>)> = Comment::query().join(g.written_by).all(&conn)?;
        assert_eq!(joined.iter().map(|(_, u)| u.as_ref().map(|u| u.id)).collect::<Vec<_>>(), [Some(2), None]);
        let commenters = User::query().filter(User::COMMENTS.exists()).all(&conn)?;
        assert_eq!(ids(&commenters), [2]);
        let counted = Project::query().annotate(Project::ISSUES.count()).all(&conn)?;
        assert_eq!(counted.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [2, 1]);
        let titles: Vec<(i64, String)> =
            Issue::query().filter(f.project.has(Project::fields().name.eq("p2"))).select((f.id, f.title)).all(&conn)?;
        assert_eq!(titles, [(3, "renamed".to_string())]);

        // A table with the field's name instead of the column's.
        conn.exec("DROP TABLE comment")?;
        conn.exec("ALTER TABLE issues RENAME COLUMN title_text TO title")?;
        assert_eq!(
            differences::<Issue, _>(&conn),
            [
                Difference::MissingColumn("title_text".into()),
                Difference::ExtraColumn("title".into()),
            ]
        );
        match Issue::all(&conn).unwrap_err() {
            Error::NoSuchColumn { model, column, .. } => {
                assert_eq!((model, column.as_str()), ("Issue", "title_text"));
            }
            other => panic!("expected NoSuchColumn, got {other:?}"),
        }
        Ok(())
    }

    fn check_table_lists_each_missing_constraint(conn) -> R {
        enforce_foreign_keys(&conn)?;
        Project::create_table(&conn)?;
        User::create_table(&conn)?;
        let boolean = if backend(&conn) == "sqlite" { "INTEGER" } else { "BOOLEAN" };
        // The columns and foreign keys, without unique constraints, indexes,
        // default or ON DELETE.
        conn.exec(&format!(
            "CREATE TABLE issues (id BIGINT PRIMARY KEY, \
             project_id BIGINT NOT NULL REFERENCES project (id), \
             assignee_id BIGINT REFERENCES users (id), number BIGINT NOT NULL, \
             title_text TEXT NOT NULL, slug TEXT NOT NULL, updated_at BIGINT NOT NULL, \
             open {boolean} NOT NULL); \
             CREATE INDEX issues_project_id_idx6 ON issues (project_id); \
             CREATE INDEX issues_assignee_id_idx6 ON issues (assignee_id)"
        ))?;
        let (default, found_action) = if backend(&conn) == "sqlite" {
            ("1", "NO ACTION")
        } else {
            ("TRUE", "NO ACTION")
        };
        let on_delete = |column: &str, expected| Difference::OnDelete {
            column: column.into(),
            expected,
            found: found_action.into(),
        };
        let default_missing = Difference::Default {
            column: "open".into(),
            expected: Some(default.into()),
            found: None,
        };
        let columns = |c: &[&str]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            differences::<Issue, _>(&conn),
            [
                on_delete("project_id", OnDelete::Cascade),
                on_delete("assignee_id", OnDelete::SetNull),
                default_missing.clone(),
                Difference::MissingUnique {
                    columns: columns(&["project_id", "number"]),
                    index: "issues_project_id_number_key6_10".into(),
                },
                Difference::MissingIndexOn {
                    columns: columns(&["project_id", "updated_at"]),
                    index: "issues_project_id_updated_at_idx6_10".into(),
                },
                Difference::MissingUnique {
                    columns: columns(&["slug"]),
                    index: "issues_slug_key6".into(),
                },
                Difference::MissingIndexOn {
                    columns: columns(&["updated_at"]),
                    index: "issues_updated_at_idx6".into(),
                },
            ]
        );
        let message = Issue::check_table(&conn).unwrap_err().to_string();
        for line in [
            "- foreign key `project_id` is ON DELETE NO ACTION, the field's is ON DELETE CASCADE",
            "- no unique constraint on (project_id, number) (create_table would make `issues_project_id_number_key6_10`)",
            "- no index on (updated_at) (create_table would make `issues_updated_at_idx6`)",
        ] {
            assert!(message.contains(line), "{line}\nnot in\n{message}");
        }
        assert!(message.contains(&format!("- column `open` has no default, the field's is {default}")), "{message}");
        // create_table adds the indexes to the existing table; the rest needs
        // the table rebuilt.
        Issue::create_table(&conn)?;
        assert_eq!(
            differences::<Issue, _>(&conn),
            [
                on_delete("project_id", OnDelete::Cascade),
                on_delete("assignee_id", OnDelete::SetNull),
                default_missing,
            ]
        );
        // A default the model does not have is a difference too.
        conn.exec("DROP TABLE issues")?;
        conn.exec(&format!(
            "CREATE TABLE issues (id BIGINT PRIMARY KEY, \
             project_id BIGINT NOT NULL REFERENCES project (id) ON DELETE CASCADE, \
             assignee_id BIGINT REFERENCES users (id) ON DELETE SET NULL, \
             number BIGINT NOT NULL DEFAULT 0, \
             title_text TEXT NOT NULL, slug TEXT NOT NULL, updated_at BIGINT NOT NULL, \
             open {boolean} NOT NULL DEFAULT {}); ",
            if backend(&conn) == "sqlite" { "0" } else { "false" }
        ))?;
        Issue::create_table(&conn)?;
        let found = differences::<Issue, _>(&conn);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(matches!(&found[0], Difference::Default { column, expected: None, found: Some(_) } if column == "number"), "{found:?}");
        assert!(matches!(&found[1], Difference::Default { column, expected: Some(_), found: Some(_) } if column == "open"), "{found:?}");
        Ok(())
    }
}
