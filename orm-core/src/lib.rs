//! Django's `prefetch_related` for SQLite and PostgreSQL, checked by the compiler.
//!
//! Declare a relation once, on the child, with `#[foreign_key]`; the derive
//! generates typed functions on both sides, and each loads a whole batch in
//! one query per relation instead of one query per row:
//!
//! ```
//! use orm_core::rusqlite::Connection;
//! use orm_core::{ForeignKey, Model};
//!
//! #[derive(Model, Debug)]
//! struct Category {
//!     id: i64,
//!     name: String,
//! }
//!
//! #[derive(Model, Debug)]
//! struct Product {
//!     id: i64,
//!     name: String,
//!     #[foreign_key(related_name = "products")]
//!     category: ForeignKey<Category>,
//! }
//!
//! let conn = Connection::open_in_memory()?;
//! Category::create_table(&conn)?;
//! Product::create_table(&conn)?;
//! Category { id: 1, name: "Books".into() }.insert(&conn)?;
//! Product { id: 1, name: "Dune".into(), category: ForeignKey::new(1) }.insert(&conn)?;
//!
//! let cats = Category::all(&conn)?;
//! for (cat, products) in Category::prefetch_products(&conn, cats)? {
//!     println!("{}: {} products", cat.name, products.len());
//! }
//! # Ok::<(), orm_core::Error>(())
//! ```
//!
//! # What the derive generates
//!
//! For a model `C` with a field `f: ForeignKey<P>` (or `Option<ForeignKey<P>>`)
//! and `#[foreign_key(related_name = "r")]` (default: `C` in snake_case + `_set`):
//!
//! | function | does |
//! |---|---|
//! | `P::prefetch_r(&conn, Vec<P>) -> Result<Vec<(P, Vec<C>)>>` | every parent with its children, one query |
//! | `P::load_r(&conn, &[P]) -> Result<Vec<Vec<C>>>` | the same, borrowing the parents |
//! | `p.r(&conn) -> Result<Vec<C>>` | one parent's children |
//! | `C::prefetch_f(&conn, Vec<C>) -> Result<Vec<(C, P)>>` | every child with its parent (`Option<P>` if nullable), one query |
//! | `C::load_f(&conn, &[C]) -> Result<Vec<P>>` | the same, borrowing the children |
//! | `c.f(&conn) -> Result<P>` | one child's parent |
//! | `P::prefetch_r_with(&conn, Vec<P>, C::query()...)`, `P::load_r_with` | the same, filtered and ordered by the query, its `limit`/`offset` per parent |
//! | `P::count_r(&conn, &[P])`, `P::count_r_with(&conn, &[P], query)` | how many children each parent has, one query |
//!
//! and for `many_to_many = "m"` on a junction model's foreign key to `P`, whose
//! other foreign key points at `Q`: `P::prefetch_m`, `P::load_m`, `p.m(&conn)`
//! and their `_with` and `count_` forms, yielding `Q`s, in one query through
//! the junction.
//!
//! Every function takes `conn: &impl` [`Database`]: a sync [`Db`] (a rusqlite
//! `Connection`, `Transaction` or `Savepoint`, a `Postgres` connection
//! (feature `postgres`), [`AnyDb`], or a pooled connection (feature `r2d2`)),
//! on which it returns `Result<T>` as the table says; or, with the `tokio`
//! feature, an async connection (`AsyncSqlite`, `AsyncPostgres`,
//! `AsyncAnyDb`, a pooled one), on which the **same** function returns a
//! `Send` future of `Result<T>` to `.await`. The connection's [`Mode`]
//! decides ([`Out`] names the type); forgetting the `.await` is a compile
//! error. Rows are selected and changed with typed queries:
//! [`Model::fields`] gives one typed handle per field and [`Model::query`]
//! a [`Query`] (see its documentation).
//!
//! Batch semantics, the same for every function: one entry per input element
//! in input order (a parent given twice gets its children twice), children in
//! primary-key order, NULL and dangling keys ignored, keys deduplicated and
//! bound as parameters, never more than `ceil(distinct keys / limit)` queries
//! where `limit` is the connection's current `SQLITE_LIMIT_VARIABLE_NUMBER`
//! (one query at any size on PostgreSQL, which binds the keys as one array),
//! and no query at all for an empty input.
//!
//! The statement probes the foreign-key index with an `IN` list when the keys
//! are few, and scans the child table once, filtering in Rust, when they cover
//! a third or more of the parent table: the database picks the plan inside the
//! one statement, so the choice costs no extra query. The README's benchmark shows
//! both sides of that choice against hand-written rusqlite.
//!
//! # Crate features
//!
//! None is on by default.
//!
//! - `postgres`: the `Postgres` connection, and `orm_core::postgres`, the
//!   `postgres` crate it wraps.
//! - `r2d2`: `orm_core::pool`, r2d2 connection managers for SQLite (and PostgreSQL).
//! - `chrono`, `time`, `uuid` and `serde_json` make those crates' date and
//!   time, UUID and JSON types usable as columns (and, where they are
//!   `Eq + Hash`, as primary keys), stored as each driver stores them.
//!
//! - `tokio`: async connections: `AsyncSqlite` (rusqlite on a thread of its
//!   own per connection, so a statement never blocks a runtime worker), with
//!   `postgres` also `AsyncPostgres` (tokio-postgres, whose concurrent
//!   statements on one connection are pipelined) and `AsyncAnyDb`;
//!   `AsyncAtomic` for `db.atomic(async |tx| ...)`.
//!
//! Every statement is reported through `tracing` (see [`log`]).
//!
//! # The house
//!
//! Five layers, from the bottom up; a module uses only modules of its own
//! layer and of those below (the modules are private; the names are for
//! readers of the source; `scripts/module-graph --check`, run by CI, holds
//! the code to this list):
//!
//! 1. base, depending on nothing above it: `value` (neutral values),
//!    `types` (column types and how Rust types map to them), `dialect`,
//!    `constraint` (unique constraints, indexes, `ON DELETE`, defaults),
//!    `column` (a model's column as the derive describes it), `error`;
//! 2. the statement IR and its renderer: `statement`, `render` (text and
//!    parameter slots for each dialect of SQL);
//! 3. the seam and the drivers: `backend` (the crate-private driver trait
//!    `Exec`; what a driver provides, `SyncDriver` or `AsyncDriver`; the
//!    `drivers!` list, one line per driver, which writes every type and
//!    `match` that names them; one directory per backend holding what that
//!    backend knows: its type conversions, limits and quirks (SQLite's
//!    affinity and JSON list trick, PostgreSQL's arrays and binary COPY), its
//!    sync driver (`mod.rs`) and its async one (`sqlite/thread.rs`,
//!    `postgres/nonblocking.rs`)), `db` ([`Database`], its [`Mode`] and the
//!    plan each function hands it: a sync connection polls the plan once,
//!    its driver answering at once, an async one awaits it), `atomic`,
//!    `guard`, `log`;
//! 4. plans: `loader` (batch loads), `exec` (queries and writes),
//!    `relation`, `query`, `schema`, `raw`, `migrate`, `model`: each call's
//!    work as an `async fn` generic over `Exec`, which renders statements,
//!    asks the driver to run them and reads the rows it hands back, never
//!    naming a driver;
//! 5. connections chosen at run time: `any` ([`AnyDb`]), the pools.
//!
//! # Across modules and crates
//!
//! The parent-side functions are inherent methods of `P` written by `C`'s
//! derive, which Rust allows only in the crate that defines `P`; they may be
//! in different modules. For a parent of another crate, name a trait:
//! `#[foreign_key(related_name = "products", extension = "CategoryProducts")]`
//! makes them a `pub trait CategoryProducts`, implemented for the parent, that
//! callers bring into scope with `use`; the calls keep their spelling.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The derive's code names `::orm_core`; so may the crate's own models.
extern crate self as orm_core;

