//! How Rust field types map to column types and values, for every backend.

use std::num::{
    NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI8, NonZeroIsize, NonZeroU16, NonZeroU32, NonZeroU8,
};
use std::rc::Rc;
use std::sync::Arc;

use crate::value::{Value, ValueError};

/// The kind of column a field is stored in. Each backend names it in its own
/// DDL: SQLite by its four storage classes, PostgreSQL by its own types.
///
/// | variant | SQLite | PostgreSQL |
/// |---|---|---|
/// | `Boolean` | `INTEGER` | `BOOLEAN` |
/// | `SmallInt`, `Integer`, `BigInt` | `INTEGER` | `SMALLINT`, `INTEGER`, `BIGINT` |
/// | `Real`, `Double` | `REAL` | `REAL`, `DOUBLE PRECISION` |
/// | `Text` | `TEXT` | `TEXT` |
/// | `Blob` | `BLOB` | `BYTEA` |
/// | `Date`, `Time`, `Timestamp`, `TimestampTz` | `TEXT` (ISO 8601, as rusqlite writes it; a `TimestampTz` in UTC, so that text order is time order) | `DATE`, `TIME`, `TIMESTAMP`, `TIMESTAMPTZ` (microseconds: a finer time is an error on write) |
/// | `Uuid` | `BLOB` (16 bytes) | `UUID` |
/// | `Json` | `TEXT` | `JSONB` |
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `bool`.
    Boolean,
    /// 16-bit integers (`i8`, `i16`, `u8`).
    SmallInt,
    /// 32-bit integers (`i32`, `u16`).
    Integer,
    /// 64-bit integers (`i64`, `isize`, `u32`).
    BigInt,
    /// `f32`.
    Real,
    /// `f64`.
    Double,
    /// Strings.
    Text,
    /// Bytes.
    Blob,
    /// A calendar date.
    Date,
    /// A time of day.
    Time,
    /// A date and time without time zone.
    Timestamp,
    /// A point in time (date and time with a time zone or offset).
    TimestampTz,
    /// A UUID.
    Uuid,
    /// A JSON document.
    Json,
}

impl ColumnType {
    /// The declared type in SQLite's `CREATE TABLE`.
    pub const fn sqlite(self) -> &'static str {
        match self {
            ColumnType::Boolean
            | ColumnType::SmallInt
            | ColumnType::Integer
            | ColumnType::BigInt => "INTEGER",
            ColumnType::Real | ColumnType::Double => "REAL",
            ColumnType::Text
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Timestamp
            | ColumnType::TimestampTz
            | ColumnType::Json => "TEXT",
            ColumnType::Blob | ColumnType::Uuid => "BLOB",
        }
    }

    /// The type in PostgreSQL's `CREATE TABLE`.
    pub const fn postgres(self) -> &'static str {
        match self {
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::SmallInt => "SMALLINT",
            ColumnType::Integer => "INTEGER",
            ColumnType::BigInt => "BIGINT",
            ColumnType::Real => "REAL",
            ColumnType::Double => "DOUBLE PRECISION",
            ColumnType::Text => "TEXT",
            ColumnType::Blob => "BYTEA",
            ColumnType::Date => "DATE",
            ColumnType::Time => "TIME",
            ColumnType::Timestamp => "TIMESTAMP",
            ColumnType::TimestampTz => "TIMESTAMPTZ",
            ColumnType::Uuid => "UUID",
            ColumnType::Json => "JSONB",
        }
    }
}

