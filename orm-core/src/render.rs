//! Statements to SQL text, for each dialect, in one place.
//!
//! One walk over a [`statement`](crate::statement) writes the text and, in the
//! same order, the list of what each placeholder binds ([`Slot`]), so the two
//! cannot disagree. It also says where the reader finds what it needs in each
//! row ([`Sql::key_index`], [`Sql::marker_index`]). Identifiers are always
//! quoted and every column is qualified by its table's alias: an unqualified
//! `"title"` that names no column is a string literal in SQLite, a qualified
//! `t."title"` is an error.

use crate::constraint::Index;
use crate::model::Column;
use crate::statement::{
    Agg, AggFunc, CmpOp, Expr, Extra, FoldOp, Junction, KeyColumn, OrderKey, OrderTerm, Projection,
    RelAgg, Select, Shape, Sub, Table, TextOp, Via, Write,
};
use crate::types::ColumnType;
use crate::value::Owned;

/// The SQL dialects the crate renders: what
/// [`Model::create_table_sql_for`](crate::Model::create_table_sql_for) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite's.
    Sqlite,
    /// PostgreSQL's.
    Postgres,
}

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
    /// size as the statement measured it (see [`select`]). PostgreSQL's
    /// statement has none: the loader treats its every row as a scan's.
    pub(crate) marker_index: Option<usize>,
    /// In a per-key window: the column holding each row's number within its
    /// key's rows (offset + 1, offset + 2, ...), by which the loader orders them.
    pub(crate) rank_index: Option<usize>,
}

/// The next power of two at or above `n`, at most `max`: statements for 20,
/// 21 or 30 keys (or list values) share one text and one cached statement.
pub(crate) fn bucket(n: usize, max: usize) -> usize {
    n.checked_next_power_of_two().unwrap_or(max).min(max)
}

/// How many values a filter binds.
pub(crate) fn params_of(dialect: Dialect, expr: &Expr, lists_as_json: bool) -> usize {
    match expr {
        Expr::Const(_) | Expr::IsNull { .. } | Expr::TooDeep => 0,
        Expr::Compare { value, .. } => usize::from(!value.is_null()),
        Expr::Like { .. } | Expr::Text { .. } | Expr::Fold { .. } => 1,
        Expr::Exists(sub) => sub_params(dialect, sub, lists_as_json),
        Expr::AggCompare { agg, value, .. } => {
            sub_params(dialect, &agg.sub, lists_as_json) + usize::from(!value.is_null())
        }
        Expr::AggIsNull { agg, .. } => sub_params(dialect, &agg.sub, lists_as_json),
        Expr::In { values, .. } => match dialect {
            Dialect::Sqlite if !lists_as_json && values.len() <= INLINE_LIST => {
                bucket(values.len(), INLINE_LIST)
            }
            _ => 1,
        },
        Expr::And(es) | Expr::Or(es) => es
            .iter()
            .map(|e| params_of(dialect, e, lists_as_json))
            .sum(),
        Expr::Not(e) => params_of(dialect, e, lists_as_json),
    }
}

fn sub_params(dialect: Dialect, sub: &Sub, lists_as_json: bool) -> usize {
    sub.filter
        .as_ref()
        .map_or(0, |f| params_of(dialect, f, lists_as_json))
}

