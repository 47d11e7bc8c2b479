//! The batch loader every relation function is built on.
//!
//! Given one optional key per output slot, it binds each distinct key once,
//! in as few statements as the connection allows (one array parameter on
//! PostgreSQL; chunks under `SQLITE_LIMIT_VARIABLE_NUMBER` on SQLite), and
//! hands every row to the slots whose key it carries.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::backend::sqlite::Affinity;
use crate::backend::{Ctx, Exec, Row, ScopeKind};
use crate::error::{Error, Result};
use crate::exec::{self, Binds};
use crate::render;
use crate::statement::{KeyColumn, Keys, Projection, Select, Shape, Table};
use crate::value::{Owned, Value, ValueError};
use crate::SqlType;

/// Keys covering at least 1/`SCAN_RATIO` of the rows of the parent table make
/// a full scan of the child table cheaper than probing its index once per
/// key. Measured on the benchmark's M dataset (README): the scan costs about
/// 10 ms per 100k rows plus 0.4 µs per row kept, the index about 0.7 µs per
/// row found, so they cross near a third of the table.
const SCAN_RATIO: i64 = 3;

/// Finds a decoded row's key, when the row holds it.
pub(crate) type KeyOf<'f, T, K> = &'f (dyn Fn(&T) -> Option<&K> + Sync);

/// What a batch load selects and where each row's key is.
pub(crate) struct Plan<'q> {
    pub(crate) ctx: Ctx,
    /// The table whose rows are loaded.
    pub(crate) table: Table,
    pub(crate) key: KeyColumn,
    /// Who owns the key column, for the error when a key does not read:
    /// model, table and column.
    pub(crate) key_owner: (&'static str, &'static str, &'static str),
    pub(crate) shape: &'q Shape,
    /// The parent table, when a scan of `table` may replace the index probes.
    pub(crate) scan_sized_by: Option<&'static str>,
}

impl Plan<'_> {
    fn key_error(&self, source: ValueError) -> Error {
        let (model, table, column) = self.key_owner;
        Error::Column {
            model,
            table,
            column,
            source,
        }
    }

    /// Rows come in the query's order from SQL, not in key order from Rust.
    fn ordered(&self) -> bool {
        !self.shape.order.is_empty() || self.shape.is_windowed()
    }
}

/// How one load binds its keys: how many per statement, and whether it may scan.
struct Chunking {
    chunk: usize,
    lists_as_json: bool,
    scan: Option<&'static str>,
}

fn chunking(
    conn: &impl Exec,
    plan: &Plan<'_>,
    n: usize,
    projection: Projection,
) -> Result<Chunking> {
    crate::exec::shallow(&plan.ctx, plan.shape)?;
    let dialect = conn.dialect();
    // Whether to offer the scan: not for one key (the single-row
    // accessors), where the choice costs more than it can save, nor where an
    // earlier call learned that the parent table is far larger than the keys.
    let may_scan = |parent: &&'static str| {
        projection == Projection::Model
            && !plan.ordered()
            && plan.shape.extras.is_empty()
            && n > 1
            && !sizes::clearly_larger(conn.identity(), parent, threshold(n))
    };
    // Keys bound as one array: one statement for all of them.
    let caps = conn.caps()?;
    let Some(limit) = caps.variable_limit() else {
        // The keys' array and the scan's size, and the filter's values.
        let needed = render::shape_params(dialect, plan.shape, false) + 2;
        crate::exec::within(&plan.ctx, needed, caps)?;
        return Ok(Chunking {
            chunk: n,
            lists_as_json: false,
            scan: plan.scan_sized_by.filter(may_scan),
        });
    };
    // What the statement binds besides the keys: the filter's values (with
    // long lists as one value each, or every list so if that is what fits),
    // and a window's two numbers.
    let fixed = |json| match projection {
        Projection::CountPerKey => plan
            .shape
            .filter
            .as_ref()
            .map_or(0, |f| render::params_of(dialect, f, json)),
        _ => render::shape_params(dialect, plan.shape, json),
    };
    let lists_as_json = fixed(false) >= limit;
    let fixed = fixed(lists_as_json);
    if fixed >= limit {
        return Err(Error::TooManyParameters {
            model: plan.ctx.model,
            table: plan.ctx.table,
            needed: fixed + 1,
            limit,
        });
    }
    let room = limit - fixed;
    // The scan takes one parameter besides the keys: offer it only where that
    // does not add a statement.
    let scan = plan
        .scan_sized_by
        .filter(|parent| room > 1 && n.div_ceil(room - 1) == n.div_ceil(room) && may_scan(parent));
    let room = if scan.is_some() { room - 1 } else { room };
    Ok(Chunking {
        chunk: render::bucket(n, room),
        lists_as_json,
        scan,
    })
}

