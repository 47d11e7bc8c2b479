//! Running rendered statements: binding their slots, reading their rows.

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::backend::{Caps, Ctx, Exec, Param, Row, ScopeKind};
use crate::db::Plan;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::query::{Extras, Layout};
use crate::render::{self, Slot, Sql};
use crate::statement::{Agg, CmpOp, Expr, Projection, Select, Shape, Table, Write};
use crate::value::{Owned, Value, ValueError};
use crate::{Model, SqlType};

/// What the slots of one run of a statement bind, besides the query's own values.
#[derive(Default)]
pub(crate) struct Binds<'b, 'a> {
    /// The keys of this chunk (padded to the statement's key count).
    pub(crate) keys: &'b [Value<'a>],
    /// The columns of the row being written (of the rows, end to end).
    pub(crate) fields: &'b [Value<'a>],
    pub(crate) threshold: i64,
}

/// The parameters of one run of `sql`. They copy the values of `binds`, so
/// its slices may be freed before the parameters are.
pub(crate) fn params<'a>(
    dialect: Dialect,
    slots: &'a [Slot<'_>],
    binds: &Binds<'_, 'a>,
) -> Vec<Param<'a>> {
    let mut out = Vec::with_capacity(slots.len() + binds.keys.len());
    params_into(&mut out, dialect, slots, binds);
    out
}

/// [`params`] into `out` (emptied first), so that a statement run once per
/// row reuses one buffer.
fn params_into<'a>(
    out: &mut Vec<Param<'a>>,
    dialect: Dialect,
    slots: &'a [Slot<'_>],
    binds: &Binds<'_, 'a>,
) {
    out.clear();
    for slot in slots {
        out.push(match slot {
            Slot::Value(v) => Param::Value(v.as_value()),
            Slot::Text(s) => Param::Value(Value::Text(s)),
            Slot::List(values) => list(dialect, values),
            Slot::KeyList(n) => {
                out.extend(binds.keys[..*n].iter().map(|&k| Param::Value(k)));
                continue;
            }
            Slot::Keys => keys_array(binds.keys),
            Slot::Threshold => Param::Value(Value::Integer(binds.threshold)),
            Slot::Integer(i) => Param::Value(Value::Integer(*i)),
            Slot::Field(i) => Param::Value(binds.fields[*i]),
        });
    }
}

#[cfg(feature = "postgres")]
fn keys_array<'a>(keys: &[Value<'a>]) -> Param<'a> {
    Param::Array(keys.to_vec())
}

#[cfg(not(feature = "postgres"))]
fn keys_array<'a>(_: &[Value<'a>]) -> Param<'a> {
    // Only a dialect with array parameters renders `Slot::Keys`.
    Param::Value(Value::Null)
}

fn list<'a>(dialect: Dialect, values: &'a [Owned]) -> Param<'a> {
    match dialect {
        Dialect::Sqlite => Param::Json(crate::backend::sqlite::json_array(values)),
        #[cfg(feature = "postgres")]
        Dialect::Postgres => Param::Array(values.iter().map(Owned::as_value).collect()),
        #[cfg(not(feature = "postgres"))]
        Dialect::Postgres => Param::Json(crate::backend::sqlite::json_array(values)),
    }
}

/// Renders a statement whose only bound values are the query's own: with
/// short `is_in` lists value by value when they fit under the connection's
/// limit, else every list as one value.
pub(crate) fn fit<'q>(
    conn: &impl Exec,
    ctx: &Ctx,
    shape: &Shape,
    extra: usize,
    render: impl Fn(bool) -> Sql<'q>,
) -> Result<Sql<'q>> {
    shallow(ctx, shape)?;
    let dialect = conn.dialect();
    let caps = conn.caps()?;
    // Without a limit, every list is one array anyway.
    let Some(limit) = caps.variable_limit() else {
        return within(
            ctx,
            render::shape_params(dialect, shape, false) + extra,
            caps,
        )
        .map(|()| render(false));
    };
    for lists_as_json in [false, true] {
        if render::shape_params(dialect, shape, lists_as_json) + extra <= limit {
            return Ok(render(lists_as_json));
        }
    }
    Err(Error::TooManyParameters {
        model: ctx.model,
        table: ctx.table,
        needed: render::shape_params(dialect, shape, true) + extra,
        limit,
    })
}

