//! Typed handles of a model's columns, and what they build.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not};

use super::aggregate::{Aggregate, Numeric, Ordered};
use crate::foreign_key::ForeignKeyField;
use crate::statement::{Agg, AggFunc, CmpOp, Expr, FoldOp, OrderKey, OrderTerm, Sub, TextOp, Via};
use crate::value::Owned;
use crate::{Model, SqlType};

/// Marks a [`Field`] of an ordinary column.
#[derive(Debug, Clone, Copy)]
pub enum Plain {}

/// Marks the [`Field`] of the primary key, which cannot be assigned.
#[derive(Debug, Clone, Copy)]
pub enum PrimaryKey {}

/// The typed handle of one column of model `M`, whose field has type `T`.
///
/// [`Model::fields`] returns one per field. Comparisons take values of the
/// field's own type (or what converts to it, such as `&str` for `String`), so
/// `f.price.lt("x")` or comparing a `ForeignKey<Brand>` with a
/// `ForeignKey<Category>` column does not compile.
pub struct Field<M, T, K = Plain> {
    index: usize,
    marker: PhantomData<Types<M, T, K>>,
}

/// The types a [`Field`] carries, without owning any of them.
type Types<M, T, K> = fn() -> (M, T, K);

impl<M, T, K> Clone for Field<M, T, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T, K> Copy for Field<M, T, K> {}

impl<M: Model, T, K> fmt::Debug for Field<M, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", M::NAME, self.name())
    }
}

/// A value that can be compared with, or stored in, a column whose field has
/// type `T`: `T` itself, `&T`, `T` for an `Option<T>` column, and `&str` for
/// text columns. Implemented by the crate; not meant to be implemented.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a value for a column of type `{T}`",
    label = "expected a value of the column's type, `{T}`"
)]
pub trait ValueFor<T>: crate::__private::IntoOwned<T> {}

impl<T, V: crate::__private::IntoOwned<T>> ValueFor<T> for V {}

/// Marks the field types the text operators (`like`, `contains`, ...) accept.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a text column: `like`, `contains`, `starts_with` and `ends_with` \
               need a field of type `String` or `Option<String>`"
)]
pub trait TextColumn {}
impl TextColumn for String {}
impl TextColumn for Option<String> {}
impl TextColumn for Box<str> {}
impl TextColumn for Option<Box<str>> {}
impl TextColumn for std::sync::Arc<str> {}
impl TextColumn for Option<std::sync::Arc<str>> {}

/// Marks the field types that can hold NULL (`Option<_>`), for `is_null`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is never NULL: `is_null` and `is_not_null` need an `Option` field"
)]
pub trait NullableColumn {}
impl<T> NullableColumn for Option<T> {}

/// Marks the handles that [`Field::set`] accepts: every column but the
/// primary key.
#[diagnostic::on_unimplemented(
    message = "the primary key cannot be assigned",
    note = "an update keeps each row's key; to give a row another key, insert a new row and delete the old one"
)]
pub trait Assignable {}
impl Assignable for Plain {}

impl<M, T, K> Field<M, T, K> {
    pub(crate) fn index(self) -> usize {
        self.index
    }
}

impl<M: Model, T, K> Field<M, T, K> {
    #[doc(hidden)]
    pub const fn __new(index: usize) -> Self {
        Field {
            index,
            marker: PhantomData,
        }
    }

    /// The column's name.
    pub fn name(self) -> &'static str {
        M::COLUMNS[self.index].name()
    }
}

impl<M: Model, T: SqlType, K> Field<M, T, K> {
    fn compare(self, op: CmpOp, value: Owned) -> Condition<M> {
        // NULL is neither less nor greater than anything, as in SQL; NaN
        // equals nothing and differs from everything, as in Rust (SQLite
        // would bind it as NULL, PostgreSQL would find NaN equal to NaN).
        let expr = match op {
            CmpOp::Ne if value.is_nan() => Expr::Const(true),
            _ if value.is_nan() => Expr::Const(false),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge if value.is_null() => Expr::Const(false),
            _ => Expr::Compare {
                column: self.index,
                op,
                value,
            },
        };
        Condition::new(expr)
    }