/// A Rust type that can be a column: it has a [`ColumnType`] and converts to
/// and from a [`Value`]. The conversion is the same on every backend.
///
/// Implemented for the integer types (and their `NonZero` forms), `f32`, `f64`,
/// `bool`, `String`, `Vec<u8>`, [`ForeignKey`](crate::ForeignKey) and `Option`
/// of any of them; with the crate features `chrono`, `time`, `uuid` and
/// `serde_json`, for those crates' date, time, UUID and JSON types.
///
/// Reads are exact: a value that does not fit the field is an error, never a
/// wrapped, clamped or truncated value. An integer must fit the integer type;
/// a `bool` reads 0 or 1 only; an `f32` reads any REAL in its range (rounded to
/// the nearest `f32`) and an `f64` any INTEGER it represents exactly; `u64` is
/// not a column type, since neither SQLite nor PostgreSQL stores it.
///
/// Implement it for your own type by converting to one of the neutral kinds:
///
/// ```
/// use orm_core::{ColumnType, SqlType, Value, ValueError};
///
/// #[derive(Debug, PartialEq)]
/// struct Cents(i64);
///
/// impl SqlType for Cents {
///     const COLUMN_TYPE: ColumnType = ColumnType::BigInt;
///     fn to_value(&self) -> Value<'_> {
///         Value::Integer(self.0)
///     }
///     fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
///         i64::from_value(value).map(Cents)
///     }
/// }
/// assert_eq!(Cents::from_value(Value::Integer(250))?, Cents(250));
/// assert!(Cents::from_value(Value::Text("2.50")).is_err());
/// # Ok::<(), ValueError>(())
/// ```
pub trait SqlType: Sized {
    /// The column type in `CREATE TABLE`.
    const COLUMN_TYPE: ColumnType;
    /// Whether the column accepts NULL (true for `Option<_>` only).
    const NULLABLE: bool = false;

    /// This value, to bind as a parameter.
    fn to_value(&self) -> Value<'_>;

    /// Reads a stored value. A value that does not fit is an error.
    fn from_value(value: Value<'_>) -> Result<Self, ValueError>;
}

macro_rules! integers {
    ($($t:ty => $column:ident),+ $(,)?) => {$(
        impl SqlType for $t {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;
            #[inline]
    fn to_value(&self) -> Value<'_> {
                #[allow(clippy::cast_possible_wrap, clippy::unnecessary_cast)]
                Value::Integer(*self as i64)
            }
            #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
                match value {
                    Value::Integer(i) => <$t>::try_from(i)
                        .map_err(|_| ValueError::out_of_range(i, stringify!($t))),
                    other => Err(other.invalid_type("INTEGER")),
                }
            }
        }
    )+};
}

integers! {
    i8 => SmallInt, i16 => SmallInt, i32 => Integer, i64 => BigInt, isize => BigInt,
    u8 => SmallInt, u16 => Integer, u32 => BigInt,
}

macro_rules! non_zero {
    ($($t:ty => $inner:ty),+ $(,)?) => {$(
        impl SqlType for $t {
            const COLUMN_TYPE: ColumnType = <$inner as SqlType>::COLUMN_TYPE;
            #[inline]
    fn to_value(&self) -> Value<'_> {
                #[allow(clippy::cast_possible_wrap, clippy::unnecessary_cast)]
                Value::Integer(self.get() as i64)
            }
            #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
                <$t>::new(<$inner>::from_value(value)?)
                    .ok_or_else(|| ValueError::out_of_range(0, stringify!($t)))
            }
        }
    )+};
}

non_zero! {
    NonZeroI8 => i8, NonZeroI16 => i16, NonZeroI32 => i32, NonZeroI64 => i64,
    NonZeroIsize => isize, NonZeroU8 => u8, NonZeroU16 => u16, NonZeroU32 => u32,
}

impl SqlType for bool {
    const COLUMN_TYPE: ColumnType = ColumnType::Boolean;
    #[inline]
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
    #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
        match value {
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            Value::Integer(i) => Err(ValueError::out_of_range(i, "bool")),
            other => Err(other.invalid_type("INTEGER")),
        }
    }
}

impl SqlType for f64 {
    const COLUMN_TYPE: ColumnType = ColumnType::Double;
    #[inline]
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
    #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
        match value {
            Value::Real(r) => Ok(r),
            // SQLite stores a REAL with an integral value as an INTEGER when the
            // column has no REAL affinity; read it if it is exactly an f64.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            Value::Integer(i) if (i as f64) as i64 == i && i != i64::MAX => Ok(i as f64),
            Value::Integer(i) => Err(ValueError::out_of_range(i, "f64")),
            other => Err(other.invalid_type("REAL")),
        }
    }
}

