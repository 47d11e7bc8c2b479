//! Relations inside one statement: forward joins (Django's `select_related`),
//! filters across relations and per-row aggregates of a relation
//! (annotations), as typed parts of a [`Query`](super::Query).

use std::fmt;
use std::marker::PhantomData;

use super::aggregate::{read_agg, AggValue, Numeric, Ordered};
use super::field::{Condition, Field, Order, ValueFor};
use super::sealed;
use crate::backend::Row;
use crate::error::{Error, Result};
use crate::foreign_key::{ForeignKeyField, Found};
use crate::statement::{Agg, AggFunc, CmpOp, Expr, Extra, OrderKey, RelAgg, Sub, Table, Via};
use crate::value::{Owned, Value};
use crate::Model;

/// A to-many relation of model `P`: its reverse foreign keys and
/// many-to-many relations, as associated constants the child's derive
/// generates on `P`, named after the relation in upper case
/// (`related_name = "products"` gives `Category::PRODUCTS`; the default
/// `product_set` gives `Category::PRODUCT_SET`). Its methods build
/// conditions and annotations of `P`'s queries, each an `EXISTS` or a
/// correlated sub-select of the one statement:
///
/// ```
/// use orm_core::rusqlite::Connection;
/// use orm_core::{ForeignKey, Model};
///
/// #[derive(Model, Debug, Clone)]
/// struct Category { id: i64, name: String }
///
/// #[derive(Model, Debug, Clone)]
/// struct Product {
///     id: i64,
///     price: f64,
///     #[foreign_key(related_name = "products")]
///     category: ForeignKey<Category>,
/// }
///
/// let conn = Connection::open_in_memory()?;
/// Category::create_table(&conn)?;
/// Product::create_table(&conn)?;
/// for (id, name) in [(1, "Books"), (2, "Games"), (3, "Garden")] {
///     Category { id, name: name.into() }.insert(&conn)?;
/// }
/// for (id, price, cat) in [(1, 9.5, 1), (2, 30.0, 1), (3, 40.0, 2)] {
///     Product { id, price, category: ForeignKey::new(cat) }.insert(&conn)?;
/// }
/// let p = Product::fields();
/// let cheap = Category::query().filter(Category::PRODUCTS.any(p.price.lt(10.0))).all(&conn)?;
/// assert_eq!(cheap.iter().map(|c| c.id).collect::<Vec<_>>(), [1]);
/// let empty = Category::query().filter(Category::PRODUCTS.exists().not()).all(&conn)?;
/// assert_eq!(empty.iter().map(|c| c.id).collect::<Vec<_>>(), [3]);
///
/// let stats: Vec<(Category, (u64, Option<f64>))> = Category::query()
///     .annotate((Category::PRODUCTS.count(), Category::PRODUCTS.max(p.price)))
///     .order_by(Category::PRODUCTS.count().desc())
///     .all(&conn)?;
/// let summary: Vec<_> = stats.iter().map(|(c, n)| (c.id, *n)).collect();
/// assert_eq!(summary, [(1, (2, Some(30.0))), (2, (1, Some(40.0))), (3, (0, None))]);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub struct Relation<P, C> {
    via: fn() -> Via,
    marker: PhantomData<fn() -> (P, C)>,
}

impl<P, C> Clone for Relation<P, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, C> Copy for Relation<P, C> {}

impl<P: Model, C: Model> fmt::Debug for Relation<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Relation<{}, {}>({:?})", P::NAME, C::NAME, (self.via)())
    }
}

impl<P: Model, C: Model> Relation<P, C> {
    pub(crate) const fn new(via: fn() -> Via) -> Self {
        Relation {
            via,
            marker: PhantomData,
        }
    }

    fn related(self) -> Related<P, C> {
        Related {
            sub: Sub {
                table: Table::of::<C>(),
                via: (self.via)(),
                filter: None,
            },
            marker: PhantomData,
        }
    }

    /// Only the related rows matching `condition`, for an annotation
    /// (`Category::PRODUCTS.filter(p.price.gt(5.0)).count()`) or a filter.
    pub fn filter(self, condition: Condition<C>) -> Related<P, C> {
        self.related().filter(condition)
    }