/// An error for a filter nested deeper than [`Condition::MAX_DEPTH`](crate::Condition::MAX_DEPTH).
pub(crate) fn shallow(ctx: &Ctx, shape: &Shape) -> Result<()> {
    let limit = crate::Condition::<()>::MAX_DEPTH;
    if shape.depth(limit) <= limit {
        return Ok(());
    }
    Err(Error::ConditionTooDeep {
        model: ctx.model,
        table: ctx.table,
        limit,
    })
}

/// An error, before the server is asked, when a statement binds more
/// values than the backend can take at all (PostgreSQL's 65,535).
pub(crate) fn within(ctx: &Ctx, needed: usize, caps: Caps) -> Result<()> {
    let limit = caps.parameter_limit();
    if needed <= limit {
        return Ok(());
    }
    Err(Error::TooManyParameters {
        model: ctx.model,
        table: ctx.table,
        needed,
        limit,
    })
}

/// Renders a statement over the rows a shape selects, sized to the
/// connection's limit (see [`fit`]), runs it and hands each row to `on_row`.
async fn read_rows<'q, E: Exec>(
    conn: &E,
    ctx: Ctx,
    shape: &'q Shape,
    render: impl Fn(bool) -> Sql<'q>,
    on_row: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let sql = fit(conn, &ctx, shape, 0, render)?;
    let params = params(conn.dialect(), &sql.slots, &Binds::default());
    let mut stmt = conn.prepare(&sql.text, ctx).await?;
    conn.query(&mut stmt, params, on_row).await?;
    Ok(())
}

/// The select of model `M`'s rows (or their count) a shape describes.
fn select_plain<'q, M: Model>(
    dialect: Dialect,
    shape: &'q Shape,
    projection: Projection,
) -> impl Fn(bool) -> Sql<'q> {
    move |json| {
        let select = Select {
            table: Table::of::<M>(),
            projection,
            shape,
            keys: None,
            ordered: true,
        };
        render::select(dialect, &select, json)
    }
}