mod any;
#[cfg(feature = "tokio")]
pub mod async_pool;
mod atomic;
mod backend;
mod column;
mod constraint;
mod db;
mod dialect;
mod error;
mod exec;
mod foreign_key;
mod guard;
mod loader;
pub mod log;
pub mod migrate;
mod model;
mod nested;
#[cfg(feature = "r2d2")]
pub mod pool;
mod query;
mod raw;
mod relation;
mod render;
mod schema;
mod statement;
mod types;
mod value;

pub use any::AnyDb;
#[cfg(feature = "tokio")]
pub use any::AsyncAnyDb;
#[cfg(feature = "tokio")]
pub use atomic::AsyncAtomic;
pub use atomic::{Atomic, Begin};
#[cfg(all(feature = "tokio", feature = "postgres"))]
pub use backend::postgres::nonblocking::AsyncPostgres;
#[cfg(feature = "postgres")]
pub use backend::postgres::Postgres;
#[cfg(feature = "tokio")]
pub use backend::sqlite::thread::AsyncSqlite;
pub use backend::{Db, Row};
pub use column::Column;
pub use constraint::{index_name, Index, Literal, OnDelete};
#[cfg(feature = "tokio")]
pub use db::AsyncDb;
pub use db::{Async, Blocking, BoxFuture, Database, Mode, Out};
pub use dialect::Dialect;
pub use error::{DbError, Difference, Error, Result, SchemaError};
pub use foreign_key::ForeignKey;
// Only the crate's own bounds (`join`, `has`) name it: hidden from users.
#[doc(hidden)]
pub use foreign_key::ForeignKeyField;
pub use guard::{assert_queries, count_queries, is_strict, record_queries, strict, Recordable};
#[cfg(feature = "tokio")]
pub use guard::{
    assert_queries_async, count_queries_async, is_strict_async, record_queries_async, strict_async,
};
pub use model::Model;
pub use nested::Nested;
pub use query::{
    AggValue, Aggregate, Aggregates, Aggregation, Annotated, Annotation, Annotations, Assignable,
    Assignment, Condition, Extras, Field, GroupKeys, Grouped, GroupedAggregation, Joined,
    NullableColumn, Numeric, Order, Ordered, Part, Plain, PrimaryKey, Projected, Query, Related,
    Relation, Selection, TextColumn, ValueFor,
};
pub use raw::{Bind, FromRaw, Params, Raw, RawQuery};
pub use types::{ColumnType, SqlType};
pub use value::{Value, ValueError};

