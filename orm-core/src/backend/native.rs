//! Other crates' types (chrono, time, uuid, serde_json) as each driver
//! stores them: SQLite as rusqlite stores them, PostgreSQL in its native
//! type. Their conversions are the drivers' own, never rewritten here; the
//! neutral side of them is [`NativeValue`] (`types.rs`).

#![allow(unused_imports)] // which are used depends on the features

use std::sync::Arc;

use rusqlite::types::ToSqlOutput;

use crate::types::native::NativeValue;
use crate::value::{Value, ValueError};
use crate::{ColumnType, SqlType};

/// Reads a native type from a neutral value with rusqlite's `FromSql`
/// (PostgreSQL's own values are read by the `postgres` crate first).
#[allow(dead_code)] // unused when no feature that needs it is on
fn read<T>(value: Value<'_>, expected: &'static str) -> Result<T, ValueError>
where
    T: rusqlite::types::FromSql,
{
    let Some(sqlite) = crate::backend::sqlite::to_value_ref(value) else {
        return Err(value.invalid_type(expected));
    };
    T::column_result(sqlite).map_err(|e| crate::backend::sqlite::from_sql_error(e, value, expected))
}

/// A point in time with an offset goes to SQLite in UTC, in the text
/// rusqlite writes for a UTC time: one text per instant, whose order is
/// the instants' order, so that `lt`, `eq` and `order_by` compare
/// instants as PostgreSQL's `TIMESTAMPTZ` does. It reads back with offset
/// +00:00 (as from PostgreSQL): the same instant.
#[cfg(feature = "chrono")]
fn chrono_in_utc<Tz: chrono::TimeZone>(
    t: &chrono::DateTime<Tz>,
) -> rusqlite::Result<ToSqlOutput<'static>> {
    owned(rusqlite::ToSql::to_sql(&t.with_timezone(&chrono::Utc))?)
}

/// As [`chrono_in_utc`], for the `time` crate.
#[cfg(feature = "time")]
fn time_in_utc(t: &time::OffsetDateTime) -> rusqlite::Result<ToSqlOutput<'static>> {
    let utc = t.checked_to_offset(time::UtcOffset::UTC).ok_or_else(|| {
        rusqlite::Error::ToSqlConversionFailure(format!("{t} is out of range in UTC").into())
    })?;
    owned(rusqlite::ToSql::to_sql(&utc)?)
}

#[allow(dead_code)] // unused without the `chrono` and `time` features
fn owned(output: ToSqlOutput<'_>) -> rusqlite::Result<ToSqlOutput<'static>> {
    match output {
        ToSqlOutput::Borrowed(value) => Ok(ToSqlOutput::Owned(value.try_into()?)),
        ToSqlOutput::Owned(value) => Ok(ToSqlOutput::Owned(value)),
        other => Err(rusqlite::Error::ToSqlConversionFailure(
            format!("unexpected output for a time: {other:?}").into(),
        )),
    }
}

#[allow(unused_macros)]
macro_rules! natives {
    ($($t:ty => $column:ident $(in $stored:expr)?),+ $(,)?) => {$(
        impl NativeValue for $t {
            fn type_name(&self) -> &'static str {
                stringify!($t)
            }
            fn to_arc(&self) -> Arc<dyn NativeValue> {
                Arc::new(self.clone())
            }
            fn to_sqlite(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                natives!(@sqlite self $(, $stored)?)
            }
            fn stores_as_blob_in_sqlite(&self) -> bool {
                matches!(ColumnType::$column, ColumnType::Uuid)
            }
            #[cfg(feature = "postgres")]
            fn to_postgres(
                &self,
                ty: &postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                crate::backend::postgres::PgNative::write(self, ty, out)
            }
        }

        impl SqlType for $t {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;
            #[inline]
            fn to_value(&self) -> Value<'_> {
                Value::Native(self)
            }
            #[inline]
            fn from_value(value: Value<'_>) -> Result<Self, ValueError> {
                #[cfg(feature = "postgres")]
                if let Value::Postgres(ty, raw) = value {
                    return <$t as crate::backend::postgres::PgNative>::read(ty, raw);
                }
                read(value, stringify!($t))
            }
        }
    )+};
    (@sqlite $value:expr) => { rusqlite::ToSql::to_sql($value) };
    (@sqlite $value:expr, $stored:expr) => { $stored($value) };
}

#[cfg(feature = "chrono")]
natives! {
    chrono::NaiveDate => Date,
    chrono::NaiveTime => Time,
    chrono::NaiveDateTime => Timestamp,
    chrono::DateTime<chrono::Utc> => TimestampTz,
    chrono::DateTime<chrono::Local> => TimestampTz in chrono_in_utc,
    chrono::DateTime<chrono::FixedOffset> => TimestampTz in chrono_in_utc,
}

#[cfg(feature = "time")]
natives! {
    time::Date => Date,
    time::Time => Time,
    time::PrimitiveDateTime => Timestamp,
    time::OffsetDateTime => TimestampTz in time_in_utc,
    time::UtcDateTime => TimestampTz,
}

#[cfg(feature = "uuid")]
natives! { uuid::Uuid => Uuid }

#[cfg(feature = "serde_json")]
natives! { serde_json::Value => Json }
