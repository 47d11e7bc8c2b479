//! An issue tracker's two busiest pages, each in a fixed number of statements
//! at any data size: `cargo run --example tracker`.
//!
//! - The project page: the project's 20 most recently updated open issues,
//!   each with its project and assignee (joined), its labels, its comment
//!   count (an annotation) and its 3 latest comments with their authors
//!   (joined): 3 statements.
//! - The dashboard: every project ordered by its number of open issues, with
//!   its last activity: 1 statement.
//!
//! Both pages are built twice, on a small and on a 20 times larger database,
//! and print how many statements they ran; the counts are the same.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, ForeignKey, Model};

#[derive(Model, Debug, Clone, PartialEq)]
struct Project {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
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

/// The junction of issues and labels: `issue.labels(..)`, `Issue::LABELS`.
#[derive(Model, Debug, Clone, PartialEq)]
struct IssueLabel {
    id: i64,
    #[foreign_key(many_to_many = "labels")]
    issue: ForeignKey<Issue>,
    #[foreign_key(many_to_many = "issues")]
    label: ForeignKey<Label>,
}

/// One row of the project page.
struct IssueRow {
    issue: Issue,
    project: Project,
    assignee: Option<User>,
    comments: u64,
    labels: Vec<Label>,
    latest: Vec<(Comment, User)>,
}

/// The project page: 3 statements, whatever the number of issues, labels
/// and comments.
fn project_page(conn: &Connection, project: i64) -> orm_core::Result<Vec<IssueRow>> {
    let i = Issue::fields();
    let c = Comment::fields();
    // 1: the issues, their project and assignee joined, their comments counted.
    let rows = Issue::query()
        .filter(i.project.eq(ForeignKey::new(project)) & i.open.eq(true))
        .order_by(i.updated_at.desc())
        .limit(20)
        .join(i.project)
        .join(i.assignee)
        .annotate(Issue::COMMENTS.count())
        .all(conn)?;
    let issues: Vec<Issue> = rows.iter().map(|row| row.0.clone()).collect();
    // 2: every issue's labels, through the junction.
    let labels = Issue::load_labels(conn, &issues)?;
    // 3: every issue's 3 latest comments, each with its author joined.
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
            |(((issue, project, assignee, comments), labels), latest)| IssueRow {
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

/// A dashboard row: a project, its open issues, its last activity.
type Board = (Project, (u64, Option<i64>));

/// The dashboard: 1 statement.
fn dashboard(conn: &Connection) -> orm_core::Result<Vec<Board>> {
    let i = Issue::fields();
    let open = || Project::ISSUES.filter(i.open.eq(true));
    Project::query()
        .annotate((open().count(), Project::ISSUES.max(i.updated_at)))
        .order_by(open().count().desc())
        .all(conn)
}

/// A database with `scale` times the base data: 5 projects, 8 users, 4
/// labels, 60 issues and 300 comments per unit of scale.
fn seed(scale: i64) -> orm_core::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    Project::create_table(&conn)?;
    User::create_table(&conn)?;
    Issue::create_table(&conn)?;
    Comment::create_table(&conn)?;
    Label::create_table(&conn)?;
    IssueLabel::create_table(&conn)?;
    let tx = conn.unchecked_transaction()?;
    let projects: Vec<Project> = (1..=5)
        .map(|id| Project {
            id,
            name: ["Compiler", "Docs", "Website", "Cargo", "Clippy"][id as usize - 1].into(),
        })
        .collect();
    Project::insert_all(&tx, &projects)?;
    let users: Vec<User> = (1..=8)
        .map(|id| User {
            id,
            name: format!("user{id}"),
        })
        .collect();
    User::insert_all(&tx, &users)?;
    let labels: Vec<Label> = ["bug", "feature", "docs", "good first issue"]
        .iter()
        .zip(1..)
        .map(|(name, id)| Label {
            id,
            name: (*name).into(),
        })
        .collect();
    Label::insert_all(&tx, &labels)?;
    let issues: Vec<Issue> = (1..=60 * scale)
        .map(|id| Issue {
            id,
            // Project 5 gets no issue: the dashboard shows it last, with none.
            project: ForeignKey::new([1, 1, 1, 2, 2, 3, 4][(id % 7) as usize]),
            assignee: (id % 3 != 0).then(|| ForeignKey::new(1 + id % 8)),
            title: format!("issue #{id}"),
            open: id % 5 != 0 && id % 7 != 2,
            updated_at: (id * 7919) % 10_007,
        })
        .collect();
    Issue::insert_all(&tx, &issues)?;
    let comments: Vec<Comment> = (1..=300 * scale)
        .map(|id| Comment {
            id,
            issue: ForeignKey::new(1 + (id * id) % (60 * scale)),
            author: ForeignKey::new(1 + id % 8),
            body: format!("comment {id}"),
            created_at: id,
        })
        .collect();
    Comment::insert_all(&tx, &comments)?;
    let tags: Vec<IssueLabel> = (1..=60 * scale)
        .flat_map(|issue| {
            (0..issue % 3).map(move |k| IssueLabel {
                id: issue * 3 + k,
                issue: ForeignKey::new(issue),
                label: ForeignKey::new(1 + (issue + k) % 4),
            })
        })
        .collect();
    IssueLabel::insert_all(&tx, &tags)?;
    tx.commit()?;
    Ok(conn)
}

fn main() -> orm_core::Result<()> {
    for scale in [1, 20] {
        let mut conn = seed(scale)?;
        println!("== {} issues, {} comments", 60 * scale, 300 * scale);

        let (page, statements) = count_queries(&mut conn, |conn| project_page(conn, 1));
        let page = page?;
        println!(
            "-- project page: {} issues in {statements} statements",
            page.len()
        );
        for row in page.iter().take(if scale == 1 { 5 } else { 2 }) {
            let labels: Vec<&str> = row.labels.iter().map(|l| l.name.as_str()).collect();
            println!(
                "  {} [{}] {} (updated {}) assignee {} labels {:?}, {} comments",
                row.issue.title,
                row.project.name,
                if row.issue.open { "open" } else { "closed" },
                row.issue.updated_at,
                row.assignee.as_ref().map_or("-", |u| u.name.as_str()),
                labels,
                row.comments,
            );
            for (comment, author) in &row.latest {
                println!("      {}: {}", author.name, comment.body);
            }
        }
        assert!(
            page.len() <= 20
                && page
                    .windows(2)
                    .all(|w| w[0].issue.updated_at >= w[1].issue.updated_at)
        );
        assert!(
            statements <= 4,
            "the project page took {statements} statements"
        );

        let (board, statements) = count_queries(&mut conn, |conn| dashboard(conn));
        let board = board?;
        println!(
            "-- dashboard: {} projects in {statements} statement",
            board.len()
        );
        for (project, (open, last)) in &board {
            let last = last.map_or_else(|| "never".to_owned(), |t| t.to_string());
            println!(
                "  {:<9} {open:>4} open issues, last activity {last}",
                project.name
            );
        }
        assert_eq!(statements, 1);
        assert!(board.windows(2).all(|w| w[0].1 .0 >= w[1].1 .0));
    }
    Ok(())
}