/// The values a shape binds besides any keys: its filter, its annotations'
/// and ordering aggregates' filters, and a limit and an offset when it has them.
pub(crate) fn shape_params(dialect: Dialect, shape: &Shape, lists_as_json: bool) -> usize {
    let filter = shape
        .filter
        .as_ref()
        .map_or(0, |f| params_of(dialect, f, lists_as_json));
    let extras: usize = shape
        .extras
        .iter()
        .map(|e| match e {
            Extra::Agg(agg) => sub_params(dialect, &agg.sub, lists_as_json),
            Extra::Join(_) => 0,
        })
        .sum();
    let order: usize = shape
        .order
        .iter()
        .map(|o| match &o.key {
            OrderKey::Agg(agg) => sub_params(dialect, &agg.sub, lists_as_json),
            OrderKey::Column(_) => 0,
        })
        .sum();
    filter + extras + order + 2 * usize::from(shape.is_windowed())
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

    /// `(SELECT <columns> FROM "table" AS t WHERE ... ORDER BY ... LIMIT ...)
    /// AS alias`: the rows a windowed shape keeps, as a sub-select.
    fn window(&mut self, table: &Table, shape: &'q Shape, alias: &str) {
        self.push("(SELECT ");
        self.columns("t", table.columns);
        self.push(" FROM ");
        self.table(table.name, "t");
        self.filter(" WHERE ", "t", table, shape);
        self.push(" ORDER BY ");
        self.order("t", table, &shape.order);
        self.limit(shape);
        self.push(") AS ");
        self.push(alias);
    }

    /// `"table" AS alias`.
    fn table(&mut self, name: &str, alias: &str) {
        self.ident(name);
        self.push(" AS ");
        self.push(alias);
    }

    fn expr(&mut self, alias: &str, table: &Table, expr: &'q Expr) {
        let name = |i: usize| table.columns[i].name();
        match expr {
            Expr::Const(true) => self.push("1 = 1"),
            // Never run: `exec::shallow` refuses such a filter first.
            Expr::Const(false) | Expr::TooDeep => self.push("1 = 0"),
            Expr::Compare { column, op, value } => {
                let bytewise = self.dialect == Dialect::Postgres
                    && table.columns[*column].column_type() == ColumnType::Text;
                let (column, nullable) = (name(*column), table.columns[*column].nullable());
                match (op, value.is_null()) {
                    (CmpOp::Eq, true) => {
                        self.column(alias, column);
                        self.push(" IS NULL");
                    }
                    (CmpOp::Ne, true) => {
                        self.column(alias, column);
                        self.push(" IS NOT NULL");
                    }
                    // Rust's `!=`: a NULL differs from every value.
                    (CmpOp::Ne, false) if nullable => {
                        self.push("(");
                        self.column(alias, column);
                        self.push(" <> ");
                        self.param(Slot::Value(value));
                        self.push(" OR ");
                        self.column(alias, column);
                        self.push(" IS NULL)");
                    }
                    // `<` and friends with NULL are folded to false when built.
                    (op, _) => {
                        self.column(alias, column);
                        // Text orders bytewise, as in Rust and on SQLite,
                        // not by the column's or the database's collation.
                        if bytewise && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                            self.push(" COLLATE \"C\"");
                        }
                        self.push(cmp_op(*op));
                        self.param(Slot::Value(value));
                    }
                }
            }
            Expr::IsNull { column, negated } => {
                self.column(alias, name(*column));
                self.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::In {
                column,
                values,
                or_null,
            } => {
                if *or_null {
                    self.push("(");
                }
                self.member(alias, name(*column), values);
                if *or_null {
                    self.push(" OR ");
                    self.column(alias, name(*column));
                    self.push(" IS NULL)");
                }
            }
            Expr::Like { column, pattern } => {
                self.column(alias, name(*column));
                self.push(" LIKE ");
                self.param(Slot::Text(pattern.to_string()));
                // No escape character, as on SQLite: PostgreSQL's default
                // is `\`.
                if self.dialect == Dialect::Postgres {
                    self.push(" ESCAPE ''");
                }
            }
            Expr::Text { column, op, needle } => match self.dialect {
                Dialect::Sqlite => self.text_sqlite(alias, name(*column), *op, needle, false),
                Dialect::Postgres => {
                    self.column(alias, name(*column));
                    self.push(" LIKE ");
                    self.param(Slot::Text(like_pattern(*op, needle)));
                    self.push(" ESCAPE '\\'");
                }
            },
            Expr::Fold { column, op, needle } => {
                self.fold(alias, name(*column), *op, needle);
            }
            Expr::Exists(sub) => {
                self.push("EXISTS (SELECT 1");
                self.sub_from(alias, table, sub);
                self.push(")");
            }
            Expr::AggCompare { agg, op, value } => {
                // Rust's `!=`: a NULL aggregate (MAX of nothing) differs
                // from every value; the other comparisons never match it.
                let null_differs = *op == CmpOp::Ne && agg.nullable();
                if null_differs {
                    self.push("coalesce(");
                }
                self.rel_agg(alias, table, agg);
                self.push(cmp_op(*op));
                self.param(Slot::Value(value));
                if null_differs {
                    self.push(", TRUE)");
                }
            }
            Expr::AggIsNull { agg, negated } => {
                self.rel_agg(alias, table, agg);
                self.push(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::And(es) | Expr::Or(es) => {
                let joiner = if matches!(expr, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.push("(");
                for (i, e) in es.iter().enumerate() {
                    if i > 0 {
                        self.push(joiner);
                    }
                    self.expr(alias, table, e);
                }
                self.push(")");
            }
            // A comparison with NULL is neither true nor false in SQL, and NOT
            // keeps it so; here every condition matches a row or does not,
            // and `not` matches exactly the rows its condition does not.
            Expr::Not(e) => {
                self.push("NOT coalesce(");
                self.expr(alias, table, e);
                self.push(", FALSE)");
            }
        }
    }

    /// The text operators on SQLite, by bytes: the column and the needle cast
    /// to BLOB, compared with `instr` and `substr`. Exact and case-sensitive;
    /// GLOB and LIKE read both sides as C strings, so a NUL in the needle or in
    /// the data cut them short (`contains("\0")` was `GLOB '*'`: every row).
    /// With `lower`, the column's ASCII letters folded to lower case first.
    fn text_sqlite(&mut self, alias: &str, column: &str, op: TextOp, needle: &'q str, lower: bool) {
        let blob = |w: &mut Writer<'q>| {
            w.push(if lower { "CAST(lower(" } else { "CAST(" });
            w.column(alias, column);
            w.push(if lower { ") AS BLOB)" } else { " AS BLOB)" });
        };
        if needle.is_empty() {
            // Every text contains, starts and ends with ""; NULL does not.
            self.column(alias, column);
            self.push(" IS NOT NULL");
            return;
        }
        let n = self.alloc(Slot::Text(needle.to_owned()));
        let needle = |w: &mut Writer<'q>| {
            w.push("CAST(");
            w.placeholder(n);
            w.push(" AS BLOB)");
        };
        match op {
            TextOp::Contains => {
                self.push("instr(");
                blob(self);
                self.push(", ");
                needle(self);
                self.push(") > 0");
            }
            TextOp::StartsWith | TextOp::EndsWith => {
                self.push("substr(");
                blob(self);
                self.push(if op == TextOp::StartsWith {
                    ", 1, "
                } else {
                    ", -"
                });
                self.push("length(");
                needle(self);
                self.push(")) = ");
                needle(self);
            }
        }
    }

    /// `alias."column"` is one of `values`.
    fn member(&mut self, alias: &str, column: &str, values: &'q [Owned]) {
        self.column(alias, column);
        match self.dialect {
            Dialect::Sqlite if !self.lists_as_json && values.len() <= INLINE_LIST => {
                self.push(" IN (");
                for i in 0..bucket(values.len(), INLINE_LIST) {
                    if i > 0 {
                        self.push(", ");
                    }
                    // Padding repeats the first value: same text, same result.
                    self.param(Slot::Value(values.get(i).unwrap_or(&values[0])));
                }
                self.push(")");
            }
            Dialect::Sqlite => {
                let blobs = values.iter().any(|v| matches!(v, Owned::Blob(_)))
                    || values
                        .iter()
                        .any(|v| matches!(v, Owned::Native(n) if n.stores_as_blob_in_sqlite()));
                self.push(if blobs {
                    " IN (SELECT unhex(value) FROM json_each("
                } else {
                    " IN (SELECT value FROM json_each("
                });
                self.param(Slot::List(values));
                self.push("))");
            }
            Dialect::Postgres => {
                self.push(" = ANY(");
                self.param(Slot::List(values));
                self.push(")");
            }
        }
    }

    /// `ORDER BY` terms and the primary key as the last tie-breaker.
    fn order(&mut self, alias: &str, table: &Table, terms: &'q [OrderTerm]) {
        for term in terms {
            let nullable = match &term.key {
                OrderKey::Column(i) => {
                    let column = &table.columns[*i];
                    self.column(alias, column.name());
                    column.nullable()
                }
                OrderKey::Agg(agg) => {
                    let same = (!self.named.is_empty())
                        .then(|| format!("{agg:?}"))
                        .and_then(|key| self.named.iter().find(|(k, _)| *k == key))
                        .map(|(_, name)| name.clone());
                    match same {
                        Some(name) => self.push(&name),
                        None => self.rel_agg(alias, table, agg),
                    }
                    agg.nullable()
                }
            };
            self.push(if term.descending { " DESC" } else { " ASC" });
            // SQLite puts NULLs first in ascending order and last in
            // descending order, as Rust orders `None`; PostgreSQL does the
            // opposite unless told.
            if self.dialect == Dialect::Postgres && nullable {
                self.push(if term.descending {
                    " NULLS LAST"
                } else {
                    " NULLS FIRST"
                });
            }
            self.push(", ");
        }
        self.column(alias, table.key_column());
        // Primary-key order is bytewise wherever it is decided, in SQL or in
        // Rust (the loader's own sort): on a text key, not the column's or
        // the database's collation (NOCASE, a locale).
        if table.columns[table.primary_key].column_type() == ColumnType::Text {
            self.bytewise();
        }
    }

    /// ` COLLATE` the bytewise collation: text ordered as Rust orders `str`.
    fn bytewise(&mut self) {
        self.push(match self.dialect {
            Dialect::Sqlite => " COLLATE BINARY",
            Dialect::Postgres => " COLLATE \"C\"",
        });
    }

    /// ` WHERE <filter>` of a select over the whole table. On SQLite, a filter
    /// that is a relation's `any`/`exists` alone, without a window, is written
    /// `key IN (SELECT ...)`: SQLite runs that sub-select once, where it runs
    /// an `EXISTS` once per row, each probing the relation's index and reading
    /// its table row (10x on 10,000 parents in the benchmark). With a window
    /// or other conditions, `EXISTS` stays: it stops early, and `IN` would
    /// read the whole related table for a few rows.
    fn whole_table_filter(&mut self, table: &Table, shape: &'q Shape) {
        let (Dialect::Sqlite, false, Some(Expr::Exists(sub))) =
            (self.dialect, shape.is_windowed(), &shape.filter)
        else {
            return self.filter(" WHERE ", "t", table, shape);
        };
        let junction = match sub.via {
            Via::Forward { .. } => return self.filter(" WHERE ", "t", table, shape),
            Via::Reverse { .. } => None,
            Via::Through(j) => Some(j),
        };
        let a = self.sub_alias();
        // The related rows' column that holds the outer row's key.
        let (key_alias, key) = match (sub.via, junction) {
            (Via::Reverse { fk }, _) => (a.clone(), sub.table.columns[fk].name()),
            (_, Some(j)) => (format!("{a}j"), j.near),
            _ => return self.filter(" WHERE ", "t", table, shape),
        };
        self.push(" WHERE ");
        self.column("t", table.key_column());
        self.push(" IN (SELECT ");
        self.column(&key_alias, key);
        self.push(" FROM ");
        if let Some(j) = junction {
            self.through(&j, &key_alias, &sub.table, &a);
        } else {
            self.table(sub.table.name, &a);
        }
        // No NULL in the list: `key IN (...)` is then true or false, never
        // NULL, as the `EXISTS` it stands for.
        self.push(" WHERE ");
        self.column(&key_alias, key);
        self.push(" IS NOT NULL");
        if let Some(filter) = &sub.filter {
            self.push(" AND ");
            self.expr(&a, &sub.table, filter);
        }
        self.push(")");
    }

    /// A fresh alias for a sub-select.
    fn sub_alias(&mut self) -> String {
        self.subs += 1;
        format!("s{}", self.subs)
    }

    /// ` FROM ... WHERE ...` of a sub-select aliased `a`: the rows of
    /// `sub.table` related to the outer row (`outer` aliased `outer_alias`),
    /// and the sub-select's filter.
    fn sub_from(&mut self, outer_alias: &str, outer: &Table, sub: &'q Sub) {
        let a = self.sub_alias();
        self.sub_from_as(&a, outer_alias, outer, sub);
    }

    fn sub_from_as(&mut self, a: &str, outer_alias: &str, outer: &Table, sub: &'q Sub) {
        let table = &sub.table;
        self.push(" FROM ");
        match sub.via {
            Via::Reverse { fk } => {
                self.table(table.name, a);
                self.push(" WHERE ");
                self.column(a, table.columns[fk].name());
                self.push(" = ");
                self.column(outer_alias, outer.key_column());
            }
            Via::Forward { fk } => {
                self.table(table.name, a);
                self.push(" WHERE ");
                self.column(a, table.key_column());
                self.push(" = ");
                self.column(outer_alias, outer.columns[fk].name());
            }
            Via::Through(j) => {
                let ja = format!("{a}j");
                self.through(&j, &ja, table, a);
                self.push(" WHERE ");
                self.column(&ja, j.near);
                self.push(" = ");
                self.column(outer_alias, outer.key_column());
            }
        }
        if let Some(filter) = &sub.filter {
            self.push(" AND ");
            self.expr(a, table, filter);
        }
    }

    /// `(SELECT <aggregate> FROM ...)`: an aggregate of the outer row's
    /// related rows.
    fn rel_agg(&mut self, outer_alias: &str, outer: &Table, agg: &'q RelAgg) {
        let a = self.sub_alias();
        self.push("(SELECT ");
        self.aggregate_call(&a, &agg.sub.table, agg.agg);
        self.sub_from_as(&a, outer_alias, outer, &agg.sub);
        self.push(")");
    }

    /// `count(*)`, `max(a."price")`, ...: read back as the same Rust type on
    /// both backends (PostgreSQL's integer sums and averages are `numeric`:
    /// cast), text compared bytewise.
    fn aggregate_call(&mut self, alias: &str, table: &Table, agg: Agg) {
        let Some(column) = agg.column.map(|i| &table.columns[i]) else {
            self.push("count(*)");
            return;
        };
        let ty = column.column_type();
        let cast = match (self.dialect, agg.func) {
            (Dialect::Postgres, AggFunc::Sum)
                if matches!(
                    ty,
                    ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt
                ) =>
            {
                Some("BIGINT")
            }
            (Dialect::Postgres, AggFunc::Sum | AggFunc::Avg) => Some("DOUBLE PRECISION"),
            _ => None,
        };
        if cast.is_some() {
            self.push("CAST(");
        }
        self.push(match agg.func {
            AggFunc::Count => "count(",
            AggFunc::Sum => "sum(",
            AggFunc::Avg => "avg(",
            AggFunc::Min => "min(",
            AggFunc::Max => "max(",
        });
        self.column(alias, column.name());
        if matches!(agg.func, AggFunc::Min | AggFunc::Max) && ty == ColumnType::Text {
            self.bytewise();
        }
        self.push(")");
        if let Some(cast) = cast {
            self.push(" AS ");
            self.push(cast);
            self.push(")");
        }
    }

    /// The extras' columns, each `, <expr>` (` AS "__orm_x<i>"` when `aliased`).
    fn extras(&mut self, alias: &str, table: &Table, extras: &'q [Extra], aliased: bool) {
        let mut n = 0;
        let mut name = |w: &mut Writer<'q>| {
            if aliased {
                w.push(" AS ");
                w.push(&extra_name(n));
            }
            n += 1;
        };
        for (k, extra) in extras.iter().enumerate() {
            match extra {
                Extra::Join(join) => {
                    let ja = join_alias(k);
                    for column in join.table.columns {
                        self.push(", ");
                        self.column(&ja, column.name());
                        name(self);
                    }
                }
                Extra::Agg(agg) => {
                    self.push(", ");
                    self.rel_agg(alias, table, agg);
                    name(self);
                }
            }
        }
    }

    /// ` LEFT JOIN` of every joined parent: left, so that a row whose key
    /// dangles is still there, for the reader to report.
    fn joins(&mut self, alias: &str, table: &Table, extras: &[Extra]) {
        for (k, extra) in extras.iter().enumerate() {
            if let Extra::Join(join) = extra {
                let ja = join_alias(k);
                self.push(" LEFT JOIN ");
                self.table(join.table.name, &ja);
                self.push(" ON ");
                self.column(&ja, join.table.key_column());
                self.push(" = ");
                self.column(alias, table.columns[join.column].name());
            }
        }
    }

    /// A case-insensitive text match: both sides with ASCII letters folded
    /// to lower case (the needle in Rust, the column by `lower` on SQLite,
    /// which folds ASCII only, and `translate` on PostgreSQL, whose `lower`
    /// would fold other letters by the database's locale).
    fn fold(&mut self, alias: &str, column: &str, op: FoldOp, needle: &'q str) {
        let folded = |w: &mut Writer<'q>| match w.dialect {
            Dialect::Sqlite => {
                w.push("lower(");
                w.column(alias, column);
                w.push(")");
            }
            Dialect::Postgres => {
                w.push("translate(");
                w.column(alias, column);
                w.push(", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')");
            }
        };
        let op = match op {
            FoldOp::Exact => {
                folded(self);
                self.push(" = ");
                self.param(Slot::Text(needle.to_owned()));
                return;
            }
            FoldOp::Contains => TextOp::Contains,
            FoldOp::StartsWith => TextOp::StartsWith,
            FoldOp::EndsWith => TextOp::EndsWith,
        };
        match self.dialect {
            Dialect::Sqlite => self.text_sqlite(alias, column, op, needle, true),
            Dialect::Postgres => {
                folded(self);
                self.push(" LIKE ");
                self.param(Slot::Text(like_pattern(op, needle)));
                self.push(" ESCAPE '\\'");
            }
        }
    }

    /// ` LIMIT ? OFFSET ?` for a windowed shape.
    fn limit(&mut self, shape: &Shape) {
        if !shape.is_windowed() {
            return;
        }
        self.push(" LIMIT ");
        // SQLite reads a negative limit as none; PostgreSQL reads NULL so.
        let limit = shape.limit.map_or(-1, saturating_i64);
        match (self.dialect, shape.limit) {
            (Dialect::Postgres, None) => self.push("NULL"),
            _ => {
                self.param(Slot::Integer(limit));
            }
        }
        self.push(" OFFSET ");
        self.param(Slot::Integer(saturating_i64(shape.offset)));
    }

    /// ` WHERE <filter>` when there is one.
    fn filter(&mut self, keyword: &str, alias: &str, table: &Table, shape: &'q Shape) {
        if let Some(filter) = &shape.filter {
            self.push(keyword);
            self.expr(alias, table, filter);
        }
    }
}

