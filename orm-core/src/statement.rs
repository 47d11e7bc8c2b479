//! Statements as values: what to select, filter, order and write, with no SQL
//! text in it. [`render`](crate::render) turns one into text for a dialect,
//! together with what its reader needs to know about the rows.

use crate::column::Column;
use crate::value::Owned;

/// A model's table as a statement sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [Column],
    pub(crate) primary_key: usize,
}

impl Table {
    pub(crate) fn key_column(&self) -> &'static str {
        self.columns[self.primary_key].name()
    }
}

/// A condition on the rows of one table. Columns are indexes into the table's
/// columns; values are owned, to be bound as parameters.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(bool),
    Compare {
        column: usize,
        op: CmpOp,
        value: Owned,
    },
    IsNull {
        column: usize,
        negated: bool,
    },
    /// Column is one of `values` (never empty: an empty list folds to false),
    /// or NULL when `or_null`.
    In {
        column: usize,
        values: Vec<Owned>,
        or_null: bool,
    },
    Like {
        column: usize,
        pattern: Box<str>,
    },
    Text {
        column: usize,
        op: TextOp,
        needle: Box<str>,
    },
    /// Text equal to, containing, starting or ending with `needle`, ignoring
    /// the case of ASCII letters (`needle` is already folded).
    Fold {
        column: usize,
        op: FoldOp,
        needle: Box<str>,
    },
    /// Some row of a related table (matching the sub-select's filter) exists.
    Exists(Box<Sub>),
    /// An aggregate of each row's related rows compared with a value; a NULL
    /// aggregate (MAX of nothing) matches only `ne`, as `None != Some(x)`.
    AggCompare {
        agg: Box<RelAgg>,
        op: CmpOp,
        value: Owned,
    },
    /// An aggregate of each row's related rows is (or is not) NULL.
    AggIsNull {
        agg: Box<RelAgg>,
        negated: bool,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// What a condition nested deeper than `Condition::MAX_DEPTH` becomes:
    /// running a query with it is an error (cloning, rendering and dropping
    /// a tree that deep would overflow the stack).
    TooDeep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldOp {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

/// How the rows of a sub-select relate to the row of the statement around it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// The sub-select's column `fk` points at the outer row (its children).
    Reverse { fk: usize },
    /// The outer row's column `fk` points at the sub-select's row (its parent).
    Forward { fk: usize },
    /// A junction row joins the outer row (`near`) to the sub-select's (`far`).
    Through(Junction),
}

/// The rows of another table related to the current row, perhaps filtered:
/// what relation filters and annotations read.
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub(crate) table: Table,
    pub(crate) via: Via,
    pub(crate) filter: Option<Expr>,
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// An aggregate of one column (or of rows, for `count(*)`) of some table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Agg {
    pub(crate) func: AggFunc,
    /// The column aggregated; `None` counts rows.
    pub(crate) column: Option<usize>,
}

/// An aggregate of each row's related rows: a correlated sub-select.
#[derive(Debug, Clone)]
pub(crate) struct RelAgg {
    pub(crate) sub: Sub,
    pub(crate) agg: Agg,
}

impl RelAgg {
    /// Whether the aggregate can be NULL: all but a count, over no row.
    pub(crate) fn nullable(&self) -> bool {
        self.agg.func != AggFunc::Count
    }
}

/// What a query selects besides its model's columns, in order.
#[derive(Debug, Clone)]
pub(crate) enum Extra {
    /// The row a foreign key points at, read through a `LEFT JOIN`.
    Join(Join),
    /// An aggregate of each row's related rows.
    Agg(RelAgg),
}

/// A forward join: the outer table's column `column` points at `table`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Join {
    pub(crate) column: usize,
    pub(crate) table: Table,
}

