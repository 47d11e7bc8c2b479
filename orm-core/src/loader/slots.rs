//! Where each row goes: the distinct keys and the slots that asked for each,
//! whether a key that does not read would still match one as SQLite compares
//! values, a per-key window's rows put at their places by rank, and the order
//! SQLite gives values, in which a slot's rows are sorted.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hash;

use crate::backend::sqlite::Affinity;
use crate::value::{Owned, Value};
use crate::SqlType;

/// Distinct keys, and for each the slots that asked for it.
pub(super) struct Groups<'k, K> {
    /// Each key's first slot and, if the key repeats, where its other slots are
    /// in `more`: one lookup per row finds everything, in one place. Keys are
    /// copied in, not borrowed: comparing through a reference costs a cache
    /// miss into the parents on every row (on the benchmark's L, 50k keys, that
    /// put the loader at 1.2-1.3x the hand-written scan; copied, 1.05x).
    index: HashMap<K, Group, foldhash::fast::RandomState>,
    pub(super) keys: Vec<&'k K>,
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
    #[inline]
    pub(super) fn collect<T>(
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
    pub(super) fn slots(&self, key: &K) -> Option<(usize, &[usize])> {
        let group = self.index.get(key)?;
        let more = match group.more {
            NONE => &[][..],
            i => &self.more[i],
        };
        Some((group.first, more))
    }
}

/// Whether SQLite's `=` would find `raw`, a value that does not read as the
/// key type, equal to one of the requested keys: after the conversions a
/// column's numeric or text affinity applies (`1` and `'1'`, `2.0` and `2`),
/// and none at all in a column without affinity (no declared type, `BLOB`).
pub(super) fn sqlite_would_match<K: SqlType + Eq + Hash + Clone>(
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
pub(super) struct Ranked<T> {
    offset: i64,
    stray: HashMap<usize, Vec<(i64, T)>>,
}

impl<T> Ranked<T> {
    pub(super) fn new(offset: u64) -> Self {
        Ranked {
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
            stray: HashMap::new(),
        }
    }

    pub(super) fn place(&mut self, list: &mut Vec<T>, slot: usize, item: T, rank: i64) {
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

    #[inline]
    pub(super) fn finish(self, slots: &mut [Vec<T>]) {
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

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::*;

    use super::sql_order;
    use crate::value::Value;

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
