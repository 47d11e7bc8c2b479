//! Selects: by key, for the batch loader (the `IN` list or PostgreSQL's
//! array, the statement with two plans whose rows say which ran, the per-key
//! window numbering each key's rows), and of one table without keys (rows,
//! counts, `exists`). With them, the parts a select is made of: the window
//! as a sub-select, `ORDER BY` with the primary key last, `LIMIT`/`OFFSET`,
//! the joined parents' and the annotations' columns, and the joins.

use super::{push_ident, saturating_i64, Slot, Sql, Writer};
use crate::dialect::Dialect;
use crate::statement::{Extra, KeyColumn, OrderKey, OrderTerm, Projection, Select, Shape, Table};
use crate::types::ColumnType;

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
        // second. On SQLite `s` is `MATERIALIZED`: each arm would otherwise
        // size the parent again (PostgreSQL materializes a CTE named twice).
        w.push(match dialect {
            Dialect::Sqlite => "WITH s(n) AS MATERIALIZED (",
            Dialect::Postgres => "WITH s(n, k) AS (",
        });
        let threshold = match dialect {
            Dialect::Sqlite => {
                // The span of the parent's rowids (two B-tree descents; the
                // row count itself when ids are dense). When the span is more
                // than four times the threshold (ids sparse, or a table large
                // for the keys), whether a row follows the first twice the
                // threshold: that many steps at most, whatever the table's size
                // or its key values, and the size is then known to be above
                // twice the threshold, all a later call with as many keys
                // needs. Only a table of at most that many rows is counted
                // (`count(*)` of a whole table sums its pages' cells).
                let span = |w: &mut Writer<'q>, f: &str| {
                    w.push("(SELECT ");
                    w.push(f);
                    w.push("(rowid) FROM ");
                    w.ident(parent);
                    w.push(")");
                };
                w.push("SELECT CASE WHEN span <= ");
                let threshold = w.param(Slot::Threshold);
                w.push(" * 4 THEN span ELSE coalesce((SELECT ");
                w.placeholder(threshold);
                w.push(" * 2 + 1 FROM ");
                w.ident(parent);
                w.push(" LIMIT 1 OFFSET ");
                w.placeholder(threshold);
                w.push(" * 2), (SELECT count(*) FROM ");
                w.ident(parent);
                // An empty table has no span (NULL): it is counted, as 0.
                w.push(")) END FROM (SELECT ");
                span(&mut w, "max");
                w.push(" - ");
                span(&mut w, "min");
                w.push(" + 1 AS span)");
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

impl<'q> Writer<'q> {
    /// `(SELECT <columns> FROM "table" AS t WHERE ... ORDER BY ... LIMIT ...)
    /// AS alias`: the rows a windowed shape keeps, as a sub-select.
    pub(super) fn window(&mut self, table: &Table, shape: &'q Shape, alias: &str) {
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

    /// `ORDER BY` terms and the primary key as the last tie-breaker.
    pub(super) fn order(&mut self, alias: &str, table: &Table, terms: &'q [OrderTerm]) {
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

    /// ` LIMIT ? OFFSET ?` for a windowed shape.
    pub(super) fn limit(&mut self, shape: &Shape) {
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
}

/// The alias of the row joined by extra `k`.
fn join_alias(k: usize) -> String {
    format!("r{k}")
}

/// The name of extra column `i` where a select names them.
fn extra_name(i: usize) -> String {
    format!("\"__orm_x{i}\"")
}

#[cfg(test)]
mod tests {
    use super::super::tests::keyed;

    #[test]
    fn in_or_scan_marks_each_arm_and_reuses_the_threshold() {
        assert_eq!(
            keyed(2, Some("parent")),
            "WITH s(n) AS MATERIALIZED (SELECT CASE WHEN span <= ?1 * 4 THEN span \
             ELSE coalesce((SELECT ?1 * 2 + 1 FROM \"parent\" LIMIT 1 OFFSET ?1 * 2), \
             (SELECT count(*) FROM \"parent\")) END \
             FROM (SELECT (SELECT max(rowid) FROM \"parent\") - (SELECT min(rowid) FROM \"parent\") + 1 AS span)) \
             SELECT t.\"id\", t.\"group\", s.n FROM s CROSS JOIN \"order\" AS t \
             WHERE s.n > ?1 AND t.\"group\" IN (?, ?) \
             UNION ALL SELECT t.\"id\", t.\"group\", -1 FROM s CROSS JOIN \"order\" AS t WHERE s.n <= ?1"
        );
    }
}
