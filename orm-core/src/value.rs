//! Values as they cross between Rust fields and a database, the same for
//! every backend.

use std::fmt;
use std::sync::Arc;

/// One column value, borrowed from a field (when binding) or from a row
/// (when reading). [`SqlType`](crate::SqlType) converts a field's type to and
/// from it, so one implementation serves every backend.
///
/// ```
/// use orm_core::Value;
/// assert_eq!(Value::Integer(3), Value::Integer(3));
/// assert_eq!(Value::Text("a").kind(), "TEXT");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer; also booleans (0 and 1).
    Integer(i64),
    /// A double-precision float.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
    /// A type that each backend stores its own way (dates, UUIDs, JSON).
    #[doc(hidden)]
    Native(&'a dyn crate::__private::NativeValue),
    /// A PostgreSQL value of a type without a neutral form, as the server sent it.
    #[doc(hidden)]
    #[cfg(feature = "postgres")]
    Postgres(&'a postgres::types::Type, &'a [u8]),
}

impl Value<'_> {
    /// The name of this value's kind, for messages: `NULL`, `INTEGER`, `REAL`,
    /// `TEXT`, `BLOB`, or the native type's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Blob(_) => "BLOB",
            Value::Native(n) => n.type_name(),
            #[cfg(feature = "postgres")]
            Value::Postgres(..) => "a PostgreSQL value",
        }
    }

    /// The error for a value of the wrong kind.
    pub fn invalid_type(&self, expected: &'static str) -> ValueError {
        ValueError::InvalidType {
            expected,
            found: self.kind(),
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r:?}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Blob(b) => write!(f, "x'{}'", hex(b)),
            Value::Native(n) => fmt::Debug::fmt(n, f),
            #[cfg(feature = "postgres")]
            Value::Postgres(ty, raw) => write!(f, "{ty} x'{}'", hex(raw)),
        }
    }
}

impl PartialEq for Value<'_> {
    /// Values of the same kind with the same content. Native values never
    /// compare equal: compare the Rust values instead.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Blob(a), Value::Blob(b)) => a == b,
            _ => false,
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Why a stored value cannot be read into a field, or a field's value cannot
/// be stored.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The value is of another kind than the field reads (TEXT for an `f64`).
    #[error("expected {expected}, found {found}")]
    InvalidType {
        /// What the field reads.
        expected: &'static str,
        /// What was stored.
        found: &'static str,
    },
    /// The value is of the right kind but does not fit the field's type
    /// (300 for a `u8`, 2 for a `bool`, 1e300 for an `f32`).
    #[error("{value} does not fit in {target}")]
    OutOfRange {
        /// The value, as text.
        value: String,
        /// The field's type.
        target: &'static str,
    },
    /// Text that is not UTF-8.
    #[error("text is not valid UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// Anything else, from a type's own conversion.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl ValueError {
    /// `value` does not fit in `target`.
    pub fn out_of_range(value: impl fmt::Display, target: &'static str) -> Self {
        ValueError::OutOfRange {
            value: value.to_string(),
            target,
        }
    }
}

/// A value owned by a query: what a filter compares with, or an assignment
/// stores. Converted from a field type's [`Value`] when the query is built.
/// Not public API.
#[doc(hidden)]
#[derive(Clone)]
pub enum Owned {
    /// NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(Box<str>),
    /// Bytes.
    Blob(Box<[u8]>),
    /// A value of a type from another crate.
    Native(Arc<dyn crate::__private::NativeValue>),
}

impl Owned {
    pub(crate) fn from_value(value: Value<'_>) -> Self {
        match value {
            Value::Null => Owned::Null,
            Value::Integer(i) => Owned::Integer(i),
            Value::Real(r) => Owned::Real(r),
            Value::Text(s) => Owned::Text(s.into()),
            Value::Blob(b) => Owned::Blob(b.into()),
            Value::Native(n) => Owned::Native(n.to_arc()),
            // Only rows hold these; a field's `to_value` never returns one.
            #[cfg(feature = "postgres")]
            Value::Postgres(_, raw) => Owned::Blob(raw.into()),
        }
    }

    pub(crate) fn as_value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Integer(i) => Value::Integer(*i),
            Owned::Real(r) => Value::Real(*r),
            Owned::Text(s) => Value::Text(s),
            Owned::Blob(b) => Value::Blob(b),
            Owned::Native(n) => Value::Native(&**n),
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Owned::Null)
    }

    pub(crate) fn is_nan(&self) -> bool {
        matches!(self, Owned::Real(r) if r.is_nan())
    }
}

impl fmt::Debug for Owned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_value(), f)
    }
}
