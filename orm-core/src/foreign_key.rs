//! `ForeignKey<T>`: a typed reference to another model's row.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::{Model, SqlType};

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

impl<T: Model> ToSql for ForeignKey<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.key.to_sql()
    }
}

impl<T: Model> FromSql for ForeignKey<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        T::Key::column_result(value).map(Self::new)
    }
}

impl<T: Model> SqlType for ForeignKey<T> {
    const SQL_TYPE: &'static str = <T::Key as SqlType>::SQL_TYPE;
}

/// A field type that can carry `#[foreign_key]`: `ForeignKey<T>` or
/// `Option<ForeignKey<T>>`. Used by generated code.
///
/// ```
/// use orm_core::{ForeignKey, ForeignKeyField, Model};
/// # #[derive(Model)] struct Category { id: i64 }
/// let set: Option<ForeignKey<Category>> = Some(ForeignKey::new(4));
/// let unset: Option<ForeignKey<Category>> = None;
/// assert_eq!((set.target_key(), unset.target_key()), (Some(&4), None));
/// ```
pub trait ForeignKeyField: SqlType {
    /// The model the key points at.
    type Target: Model;
    /// What a forward load yields for one row: `T`, or `Option<T>` when nullable.
    type Loaded;
    /// The key, or `None` for NULL.
    fn target_key(&self) -> Option<&<Self::Target as Model>::Key>;
    /// The loaded value for a row found under this key.
    #[doc(hidden)]
    fn __found(target: Self::Target) -> Self::Loaded;
    /// The loaded value for NULL (`None` where NULL cannot occur).
    #[doc(hidden)]
    fn __null() -> Option<Self::Loaded>;
}

impl<T: Model> ForeignKeyField for ForeignKey<T> {
    type Target = T;
    type Loaded = T;
    fn target_key(&self) -> Option<&T::Key> {
        Some(&self.key)
    }
    fn __found(target: T) -> T {
        target
    }
    fn __null() -> Option<T> {
        None
    }
}

impl<T: Model> ForeignKeyField for Option<ForeignKey<T>> {
    type Target = T;
    type Loaded = Option<T>;
    fn target_key(&self) -> Option<&T::Key> {
        self.as_ref().map(ForeignKey::key)
    }
    fn __found(target: T) -> Option<T> {
        Some(target)
    }
    fn __null() -> Option<Option<T>> {
        Some(None)
    }
}
