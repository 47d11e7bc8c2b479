//! Migrations generated from the models, as Django's `makemigrations` and
//! `migrate` do: text files in your repository, one set for every backend.
//!
//! - **make**: a small binary of your crate lists the models and calls
//!   [`manage`]; `cargo run --bin manage -- makemigrations` compares the
//!   models with the state the existing files build and writes the next
//!   file (`migrations/0002_auto.migration`), or says there is nothing to do.
//!   `--check` writes nothing and fails when a migration is missing, for CI.
//! - **apply**: [`migrations!`](crate::migrations) embeds the files at
//!   compile time; [`Migrations::apply`] runs the pending ones in order, each
//!   in a transaction of its own, and records them with a checksum;
//!   [`Migrations::check`] lists what is pending or differs.
//!
//! ```
//! use orm_core::migrate::{self, Migration, Migrations, TableDef};
//! use orm_core::{ForeignKey, Model};
//!
//! #[derive(Model)]
//! struct Project { id: i64, name: String }
//!
//! #[derive(Model)]
//! struct Issue {
//!     #[primary_key(auto)]
//!     id: i64,
//!     #[foreign_key(related_name = "issues", on_delete = "cascade")]
//!     project: ForeignKey<Project>,
//!     #[column(default = true)]
//!     open: bool,
//! }
//!
//! // What `makemigrations` writes for a first migration...
//! let models = [TableDef::of::<Project>(), TableDef::of::<Issue>()];
//! let first = migrate::make(&[], &models)?.expect("a first migration");
//! assert!(first.starts_with("create_table \"project\""));
//! // ...and applies: usually `static MIGRATIONS: Migrations = orm_core::migrations!("migrations");`
//! let files = [Migration::new("0001_initial", &first)];
//! let migrations = Migrations::from_files(&files);
//! let conn = orm_core::rusqlite::Connection::open_in_memory()?;
//! assert_eq!(migrations.apply(&conn)?, ["0001_initial"]);
//! assert!(migrations.apply(&conn)?.is_empty());
//! migrations.check(&conn)?;
//! Issue::check_table(&conn)?;
//! // Nothing changed: nothing to write.
//! assert_eq!(migrate::make(&files, &models)?, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod ddl;
mod def;
mod ops;
mod text;

use std::borrow::Cow;
use std::fmt;

pub use def::{ColumnDef, Default, IndexDef, Reference, TableDef};
pub use ops::{diff, Op, Refusal, State};
pub use text::{parse, write};

use crate::backend::{Ctx, Exec, ScopeKind};
use crate::db::{Database, Out, Plan};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::exec;
use crate::statement::Shape;

/// The table that records applied migrations.
pub const TABLE: &str = "orm_migrations";

/// One migration file: its name (the file name without `.migration`) and
/// its text.
#[derive(Debug, Clone)]
pub struct Migration {
    name: Cow<'static, str>,
    text: Cow<'static, str>,
}

impl Migration {
    /// A migration from a name and a text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Migration {
            name: Cow::Owned(name.into()),
            text: Cow::Owned(text.into()),
        }
    }

    #[doc(hidden)]
    pub const fn __embedded(name: &'static str, text: &'static str) -> Self {
        Migration {
            name: Cow::Borrowed(name),
            text: Cow::Borrowed(text),
        }
    }

    /// The name, as recorded when applied.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The checksum recorded when applied: FNV-1a of the text, in hex,
    /// stable across builds and platforms. Line endings do not count (a
    /// checkout that writes `\r\n` has the same migration).
    pub fn checksum(&self) -> String {
        let hash = self
            .text
            .bytes()
            .filter(|&b| b != b'\r')
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        format!("{hash:016x}")
    }

    fn ops(&self) -> Result<Vec<Op>> {
        parse(&self.text).map_err(|reason| Error::Migration {
            migration: self.name.to_string(),
            reason,
        })
    }
}

/// The migrations of an application, in order: usually
/// `static MIGRATIONS: Migrations = orm_core::migrations!("migrations");`.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    files: &'static [Migration],
}

/// What one applied migration recorded.
#[derive(crate::Model, Debug, Clone, PartialEq)]
#[model(table = "orm_migrations")]
pub(crate) struct Applied {
    #[primary_key]
    name: String,
    checksum: String,
}

