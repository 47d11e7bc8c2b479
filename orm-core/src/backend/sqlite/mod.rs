//! SQLite through rusqlite: binding, reading, limits and transactions.

use std::fmt::Write as _;

use rusqlite::limits::Limit;
use rusqlite::types::{FromSqlError, ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, Savepoint, ToSql, Transaction};

use crate::backend::{
    Caps, Conn, Ctx, Db, DriverRow, Param, Registered, RegisteredSync, Row, ScopeKind,
};
use crate::dialect::Dialect;
use crate::error::{DbError, Result, UniqueViolation};
use crate::value::{Owned, Value, ValueError};

pub(crate) mod block;

/// The async connection: this driver on a thread of its own.
#[cfg(feature = "tokio")]
pub(crate) mod thread;

/// The sync SQLite driver: a borrowed `rusqlite::Connection`.
pub(crate) struct Driver;

impl crate::backend::Driver for Driver {
    type Row<'r> = &'r rusqlite::Row<'r>;
}

impl DriverRow for &rusqlite::Row<'_> {
    #[inline(always)]
    fn value(&self, index: usize) -> Result<Value<'_>, ValueError> {
        value(self, index)
    }

    fn affinity(&self, index: usize) -> Affinity {
        affinity(self, index)
    }
}

impl<'a> From<&'a rusqlite::Row<'a>> for Row<'a> {
    fn from(row: &'a rusqlite::Row<'a>) -> Self {
        Driver::row(row)
    }
}

impl crate::backend::SyncDriver for Driver {
    const SYSTEM: &'static str = "sqlite";
    const DIALECT: Dialect = Dialect::Sqlite;
    // Read again only to log it.
    const KEEPS_TEXT: bool = false;
    const BINDS_VALUES: bool = true;

    type Conn<'c> = &'c Connection;
    type Stmt<'c> = CachedStatement<'c>;

    fn caps(conn: &Connection) -> Result<Caps> {
        variable_limit(conn).map(Caps::Variables)
    }

    fn identity(conn: &Connection) -> usize {
        std::ptr::from_ref::<Connection>(conn) as usize
    }

    fn prepare<'c>(conn: Self::Conn<'c>, sql: &str, ctx: &Ctx) -> Result<Self::Stmt<'c>> {
        block::check(conn)
            .and_then(|()| conn.prepare_cached(sql))
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    #[inline(always)]
    fn query<'c, F>(
        _: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        _: &str,
        params: Vec<Param<'_>>,
        ctx: &Ctx,
        on_row: F,
    ) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        query(stmt, params, ctx, on_row)
    }

    fn execute<'c>(
        _: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        _: &str,
        params: &[Param<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        bind(stmt, params)
            .and_then(|()| stmt.raw_execute())
            .map(|n| n as u64)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn execute_values<'c>(
        _: Self::Conn<'c>,
        stmt: &mut Self::Stmt<'c>,
        values: &[Value<'_>],
        ctx: &Ctx,
    ) -> Result<u64> {
        bind_values(stmt, values)
            .and_then(|()| stmt.raw_execute())
            .map(|n| n as u64)
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn last_insert_rowid(conn: &Connection) -> i64 {
        conn.last_insert_rowid()
    }

    fn batch(conn: &Connection, sql: &str, ctx: &Ctx) -> Result<()> {
        block::check(conn)
            .and_then(|()| conn.execute_batch(sql))
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    /// A read transaction for several reads outside a transaction (one
    /// snapshot); for several writes a transaction, or a savepoint inside
    /// one (a `SAVEPOINT` would open a transaction too, but then SQLite
    /// journals each page's first change for it: a third slower on the
    /// benchmark's 10,000 rows); for a migration `BEGIN IMMEDIATE`, with
    /// foreign keys off when asked.
    fn scope(conn: &Connection, kind: ScopeKind) -> Option<[&'static str; 3]> {
        const TRANSACTION: [&str; 3] = ["BEGIN", "COMMIT", "ROLLBACK"];
        const SAVEPOINT: [&str; 3] = [
            "SAVEPOINT orm_write",
            "RELEASE orm_write",
            "ROLLBACK TO orm_write; RELEASE orm_write",
        ];
        Some(match kind {
            ScopeKind::Read { .. } if kind.several() && conn.is_autocommit() => TRANSACTION,
            ScopeKind::Write { .. } if kind.several() => {
                if conn.is_autocommit() {
                    TRANSACTION
                } else {
                    SAVEPOINT
                }
            }
            ScopeKind::Migration { foreign_keys } => match (conn.is_autocommit(), foreign_keys) {
                (false, _) => SAVEPOINT,
                (true, false) => ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"],
                (true, true) => [
                    "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE",
                    "COMMIT; PRAGMA foreign_keys = ON",
                    "ROLLBACK; PRAGMA foreign_keys = ON",
                ],
            },
            _ => return None,
        })
    }

    fn run_own(conn: &Connection, sql: &str, ctx: &Ctx) -> Result<()> {
        block::check(conn)
            .and_then(|()| crate::guard::quietly(Self::identity(conn), || conn.execute_batch(sql)))
            .map_err(|e| ctx.error(DbError::Sqlite(e)))
    }

    fn atomic<T>(
        conn: &Connection,
        begin: crate::Begin,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        block::atomic(conn, begin, f)
    }
}

impl crate::error::DriverError for rusqlite::Error {
    fn sqlstate(&self) -> Option<String> {
        match self {
            rusqlite::Error::SqliteFailure(e, _) => Some(e.extended_code.to_string()),
            _ => None,
        }
    }

    fn missing_column(&self) -> Option<String> {
        match self {
            // rusqlite reports a failed prepare with the statement and offset.
            rusqlite::Error::SqliteFailure(_, Some(msg))
            | rusqlite::Error::SqlInputError { msg, .. } => {
                msg.strip_prefix("no such column: ").map(str::to_owned)
            }
            _ => None,
        }
    }

    fn unique_violation(&self) -> Option<UniqueViolation> {
        let rusqlite::Error::SqliteFailure(e, msg) = self else {
            return None;
        };
        if !matches!(
            e.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ) {
            return None;
        }
        // `UNIQUE constraint failed: issues.project_id, issues.number`,
        // or `...: index 'name'` for an index on expressions.
        let listed = msg.as_deref().and_then(|m| m.split_once("failed: "));
        let index = listed.and_then(|(_, l)| l.strip_prefix("index '")?.strip_suffix('\''));
        if let Some(index) = index {
            return Some(UniqueViolation {
                constraint: Some(index.to_owned()),
                listed: None,
                columns: Vec::new(),
            });
        }
        let columns = listed.map_or_else(Vec::new, |(_, list)| {
            list.split(", ")
                .map(|c| c.split_once('.').map_or(c, |(_, c)| c).to_owned())
                .collect()
        });
        Some(UniqueViolation {
            constraint: None,
            listed: listed.map(|(_, list)| list.to_owned()),
            columns,
        })
    }

    fn is_busy(&self) -> bool {
        matches!(
            self,
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl crate::sealed::Sealed for Connection {}
impl Db for Connection {
    fn __conn(&self) -> Conn<'_> {
        Driver::conn(self)
    }
}

impl crate::sealed::Sealed for Transaction<'_> {}
impl Db for Transaction<'_> {
    fn __conn(&self) -> Conn<'_> {
        Driver::conn(self)
    }
}

impl crate::sealed::Sealed for Savepoint<'_> {}
impl Db for Savepoint<'_> {
    fn __conn(&self) -> Conn<'_> {
        Driver::conn(self)
    }
}
crate::db::blocking! {
    impl for Connection;
    impl<'t> for Transaction<'t>;
    impl<'t> for Savepoint<'t>;
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Value::Native(native) => return native.to_sqlite(),
            other => ToSqlOutput::Borrowed(to_value_ref(other).unwrap_or(ValueRef::Null)),
        })
    }
}

