//! The batch loader every relation function is built on.
//!
//! Given one optional key per output slot, it binds each distinct key once,
//! in as few statements as the connection's bound-variable limit allows, and
//! hands every row to the slots whose key it carries.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use rusqlite::limits::Limit;
use rusqlite::types::{FromSql, ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, Row, ToSql};

use crate::error::{Error, Result};
use crate::model::Column;
use crate::sql;

/// Keys covering at least 1/`SCAN_RATIO` of the rows of the sizing table make
/// a full scan cheaper than probing the index once per key. Measured on the
/// benchmark's M dataset (README): the scan costs about 10 ms per 100k rows
/// plus 0.4 µs per row kept, the index about 0.7 µs per row found, so they
/// cross near a third of the table.
const SCAN_RATIO: i64 = 3;

/// What to select, and where each row's grouping key is.
pub(crate) struct Source<'a> {
    /// The model the rows decode into, for messages.
    pub(crate) model: &'static str,
    /// The table queried, for messages.
    pub(crate) table: &'static str,
    /// Index of the column, in each row, that holds the grouping key.
    pub(crate) key_index: usize,
    /// That column's name, for messages.
    pub(crate) key_column: &'static str,
    pub(crate) query: Query<'a>,
}

impl Source<'_> {
    fn query_error(&self, source: rusqlite::Error) -> Error {
        Error::Query {
            model: self.model,
            table: self.table,
            source,
        }
    }
}

pub(crate) enum Query<'a> {
    /// Every column of the table, where `key_column` is one of the keys; when
    /// the keys are many compared with the rows of `sized_by`, a full scan
    /// filtered here instead (see [`sql::select_where_in_or_scan`]).
    Table {
        columns: &'static [Column],
        sized_by: &'static str,
    },
    /// Any statement with `n` placeholders for `n` keys.
    InList(&'a dyn Fn(usize) -> String),
}

/// One `Vec` per slot: the rows whose key column equals that slot's key. A
/// slot whose key is `None` stays empty. No statement runs when no slot has a
/// key.
///
/// Every chunk of keys has the same length, a power of two or the limit (the
/// last is padded by repeating a key, which `IN` ignores), so every chunk, and
/// every call with a similar number of keys, uses one cached statement. A row is
/// decoded once per slot that wants it, so duplicate keys need no `Clone`.
///
/// Each slot comes out ordered by `order`. Rows usually arrive in that order
/// already (index order or rowid order), so the loader only notes, as it
/// pushes, whether some row came before its predecessor, and sorts only then:
/// an `ORDER BY` cost 40% on 100k rows, a separate pass over every group 5%.
pub(crate) fn load<'k, K, T, O, I>(
    conn: &Connection,
    slot_keys: I,
    source: &Source<'_>,
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
    order: impl Fn(&T) -> &O,
) -> Result<Vec<Vec<T>>>
where
    K: Eq + Hash + Clone + ToSql + FromSql + 'k,
    O: ToSql + ?Sized,
    I: IntoIterator<Item = Option<&'k K>>,
    I::IntoIter: ExactSizeIterator,
{
    let slot_keys = slot_keys.into_iter();
    let mut slots: Vec<Vec<T>> = Vec::with_capacity(slot_keys.len());
    let mut groups = Groups::with_capacity(slot_keys.len());
    for (slot, key) in slot_keys.enumerate() {
        slots.push(Vec::new());
        if let Some(key) = key {
            groups.add(key, slot);
        }
    }
    if groups.keys.is_empty() {
        return Ok(slots);
    }

    let wrap = |e| source.query_error(e);
    let n = groups.keys.len();
    let Prepared {
        mut stmt,
        chunk,
        marker,
    } = prepare(conn, source, n)?;
    let first_key = usize::from(marker.is_some());
    let threshold = i64::try_from(groups.keys.len())
        .unwrap_or(i64::MAX)
        .saturating_mul(SCAN_RATIO);
    let mut scanned = false;
    let mut unordered = false;
    let mut push = |slot: &mut Vec<T>, item: T| {
        // The last element sits next to where the new one goes: a cheap check.
        unordered |= slot
            .last()
            .is_some_and(|last| sql_order(order(last), order(&item)).is_gt());
        slot.push(item);
    };
    for keys in groups.keys.chunks(chunk) {
        if marker.is_some() {
            stmt.raw_bind_parameter(1, threshold).map_err(wrap)?;
        }
        for i in 0..chunk {
            // Padding repeats the chunk's first key: same text, same result.
            let key = keys.get(i).unwrap_or(&keys[0]);
            stmt.raw_bind_parameter(first_key + i + 1, key)
                .map_err(wrap)?;
        }
        let mut rows = stmt.raw_query();
        let mut first_row = true;
        while let Some(row) = rows.next().map_err(wrap)? {
            if first_row {
                first_row = false;
                if let Some(marker) = marker {
                    scanned = row.get::<_, i64>(marker).map_err(wrap)? == 0;
                }
            }
            let key: K = match row.get(source.key_index) {
                Ok(key) => key,
                // A scan also meets rows with a NULL key, which no key asked for.
                Err(_) if scanned && row.get_ref(source.key_index).is_ok_and(is_null) => continue,
                // A key that does not fit its type is bad data, whichever plan ran.
                Err(e) => {
                    return Err(Error::Column {
                        model: source.model,
                        table: source.table,
                        column: source.key_column,
                        source: e,
                    })
                }
            };
            let Some((first, more)) = groups.slots(&key) else {
                continue;
            };
            push(&mut slots[first], decode(row)?);
            for &slot in more {
                push(&mut slots[slot], decode(row)?);
            }
        }
        if scanned {
            // The scan saw every row, for every key of every chunk.
            break;
        }
    }
    if unordered {
        for slot in &mut slots {
            if !slot.is_sorted_by(|a, b| sql_order(order(a), order(b)).is_le()) {
                slot.sort_by(|a, b| sql_order(order(a), order(b)));
            }
        }
    }
    Ok(slots)
}