/// The derive; see the [crate documentation](crate) and the README for its attributes.
pub use orm_derive::Model;

/// The migration files of a directory, embedded at compile time:
/// `static MIGRATIONS: orm_core::migrate::Migrations = orm_core::migrations!("migrations");`,
/// the path relative to the crate's root (`CARGO_MANIFEST_DIR`). See [`migrate`].
pub use orm_derive::migrations;

/// The rusqlite this crate is built on (with bundled SQLite), so that
/// `orm_core::rusqlite::Connection` is the connection type every function takes.
pub use rusqlite;

/// The `postgres` crate behind [`Postgres`] (feature `postgres`), so that
/// users need no second dependency for its types.
#[cfg(feature = "postgres")]
pub use postgres;

/// Seals the connection traits ([`Database`], [`Db`], [`Recordable`],
/// [`Mode`]): only the crate's own types implement them. Private, as
/// rusqlite's sealing traits are: nothing outside can name it.
mod sealed {
    pub trait Sealed {}
}

/// What generated code calls. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::backend::Conn;
    pub use crate::db::Plan;
    pub use crate::foreign_key::Found;
    pub use crate::query::{AggList, AnnotationsOf, Layout, Push, RelAggList};
    pub use crate::relation::{
        count_reverse, count_reverse_with, count_through, count_through_with, forward_of,
        load_forward, load_reverse, load_reverse_with, load_through, load_through_with,
        prefetch_forward, prefetch_reverse, prefetch_reverse_with, prefetch_through,
        prefetch_through_with, reverse_of, reverse_relation, through_of, through_relation,
        ForeignKeyRelation, ManyToMany,
    };
    pub use crate::types::native::NativeValue;
    pub use crate::value::Owned;
    pub use core::result::Result::Ok;

    /// What generated code provides besides [`Model`](crate::Model): it seals
    /// `Model`, so that every model comes from the derive.
    pub trait ModelImpl {
        /// The key is `#[primary_key(auto)]`: assigned by the database.
        const AUTO_KEY: bool;
        /// Calls `f` with every field as a value, in column order.
        fn __with_values<R>(&self, f: impl FnOnce(&[crate::Value<'_>]) -> R) -> R;
        /// Reads a row whose columns from `offset` on are the model's, in order.
        fn __from_row_at(row: &crate::Row<'_>, offset: usize) -> crate::Result<Self>
        where
            Self: Sized;
        /// Appends every field as a value, in column order, borrowing from
        /// `self`: the rows of a multi-row insert, bound together.
        fn __push_values<'a>(&'a self, out: &mut Vec<crate::Value<'a>>);
    }

    /// Converts a value to what a column of type `T` stores. Sealed: see
    /// [`ValueFor`](crate::ValueFor).
    pub trait IntoOwned<T> {
        /// The value, owned by the query.
        fn __into_owned(self) -> Owned;
    }

    /// Marks the key type `#[primary_key(auto)]` accepts: `i64`, since
    /// SQLite's rowid (which an automatic key is) counts in 64 bits, and a
    /// narrower field would one day fail to read the key it was given.
    #[diagnostic::on_unimplemented(
        message = "`#[primary_key(auto)]` needs an `i64` key, not `{Self}`",
        label = "the database assigns 64-bit keys"
    )]
    pub trait AutoKey {}
    impl AutoKey for i64 {}

    /// `#[column(default = ...)]` on a field of type `Self` takes a literal of type `L`.
    #[diagnostic::on_unimplemented(
        message = "a `{Self}` field cannot have a `#[column(default = ...)]`",
        label = "a default is a literal of a `bool`, integer, float or `String` field, or of an `Option` of one"
    )]
    pub trait ColumnDefault<L> {}
    macro_rules! column_default {
        ($($t:ty => $literal:ty),* $(,)?) => {$(
            impl ColumnDefault<$literal> for $t {}
        )*};
    }
    column_default! {
        bool => bool, i8 => i8, i16 => i16, i32 => i32, i64 => i64, isize => isize,
        u8 => u8, u16 => u16, u32 => u32, f32 => f32, f64 => f64,
        String => &'static str,
    }
    impl<L, T: ColumnDefault<L>> ColumnDefault<L> for Option<T> {}

    /// Type-checks a default's literal against its field's type `T`, at the literal.
    pub fn default_of<T: ColumnDefault<L>, L>(_: L) {}

    /// The connection behind any [`Db`](crate::Db).
    pub fn conn<C: crate::Db + ?Sized>(conn: &C) -> Conn<'_> {
        conn.__conn()
    }

    /// Reads column `index` of `M` from `row`, whose columns of `M` start at
    /// `offset`, into a field of type `T`.
    #[inline]
    pub fn read_at<M: crate::Model, T: crate::SqlType>(
        row: &crate::Row<'_>,
        offset: usize,
        index: usize,
    ) -> crate::Result<T> {
        row.get(offset + index)
            .map_err(|source| crate::Error::Column {
                model: M::NAME,
                table: M::TABLE,
                column: M::COLUMNS.get(index).map_or("?", crate::Column::name),
                source,
            })
    }

    /// The referenced table and column of a foreign key to `P`, computed when
    /// asked so that a self-referencing model's constants do not depend on themselves.
    pub fn references<P: crate::Model>() -> (&'static str, &'static str) {
        (P::TABLE, P::primary_key_column())
    }
}

// The crate's own README (the one crates.io shows). The repository's
// README runs as doctests of the unpublished `orm-tests` package.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