/// The neutral value as rusqlite's, for the kinds SQLite has.
pub(crate) fn to_value_ref(value: Value<'_>) -> Option<ValueRef<'_>> {
    Some(match value {
        Value::Null => ValueRef::Null,
        Value::Integer(i) => ValueRef::Integer(i),
        Value::Real(r) => ValueRef::Real(r),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Blob(b) => ValueRef::Blob(b),
        _ => return None,
    })
}

/// What a native type's `ToSql` produced, as a neutral value.
pub(crate) fn output_value<'a>(output: &'a ToSqlOutput<'_>) -> Value<'a> {
    let value = match output {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => v.into(),
        // Zeroblobs and other special outputs are not column values.
        _ => ValueRef::Null,
    };
    from_value_ref(value).unwrap_or(Value::Null)
}

/// rusqlite's value as the neutral one.
#[inline(always)]
pub(crate) fn from_value_ref(value: ValueRef<'_>) -> Result<Value<'_>, ValueError> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(std::str::from_utf8(t)?),
        ValueRef::Blob(b) => Value::Blob(b),
    })
}

/// How SQLite's `=` converts a value compared with a column: the column's
/// affinity, from its declared type (SQLite's own rules, section 3.1 of its
/// "Datatypes" page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affinity {
    /// No declared type, or `BLOB`: no conversion; values of different
    /// storage classes are never equal.
    Blob,
    /// `TEXT`, `CHAR`, `CLOB`: a number compared with it is compared as text.
    Text,
    /// Anything else (`INTEGER`, `REAL`, `NUMERIC`, ...): text that looks like
    /// a number is compared as that number.
    Numeric,
}

impl Affinity {
    fn of(declared: Option<&str>) -> Affinity {
        let Some(declared) = declared.map(str::to_ascii_uppercase) else {
            return Affinity::Blob;
        };
        let has = |s: &str| declared.contains(s);
        if has("INT") {
            Affinity::Numeric
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Affinity::Text
        } else if has("BLOB") || declared.trim().is_empty() {
            Affinity::Blob
        } else {
            Affinity::Numeric
        }
    }
}