/// The statement for `n` distinct keys, and how many keys each run binds.
struct Prepared<'c> {
    stmt: CachedStatement<'c>,
    chunk: usize,
    /// For the statement that may scan: the index of the column that says
    /// which plan ran (see [`sql::select_where_in_or_scan`]).
    marker: Option<usize>,
}

fn prepare<'c>(conn: &'c Connection, source: &Source<'_>, n: usize) -> Result<Prepared<'c>> {
    let limit = variable_limit(conn)?;
    // The scan takes one parameter besides the keys; offer it only where that
    // does not add a statement, and not for one key (the single-row accessors),
    // where the choice costs more than it can save.
    if let Query::Table { columns, sized_by } = source.query {
        if n > 1 && limit > 1 && n.div_ceil(limit - 1) == n.div_ceil(limit) {
            let chunk = bucket(n, limit - 1);
            let key = source.key_column;
            let sql = sql::select_where_in_or_scan(source.table, columns, key, sized_by, chunk);
            // A table without rowid (WITHOUT ROWID, or a view) cannot be sized:
            // fall back to the plain IN list below, which works everywhere.
            if let Ok(stmt) = conn.prepare_cached(&sql) {
                let marker = Some(columns.len());
                return Ok(Prepared {
                    stmt,
                    chunk,
                    marker,
                });
            }
        }
    }
    let chunk = bucket(n, limit);
    let sql = match &source.query {
        Query::Table { columns, .. } => {
            sql::select_where_in(source.table, columns, source.key_column, chunk)
        }
        Query::InList(sql_for) => sql_for(chunk),
    };
    let stmt = conn
        .prepare_cached(&sql)
        .map_err(|e| source.query_error(e))?;
    Ok(Prepared {
        stmt,
        chunk,
        marker: None,
    })
}

fn is_null(value: ValueRef<'_>) -> bool {
    matches!(value, ValueRef::Null)
}