    /// Some related row matches `condition` (Django's
    /// `filter(products__price__lt=10)`, once per row however many match).
    /// `any(c).not()` is "no related row matches".
    pub fn any(self, condition: Condition<C>) -> Condition<P> {
        self.related().filter(condition).exists()
    }

    /// The row has some related row.
    pub fn exists(self) -> Condition<P> {
        self.related().exists()
    }

    /// How many related rows each row has (0 for none).
    pub fn count(self) -> Annotation<P, u64> {
        self.related().count()
    }

    /// The sum of a column of each row's related rows (`None` for none).
    pub fn sum<T: Numeric, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Sum>> {
        self.related().sum(field)
    }

    /// The mean of a column of each row's related rows (`None` for none).
    pub fn avg<T: Numeric, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<f64>> {
        self.related().avg(field)
    }

    /// The least value of a column of each row's related rows (`None` for none).
    pub fn min<T: Ordered, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Value>> {
        self.related().min(field)
    }

    /// The greatest value of a column of each row's related rows (`None` for none).
    pub fn max<T: Ordered, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Value>> {
        self.related().max(field)
    }
}

/// A relation of model `P` narrowed to the related rows matching a
/// condition, from [`Relation::filter`]; the same methods as [`Relation`].
pub struct Related<P, C> {
    sub: Sub,
    marker: PhantomData<fn() -> (P, C)>,
}

impl<P, C> Clone for Related<P, C> {
    fn clone(&self) -> Self {
        Related {
            sub: self.sub.clone(),
            marker: PhantomData,
        }
    }
}

impl<P, C> fmt::Debug for Related<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.sub, f)
    }
}

impl<P: Model, C: Model> Related<P, C> {
    /// Only the related rows matching `condition` as well.
    #[must_use]
    pub fn filter(mut self, condition: Condition<C>) -> Self {
        self.sub.filter = Some(match self.sub.filter.take() {
            Some(filter) => filter.and(condition.expr),
            None => condition.expr,
        });
        self
    }

    /// Some of these related rows matches `condition`.
    pub fn any(self, condition: Condition<C>) -> Condition<P> {
        self.filter(condition).exists()
    }

    /// The row has some of these related rows.
    pub fn exists(self) -> Condition<P> {
        match self.sub.filter {
            Some(Expr::Const(false)) => Condition::new(Expr::Const(false)),
            _ => Condition::wrapping(Expr::Exists(Box::new(self.sub))),
        }
    }

    fn annotation<T>(self, func: AggFunc, column: Option<usize>) -> Annotation<P, T> {
        Annotation {
            agg: RelAgg {
                sub: self.sub,
                agg: Agg { func, column },
            },
            marker: PhantomData,
        }
    }

    /// How many of these related rows each row has (0 for none).
    pub fn count(self) -> Annotation<P, u64> {
        self.annotation(AggFunc::Count, None)
    }

    /// The sum of a column of these related rows (`None` for none).
    pub fn sum<T: Numeric, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Sum>> {
        self.annotation(AggFunc::Sum, Some(field.index()))
    }

    /// The mean of a column of these related rows (`None` for none).
    pub fn avg<T: Numeric, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<f64>> {
        self.annotation(AggFunc::Avg, Some(field.index()))
    }

    /// The least value of a column of these related rows (`None` for none).
    pub fn min<T: Ordered, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Value>> {
        self.annotation(AggFunc::Min, Some(field.index()))
    }

    /// The greatest value of a column of these related rows (`None` for none).
    pub fn max<T: Ordered, K>(self, field: Field<C, T, K>) -> Annotation<P, Option<T::Value>> {
        self.annotation(AggFunc::Max, Some(field.index()))
    }
}