impl Extra {
    /// How many columns it adds to each row.
    pub(crate) fn width(&self) -> usize {
        match self {
            Extra::Join(join) => join.table.columns.len(),
            Extra::Agg(_) => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl Expr {
    /// `a AND b`, folding constants and flattening nested `AND`s.
    pub(crate) fn and(self, other: Expr) -> Expr {
        match (self, other) {
            (Expr::TooDeep, _) | (_, Expr::TooDeep) => Expr::TooDeep,
            (Expr::Const(false), _) | (_, Expr::Const(false)) => Expr::Const(false),
            (Expr::Const(true), e) | (e, Expr::Const(true)) => e,
            (Expr::And(mut a), Expr::And(b)) => {
                a.extend(b);
                Expr::And(a)
            }
            (Expr::And(mut a), e) => {
                a.push(e);
                Expr::And(a)
            }
            (e, Expr::And(mut b)) => {
                b.insert(0, e);
                Expr::And(b)
            }
            (a, b) => Expr::And(vec![a, b]),
        }
    }

    /// `a OR b`, folding constants and flattening nested `OR`s; `eq`s and
    /// `is_in`s of one column next to each other become one list, which
    /// binds as one value past any parameter limit, as `is_in`'s does.
    pub(crate) fn or(self, other: Expr) -> Expr {
        let (this, other) = match (self, other) {
            (Expr::Or(mut list), e)
                if e.member().is_some() && list.last().and_then(Expr::member) == e.member() =>
            {
                if let Some(last) = list.pop() {
                    list.push(last.join(e));
                }
                return Expr::Or(list);
            }
            (a, b) if a.member().is_some() && a.member() == b.member() => return a.join(b),
            pair => pair,
        };
        match (this, other) {
            (Expr::TooDeep, _) | (_, Expr::TooDeep) => Expr::TooDeep,
            (Expr::Const(true), _) | (_, Expr::Const(true)) => Expr::Const(true),
            (Expr::Const(false), e) | (e, Expr::Const(false)) => e,
            (Expr::Or(mut a), Expr::Or(b)) => {
                a.extend(b);
                Expr::Or(a)
            }
            (Expr::Or(mut a), e) => {
                a.push(e);
                Expr::Or(a)
            }
            (e, Expr::Or(mut b)) => {
                b.insert(0, e);
                Expr::Or(b)
            }
            (a, b) => Expr::Or(vec![a, b]),
        }
    }

    /// The column an `eq` or an `is_in` is on.
    fn member(&self) -> Option<usize> {
        match self {
            Expr::Compare {
                column,
                op: CmpOp::Eq,
                ..
            }
            | Expr::In { column, .. } => Some(*column),
            _ => None,
        }
    }

    /// `self OR other`, two memberships of one column (see
    /// [`member`](Expr::member)), as one list.
    fn join(self, other: Expr) -> Expr {
        match (self.into_list(), other.into_list()) {
            (Ok(mut list), Ok(more)) => {
                list.values.extend(more.values);
                list.or_null |= more.or_null;
                list.into_expr()
            }
            // Not two memberships after all: both as they were.
            (a, b) => Expr::Or(vec![
                a.map_or_else(|e| e, List::into_expr),
                b.map_or_else(|e| e, List::into_expr),
            ]),
        }
    }

    fn into_list(self) -> Result<List, Expr> {
        match self {
            Expr::Compare {
                column,
                op: CmpOp::Eq,
                value,
            } => Ok(if value.is_null() {
                List {
                    column,
                    values: Vec::new(),
                    or_null: true,
                }
            } else {
                List {
                    column,
                    values: vec![value],
                    or_null: false,
                }
            }),
            Expr::In {
                column,
                values,
                or_null,
            } => Ok(List {
                column,
                values,
                or_null,
            }),
            other => Err(other),
        }
    }

    /// `NOT a`, folding constants and double negation.
    pub(crate) fn not(self) -> Expr {
        match self {
            Expr::Const(b) => Expr::Const(!b),
            Expr::Not(inner) => *inner,
            Expr::TooDeep => Expr::TooDeep,
            e => Expr::Not(Box::new(e)),
        }
    }

    /// Whether the condition is known to match no row, so that no statement
    /// needs to run.
    pub(crate) fn is_never(&self) -> bool {
        matches!(self, Expr::Const(false))
    }

    /// How deep `and`, `or`, `not` and relation sub-selects nest in the
    /// condition (a comparison: 0), or `limit + 1` once past `limit` (and
    /// for [`Expr::TooDeep`] anywhere in it). Walked with a stack of its
    /// own, not by recursion.
    pub(crate) fn depth(&self, limit: usize) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 0)];
        while let Some((expr, level)) = stack.pop() {
            if level > limit || matches!(expr, Expr::TooDeep) {
                return limit + 1;
            }
            deepest = deepest.max(level);
            let below = level + 1;
            match expr {
                Expr::And(es) | Expr::Or(es) => stack.extend(es.iter().map(|e| (e, below))),
                Expr::Not(e) => stack.push((e, below)),
                Expr::Exists(sub) => stack.extend(sub.filter.iter().map(|e| (e, below))),
                Expr::AggCompare { agg, .. } | Expr::AggIsNull { agg, .. } => {
                    stack.extend(agg.sub.filter.iter().map(|e| (e, below)));
                }
                _ => {}
            }
        }
        deepest
    }
}

/// The values a column may equal, for [`Expr::join`].
struct List {
    column: usize,
    values: Vec<Owned>,
    or_null: bool,
}