fn cmp_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => " = ",
        CmpOp::Ne => " <> ",
        CmpOp::Lt => " < ",
        CmpOp::Le => " <= ",
        CmpOp::Gt => " > ",
        CmpOp::Ge => " >= ",
    }
}

/// The alias of the row joined by extra `k`.
fn join_alias(k: usize) -> String {
    format!("r{k}")
}

/// The name of extra column `i` where a select names them.
fn extra_name(i: usize) -> String {
    format!("\"__orm_x{i}\"")
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

/// A LIKE pattern (with `ESCAPE '\'`) matching `needle` literally.
fn like_pattern(op: TextOp, needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 4);
    if op != TextOp::StartsWith {
        out.push('%');
    }
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    if op != TextOp::EndsWith {
        out.push('%');
    }
    out
}

/// A select, with `is_in` lists bound value by value where they are short
/// unless `lists_as_json`.
pub(crate) fn select<'q>(dialect: Dialect, s: &Select<'q>, lists_as_json: bool) -> Sql<'q> {
    let mut w = Writer::new(dialect, lists_as_json);
    let table = &s.table;
    let shape = s.shape;
    let Some(keys) = s.keys else {
        return plain(w, s);
    };

    // Where the key is, and the FROM clause that reaches it (and the joined
    // rows, for a select of rows).
    let from = |w: &mut Writer<'q>, joined: bool| {
        match keys.column {
            KeyColumn::Own(_) => w.table(table.name, "t"),
            KeyColumn::Through(j) => w.through(&j, "j", table, "t"),
        }
        if joined {
            w.joins("t", table, &shape.extras);
        }
    };
    let (key_alias, key_name) = match keys.column {
        KeyColumn::Own(i) => ("t", table.columns[i].name()),
        KeyColumn::Through(j) => ("j", j.near),
    };
    // `key IN (?, ...)`, or `key = ANY(?)`, and the filter.
    let condition = |w: &mut Writer<'q>| {
        w.column(key_alias, key_name);
        match dialect {
            Dialect::Sqlite => {
                w.push(" IN ");
                w.key_list(keys.count);
            }
            // One key (the single-row accessors) as a plain value, as a
            // hand-written query binds it: the server plans `= $1` for less.
            Dialect::Postgres if keys.count == 1 => {
                w.push(" = ");
                w.param(Slot::KeyList(1));
            }
            Dialect::Postgres => {
                w.push(" = ANY(");
                w.param(Slot::Keys);
                w.push(")");
            }
        }
        w.filter(" AND ", "t", table, shape);
    };

    if s.projection == Projection::CountPerKey {
        w.push("SELECT ");
        w.column(key_alias, key_name);
        w.push(", count(*) FROM ");
        from(&mut w, false);
        w.push(" WHERE ");
        condition(&mut w);
        w.push(" GROUP BY ");
        w.column(key_alias, key_name);
        // Keys compare exactly in Rust: group the same way, also on a
        // column whose own collation is NOCASE.
        if dialect == Dialect::Sqlite {
            w.push(" COLLATE BINARY");
        }
        return w.finish(Some(0), None);
    }

    let through = matches!(keys.column, KeyColumn::Through(_));
    // The model's columns, then the extras' (joined rows, annotations), then
    // what the loader needs: a junction's key, a plan marker, a rank.
    let n = table.columns.len() + shape.extras.iter().map(Extra::width).sum::<usize>();
    let key_index = match keys.column {
        KeyColumn::Own(i) => i,
        KeyColumn::Through(_) => n,
    };

    if keys.per_key && shape.is_windowed() {
        // Each key's rows numbered in the query's order, kept from offset + 1
        // to offset + limit: Django's sliced prefetch, in one statement. No
        // outer ORDER BY (a sort of every kept row): the number comes along,
        // and the loader puts each row at its place in its key's list.
        w.push("SELECT ");
        w.columns("w", table.columns);
        for i in 0..n - table.columns.len() {
            w.push(", w.");
            w.push(&extra_name(i));
        }
        if through {
            w.push(", w.\"__orm_key\"");
        }
        w.push(", w.\"__orm_rn\" FROM (SELECT ");
        w.columns("t", table.columns);
        w.extras("t", table, &shape.extras, true);
        if through {
            w.push(", ");
            w.column("j", key_name);
            w.push(" AS \"__orm_key\"");
        }
        w.push(", row_number() OVER (PARTITION BY ");
        w.column(key_alias, key_name);
        // Keys compare exactly, also on a NOCASE column (PostgreSQL's
        // collations are deterministic: equal means equal bytes).
        if dialect == Dialect::Sqlite {
            w.push(" COLLATE BINARY");
        }
        w.push(" ORDER BY ");
        w.order("t", table, &shape.order);
        w.push(") AS \"__orm_rn\" FROM ");
        from(&mut w, true);
        w.push(" WHERE ");
        condition(&mut w);
        w.push(") AS w WHERE w.\"__orm_rn\" > ");
        w.param(Slot::Integer(saturating_i64(shape.offset)));
        if let Some(limit) = shape.limit {
            w.push(" AND w.\"__orm_rn\" <= ");
            w.param(Slot::Integer(saturating_i64(
                shape.offset.saturating_add(limit),
            )));
        }
        let mut sql = w.finish(Some(key_index), None);
        sql.rank_index = Some(n + usize::from(through));
        return sql;
    }

    let select_list = |w: &mut Writer<'q>| {
        w.push("SELECT ");
        w.columns("t", table.columns);
        w.extras("t", table, &shape.extras, false);
        if through {
            w.push(", ");
            w.column("j", key_name);
        }
    };

    if let (Some(parent), false, KeyColumn::Own(key)) = (keys.scan_sized_by, s.ordered, keys.column)
    {
        let key_type = table.columns[key].column_type();
        // One statement, two plans: when the keys are many compared with the
        // parent table, the second arm scans the whole table and the loader
        // keeps the rows it wants; otherwise the first probes the index. `s`
        // is joined first (`CROSS JOIN` fixes the order), so each arm's
        // condition on it is tested once, before its loop. The last column
        // tells the loader which arm ran: `s.n` from the first, -1 from the
        // second.
        w.push(match dialect {
            Dialect::Sqlite => "WITH s(n) AS (",
            Dialect::Postgres => "WITH s(n, k) AS (",
        });
        let threshold = match dialect {
            Dialect::Sqlite => {
                // The span of the parent's rowids (two B-tree descents; the
                // row count itself when ids are dense), or, when the span is
                // more than four times the threshold, its rows counted up to
                // that many (the span exceeds the count when ids are sparse,
                // and the count stops early, so it costs a few steps per key,
                // whatever the table's size or its key values).
                let span = |w: &mut Writer<'q>, f: &str| {
                    w.push("(SELECT ");
                    w.push(f);
                    w.push("(rowid) FROM ");
                    w.ident(parent);
                    w.push(")");
                };
                w.push("SELECT CASE WHEN span <= ");
                let threshold = w.param(Slot::Threshold);
                w.push(" * 4 THEN span ELSE (SELECT count(*) FROM (SELECT 1 FROM ");
                w.ident(parent);
                w.push(" LIMIT ");
                w.placeholder(threshold);
                w.push(" * 4 + 1)) END FROM (SELECT coalesce(");
                span(&mut w, "max");
                w.push(" - ");
                span(&mut w, "min");
                w.push(" + 1, 0) AS span)");
                threshold
            }
            Dialect::Postgres => {
                // The planner's estimate of its rows when that says it is
                // more than twice the threshold (the common case of few
                // keys: no counting at all; the margin absorbs an estimate
                // taken before the table last changed a little); otherwise
                // its rows counted up to four times the threshold, a few
                // steps per key. The estimate alone cannot be trusted the
                // other way: a table never analyzed says -1, one analyzed
                // while small says little, and a scan chosen on that would
                // read a large table for a few keys. An estimate too high (a
                // table emptied since) only keeps the probe.
                let mut quoted = String::new();
                push_ident(&mut quoted, parent);
                w.push("SELECT CASE WHEN e.n > ");
                let threshold = w.param(Slot::Threshold);
                w.push(" * 2 THEN e.n::bigint ELSE (SELECT count(*) FROM (SELECT 1 FROM ");
                w.ident(parent);
                w.push(" LIMIT ");
                w.placeholder(threshold);
                // The keys, as a column of `s` rather than a parameter of the
                // probe: planned as a parameter, an array of 10,000 keys
                // costs 10 ms of selectivity estimates on every call (the
                // server plans this statement afresh each time); as a
                // column, nothing.
                w.push(" * 4 + 1) AS c) END, CAST(");
                w.param(Slot::Keys);
                w.push(" AS ");
                w.push(key_type.postgres());
                w.push("[]) FROM (SELECT coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass(");
                w.param(Slot::Text(quoted));
                w.push(")), -1) AS n) AS e");
                threshold
            }
        };
        // SQLite's rows say which arm ran (the loader learns the parent's
        // size from it). PostgreSQL's do not: a column more on every row
        // costs its decoding and 36 bytes of each row held, and the server
        // counts the parent at a few steps per key anyway.
        let marked = dialect == Dialect::Sqlite;
        // One arm: its columns (and marker), `s` joined first, and the test
        // of the parent's size against the threshold.
        let arm = |w: &mut Writer<'q>, marker: &str, test: &str| {
            select_list(w);
            if marked {
                w.push(marker);
            }
            w.push(" FROM s CROSS JOIN ");
            w.table(table.name, "t");
            w.push(test);
            w.placeholder(threshold);
        };
        w.push(") ");
        arm(&mut w, ", s.n", " WHERE s.n > ");
        w.push(" AND ");
        w.column("t", key_name);
        match dialect {
            Dialect::Sqlite => {
                w.push(" IN ");
                w.key_list(keys.count);
            }
            Dialect::Postgres => w.push(" = ANY(s.k)"),
        }
        // The filter is written once and its text pasted into the other arm,
        // so its values are bound once.
        let start = w.out.len();
        w.filter(" AND ", "t", table, shape);
        let filter_text = w.out[start..].to_owned();
        w.push(" UNION ALL ");
        arm(&mut w, ", -1", " WHERE s.n <= ");
        w.push(&filter_text);
        return w.finish(Some(key_index), marked.then_some(n));
    }

    select_list(&mut w);
    w.push(" FROM ");
    from(&mut w, true);
    w.push(" WHERE ");
    condition(&mut w);
    if s.ordered {
        w.push(" ORDER BY ");
        w.order("t", table, &shape.order);
    }
    w.finish(Some(key_index), None)
}