    /// Equal to `value`. For an `Option` column, `eq(None)` matches NULL. As
    /// in Rust, a NaN is equal to nothing (and `ne(NaN)` matches every row),
    /// nor less or greater than anything.
    pub fn eq(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Eq, value.__into_owned())
    }

    /// Not equal to `value`, as Rust's `!=`: on an `Option` column a NULL
    /// differs from every value, and `ne(None)` matches every non-NULL row.
    pub fn ne(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Ne, value.__into_owned())
    }

    /// Less than `value` (NULL never is, and never matches).
    pub fn lt(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Lt, value.__into_owned())
    }

    /// Less than or equal to `value` (NULL never is).
    pub fn le(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Le, value.__into_owned())
    }

    /// Greater than `value` (NULL never is).
    pub fn gt(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Gt, value.__into_owned())
    }

    /// Greater than or equal to `value` (NULL never is).
    pub fn ge(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Ge, value.__into_owned())
    }

    /// Equal to one of `values`; `None` among them matches NULL. An empty list
    /// matches nothing, and a query that can match nothing runs no statement.
    /// Any number of values: past the connection's bound-variable limit they
    /// are bound as one array.
    pub fn is_in<I>(self, values: I) -> Condition<M>
    where
        I: IntoIterator,
        I::Item: ValueFor<T>,
    {
        let mut or_null = false;
        let values: Vec<Owned> = values
            .into_iter()
            .map(crate::__private::IntoOwned::__into_owned)
            .filter(|v| {
                or_null |= v.is_null();
                // NaN equals nothing: it selects no row.
                !v.is_null() && !v.is_nan()
            })
            .collect();
        let expr = match (values.is_empty(), or_null) {
            (true, false) => Expr::Const(false),
            (true, true) => Expr::IsNull {
                column: self.index,
                negated: false,
            },
            (false, _) => Expr::In {
                column: self.index,
                values,
                or_null,
            },
        };
        Condition::new(expr)
    }

    /// Matches the SQL `LIKE` pattern (`%` any text, `_` one character; no
    /// escape character on either backend, so `\` is a plain character). Case
    /// follows the backend: SQLite's `LIKE` ignores ASCII case, PostgreSQL's
    /// does not. To match text literally, use [`contains`](Field::contains),
    /// [`starts_with`](Field::starts_with) or [`ends_with`](Field::ends_with).
    pub fn like(self, pattern: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        Condition::new(Expr::Like {
            column: self.index,
            pattern: pattern.as_ref().into(),
        })
    }

    fn text(self, op: TextOp, needle: &str) -> Condition<M> {
        Condition::new(Expr::Text {
            column: self.index,
            op,
            needle: needle.into(),
        })
    }

    /// Contains `needle`, matched literally and case-sensitively on every
    /// backend: `%`, `_`, `*` or `\` in it are plain characters.
    pub fn contains(self, needle: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.text(TextOp::Contains, needle.as_ref())
    }

    /// Starts with `prefix`, matched literally and case-sensitively.
    pub fn starts_with(self, prefix: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.text(TextOp::StartsWith, prefix.as_ref())
    }

    /// Ends with `suffix`, matched literally and case-sensitively.
    pub fn ends_with(self, suffix: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.text(TextOp::EndsWith, suffix.as_ref())
    }

    fn fold(self, op: FoldOp, needle: &str) -> Condition<M> {
        Condition::new(Expr::Fold {
            column: self.index,
            op,
            needle: needle.to_ascii_lowercase().into(),
        })
    }

    /// Equal to `text`, ignoring the case of ASCII letters, the same way on
    /// every backend: `a`–`z` match `A`–`Z`; any other character, `é` and
    /// `É` included, matches only itself (SQLite's `lower` folds ASCII only,
    /// and PostgreSQL's would fold by the database's locale, so it is not used).
    pub fn iexact(self, text: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.fold(FoldOp::Exact, text.as_ref())
    }

    /// Contains `needle`, literally, ignoring the case of ASCII letters (see
    /// [`iexact`](Field::iexact)).
    pub fn icontains(self, needle: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.fold(FoldOp::Contains, needle.as_ref())
    }

    /// Starts with `prefix`, literally, ignoring the case of ASCII letters.
    pub fn istarts_with(self, prefix: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.fold(FoldOp::StartsWith, prefix.as_ref())
    }

    /// Ends with `suffix`, literally, ignoring the case of ASCII letters.
    pub fn iends_with(self, suffix: impl AsRef<str>) -> Condition<M>
    where
        T: TextColumn,
    {
        self.fold(FoldOp::EndsWith, suffix.as_ref())
    }

    /// For a foreign key: the row it points at exists and matches
    /// `condition` (Django's `category__name="Books"`), as an `EXISTS`
    /// sub-select in the same statement. A NULL or dangling key never has.
    ///
    /// ```
    /// # use orm_core::{ForeignKey, Model};
    /// # #[derive(Model)] struct Category { id: i64, name: String }
    /// # #[derive(Model)] struct Product { id: i64, #[foreign_key(related_name = "products")] category: ForeignKey<Category> }
    /// let (p, c) = (Product::fields(), Category::fields());
    /// let books = Product::query().filter(p.category.has(c.name.eq("Books")));
    /// ```
    pub fn has(self, condition: Condition<T::Target>) -> Condition<M>
    where
        T: ForeignKeyField,
    {
        let filter = match condition.expr {
            Expr::Const(false) => return Condition::new(Expr::Const(false)),
            Expr::Const(true) => None,
            e => Some(e),
        };
        Condition::wrapping(Expr::Exists(Box::new(Sub {
            table: crate::statement::Table::of::<T::Target>(),
            via: Via::Forward { fk: self.index },
            filter,
        })))
    }

    fn aggregate<O>(self, func: AggFunc) -> Aggregate<M, O> {
        Aggregate::new(Agg {
            func,
            column: Some(self.index),
        })
    }

    /// How many of the rows have a value here (not NULL), for
    /// [`Query::aggregate`](crate::Query::aggregate).
    pub fn count(self) -> Aggregate<M, u64> {
        self.aggregate(AggFunc::Count)
    }

    /// The sum of the values (`None` when there are none): an `i64` for
    /// integer columns, an `f64` for floating-point ones.
    pub fn sum(self) -> Aggregate<M, Option<T::Sum>>
    where
        T: Numeric,
    {
        self.aggregate(AggFunc::Sum)
    }

    /// The mean of the values, as an `f64` (`None` when there are none).
    pub fn avg(self) -> Aggregate<M, Option<f64>>
    where
        T: Numeric,
    {
        self.aggregate(AggFunc::Avg)
    }

    /// The least value (`None` when there are none); text compares bytewise.
    pub fn min(self) -> Aggregate<M, Option<T::Value>>
    where
        T: Ordered,
    {
        self.aggregate(AggFunc::Min)
    }

    /// The greatest value (`None` when there are none); text compares bytewise.
    pub fn max(self) -> Aggregate<M, Option<T::Value>>
    where
        T: Ordered,
    {
        self.aggregate(AggFunc::Max)
    }

    /// Is NULL.
    pub fn is_null(self) -> Condition<M>
    where
        T: NullableColumn,
    {
        Condition::new(Expr::IsNull {
            column: self.index,
            negated: false,
        })
    }

    /// Is not NULL.
    pub fn is_not_null(self) -> Condition<M>
    where
        T: NullableColumn,
    {
        Condition::new(Expr::IsNull {
            column: self.index,
            negated: true,
        })
    }

    /// Ascending order (NULLs first, as Rust orders `None`).
    pub fn asc(self) -> Order<M> {
        Order::new(OrderKey::Column(self.index), false)
    }

    /// Descending order (NULLs last).
    pub fn desc(self) -> Order<M> {
        Order::new(OrderKey::Column(self.index), true)
    }

    /// Assigns `value` to the column, for [`Query::update`](crate::Query::update).
    pub fn set(self, value: impl ValueFor<T>) -> Assignment<M>
    where
        K: Assignable,
    {
        Assignment {
            column: self.index,
            value: value.__into_owned(),
            model: PhantomData,
        }
    }
}

