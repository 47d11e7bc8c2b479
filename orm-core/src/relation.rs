//! The relation functions that generated code calls: reverse and forward
//! foreign keys and many-to-many through a junction model. Each is a thin
//! layer over [`loader::load`] and [`loader::count`].

use crate::backend::{Ctx, Exec};
use crate::db::{Database, Out, Plan as DbPlan};
use crate::error::{Error, Result};
use crate::foreign_key::{ForeignKeyField, Found};
use crate::loader::{self, Plan};
use crate::query::{Extras, Layout, Query, Relation};
use crate::statement::{Junction, KeyColumn, Shape, Table};
use crate::{guard, Model};

/// One `#[foreign_key]` field of a model, described for the loader. The derive
/// implements it on a hidden marker type per field.
pub trait ForeignKeyRelation: 'static {
    /// The model that has the field.
    type Child: Model;
    /// The field's type: `ForeignKey<P>` or `Option<ForeignKey<P>>`.
    type Field: ForeignKeyField + Found<<Self::Field as ForeignKeyField>::Target>;
    /// Index of the field's column in `Child::COLUMNS`.
    const COLUMN: usize;
    /// The field's name, the forward accessor.
    const FIELD: &'static str;
    /// The reverse accessor's name on the parent (`related_name`).
    const RELATED_NAME: &'static str;
    /// `Parent::prefetch_<related_name>`, for [`Error::LazyLoad`].
    const PREFETCH_REVERSE: &'static str;
    /// `Child::prefetch_<field>`, for [`Error::LazyLoad`].
    const PREFETCH_FORWARD: &'static str;
    /// The field's value in `child`.
    fn field(child: &Self::Child) -> &Self::Field;
}

/// The model a relation's foreign key points at.
pub type Parent<R> = <<R as ForeignKeyRelation>::Field as ForeignKeyField>::Target;
/// Each parent paired with its children, as the `prefetch_*` functions return.
type Pairs<P, C> = Vec<(P, Vec<C>)>;
type Loaded<R> = <<R as ForeignKeyRelation>::Field as Found<Parent<R>>>::Loaded;

/// A many-to-many relation through a junction model with two foreign keys,
/// seen from the target of `Near`.
pub trait ManyToMany: 'static {
    /// The junction's foreign key to the model that has the accessor.
    type Near: ForeignKeyRelation;
    /// The junction's foreign key to the models it yields.
    type Far: ForeignKeyRelation<Child = <Self::Near as ForeignKeyRelation>::Child>;
    /// The accessor's name (`many_to_many = "..."`).
    const NAME: &'static str;
    /// `Near::prefetch_<name>`, for [`Error::LazyLoad`].
    const PREFETCH: &'static str;
}

fn fk_column<R: ForeignKeyRelation>() -> &'static str {
    R::Child::COLUMNS[R::COLUMN].name()
}

fn key_owner<R: ForeignKeyRelation>() -> (&'static str, &'static str, &'static str) {
    (R::Child::NAME, R::Child::TABLE, fk_column::<R>())
}

/// A child's key for the loader: its foreign key's value.
fn reverse_key<R: ForeignKeyRelation>(child: &R::Child) -> Option<&<Parent<R> as Model>::Key> {
    R::field(child).target_key()
}

/// A row's key for the loader: its primary key.
fn own_key<M: Model>(row: &M) -> Option<&M::Key> {
    Some(row.primary_key())
}

/// The children of `parents` through `R` that `shape` selects.
fn reverse_plan<R: ForeignKeyRelation>(shape: &Shape) -> Plan<'_> {
    Plan {
        ctx: Ctx::of::<R::Child>(),
        table: Table::of::<R::Child>(),
        key: KeyColumn::Own(R::COLUMN),
        key_owner: key_owner::<R>(),
        shape,
        scan_sized_by: Some(Parent::<R>::TABLE),
    }
}

/// The children of each parent through `R` that `query` selects.
async fn reverse<R: ForeignKeyRelation, X: Extras<R::Child>, E: Exec>(
    conn: &E,
    parents: &[Parent<R>],
    query: &Query<R::Child, X>,
) -> Result<Vec<Vec<X::Row>>> {
    let plan = reverse_plan::<R>(&query.shape);
    let keys = parents.iter().map(|p| Some(p.primary_key()));
    let layout = Layout {
        extras: &query.shape.extras,
    };
    loader::load(
        conn,
        keys,
        &plan,
        |row| X::__read(row, &layout),
        Some(&|row: &X::Row| reverse_key::<R>(X::__model(row))),
        |row: &X::Row| X::__model(row).primary_key(),
    )
    .await
}

