//! PostgreSQL's values: the crate's neutral values written in the binary
//! format of a parameter's or a column's type, and read back from a row by
//! the kind of each column; the native types of the optional features.

use bytes::{BufMut, BytesMut};
use postgres::types::{FromSql, IsNull, ToSql, Type};
use postgres::Statement;

use super::BoxError;
use crate::backend::Param;
use crate::value::{Value, ValueError};

fn wrong_type(value: &Value<'_>, ty: &Type) -> BoxError {
    format!("cannot bind {} to a parameter of type {ty}", value.kind()).into()
}

fn out_of_range(value: impl std::fmt::Display, ty: &Type) -> BoxError {
    format!("{value} does not fit in a parameter of type {ty}").into()
}

/// Writes one neutral value into a parameter of type `ty`, converting where
/// the server's type differs from the neutral kind (an INTEGER into `int4`
/// or `bool`) and refusing what does not fit rather than wrapping it.
pub(super) fn write_value(
    value: Value<'_>,
    ty: &Type,
    out: &mut BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    match value {
        Value::Null => Ok(IsNull::Yes),
        Value::Integer(i) => match *ty {
            Type::INT8 => i.to_sql(ty, out),
            Type::INT4 => i32::try_from(i)
                .map_err(|_| out_of_range(i, ty))?
                .to_sql(ty, out),
            Type::INT2 => i16::try_from(i)
                .map_err(|_| out_of_range(i, ty))?
                .to_sql(ty, out),
            Type::BOOL => match i {
                0 => false.to_sql(ty, out),
                1 => true.to_sql(ty, out),
                _ => Err(out_of_range(i, ty)),
            },
            #[allow(clippy::cast_precision_loss)]
            Type::FLOAT8 => (i as f64).to_sql(ty, out),
            _ => Err(wrong_type(&value, ty)),
        },
        Value::Real(r) => match *ty {
            Type::FLOAT8 => r.to_sql(ty, out),
            #[allow(clippy::cast_possible_truncation)]
            Type::FLOAT4 => {
                let f = r as f32;
                if f.is_infinite() && r.is_finite() {
                    return Err(out_of_range(r, ty));
                }
                f.to_sql(ty, out)
            }
            _ => Err(wrong_type(&value, ty)),
        },
        Value::Text(s) => match *ty {
            // JSON text for a `json`/`jsonb` parameter, as a custom type may store it.
            Type::JSONB => {
                out.put_u8(1);
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            Type::JSON => {
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            _ => s.to_sql_checked(ty, out),
        },
        Value::Blob(b) => b.to_sql_checked(ty, out),
        Value::Native(native) => native.to_postgres(ty, out),
        Value::Postgres(own, raw) if own == ty => {
            out.put_slice(raw);
            Ok(IsNull::No)
        }
        Value::Postgres(..) => Err(wrong_type(&value, ty)),
    }
}

/// Writes values as one array parameter of type `ty` (`int8[]` for
/// `"category_id" = ANY($1)`), each element converted as [`write_value`] does.
fn write_array(
    values: &[Value<'_>],
    ty: &Type,
    out: &mut BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    let postgres::types::Kind::Array(member) = ty.kind() else {
        return Err(format!("cannot bind a list to a parameter of type {ty}").into());
    };
    let dimension = postgres_protocol::types::ArrayDimension {
        len: i32::try_from(values.len()).map_err(|_| out_of_range(values.len(), ty))?,
        lower_bound: 1,
    };
    postgres_protocol::types::array_to_sql(
        Some(dimension),
        member.oid(),
        values.iter(),
        |value, buf| match write_value(*value, member, buf)? {
            IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
            IsNull::No => Ok(postgres_protocol::IsNull::No),
        },
        out,
    )?;
    Ok(IsNull::No)
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self {
            Param::Value(value) => write_value(*value, ty, out),
            Param::Array(values) => write_array(values, ty, out),
            Param::Json(json) => write_value(Value::Text(json), ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column's bytes as the server sent them, whatever its type.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// How to read a column into a neutral value, worked out once per statement
/// from its type: comparing `Type`s, or asking one its OID, is a match over
/// every type PostgreSQL has, too slow to do for every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int2,
    Int4,
    Int8,
    Bool,
    Float4,
    Float8,
    Text,
    Bytea,
    /// Any other type: the server's bytes, for the field type's own conversion.
    Other,
}

impl Kind {
    fn of(ty: &Type) -> Kind {
        match ty.oid() {
            oid::INT2 => Kind::Int2,
            oid::INT4 => Kind::Int4,
            oid::INT8 => Kind::Int8,
            oid::BOOL => Kind::Bool,
            oid::FLOAT4 => Kind::Float4,
            oid::FLOAT8 => Kind::Float8,
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::UNKNOWN => Kind::Text,
            oid::BYTEA => Kind::Bytea,
            _ => Kind::Other,
        }
    }

    /// The kind of each column of a statement.
    pub(crate) fn of_columns(stmt: &Statement) -> Vec<Kind> {
        stmt.columns().iter().map(|c| Kind::of(c.type_())).collect()
    }
}

/// Column `index` of `row` as a neutral value: integers, floats, booleans,
/// text and bytes in their neutral kinds, anything else as the server's bytes
/// for the field type's own conversion. `kinds` says how to read each column
/// when the statement's columns are known; otherwise the type decides here.
pub(crate) fn value<'r>(
    row: &'r ::postgres::Row,
    kinds: Option<&[Kind]>,
    index: usize,
) -> Result<Value<'r>, ValueError> {
    use postgres_protocol::types as wire;
    let Raw(raw) = row
        .try_get::<_, Raw<'_>>(index)
        .map_err(|e| ValueError::Other(Box::new(e)))?;
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let ty = || row.columns()[index].type_();
    let kind = match kinds.and_then(|k| k.get(index)) {
        Some(&kind) => kind,
        None => Kind::of(ty()),
    };
    let e = ValueError::Other;
    // Decoded by the protocol crate's functions, which the `FromSql` impls call.
    Ok(match kind {
        Kind::Int2 => Value::Integer(wire::int2_from_sql(raw).map_err(e)?.into()),
        Kind::Int4 => Value::Integer(wire::int4_from_sql(raw).map_err(e)?.into()),
        Kind::Int8 => Value::Integer(wire::int8_from_sql(raw).map_err(e)?),
        Kind::Bool => Value::Integer(wire::bool_from_sql(raw).map_err(e)?.into()),
        Kind::Float4 => Value::Real(wire::float4_from_sql(raw).map_err(e)?.into()),
        Kind::Float8 => Value::Real(wire::float8_from_sql(raw).map_err(e)?),
        Kind::Text => Value::Text(wire::text_from_sql(raw).map_err(e)?),
        Kind::Bytea => Value::Blob(wire::bytea_from_sql(raw)),
        Kind::Other => Value::Postgres(ty(), raw),
    })
}

/// The OIDs of the types read into neutral values (`pg_type.oid`, fixed by
/// PostgreSQL for its built-in types).
mod oid {
    pub(super) const BOOL: u32 = 16;
    pub(super) const BYTEA: u32 = 17;
    pub(super) const NAME: u32 = 19;
    pub(super) const INT8: u32 = 20;
    pub(super) const INT2: u32 = 21;
    pub(super) const INT4: u32 = 23;
    pub(super) const TEXT: u32 = 25;
    pub(super) const FLOAT4: u32 = 700;
    pub(super) const FLOAT8: u32 = 701;
    pub(super) const UNKNOWN: u32 = 705;
    pub(super) const BPCHAR: u32 = 1042;
    pub(super) const VARCHAR: u32 = 1043;
}

/// How a native type (a date, a UUID, JSON) is written to and read from
/// PostgreSQL: with the `postgres` crate's own conversions.
#[cfg_attr(
    not(any(
        feature = "chrono",
        feature = "time",
        feature = "uuid",
        feature = "serde_json"
    )),
    allow(dead_code)
)]
pub(crate) trait PgNative: Sized {
    fn write(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError>;
    fn read(ty: &Type, raw: &[u8]) -> Result<Self, ValueError>;
}

/// Refuses a time with a fraction of a second finer than a microsecond:
/// PostgreSQL's `time` and `timestamp` types hold microseconds and would
/// silently drop the rest, as an integer column refuses a value it cannot
/// hold rather than wrap it.
#[allow(dead_code)] // unused without the `chrono` and `time` features
fn microseconds(nanosecond: u32, value: &dyn std::fmt::Debug) -> std::result::Result<(), BoxError> {
    if nanosecond.is_multiple_of(1_000) {
        Ok(())
    } else {
        Err(format!(
            "{value:?} has a fraction of a second finer than a microsecond, \
             which PostgreSQL cannot store: round it to microseconds first"
        )
        .into())
    }
}

#[allow(unused_macros)]
macro_rules! direct {
    ($($t:ty $(=> $nanosecond:expr)?),+ $(,)?) => {$(
        impl PgNative for $t {
            fn write(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
                $(microseconds($nanosecond(self), self)?;)?
                self.to_sql_checked(ty, out)
            }
            fn read(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                if !<$t as FromSql>::accepts(ty) {
                    return Err(ValueError::Other(
                        format!("cannot read a {ty} column as {}", stringify!($t)).into(),
                    ));
                }
                <$t as FromSql>::from_sql(ty, raw).map_err(ValueError::Other)
            }
        }
    )+};
}

#[cfg(feature = "chrono")]
direct!(
    chrono::NaiveDate,
    chrono::NaiveTime => chrono::Timelike::nanosecond,
    chrono::NaiveDateTime => chrono::Timelike::nanosecond,
    chrono::DateTime<chrono::Utc> => chrono::Timelike::nanosecond,
    chrono::DateTime<chrono::Local> => chrono::Timelike::nanosecond,
    chrono::DateTime<chrono::FixedOffset> => chrono::Timelike::nanosecond,
);

#[cfg(feature = "time")]
direct!(
    time::Date,
    time::Time => |t: &time::Time| t.nanosecond(),
    time::PrimitiveDateTime => |t: &time::PrimitiveDateTime| t.nanosecond(),
    time::OffsetDateTime => |t: &time::OffsetDateTime| t.nanosecond(),
);

// The `postgres` crate knows `OffsetDateTime`, not `UtcDateTime`: go through it.
#[cfg(feature = "time")]
impl PgNative for time::UtcDateTime {
    fn write(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        time::OffsetDateTime::from(*self).write(ty, out)
    }
    fn read(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        time::OffsetDateTime::read(ty, raw).map(time::OffsetDateTime::to_utc)
    }
}

#[cfg(feature = "uuid")]
direct!(uuid::Uuid);

#[cfg(feature = "serde_json")]
direct!(serde_json::Value);

#[cfg(test)]
mod tests {
    use super::oid;
    use postgres::types::Type;

    #[test]
    fn the_oids_are_postgres_own() {
        let known = [
            (oid::BOOL, Type::BOOL),
            (oid::BYTEA, Type::BYTEA),
            (oid::NAME, Type::NAME),
            (oid::INT8, Type::INT8),
            (oid::INT2, Type::INT2),
            (oid::INT4, Type::INT4),
            (oid::TEXT, Type::TEXT),
            (oid::FLOAT4, Type::FLOAT4),
            (oid::FLOAT8, Type::FLOAT8),
            (oid::UNKNOWN, Type::UNKNOWN),
            (oid::BPCHAR, Type::BPCHAR),
            (oid::VARCHAR, Type::VARCHAR),
        ];
        for (oid, ty) in known {
            assert_eq!(oid, ty.oid(), "{ty}");
        }
    }
}