/// A select of one table, without keys.
fn plain<'q>(mut w: Writer<'q>, s: &Select<'q>) -> Sql<'q> {
    let table = &s.table;
    let shape = s.shape;
    match s.projection {
        // A window over rows with joins or annotations: the window first,
        // then the joins and sub-selects for the rows it keeps only (20
        // parents looked up and 20 counts made, not one per row matched).
        Projection::Model
            if shape.is_windowed()
                && !shape.extras.is_empty()
                && shape
                    .order
                    .iter()
                    .all(|o| matches!(o.key, OrderKey::Column(_))) =>
        {
            w.push("SELECT ");
            w.columns("w", table.columns);
            w.extras("w", table, &shape.extras, true);
            w.push(" FROM ");
            w.window(table, shape, "w");
            w.joins("w", table, &shape.extras);
            w.push(" ORDER BY ");
            w.order("w", table, &shape.order);
        }
        Projection::Model | Projection::CountPerKey => {
            w.push("SELECT ");
            w.columns("t", table.columns);
            w.extras("t", table, &shape.extras, true);
            // Ordering by an annotation the select list has reads its column.
            let mut i = 0;
            for extra in &shape.extras {
                if let Extra::Agg(agg) = extra {
                    w.named.push((format!("{agg:?}"), extra_name(i)));
                }
                i += extra.width();
            }
            w.push(" FROM ");
            w.table(table.name, "t");
            w.joins("t", table, &shape.extras);
            w.whole_table_filter(table, shape);
            w.push(" ORDER BY ");
            w.order("t", table, &shape.order);
            w.limit(shape);
        }
        Projection::Count | Projection::Exists if shape.is_windowed() => {
            // Count the rows the window keeps; for `exists`, one is enough.
            w.push("SELECT count(*) FROM (SELECT 1 FROM ");
            w.table(table.name, "t");
            w.filter(" WHERE ", "t", table, shape);
            if s.projection == Projection::Exists {
                w.push(" LIMIT ");
                w.param(Slot::Integer(1));
                w.push(" OFFSET ");
                w.param(Slot::Integer(saturating_i64(shape.offset)));
            } else {
                w.limit(shape);
            }
            w.push(") AS c");
        }
        Projection::Count => {
            w.push("SELECT count(*) FROM ");
            w.table(table.name, "t");
            w.whole_table_filter(table, shape);
        }
        Projection::Exists => {
            w.push("SELECT EXISTS (SELECT 1 FROM ");
            w.table(table.name, "t");
            w.filter(" WHERE ", "t", table, shape);
            w.push(")");
        }
    }
    w.finish(None, None)
}