fn missing<R: ForeignKeyRelation>(key: Option<&<Parent<R> as Model>::Key>) -> Error {
    Error::MissingParent {
        model: R::Child::NAME,
        column: fk_column::<R>(),
        table: Parent::<R>::TABLE,
        key: key.map_or_else(|| "NULL".to_owned(), |k| format!("{k:?}")),
    }
}

/// What each child's key `R` points at.
async fn forward<R: ForeignKeyRelation, E: Exec>(
    conn: &E,
    children: &[R::Child],
) -> Result<Vec<Loaded<R>>> {
    let shape = Shape::default();
    let plan = Plan {
        ctx: Ctx::of::<Parent<R>>(),
        table: Table::of::<Parent<R>>(),
        key: KeyColumn::Own(Parent::<R>::PRIMARY_KEY),
        key_owner: (
            Parent::<R>::NAME,
            Parent::<R>::TABLE,
            Parent::<R>::primary_key_column(),
        ),
        shape: &shape,
        scan_sized_by: Some(Parent::<R>::TABLE),
    };
    let keys = children.iter().map(|c| R::field(c).target_key());
    let found = loader::load(
        conn,
        keys,
        &plan,
        Parent::<R>::from_row,
        Some(&own_key::<Parent<R>>),
        Model::primary_key,
    )
    .await?;
    children
        .iter()
        .zip(found)
        .map(|(child, mut found)| {
            let key = R::field(child).target_key();
            match (found.pop(), key) {
                (Some(parent), _) => Ok(<R::Field as Found<Parent<R>>>::found(parent)),
                (None, None) => {
                    <R::Field as Found<Parent<R>>>::null().ok_or_else(|| missing::<R>(None))
                }
                (None, Some(key)) => Err(missing::<R>(Some(key))),
            }
        })
        .collect()
}

type Junction_<M> = <<M as ManyToMany>::Near as ForeignKeyRelation>::Child;
type Far<M> = Parent<<M as ManyToMany>::Far>;

/// The junction table of a many-to-many relation.
pub(crate) fn junction<M: ManyToMany>() -> Junction {
    Junction {
        table: Junction_::<M>::TABLE,
        near: fk_column::<M::Near>(),
        far: fk_column::<M::Far>(),
    }
}

fn through_plan<M: ManyToMany>(shape: &Shape) -> Plan<'_> {
    Plan {
        ctx: Ctx::of::<Far<M>>(),
        table: Table::of::<Far<M>>(),
        key: KeyColumn::Through(junction::<M>()),
        key_owner: key_owner::<M::Near>(),
        shape,
        scan_sized_by: None,
    }
}

/// The far models of each model through the junction that `query` selects.
async fn through<M: ManyToMany, X: Extras<Far<M>>, E: Exec>(
    conn: &E,
    near: &[Parent<M::Near>],
    query: &Query<Far<M>, X>,
) -> Result<Vec<Vec<X::Row>>> {
    let plan = through_plan::<M>(&query.shape);
    let keys = near.iter().map(|p| Some(p.primary_key()));
    let layout = Layout {
        extras: &query.shape.extras,
    };
    // The key is the junction's column, not the far row's: read it from the row.
    loader::load(
        conn,
        keys,
        &plan,
        |row| X::__read(row, &layout),
        None,
        |row: &X::Row| X::__model(row).primary_key(),
    )
    .await
}

