//! Aggregates of a query's rows (`aggregate`, `group_by`) and projections
//! (`select`): what a page needs of many rows without loading them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::field::Field;
use super::Query;
use crate::backend::Row;
use crate::db::{Database, Mode, Out};
use crate::error::{Error, Result};
use crate::exec;
use crate::statement::Agg;
use crate::value::ValueError;
use crate::{Model, SqlType};

/// Marks the column types [`Field::sum`] and [`Field::avg`] accept, with
/// the type their sum reads as: `i64` for integers, `f64` for floats.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a number: `sum` and `avg` need an integer or floating-point field"
)]
pub trait Numeric {
    /// What the sum of such values reads as.
    type Sum: SqlType;
}

macro_rules! numeric {
    ($sum:ty: $($t:ty),+) => {$(
        impl Numeric for $t {
            type Sum = $sum;
        }
    )+};
}
numeric!(i64: i8, i16, i32, i64, isize, u8, u16, u32);
numeric!(f64: f32, f64);

impl<T: Numeric> Numeric for Option<T> {
    type Sum = T::Sum;
}

/// Marks the column types [`Field::min`] and [`Field::max`] (and the
/// relation aggregates of the same names) accept: those both backends order
/// as Rust does (numbers, text bytewise, dates and times, UUIDs), with the
/// type the result reads as. A column type of your own may implement it when
/// its stored form orders as its values do.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no order both backends share: `min` and `max` need a number, text, \
               a date or time, or a UUID field"
)]
pub trait Ordered {
    /// What the least or greatest value reads as.
    type Value: SqlType;
}

macro_rules! ordered {
    ($($t:ty),+ $(,)?) => {$(
        impl Ordered for $t {
            type Value = $t;
        }
    )+};
}
ordered!(i8, i16, i32, i64, isize, u8, u16, u32, f32, f64, String);
#[cfg(feature = "chrono")]
ordered!(
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>
);
#[cfg(feature = "time")]
ordered!(time::Date, time::Time, time::PrimitiveDateTime);
#[cfg(feature = "uuid")]
ordered!(uuid::Uuid);

impl<T: Ordered> Ordered for Option<T> {
    type Value = T::Value;
}

/// What an aggregate reads as: `u64` for a count, `Option<T>` for the others
/// (`None` over no row). Implemented by the crate.
pub trait AggValue: Sized + Send + Sync + super::sealed::AggValue {
    #[doc(hidden)]
    fn __read(row: &Row<'_>, index: usize) -> std::result::Result<Self, ValueError>;
}

impl super::sealed::AggValue for u64 {}
impl AggValue for u64 {
    fn __read(row: &Row<'_>, index: usize) -> std::result::Result<Self, ValueError> {
        let n: i64 = row.get(index)?;
        u64::try_from(n).map_err(|_| ValueError::out_of_range(n, "u64"))
    }
}

impl<T: SqlType> super::sealed::AggValue for Option<T> {}
impl<T: SqlType + Send + Sync> AggValue for Option<T> {
    fn __read(row: &Row<'_>, index: usize) -> std::result::Result<Self, ValueError> {
        row.get(index)
    }
}

/// Reads aggregate `index` of a row, naming the model in the error.
pub(crate) fn read_agg<M: Model, T: AggValue>(row: &Row<'_>, index: usize) -> Result<T> {
    T::__read(row, index).map_err(|source| Error::Column {
        model: M::NAME,
        table: M::TABLE,
        column: "(aggregate)",
        source,
    })
}

/// Aggregates as the statement IR has them. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct AggList(pub(crate) Vec<Agg>);

/// An aggregate of one column of the rows of a query of model `M`, read as
/// `T`: from [`Field::count`], [`Field::sum`], [`Field::avg`],
/// [`Field::min`] or [`Field::max`], for [`Query::aggregate`].
pub struct Aggregate<M, T> {
    pub(crate) agg: Agg,
    marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Aggregate<M, T> {
    pub(crate) fn new(agg: Agg) -> Self {
        Aggregate {
            agg,
            marker: PhantomData,
        }
    }
}

impl<M, T> Clone for Aggregate<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, T> Copy for Aggregate<M, T> {}

impl<M, T> fmt::Debug for Aggregate<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.agg, f)
    }
}

