//! The issue tracker's pages (`examples/tracker.rs`) against the same pages
//! written by hand, on a file database (and with `-- --postgres` on
//! PostgreSQL too).
//!
//! `cargo bench --bench page` builds the data once (in `target/bench-data/`),
//! then times, round-robin in a new order each round, the project page (20
//! issues with project and assignee joined, comment counts, labels, the 3
//! latest comments with their authors) and the dashboard (projects by open
//! issues, with their last activity), each through the library and by hand
//! with the same statements a careful engineer would write, and prints
//! medians, their ratio and statement counts. `-- --smoke` runs tiny data
//! once, for CI; `-- --rounds=N` sets the rounds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orm_core::rusqlite::{params_from_iter, Connection, OpenFlags};
use orm_core::{count_queries, ForeignKey, Model, Recordable};

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

#[derive(Model, Debug, Clone, PartialEq)]
struct Issue {
    id: i64,
    #[foreign_key(related_name = "issues")]
    project: ForeignKey<Project>,
    #[foreign_key(related_name = "assigned")]
    assignee: Option<ForeignKey<User>>,
    title: String,
    open: bool,
    updated_at: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Comment {
    id: i64,
    #[foreign_key(related_name = "comments")]
    issue: ForeignKey<Issue>,
    #[foreign_key(related_name = "comments")]
    author: ForeignKey<User>,
    body: String,
    created_at: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Label {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct IssueLabel {
    id: i64,
    #[foreign_key(many_to_many = "labels")]
    issue: ForeignKey<Issue>,
    #[foreign_key(many_to_many = "issues")]
    label: ForeignKey<Label>,
}

/// One row of the project page.
#[derive(Debug, PartialEq)]
struct Row {
    issue: Issue,
    project: Project,
    assignee: Option<User>,
    comments: u64,
    labels: Vec<Label>,
    latest: Vec<(Comment, User)>,
}

type Board = Vec<(Project, (u64, Option<i64>))>;

/// How much data: projects, issues (a third of them in project 1, whose
/// page is timed), comments.
struct Size {
    projects: i64,
    issues: i64,
    comments: i64,
}

const FULL: Size = Size {
    projects: 50,
    issues: 100_000,
    comments: 400_000,
};
const SMOKE: Size = Size {
    projects: 5,
    issues: 300,
    comments: 1_200,
};

/// The data, as `INSERT ... SELECT` over a series, the same rows on both
/// backends: `series(n)` is a table `s(i)` of 1..=n in the dialect's spelling.
fn data_sql(size: &Size, series: impl Fn(i64) -> String, truth: (&str, &str)) -> Vec<String> {
    let (yes, no) = truth;
    vec![
        format!(
            "INSERT INTO project (id, name) SELECT i, 'project ' || i FROM {}",
            series(size.projects)
        ),
        format!(
            "INSERT INTO users (id, name) SELECT i, 'user ' || i FROM {}",
            series(40)
        ),
        format!(
            "INSERT INTO label (id, name) SELECT i, 'label ' || i FROM {}",
            series(12)
        ),
        format!(
            "INSERT INTO issue (id, project_id, assignee_id, title, open, updated_at) \
             SELECT i, CASE WHEN i % 3 = 0 THEN 1 ELSE 2 + i % ({p} - 1) END, \
             CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 40 END, 'issue ' || i, \
             CASE WHEN i % 5 = 0 THEN {no} ELSE {yes} END, (i * 7919) % 1000003 FROM {s}",
            p = size.projects,
            s = series(size.issues)
        ),
        format!(
            "INSERT INTO comment (id, issue_id, author_id, body, created_at) \
             SELECT i, 1 + (i * 104729) % {n}, 1 + i % 40, 'comment ' || i, i FROM {s}",
            n = size.issues,
            s = series(size.comments)
        ),
        format!(
            "INSERT INTO issue_label (id, issue_id, label_id) \
             SELECT i, 1 + (i - 1) / 2, 1 + (i * 7) % 12 FROM {s} WHERE i % 4 <> 0",
            s = series(size.issues * 2)
        ),
    ]
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

fn create_tables(conn: &impl orm_core::Db) -> orm_core::Result<()> {
    Project::create_table(conn)?;
    User::create_table(conn)?;
    Issue::create_table(conn)?;
    Comment::create_table(conn)?;
    Label::create_table(conn)?;
    IssueLabel::create_table(conn)
}

fn sqlite(size: &Size, name: &str) -> Result<Connection, Box<dyn std::error::Error>> {
    let dir = data_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("tracker-{name}-v1.sqlite3"));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let conn = Connection::open(&tmp)?;
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        create_tables(&conn)?;
        let series = |n: i64| {
            format!("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s) AS s")
        };
        for sql in data_sql(size, series, ("1", "0")) {
            conn.execute_batch(&sql)?;
        }
        conn.execute_batch("ANALYZE")?;
        drop(conn);
        std::fs::rename(&tmp, &path)?;
    }
    Ok(Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?)
}

// ---- the pages, through the library -----------------------------------------

fn page(conn: &impl orm_core::Db, project: i64) -> orm_core::Result<Vec<Row>> {
    let i = Issue::fields();
    let c = Comment::fields();
    let rows = Issue::query()
        .filter(i.project.eq(ForeignKey::new(project)) & i.open.eq(true))
        .order_by(i.updated_at.desc())
        .limit(20)
        .join(i.project)
        .join(i.assignee)
        .annotate(Issue::COMMENTS.count())
        .all(conn)?;
    let issues: Vec<Issue> = rows.iter().map(|row| row.0.clone()).collect();
    let labels = Issue::load_labels(conn, &issues)?;
    let latest = Issue::load_comments_with(
        conn,
        &issues,
        Comment::query()
            .order_by(c.created_at.desc())
            .limit(3)
            .join(c.author),
    )?;
    Ok(rows
        .into_iter()
        .zip(labels)
        .zip(latest)
        .map(
            |(((issue, project, assignee, comments), labels), latest)| Row {
                issue,
                project,
                assignee,
                comments,
                labels,
                latest,
            },
        )
        .collect())
}

fn board(conn: &impl orm_core::Db) -> orm_core::Result<Board> {
    let i = Issue::fields();
    let open = || Project::ISSUES.filter(i.open.eq(true));
    Project::query()
        .annotate((open().count(), Project::ISSUES.max(i.updated_at)))
        .order_by(open().count().desc())
        .all(conn)
}

// ---- the same pages by hand, on rusqlite --------------------------------------

const PAGE_ISSUES: &str =
    "SELECT i.id, i.project_id, i.assignee_id, i.title, i.open, i.updated_at, \
     p.id, p.name, u.id, u.name, \
     (SELECT count(*) FROM comment c WHERE c.issue_id = i.id) \
     FROM issue i JOIN project p ON p.id = i.project_id LEFT JOIN users u ON u.id = i.assignee_id \
     WHERE i.project_id = ?1 AND i.open = ?2 ORDER BY i.updated_at DESC, i.id LIMIT 20";

const BOARD: &str = "SELECT p.id, p.name, \
     (SELECT count(*) FROM issue i WHERE i.project_id = p.id AND i.open = ?1) AS n, \
     (SELECT max(i.updated_at) FROM issue i WHERE i.project_id = p.id) \
     FROM project p ORDER BY n DESC, p.id";

/// `(?, ?, ...)` for `n` values.
fn marks(n: usize, dollar: bool) -> String {
    let marks: Vec<String> = (1..=n)
        .map(|k| if dollar { format!("${k}") } else { "?".into() })
        .collect();
    format!("({})", marks.join(", "))
}

fn labels_sql(n: usize, dollar: bool) -> String {
    format!(
        "SELECT il.issue_id, l.id, l.name FROM issue_label il JOIN label l ON l.id = il.label_id \
         WHERE il.issue_id IN {} ORDER BY l.id",
        marks(n, dollar)
    )
}

fn latest_sql(n: usize, dollar: bool) -> String {
    format!(
        "SELECT id, issue_id, author_id, body, created_at, u_id, u_name FROM \
         (SELECT c.id, c.issue_id, c.author_id, c.body, c.created_at, u.id AS u_id, u.name AS u_name, \
          row_number() OVER (PARTITION BY c.issue_id ORDER BY c.created_at DESC, c.id) AS rn \
          FROM comment c JOIN users u ON u.id = c.author_id WHERE c.issue_id IN {}) AS w \
         WHERE rn <= 3 ORDER BY issue_id, rn",
        marks(n, dollar)
    )
}

fn hand_page_sqlite(conn: &Connection, project: i64) -> orm_core::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(PAGE_ISSUES)?;
    let mut rows: Vec<Row> = stmt
        .query_map((project, true), |r| {
            let assignee: Option<i64> = r.get(8)?;
            Ok(Row {
                issue: Issue {
                    id: r.get(0)?,
                    project: ForeignKey::new(r.get(1)?),
                    assignee: r.get::<_, Option<i64>>(2)?.map(ForeignKey::new),
                    title: r.get(3)?,
                    open: r.get(4)?,
                    updated_at: r.get(5)?,
                },
                project: Project {
                    id: r.get(6)?,
                    name: r.get(7)?,
                },
                assignee: match assignee {
                    Some(id) => Some(User {
                        id,
                        name: r.get(9)?,
                    }),
                    None => None,
                },
                comments: r.get::<_, i64>(10)? as u64,
                labels: Vec::new(),
                latest: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(rows);
    }
    let at: HashMap<i64, usize> = rows
        .iter()
        .enumerate()
        .map(|(k, r)| (r.issue.id, k))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.issue.id).collect();
    let mut stmt = conn.prepare_cached(&labels_sql(ids.len(), false))?;
    let mut q = stmt.query(params_from_iter(&ids))?;
    while let Some(r) = q.next()? {
        let issue: i64 = r.get(0)?;
        rows[at[&issue]].labels.push(Label {
            id: r.get(1)?,
            name: r.get(2)?,
        });
    }
    let mut stmt = conn.prepare_cached(&latest_sql(ids.len(), false))?;
    let mut q = stmt.query(params_from_iter(&ids))?;
    while let Some(r) = q.next()? {
        let issue: i64 = r.get(1)?;
        rows[at[&issue]].latest.push((
            Comment {
                id: r.get(0)?,
                issue: ForeignKey::new(issue),
                author: ForeignKey::new(r.get(2)?),
                body: r.get(3)?,
                created_at: r.get(4)?,
            },
            User {
                id: r.get(5)?,
                name: r.get(6)?,
            },
        ));
    }
    Ok(rows)
}

fn hand_board_sqlite(conn: &Connection) -> orm_core::Result<Board> {
    let mut stmt = conn.prepare_cached(BOARD)?;
    let rows = stmt
        .query_map([true], |r| {
            Ok((
                Project {
                    id: r.get(0)?,
                    name: r.get(1)?,
                },
                (r.get::<_, i64>(2)? as u64, r.get(3)?),
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

// ---- timing -----------------------------------------------------------------

type Run<C> = Box<dyn Fn(&C) -> orm_core::Result<usize>>;

struct Variant<C> {
    name: &'static str,
    run: Run<C>,
    /// Statements per call, where `count_queries` cannot see them (the
    /// hand-written PostgreSQL code uses the driver's client directly).
    statements: Option<usize>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `variants` round-robin, in a new order each round (a simple
/// xorshift shuffles), after two warm-up rounds; prints medians, the ratio of
/// each pair (library ÷ hand-written) and statements per call.
fn measure<C: Recordable>(
    backend: &str,
    conn: &mut C,
    variants: &[Variant<C>],
    rounds: usize,
) -> orm_core::Result<()> {
    let mut times = vec![Vec::new(); variants.len()];
    let mut order: Vec<usize> = (0..variants.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..rounds + 2 {
        for k in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(k, (seed % (k as u64 + 1)) as usize);
        }
        for &v in &order {
            let start = Instant::now();
            std::hint::black_box((variants[v].run)(conn)?);
            if round >= 2 {
                times[v].push(start.elapsed());
            }
        }
    }
    println!("{backend}: {rounds} rounds, medians");
    println!("| variant | ms | statements | × hand-written |");
    println!("|---|---:|---:|---:|");
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    for (v, variant) in variants.iter().enumerate() {
        let (out, counted) = count_queries(conn, |conn| (variant.run)(conn));
        out?;
        let statements = variant.statements.unwrap_or(counted);
        // Variants come in pairs: the library's, then the hand-written one.
        let pair = if v % 2 == 0 { v + 1 } else { v };
        let ratio = medians[v].as_secs_f64() / medians[pair].as_secs_f64();
        println!(
            "| {} | {:.3} | {statements} | {ratio:.2} |",
            variant.name,
            medians[v].as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let rounds = args
        .iter()
        .find_map(|a| a.strip_prefix("--rounds="))
        .map_or(Ok(if smoke { 1 } else { 30 }), str::parse)?;
    let size = if smoke { &SMOKE } else { &FULL };

    let mut conn = sqlite(size, if smoke { "smoke" } else { "full" })?;
    // The two ways agree before anything is timed.
    assert_eq!(page(&conn, 1)?, hand_page_sqlite(&conn, 1)?);
    assert_eq!(board(&conn)?, hand_board_sqlite(&conn)?);
    let variants: Vec<Variant<Connection>> = vec![
        Variant {
            name: "project page, orm",
            run: Box::new(|c| page(c, 1).map(|r| r.len())),
            statements: None,
        },
        Variant {
            name: "project page, hand-written",
            run: Box::new(|c| hand_page_sqlite(c, 1).map(|r| r.len())),
            statements: None,
        },
        Variant {
            name: "dashboard, orm",
            run: Box::new(|c| board(c).map(|r| r.len())),
            statements: None,
        },
        Variant {
            name: "dashboard, hand-written",
            run: Box::new(|c| hand_board_sqlite(c).map(|r| r.len())),
            statements: None,
        },
    ];
    measure("SQLite", &mut conn, &variants, rounds)?;

    if args.iter().any(|a| a == "--postgres") {
        #[cfg(feature = "postgres")]
        pg::run(size, rounds)?;
        #[cfg(not(feature = "postgres"))]
        return Err("--postgres needs the postgres feature: \
                    cargo bench --bench page --features postgres -- --postgres"
            .into());
    }
    Ok(())
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use orm_core::postgres::Statement;
    use orm_core::Postgres;

    /// The hand-written pages' statements, prepared once, as a careful
    /// engineer keeps them.
    #[derive(Clone)]
    struct Prepared {
        issues: Statement,
        labels: Statement,
        latest: Statement,
        board: Statement,
    }

    impl Prepared {
        fn new(pg: &Postgres) -> orm_core::Result<Self> {
            let mut client = pg.client();
            // The keys as one array: `IN (SELECT unnest($1))`, one text for any count.
            let any = |sql: String| sql.replace(&marks(1, true), "(SELECT unnest($1::bigint[]))");
            Ok(Prepared {
                issues: client.prepare(&PAGE_ISSUES.replace("?1", "$1").replace("?2", "$2"))?,
                labels: client.prepare(&any(labels_sql(1, true)))?,
                latest: client.prepare(&any(latest_sql(1, true)))?,
                board: client.prepare(&BOARD.replace("?1", "$1"))?,
            })
        }
    }

    fn hand_page(pg: &Postgres, prepared: &Prepared, project: i64) -> orm_core::Result<Vec<Row>> {
        let mut client = pg.client();
        let mut rows: Vec<Row> = client
            .query(&prepared.issues, &[&project, &true])?
            .iter()
            .map(|r| Row {
                issue: Issue {
                    id: r.get(0),
                    project: ForeignKey::new(r.get(1)),
                    assignee: r.get::<_, Option<i64>>(2).map(ForeignKey::new),
                    title: r.get(3),
                    open: r.get(4),
                    updated_at: r.get(5),
                },
                project: Project {
                    id: r.get(6),
                    name: r.get(7),
                },
                assignee: r
                    .get::<_, Option<i64>>(8)
                    .map(|id| User { id, name: r.get(9) }),
                comments: r.get::<_, i64>(10) as u64,
                labels: Vec::new(),
                latest: Vec::new(),
            })
            .collect();
        if rows.is_empty() {
            return Ok(rows);
        }
        let at: HashMap<i64, usize> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| (r.issue.id, k))
            .collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.issue.id).collect();
        for r in client.query(&prepared.labels, &[&ids])? {
            let issue: i64 = r.get(0);
            rows[at[&issue]].labels.push(Label {
                id: r.get(1),
                name: r.get(2),
            });
        }
        for r in client.query(&prepared.latest, &[&ids])? {
            let issue: i64 = r.get(1);
            rows[at[&issue]].latest.push((
                Comment {
                    id: r.get(0),
                    issue: ForeignKey::new(issue),
                    author: ForeignKey::new(r.get(2)),
                    body: r.get(3),
                    created_at: r.get(4),
                },
                User {
                    id: r.get(5),
                    name: r.get(6),
                },
            ));
        }
        Ok(rows)
    }

    fn hand_board(pg: &Postgres, prepared: &Prepared) -> orm_core::Result<Board> {
        let mut client = pg.client();
        Ok(client
            .query(&prepared.board, &[&true])?
            .iter()
            .map(|r| {
                (
                    Project {
                        id: r.get(0),
                        name: r.get(1),
                    },
                    (r.get::<_, i64>(2) as u64, r.get(3)),
                )
            })
            .collect())
    }

    pub(super) fn run(size: &Size, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
        let url = std::env::var("ORM_POSTGRES_URL").map_err(|_| {
            "--postgres needs a server in ORM_POSTGRES_URL: run under scripts/with-postgres"
        })?;
        let mut pg = Postgres::connect(&url)?;
        let schema = format!("bench_page_{}", size.issues);
        let exists: bool = pg.query(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )?[0]
            .get(0);
        if !exists {
            pg.batch_execute(&format!(
                "CREATE SCHEMA {schema}; SET search_path TO {schema}"
            ))?;
            create_tables(&pg)?;
            let series = |n: i64| format!("generate_series(1::bigint, {n}) AS s(i)");
            for sql in data_sql(size, series, ("TRUE", "FALSE")) {
                pg.batch_execute(&sql)?;
            }
            pg.batch_execute("ANALYZE")?;
        } else {
            pg.batch_execute(&format!("SET search_path TO {schema}"))?;
        }
        let prepared = Prepared::new(&pg)?;
        assert_eq!(page(&pg, 1)?, hand_page(&pg, &prepared, 1)?);
        assert_eq!(board(&pg)?, hand_board(&pg, &prepared)?);
        let (p1, p2) = (prepared.clone(), prepared);
        let variants: Vec<Variant<Postgres>> = vec![
            Variant {
                name: "project page, orm",
                run: Box::new(|c| page(c, 1).map(|r| r.len())),
                statements: None,
            },
            Variant {
                name: "project page, hand-written",
                run: Box::new(move |c| hand_page(c, &p1, 1).map(|r| r.len())),
                statements: Some(3),
            },
            Variant {
                name: "dashboard, orm",
                run: Box::new(|c| board(c).map(|r| r.len())),
                statements: None,
            },
            Variant {
                name: "dashboard, hand-written",
                run: Box::new(move |c| hand_board(c, &p2).map(|r| r.len())),
                statements: Some(1),
            },
        ];
        Ok(measure("PostgreSQL", &mut pg, &variants, rounds)?)
    }
}