fn threshold(keys: usize) -> i64 {
    i64::try_from(keys)
        .unwrap_or(i64::MAX)
        .saturating_mul(SCAN_RATIO)
}

/// The keys of one statement, as values: the chunk padded to `count` by
/// repeating its first key (same text, same result), or every key where the
/// backend binds them as one array.
fn key_values<'k, K: SqlType>(keys: &[&'k K], count: usize) -> Vec<Value<'k>> {
    (0..count.max(keys.len()))
        .map(|i| keys.get(i).unwrap_or(&keys[0]).to_value())
        .collect()
}

/// One `Vec` per slot: the rows whose key column equals that slot's key. A
/// slot whose key is `None` stays empty. No statement runs when no slot has a
/// key, or when the plan's query can match nothing.
///
/// Every chunk of keys has the same length, a power of two or the limit (the
/// last is padded by repeating a key, which `IN` ignores), so every chunk, and
/// every call with a similar number of keys, uses one cached statement. A row is
/// decoded once per slot that wants it, so duplicate keys need no `Clone`.
/// The chunks of one call run in one read transaction, so they see one
/// snapshot of the database.
///
/// `key_of` finds a decoded row's key, when the row holds it (a foreign key of
/// the child, a parent's primary key): the index plan then decodes each row
/// first and reads its key from the result instead of reading the column
/// twice. A scan reads the key first, since it skips most rows undecoded.
///
/// Without an order in the query, each slot comes out ordered by `order`
/// (the primary key). Rows usually arrive in that order already (index order
/// or rowid order), so the loader only notes, as it pushes, whether some row
/// came before its predecessor, and sorts only then: an `ORDER BY` cost 40%
/// on 100k rows, a separate pass over every group 5%.
pub(crate) async fn load<'k, K, T, O, E: Exec>(
    conn: &E,
    slot_keys: impl ExactSizeIterator<Item = Option<&'k K>>,
    plan: &Plan<'_>,
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
    key_of: Option<KeyOf<'_, T, K>>,
    order: impl Fn(&T) -> &O,
) -> Result<Vec<Vec<T>>>
where
    K: SqlType + Eq + Hash + Clone + 'k,
    O: SqlType,
{
    let (mut slots, groups) = Groups::collect(slot_keys, Vec::new);
    if groups.keys.is_empty() || plan.shape.is_never() {
        return Ok(slots);
    }
    let n = groups.keys.len();
    let dialect = conn.dialect();
    let Chunking {
        chunk,
        lists_as_json,
        scan,
    } = chunking(conn, plan, n, Projection::Model)?;
    let ordered = plan.ordered();
    let render = |scan| {
        let select = Select {
            table: plan.table,
            projection: Projection::Model,
            shape: plan.shape,
            keys: Some(Keys {
                column: plan.key,
                count: chunk,
                scan_sized_by: scan,
                per_key: true,
            }),
            ordered,
        };
        render::select(dialect, &select, lists_as_json)
    };
    let first = render(scan);
    let fallback;
    let (sql, mut stmt, may_scan) = match (conn.prepare(&first.text, plan.ctx).await, scan) {
        (Ok(stmt), _) => (&first, stmt, scan.is_some()),
        // A parent without rowid (`WITHOUT ROWID`, a view) cannot be sized by
        // it: that one error means the plain IN list, now and for later
        // calls; any other is the caller's.
        (Err(Error::NoSuchColumn { column, .. }), Some(parent)) if column == "rowid" => {
            sizes::learn(conn.identity(), parent, i64::MAX);
            fallback = render(None);
            let stmt = conn.prepare(&fallback.text, plan.ctx).await?;
            (&fallback, stmt, false)
        }
        (Err(e), _) => return Err(e),
    };
    let key_index = sql.key_index.unwrap_or(0);
    let threshold = threshold(n);
    // Whether the rows may include ones nobody asked for: the scan's. A
    // statement that may scan but does not say which plan ran (PostgreSQL's)
    // counts as one that did.
    let mut scanned = may_scan && sql.marker_index.is_none();
    let mut unordered = false;
    let mut ranked = Ranked::new(plan.shape.offset);
    let mut place = |slots: &mut [Vec<T>], slot: usize, item: T, rank: Option<i64>| {
        let list = &mut slots[slot];
        let Some(rank) = rank else {
            // The last element sits next to where the new one goes: a cheap check.
            unordered |= !ordered
                && list.last().is_some_and(|last| {
                    sql_order(order(last).to_value(), order(&item).to_value()).is_gt()
                });
            list.push(item);
            return;
        };
        ranked.place(list, slot, item, rank);
    };
    let statements = n.div_ceil(chunk);
    let scope = conn.open(ScopeKind::Read { statements }, plan.ctx).await?;
    {
        for keys in groups.keys.chunks(chunk) {
            // Only the parameters outlive this: the query frees them once
            // bound, so no copy of the keys is held while rows are read.
            let params = exec::params(
                dialect,
                &sql.slots,
                &Binds {
                    keys: &key_values(keys, chunk),
                    threshold,
                    ..Binds::default()
                },
            );
            let mut first_row = true;
            conn.query(&mut stmt, params, |row| {
                if first_row {
                    first_row = false;
                    if let Some(marker) = sql.marker_index {
                        let size: i64 = row
                            .get(marker)
                            .map_err(|e| plan.ctx.column_error(marker, e))?;
                        // -1 from the scan's arm, the parent's size from the other.
                        scanned = size < 0;
                        match (scan, scanned) {
                            (Some(parent), false) => sizes::learn(conn.identity(), parent, size),
                            (Some(parent), true) => sizes::forget(conn.identity(), parent),
                            (None, _) => {}
                        }
                    }
                }
                let rank = match sql.rank_index {
                    Some(i) => Some(row.get::<i64>(i).map_err(|e| plan.ctx.column_error(i, e))?),
                    None => None,
                };
                if let (Some(key_of), false) = (key_of, scanned) {
                    let item = decode(row)?;
                    let Some((first, more)) = key_of(&item).and_then(|key| groups.slots(key))
                    else {
                        return Ok(());
                    };
                    for &slot in more {
                        place(&mut slots, slot, decode(row)?, rank);
                    }
                    place(&mut slots, first, item, rank);
                    return Ok(());
                }
                let raw = row.value(key_index).map_err(|e| plan.key_error(e))?;
                let key = match K::from_value(raw) {
                    Ok(key) => key,
                    // A scan meets every row; an index probe only rows SQLite
                    // found equal to a requested key. A key that does not read
                    // is bad data when SQLite would have matched it, and none
                    // of this load's business otherwise, whichever plan ran.
                    Err(_)
                        if scanned
                            && !sqlite_would_match(raw, row.affinity(key_index), &groups) =>
                    {
                        return Ok(())
                    }
                    Err(e) => return Err(plan.key_error(e)),
                };
                let Some((first, more)) = groups.slots(&key) else {
                    return Ok(());
                };
                place(&mut slots, first, decode(row)?, rank);
                for &slot in more {
                    place(&mut slots, slot, decode(row)?, rank);
                }
                Ok(())
            })
            .await?;
            if scanned {
                // The scan saw every row, for every key of every chunk.
                break;
            }
        }
    }
    exec::close(conn, scope).await?;
    ranked.finish(&mut slots);
    if unordered {
        let cmp = |a: &T, b: &T| sql_order(order(a).to_value(), order(b).to_value());
        for slot in &mut slots {
            if !slot.is_sorted_by(|a, b| cmp(a, b).is_le()) {
                slot.sort_by(cmp);
            }
        }
    }
    Ok(slots)
}