/// ` FROM` the rows a shape selects, aliased `t`: the table and the filter,
/// or, when the shape has a window, the rows it keeps, as a sub-select.
fn rows_in<'q>(w: &mut Writer<'q>, table: &Table, shape: &'q Shape) {
    w.push(" FROM ");
    if !shape.is_windowed() {
        w.table(table.name, "t");
        w.filter(" WHERE ", "t", table, shape);
        return;
    }
    w.window(table, shape, "t");
}

/// Aggregates of the rows a shape selects (within its window), in one row
/// per distinct value of the `group` columns, in their order (bytewise for
/// text, NULL first), or in one row without them.
pub(crate) fn aggregate<'q>(
    dialect: Dialect,
    table: &Table,
    shape: &'q Shape,
    group: &[usize],
    aggs: &[Agg],
    lists_as_json: bool,
) -> Sql<'q> {
    let mut w = Writer::new(dialect, lists_as_json);
    w.push("SELECT ");
    w.columns_at("t", table, group);
    for (i, agg) in aggs.iter().enumerate() {
        if i > 0 || !group.is_empty() {
            w.push(", ");
        }
        w.aggregate_call("t", table, *agg);
    }
    rows_in(&mut w, table, shape);
    if group.is_empty() {
        return w.finish(None, None);
    }
    let keys = |w: &mut Writer<'q>, ordered: bool| {
        for (i, &g) in group.iter().enumerate() {
            if i > 0 {
                w.push(", ");
            }
            let column = &table.columns[g];
            w.column("t", column.name());
            // Groups are the distinct values as Rust compares them: also on
            // a column whose own collation is NOCASE, or a locale's.
            if column.column_type() == ColumnType::Text && (ordered || w.dialect == Dialect::Sqlite)
            {
                w.bytewise();
            }
            if ordered && w.dialect == Dialect::Postgres && column.nullable() {
                w.push(" NULLS FIRST");
            }
        }
    };
    w.push(" GROUP BY ");
    keys(&mut w, false);
    w.push(" ORDER BY ");
    keys(&mut w, true);
    w.finish(None, None)
}

