//! `ForeignKey<T>`: a typed reference to another model's row.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use crate::value::{Value, ValueError};
use crate::{ColumnType, Model, SqlType};

/// The primary key of a row of `T`, stored in a column named after the field
/// with `_id` appended (a field `category` is the column `category_id`).
///
/// The key is typed: a `ForeignKey<Category>` holds a `Category` key and is never
/// accepted where a `ForeignKey<Brand>` is expected. `Clone`, `Copy`, `Debug`,
/// `PartialEq`, `Eq` and `Hash` follow the key type and ask nothing of `T`.
///
/// ```
/// use orm_core::{ForeignKey, Model};
///
/// #[derive(Model)]
/// struct Category { id: i64, name: String }
///
/// let fk: ForeignKey<Category> = ForeignKey::new(7);
/// assert_eq!(*fk.key(), 7);
/// let cat = Category { id: 3, name: "Books".into() };
/// assert_eq!(ForeignKey::to(&cat), ForeignKey::new(3));
/// ```
pub struct ForeignKey<T: Model> {
    key: T::Key,
    target: PhantomData<fn() -> T>,
}

impl<T: Model> ForeignKey<T> {
    /// A reference to the row of `T` whose primary key is `key`.
    pub fn new(key: T::Key) -> Self {
        ForeignKey {
            key,
            target: PhantomData,
        }
    }

    /// A reference to `row`, by its primary key.
    pub fn to(row: &T) -> Self {
        Self::new(row.primary_key().clone())
    }

    /// The primary key of the referenced row.
    pub fn key(&self) -> &T::Key {
        &self.key
    }

    /// The key, by value.
    pub fn into_key(self) -> T::Key {
        self.key
    }
}

impl<T: Model> Clone for ForeignKey<T> {
    fn clone(&self) -> Self {
        Self::new(self.key.clone())
    }
}

impl<T: Model> Copy for ForeignKey<T> where T::Key: Copy {}

impl<T: Model> fmt::Debug for ForeignKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForeignKey<{}>({:?})", T::NAME, self.key)
    }
}

impl<T: Model> PartialEq for ForeignKey<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T: Model> Eq for ForeignKey<T> {}

impl<T: Model> Hash for ForeignKey<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl<T: Model> SqlType for ForeignKey<T> {
    const COLUMN_TYPE: ColumnType = <T::Key as SqlType>::COLUMN_TYPE;
    #[inline]
    fn to_value(&self) -> Value<'_> {
        self.key.to_value()
    }
    #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
        T::Key::from_value(value).map(Self::new)
    }
}

/// A field type that can carry `#[foreign_key]`: `ForeignKey<T>` or
/// `Option<ForeignKey<T>>`. Implemented by the crate for those two only.
///
/// ```
/// use orm_core::{ForeignKey, ForeignKeyField, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// let set: Option<ForeignKey<Category>> = Some(ForeignKey::new(4));
/// let unset: Option<ForeignKey<Category>> = None;
/// assert_eq!((set.target_key(), unset.target_key()), (Some(&4), None));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key: `join` and `has` need a field of type `ForeignKey<_>` or `Option<ForeignKey<_>>`",
    label = "not a foreign-key field"
)]
pub trait ForeignKeyField: SqlType {
    /// The model the key points at.
    type Target: Model;
    /// The key, or `None` for NULL.
    fn target_key(&self) -> Option<&<Self::Target as Model>::Key>;
}

/// What a forward load yields for one row of a foreign-key field to `T`: the
/// `T`, or `Option<T>` when the key is nullable. Reachable only through
/// `__private`: the crate implements it for the two foreign-key field types.
pub trait Found<T> {
    /// `T`, or `Option<T>` when nullable.
    type Loaded: Send + Sync;
    /// The loaded value for a row found under this key.
    fn found(target: T) -> Self::Loaded;
    /// The loaded value for NULL (`None` where NULL cannot occur).
    fn null() -> Option<Self::Loaded>;
}

impl<T: Model> ForeignKeyField for ForeignKey<T> {
    type Target = T;
    fn target_key(&self) -> Option<&T::Key> {
        Some(&self.key)
    }
}

impl<T: Model> Found<T> for ForeignKey<T> {
    type Loaded = T;
    fn found(target: T) -> T {
        target
    }
    fn null() -> Option<T> {
        None
    }
}

impl<T: Model> ForeignKeyField for Option<ForeignKey<T>> {
    type Target = T;
    fn target_key(&self) -> Option<&T::Key> {
        self.as_ref().map(ForeignKey::key)
    }
}

impl<T: Model> Found<T> for Option<ForeignKey<T>> {
    type Loaded = Option<T>;
    fn found(target: T) -> Option<T> {
        Some(target)
    }
    fn null() -> Option<Option<T>> {
        Some(None)
    }
}