/// How many rows each slot's key has, in one statement per chunk (`GROUP BY`
/// the key; no row is decoded). A limit and an offset in the plan's query
/// apply per key, as in [`load`].
pub(crate) async fn count<'k, K, E: Exec>(
    conn: &E,
    slot_keys: impl ExactSizeIterator<Item = Option<&'k K>>,
    plan: &Plan<'_>,
) -> Result<Vec<u64>>
where
    K: SqlType + Eq + Hash + Clone + 'k,
{
    let (mut counts, groups) = Groups::collect(slot_keys, || 0u64);
    if groups.keys.is_empty() || plan.shape.is_never() {
        return Ok(counts);
    }
    let n = groups.keys.len();
    let dialect = conn.dialect();
    let Chunking {
        chunk,
        lists_as_json,
        ..
    } = chunking(conn, plan, n, Projection::CountPerKey)?;
    let select = Select {
        table: plan.table,
        projection: Projection::CountPerKey,
        shape: plan.shape,
        keys: Some(Keys {
            column: plan.key,
            count: chunk,
            scan_sized_by: None,
            per_key: true,
        }),
        ordered: false,
    };
    let sql = render::select(dialect, &select, lists_as_json);
    let shape = plan.shape;
    let statements = n.div_ceil(chunk);
    let scope = conn.open(ScopeKind::Read { statements }, plan.ctx).await?;
    let mut stmt = conn.prepare(&sql.text, plan.ctx).await?;
    {
        for keys in groups.keys.chunks(chunk) {
            let values = key_values(keys, chunk);
            let binds = Binds {
                keys: &values,
                ..Binds::default()
            };
            let params = exec::params(dialect, &sql.slots, &binds);
            conn.query(&mut stmt, params, |row| {
                let key: K = row.get(0).map_err(|e| plan.key_error(e))?;
                let total: i64 = row
                    .get(1)
                    .map_err(|e| plan.ctx.column_error(usize::MAX, e))?;
                let total = u64::try_from(total).unwrap_or(0);
                let kept = total
                    .saturating_sub(shape.offset)
                    .min(shape.limit.unwrap_or(u64::MAX));
                if let Some((first, more)) = groups.slots(&key) {
                    counts[first] = kept;
                    for &slot in more {
                        counts[slot] = kept;
                    }
                }
                Ok(())
            })
            .await?;
        }
    }
    drop(stmt);
    exec::close(conn, scope).await?;
    Ok(counts)
}