/// Some columns of the rows a query selects, in its order.
pub(crate) fn project<'q>(
    dialect: Dialect,
    table: &Table,
    shape: &'q Shape,
    columns: &[usize],
    lists_as_json: bool,
) -> Sql<'q> {
    let mut w = Writer::new(dialect, lists_as_json);
    w.push("SELECT ");
    w.columns_at("t", table, columns);
    w.push(" FROM ");
    w.table(table.name, "t");
    w.filter(" WHERE ", "t", table, shape);
    w.push(" ORDER BY ");
    w.order("t", table, &shape.order);
    w.limit(shape);
    w.finish(None, None)
}

/// A write.
pub(crate) fn write<'q>(dialect: Dialect, write: &Write<'q>, lists_as_json: bool) -> Sql<'q> {
    let mut w = Writer::new(dialect, lists_as_json);
    match *write {
        Write::Insert { table, auto_key } => {
            let columns: Vec<usize> = (0..table.columns.len())
                .filter(|&i| !(auto_key && i == table.primary_key))
                .collect();
            w.push("INSERT INTO ");
            w.ident(table.name);
            if columns.is_empty() {
                w.push(" DEFAULT VALUES");
            } else {
                w.push(" (");
                for (n, &i) in columns.iter().enumerate() {
                    if n > 0 {
                        w.push(", ");
                    }
                    w.ident(table.columns[i].name());
                }
                w.push(") VALUES (");
                for (n, &i) in columns.iter().enumerate() {
                    if n > 0 {
                        w.push(", ");
                    }
                    w.param(Slot::Field(i));
                }
                w.push(")");
            }
            if auto_key {
                w.push(" RETURNING ");
                w.ident(table.key_column());
            }
        }
        Write::Upsert { table, auto_key } => {
            // PostgreSQL's identity sequence does not see a key written
            // explicitly: move it past this one, in the same statement, or
            // the next automatic insert would collide with it. (SQLite's
            // next rowid is one past the largest, whatever wrote it.)
            let sequence = auto_key && dialect == Dialect::Postgres;
            if sequence {
                w.push("WITH w AS (");
            }
            w.push("INSERT INTO ");
            w.ident(table.name);
            w.push(" (");
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(column.name());
            }
            w.push(") VALUES (");
            for i in 0..table.columns.len() {
                if i > 0 {
                    w.push(", ");
                }
                w.param(Slot::Field(i));
            }
            w.push(") ON CONFLICT (");
            w.ident(table.key_column());
            let others: Vec<&Column> = table
                .columns
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != table.primary_key)
                .map(|(_, c)| c)
                .collect();
            if others.is_empty() {
                w.push(") DO NOTHING");
            } else {
                w.push(") DO UPDATE SET ");
                for (i, column) in others.iter().enumerate() {
                    if i > 0 {
                        w.push(", ");
                    }
                    w.ident(column.name());
                    w.push(" = excluded.");
                    w.ident(column.name());
                }
            }
            if sequence {
                let key = table.key_column();
                let mut quoted = String::new();
                push_ident(&mut quoted, table.name);
                w.push(" RETURNING ");
                w.ident(key);
                w.push(") SELECT setval(q.s, w.");
                w.ident(key);
                w.push(") FROM w, (SELECT pg_get_serial_sequence(");
                w.param(Slot::Text(quoted));
                w.push(", ");
                w.param(Slot::Text(key.to_owned()));
                w.push(")::regclass AS s) AS q WHERE w.");
                w.ident(key);
                w.push(" > coalesce(pg_sequence_last_value(q.s), 0)");
            }
        }
        Write::UpdateByKey { table } => {
            w.push("UPDATE ");
            w.ident(table.name);
            w.push(" SET ");
            let mut first = true;
            for i in (0..table.columns.len()).filter(|&i| i != table.primary_key) {
                if !first {
                    w.push(", ");
                }
                first = false;
                w.ident(table.columns[i].name());
                w.push(" = ");
                w.param(Slot::Field(i));
            }
            if first {
                // Only a key: touch nothing, but still say whether the row exists.
                w.ident(table.key_column());
                w.push(" = ");
                w.ident(table.key_column());
            }
            w.push(" WHERE ");
            w.ident(table.key_column());
            w.push(" = ");
            w.param(Slot::Field(table.primary_key));
        }
        Write::DeleteByKey { table } => {
            w.push("DELETE FROM ");
            w.ident(table.name);
            w.push(" WHERE ");
            w.ident(table.key_column());
            w.push(" = ");
            w.param(Slot::Field(table.primary_key));
        }
        Write::Update {
            table,
            shape,
            assignments,
        } => {
            w.push("UPDATE ");
            w.table(table.name, "t");
            w.push(" SET ");
            for (i, (column, value)) in assignments.iter().enumerate() {
                if i > 0 {
                    w.push(", ");
                }
                w.ident(table.columns[*column].name());
                w.push(" = ");
                w.param(Slot::Value(value));
            }
            rows_of(&mut w, &table, shape);
        }
        Write::Delete { table, shape } => {
            w.push("DELETE FROM ");
            w.table(table.name, "t");
            rows_of(&mut w, &table, shape);
        }
    }
    w.finish(None, None)
}