/// A condition on the rows of model `M`: combine with [`and`](Condition::and),
/// [`or`](Condition::or), [`not`](Condition::not) or `&`, `|`, `!`.
///
/// Every condition either matches a row or does not: `eq` and `ne` compare
/// as Rust's `==` and `!=` do (on an `Option` column, `None` equals only NULL;
/// a NaN equals nothing), the other comparisons and the text operators never
/// match NULL, `is_in` matches NULL only when `None` is among its values, and
/// `not` is the exact complement.
///
/// A condition nests `and`, `or`, `not` and relation filters at most
/// [`MAX_DEPTH`](Condition::MAX_DEPTH) levels deep (a chain of `and`s alone,
/// or of `or`s alone, is one level however long); running a query with a
/// deeper one is [`Error::ConditionTooDeep`](crate::Error::ConditionTooDeep),
/// never a stack overflow.
pub struct Condition<M> {
    pub(crate) expr: Expr,
    /// How deep `expr` nests `and`, `or` and `not`: 0 for a comparison.
    depth: usize,
    model: PhantomData<fn() -> M>,
}

impl<M> Clone for Condition<M> {
    fn clone(&self) -> Self {
        Condition {
            expr: self.expr.clone(),
            depth: self.depth,
            model: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Condition<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.expr, f)
    }
}