/// The rows a query selects, in its order, with the parts its joins and
/// annotations add.
pub(crate) async fn all<M: Model, X: Extras<M>, E: Exec>(
    conn: &E,
    shape: &Shape,
) -> Result<Vec<X::Row>> {
    if shape.is_never() {
        return Ok(Vec::new());
    }
    let layout = Layout {
        extras: &shape.extras,
    };
    let mut out = Vec::new();
    let render = select_plain::<M>(conn.dialect(), shape, Projection::Model);
    read_rows(conn, Ctx::of::<M>(), shape, render, |row| {
        out.push(X::__read(row, &layout)?);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Aggregates of the rows a shape selects, per group of the `group`
/// columns (or as one row without them); `on_row` reads each.
pub(crate) async fn aggregate<M: Model, E: Exec>(
    conn: &E,
    shape: &Shape,
    group: &[usize],
    aggs: &[Agg],
    on_row: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let ctx = Ctx::of::<M>();
    let dialect = conn.dialect();
    let table = Table::of::<M>();
    let never;
    // A query that matches nothing still has aggregates (a count of 0):
    // ask the database, with a filter that is false.
    let shape = if shape.is_never() {
        never = Shape {
            filter: Some(Expr::Const(false)),
            limit: None,
            ..Shape::default()
        };
        &never
    } else {
        shape
    };
    let render = |json| render::aggregate(dialect, &table, shape, group, aggs, json);
    read_rows(conn, ctx, shape, render, on_row).await
}

/// Some columns of the rows a shape selects, in its order.
pub(crate) async fn project<M: Model, E: Exec>(
    conn: &E,
    shape: &Shape,
    columns: &[usize],
    on_row: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    if shape.is_never() {
        return Ok(());
    }
    let ctx = Ctx::of::<M>();
    let dialect = conn.dialect();
    let table = Table::of::<M>();
    let render = |json| render::project(dialect, &table, shape, columns, json);
    read_rows(conn, ctx, shape, render, on_row).await
}

/// The one number a count or exists statement returns.
pub(crate) async fn number<M: Model, E: Exec>(
    conn: &E,
    shape: &Shape,
    projection: Projection,
) -> Result<i64> {
    if shape.is_never() {
        return Ok(0);
    }
    let ctx = Ctx::of::<M>();
    let mut n = 0;
    let render = select_plain::<M>(conn.dialect(), shape, projection);
    read_rows(conn, ctx, shape, render, |row| {
        n = match row.value(0) {
            // PostgreSQL's EXISTS is a boolean, read as 0 or 1.
            Ok(Value::Integer(i)) => i,
            Ok(other) => return Err(ctx.column_error(usize::MAX, other.invalid_type("INTEGER"))),
            Err(e) => return Err(ctx.column_error(usize::MAX, e)),
        };
        Ok(())
    })
    .await?;
    Ok(n)
}

/// The row whose primary key is `key`.
pub(crate) async fn get<M: Model, E: Exec>(conn: &E, key: &M::Key) -> Result<Option<M>> {
    let shape = Shape {
        filter: Some(Expr::Compare {
            column: M::PRIMARY_KEY,
            op: CmpOp::Eq,
            value: Owned::from_value(key.to_value()),
        }),
        ..Shape::default()
    };
    Ok(all::<M, (), E>(conn, &shape).await?.pop())
}

/// Refuses a NaN on SQLite, which would bind it as NULL: an error naming
/// the column, never a silent NULL in its place.
fn writable<'v>(
    dialect: Dialect,
    ctx: &Ctx,
    values: impl IntoIterator<Item = (usize, Value<'v>)>,
) -> Result<()> {
    if dialect != Dialect::Sqlite {
        return Ok(());
    }
    for (i, value) in values {
        if matches!(value, Value::Real(r) if r.is_nan()) {
            return Err(Error::Unwritable {
                model: ctx.model,
                table: ctx.table,
                column: ctx.columns[i].name(),
                source: ValueError::Other("NaN: SQLite would store NULL in its place".into()),
            });
        }
    }
    Ok(())
}

/// `UPDATE` or `DELETE` of the rows a query selects; how many changed.
pub(crate) async fn write_many<M: Model, E: Exec>(
    conn: &E,
    write: &Write<'_>,
    shape: &Shape,
) -> Result<u64> {
    if shape.is_never() {
        return Ok(0);
    }
    let ctx = Ctx::of::<M>();
    let dialect = conn.dialect();
    let extra = match write {
        Write::Update { assignments, .. } => {
            writable(
                dialect,
                &ctx,
                assignments.iter().map(|(i, v)| (*i, v.as_value())),
            )?;
            assignments.len()
        }
        _ => 0,
    };
    let sql = fit(conn, &ctx, shape, extra, |json| {
        render::write(dialect, write, json)
    })?;
    let params = params(dialect, &sql.slots, &Binds::default());
    let mut stmt = conn.prepare(&sql.text, ctx).await?;
    conn.execute(&mut stmt, &params).await
}

/// A write of one row by its key (`UPDATE`, `DELETE` or upsert); how many
/// rows changed.
pub(crate) async fn write_row<M: Model, E: Exec>(
    conn: &E,
    row: &M,
    write: Write<'_>,
) -> Result<u64> {
    let ctx = Ctx::of::<M>();
    let dialect = conn.dialect();
    let sql = render::write(dialect, &write, false);
    let mut stmt = conn.prepare(&sql.text, ctx).await?;
    let mut fields = Vec::with_capacity(M::COLUMNS.len());
    row.__push_values(&mut fields);
    if !matches!(write, Write::DeleteByKey { .. }) {
        writable(dialect, &ctx, fields.iter().copied().enumerate())?;
    }
    let binds = Binds {
        fields: &fields,
        ..Binds::default()
    };
    let params = params(dialect, &sql.slots, &binds);
    conn.execute(&mut stmt, &params).await
}

/// Rows per multi-row `INSERT` on SQLite at most. Measured with the
/// benchmark's insert rows (10,000 rows of four columns, callgrind): 16 or
/// 256 rows per statement cost 8% to 9% more instructions than 64, and 1,024
/// rows 19% more; and each row count is one more statement text to cache.
const SQLITE_ROWS: usize = 64;

/// Inserts rows, all or none; their keys, in input order.
///
/// One row is one statement. Several are written in as few statements as
/// the backend allows, inside a savepoint when they take more than one (on
/// SQLite, a `SAVEPOINT` opens a transaction when none is open) or when the
/// connection is inside a [`transaction`](crate::Postgres::transaction) on
/// PostgreSQL, so that a failed row leaves that transaction usable:
/// - SQLite, a key the rows hold: multi-row `VALUES` of a power-of-two row
///   count (at most [`SQLITE_ROWS`], and as many as the connection's
///   variable limit allows), so that texts repeat and stay cached;
/// - SQLite, an automatic key: one statement per row, its key the rowid
///   SQLite reports for it: SQLite says neither in which order a multi-row
///   `RETURNING` reports its rows nor in which order it numbers them;
/// - PostgreSQL: one binary `COPY` of every row; an automatic key's values
///   are drawn from its sequence first, one per row, so each row's key is
///   known by construction, not by an order `RETURNING` does not promise.
pub(crate) async fn insert_all<'a, M: Model + 'a, E: Exec>(
    conn: &E,
    rows: Vec<&'a M>,
) -> Result<Vec<M::Key>> {
    let ctx = Ctx::of::<M>();
    let table = Table::of::<M>();
    let stride = M::COLUMNS.len();
    match rows.as_slice() {
        [] => Ok(Vec::new()),
        [row] => insert_each::<M, E>(conn, &ctx, std::slice::from_ref(row)).await,
        #[cfg(feature = "postgres")]
        _ if conn.dialect() == Dialect::Postgres => {
            let kind = ScopeKind::Write {
                statements: 1,
                rows: rows.len(),
            };
            let scope = conn.open(kind, ctx).await?;
            let dialect = Dialect::Postgres;
            let mut values: Vec<Value<'a>> = Vec::with_capacity(rows.len() * stride);
            for row in &rows {
                row.__push_values(&mut values);
            }
            let keys = if M::AUTO_KEY {
                let sql = render::draw_keys(&table, rows.len());
                let params = params(dialect, &sql.slots, &Binds::default());
                let mut keys = Vec::with_capacity(rows.len());
                let mut stmt = conn.prepare(&sql.text, ctx).await?;
                conn.query(&mut stmt, params, |r| {
                    let key = r
                        .value(0)
                        .map_err(|e| ctx.column_error(M::PRIMARY_KEY, e))?;
                    keys.push(key_of::<M>(&ctx, key)?);
                    if let (Value::Integer(k), Some(slot)) = (
                        key,
                        values.get_mut((keys.len() - 1) * stride + M::PRIMARY_KEY),
                    ) {
                        *slot = Value::Integer(k);
                    }
                    Ok(())
                })
                .await?;
                returned::<M>(keys, rows.len())?
            } else {
                rows.iter().map(|r| r.primary_key().clone()).collect()
            };
            let (copy, columns) = render::copy_in(&table);
            conn.copy_in(&copy, &columns, &values, ctx).await?;
            close(conn, scope).await?;
            Ok(keys)
        }
        _ if M::AUTO_KEY => {
            let kind = ScopeKind::Write {
                statements: rows.len(),
                rows: rows.len(),
            };
            let scope = conn.open(kind, ctx).await?;
            let keys = insert_each::<M, E>(conn, &ctx, &rows).await?;
            close(conn, scope).await?;
            Ok(keys)
        }
        _ => {
            let limit = conn.caps()?.variable_limit().unwrap_or(usize::MAX);
            let fit = (limit / stride.max(1)).min(SQLITE_ROWS);
            if fit == 0 {
                return Err(Error::TooManyParameters {
                    model: ctx.model,
                    table: ctx.table,
                    needed: stride,
                    limit,
                });
            }
            // The largest power of two that fits; the rest in smaller powers.
            let chunk = 1 << fit.ilog2();
            let chunks = chunk_sizes(rows.len(), chunk);
            // Statement `k` writes 2^k rows; rendered once per call.
            let texts: Vec<Option<Sql<'static>>> = (0..=chunk.ilog2())
                .map(|k| {
                    let size = 1 << k;
                    chunks
                        .contains(&size)
                        .then(|| render::insert_many(&table, false, size))
                })
                .collect();
            let kind = ScopeKind::Write {
                statements: chunks.len(),
                rows: rows.len(),
            };
            let scope = conn.open(kind, ctx).await?;
            let mut values: Vec<Value<'a>> = Vec::new();
            let mut rest = rows.as_slice();
            for size in chunks {
                let (these, after) = rest.split_at(size);
                rest = after;
                values.clear();
                for row in these {
                    row.__push_values(&mut values);
                }
                refuse_nan(&ctx, stride, &values)?;
                let Some(Some(sql)) = texts.get(size.ilog2() as usize) else {
                    continue;
                };
                // Every column of every row, in order: the placeholders'
                // own order (`render::insert_many`).
                let mut stmt = conn.prepare(&sql.text, ctx).await?;
                conn.execute_values(&mut stmt, &values).await?;
            }
            close(conn, scope).await?;
            Ok(rows.iter().map(|r| r.primary_key().clone()).collect())
        }
    }
}

/// Commits a scope [`Exec::open`] opened, if it opened one.
pub(crate) async fn close<E: Exec>(conn: &E, scope: Option<E::Scope>) -> Result<()> {
    match scope {
        Some(scope) => conn.close(scope).await,
        None => Ok(()),
    }
}

/// [`writable`] for rows of `stride` values laid end to end (SQLite only).
fn refuse_nan(ctx: &Ctx, stride: usize, values: &[Value<'_>]) -> Result<()> {
    match values
        .iter()
        .position(|v| matches!(v, Value::Real(r) if r.is_nan()))
    {
        None => Ok(()),
        Some(at) => writable(Dialect::Sqlite, ctx, [(at % stride.max(1), values[at])]),
    }
}

/// A key the database assigned, as the model's key type.
fn key_of<M: Model>(ctx: &Ctx, key: Value<'_>) -> Result<M::Key> {
    M::Key::from_value(key).map_err(|e| ctx.column_error(M::PRIMARY_KEY, e))
}

/// `n` rows as statements of `chunk` rows (a power of two) and, for the
/// rest, of the powers of two that sum to it, largest first.
fn chunk_sizes(n: usize, chunk: usize) -> Vec<usize> {
    let mut sizes = vec![chunk; n / chunk];
    let rest = n % chunk;
    let mut size = chunk;
    while size > 0 {
        size /= 2;
        if rest & size != 0 {
            sizes.push(size);
        }
    }
    sizes
}

/// The keys an insert returned, which must be one per row.
#[cfg(feature = "postgres")]
fn returned<M: Model>(keys: Vec<M::Key>, rows: usize) -> Result<Vec<M::Key>> {
    if keys.len() == rows {
        return Ok(keys);
    }
    Err(Error::NotFound {
        model: M::NAME,
        table: M::TABLE,
        key: format!("({} keys returned by INSERT for {rows} rows)", keys.len()),
    })
}

/// Inserts rows one statement each, with one prepared statement; their keys.
/// An automatic key is the rowid SQLite reports for the row (an automatic
/// key is the rowid), or the key PostgreSQL's `RETURNING` gives.
async fn insert_each<'a, M: Model, E: Exec>(
    conn: &E,
    ctx: &Ctx,
    rows: &[&'a M],
) -> Result<Vec<M::Key>> {
    let ctx = *ctx;
    let dialect = conn.dialect();
    let table = Table::of::<M>();
    let sql = match dialect {
        Dialect::Sqlite => render::insert_many(&table, M::AUTO_KEY, 1),
        Dialect::Postgres => render::write(
            dialect,
            &Write::Insert {
                table,
                auto_key: M::AUTO_KEY,
            },
            false,
        ),
    };
    let mut stmt = conn.prepare(&sql.text, ctx).await?;
    let mut keys = Vec::with_capacity(rows.len());
    // One buffer of fields and one of parameters for every row.
    let mut fields: Vec<Value<'a>> = Vec::with_capacity(M::COLUMNS.len());
    let mut params = Vec::with_capacity(sql.slots.len());
    for row in rows {
        fields.clear();
        row.__push_values(&mut fields);
        if dialect == Dialect::Sqlite {
            refuse_nan(&ctx, fields.len(), &fields)?;
            // The placeholders bind every column but an automatic key, in
            // order (`render::insert_many`).
            if M::AUTO_KEY && M::PRIMARY_KEY < fields.len() {
                fields.remove(M::PRIMARY_KEY);
            }
            let (_, rowid) = conn.execute_values(&mut stmt, &fields).await?;
            keys.push(if M::AUTO_KEY {
                key_of::<M>(&ctx, Value::Integer(rowid))?
            } else {
                row.primary_key().clone()
            });
            continue;
        }
        let binds = Binds {
            fields: &fields,
            ..Binds::default()
        };
        params_into(&mut params, dialect, &sql.slots, &binds);
        if !M::AUTO_KEY {
            conn.execute(&mut stmt, &params).await?;
            keys.push(row.primary_key().clone());
            continue;
        }
        let mut key = None;
        conn.query(&mut stmt, std::mem::take(&mut params), |r| {
            let value = r
                .value(0)
                .map_err(|e| ctx.column_error(M::PRIMARY_KEY, e))?;
            key = Some(key_of::<M>(&ctx, value)?);
            Ok(())
        })
        .await?;
        keys.push(key.ok_or_else(|| Error::NotFound {
            model: M::NAME,
            table: M::TABLE,
            key: "(none returned by INSERT)".into(),
        })?);
    }
    Ok(keys)
}

// The plans of the query layer and the writes: each call's arguments, and
// the body that runs them on any connection (see `crate::db`).

/// The rows a query selects ([`all`]).
pub(crate) struct AllRows<'q, M, X> {
    pub(crate) shape: Cow<'q, Shape>,
    pub(crate) model: PhantomData<fn() -> (M, X)>,
}

impl<M: Model, X: Extras<M>> AllRows<'_, M, X> {
    async fn run<E: Exec>(self, conn: &E) -> Result<Vec<X::Row>> {
        all::<M, X, E>(conn, &self.shape).await
    }
}

impl<M: Model, X: Extras<M>> Plan for AllRows<'_, M, X> {
    type Output = Vec<X::Row>;
    crate::db::plan_methods!();
}

/// A count or an exists ([`number`]).
pub(crate) struct Number<'q, M> {
    pub(crate) shape: &'q Shape,
    pub(crate) projection: Projection,
    pub(crate) model: PhantomData<fn() -> M>,
}