/// Whether SQLite's `=` would find `raw`, a value that does not read as the
/// key type, equal to one of the requested keys: after the conversions a
/// column's numeric or text affinity applies (`1` and `'1'`, `2.0` and `2`),
/// and none at all in a column without affinity (no declared type, `BLOB`).
fn sqlite_would_match<K: SqlType + Eq + Hash + Clone>(
    raw: Value<'_>,
    affinity: Affinity,
    groups: &Groups<'_, K>,
) -> bool {
    if affinity == Affinity::Blob {
        // No conversion: a value of another type than the keys' equals none.
        return false;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let candidates: [Option<Owned>; 2] = match raw {
        Value::Integer(i) => [
            Some(Owned::Text(i.to_string().into())),
            Some(Owned::Real(i as f64)),
        ],
        Value::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e18 => {
            [Some(Owned::Integer(r as i64)), None]
        }
        Value::Text(s) => [
            s.trim().parse::<i64>().ok().map(Owned::Integer),
            s.trim().parse::<f64>().ok().map(Owned::Real),
        ],
        _ => [None, None],
    };
    candidates
        .into_iter()
        .flatten()
        .any(|c| K::from_value(c.as_value()).is_ok_and(|k| groups.slots(&k).is_some()))
}

/// Puts the rows of a per-key window at their places. A key's kept rows are
/// numbered offset + 1, offset + 2, ...: a row in sequence goes at the end of
/// its slot, which is how rows arrive from SQLite and PostgreSQL (a window's
/// rows come out in its own order, so the statement needs no outer `ORDER BY`
/// that would sort them all again). Should a slot's rows ever arrive out of
/// sequence, its rows so far are numbered from their places and set aside,
/// to be sorted by number when all are in.
struct Ranked<T> {
    offset: i64,
    stray: HashMap<usize, Vec<(i64, T)>>,
}

impl<T> Ranked<T> {
    fn new(offset: u64) -> Self {
        Ranked {
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
            stray: HashMap::new(),
        }
    }

    fn place(&mut self, list: &mut Vec<T>, slot: usize, item: T, rank: i64) {
        if let Some(rows) = self.stray.get_mut(&slot) {
            rows.push((rank, item));
        } else if usize::try_from(rank - self.offset - 1) == Ok(list.len()) {
            list.push(item);
        } else {
            let mut rows: Vec<(i64, T)> = (self.offset + 1..).zip(list.drain(..)).collect();
            rows.push((rank, item));
            self.stray.insert(slot, rows);
        }
    }

    fn finish(self, slots: &mut [Vec<T>]) {
        for (slot, mut rows) in self.stray {
            rows.sort_by_key(|&(rank, _)| rank);
            slots[slot] = rows.into_iter().map(|(_, item)| item).collect();
        }
    }
}

/// How SQLite orders two values in an `ORDER BY` with the default `BINARY`
/// collation: NULL, then numbers by value, then text, then blobs, bytewise.
/// Keys need only be `SqlType`, not `Ord`, and sort as the database would.
#[inline]
pub(crate) fn sql_order(a: Value<'_>, b: Value<'_>) -> Ordering {
    fn rank(v: &Value<'_>) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
            _ => 3,
        }
    }
    #[allow(clippy::cast_precision_loss)]
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(&y),
        (Value::Integer(x), Value::Real(y)) => (x as f64).total_cmp(&y),
        (Value::Real(x), Value::Integer(y)) => x.total_cmp(&(y as f64)),
        (Value::Real(x), Value::Real(y)) => x.total_cmp(&y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        // Dates, UUIDs and JSON order as SQLite stores them (ISO 8601 text,
        // 16-byte blobs), which is also their own order.
        (Value::Native(x), Value::Native(y)) => match (x.to_sqlite(), y.to_sqlite()) {
            (Ok(x), Ok(y)) => sql_order(
                crate::backend::sqlite::output_value(&x),
                crate::backend::sqlite::output_value(&y),
            ),
            _ => Ordering::Equal,
        },
        (a, b) => rank(&a).cmp(&rank(&b)),
    }
}

