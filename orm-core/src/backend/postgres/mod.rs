//! PostgreSQL through the `postgres` crate: the connection, binding, reading.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use crate::backend::{
    Caps, Conn, Ctx, Db, DriverRow, Param, Registered, RegisteredSync, Row, ScopeKind,
};
use crate::dialect::Dialect;

/// The async connection, over tokio-postgres.
#[cfg(feature = "tokio")]
pub(crate) mod nonblocking;
mod types;
use crate::error::{DbError, Result};
use crate::guard::{Frames, Recordable};
use crate::value::{Value, ValueError};
use types::write_value;
#[cfg(any(
    feature = "chrono",
    feature = "time",
    feature = "uuid",
    feature = "serde_json"
))]
pub(crate) use types::PgNative;
pub(crate) use types::{value, Kind};

pub(crate) type BoxError = Box<dyn StdError + Sync + Send>;

/// At most this many prepared statements are kept per connection; past it
/// the cache starts over.
const STATEMENTS: usize = 256;

/// A PostgreSQL connection that every generated function, `Model` method and
/// query accepts, as `&pg`, wherever they accept a rusqlite connection.
///
/// It wraps a synchronous [`postgres::Client`](::postgres::Client) (re-exported
/// as `orm_core::postgres`), keeps the statements it prepares, and, like a
/// `rusqlite::Connection`, is `Send` but not `Sync`: give each thread its own,
/// or a pool (feature `r2d2`). Batch loads bind all their keys as one array
/// (`"category_id" = ANY($1)`), so every relation is one statement at any size.
///
/// ```no_run
/// use orm_core::{Model, Postgres};
/// #[derive(Model)] struct Category { id: i64, name: String }
///
/// let mut pg = Postgres::connect("host=127.0.0.1 user=postgres dbname=shop")?;
/// Category::create_table(&pg)?;
/// let cats = Category::all(&pg)?;
/// let (_, n) = orm_core::count_queries(&mut pg, |pg| Category::all(pg));
/// assert_eq!(n, 1);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub struct Postgres {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
    frames: RefCell<Frames>,
    /// Open `transaction` scopes: the outermost is `BEGIN`, inner ones savepoints.
    depth: Cell<u32>,
}

impl From<Client> for Postgres {
    fn from(client: Client) -> Self {
        Postgres {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            frames: RefCell::new(Frames::default()),
            depth: Cell::new(0),
        }
    }
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("statements", &self.statements.borrow().len())
            .finish_non_exhaustive()
    }
}

/// Statements run through [`Postgres`]'s own methods, named in their errors and log.
const RAW: Ctx = Ctx {
    model: "(raw SQL)",
    table: "-",
    columns: &[],
    indexes: &[],
};

impl Postgres {
    /// Connects without TLS, with a connection string as the `postgres` crate
    /// takes it: `"host=127.0.0.1 port=5432 user=postgres dbname=shop"` or a
    /// `postgresql://` URL. For TLS, connect a `postgres::Client` yourself and
    /// convert it with `Postgres::from(client)`.
    pub fn connect(params: &str) -> Result<Self> {
        Ok(Client::connect(params, NoTls)?.into())
    }

    /// The client, for what the crate does not wrap (`COPY`, notifications).
    /// Statements run on it are not counted by [`count_queries`](crate::count_queries).
    /// While the borrow lives, the connection's other uses fail with
    /// [`Error::ConnectionInUse`](crate::Error::ConnectionInUse); drop it
    /// first.
    ///
    /// # Panics
    ///
    /// If the client is already borrowed through this method.
    pub fn client(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// The client, or an error while [`client`](Postgres::client) lends it.
    fn client_mut(&self) -> Result<RefMut<'_, Client>> {
        self.client
            .try_borrow_mut()
            .map_err(|_| crate::Error::ConnectionInUse)
    }

    /// The client, giving up the statement cache.
    pub fn into_client(self) -> Client {
        self.client.into_inner()
    }

