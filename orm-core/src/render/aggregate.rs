//! Aggregates of the rows a query selects, in one row or one per group, and
//! projections of some of their columns; the aggregate call itself, which
//! the relation aggregates of `filter.rs` share.

use super::{Sql, Writer};
use crate::dialect::Dialect;
use crate::statement::{Agg, AggFunc, Shape, Table};
use crate::types::ColumnType;

impl<'q> Writer<'q> {
    /// `count(*)`, `max(a."price")`, ...: read back as the same Rust type on
    /// both backends (PostgreSQL's integer sums and averages are `numeric`:
    /// cast), text compared bytewise.
    pub(super) fn aggregate_call(&mut self, alias: &str, table: &Table, agg: Agg) {
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