/// Distinct keys, and for each the slots that asked for it.
struct Groups<'k, K> {
    /// Each key's first slot and, if the key repeats, where its other slots are
    /// in `more`: one lookup per row finds everything, in one place. Keys are
    /// copied in, not borrowed: comparing through a reference costs a cache
    /// miss into the parents on every row (on the benchmark's L, 50k keys, that
    /// put the loader at 1.2-1.3x the hand-written scan; copied, 1.05x).
    index: HashMap<K, Group, foldhash::fast::RandomState>,
    keys: Vec<&'k K>,
    /// The further slots of keys given more than once.
    more: Vec<Vec<usize>>,
}

#[derive(Clone, Copy)]
struct Group {
    first: usize,
    /// Index into `Groups::more`, or `NONE`.
    more: usize,
}

const NONE: usize = usize::MAX;

impl<'k, K: Eq + Hash + Clone> Groups<'k, K> {
    /// One empty output per slot, and the groups of the slots' keys.
    fn collect<T>(
        slot_keys: impl ExactSizeIterator<Item = Option<&'k K>>,
        empty: impl Fn() -> T,
    ) -> (Vec<T>, Self) {
        let n = slot_keys.len();
        let mut out = Vec::with_capacity(n);
        let mut groups = Groups {
            index: HashMap::with_capacity_and_hasher(n, Default::default()),
            keys: Vec::with_capacity(n),
            more: Vec::new(),
        };
        for (slot, key) in slot_keys.enumerate() {
            out.push(empty());
            if let Some(key) = key {
                groups.add(key, slot);
            }
        }
        (out, groups)
    }

    fn add(&mut self, key: &'k K, slot: usize) {
        let group = self.index.entry(key.clone()).or_insert(Group {
            first: slot,
            more: NONE,
        });
        if group.first == slot {
            self.keys.push(key);
        } else {
            if group.more == NONE {
                group.more = self.more.len();
                self.more.push(Vec::new());
            }
            self.more[group.more].push(slot);
        }
    }

    /// The slots that want rows with this key: the first, then any others.
    #[inline]
    fn slots(&self, key: &K) -> Option<(usize, &[usize])> {
        let group = self.index.get(key)?;
        let more = match group.more {
            NONE => &[][..],
            i => &self.more[i],
        };
        Some((group.first, more))
    }
}

/// What earlier loads learned about the size of parent tables, per
/// connection, so that a load whose keys are clearly few for the table probes
/// the index with a plain `IN` list and skips the statement that could also
/// scan. A stale size can only choose the slower plan, never a wrong result:
/// a table that grew is measured again by the next statement that may scan;
/// one that shrank keeps a load on the index, which is always correct.
mod sizes {
    use std::sync::{MutexGuard, PoisonError};