impl Migrations {
    #[doc(hidden)]
    pub const fn __embedded(files: &'static [Migration]) -> Self {
        Migrations { files }
    }

    /// Migrations from files read some other way, in order.
    pub fn from_files(files: &[Migration]) -> BorrowedMigrations<'_> {
        BorrowedMigrations { files }
    }

    /// The migration files, in order.
    pub fn files(&self) -> &'static [Migration] {
        self.files
    }

    /// Applies every pending migration, in order, each in a transaction of
    /// its own (on SQLite `BEGIN IMMEDIATE`, with foreign keys checked before
    /// it commits; on PostgreSQL under an advisory lock), and returns their
    /// names. Another process applying at the same time waits, then finds
    /// them applied. An applied migration whose file changed since is
    /// [`Error::Migration`], and nothing runs.
    pub fn apply<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Vec<String>> {
        db.__run(Apply { files: self.files })
    }

    /// `Ok` when every migration is applied, unchanged, and every table the
    /// migrations build matches the database; else [`Error::Migration`]
    /// listing each pending migration, changed file and difference.
    pub fn check<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, ()> {
        db.__run(Check { files: self.files })
    }

    /// The tables the migrations build, in the end.
    pub fn state(&self) -> Result<State> {
        state(self.files)
    }
}

/// [`Migrations`] over files that are not `'static`.
#[derive(Debug, Clone, Copy)]
pub struct BorrowedMigrations<'a> {
    files: &'a [Migration],
}

impl BorrowedMigrations<'_> {
    /// See [`Migrations::apply`].
    pub fn apply<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Vec<String>> {
        db.__run(Apply { files: self.files })
    }

    /// See [`Migrations::check`].
    pub fn check<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, ()> {
        db.__run(Check { files: self.files })
    }

    /// See [`Migrations::state`].
    pub fn state(&self) -> Result<State> {
        state(self.files)
    }
}

/// The state `files` build, checking that each operation applies.
pub fn state(files: &[Migration]) -> Result<State> {
    let mut state = State::default();
    for file in files {
        for op in file.ops()? {
            state.apply(&op).map_err(|reason| Error::Migration {
                migration: file.name.to_string(),
                reason,
            })?;
        }
    }
    Ok(state)
}

/// The next migration's text, for the models `models` after `files`, or
/// `None` when they match; [`Error::Migration`] when a change cannot be
/// written safely, saying why.
pub fn make(files: &[Migration], models: &[TableDef]) -> Result<Option<String>> {
    let state = state(files)?;
    let ops = diff(&state, models).map_err(|Refusal(reason)| Error::Migration {
        migration: "(the next migration)".into(),
        reason,
    })?;
    if ops.is_empty() {
        return Ok(None);
    }
    Ok(Some(write(&ops)))
}

fn ctx() -> Ctx {
    Ctx::of::<Applied>()
}

fn failed(migration: &str, e: Error) -> Error {
    Error::MigrationFailed {
        migration: migration.to_owned(),
        source: Box::new(e),
    }
}

async fn apply<E: Exec>(conn: &E, files: &[Migration]) -> Result<Vec<String>> {
    // Every file parses and applies to the state before anything runs.
    let mut before = Vec::with_capacity(files.len());
    let mut state = State::default();
    for file in files {
        let ops = file.ops()?;
        before.push((state.clone(), ops.clone()));
        for op in &ops {
            state.apply(op).map_err(|reason| Error::Migration {
                migration: file.name.to_string(),
                reason,
            })?;
        }
    }
    record_table(conn).await?;
    let mut done = Vec::new();
    for (file, (state, ops)) in files.iter().zip(before) {
        if apply_one(conn, file, &state, &ops).await? {
            done.push(file.name.to_string());
        }
    }
    Ok(done)
}

/// Applies one migration unless it is applied; whether it ran.
async fn apply_one<E: Exec>(conn: &E, file: &Migration, state: &State, ops: &[Op]) -> Result<bool> {
    let dialect = conn.dialect();
    let mut statements = Vec::new();
    let mut at = state.clone();
    for op in ops {
        let more = ddl::statements(dialect, &at, op).map_err(|reason| Error::Migration {
            migration: file.name.to_string(),
            reason,
        })?;
        statements.extend(more);
        at.apply(op).map_err(|reason| Error::Migration {
            migration: file.name.to_string(),
            reason,
        })?;
    }
    let foreign_keys = match dialect {
        Dialect::Sqlite => {
            pragma(conn, "PRAGMA foreign_keys")
                .await
                .map_err(|e| failed(&file.name, e))?
                != 0
        }
        Dialect::Postgres => false,
    };
    in_transaction(conn, file, &statements, foreign_keys).await
}

