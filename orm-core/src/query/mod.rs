//! Typed queries: filter, order, window, count and write the rows of a model.

mod aggregate;
mod field;
mod relate;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

pub use aggregate::{
    AggList, AggValue, Aggregate, Aggregates, Aggregation, GroupKeys, Grouped, GroupedAggregation,
    Numeric, Ordered, Projected, Selection,
};
pub use field::{
    Assignable, Assignment, Condition, Field, NullableColumn, Order, Plain, PrimaryKey, TextColumn,
    ValueFor,
};
pub(crate) use relate::{reverse_via, through_via};
pub use relate::{
    Annotated, Annotation, Annotations, AnnotationsOf, Extras, Joined, Layout, Part, Push,
    RelAggList, Related, Relation,
};

use crate::db::{Database, Mode, Out};
use crate::exec;
use crate::foreign_key::{ForeignKeyField, Found};
use crate::statement::{Extra, Join, Projection, Shape, Table};
use crate::Model;

/// Seals the query layer's traits: each is implemented by the crate only.
pub(crate) mod sealed {
    pub trait Extras {}
    pub trait Part {}
    pub trait Annotations {}
    pub trait Aggregates {}
    pub trait AggValue {}
    pub trait GroupKeys {}
    pub trait Selection {}
    pub trait Params {}
    pub trait Bind {}
}

/// A query of the rows of model `M`: start one with [`Model::query`], narrow it
/// with [`filter`](Query::filter), order it with [`order_by`](Query::order_by),
/// window it with [`limit`](Query::limit) and [`offset`](Query::offset), then
/// run it with [`all`](Query::all), [`first`](Query::first),
/// [`count`](Query::count), [`exists`](Query::exists),
/// [`update`](Query::update) or [`delete`](Query::delete). The same query, given
/// to a generated `prefetch_<relation>_with` function, selects each parent's
/// children, and its limit and offset then apply per parent.
///
/// Rows come in the `order_by` order, then in primary-key order, so results
/// are deterministic. Every value is bound as a parameter.
///
/// ```
/// use orm_core::rusqlite::Connection;
/// use orm_core::Model;
///
/// #[derive(Model, Debug)]
/// struct Product { id: i64, name: String, price: f64, note: Option<String> }
///
/// let conn = Connection::open_in_memory()?;
/// Product::create_table(&conn)?;
/// for (id, name, price) in [(1, "Dune", 9.5), (2, "Dust", 4.0), (3, "Go board", 40.0)] {
///     Product { id, name: name.into(), price, note: None }.insert(&conn)?;
/// }
/// let f = Product::fields();
/// let cheap: Vec<Product> = Product::query()
///     .filter(f.price.lt(10.0).and(f.name.like("D%")))
///     .order_by(f.price.desc())
///     .all(&conn)?;
/// assert_eq!(cheap.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
/// assert_eq!(Product::query().filter(f.note.is_null()).count(&conn)?, 3);
///
/// let changed = Product::query().filter(f.price.gt(20.0)).update(&conn, [f.price.set(19.0)])?;
/// assert_eq!(changed, 1);
/// assert_eq!(Product::query().filter(f.name.contains("us")).delete(&conn)?, 1);
/// # Ok::<(), orm_core::Error>(())
/// ```
///
/// [`join`](Query::join) reads the row a foreign key points at in the same
/// statement (Django's `select_related`), [`annotate`](Query::annotate)
/// adds per-row aggregates of a relation; each turns the rows into tuples
/// (`(Product, Category)`, `(Category, u64)`), and neither changes which
/// rows, in which order. [`aggregate`](Query::aggregate),
/// [`group_by`](Query::group_by) and [`select`](Query::select) read
/// aggregates and columns instead of rows. `X` lists the parts joins and
/// annotations add (see [`Extras`]); a plain query has none.
pub struct Query<M, X = ()> {
    pub(crate) shape: Shape,
    model: PhantomData<fn() -> (M, X)>,
}

impl<M, X> Clone for Query<M, X> {
    fn clone(&self) -> Self {
        Query {
            shape: self.shape.clone(),
            model: PhantomData,
        }
    }
}

impl<M: Model, X> fmt::Debug for Query<M, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("model", &M::NAME)
            .field("filter", &self.shape.filter)
            .field("order", &self.shape.order)
            .field("limit", &self.shape.limit)
            .field("offset", &self.shape.offset)
            .field("extras", &self.shape.extras)
            .finish()
    }
}

impl<M: Model> Default for Query<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Query<M> {
    /// Every row, in primary-key order.
    pub fn new() -> Self {
        Query {
            shape: Shape::default(),
            model: PhantomData,
        }
    }
}

impl<M: Model, X> Query<M, X> {
    /// The same rows, without joins or annotations.
    pub(crate) fn plain(self) -> Query<M> {
        let mut shape = self.shape;
        shape.extras.clear();
        Query {
            shape,
            model: PhantomData,
        }
    }

    fn with_extra<Y>(mut self, extra: Extra) -> Query<M, Y> {
        self.shape.extras.push(extra);
        Query {
            shape: self.shape,
            model: PhantomData,
        }
    }