    use super::{HashMap, Mutex};

    /// At most this many (connection, table) sizes are kept; past it the
    /// map starts over, so connections opened and dropped forever cannot grow it.
    const CAPACITY: usize = 4096;

    /// A size learned is trusted for this many calls, then measured again
    /// by the next call that could scan: the table may have shrunk, or the
    /// connection's address may now be another connection's (a dropped
    /// connection's memory is reused), and a stale size would keep dense
    /// loads on the slower plan. Re-measuring costs one call in this many a
    /// bounded count.
    const TRUSTED_USES: u32 = 64;

    type Sizes = HashMap<(usize, &'static str), (i64, u32)>;

    static SIZES: Mutex<Option<Sizes>> = Mutex::new(None);

    /// The sizes; a panic elsewhere while they were held leaves them usable
    /// (each update is one map operation).
    fn locked() -> MutexGuard<'static, Option<Sizes>> {
        SIZES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The table's size, as a lower bound: the statement counts at most
    /// `4 × threshold + 1` rows.
    pub(super) fn learn(connection: usize, table: &'static str, size: i64) {
        let mut sizes = locked();
        let sizes = sizes.get_or_insert_with(HashMap::new);
        if sizes.len() >= CAPACITY {
            sizes.clear();
        }
        sizes.insert((connection, table), (size, 0));
    }

    /// The table was found small enough to scan: nothing to remember.
    pub(super) fn forget(connection: usize, table: &'static str) {
        let mut sizes = locked();
        if let Some(sizes) = sizes.as_mut() {
            sizes.remove(&(connection, table));
        }
    }

    /// Whether the table is known to have more than twice `threshold` rows
    /// (and the size is not due to be measured again).
    pub(super) fn clearly_larger(connection: usize, table: &'static str, threshold: i64) -> bool {
        let mut sizes = locked();
        let Some(entry) = sizes.as_mut().and_then(|s| s.get_mut(&(connection, table))) else {
            return false;
        };
        let (size, uses) = entry;
        if *size <= threshold.saturating_mul(2) {
            return false;
        }
        // A table without rowid (learned as `i64::MAX`) stays without one.
        if *size == i64::MAX {
            return true;
        }
        *uses += 1;
        if *uses >= TRUSTED_USES {
            *uses = 0;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::*;

    use super::{sizes, sql_order};
    use crate::value::Value;

    /// A learned size is trusted a bounded number of times, then measured
    /// again; a scan forgets it.
    #[test]
    fn a_learned_size_is_measured_again() {
        let (conn, table) = (usize::MAX - 7, "sizes_test");
        sizes::learn(conn, table, 1_000);
        assert!(
            !sizes::clearly_larger(conn, table, 600),
            "not clearly larger"
        );
        let trusted = (0..200)
            .take_while(|_| sizes::clearly_larger(conn, table, 10))
            .count();
        assert_eq!(trusted, 63);
        assert!(sizes::clearly_larger(conn, table, 10));
        sizes::forget(conn, table);
        assert!(!sizes::clearly_larger(conn, table, 10));
    }

    /// Loads the children of `keys` from `child (id, parent_id)` and says
    /// which plan ran: whether the parent's size was learned, which only the
    /// index arm reports.
    fn probe(conn: &rusqlite::Connection, keys: &[i64]) -> (Vec<Vec<i64>>, bool) {
        use crate::backend::{Conn, Ctx, Db};
        use crate::model::Column;
        use crate::statement::{KeyColumn, Shape, Table};
        use crate::types::ColumnType;
        const COLUMNS: &[Column] = &[
            Column::__new("id", ColumnType::BigInt, false, None),
            Column::__new("parent_id", ColumnType::BigInt, false, None),
        ];
        let shape = Shape::default();
        let plan = super::Plan {
            ctx: Ctx {
                model: "Child",
                table: "child",
                columns: COLUMNS,
                indexes: &[],
            },
            table: Table {
                name: "child",
                columns: COLUMNS,
                primary_key: 0,
            },
            key: KeyColumn::Own(1),
            key_owner: ("Child", "child", "parent_id"),
            shape: &shape,
            scan_sized_by: Some("parent"),
        };
        let conn: Conn<'_> = conn.__conn();
        let rows = crate::db::block_on(super::load(
            &conn,
            keys.iter().map(Some),
            &plan,
            |row| row.get::<i64>(0).map_err(|e| plan.ctx.column_error(0, e)),
            None,
            |id: &i64| id,
        ))
        .unwrap();
        let learned = super::sizes::clearly_larger(conn.identity(), "parent", 0);
        (rows, learned)
    }

    fn parents(ids: impl Iterator<Item = i64>) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL);
             CREATE INDEX child_parent ON child (parent_id);",
        )
        .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for id in ids {
            tx.execute("INSERT INTO parent VALUES (?1)", [id]).unwrap();
            tx.execute("INSERT INTO child (parent_id) VALUES (?1)", [id])
                .unwrap();
        }
        tx.commit().unwrap();
        conn
    }