    /// Runs a statement and returns how many rows it changed. Counted by
    /// [`count_queries`](crate::count_queries) and logged.
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let start = crate::log::start();
        self.record(sql);
        let n = self
            .client_mut()
            .and_then(|mut c| Ok(c.execute(sql, params)?));
        let rows = n
            .as_ref()
            .map(|&n| usize::try_from(n).unwrap_or(usize::MAX));
        crate::log::finish(start, "postgresql", &RAW, sql, rows, None);
        n
    }

    /// Runs a query and returns its rows. Counted and logged.
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<::postgres::Row>> {
        let start = crate::log::start();
        self.record(sql);
        let rows = self
            .client_mut()
            .and_then(|mut c| Ok(c.query(sql, params)?));
        crate::log::finish(
            start,
            "postgresql",
            &RAW,
            sql,
            rows.as_ref().map(Vec::len),
            None,
        );
        rows
    }

    /// Runs statements separated by `;`, without parameters. Counted as one.
    /// Since a batch may change tables (DDL, migrations), the statements this
    /// connection prepared are forgotten and prepared again when next used.
    pub fn batch_execute(&self, sql: &str) -> Result<()> {
        let start = crate::log::start();
        self.record(sql);
        self.statements.borrow_mut().clear();
        let done = self
            .client_mut()
            .and_then(|mut c| Ok(c.batch_execute(sql)?));
        crate::log::finish(
            start,
            "postgresql",
            &RAW,
            sql,
            done.as_ref().map(|()| 0),
            None,
        );
        done
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back
    /// when it returns `Err` or panics. Nested calls use savepoints.
    ///
    /// `Ok` means committed. A statement that fails inside `f` aborts the
    /// transaction on the server even if `f` ignores its error and returns
    /// `Ok`: then nothing is committed, the transaction (or the savepoint) is
    /// rolled back, and the result is
    /// [`Error::TransactionAborted`](crate::Error::TransactionAborted). To go
    /// on after an expected failure, run that statement in a nested
    /// `transaction` (a savepoint) and ignore its error there.
    ///
    /// ```no_run
    /// # use orm_core::{Model, Postgres};
    /// # #[derive(Model)] struct Category { id: i64, name: String }
    /// # let pg = Postgres::connect("host=127.0.0.1 user=postgres")?;
    /// pg.transaction(|pg| {
    ///     Category { id: 1, name: "Books".into() }.insert(pg)?;
    ///     Category { id: 2, name: "Games".into() }.insert(pg)
    /// })?;
    /// # Ok::<(), orm_core::Error>(())
    /// ```
    pub fn transaction<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.transaction_with(crate::Begin::Default, f)
    }

    /// [`transaction`](Postgres::transaction) of the kind `begin` asks for
    /// (`REPEATABLE READ, READ ONLY` for [`Begin::ReadSnapshot`](crate::Begin::ReadSnapshot),
    /// `SERIALIZABLE` for [`Begin::Serializable`](crate::Begin::Serializable)); inside a
    /// transaction only [`Begin::Default`](crate::Begin::Default), a savepoint.
    pub fn transaction_with<T>(
        &self,
        begin: crate::Begin,
        f: impl FnOnce(&Self) -> Result<T>,
    ) -> Result<T> {
        struct Scope<'a> {
            pg: &'a Postgres,
            depth: u32,
            done: bool,
        }
        impl Drop for Scope<'_> {
            fn drop(&mut self) {
                self.pg.depth.set(self.depth);
                if !self.done {
                    // After a panic or an error: undo, and report the original error.
                    let _ = self.pg.batch_execute(&match self.depth {
                        0 => "ROLLBACK".to_owned(),
                        d => format!("ROLLBACK TO SAVEPOINT orm_{d}"),
                    });
                }
            }
        }
        let depth = self.depth.get();
        if depth > 0 {
            if let Some(nested) = begin.nested() {
                return Err(nested);
            }
        }
        self.batch_execute(&match depth {
            0 => begin_sql(begin).to_owned(),
            d => format!("SAVEPOINT orm_{d}"),
        })?;
        self.depth.set(depth + 1);
        let mut scope = Scope {
            pg: self,
            depth,
            done: false,
        };
        let out = f(self)?;
        // A failed statement aborts a PostgreSQL transaction, even when the
        // closure goes on and returns `Ok`, and `COMMIT` then rolls it back
        // without a word. The `SELECT` before it fails instead (SQLSTATE
        // 25P02), in the same round trip, as `RELEASE SAVEPOINT` does by
        // itself; the scope then rolls back.
        let end = match depth {
            0 => "SELECT 1; COMMIT".to_owned(),
            d => format!("RELEASE SAVEPOINT orm_{d}"),
        };
        self.batch_execute(&end).map_err(|e| match e {
            crate::Error::Postgres(source)
                if source.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) =>
            {
                crate::Error::TransactionAborted { source }
            }
            other => other,
        })?;
        scope.done = true;
        Ok(out)
    }

    /// Whether a [`transaction`](Postgres::transaction) is open.
    pub(crate) fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    /// Runs one of the crate's own statements (a scope's `BEGIN`,
    /// `SAVEPOINT`, `COMMIT` or `ROLLBACK`): not recorded by
    /// [`record_queries`](crate::record_queries).
    pub(crate) fn run_own(&self, sql: &str, ctx: &Ctx) -> Result<()> {
        self.client_mut().and_then(|mut c| {
            c.batch_execute(sql)
                .map_err(|e| ctx.error(DbError::Postgres(e)))
        })
    }

    /// Runs `copy`, a `COPY ... FROM STDIN (FORMAT binary)`, sending `values`
    /// (every row's columns end to end) in the types of the columns that
    /// `columns` selects (prepared, never run: the table's own types, which
    /// the binary format must match, converted to as a parameter would be).
    pub(crate) fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        use std::io::Write as _;
        let types: Vec<Type> = self
            .prepare_cached(columns, ctx)?
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        self.record(copy);
        let mut client = self.client_mut()?;
        let mut writer = client
            .copy_in(copy)
            .map_err(|e| ctx.error(DbError::Postgres(e)))?;
        // The server's error, when it ended the copy; else what the write hit.
        let failed = |e: std::io::Error| {
            let text = e.to_string();
            match e.into_inner().map(|e| e.downcast::<postgres::Error>()) {
                Some(Ok(e)) => ctx.error(DbError::Postgres(*e)),
                _ => crate::Error::Unwritable {
                    model: ctx.model,
                    table: ctx.table,
                    column: "-",
                    source: ValueError::Other(text.into()),
                },
            }
        };
        for chunk in BinaryCopy::new(values, &types, ctx) {
            writer.write_all(&chunk?).map_err(failed)?;
        }
        writer.finish().map_err(|e| ctx.error(DbError::Postgres(e)))
    }

    fn record(&self, sql: &str) {
        self.frames.borrow_mut().record(sql);
    }

    /// The prepared statement for `sql`, from the cache or the server.
    pub(crate) fn prepare_cached(&self, sql: &str, ctx: &Ctx) -> Result<Statement> {
        if let Some(stmt) = self.statements.borrow().get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client_mut()?
            .prepare(sql)
            .map_err(|e| ctx.error(DbError::Postgres(e)))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Runs a prepared statement. A statement prepared before the table
    /// changed shape (`cached plan must not change result type`) is prepared
    /// again, once; every other error is the caller's.
    fn run<T>(
        &self,
        stmt: &mut Statement,
        sql: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
        run: impl Fn(
            &mut Client,
            &Statement,
            &[&(dyn ToSql + Sync)],
        ) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        self.record(sql);
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let first = run(&mut *self.client_mut()?, stmt, &params);
        match first {
            Err(e) if stale_plan(&e) => {
                self.statements.borrow_mut().remove(sql);
                *stmt = self.prepare_cached(sql, ctx)?;
                run(&mut *self.client_mut()?, stmt, &params)
                    .map_err(|e| ctx.error(DbError::Postgres(e)))
            }
            other => other.map_err(|e| ctx.error(DbError::Postgres(e))),
        }
    }

    pub(crate) fn run_query<F>(
        &self,
        stmt: &mut Statement,
        sql: &str,
        params: Vec<Param<'_>>,
        ctx: &Ctx,
        mut on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let rows = self.run(stmt, sql, &params, ctx, |client, stmt, params| {
            client.query(stmt, params)
        })?;
        drop(params);
        let n = rows.len();
        let kinds = Kind::of_columns(stmt);
        // By value: each row's buffer is freed once read, not all at the end.
        for row in rows {
            on_row(&Driver::row(PgRow {
                row: &row,
                kinds: Some(&kinds),
            }))?;
        }
        Ok(n)
    }

    pub(crate) fn run_execute(
        &self,
        stmt: &mut Statement,
        sql: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        self.run(stmt, sql, params, ctx, |client, stmt, params| {
            client.execute(stmt, params)
        })
    }

    /// The crate's own DDL: statements separated by `;\n`, each counted.
    pub(crate) fn run_batch(&self, sql: &str, ctx: &Ctx) -> Result<()> {
        for statement in sql.split(";\n") {
            self.record(statement);
        }
        self.client_mut()?
            .batch_execute(sql)
            .map_err(|e| ctx.error(DbError::Postgres(e)))?;
        // A table's shape may have changed under the cached statements.
        self.statements.borrow_mut().clear();
        Ok(())
    }
}