impl<M: Model> Number<'_, M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<i64> {
        number::<M, E>(conn, self.shape, self.projection).await
    }
}

impl<M: Model> Plan for Number<'_, M> {
    type Output = i64;
    crate::db::plan_methods!();
}

/// Aggregates per group ([`aggregate`]) or some columns ([`project`]) of
/// the rows a shape selects, each row read by `read`.
pub(crate) struct Values<'q, M, F> {
    pub(crate) shape: Cow<'q, Shape>,
    /// The group's columns, or the projected ones.
    pub(crate) columns: Vec<usize>,
    /// The aggregates; `None` for a projection.
    pub(crate) aggs: Option<Vec<Agg>>,
    pub(crate) read: F,
    pub(crate) model: PhantomData<fn() -> M>,
}

impl<M: Model, T: Send, F: FnMut(&Row<'_>) -> Result<T>> Values<'_, M, F> {
    async fn run<E: Exec>(mut self, conn: &E) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let on_row = |row: &Row<'_>| {
            out.push((self.read)(row)?);
            Ok(())
        };
        match &self.aggs {
            Some(aggs) => aggregate::<M, E>(conn, &self.shape, &self.columns, aggs, on_row).await?,
            None => project::<M, E>(conn, &self.shape, &self.columns, on_row).await?,
        }
        Ok(out)
    }
}

