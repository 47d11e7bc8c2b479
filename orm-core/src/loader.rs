//! The batch loader every relation function is built on.
//!
//! Given one optional key per output slot, it binds each distinct key once,
//! in as few `IN (...)` statements as the connection's bound-variable limit
//! allows, and hands every row to the slots whose key it carries.

use std::collections::HashMap;
use std::hash::Hash;

use rusqlite::limits::Limit;
use rusqlite::types::FromSql;
use rusqlite::{Connection, Row, ToSql};

use crate::error::{Error, Result};

/// Where the rows come from, for error messages and for reading the key.
pub(crate) struct Source {
    pub(crate) model: &'static str,
    pub(crate) table: &'static str,
    /// Index of the column, in each row, that holds the grouping key.
    pub(crate) key_index: usize,
    /// Its name.
    pub(crate) key_column: &'static str,
}

/// One `Vec` per slot: the rows whose key column equals that slot's key, in
/// the order the statement returns them. A slot whose key is `None` stays
/// empty. No statement runs when no slot has a key.
///
/// `sql_for(n)` is the statement with `n` placeholders. Every chunk of keys
/// has the same length (the last is padded by repeating a key, which `IN`
/// ignores), so every chunk uses one cached statement. A row is decoded once
/// per slot that wants it, so duplicate keys need no `Clone`.
pub(crate) fn load<'k, K, T, I>(
    conn: &Connection,
    slot_keys: I,
    source: &Source,
    sql_for: impl FnOnce(usize) -> String,
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<Vec<T>>>
where
    K: Eq + Hash + ToSql + FromSql + 'k,
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

    let limit = variable_limit(conn)?;
    let chunk = limit.min(groups.keys.len());
    let sql = sql_for(chunk);
    let wrap = |e| Error::Query {
        model: source.model,
        table: source.table,
        source: e,
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(wrap)?;
    for keys in groups.keys.chunks(chunk) {
        for i in 0..chunk {
            // Padding repeats the chunk's first key: same text, same result.
            let key = keys.get(i).unwrap_or(&keys[0]);
            stmt.raw_bind_parameter(i + 1, key).map_err(wrap)?;
        }
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(wrap)? {
            let key: K = row.get(source.key_index).map_err(|e| Error::Column {
                model: source.model,
                table: source.table,
                column: source.key_column,
                source: e,
            })?;
            let Some(&group) = groups.index.get(&key) else {
                continue;
            };
            slots[groups.first[group]].push(decode(row)?);
            for &slot in &groups.more[group] {
                slots[slot].push(decode(row)?);
            }
        }
    }
    Ok(slots)
}

/// The connection's current `SQLITE_LIMIT_VARIABLE_NUMBER`, read on every call
/// because `Connection::set_limit` can change it at any time.
pub(crate) fn variable_limit(conn: &Connection) -> Result<usize> {
    let limit = conn.limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER)?;
    Ok(usize::try_from(limit).unwrap_or(1).max(1))
}

/// Distinct keys, and for each the slots that asked for it.
struct Groups<'k, K> {
    index: HashMap<&'k K, usize>,
    keys: Vec<&'k K>,
    /// The first slot of each group.
    first: Vec<usize>,
    /// Further slots of each group (empty, and unallocated, unless a key repeats).
    more: Vec<Vec<usize>>,
}

impl<'k, K: Eq + Hash> Groups<'k, K> {
    fn with_capacity(n: usize) -> Self {
        Groups {
            index: HashMap::with_capacity(n),
            keys: Vec::with_capacity(n),
            first: Vec::with_capacity(n),
            more: Vec::with_capacity(n),
        }
    }

    fn add(&mut self, key: &'k K, slot: usize) {
        let next = self.keys.len();
        let group = *self.index.entry(key).or_insert(next);
        if group == next {
            self.keys.push(key);
            self.first.push(slot);
            self.more.push(Vec::new());
        } else {
            self.more[group].push(slot);
        }
    }
}
