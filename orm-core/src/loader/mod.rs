//! The batch loader every relation function is built on.
//!
//! Given one optional key per output slot, it binds each distinct key once,
//! in as few statements as the connection allows (one array parameter on
//! PostgreSQL; chunks under `SQLITE_LIMIT_VARIABLE_NUMBER` on SQLite), and
//! hands every row to the slots whose key it carries.
//!
//! - `mod.rs`: the plan of one load, [`load`] and [`count`]: the statements
//!   run and the rows read.
//! - `chunking.rs`: how many keys each statement binds, and whether it may
//!   offer the scan of the whole table.
//! - `slots.rs`: the distinct keys and the slots that asked for each, where
//!   a row goes in its slots (per-key windows by rank), keys that read only
//!   as SQLite compares them, dense integer keys found by table instead of
//!   hash, and the order of a slot's rows.
//! - `staged.rs`: rows held in arrival order, then moved into their slots,
//!   each slot allocated once.
//! - `sizes.rs`: the parent tables' sizes learned by earlier loads.

mod chunking;
mod sizes;
mod slots;
mod staged;

use std::hash::Hash;

use self::chunking::{chunking, key_values, threshold, Chunking};
pub(crate) use self::slots::sql_order;
use self::slots::{sqlite_would_match, Dense, Groups, Ranked};
use self::staged::Staged;
use crate::backend::{Ctx, Exec, Row, ScopeKind};
use crate::error::{Error, Result};
use crate::exec::{self, Binds};
use crate::render;
use crate::statement::{KeyColumn, Keys, Projection, Select, Shape, Table};
use crate::value::ValueError;
use crate::SqlType;

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
/// twice. A scan reads the key first, since it may skip most rows
/// undecoded; but where its keys are integers close together (a table of
/// them finds a row's slot) and nearly every row is wanted, it decodes first
/// as well, and reads the key first only for a row that does not decode or
/// is not wanted.
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
    let out_of_order = |a: &T, b: &T| sql_order(order(a).to_value(), order(b).to_value()).is_gt();
    // A scan's rows come in table order, each far from the last one's slot:
    // past the first `STAGE_AFTER` (a load that small fits in cache), they
    // wait in arrival order and move into their slots once all are in (see
    // `staged.rs`). The index's come key by key, each next to the last, and
    // go straight to their slot, as do the rows of one slot (the single-row
    // accessors) and ranked rows. Waiting rows that arrive in order overall
    // are in order in every slot: each is compared with the row before it,
    // at hand, and only if one is not are the slots checked as they fill.
    let stage = sql.rank_index.is_none() && slots.len() > 1 && Staged::<T>::holds(slots.len());
    let mut staged = Staged::new();
    let mut in_order = true;
    let mut direct = 0usize;
    let mut place = |slots: &mut [Vec<T>], slot: usize, item: T, rank: Option<i64>, wait: bool| {
        if wait && direct >= STAGE_AFTER {
            if !ordered && in_order {
                in_order = staged.last().is_none_or(|last| !out_of_order(last, &item));
            }
            staged.push(slot, item);
            return;
        }
        direct += usize::from(wait);
        let list = &mut slots[slot];
        let Some(rank) = rank else {
            // The last element sits next to where the new one goes: a cheap check.
            unordered |= !ordered && list.last().is_some_and(|last| out_of_order(last, &item));
            list.push(item);
            return;
        };
        ranked.place(list, slot, item, rank);
    };
    // Made when the scan is known to run: before its statement where the
    // statement does not say (PostgreSQL), at its first row where it does.
    let mut dense: Option<Dense> = None;
    let mut dense_made = false;
    let mut first_wanted = DecodeFirst::default();
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
            if scanned && !dense_made {
                (dense, dense_made) = (Dense::of(&groups), true);
            }
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
                        if scanned && !dense_made {
                            (dense, dense_made) = (Dense::of(&groups), true);
                        }
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
                        place(&mut slots, slot, decode(row)?, rank, false);
                    }
                    place(&mut slots, first, item, rank, false);
                    return Ok(());
                }
                let dense = dense.as_ref();
                if let Some(dense) = dense {
                    if let Some(key_of) = key_of.filter(|_| first_wanted.keep()) {
                        // Most rows wanted: decoding first reads the key once,
                        // not twice. A row that does not decode, or whose key
                        // the table does not hold, is then read key first,
                        // below: it may be none of this load's business.
                        if let Ok(item) = decode(row) {
                            if let Some(slot) = key_of(&item).and_then(|key| dense.slot_of(key)) {
                                place(&mut slots, slot, item, rank, stage);
                                return Ok(());
                            }
                        }
                        first_wanted.missed();
                    }
                }
                let raw = row.value(key_index).map_err(|e| plan.key_error(e))?;
                if let Some(slot) = dense.and_then(|d| d.slot(&raw)) {
                    place(&mut slots, slot, decode(row)?, rank, stage);
                    return Ok(());
                }
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
                let wait = stage && scanned;
                place(&mut slots, first, decode(row)?, rank, wait);
                for &slot in more {
                    place(&mut slots, slot, decode(row)?, rank, wait);
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
    unordered |= staged.into_slots(&mut slots, (!ordered).then_some(&out_of_order), !in_order);
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

/// A scan's rows placed straight into their slots before the rest wait (see
/// `load`): PostgreSQL's statement that may scan says nothing of the plan,
/// and a sparse load's thousand rows in a hundred slots stay in cache (moving
/// them once more cost 2% of its instructions).
const STAGE_AFTER: usize = 2048;

/// Whether a scan decodes each row before reading its key: while nearly
/// every row is wanted (all the parents' children), a row decoded for nothing
/// costs less than reading every wanted row's key twice (each column read is
/// two calls into SQLite, each taking the connection's mutex).
#[derive(Default)]
struct DecodeFirst {
    seen: u64,
    missed: u64,
}

impl DecodeFirst {
    /// Whether to decode first: until more than one row in eight has
    /// been decoded for nothing.
    #[inline]
    fn keep(&mut self) -> bool {
        self.seen += 1;
        self.missed.saturating_mul(8) <= self.seen
    }

    #[inline]
    fn missed(&mut self) {
        self.missed += 1;
    }
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

#[cfg(test)]
mod tests {
    /// Loads the children of `keys` from `child (id, parent_id)` and says
    /// which plan ran: whether the parent's size was learned, which only the
    /// index arm reports.
    fn probe(conn: &rusqlite::Connection, keys: &[i64]) -> (Vec<Vec<i64>>, bool) {
        use crate::backend::{Conn, Ctx, Db};
        use crate::column::Column;
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
        let learned = super::sizes::known_larger(conn.identity(), "parent", 0);
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

    /// Sparse ids, fewer rows than twice the threshold: the statement counts
    /// them, and the count decides. Ten keys: threshold 30.
    #[test]
    fn a_sparse_parent_below_twice_the_threshold_is_counted() {
        let ids = |rows: i64| (0..rows).map(|i| i * (i64::MAX / 64));
        let keys: Vec<i64> = ids(10).collect();
        // 50 rows: more than the threshold, so the index.
        let (rows, probed) = probe(&parents(ids(50)), &keys);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 10);
        assert!(probed);
        // 25 rows: at most the threshold, so the scan.
        let (rows, probed) = probe(&parents(ids(25)), &keys);
        assert_eq!(rows.iter().map(Vec::len).sum::<usize>(), 10);
        assert!(!probed);
        // No rows (no span either): nothing to find, and nothing learned.
        let (rows, probed) = probe(&parents(ids(0)), &keys);
        assert!(rows.iter().all(Vec::is_empty));
        assert!(!probed);
    }
}