impl<M: Model, T: Send, F: FnMut(&Row<'_>) -> Result<T> + Send> Plan for Values<'_, M, F> {
    type Output = Vec<T>;
    crate::db::plan_methods!();
}

/// The row with a key ([`get`]).
pub(crate) struct Get<M: Model> {
    pub(crate) key: M::Key,
}

impl<M: Model> Get<M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<Option<M>> {
        get::<M, E>(conn, &self.key).await
    }
}

impl<M: Model> Plan for Get<M>
where
    M::Key: Send,
{
    type Output = Option<M>;
    crate::db::plan_methods!();
}

/// An `UPDATE` (with assignments) or a `DELETE` of the rows a query
/// selects ([`write_many`]).
pub(crate) struct WriteMany<'q, M> {
    pub(crate) shape: &'q Shape,
    pub(crate) assignments: Option<Vec<(usize, Owned)>>,
    pub(crate) model: PhantomData<fn() -> M>,
}

impl<M: Model> WriteMany<'_, M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<u64> {
        let table = Table::of::<M>();
        let write = match &self.assignments {
            Some(assignments) => Write::Update {
                table,
                shape: self.shape,
                assignments,
            },
            None => Write::Delete {
                table,
                shape: self.shape,
            },
        };
        write_many::<M, E>(conn, &write, self.shape).await
    }
}