impl List {
    fn into_expr(self) -> Expr {
        match (self.values.is_empty(), self.or_null) {
            (true, false) => Expr::Const(false),
            (true, true) => Expr::IsNull {
                column: self.column,
                negated: false,
            },
            (false, or_null) => Expr::In {
                column: self.column,
                values: self.values,
                or_null,
            },
        }
    }
}

/// One `ORDER BY` term.
#[derive(Debug, Clone)]
pub(crate) struct OrderTerm {
    pub(crate) key: OrderKey,
    pub(crate) descending: bool,
}

/// What an `ORDER BY` term orders by.
#[derive(Debug, Clone)]
pub(crate) enum OrderKey {
    /// A column of the table.
    Column(usize),
    /// An aggregate of each row's related rows.
    Agg(Box<RelAgg>),
}

/// The filter, order and window of a query, as the statements that use a
/// [`Query`](crate::Query) see them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    pub(crate) filter: Option<Expr>,
    pub(crate) order: Vec<OrderTerm>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: u64,
    /// Joined rows and annotations selected after the model's columns.
    pub(crate) extras: Vec<Extra>,
}

impl Shape {
    pub(crate) fn is_never(&self) -> bool {
        self.filter.as_ref().is_some_and(Expr::is_never) || self.limit == Some(0)
    }

    /// The deepest of its conditions: the filter, and those of its
    /// annotations and aggregate orders (see [`Expr::depth`]).
    pub(crate) fn depth(&self, limit: usize) -> usize {
        let subs = self
            .extras
            .iter()
            .filter_map(|e| match e {
                Extra::Agg(agg) => agg.sub.filter.as_ref(),
                Extra::Join(_) => None,
            })
            .chain(self.order.iter().filter_map(|o| match &o.key {
                OrderKey::Agg(agg) => agg.sub.filter.as_ref(),
                OrderKey::Column(_) => None,
            }));
        self.filter
            .iter()
            .chain(subs)
            .map(|e| e.depth(limit))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn is_windowed(&self) -> bool {
        self.limit.is_some() || self.offset > 0
    }
}

/// Where the key that groups a batch load is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyColumn {
    /// A column of the selected table (a reverse or forward foreign key).
    Own(usize),
    /// A junction row's foreign key to the model the batch is for; the
    /// selected table is the junction's other target.
    Through(Junction),
}

/// A junction table of a many-to-many relation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Junction {
    pub(crate) table: &'static str,
    /// Its foreign key to the models the batch is for.
    pub(crate) near: &'static str,
    /// Its foreign key to the selected table.
    pub(crate) far: &'static str,
}

/// What a select returns for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Projection {
    /// Every column of the table, in model order.
    Model,
    /// One row: the number of matching rows.
    Count,
    /// One row: whether any row matches.
    Exists,
    /// Per key: the key and its number of rows.
    CountPerKey,
}

/// The rows of a table, perhaps restricted to a batch of keys.
#[derive(Debug)]
pub(crate) struct Select<'q> {
    pub(crate) table: Table,
    pub(crate) projection: Projection,
    pub(crate) shape: &'q Shape,
    pub(crate) keys: Option<Keys>,
    /// Whether rows need an `ORDER BY`: without one, rows of a batch load come
    /// in whatever order the plan gives and the loader orders them.
    pub(crate) ordered: bool,
}

/// The keys of a batch load: where they are and how many one statement binds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys {
    pub(crate) column: KeyColumn,
    /// Keys per statement, for dialects that bind each key (SQLite).
    pub(crate) count: usize,
    /// Lets SQLite scan the table instead of probing the index when the keys
    /// cover much of this (parent) table; see the renderer.
    pub(crate) scan_sized_by: Option<&'static str>,
    /// The `limit`/`offset` of the shape apply to each key's rows.
    pub(crate) per_key: bool,
}

/// Writes to one table.
#[derive(Debug)]
pub(crate) enum Write<'q> {
    /// `INSERT` of every column, or of every column but an automatic key,
    /// returning the key.
    Insert { table: Table, auto_key: bool },
    /// `INSERT`, or `UPDATE` of every other column when the key exists; with
    /// an automatic key on PostgreSQL, also moving the key's sequence past
    /// the key written.
    Upsert { table: Table, auto_key: bool },
    /// `UPDATE` of every column but the key, by key.
    UpdateByKey { table: Table },
    /// `DELETE` by key.
    DeleteByKey { table: Table },
    /// `UPDATE` of some columns of the rows a query selects.
    Update {
        table: Table,
        shape: &'q Shape,
        assignments: &'q [(usize, Owned)],
    },
    /// `DELETE` of the rows a query selects.
    Delete { table: Table, shape: &'q Shape },
}