/// The affinity of column `index` of `row`'s statement: its declared type,
/// for a column read straight from a table (as a batch key always is).
pub(crate) fn affinity(row: &rusqlite::Row<'_>, index: usize) -> Affinity {
    let statement: &rusqlite::Statement<'_> = row.as_ref();
    let column = statement.columns().nth(index);
    Affinity::of(column.as_ref().and_then(rusqlite::Column::decl_type))
}

/// Column `index` of `row`.
#[inline(always)]
pub(crate) fn value<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<Value<'r>, ValueError> {
    let value = row
        .get_ref(index)
        .map_err(|e| ValueError::Other(Box::new(e)))?;
    from_value_ref(value)
}

/// rusqlite's conversion error for a native type, as the neutral one.
pub(crate) fn from_sql_error(
    error: FromSqlError,
    value: Value<'_>,
    expected: &'static str,
) -> ValueError {
    match error {
        FromSqlError::InvalidType => value.invalid_type(expected),
        FromSqlError::OutOfRange(i) => ValueError::out_of_range(i, expected),
        other => ValueError::Other(Box::new(other)),
    }
}

/// The connection's current `SQLITE_LIMIT_VARIABLE_NUMBER`, read on every call
/// because `Connection::set_limit` can change it at any time.
pub(crate) fn variable_limit(conn: &Connection) -> Result<usize> {
    let limit = conn
        .limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER)
        .map_err(crate::Error::Sqlite)?;
    Ok(usize::try_from(limit).unwrap_or(1).max(1))
}

pub(crate) fn bind(stmt: &mut CachedStatement<'_>, params: &[Param<'_>]) -> rusqlite::Result<()> {
    for (i, param) in params.iter().enumerate() {
        match param {
            Param::Value(value) => stmt.raw_bind_parameter(i + 1, value)?,
            Param::Json(json) => stmt.raw_bind_parameter(i + 1, json.as_str())?,
            #[cfg(feature = "postgres")]
            Param::Array(_) => return Err(rusqlite::Error::InvalidParameterCount(i, params.len())),
        }
    }
    Ok(())
}

/// Binds `values` to the statement's parameters 1, 2, ... in order.
pub(crate) fn bind_values(
    stmt: &mut CachedStatement<'_>,
    values: &[Value<'_>],
) -> rusqlite::Result<()> {
    for (i, value) in values.iter().enumerate() {
        // By kind, so that each bind is rusqlite's own for that type (a third
        // of the cost of binding through `Value`'s `ToSql`).
        match *value {
            Value::Null => stmt.raw_bind_parameter(i + 1, rusqlite::types::Null)?,
            Value::Integer(v) => stmt.raw_bind_parameter(i + 1, v)?,
            Value::Real(v) => stmt.raw_bind_parameter(i + 1, v)?,
            Value::Text(v) => stmt.raw_bind_parameter(i + 1, v)?,
            Value::Blob(v) => stmt.raw_bind_parameter(i + 1, v)?,
            other => stmt.raw_bind_parameter(i + 1, other)?,
        }
    }
    Ok(())
}

/// Binds `params`, runs the statement and calls `on_row` for each row;
/// the row count.
#[inline]
pub(crate) fn query<F>(
    stmt: &mut CachedStatement<'_>,
    params: Vec<Param<'_>>,
    ctx: &Ctx,
    mut on_row: F,
) -> Result<usize>
where
    F: FnMut(&crate::backend::Row<'_>) -> Result<()>,
{
    let wrap = |e| ctx.error(DbError::Sqlite(e));
    bind(stmt, &params).map_err(wrap)?;
    // SQLite copied what it needs.
    drop(params);
    let mut rows = stmt.raw_query();
    let mut n = 0;
    while let Some(row) = rows.next().map_err(wrap)? {
        n += 1;
        on_row(&Driver::row(row))?;
    }
    Ok(n)
}

// SQLite binds a long list as one JSON text, which the statement unpacks
// with `json_each`: the list trick, here with the rest of what SQLite needs.

/// `values` as a JSON array for SQLite's `json_each`: numbers as numbers,
/// text as strings, bytes as hex strings (the statement `unhex`es them).
pub(crate) fn json_array(values: &[Owned]) -> String {
    let mut out = String::with_capacity(values.len() * 8 + 2);
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_value(&mut out, value.as_value());
    }
    out.push(']');
    out
}

fn json_value(out: &mut String, value: Value<'_>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Real(r) if r.is_nan() => out.push_str("null"),
        // SQLite reads a number too large for a double as infinity.
        Value::Real(r) if r.is_infinite() => out.push_str(if r > 0.0 { "9e999" } else { "-9e999" }),
        Value::Real(r) => {
            let _ = write!(out, "{r:?}");
        }
        Value::Text(s) => json_string(out, s),
        Value::Blob(b) => {
            out.push('"');
            out.push_str(&crate::value::hex(b));
            out.push('"');
        }
        Value::Native(native) => match native.to_sqlite() {
            Ok(output) => {
                let value = output_value(&output);
                json_value(out, value);
            }
            Err(_) => out.push_str("null"),
        },
        #[cfg(feature = "postgres")]
        Value::Postgres(..) => out.push_str("null"),
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