/// A per-row aggregate of a relation of model `M`, read as `T`: select it
/// with [`Query::annotate`](crate::Query::annotate), order by it with
/// [`asc`](Annotation::asc) / [`desc`](Annotation::desc) (ties broken by
/// primary key), and compare it in a filter (`Category::PRODUCTS.count().ge(3)`).
pub struct Annotation<M, T> {
    pub(crate) agg: RelAgg,
    marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Annotation<M, T> {
    fn clone(&self) -> Self {
        Annotation {
            agg: self.agg.clone(),
            marker: PhantomData,
        }
    }
}

impl<M, T> fmt::Debug for Annotation<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.agg, f)
    }
}

impl<M, T> Annotation<M, T> {
    /// Ascending order (an aggregate of no row, `None`, first).
    pub fn asc(self) -> Order<M> {
        Order::new(OrderKey::Agg(Box::new(self.agg)), false)
    }

    /// Descending order (`None` last).
    pub fn desc(self) -> Order<M> {
        Order::new(OrderKey::Agg(Box::new(self.agg)), true)
    }

    fn compare(self, op: CmpOp, value: Owned) -> Condition<M> {
        // As for a column: NaN equals nothing and differs from everything.
        let expr = match op {
            CmpOp::Ne if value.is_nan() => Expr::Const(true),
            _ if value.is_nan() => Expr::Const(false),
            _ => Expr::AggCompare {
                agg: Box::new(self.agg),
                op,
                value,
            },
        };
        Condition::wrapping(expr)
    }
}

impl<M> Annotation<M, u64> {
    /// The count equals `n`.
    pub fn eq(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Eq, count_value(n))
    }
    /// The count differs from `n`.
    pub fn ne(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Ne, count_value(n))
    }
    /// The count is less than `n`.
    pub fn lt(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Lt, count_value(n))
    }
    /// The count is at most `n`.
    pub fn le(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Le, count_value(n))
    }
    /// The count is more than `n`.
    pub fn gt(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Gt, count_value(n))
    }
    /// The count is at least `n`.
    pub fn ge(self, n: u64) -> Condition<M> {
        self.compare(CmpOp::Ge, count_value(n))
    }
}

fn count_value(n: u64) -> Owned {
    Owned::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

impl<M, T: crate::SqlType> Annotation<M, Option<T>> {
    /// Equal to `value` (an aggregate of no row is `None`, equal to nothing).
    pub fn eq(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Eq, value.__into_owned())
    }
    /// Not equal to `value`, as Rust's `!=`: `None` differs from every value.
    pub fn ne(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Ne, value.__into_owned())
    }
    /// Less than `value` (`None` never is).
    pub fn lt(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Lt, value.__into_owned())
    }
    /// At most `value` (`None` never is).
    pub fn le(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Le, value.__into_owned())
    }
    /// Greater than `value` (`None` never is).
    pub fn gt(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Gt, value.__into_owned())
    }
    /// At least `value` (`None` never is).
    pub fn ge(self, value: impl ValueFor<T>) -> Condition<M> {
        self.compare(CmpOp::Ge, value.__into_owned())
    }
    /// The aggregate is `None`: no related row (with a value).
    pub fn is_null(self) -> Condition<M> {
        Condition::wrapping(Expr::AggIsNull {
            agg: Box::new(self.agg),
            negated: false,
        })
    }
    /// The aggregate has a value.
    pub fn is_not_null(self) -> Condition<M> {
        Condition::wrapping(Expr::AggIsNull {
            agg: Box::new(self.agg),
            negated: true,
        })
    }
}

/// Annotations as the statement IR has them. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct RelAggList(pub(crate) Vec<RelAgg>);

/// One annotation or a tuple of them, for
/// [`Query::annotate`](crate::Query::annotate). Implemented for
/// [`Annotation`] and tuples of up to eight of the same model; what one row
/// of them reads as is its `Out`.
pub trait Annotations<M: Model>: AnnotationsOf<Model = M> {}

impl<M: Model, A: AnnotationsOf<Model = M>> Annotations<M> for A {}

/// Where the reader of a row finds the parts a query added: what the
/// generated and generic code passes around. Not public API.
#[doc(hidden)]
pub struct Layout<'a> {
    pub(crate) extras: &'a [Extra],
}