/// The one integer a `PRAGMA` query returns.
async fn pragma<E: Exec>(conn: &E, sql: &str) -> Result<i64> {
    let mut stmt = conn.prepare(sql, ctx()).await?;
    let mut value = 0;
    conn.query(&mut stmt, Vec::new(), |row| {
        value = row.get(0).map_err(|e| ctx().column_error(0, e))?;
        Ok(())
    })
    .await?;
    Ok(value)
}

/// Runs a migration in a scope of its own ([`ScopeKind::Migration`]): on an
/// async connection other tasks' statements wait for it, and a future
/// dropped midway rolls it back (and turns SQLite's foreign keys on again).
async fn in_transaction<E: Exec>(
    conn: &E,
    file: &Migration,
    statements: &[String],
    foreign_keys: bool,
) -> Result<bool> {
    let ctx = ctx();
    let dialect = conn.dialect();
    let scope = conn
        .open(ScopeKind::Migration { foreign_keys }, ctx)
        .await
        .map_err(|e| failed(&file.name, e))?;
    // Inside a transaction SQLite ignores the change without a word.
    if foreign_keys
        && pragma(conn, "PRAGMA foreign_keys")
            .await
            .map_err(|e| failed(&file.name, e))?
            != 0
    {
        return Err(Error::Migration {
            migration: file.name.to_string(),
            reason: "SQLite migrations run outside a transaction: foreign keys are on, \
                     and they can be turned off for the migration only between transactions"
                .into(),
        });
    }
    let run = async {
        // Another process applying waits here, then finds it applied.
        if dialect == Dialect::Postgres {
            conn.batch(LOCK, ctx).await?;
        }
        if let Some(applied) = exec::get::<Applied, E>(conn, &file.name.to_string()).await? {
            if applied.checksum != file.checksum() {
                return Err(changed(file));
            }
            return Ok(false);
        }
        // A statement's error names the migration (the caller wraps it),
        // not the table of applied migrations.
        let statement_ctx = Ctx {
            model: "migration",
            table: "(the migration's statements)",
            columns: &[],
            indexes: &[],
        };
        for statement in statements {
            conn.batch(statement, statement_ctx).await?;
        }
        if foreign_keys {
            foreign_key_check(conn).await?;
        }
        let applied = Applied {
            name: file.name.to_string(),
            checksum: file.checksum(),
        };
        exec::insert_all::<Applied, E>(conn, vec![&applied]).await?;
        Ok(true)
    };
    match run.await {
        Ok(ran) => {
            exec::close(conn, scope)
                .await
                .map_err(|e| failed(&file.name, e))?;
            Ok(ran)
        }
        Err(e) => {
            // The migration's error is the one to report: the scope rolls
            // back quietly.
            drop(scope);
            Err(match e {
                e @ (Error::Migration { .. } | Error::MigrationFailed { .. }) => e,
                e => failed(&file.name, e),
            })
        }
    }
}

/// The advisory lock every PostgreSQL migration transaction takes.
const LOCK: &str = "SELECT pg_advisory_xact_lock(7243038127041813857)";

/// Creates the table of applied migrations unless it exists. On PostgreSQL
/// under the migrations' lock: two `CREATE TABLE IF NOT EXISTS` at once
/// collide there.
async fn record_table<E: Exec>(conn: &E) -> Result<()> {
    let create = ddl::create_table_if_missing(conn.dialect(), &TableDef::of::<Applied>());
    let ctx = ctx();
    if conn.dialect() == Dialect::Sqlite {
        return conn.batch(&create, ctx).await;
    }
    let scope = conn
        .open(
            ScopeKind::Migration {
                foreign_keys: false,
            },
            ctx,
        )
        .await?;
    conn.batch(LOCK, ctx).await?;
    conn.batch(&create, ctx).await?;
    exec::close(conn, scope).await
}

fn changed(file: &Migration) -> Error {
    Error::Migration {
        migration: file.name.to_string(),
        reason: format!(
            "the file changed after it was applied (checksum now {}): restore it, and \
             write the change as a new migration",
            file.checksum()
        ),
    }
}