impl<M> Condition<M> {
    /// How deep `and`, `or`, `not` and relation filters (`has`, `any`) may
    /// nest in one condition: deep enough for any condition written by hand,
    /// shallow enough that cloning, rendering and dropping it fit in a small
    /// thread's stack. PostgreSQL runs such a condition; SQLite refuses an
    /// expression more than 1,000 levels deep with an error of its own (a
    /// chain of some 1,000 `or`s, some 30 nested relation filters).
    pub const MAX_DEPTH: usize = 256;

    /// A comparison, a constant: no nesting.
    pub(crate) fn new(expr: Expr) -> Self {
        Condition {
            expr,
            depth: 0,
            model: PhantomData,
        }
    }

    /// A condition around others (a relation's `EXISTS`, an aggregate's
    /// sub-select), as deep as they are and one more.
    pub(crate) fn wrapping(expr: Expr) -> Self {
        let depth = expr.depth(Self::MAX_DEPTH);
        Condition::nested(expr, depth)
    }

    /// `expr` at `depth`, or [`Expr::TooDeep`] past the limit, so that no
    /// deeper tree is ever built.
    fn nested(expr: Expr, depth: usize) -> Self {
        if depth > Self::MAX_DEPTH {
            return Condition::new(Expr::TooDeep);
        }
        Condition {
            expr,
            depth,
            model: PhantomData,
        }
    }

    /// `self op other`, where `op` flattens operands of its own `kind` and
    /// folds constants (see [`Expr::and`]).
    fn combine(self, other: Self, op: fn(Expr, Expr) -> Expr, kind: fn(&Expr) -> bool) -> Self {
        let is_const = |c: &Self| matches!(c.expr, Expr::Const(_));
        // An operand of the same kind gives its children to the result.
        let below = |c: &Self| {
            if kind(&c.expr) {
                c.depth.saturating_sub(1)
            } else {
                c.depth
            }
        };
        let flattened = 1 + below(&self).max(below(&other));
        let one_side = if is_const(&self) {
            other.depth
        } else {
            self.depth
        };
        let expr = op(self.expr, other.expr);
        let depth = match &expr {
            Expr::Const(_) | Expr::TooDeep => 0,
            e if kind(e) => flattened,
            // A constant folded away: the other operand is the result.
            _ => one_side,
        };
        Condition::nested(expr, depth)
    }