/// Declares a relation plan: a struct of its arguments, the body that runs
/// it on any connection, and the function generated code calls.
macro_rules! relation_plans {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $plan:ident <$($g:ident: $bound:path),*>($($arg:ident: $ty:ty),* $(,)?) -> $out:ty
        = |$conn:ident| $body:block
    )*) => {$(
        struct $plan<'a, $($g: $bound),*> {
            $($arg: $ty,)*
            _marker: std::marker::PhantomData<&'a ()>,
        }

        impl<'a, $($g: $bound),*> $plan<'a, $($g),*> {
            async fn run<E: Exec>(self, $conn: &E) -> Result<$out> {
                let $plan { $($arg,)* .. } = self;
                $body
            }
        }

        impl<'a, $($g: $bound),*> DbPlan for $plan<'a, $($g),*> {
            type Output = $out;
            crate::db::plan_methods!();
        }

        $(#[$doc])*
        pub fn $name<'a, $($g: $bound,)* D: Database + ?Sized + 'a>(
            db: &'a D,
            $($arg: $ty),*
        ) -> Out<'a, D, $out> {
            db.__run($plan::<$($g),*> { $($arg,)* _marker: std::marker::PhantomData })
        }
    )*};
}

relation_plans! {
    /// For each parent, its children through `R` that `query` selects, in the
    /// query's order (the children's key order without one); the query's limit
    /// and offset apply to each parent.
    fn load_reverse_with / LoadReverseWith<R: ForeignKeyRelation, X: Extras<R::Child>>(
        parents: &'a [Parent<R>],
        query: Query<R::Child, X>,
    ) -> Vec<Vec<X::Row>> = |conn| { reverse::<R, X, E>(conn, parents, &query).await }

    /// For each parent, its children through `R`, in the children's key order.
    fn load_reverse / LoadReverse<R: ForeignKeyRelation>(parents: &'a [Parent<R>]) -> Vec<Vec<R::Child>>
    = |conn| { reverse::<R, (), E>(conn, parents, &Query::new()).await }

    /// [`load_reverse_with`], each parent paired with its children.
    fn prefetch_reverse_with / PrefetchReverseWith<R: ForeignKeyRelation, X: Extras<R::Child>>(
        parents: Vec<Parent<R>>,
        query: Query<R::Child, X>,
    ) -> Pairs<Parent<R>, X::Row> = |conn| {
        let children = reverse::<R, X, E>(conn, &parents, &query).await?;
        Ok(parents.into_iter().zip(children).collect())
    }

    /// [`load_reverse`], each parent paired with its children.
    fn prefetch_reverse / PrefetchReverse<R: ForeignKeyRelation>(parents: Vec<Parent<R>>) -> Pairs<Parent<R>, R::Child>
    = |conn| {
        let children = reverse::<R, (), E>(conn, &parents, &Query::new()).await?;
        Ok(parents.into_iter().zip(children).collect())
    }

    /// For each parent, how many children through `R` the query selects.
    fn count_reverse_with / CountReverseWith<R: ForeignKeyRelation, X: Extras<R::Child>>(
        parents: &'a [Parent<R>],
        query: Query<R::Child, X>,
    ) -> Vec<u64> = |conn| {
        let plan = reverse_plan::<R>(&query.shape);
        loader::count(conn, parents.iter().map(|p| Some(p.primary_key())), &plan).await
    }

    /// For each parent, how many children it has through `R`.
    fn count_reverse / CountReverse<R: ForeignKeyRelation>(parents: &'a [Parent<R>]) -> Vec<u64> = |conn| {
        let query = Query::<R::Child>::new();
        let plan = reverse_plan::<R>(&query.shape);
        loader::count(conn, parents.iter().map(|p| Some(p.primary_key())), &plan).await
    }

    /// One parent's children: the reverse accessor.
    fn reverse_of / ReverseOf<R: ForeignKeyRelation>(parent: &'a Parent<R>) -> Vec<R::Child> = |conn| {
        guard::refuse_lazy(
            conn.identity(),
            Parent::<R>::NAME,
            R::RELATED_NAME,
            R::PREFETCH_REVERSE,
        )?;
        let mut all =
            reverse::<R, (), E>(conn, std::slice::from_ref(parent), &Query::new()).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// For each child, the row its foreign key `R` points at (`Option` for a
    /// nullable key). A non-null key without a row is [`Error::MissingParent`].
    fn load_forward / LoadForward<R: ForeignKeyRelation>(children: &'a [R::Child]) -> Vec<Loaded<R>>
    = |conn| { forward::<R, E>(conn, children).await }

    /// [`load_forward`], each child paired with what its key points at.
    fn prefetch_forward / PrefetchForward<R: ForeignKeyRelation>(children: Vec<R::Child>) -> Vec<(R::Child, Loaded<R>)>
    = |conn| {
        let parents = forward::<R, E>(conn, &children).await?;
        Ok(children.into_iter().zip(parents).collect())
    }

    /// What one child's key points at: the forward accessor. It loads through
    /// the same path as [`load_forward`], so the two always agree.
    fn forward_of / ForwardOf<R: ForeignKeyRelation>(child: &'a R::Child) -> Loaded<R> = |conn| {
        guard::refuse_lazy(conn.identity(), R::Child::NAME, R::FIELD, R::PREFETCH_FORWARD)?;
        let mut one = forward::<R, E>(conn, std::slice::from_ref(child)).await?;
        one.pop()
            .ok_or_else(|| missing::<R>(R::field(child).target_key()))
    }

    /// For each model, the far models joined to it through the junction that
    /// `query` selects, in the query's order (the far models' key order without
    /// one), once per junction row; the query's limit and offset apply to each.
    fn load_through_with / LoadThroughWith<M: ManyToMany, X: Extras<Far<M>>>(
        near: &'a [Parent<M::Near>],
        query: Query<Far<M>, X>,
    ) -> Vec<Vec<X::Row>> = |conn| { through::<M, X, E>(conn, near, &query).await }

    /// For each model, the far models joined to it through the junction, in the
    /// far models' key order (once per junction row).
    fn load_through / LoadThrough<M: ManyToMany>(near: &'a [Parent<M::Near>]) -> Vec<Vec<Far<M>>>
    = |conn| { through::<M, (), E>(conn, near, &Query::new()).await }

    /// [`load_through_with`], each model paired with its far models.
    fn prefetch_through_with / PrefetchThroughWith<M: ManyToMany, X: Extras<Far<M>>>(
        near: Vec<Parent<M::Near>>,
        query: Query<Far<M>, X>,
    ) -> Pairs<Parent<M::Near>, X::Row> = |conn| {
        let far = through::<M, X, E>(conn, &near, &query).await?;
        Ok(near.into_iter().zip(far).collect())
    }

    /// [`load_through`], each model paired with its far models.
    fn prefetch_through / PrefetchThrough<M: ManyToMany>(near: Vec<Parent<M::Near>>) -> Pairs<Parent<M::Near>, Far<M>>
    = |conn| {
        let far = through::<M, (), E>(conn, &near, &Query::new()).await?;
        Ok(near.into_iter().zip(far).collect())
    }

    /// For each model, how many far models (junction rows to an existing far
    /// row) the query selects.
    fn count_through_with / CountThroughWith<M: ManyToMany, X: Extras<Far<M>>>(
        near: &'a [Parent<M::Near>],
        query: Query<Far<M>, X>,
    ) -> Vec<u64> = |conn| {
        let plan = through_plan::<M>(&query.shape);
        loader::count(conn, near.iter().map(|p| Some(p.primary_key())), &plan).await
    }

    /// For each model, how many far models it is joined to.
    fn count_through / CountThrough<M: ManyToMany>(near: &'a [Parent<M::Near>]) -> Vec<u64> = |conn| {
        let query = Query::<Far<M>>::new();
        let plan = through_plan::<M>(&query.shape);
        loader::count(conn, near.iter().map(|p| Some(p.primary_key())), &plan).await
    }

    /// One model's far models: the many-to-many accessor.
    fn through_of / ThroughOf<M: ManyToMany>(near: &'a Parent<M::Near>) -> Vec<Far<M>> = |conn| {
        guard::refuse_lazy(conn.identity(), Parent::<M::Near>::NAME, M::NAME, M::PREFETCH)?;
        let mut all = through::<M, (), E>(conn, std::slice::from_ref(near), &Query::new()).await?;
        Ok(all.pop().unwrap_or_default())
    }
}

/// The relation constant of a reverse foreign key (`Category::PRODUCTS`).
pub const fn reverse_relation<R: ForeignKeyRelation>() -> Relation<Parent<R>, R::Child> {
    Relation::new(crate::query::reverse_via::<R>)
}

/// The relation constant of a many-to-many relation (`Issue::LABELS`).
pub const fn through_relation<M: ManyToMany>() -> Relation<Parent<M::Near>, Far<M>> {
    Relation::new(crate::query::through_via::<M>)
}