/// SQLite's `PRAGMA foreign_key_check`: an error naming the first row whose
/// foreign key points at nothing.
async fn foreign_key_check<E: Exec>(conn: &E) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check", ctx()).await?;
    let mut found = None;
    conn.query(&mut stmt, Vec::new(), |row| {
        if found.is_none() {
            let read = |i| match row.value(i) {
                Ok(crate::Value::Text(s)) => s.to_owned(),
                _ => String::from("?"),
            };
            found = Some((read(0), read(2)));
        }
        Ok(())
    })
    .await?;
    if let Some((table, parent)) = found {
        return Err(Error::Migration {
            migration: String::new(),
            reason: format!(
                "a row of `{table}` points at a row of `{parent}` that does not exist \
                 (PRAGMA foreign_key_check)"
            ),
        });
    }
    Ok(())
}

/// [`Migrations::apply`] on any connection.
struct Apply<'f> {
    files: &'f [Migration],
}

impl Apply<'_> {
    async fn run<E: Exec>(self, conn: &E) -> Result<Vec<String>> {
        apply(conn, self.files).await
    }
}

impl Plan for Apply<'_> {
    type Output = Vec<String>;
    crate::db::plan_methods!();
}

/// [`Migrations::check`] on any connection.
struct Check<'f> {
    files: &'f [Migration],
}

impl Check<'_> {
    async fn run<E: Exec>(self, conn: &E) -> Result<()> {
        check(conn, self.files).await
    }
}

impl Plan for Check<'_> {
    type Output = ();
    crate::db::plan_methods!();
}

/// What [`Migrations::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Migrations not applied yet.
    pub pending: Vec<String>,
    /// Applied migrations whose file changed since.
    pub changed: Vec<String>,
    /// Differences between the tables the migrations build and the database.
    pub differences: Vec<String>,
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for name in &self.pending {
            writeln!(f, "- migration `{name}` is not applied")?;
        }
        for name in &self.changed {
            writeln!(f, "- migration `{name}` changed after it was applied")?;
        }
        for difference in &self.differences {
            writeln!(f, "- {difference}")?;
        }
        Ok(())
    }
}

async fn check<E: Exec>(conn: &E, files: &[Migration]) -> Result<()> {
    let state = state(files)?;
    record_table(conn).await?;
    let applied = exec::all::<Applied, (), E>(conn, &Shape::default()).await?;
    let mut found = Pending {
        pending: Vec::new(),
        changed: Vec::new(),
        differences: Vec::new(),
    };
    for file in files {
        match applied.iter().find(|a| a.name == *file.name) {
            None => found.pending.push(file.name.to_string()),
            Some(a) if a.checksum != file.checksum() => found.changed.push(file.name.to_string()),
            Some(_) => {}
        }
    }
    if found.pending.is_empty() {
        for table in state.tables.values() {
            for difference in crate::schema::differences(conn, table).await? {
                found
                    .differences
                    .push(format!("table `{}`: {difference}", table.name));
            }
        }
    }
    if found
        == (Pending {
            pending: Vec::new(),
            changed: Vec::new(),
            differences: Vec::new(),
        })
    {
        return Ok(());
    }
    Err(Error::Migration {
        migration: "(check)".into(),
        reason: found.to_string().trim_end().to_owned(),
    })
}

/// The `manage` command of an application: `makemigrations [--check]
/// [--name NAME]`, `migrate URL` and `showmigrations`, over the migration
/// files in `dir` and the tables `models` declare. Call it from a binary of
/// your crate (see the README), with its arguments:
///
/// ```no_run
/// # use orm_core::Model;
/// # #[derive(Model)] struct Project { id: i64 }
/// fn main() -> std::process::ExitCode {
///     orm_core::migrate::manage(
///         concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
///         &[orm_core::migrate::TableDef::of::<Project>()],
///         std::env::args().skip(1),
///     )
/// }
/// ```
pub fn manage(
    dir: &str,
    models: &[TableDef],
    args: impl IntoIterator<Item = String>,
) -> std::process::ExitCode {
    match cli::run(
        std::path::Path::new(dir),
        models,
        args.into_iter().collect(),
    ) {
        Ok(message) => {
            println!("{message}");
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

mod cli;