    /// The plan depends on how many rows the parent table has, not on the
    /// values of its keys: negative ids do not make two keys scan, ids near
    /// `i64::MAX` do not stop many keys from scanning, sparse ids are counted.
    #[test]
    fn the_plan_depends_on_the_row_count_not_on_key_values() {
        // 20,000 negative ids: two keys probe the index.
        let conn = parents(-20_000..0);
        let (rows, probed) = probe(&conn, &[-5, -7]);
        assert_eq!(rows, [vec![20_000 - 5 + 1], vec![20_000 - 7 + 1]]);
        assert!(probed);
        // 30 ids near i64::MAX, all asked for: one scan.
        let conn = parents(i64::MAX - 29..=i64::MAX);
        let all: Vec<i64> = (i64::MAX - 29..=i64::MAX).collect();
        let (rows, probed) = probe(&conn, &all);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 30);
        assert!(!probed);
        // 30 ids spread over the whole range: sparse, but the keys cover
        // them all, so they are counted and scanned.
        let spread: Vec<i64> = (-15..15).map(|i| i * (i64::MAX / 16)).collect();
        let conn = parents(spread.iter().copied());
        let (rows, probed) = probe(&conn, &spread);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 30);
        assert!(!probed);
        // Two of them probe.
        let conn = parents(spread.iter().copied());
        let (_, probed) = probe(&conn, &spread[..2]);
        assert!(probed);
    }

    #[test]
    fn chunks_round_up_to_powers_of_two_under_the_limit() {
        use crate::render::bucket;
        let got: Vec<usize> = [1, 2, 3, 20, 32, 33, 40_000]
            .iter()
            .map(|&n| bucket(n, 32_765))
            .collect();
        assert_eq!(got, [1, 2, 4, 32, 32, 64, 32_765]);
        assert_eq!(bucket(7, 5), 5);
    }

    #[test]
    fn windowed_rows_take_their_places_in_any_arrival_order() {
        use super::Ranked;
        // Offset 2: the kept rows are numbered 3, 4, 5.
        let mut slots: Vec<Vec<&str>> = vec![Vec::new(); 3];
        let mut ranked = Ranked::new(2);
        let arrivals = [
            (0, "a3", 3),
            (1, "b4", 4),
            (0, "a4", 4),
            (1, "b3", 3),
            (2, "c3", 3),
        ];
        for (slot, item, rank) in arrivals {
            ranked.place(&mut slots[slot], slot, item, rank);
        }
        ranked.place(&mut slots[1], 1, "b5", 5);
        ranked.place(&mut slots[0], 0, "a5", 5);
        ranked.finish(&mut slots);
        assert_eq!(
            slots,
            [vec!["a3", "a4", "a5"], vec!["b3", "b4", "b5"], vec!["c3"]]
        );
    }

    #[test]
    fn keys_sort_as_sqlite_sorts_them() {
        let t = Value::Text;
        assert_eq!(sql_order(Value::Integer(1), Value::Integer(2)), Less);
        assert_eq!(sql_order(Value::Integer(-5), Value::Integer(-7)), Greater);
        assert_eq!(sql_order(t("b"), t("a")), Greater);
        // Bytewise, as the BINARY collation: "B" < "a", "é" after "z".
        assert_eq!(sql_order(t("B"), t("a")), Less);
        assert_eq!(sql_order(t("é"), t("z")), Greater);
        assert_eq!(sql_order(Value::Real(2.5), Value::Real(-1.0)), Greater);
        assert_eq!(sql_order(Value::Integer(1), Value::Null), Greater);
        assert_eq!(sql_order(Value::Blob(&[1, 2]), Value::Blob(&[1])), Greater);
    }
}