/// An SQLite `INSERT` of `rows` rows of values in one statement, without
/// the key when it is automatic (then one row: SQLite does not say in which
/// order it numbers the rows of one statement). `Slot::Field` numbers the
/// rows' columns end to end.
pub(crate) fn insert_many(table: &Table, auto_key: bool, rows: usize) -> Sql<'static> {
    let mut w = Writer::new(Dialect::Sqlite, false);
    let stride = table.columns.len();
    let columns: Vec<usize> = (0..stride)
        .filter(|&i| !(auto_key && i == table.primary_key))
        .collect();
    w.push("INSERT INTO ");
    w.ident(table.name);
    if columns.is_empty() {
        w.push(" DEFAULT VALUES");
        return w.finish(None, None);
    }
    w.push(" (");
    for (n, &i) in columns.iter().enumerate() {
        if n > 0 {
            w.push(", ");
        }
        w.ident(table.columns[i].name());
    }
    w.push(") VALUES ");
    for row in 0..rows {
        w.push(if row == 0 { "(" } else { ", (" });
        for (n, &i) in columns.iter().enumerate() {
            if n > 0 {
                w.push(", ");
            }
            // Each value is bound once, in order: a bare `?` is its own
            // number (see `key_list`).
            w.alloc(Slot::Field(row * stride + i));
            w.push("?");
        }
        w.push(")");
    }
    w.finish(None, None)
}

