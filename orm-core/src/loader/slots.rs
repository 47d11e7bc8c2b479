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

/// Keys that are integers close together (a parent table's ids, most of them
/// asked for: what a scan serves), as a table indexed by key, so that a row
/// finds its slot without hashing its key: on the benchmark's L (50k keys),
/// the hash table's probes missed the cache on most rows. Holds the keys
/// wanted by one slot each; a row whose key it does not hold is looked up by
/// hash, as without it, so both find the same slots.
pub(super) struct Dense {
    min: i64,
    /// By key less `min`: the key's slot plus one, or 0.
    first: Vec<u32>,
}

impl Dense {
    /// The table, when every key is an integer that reads back as the key,
    /// they span at most about twice their number, and slots fit a `u32`.
    pub(super) fn of<K: SqlType + Eq + Hash + Clone>(groups: &Groups<'_, K>) -> Option<Dense> {
        let n = groups.keys.len();
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for &key in &groups.keys {
            let value = key.to_value();
            let Value::Integer(i) = value else {
                return None;
            };
            if !K::from_value(value).is_ok_and(|k| &k == key) {
                return None;
            }
            (min, max) = (min.min(i), max.max(i));
        }
        let span = usize::try_from(max.checked_sub(min)?)
            .ok()?
            .checked_add(1)?;
        if n < 2 || span > n.saturating_mul(2).saturating_add(64) {
            return None;
        }
        let mut first = vec![0u32; span];
        for (key, group) in &groups.index {
            if group.more != NONE {
                continue;
            }
            let (Value::Integer(i), Ok(slot)) = (key.to_value(), u32::try_from(group.first)) else {
                continue;
            };
            let at = usize::try_from(i - min).ok()?;
            first[at] = slot.checked_add(1)?;
        }
        Some(Dense { min, first })
    }

    /// The one slot that wants a row whose key is `key`, if the table knows
    /// it: a key that reads back from its integer, as the table's keys do, is
    /// one of them exactly when its integer is.
    #[inline]
    pub(super) fn slot_of<K: SqlType + Eq>(&self, key: &K) -> Option<usize> {
        let value = key.to_value();
        if !K::from_value(value).is_ok_and(|k| &k == key) {
            return None;
        }
        self.slot(&value)
    }

    /// The one slot that wants a row whose key column holds `raw`, if the
    /// table knows it.
    #[inline]
    pub(super) fn slot(&self, raw: &Value<'_>) -> Option<usize> {
        let &Value::Integer(i) = raw else {
            return None;
        };
        let at = usize::try_from(i.checked_sub(self.min)?).ok()?;
        match *self.first.get(at)? {
            0 => None,
            slot => Some(slot as usize - 1),
        }
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
    fn dense_keys_find_their_one_slot_and_leave_the_rest_to_the_hash() {
        use super::{Dense, Groups};
        use crate::value::Value;
        // Slots 0..4 ask for 10, 11, 13, 11: 11 has two slots.
        let keys = [10i64, 11, 13, 11];
        let (_, groups) = Groups::collect(keys.iter().map(Some), || ());
        let dense = Dense::of(&groups).expect("close together");
        assert_eq!(dense.slot(&Value::Integer(10)), Some(0));
        assert_eq!(dense.slot(&Value::Integer(13)), Some(2));
        // Two slots, a key not asked for, a value of another type, far off.
        for raw in [
            Value::Integer(11),
            Value::Integer(12),
            Value::Text("10"),
            Value::Integer(-5),
        ] {
            assert_eq!(dense.slot(&raw), None);
        }
        assert_eq!(groups.slots(&11), Some((1, &[3][..])));
        // Far apart: no table.
        let far = [1i64, 1_000];
        let (_, groups) = Groups::collect(far.iter().map(Some), || ());
        assert!(Dense::of(&groups).is_none());
        // Keys that are not integers: no table.
        let text = [String::from("a"), String::from("b")];
        let (_, groups) = Groups::collect(text.iter().map(Some), || ());
        assert!(Dense::of(&groups).is_none());
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
