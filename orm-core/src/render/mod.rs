//! Statements to SQL text, for each dialect, in one place.
//!
//! One walk over a [`statement`](crate::statement) writes the text and, in the
//! same order, the list of what each placeholder binds ([`Slot`]), so the two
//! cannot disagree. It also says where the reader finds what it needs in each
//! row ([`Sql::key_index`], [`Sql::marker_index`]). Identifiers are always
//! quoted and every column is qualified by its table's alias: an unqualified
//! `"title"` that names no column is a string literal in SQLite, a qualified
//! `t."title"` is an error.
//!
//! The walk is one `Writer` whose methods are spread over the files by
//! what they write:
//!
//! - `mod.rs`: what a rendered statement is (`Sql`,
//!   `Slot`), the writer's own parts (placeholders, quoted identifiers,
//!   qualified columns, tables and junctions) and the helpers they share;
//!   `all_indexes`, the indexes a `create_table` makes.
//! - `select.rs`: selects, by key for the batch loader (the `IN` list, the
//!   plan that may scan, the per-key window) or of one table; windows,
//!   ordering, limits, joined rows and annotations.
//! - `filter.rs`: conditions: comparisons, lists, text patterns, relation
//!   filters and aggregates as sub-selects; how many values each binds.
//! - `aggregate.rs`: aggregates, grouped or not, and projections of a query.
//! - `write.rs`: inserts, upserts, updates and deletes, the multi-row insert,
//!   PostgreSQL's `COPY` and key drawing.

mod aggregate;
mod filter;
mod select;
mod write;

pub(crate) use aggregate::{aggregate, project};
pub(crate) use filter::{params_of, shape_params};
pub(crate) use select::select;
#[cfg(feature = "postgres")]
pub(crate) use write::{copy_in, draw_keys};
pub(crate) use write::{insert_many, write};

use crate::column::Column;
use crate::constraint::Index;
use crate::dialect::Dialect;
use crate::statement::{Junction, Table};
use crate::value::Owned;

/// `is_in` lists up to this long are bound value by value on SQLite (the
/// statement text rounds the length up to a power of two, so that lists of
/// similar length share a statement); longer ones as one JSON array.
pub(crate) const INLINE_LIST: usize = 32;

/// What one placeholder binds.
#[derive(Debug)]
pub(crate) enum Slot<'q> {
    /// A value from the query.
    Value(&'q Owned),
    /// Text the renderer made (an escaped pattern).
    Text(String),
    /// A whole list from the query: a JSON array on SQLite, an array on PostgreSQL.
    List(&'q [Owned]),
    /// The keys of the batch being loaded, one placeholder each (this many).
    KeyList(usize),
    /// Every key of the batch, as one array.
    Keys,
    /// The key count times the scan ratio (see [`Sql::marker_index`]).
    Threshold,
    /// A number the statement needs (a limit or an offset).
    Integer(i64),
    /// Column `i` of the row being written; of a multi-row insert's rows,
    /// value `i` of their columns laid end to end.
    Field(usize),
}

/// A rendered statement.
#[derive(Debug)]
pub(crate) struct Sql<'q> {
    pub(crate) text: String,
    /// What the placeholders bind, in order: each slot binds one
    /// placeholder, but a `KeyList` one per key.
    pub(crate) slots: Vec<Slot<'q>>,
    /// The column of each row that holds the batch key.
    pub(crate) key_index: Option<usize>,
    /// In a statement that may scan, on SQLite: the column that says which
    /// plan ran: -1 for the scan of the whole table, else the parent table's
    /// size as the statement measured it (see [`select`](fn@select)). PostgreSQL's
    /// statement has none: the loader treats its every row as a scan's.
    pub(crate) marker_index: Option<usize>,
    /// In a per-key window: the column holding each row's number within its
    /// key's rows (offset + 1, offset + 2, ...), by which the loader orders them.
    pub(crate) rank_index: Option<usize>,
}

/// The next power of two at or above `n`, at most `max`: statements for 20,
/// 21 or 30 keys (or list values) share one text and one cached statement.
#[inline]
pub(crate) fn bucket(n: usize, max: usize) -> usize {
    n.checked_next_power_of_two().unwrap_or(max).min(max)
}

struct Writer<'q> {
    dialect: Dialect,
    out: String,
    slots: Vec<Slot<'q>>,
    /// Placeholders written so far (a `KeyList` counts each key).
    params: usize,
    lists_as_json: bool,
    /// Sub-selects written so far: each gets an alias of its own, `s<n>`.
    subs: usize,
    /// Annotations the select list names (the aggregate, as `Debug` writes
    /// it, and its column's name), so that ordering by the same aggregate
    /// reads the column instead of running the sub-select again.
    named: Vec<(String, String)>,
}

impl<'q> Writer<'q> {
    fn new(dialect: Dialect, lists_as_json: bool) -> Self {
        Writer {
            dialect,
            out: String::with_capacity(256),
            slots: Vec::new(),
            params: 0,
            lists_as_json,
            subs: 0,
            named: Vec::new(),
        }
    }