/// One part a query selects after its model's columns: a joined row
/// ([`Joined`]) or annotations ([`Annotated`]). Implemented by the crate.
pub trait Part: sealed::Part + 'static {
    /// What the part reads as.
    type Out: Send + Sync;
    #[doc(hidden)]
    fn __read<M: Model>(
        row: &Row<'_>,
        at: &mut usize,
        layout: &Layout<'_>,
        k: usize,
    ) -> Result<Self::Out>;
}

/// The part [`Query::join`](crate::Query::join) adds: the row a foreign-key
/// field `F` points at (`P`, or `Option<P>` for an `Option` key).
pub struct Joined<F>(PhantomData<fn() -> F>);

/// The part [`Query::annotate`](crate::Query::annotate) adds.
pub struct Annotated<A>(PhantomData<fn() -> A>);

impl<F> sealed::Part for Joined<F> {}
impl<F: 'static> Part for Joined<F>
where
    F: ForeignKeyField + Found<<F as ForeignKeyField>::Target>,
{
    type Out = <F as Found<F::Target>>::Loaded;

    fn __read<M: Model>(
        row: &Row<'_>,
        at: &mut usize,
        layout: &Layout<'_>,
        k: usize,
    ) -> Result<Self::Out> {
        let base = *at;
        *at += F::Target::COLUMNS.len();
        // The join whose columns start at `base`: found by position, since
        // a part (a tuple of annotations) may stand for several extras, so
        // `k`, the part's index, is not the extra's.
        let _ = k;
        let mut offset = M::COLUMNS.len();
        let join = layout.extras.iter().find_map(|extra| {
            let here = offset;
            offset += extra.width();
            match extra {
                Extra::Join(join) if here == base => Some(join),
                _ => None,
            }
        });
        let Some(join) = join else {
            return Err(Error::NotFound {
                model: M::NAME,
                table: M::TABLE,
                key: "(a joined row the statement did not select)".into(),
            });
        };
        // The parent is read first: a row found (the common case) costs one
        // read of each column. Only when that fails, or when the key type
        // itself could read a NULL, is the key looked at: a NULL there means
        // no parent row.
        let key_at = base + F::Target::PRIMARY_KEY;
        let null_key = || matches!(row.value(key_at), Ok(Value::Null));
        if !(<<F::Target as Model>::Key as crate::SqlType>::NULLABLE && null_key()) {
            match <F::Target as crate::__private::ModelImpl>::__from_row_at(row, base) {
                Ok(parent) => return Ok(F::found(parent)),
                Err(e) if !null_key() => return Err(e),
                Err(_) => {}
            }
        }
        // No parent row: a NULL key (fine for an `Option`), or one that
        // dangles, which is an error as for `prefetch_<field>`.
        let column = M::COLUMNS.get(join.column).map_or("?", crate::Column::name);
        let key: Option<<F::Target as Model>::Key> =
            row.get(join.column).map_err(|source| Error::Column {
                model: M::NAME,
                table: M::TABLE,
                column,
                source,
            })?;
        let missing = |key: String| Error::MissingParent {
            model: M::NAME,
            column,
            table: F::Target::TABLE,
            key,
        };
        match key {
            None => F::null().ok_or_else(|| missing("NULL".into())),
            Some(key) => Err(missing(format!("{key:?}"))),
        }
    }
}

impl<A> sealed::Part for Annotated<A> {}
impl<A: 'static> Part for Annotated<A>
where
    A: AnnotationsOf,
{
    type Out = A::Out;

    fn __read<M: Model>(
        row: &Row<'_>,
        at: &mut usize,
        _: &Layout<'_>,
        _: usize,
    ) -> Result<Self::Out> {
        let base = *at;
        *at += A::WIDTH;
        A::__read_of::<M>(row, base)
    }
}