impl<M: Model> Plan for WriteMany<'_, M> {
    type Output = u64;
    crate::db::plan_methods!();
}

/// A write of one row by its key ([`write_row`]).
pub(crate) struct WriteRow<'r, M> {
    pub(crate) row: &'r M,
    pub(crate) write: Write<'static>,
}

impl<M: Model> WriteRow<'_, M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<u64> {
        write_row::<M, E>(conn, self.row, self.write).await
    }
}

impl<M: Model> Plan for WriteRow<'_, M> {
    type Output = u64;
    crate::db::plan_methods!();
}

/// Rows to insert ([`insert_all`]).
pub(crate) struct InsertAll<'r, M> {
    pub(crate) rows: Vec<&'r M>,
}

impl<'r, M: Model> InsertAll<'r, M> {
    async fn run<E: Exec>(self, conn: &E) -> Result<Vec<M::Key>> {
        insert_all::<M, E>(conn, self.rows).await
    }
}

impl<M: Model> Plan for InsertAll<'_, M>
where
    M::Key: Send,
{
    type Output = Vec<M::Key>;
    crate::db::plan_methods!();
}

/// Statements that return nothing (DDL), separated by `;`.
pub(crate) struct Batch {
    pub(crate) sql: String,
    pub(crate) ctx: Ctx,
}

impl Batch {
    async fn run<E: Exec>(self, conn: &E) -> Result<()> {
        conn.batch(&self.sql, self.ctx).await
    }
}

impl Plan for Batch {
    type Output = ();
    crate::db::plan_methods!();
}

#[cfg(test)]
mod tests {
    use super::chunk_sizes;

    #[test]
    fn chunks_are_full_then_powers_of_two() {
        assert_eq!(chunk_sizes(10_000, 64).len(), 157);
        assert_eq!(chunk_sizes(10_000, 64).iter().sum::<usize>(), 10_000);
        assert_eq!(chunk_sizes(7, 2), [2, 2, 2, 1]);
        assert_eq!(chunk_sizes(100, 64), [64, 32, 4]);
        assert_eq!(chunk_sizes(64, 64), [64]);
        assert!(chunk_sizes(0, 8).is_empty());
    }
}