    fn finish(self, key_index: Option<usize>, marker_index: Option<usize>) -> Sql<'q> {
        Sql {
            text: self.out,
            slots: self.slots,
            key_index,
            marker_index,
            rank_index: None,
        }
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// A new placeholder binding `slot`; its number.
    fn param(&mut self, slot: Slot<'q>) -> usize {
        let n = self.alloc(slot);
        self.placeholder(n);
        n
    }

    /// A new parameter binding `slot`, written later with
    /// [`placeholder`](Writer::placeholder), before any bare `?` key (which
    /// counts on every earlier parameter being written); its number.
    fn alloc(&mut self, slot: Slot<'q>) -> usize {
        self.slots.push(slot);
        self.params += 1;
        self.params
    }

    /// `(?, ?, ...)`: a placeholder per key of a batch (SQLite). Keys are never
    /// written twice, so each is a bare `?`, which SQLite numbers one past the
    /// largest number so far: every earlier parameter has been written, so
    /// that is its own. A bare `?` is half the text of `?1234`, and the text
    /// is built, hashed and compared on every call.
    fn key_list(&mut self, count: usize) {
        self.slots.push(Slot::KeyList(count));
        self.params += count;
        self.out.reserve(count * 3 + 2);
        self.out.push('(');
        for i in 0..count {
            self.out.push_str(if i == 0 { "?" } else { ", ?" });
        }
        self.out.push(')');
    }

    /// A placeholder for parameter `n` (from 1), which may be written again.
    fn placeholder(&mut self, n: usize) {
        self.out.push(match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        });
        // Digits by hand: `write!` costs several times as much, once per key.
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if let Ok(digits) = std::str::from_utf8(&digits[i..]) {
            self.out.push_str(digits);
        }
    }

    fn ident(&mut self, name: &str) {
        push_ident(&mut self.out, name);
    }

    /// `alias."name"`.
    fn column(&mut self, alias: &str, name: &str) {
        self.push(alias);
        self.out.push('.');
        self.ident(name);
    }

    fn columns(&mut self, alias: &str, columns: &[Column]) {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.column(alias, column.name());
        }
    }

    /// The columns at `indexes` of `table`, qualified, comma-separated.
    fn columns_at(&mut self, alias: &str, table: &Table, indexes: &[usize]) {
        for (n, &i) in indexes.iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.column(alias, table.columns[i].name());
        }
    }

    /// `"junction" AS ja JOIN "table" AS a ON a."key" = ja."far"`: the rows
    /// of `table` a junction's rows point at.
    fn through(&mut self, j: &Junction, ja: &str, table: &Table, a: &str) {
        self.table(j.table, ja);
        self.push(" JOIN ");
        self.table(table.name, a);
        self.push(" ON ");
        self.column(a, table.key_column());
        self.push(" = ");
        self.column(ja, j.far);
    }

    /// `"table" AS alias`.
    fn table(&mut self, name: &str, alias: &str) {
        self.ident(name);
        self.push(" AS ");
        self.push(alias);
    }

    /// ` COLLATE` the bytewise collation: text ordered as Rust orders `str`.
    fn bytewise(&mut self) {
        self.push(match self.dialect {
            Dialect::Sqlite => " COLLATE BINARY",
            Dialect::Postgres => " COLLATE \"C\"",
        });
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `name` as a quoted identifier: `"name"`, with inner quotes doubled.
pub(crate) fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Every index `create_table` makes: one per foreign-key column, then
/// `indexes`, without repeating one (an `index(fk)` is the foreign key's).
pub(crate) fn all_indexes(table: &Table, indexes: &[Index]) -> Vec<Index> {
    let mut out: Vec<Index> = Vec::new();
    let foreign = table
        .columns
        .iter()
        .filter(|c| c.references().is_some())
        .map(|c| Index::__new(c.name_as_list(), false));
    for index in foreign.chain(indexes.iter().copied()) {
        if !out.contains(&index) {
            out.push(index);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::{KeyColumn, Keys, Projection, Select, Shape};
    use crate::types::ColumnType;

    const COLUMNS: &[Column] = &[
        Column::__new("id", ColumnType::BigInt, false, None),
        Column::__new("group", ColumnType::Text, true, None),
    ];
    pub(super) const TABLE: Table = Table {
        name: "order",
        columns: COLUMNS,
        primary_key: 0,
    };

    pub(super) fn keyed(count: usize, scan: Option<&'static str>) -> String {
        let shape = Shape::default();
        let s = Select {
            table: TABLE,
            projection: Projection::Model,
            shape: &shape,
            keys: Some(Keys {
                column: KeyColumn::Own(1),
                count,
                scan_sized_by: scan,
                per_key: false,
            }),
            ordered: false,
        };
        select(Dialect::Sqlite, &s, false).text
    }

    #[test]
    fn identifiers_are_quoted_escaped_and_qualified() {
        let mut out = String::new();
        push_ident(&mut out, "a\"b");
        assert_eq!(out, "\"a\"\"b\"");
        assert_eq!(
            keyed(3, None),
            "SELECT t.\"id\", t.\"group\" FROM \"order\" AS t WHERE t.\"group\" IN (?, ?, ?)"
        );
    }
}
