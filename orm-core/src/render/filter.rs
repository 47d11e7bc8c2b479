//! Conditions: the filter expression, written where a statement says
//! ` WHERE ` (comparisons, lists, text patterns, case-insensitive matches,
//! `not`, `and`, `or`), the relation filters and aggregates over related rows
//! as sub-selects, and how many values each binds, so that the loader and the
//! executor know before rendering whether a statement fits the backend's
//! limit.

use super::{bucket, Slot, Writer, INLINE_LIST};
use crate::dialect::Dialect;
use crate::statement::{
    CmpOp, Expr, Extra, FoldOp, OrderKey, RelAgg, Shape, Sub, Table, TextOp, Via,
};
use crate::types::ColumnType;
use crate::value::Owned;

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

impl<'q> Writer<'q> {
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

    /// ` WHERE <filter>` of a select over the whole table. On SQLite, a filter
    /// that is a relation's `any`/`exists` alone, without a window, is written
    /// `key IN (SELECT ...)`: SQLite runs that sub-select once, where it runs
    /// an `EXISTS` once per row, each probing the relation's index and reading
    /// its table row (10x on 10,000 parents in the benchmark). With a window
    /// or other conditions, `EXISTS` stays: it stops early, and `IN` would
    /// read the whole related table for a few rows.
    pub(super) fn whole_table_filter(&mut self, table: &Table, shape: &'q Shape) {
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
    pub(super) fn rel_agg(&mut self, outer_alias: &str, outer: &Table, agg: &'q RelAgg) {
        let a = self.sub_alias();
        self.push("(SELECT ");
        self.aggregate_call(&a, &agg.sub.table, agg.agg);
        self.sub_from_as(&a, outer_alias, outer, &agg.sub);
        self.push(")");
    }

    /// ` WHERE <filter>` when there is one.
    pub(super) fn filter(&mut self, keyword: &str, alias: &str, table: &Table, shape: &'q Shape) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_patterns_match_literally() {
        assert_eq!(like_pattern(TextOp::StartsWith, "50%_\\"), "50\\%\\_\\\\%");
        assert_eq!(like_pattern(TextOp::EndsWith, "a"), "%a");
    }
}