impl crate::error::DriverError for postgres::Error {
    fn sqlstate(&self) -> Option<String> {
        self.code().map(|c| c.code().to_owned())
    }

    fn missing_column(&self) -> Option<String> {
        let db = self.as_db_error()?;
        if *db.code() != SqlState::UNDEFINED_COLUMN {
            return None;
        }
        // `column t.name does not exist`
        let name = db
            .message()
            .strip_prefix("column ")?
            .strip_suffix(" does not exist")?;
        Some(name.to_owned())
    }

    fn unique_violation(&self) -> Option<crate::error::UniqueViolation> {
        let db = self.as_db_error()?;
        if *db.code() != SqlState::UNIQUE_VIOLATION {
            return None;
        }
        // `Key (project_id, number)=(1, 7) already exists.`
        let columns = db
            .detail()
            .and_then(|d| d.strip_prefix("Key ("))
            .and_then(|d| d.split_once(")=("))
            .map_or_else(Vec::new, |(list, _)| {
                list.split(", ")
                    .map(|c| c.trim_matches('"').to_owned())
                    .collect()
            });
        Some(crate::error::UniqueViolation {
            constraint: db.constraint().map(str::to_owned),
            listed: None,
            columns,
        })
    }
}

/// The sync PostgreSQL driver: a borrowed [`Postgres`].
pub(crate) struct Driver;