/// One aggregate or a tuple of them, for [`Query::aggregate`]: `Out` is
/// what one row of results reads as. Implemented for [`Aggregate`] and for
/// tuples of up to eight of the same model.
pub trait Aggregates<M: Model>: Send + Sync + super::sealed::Aggregates {
    /// The values of one row.
    type Out: Send + Sync;
    /// The values after group keys `K`, flat: `(K, T1, T2, ...)`.
    type After<K: Send + Sync>: Send + Sync;
    /// The values after two group keys, flat: `(K1, K2, T1, T2, ...)`.
    type After2<K1: Send + Sync, K2: Send + Sync>: Send + Sync;
    #[doc(hidden)]
    fn __aggs(&self) -> AggList;
    #[doc(hidden)]
    fn __read(row: &Row<'_>, at: usize) -> Result<Self::Out>;
    #[doc(hidden)]
    fn __after<K: Send + Sync>(key: K, row: &Row<'_>, at: usize) -> Result<Self::After<K>>;
    #[doc(hidden)]
    fn __after2<K1: Send + Sync, K2: Send + Sync>(
        k1: K1,
        k2: K2,
        row: &Row<'_>,
        at: usize,
    ) -> Result<Self::After2<K1, K2>>;
}

impl<M, T> super::sealed::Aggregates for Aggregate<M, T> {}
impl<M: Model, T: AggValue> Aggregates<M> for Aggregate<M, T> {
    type Out = T;
    type After<K: Send + Sync> = (K, T);
    type After2<K1: Send + Sync, K2: Send + Sync> = (K1, K2, T);
    fn __aggs(&self) -> AggList {
        AggList(vec![self.agg])
    }
    fn __read(row: &Row<'_>, at: usize) -> Result<T> {
        read_agg::<M, T>(row, at)
    }
    fn __after<K: Send + Sync>(key: K, row: &Row<'_>, at: usize) -> Result<(K, T)> {
        Ok((key, read_agg::<M, T>(row, at)?))
    }
    fn __after2<K1: Send + Sync, K2: Send + Sync>(
        k1: K1,
        k2: K2,
        row: &Row<'_>,
        at: usize,
    ) -> Result<(K1, K2, T)> {
        Ok((k1, k2, read_agg::<M, T>(row, at)?))
    }
}

macro_rules! aggregate_tuples {
    ($(($($t:ident $i:tt),+))+) => {$(
        impl<M, $($t),+> super::sealed::Aggregates for ($(Aggregate<M, $t>,)+) {}
        impl<M: Model, $($t: AggValue),+> Aggregates<M> for ($(Aggregate<M, $t>,)+) {
            type Out = ($($t,)+);
            type After<K: Send + Sync> = (K, $($t,)+);
            type After2<K1: Send + Sync, K2: Send + Sync> = (K1, K2, $($t,)+);
            fn __aggs(&self) -> AggList {
                AggList(vec![$(self.$i.agg),+])
            }
            fn __read(row: &Row<'_>, at: usize) -> Result<Self::Out> {
                Ok(($(read_agg::<M, $t>(row, at + $i)?,)+))
            }
            fn __after<K: Send + Sync>(key: K, row: &Row<'_>, at: usize) -> Result<Self::After<K>> {
                Ok((key, $(read_agg::<M, $t>(row, at + $i)?,)+))
            }
            fn __after2<K1: Send + Sync, K2: Send + Sync>(k1: K1, k2: K2, row: &Row<'_>, at: usize)
                -> Result<Self::After2<K1, K2>>
            {
                Ok((k1, k2, $(read_agg::<M, $t>(row, at + $i)?,)+))
            }
        }
    )+};
}

aggregate_tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// The aggregates of a query's rows, from [`Query::aggregate`]: run with
/// [`get`](Aggregation::get).
#[must_use = "an aggregation does nothing until `get` runs it"]
pub struct Aggregation<M, A> {
    query: Query<M>,
    aggs: A,
}

impl<M: Model, A: Aggregates<M>> Aggregation<M, A> {
    /// The aggregates, in one statement: counts of no row are 0, the other
    /// aggregates of no row `None`.
    pub fn get<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, A::Out> {
        let AggList(aggs) = self.aggs.__aggs();
        let rows = db.__run(exec::Values::<M, _> {
            shape: Cow::Borrowed(&self.query.shape),
            columns: Vec::new(),
            aggs: Some(aggs),
            read: |row: &Row<'_>| A::__read(row, 0),
            model: PhantomData,
        });
        D::Mode::__then(rows, |rows| {
            rows.into_iter().next().ok_or_else(|| Error::NotFound {
                model: M::NAME,
                table: M::TABLE,
                key: "(no row returned by an aggregate)".into(),
            })
        })
    }
}

/// A column, or a tuple of two, to group a query's rows by, for
/// [`Query::group_by`]. Implemented for fields of the query's model.
pub trait GroupKeys<M: Model>: Send + Sync + super::sealed::GroupKeys {
    /// One row of results: the group's key values, then the aggregates, flat.
    type Row<A: Aggregates<M>>: Send + Sync;
    #[doc(hidden)]
    fn __columns(&self) -> Vec<usize>;
    #[doc(hidden)]
    fn __read<A: Aggregates<M>>(&self, row: &Row<'_>) -> Result<Self::Row<A>>;
}

impl<M, T, K> super::sealed::GroupKeys for Field<M, T, K> {}
impl<M, T, K> super::sealed::Selection for Field<M, T, K> {}
impl<M: Model, T: SqlType + Send + Sync, K> GroupKeys<M> for Field<M, T, K> {
    type Row<A: Aggregates<M>> = A::After<T>;
    fn __columns(&self) -> Vec<usize> {
        vec![self.index()]
    }
    fn __read<A: Aggregates<M>>(&self, row: &Row<'_>) -> Result<Self::Row<A>> {
        let key = read_as::<M, T>(row, 0, self.index())?;
        A::__after(key, row, 1)
    }
}

impl<M, T1, K1, T2, K2> super::sealed::GroupKeys for (Field<M, T1, K1>, Field<M, T2, K2>) {}
impl<M: Model, T1: SqlType + Send + Sync, K1, T2: SqlType + Send + Sync, K2> GroupKeys<M>
    for (Field<M, T1, K1>, Field<M, T2, K2>)
{
    type Row<A: Aggregates<M>> = A::After2<T1, T2>;
    fn __columns(&self) -> Vec<usize> {
        vec![self.0.index(), self.1.index()]
    }
    fn __read<A: Aggregates<M>>(&self, row: &Row<'_>) -> Result<Self::Row<A>> {
        let k1 = read_as::<M, T1>(row, 0, self.0.index())?;
        let k2 = read_as::<M, T2>(row, 1, self.1.index())?;
        A::__after2(k1, k2, row, 2)
    }
}

/// A query's rows grouped by some columns, from [`Query::group_by`]: give
/// it the aggregates to compute per group with
/// [`aggregate`](Grouped::aggregate).
#[must_use = "a grouping does nothing until its aggregates run"]
pub struct Grouped<M, G> {
    query: Query<M>,
    keys: G,
}

impl<M: Model, G: GroupKeys<M>> Grouped<M, G> {
    /// The aggregates to compute for each group.
    pub fn aggregate<A: Aggregates<M>>(self, aggs: A) -> GroupedAggregation<M, G, A> {
        GroupedAggregation {
            query: self.query,
            keys: self.keys,
            aggs,
        }
    }
}

/// Aggregates per group, from [`Grouped::aggregate`]: run with
/// [`all`](GroupedAggregation::all).
#[must_use = "an aggregation does nothing until `all` runs it"]
pub struct GroupedAggregation<M, G, A> {
    query: Query<M>,
    keys: G,
    aggs: A,
}

impl<M: Model, G: GroupKeys<M>, A: Aggregates<M>> GroupedAggregation<M, G, A> {
    /// One row per group, `(key, aggregates...)`, in one statement, in
    /// group-key order (NULL first, text bytewise). A NULL key is a group of
    /// its own, and so is a foreign key that dangles.
    pub fn all<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Vec<G::Row<A>>> {
        let AggList(aggs) = self.aggs.__aggs();
        db.__run(exec::Values::<M, _> {
            shape: Cow::Borrowed(&self.query.shape),
            columns: self.keys.__columns(),
            aggs: Some(aggs),
            read: |row: &Row<'_>| self.keys.__read::<A>(row),
            model: PhantomData,
        })
    }
}

/// Fields to select instead of whole rows, for [`Query::select`]: one
/// field, or a tuple of up to eight fields of the query's model.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a selection of `{M}`'s fields",
    label = "`select` takes a field of the query's model, or a tuple of them",
    note = "every field must come from `{M}::fields()`"
)]
pub trait Selection<M: Model>: Send + Sync + super::sealed::Selection {
    /// One row of results.
    type Out: Send + Sync;
    #[doc(hidden)]
    fn __columns(&self) -> Vec<usize>;
    #[doc(hidden)]
    fn __read(&self, row: &Row<'_>) -> Result<Self::Out>;
}

impl<M: Model, T: SqlType + Send + Sync, K> Selection<M> for Field<M, T, K> {
    type Out = T;
    fn __columns(&self) -> Vec<usize> {
        vec![self.index()]
    }
    fn __read(&self, row: &Row<'_>) -> Result<T> {
        read_as::<M, T>(row, 0, self.index())
    }
}

macro_rules! selection_tuples {
    ($(($($t:ident $k:ident $i:tt),+))+) => {$(
        impl<M, $($t, $k),+> super::sealed::Selection for ($(Field<M, $t, $k>,)+) {}
        impl<M: Model, $($t: SqlType + Send + Sync, $k),+> Selection<M> for ($(Field<M, $t, $k>,)+) {
            type Out = ($($t,)+);
            fn __columns(&self) -> Vec<usize> {
                vec![$(self.$i.index()),+]
            }
            fn __read(&self, row: &Row<'_>) -> Result<Self::Out> {
                Ok(($(read_as::<M, $t>(row, $i, self.$i.index())?,)+))
            }
        }
    )+};
}

/// Reads position `at` of a row, which holds column `column` of `M`.
fn read_as<M: Model, T: SqlType>(row: &Row<'_>, at: usize, column: usize) -> Result<T> {
    row.get(at).map_err(|source| Error::Column {
        model: M::NAME,
        table: M::TABLE,
        column: M::COLUMNS.get(column).map_or("?", crate::Column::name),
        source,
    })
}

selection_tuples! {
    (A KA 0)
    (A KA 0, B KB 1)
    (A KA 0, B KB 1, C KC 2)
    (A KA 0, B KB 1, C KC 2, D KD 3)
    (A KA 0, B KB 1, C KC 2, D KD 3, E KE 4)
    (A KA 0, B KB 1, C KC 2, D KD 3, E KE 4, F KF 5)
    (A KA 0, B KB 1, C KC 2, D KD 3, E KE 4, F KF 5, G KG 6)
    (A KA 0, B KB 1, C KC 2, D KD 3, E KE 4, F KF 5, G KG 6, H KH 7)
}

/// Some columns of a query's rows, from [`Query::select`].
#[must_use = "a selection does nothing until `all` or `first` runs it"]
pub struct Projected<M, S> {
    query: Query<M>,
    fields: S,
}

impl<M: Model, S: Selection<M>> Projected<M, S> {
    /// The selected columns of every row, in the query's order.
    pub fn all<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Vec<S::Out>> {
        db.__run(exec::Values::<M, _> {
            shape: Cow::Borrowed(&self.query.shape),
            columns: self.fields.__columns(),
            aggs: None,
            read: |row: &Row<'_>| self.fields.__read(row),
            model: PhantomData,
        })
    }

    /// The selected columns of the first row, if any.
    pub fn first<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Option<S::Out>> {
        let mut shape = self.query.shape.clone();
        shape.limit = Some(shape.limit.map_or(1, |n| n.min(1)));
        let rows = db.__run(exec::Values::<M, _> {
            shape: Cow::Owned(shape),
            columns: self.fields.__columns(),
            aggs: None,
            read: |row: &Row<'_>| self.fields.__read(row),
            model: PhantomData,
        });
        D::Mode::__then(rows, |rows| Ok(rows.into_iter().next()))
    }
}

impl<M: Model, X> Query<M, X> {
    /// Aggregates of the rows the query selects (within its limit and
    /// offset), as one row: `.aggregate((f.id.count(), f.price.max())).get(&conn)?`
    /// is `(u64, Option<f64>)`. One statement; joins and annotations of the
    /// query play no part.
    pub fn aggregate<A: Aggregates<M>>(self, aggs: A) -> Aggregation<M, A> {
        Aggregation {
            query: self.plain(),
            aggs,
        }
    }

    /// Groups the rows the query selects by a column (or a tuple of two);
    /// then [`aggregate`](Grouped::aggregate) says what to compute per group.
    pub fn group_by<G: GroupKeys<M>>(self, keys: G) -> Grouped<M, G> {
        Grouped {
            query: self.plain(),
            keys,
        }
    }

    /// Only these columns of each row, as a value or a tuple:
    /// `.select((f.id, f.name)).all(&conn)?` is `Vec<(i64, String)>`.
    pub fn select<S: Selection<M>>(self, fields: S) -> Projected<M, S> {
        Projected {
            query: self.plain(),
            fields,
        }
    }
}