    /// Also reads the row the foreign key `field` points at, in the same
    /// statement (a `LEFT JOIN`): each row becomes `(M, P)` for a
    /// `ForeignKey<P>` field and `(M, Option<P>)` for an
    /// `Option<ForeignKey<P>>` one (`None` for NULL); joins add up flat,
    /// `(M, P1, P2)`. The rows, their order, limit and offset are those of
    /// the query without the join. A non-NULL key whose row does not exist
    /// is [`Error::MissingParent`](crate::Error::MissingParent), as for the
    /// generated `prefetch_<field>`: no row is silently dropped.
    ///
    /// ```
    /// # use orm_core::{ForeignKey, Model};
    /// # #[derive(Model, Debug)] struct Category { id: i64, name: String }
    /// # #[derive(Model, Debug)] struct Product { id: i64, price: f64, #[foreign_key(related_name = "products")] category: ForeignKey<Category> }
    /// # let conn = orm_core::rusqlite::Connection::open_in_memory()?;
    /// # Category::create_table(&conn)?; Product::create_table(&conn)?;
    /// # Category { id: 1, name: "Books".into() }.insert(&conn)?;
    /// # Product { id: 1, price: 9.5, category: ForeignKey::new(1) }.insert(&conn)?;
    /// let p = Product::fields();
    /// let rows: Vec<(Product, Category)> =
    ///     Product::query().filter(p.price.lt(10.0)).join(p.category).all(&conn)?;
    /// assert_eq!(rows[0].1.name, "Books");
    /// # Ok::<(), orm_core::Error>(())
    /// ```
    #[must_use]
    pub fn join<F, K>(self, field: Field<M, F, K>) -> Query<M, <X as Push<Joined<F>>>::Out>
    where
        F: ForeignKeyField + Found<<F as ForeignKeyField>::Target>,
        X: Push<Joined<F>>,
    {
        self.with_extra(Extra::Join(Join {
            column: field.index(),
            table: Table::of::<F::Target>(),
        }))
    }

    /// Also reads per-row aggregates of a relation (an [`Annotation`], or a
    /// tuple of them), in the same statement: each row becomes
    /// `(M, u64)` for `Category::PRODUCTS.count()`, `(M, (u64, Option<f64>))`
    /// for a pair. A count of no row is 0, the other aggregates of no row
    /// `None`.
    #[must_use]
    pub fn annotate<A>(self, annotations: A) -> Query<M, <X as Push<Annotated<A>>>::Out>
    where
        A: Annotations<M>,
        X: Push<Annotated<A>>,
    {
        let mut query = self;
        for agg in annotations.__aggs().0 {
            query.shape.extras.push(Extra::Agg(agg));
        }
        Query {
            shape: query.shape,
            model: PhantomData,
        }
    }

    /// Keeps the rows matching `condition`, as well as every earlier filter.
    #[must_use]
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.shape.filter = Some(match self.shape.filter.take() {
            Some(filter) => filter.and(condition.expr),
            None => condition.expr,
        });
        self
    }

    /// Orders by `order`, after any earlier `order_by`; the primary key always
    /// breaks ties last.
    #[must_use]
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.shape.order.push(order.term);
        self
    }

    /// At most `n` rows (per parent in a `prefetch_*_with` function).
    #[must_use]
    pub fn limit(mut self, n: u64) -> Self {
        self.shape.limit = Some(n);
        self
    }

    /// Skips the first `n` rows (per parent in a `prefetch_*_with` function).
    #[must_use]
    pub fn offset(mut self, n: u64) -> Self {
        self.shape.offset = n;
        self
    }

    /// The rows, in order.
    pub fn all<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Vec<X::Row>>
    where
        X: Extras<M>,
    {
        db.__run(exec::AllRows::<M, X> {
            shape: Cow::Borrowed(&self.shape),
            model: PhantomData,
        })
    }

    /// The first row, if any.
    pub fn first<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, Option<X::Row>>
    where
        X: Extras<M>,
    {
        let mut shape = self.shape.clone();
        shape.limit = Some(shape.limit.map_or(1, |n| n.min(1)));
        let rows = db.__run(exec::AllRows::<M, X> {
            shape: Cow::Owned(shape),
            model: PhantomData,
        });
        D::Mode::__then(rows, |rows| Ok(rows.into_iter().next()))
    }

    /// How many rows the query selects (within its limit and offset).
    pub fn count<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, u64> {
        let n = db.__run(exec::Number::<M> {
            shape: &self.shape,
            projection: Projection::Count,
            model: PhantomData,
        });
        D::Mode::__then(n, |n| Ok(u64::try_from(n).unwrap_or(0)))
    }

    /// Whether the query selects any row.
    pub fn exists<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, bool> {
        let n = db.__run(exec::Number::<M> {
            shape: &self.shape,
            projection: Projection::Exists,
            model: PhantomData,
        });
        D::Mode::__then(n, |n| Ok(n > 0))
    }

    /// Sets columns of every selected row; how many rows changed. With a
    /// limit or an offset, the rows the window keeps, in the query's order.
    /// No assignment changes nothing and runs no statement.
    pub fn update<'a, D: Database + ?Sized + 'a>(
        &'a self,
        db: &'a D,
        assignments: impl IntoIterator<Item = Assignment<M>>,
    ) -> Out<'a, D, usize> {
        let assignments: Vec<_> = assignments
            .into_iter()
            .map(|a| (a.column, a.value))
            .collect();
        if assignments.is_empty() {
            return D::Mode::__ready(Ok(0));
        }
        let changed = db.__run(exec::WriteMany::<M> {
            shape: &self.shape,
            assignments: Some(assignments),
            model: PhantomData,
        });
        D::Mode::__then(changed, |n| Ok(usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// Deletes every selected row; how many there were.
    pub fn delete<'a, D: Database + ?Sized + 'a>(&'a self, db: &'a D) -> Out<'a, D, usize> {
        let changed = db.__run(exec::WriteMany::<M> {
            shape: &self.shape,
            assignments: None,
            model: PhantomData,
        });
        D::Mode::__then(changed, |n| Ok(usize::try_from(n).unwrap_or(usize::MAX)))
    }
}