/// How many keys one statement binds for `n` keys: `n` rounded up to a power
/// of two (padded by repeating a key), so that calls with 20, 21 or 30 keys
/// share one statement text and one cached statement instead of evicting
/// each other from rusqlite's 16-entry cache; never more than `max`.
fn bucket(n: usize, max: usize) -> usize {
    n.checked_next_power_of_two().unwrap_or(max).min(max)
}

/// How SQLite orders two values in an `ORDER BY` with the default `BINARY`
/// collation: NULL, then numbers by value, then text, then blobs, bytewise.
/// Keys need only be `ToSql`, not `Ord`, and sort as the database would.
fn sql_order<O: ToSql + ?Sized>(a: &O, b: &O) -> Ordering {
    fn rank(v: &ValueRef<'_>) -> u8 {
        match v {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) => 1,
            ValueRef::Text(_) => 2,
            ValueRef::Blob(_) => 3,
        }
    }
    let (Ok(a), Ok(b)) = (a.to_sql(), b.to_sql()) else {
        return Ordering::Equal;
    };
    let (a, b) = (value_ref(&a), value_ref(&b));
    match (a, b) {
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
        (ValueRef::Integer(x), ValueRef::Real(y)) => (x as f64).total_cmp(&y),
        (ValueRef::Real(x), ValueRef::Integer(y)) => x.total_cmp(&(y as f64)),
        (ValueRef::Real(x), ValueRef::Real(y)) => x.total_cmp(&y),
        (ValueRef::Text(x), ValueRef::Text(y)) | (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        (a, b) => rank(&a).cmp(&rank(&b)),
    }
}

fn value_ref<'a>(out: &'a ToSqlOutput<'_>) -> ValueRef<'a> {
    match out {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => v.into(),
        // Zeroblobs and other special outputs do not occur as keys.
        _ => ValueRef::Null,
    }
}

/// The connection's current `SQLITE_LIMIT_VARIABLE_NUMBER`, read on every call
/// because `Connection::set_limit` can change it at any time.
pub(crate) fn variable_limit(conn: &Connection) -> Result<usize> {
    let limit = conn.limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER)?;
    Ok(usize::try_from(limit).unwrap_or(1).max(1))
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
    fn with_capacity(n: usize) -> Self {
        Groups {
            index: HashMap::with_capacity_and_hasher(n, Default::default()),
            keys: Vec::with_capacity(n),
            more: Vec::new(),
        }
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
    fn slots(&self, key: &K) -> Option<(usize, &[usize])> {
        let group = self.index.get(key)?;
        let more = match group.more {
            NONE => &[][..],
            i => &self.more[i],
        };
        Some((group.first, more))
    }
}

#[cfg(test)]
mod tests {
    use super::sql_order;
    use std::cmp::Ordering::*;

    #[test]
    fn chunks_round_up_to_powers_of_two_under_the_limit() {
        use super::bucket;
        let got: Vec<usize> = [1, 2, 3, 20, 32, 33, 40_000]
            .iter()
            .map(|&n| bucket(n, 32_765))
            .collect();
        assert_eq!(got, [1, 2, 4, 32, 32, 64, 32_765]);
        assert_eq!(bucket(7, 5), 5);
    }

    #[test]
    fn keys_sort_as_sqlite_sorts_them() {
        assert_eq!(sql_order(&1i64, &2i64), Less);
        assert_eq!(sql_order(&-5i32, &-7i32), Greater);
        assert_eq!(sql_order("b", "a"), Greater);
        // Bytewise, as the BINARY collation: "B" < "a", "é" after "z".
        assert_eq!(sql_order("B", "a"), Less);
        assert_eq!(sql_order("é", "z"), Greater);
        assert_eq!(sql_order(&2.5f64, &-1.0f64), Greater);
        assert_eq!(sql_order(&Some(1i64), &None::<i64>), Greater);
        assert_eq!(sql_order(&vec![1u8, 2], &vec![1u8]), Greater);
    }
}