    /// Both conditions hold.
    #[must_use]
    pub fn and(self, other: Condition<M>) -> Condition<M> {
        self.combine(other, Expr::and, |e| matches!(e, Expr::And(_)))
    }

    /// Either condition holds.
    #[must_use]
    pub fn or(self, other: Condition<M>) -> Condition<M> {
        self.combine(other, Expr::or, |e| matches!(e, Expr::Or(_)))
    }

    /// The condition does not hold: exactly the rows it does not match. A
    /// comparison with a NULL column does not match (NULL is not less than 1),
    /// so its negation does (`f.x.lt(1).not()` matches rows where `x` is NULL),
    /// unlike SQL's `NOT`, whose result for NULL is neither.
    #[must_use]
    #[allow(clippy::should_implement_trait)] // `!` is implemented too
    pub fn not(self) -> Condition<M> {
        let depth = match &self.expr {
            Expr::Const(_) | Expr::TooDeep => 0,
            // Double negation folds away.
            Expr::Not(_) => self.depth.saturating_sub(1),
            _ => self.depth + 1,
        };
        Condition::nested(self.expr.not(), depth)
    }
}

impl<M> BitAnd for Condition<M> {
    type Output = Condition<M>;
    fn bitand(self, other: Self) -> Self {
        self.and(other)
    }
}

impl<M> BitOr for Condition<M> {
    type Output = Condition<M>;
    fn bitor(self, other: Self) -> Self {
        self.or(other)
    }
}

impl<M> Not for Condition<M> {
    type Output = Condition<M>;
    fn not(self) -> Self {
        Condition::not(self)
    }
}

/// One ordering term of a query of model `M`, from [`Field::asc`] or [`Field::desc`].
pub struct Order<M> {
    pub(crate) term: OrderTerm,
    model: PhantomData<fn() -> M>,
}

impl<M> Order<M> {
    pub(crate) fn new(key: OrderKey, descending: bool) -> Self {
        Order {
            term: OrderTerm { key, descending },
            model: PhantomData,
        }
    }
}

impl<M> Clone for Order<M> {
    fn clone(&self) -> Self {
        Order {
            term: self.term.clone(),
            model: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Order<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.term, f)
    }
}

/// `column = value` in an update of model `M`, from [`Field::set`].
pub struct Assignment<M> {
    pub(crate) column: usize,
    pub(crate) value: Owned,
    model: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Assignment<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {} = {:?}", self.column, self.value)
    }
}

// What converts to a column's value: the type itself, a reference to it, a
// plain value for an `Option` column, and `&str` for text.
impl<T: SqlType> crate::__private::IntoOwned<T> for T {
    fn __into_owned(self) -> Owned {
        Owned::from_value(self.to_value())
    }
}

impl<T: SqlType> crate::__private::IntoOwned<T> for &T {
    fn __into_owned(self) -> Owned {
        Owned::from_value(self.to_value())
    }
}

impl<T: SqlType> crate::__private::IntoOwned<Option<T>> for T {
    fn __into_owned(self) -> Owned {
        Owned::from_value(self.to_value())
    }
}

// `is_in(&[1, 2])` on an `Option` column: the items of a borrowed array or slice.
impl<T: SqlType> crate::__private::IntoOwned<Option<T>> for &T {
    fn __into_owned(self) -> Owned {
        Owned::from_value(self.to_value())
    }
}

impl crate::__private::IntoOwned<String> for &str {
    fn __into_owned(self) -> Owned {
        Owned::Text(self.into())
    }
}

impl crate::__private::IntoOwned<Option<String>> for &str {
    fn __into_owned(self) -> Owned {
        Owned::Text(self.into())
    }
}

// `is_in(&["a", "b"])`: the items of a borrowed array or slice of `&str`.
impl crate::__private::IntoOwned<String> for &&str {
    fn __into_owned(self) -> Owned {
        Owned::Text((*self).into())
    }
}

impl crate::__private::IntoOwned<Option<String>> for &&str {
    fn __into_owned(self) -> Owned {
        Owned::Text((*self).into())
    }
}
