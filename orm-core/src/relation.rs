//! The relation functions that generated code calls: reverse and forward
//! foreign keys and many-to-many through a junction model. Each is a thin
//! layer over [`loader::load`].

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::foreign_key::ForeignKeyField;
use crate::loader::{self, Query, Source};
use crate::{guard, sql, Model};

/// One `#[foreign_key]` field of a model, described for the loader. The derive
/// implements it on a hidden marker type per field.
pub trait ForeignKeyRelation: 'static {
    /// The model that has the field.
    type Child: Model;
    /// The field's type: `ForeignKey<P>` or `Option<ForeignKey<P>>`.
    type Field: ForeignKeyField;
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
type Loaded<R> = <<R as ForeignKeyRelation>::Field as ForeignKeyField>::Loaded;

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

/// For each parent, its children through `R`, in the children's key order.
pub fn load_reverse<R: ForeignKeyRelation>(
    conn: &Connection,
    parents: &[Parent<R>],
) -> Result<Vec<Vec<R::Child>>> {
    let source = Source {
        model: R::Child::NAME,
        table: R::Child::TABLE,
        key_index: R::COLUMN,
        key_column: fk_column::<R>(),
        query: Query::Table {
            columns: R::Child::COLUMNS,
            sized_by: Parent::<R>::TABLE,
        },
    };
    let keys = parents.iter().map(|p| Some(p.primary_key()));
    loader::load(conn, keys, &source, R::Child::from_row, Model::primary_key)
}

/// [`load_reverse`], each parent paired with its children.
pub fn prefetch_reverse<R: ForeignKeyRelation>(
    conn: &Connection,
    parents: Vec<Parent<R>>,
) -> Result<Pairs<Parent<R>, R::Child>> {
    let children = load_reverse::<R>(conn, &parents)?;
    Ok(parents.into_iter().zip(children).collect())
}

/// One parent's children: the reverse accessor.
pub fn reverse_of<R: ForeignKeyRelation>(
    conn: &Connection,
    parent: &Parent<R>,
) -> Result<Vec<R::Child>> {
    guard::refuse_lazy(
        conn,
        Parent::<R>::NAME,
        R::RELATED_NAME,
        R::PREFETCH_REVERSE,
    )?;
    let mut all = load_reverse::<R>(conn, std::slice::from_ref(parent))?;
    Ok(all.pop().unwrap_or_default())
}

fn missing<R: ForeignKeyRelation>(key: Option<&<Parent<R> as Model>::Key>) -> Error {
    Error::MissingParent {
        model: R::Child::NAME,
        column: fk_column::<R>(),
        table: Parent::<R>::TABLE,
        key: key.map_or_else(|| "NULL".to_owned(), |k| format!("{k:?}")),
    }
}

/// For each child, the row its foreign key `R` points at (`Option` for a
/// nullable key). A non-null key without a row is [`Error::MissingParent`].
pub fn load_forward<R: ForeignKeyRelation>(
    conn: &Connection,
    children: &[R::Child],
) -> Result<Vec<Loaded<R>>> {
    let source = Source {
        model: Parent::<R>::NAME,
        table: Parent::<R>::TABLE,
        key_index: Parent::<R>::PRIMARY_KEY,
        key_column: Parent::<R>::primary_key_column(),
        query: Query::Table {
            columns: Parent::<R>::COLUMNS,
            sized_by: Parent::<R>::TABLE,
        },
    };
    let keys = children.iter().map(|c| R::field(c).target_key());
    let found = loader::load(
        conn,
        keys,
        &source,
        Parent::<R>::from_row,
        Model::primary_key,
    )?;
    children
        .iter()
        .zip(found)
        .map(|(child, mut found)| {
            let key = R::field(child).target_key();
            match (found.pop(), key) {
                (Some(parent), _) => Ok(R::Field::__found(parent)),
                (None, None) => R::Field::__null().ok_or_else(|| missing::<R>(None)),
                (None, Some(key)) => Err(missing::<R>(Some(key))),
            }
        })
        .collect()
}

/// [`load_forward`], each child paired with what its key points at.
pub fn prefetch_forward<R: ForeignKeyRelation>(
    conn: &Connection,
    children: Vec<R::Child>,
) -> Result<Vec<(R::Child, Loaded<R>)>> {
    let parents = load_forward::<R>(conn, &children)?;
    Ok(children.into_iter().zip(parents).collect())
}

/// What one child's key points at: the forward accessor.
pub fn forward_of<R: ForeignKeyRelation>(conn: &Connection, child: &R::Child) -> Result<Loaded<R>> {
    guard::refuse_lazy(conn, R::Child::NAME, R::FIELD, R::PREFETCH_FORWARD)?;
    match R::field(child).target_key() {
        None => R::Field::__null().ok_or_else(|| missing::<R>(None)),
        Some(key) => match Parent::<R>::get(conn, key.clone())? {
            Some(parent) => Ok(R::Field::__found(parent)),
            None => Err(missing::<R>(Some(key))),
        },
    }
}

/// For each model, the far models joined to it through the junction, in the
/// far models' key order (once per junction row).
pub fn load_through<M: ManyToMany>(
    conn: &Connection,
    near: &[Parent<M::Near>],
) -> Result<Vec<Vec<Parent<M::Far>>>> {
    type Junction<M> = <<M as ManyToMany>::Near as ForeignKeyRelation>::Child;
    type Far<M> = Parent<<M as ManyToMany>::Far>;
    let junction = sql::Junction {
        table: Junction::<M>::TABLE,
        near: fk_column::<M::Near>(),
        far: fk_column::<M::Far>(),
    };
    let sql_for = |n| {
        let far_key = Far::<M>::primary_key_column();
        sql::select_through(Far::<M>::TABLE, Far::<M>::COLUMNS, far_key, &junction, n)
    };
    let source = Source {
        model: Junction::<M>::NAME,
        table: Junction::<M>::TABLE,
        key_index: Far::<M>::COLUMNS.len(),
        key_column: junction.near,
        query: Query::InList(&sql_for),
    };
    let keys = near.iter().map(|p| Some(p.primary_key()));
    loader::load(conn, keys, &source, Far::<M>::from_row, Model::primary_key)
}

/// [`load_through`], each model paired with its far models.
#[allow(clippy::type_complexity)] // two associated-type projections, nothing to factor
pub fn prefetch_through<M: ManyToMany>(
    conn: &Connection,
    near: Vec<Parent<M::Near>>,
) -> Result<Pairs<Parent<M::Near>, Parent<M::Far>>> {
    let far = load_through::<M>(conn, &near)?;
    Ok(near.into_iter().zip(far).collect())
}

/// One model's far models: the many-to-many accessor.
pub fn through_of<M: ManyToMany>(
    conn: &Connection,
    near: &Parent<M::Near>,
) -> Result<Vec<Parent<M::Far>>> {
    guard::refuse_lazy(conn, Parent::<M::Near>::NAME, M::NAME, M::PREFETCH)?;
    let mut all = load_through::<M>(conn, std::slice::from_ref(near))?;
    Ok(all.pop().unwrap_or_default())
}