/// What [`Annotations`] are, without naming the model in the trait's own
/// parameters: what [`Annotated`] needs to read them. Not public API.
#[doc(hidden)]
pub trait AnnotationsOf: sealed::Annotations {
    /// The model whose rows they annotate.
    type Model;
    /// What the annotations of one row read as.
    type Out: Send + Sync;
    /// How many columns they take.
    const WIDTH: usize;
    fn __aggs(self) -> RelAggList;
    fn __read_of<M: Model>(row: &Row<'_>, at: usize) -> Result<Self::Out>;
}

impl<N, T> sealed::Annotations for Annotation<N, T> {}
impl<N, T: AggValue> AnnotationsOf for Annotation<N, T> {
    type Model = N;
    type Out = T;
    const WIDTH: usize = 1;
    fn __aggs(self) -> RelAggList {
        RelAggList(vec![self.agg])
    }
    fn __read_of<M: Model>(row: &Row<'_>, at: usize) -> Result<T> {
        read_agg::<M, T>(row, at)
    }
}

macro_rules! annotations_of {
    ($(($n:expr; $($t:ident $i:tt),+))+) => {$(
        impl<N, $($t),+> sealed::Annotations for ($(Annotation<N, $t>,)+) {}
        impl<N, $($t: AggValue),+> AnnotationsOf for ($(Annotation<N, $t>,)+) {
            type Model = N;
            type Out = ($($t,)+);
            const WIDTH: usize = $n;
            fn __aggs(self) -> RelAggList {
                RelAggList(vec![$(self.$i.agg),+])
            }
            fn __read_of<M: Model>(row: &Row<'_>, at: usize) -> Result<Self::Out> {
                Ok(($(read_agg::<M, $t>(row, at + $i)?,)+))
            }
        }
    )+};
}

annotations_of! {
    (1; A 0)
    (2; A 0, B 1)
    (3; A 0, B 1, C 2)
    (4; A 0, B 1, C 2, D 3)
    (5; A 0, B 1, C 2, D 3, E 4)
    (6; A 0, B 1, C 2, D 3, E 4, F 5)
    (7; A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// The parts a query adds to each of its rows, as a tuple of [`Part`]s:
/// `()` for a plain query (rows read as `M`), `(Joined<F>,)` after one
/// `join` (rows read as `(M, P)`), and so on, flat: a query with two joins
/// reads as `(M, P1, P2)`. Up to six parts.
pub trait Extras<M: Model>: sealed::Extras + 'static {
    /// One row of results.
    type Row: Send + Sync;
    #[doc(hidden)]
    fn __read(row: &Row<'_>, layout: &Layout<'_>) -> Result<Self::Row>;
    #[doc(hidden)]
    fn __model(row: &Self::Row) -> &M;
}

impl sealed::Extras for () {}
impl<M: Model> Extras<M> for () {
    type Row = M;
    #[inline]
    fn __read(row: &Row<'_>, _: &Layout<'_>) -> Result<M> {
        M::from_row(row)
    }
    #[inline]
    fn __model(row: &M) -> &M {
        row
    }
}

/// Adds part `E` at the end of a tuple of parts. Not public API.
#[doc(hidden)]
pub trait Push<E> {
    type Out;
}

impl<E> Push<E> for () {
    type Out = (E,);
}

macro_rules! extras_tuples {
    ($(($($t:ident $i:tt),+))+) => {$(
        impl<$($t),+> sealed::Extras for ($($t,)+) {}
        impl<M: Model, $($t: Part),+> Extras<M> for ($($t,)+) {
            type Row = (M, $($t::Out,)+);
            fn __read(row: &Row<'_>, layout: &Layout<'_>) -> Result<Self::Row> {
                let model = M::from_row(row)?;
                let mut at = M::COLUMNS.len();
                Ok((model, $($t::__read::<M>(row, &mut at, layout, $i)?,)+))
            }
            #[inline]
            fn __model(row: &Self::Row) -> &M {
                &row.0
            }
        }
        impl<$($t,)+ Z> Push<Z> for ($($t,)+) {
            type Out = ($($t,)+ Z,);
        }
    )+};
}

extras_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// The `via` of a reverse relation through foreign key `R`.
pub(crate) fn reverse_via<R: crate::relation::ForeignKeyRelation>() -> Via {
    Via::Reverse { fk: R::COLUMN }
}

/// The `via` of a many-to-many relation `R`.
pub(crate) fn through_via<R: crate::relation::ManyToMany>() -> Via {
    Via::Through(crate::relation::junction::<R>())
}
