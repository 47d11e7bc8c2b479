//! How Rust field types map to SQLite column types.

use rusqlite::types::{FromSql, ToSql};

/// A Rust type that can be a column: it binds, reads back, and has a declared
/// SQLite type for `CREATE TABLE`.
///
/// Implemented for the integer types (and their `NonZero` forms), `f32`, `f64`,
/// `bool`, `String`, `Vec<u8>`, [`ForeignKey`](crate::ForeignKey) and `Option` of
/// any of them; with the crate features `chrono`, `time`, `uuid` and
/// `serde_json`, for those crates' date, time, UUID and JSON types, stored as
/// rusqlite stores them. Implement it for your own type (together with
/// rusqlite's `ToSql` and `FromSql`) to use it as a field:
///
/// ```
/// use orm_core::rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
///
/// struct Cents(i64);
/// impl ToSql for Cents {
///     fn to_sql(&self) -> orm_core::rusqlite::Result<ToSqlOutput<'_>> { self.0.to_sql() }
/// }
/// impl FromSql for Cents {
///     fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> { i64::column_result(v).map(Cents) }
/// }
/// impl orm_core::SqlType for Cents {
///     const SQL_TYPE: &'static str = "INTEGER";
/// }
/// ```
pub trait SqlType: ToSql + FromSql {
    /// The declared type in `CREATE TABLE`: `INTEGER`, `REAL`, `TEXT` or `BLOB`.
    const SQL_TYPE: &'static str;
    /// Whether the column accepts NULL (true for `Option<_>` only).
    const NULLABLE: bool = false;
}

macro_rules! sql_types {
    ($($sql:literal => $($t:ty),+;)+) => {
        $($(impl SqlType for $t {
            const SQL_TYPE: &'static str = $sql;
        })+)+
    };
}

sql_types! {
    "INTEGER" => i8, i16, i32, i64, isize, u8, u16, u32, bool;
    "INTEGER" => std::num::NonZeroI8, std::num::NonZeroI16, std::num::NonZeroI32,
        std::num::NonZeroI64, std::num::NonZeroIsize, std::num::NonZeroU8,
        std::num::NonZeroU16, std::num::NonZeroU32;
    "REAL" => f32, f64;
    "TEXT" => String, Box<str>, std::rc::Rc<str>, std::sync::Arc<str>;
    "BLOB" => Vec<u8>, Box<[u8]>;
}

impl<T: SqlType> SqlType for Option<T> {
    const SQL_TYPE: &'static str = T::SQL_TYPE;
    const NULLABLE: bool = true;
}

// Dates and times are stored as rusqlite stores them: ISO 8601 text.
#[cfg(feature = "chrono")]
sql_types! {
    "TEXT" => chrono::NaiveDate, chrono::NaiveTime, chrono::NaiveDateTime,
        chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Local>,
        chrono::DateTime<chrono::FixedOffset>;
}

#[cfg(feature = "time")]
sql_types! {
    "TEXT" => time::Date, time::Time, time::PrimitiveDateTime, time::OffsetDateTime,
        time::UtcDateTime;
}

// rusqlite stores a UUID as its 16 bytes.
#[cfg(feature = "uuid")]
sql_types! {
    "BLOB" => uuid::Uuid;
}

#[cfg(feature = "serde_json")]
sql_types! {
    "TEXT" => serde_json::Value;
}