impl SqlType for f32 {
    const COLUMN_TYPE: ColumnType = ColumnType::Real;
    #[inline]
    fn to_value(&self) -> Value<'_> {
        Value::Real(f64::from(*self))
    }
    #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
        let r = f64::from_value(value)?;
        #[allow(clippy::cast_possible_truncation)]
        let f = r as f32;
        if f.is_infinite() && r.is_finite() {
            return Err(ValueError::out_of_range(r, "f32"));
        }
        Ok(f)
    }
}

#[inline]
fn text(value: Value<'_>) -> Result<&str, ValueError> {
    match value {
        Value::Text(s) => Ok(s),
        other => Err(other.invalid_type("TEXT")),
    }
}

#[inline]
fn blob(value: Value<'_>) -> Result<&[u8], ValueError> {
    match value {
        Value::Blob(b) => Ok(b),
        other => Err(other.invalid_type("BLOB")),
    }
}

macro_rules! texts {
    ($($t:ty),+) => {$(
        impl SqlType for $t {
            const COLUMN_TYPE: ColumnType = ColumnType::Text;
            #[inline]
    fn to_value(&self) -> Value<'_> {
                Value::Text(self)
            }
            #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
                text(value).map(<$t>::from)
            }
        }
    )+};
}

texts!(String, Box<str>, Rc<str>, Arc<str>);

macro_rules! blobs {
    ($($t:ty),+) => {$(
        impl SqlType for $t {
            const COLUMN_TYPE: ColumnType = ColumnType::Blob;
            #[inline]
    fn to_value(&self) -> Value<'_> {
                Value::Blob(self)
            }
            #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
                blob(value).map(<$t>::from)
            }
        }
    )+};
}

blobs!(Vec<u8>, Box<[u8]>);

impl<T: SqlType> SqlType for Option<T> {
    const COLUMN_TYPE: ColumnType = T::COLUMN_TYPE;
    const NULLABLE: bool = true;
    #[inline]
    fn to_value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, T::to_value)
    }
    #[inline]
    fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Types from other crates that each backend stores its own way: SQLite as
/// rusqlite stores them, PostgreSQL in its native type. Their conversions are
/// the drivers' own (`backend/native.rs`), never rewritten here.
pub(crate) mod native {
    use std::fmt::Debug;
    use std::sync::Arc;

    use rusqlite::types::ToSqlOutput;

    /// A value of a type from another crate, bound by each backend's own
    /// conversion. Implemented by the crate for its feature types only.
    pub trait NativeValue: Debug + Send + Sync + 'static {
        /// The type's name, for messages.
        fn type_name(&self) -> &'static str;
        /// An owned copy, for a query to keep.
        fn to_arc(&self) -> Arc<dyn NativeValue>;
        /// The value as rusqlite binds it.
        fn to_sqlite(&self) -> rusqlite::Result<ToSqlOutput<'_>>;
        /// Whether SQLite stores it as a BLOB (a UUID).
        fn stores_as_blob_in_sqlite(&self) -> bool;
        /// The value as the `postgres` crate binds it into a parameter of type `ty`.
        #[cfg(feature = "postgres")]
        fn to_postgres(
            &self,
            ty: &postgres::types::Type,
            out: &mut bytes::BytesMut,
        ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_exact() {
        assert_eq!(u8::from_value(Value::Integer(255)).ok(), Some(255));
        assert!(u8::from_value(Value::Integer(256)).is_err());
        assert!(i32::from_value(Value::Integer(i64::from(i32::MIN) - 1)).is_err());
        assert!(bool::from_value(Value::Integer(2)).is_err());
        assert_eq!(bool::from_value(Value::Integer(1)).ok(), Some(true));
        assert!(f32::from_value(Value::Real(1e300)).is_err());
        assert_eq!(f32::from_value(Value::Real(0.5)).ok(), Some(0.5));
        assert_eq!(f64::from_value(Value::Integer(3)).ok(), Some(3.0));
        assert!(f64::from_value(Value::Integer((1 << 53) + 1)).is_err());
        assert!(NonZeroU8::from_value(Value::Integer(0)).is_err());
        assert!(String::from_value(Value::Integer(1)).is_err());
        assert_eq!(Option::<i64>::from_value(Value::Null).ok(), Some(None));
        let err = i64::from_value(Value::Null).unwrap_err();
        assert_eq!(err.to_string(), "expected INTEGER, found NULL");
    }
}