/// PostgreSQL's bulk insert of every column, key included: the `COPY`
/// statement (binary format), and a `SELECT` of the same columns, prepared
/// (never run) to learn the table's own column types, which the binary
/// format must match.
#[cfg(feature = "postgres")]
pub(crate) fn copy_in(table: &Table) -> (String, String) {
    let mut columns = String::new();
    for (i, column) in table.columns.iter().enumerate() {
        if i > 0 {
            columns.push_str(", ");
        }
        push_ident(&mut columns, column.name());
    }
    let mut name = String::new();
    push_ident(&mut name, table.name);
    (
        format!("COPY {name} ({columns}) FROM STDIN (FORMAT binary)"),
        format!("SELECT {columns} FROM {name}"),
    )
}

/// `rows` new keys from the sequence of an automatic key (PostgreSQL), to
/// write with the rows: each row's key is the one drawn for it.
#[cfg(feature = "postgres")]
pub(crate) fn draw_keys(table: &Table, rows: usize) -> Sql<'static> {
    let mut w = Writer::new(Dialect::Postgres, false);
    let key = table.key_column();
    let mut quoted = String::new();
    push_ident(&mut quoted, table.name);
    // The sequence is looked up once, not once per key (a catalog search).
    w.push("WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(");
    w.param(Slot::Text(quoted));
    w.push(", ");
    w.param(Slot::Text(key.to_owned()));
    w.push(")::regclass AS s) SELECT nextval(q.s) FROM q, generate_series(1, ");
    w.param(Slot::Integer(i64::try_from(rows).unwrap_or(i64::MAX)));
    w.push(")");
    w.finish(None, None)
}

/// The `WHERE` clause of a write to the rows a shape selects: its filter, or,
/// when it has a limit or an offset, the keys of the rows its window keeps.
fn rows_of<'q>(w: &mut Writer<'q>, table: &Table, shape: &'q Shape) {
    if !shape.is_windowed() {
        w.filter(" WHERE ", "t", table, shape);
        return;
    }
    w.push(" WHERE ");
    w.column("t", table.key_column());
    w.push(" IN (SELECT ");
    w.column("s", table.key_column());
    w.push(" FROM ");
    w.table(table.name, "s");
    w.filter(" WHERE ", "s", table, shape);
    w.push(" ORDER BY ");
    w.order("s", table, &shape.order);
    w.limit(shape);
    w.push(")");
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
    use crate::statement::Keys;

    const COLUMNS: &[Column] = &[
        Column::__new("id", ColumnType::BigInt, false, None),
        Column::__new("group", ColumnType::Text, true, None),
    ];
    const TABLE: Table = Table {
        name: "order",
        columns: COLUMNS,
        primary_key: 0,
    };

    fn keyed(count: usize, scan: Option<&'static str>) -> String {
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

    #[test]
    fn in_or_scan_marks_each_arm_and_reuses_the_threshold() {
        assert_eq!(
            keyed(2, Some("parent")),
            "WITH s(n) AS (SELECT CASE WHEN span <= ?1 * 4 THEN span \
             ELSE (SELECT count(*) FROM (SELECT 1 FROM \"parent\" LIMIT ?1 * 4 + 1)) END \
             FROM (SELECT coalesce((SELECT max(rowid) FROM \"parent\") - (SELECT min(rowid) FROM \"parent\") + 1, 0) AS span)) \
             SELECT t.\"id\", t.\"group\", s.n FROM s CROSS JOIN \"order\" AS t \
             WHERE s.n > ?1 AND t.\"group\" IN (?, ?) \
             UNION ALL SELECT t.\"id\", t.\"group\", -1 FROM s CROSS JOIN \"order\" AS t WHERE s.n <= ?1"
        );
    }

    #[test]
    fn multi_row_inserts_bind_every_column_in_order() {
        let sql = insert_many(&TABLE, false, 2);
        assert_eq!(
            sql.text,
            r#"INSERT INTO "order" ("id", "group") VALUES (?, ?), (?, ?)"#
        );
        let fields: Vec<usize> = sql
            .slots
            .iter()
            .map(|s| match s {
                Slot::Field(i) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, [0, 1, 2, 3]);
        // An automatic key is left out; with nothing else, DEFAULT VALUES.
        let auto = insert_many(&TABLE, true, 1);
        assert_eq!(auto.text, r#"INSERT INTO "order" ("group") VALUES (?)"#);
        const KEY_ONLY: Table = Table {
            name: "t",
            columns: &[Column::__new("id", ColumnType::BigInt, false, None)],
            primary_key: 0,
        };
        assert_eq!(
            insert_many(&KEY_ONLY, true, 1).text,
            r#"INSERT INTO "t" DEFAULT VALUES"#
        );
    }

    #[test]
    fn text_patterns_match_literally() {
        assert_eq!(like_pattern(TextOp::StartsWith, "50%_\\"), "50\\%\\_\\\\%");
        assert_eq!(like_pattern(TextOp::EndsWith, "a"), "%a");
    }
}