/// A row of a PostgreSQL result, and how to read each column when the
/// statement worked it out.
#[derive(Clone, Copy)]
pub(crate) struct PgRow<'r> {
    pub(crate) row: &'r ::postgres::Row,
    pub(crate) kinds: Option<&'r [Kind]>,
}

impl DriverRow for PgRow<'_> {
    #[inline(always)]
    fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        value(self.row, self.kinds, index)
    }

    /// Typed values compare exactly, as a column without affinity does.
    fn affinity(&self, _: usize) -> crate::backend::sqlite::Affinity {
        crate::backend::sqlite::Affinity::Blob
    }
}

impl<'a> From<&'a ::postgres::Row> for Row<'a> {
    fn from(row: &'a ::postgres::Row) -> Self {
        Driver::row(PgRow { row, kinds: None })
    }
}

impl crate::backend::Driver for Driver {
    type Row<'r> = PgRow<'r>;
}

impl crate::backend::SyncDriver for Driver {
    const SYSTEM: &'static str = "postgresql";
    const DIALECT: Dialect = Dialect::Postgres;
    // Statements are counted by their text and prepared again from it.
    const KEEPS_TEXT: bool = true;

    type Conn<'c> = &'c Postgres;
    type Stmt<'c> = Statement;

    fn caps(_: &Postgres) -> Result<Caps> {
        Ok(Caps::Arrays)
    }

    fn identity(pg: &Postgres) -> usize {
        std::ptr::from_ref::<Postgres>(pg) as usize
    }

    fn prepare<'c>(pg: Self::Conn<'c>, sql: &str, ctx: &Ctx) -> Result<Self::Stmt<'c>> {
        pg.prepare_cached(sql, ctx)
    }

    fn query<'c, F>(
        pg: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        sql: &str,
        params: Vec<Param<'_>>,
        ctx: &Ctx,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        pg.run_query(stmt, sql, params, ctx, on_row)
    }

    fn execute(
        pg: &Postgres,
        stmt: &mut Statement,
        sql: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        pg.run_execute(stmt, sql, params, ctx)
    }

    fn batch(pg: &Postgres, sql: &str, ctx: &Ctx) -> Result<()> {
        pg.run_batch(sql, ctx)
    }

    fn copy_in(
        pg: &Postgres,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        pg.copy_in(copy, columns, values, ctx)
    }

    fn scope(pg: &Postgres, kind: ScopeKind) -> Option<[&'static str; 3]> {
        needs_scope(kind, pg.in_transaction()).then(|| scope_statements(pg.in_transaction()))
    }

    fn run_own(pg: &Postgres, sql: &str, ctx: &Ctx) -> Result<()> {
        pg.run_own(sql, ctx)
    }

    fn atomic<T>(pg: &Postgres, begin: crate::Begin, f: impl FnOnce() -> Result<T>) -> Result<T> {
        pg.transaction_with(begin, |_| f())
    }
}

impl crate::sealed::Sealed for Postgres {}

impl Db for Postgres {
    fn __conn(&self) -> Conn<'_> {
        Driver::conn(self)
    }
}
crate::db::blocking! {
    impl for Postgres;
}

impl Recordable for Postgres {
    fn __start_recording(&mut self) {
        self.frames.get_mut().push();
    }

    fn __stop_recording(&mut self) -> Vec<String> {
        self.frames.get_mut().pop().0
    }
}

/// Whether a statement failed because it was prepared before its table
/// changed shape (`cached plan must not change result type`): prepared
/// again, it runs.
/// Whether `kind` needs a scope on a PostgreSQL connection inside a
/// transaction or not: never for reads (each statement sees its own
/// snapshot, as before scopes existed); for writes of several statements,
/// or of several rows in one statement inside a transaction, whose failure
/// would otherwise abort it; always for a migration.
pub(crate) fn needs_scope(kind: ScopeKind, in_transaction: bool) -> bool {
    match kind {
        ScopeKind::Read { .. } => false,
        ScopeKind::Write { statements, rows } => statements > 1 || (rows > 1 && in_transaction),
        ScopeKind::Migration { .. } => true,
    }
}

/// How a transaction of the kind `begin` asks for begins.
pub(crate) fn begin_sql(begin: crate::Begin) -> &'static str {
    match begin {
        crate::Begin::Default | crate::Begin::Write => "BEGIN",
        crate::Begin::ReadSnapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        crate::Begin::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
    }
}

/// A scope's begin, commit and rollback: a savepoint inside a transaction,
/// else a transaction.
pub(crate) fn scope_statements(in_transaction: bool) -> [&'static str; 3] {
    if in_transaction {
        [
            "SAVEPOINT orm_write",
            "RELEASE SAVEPOINT orm_write",
            "ROLLBACK TO SAVEPOINT orm_write; RELEASE SAVEPOINT orm_write",
        ]
    } else {
        ["BEGIN", "COMMIT", "ROLLBACK"]
    }
}

pub(crate) fn stale_plan(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
        && e.as_db_error()
            .is_some_and(|d| d.message().contains("cached plan"))
}

/// Rows in `COPY`'s binary format, in chunks of about 60 KiB, for the sync
/// and the async connection to send as their drivers do: a header, then per
/// row its field count and each field as a length (-1 for NULL) and its
/// bytes, then -1. `values` holds every row's columns end to end, in the
/// order of `types`, and each is converted as a parameter would be.
pub(crate) struct BinaryCopy<'v, 't> {
    rows: std::slice::Chunks<'v, Value<'v>>,
    types: &'t [Type],
    ctx: &'t Ctx,
    buf: BytesMut,
    done: bool,
}

impl<'v, 't> BinaryCopy<'v, 't> {
    const CHUNK: usize = 60 * 1024;

    pub(crate) fn new(values: &'v [Value<'v>], types: &'t [Type], ctx: &'t Ctx) -> Self {
        let mut buf = BytesMut::with_capacity(Self::CHUNK + 4 * 1024);
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0);
        buf.put_i32(0);
        BinaryCopy {
            rows: values.chunks(types.len().max(1)),
            types,
            ctx,
            buf,
            done: false,
        }
    }

    fn put_row(&mut self, row: &[Value<'_>]) -> Result<()> {
        let ctx = self.ctx;
        let buf = &mut self.buf;
        // A table has at most 1,600 columns.
        buf.put_i16(i16::try_from(self.types.len()).unwrap_or(i16::MAX));
        for ((value, ty), column) in row.iter().zip(self.types).zip(ctx.columns) {
            let at = buf.len();
            buf.put_i32(0);
            let column_error = |e: BoxError| crate::Error::Unwritable {
                model: ctx.model,
                table: ctx.table,
                column: column.name(),
                source: ValueError::Other(e),
            };
            let len = match write_value(*value, ty, buf).map_err(column_error)? {
                IsNull::Yes => -1,
                IsNull::No => {
                    i32::try_from(buf.len() - at - 4).map_err(|e| column_error(e.into()))?
                }
            };
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }
}

impl Iterator for BinaryCopy<'_, '_> {
    type Item = Result<bytes::Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        while self.buf.len() < Self::CHUNK {
            let Some(row) = self.rows.next() else {
                self.buf.put_i16(-1);
                self.done = true;
                break;
            };
            if let Err(e) = self.put_row(row) {
                self.done = true;
                return Some(Err(e));
            }
        }
        Some(Ok(self.buf.split().freeze()))
    }
}
