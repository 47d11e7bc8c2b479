//! The one error type of the crate.

use std::fmt;

use crate::constraint::OnDelete;
use crate::value::ValueError;

/// What can go wrong when loading or storing models.
///
/// Every variant that comes from a model names it, with its table and, where
/// there is one, the column, so a message alone says where to look.
///
/// ```
/// use orm_core::{Error, Model};
/// #[derive(Model, Debug)]
/// struct Reading { id: i64, celsius: f64 }
///
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Reading::create_table(&conn)?;
/// conn.execute("INSERT INTO reading VALUES (1, 'warm')", [])?;
/// match Reading::all(&conn) {
///     Err(Error::Column { model, column, .. }) => assert_eq!((model, column), ("Reading", "celsius")),
///     other => panic!("expected a column error, got {other:?}"),
/// }
/// # Ok::<(), orm_core::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from SQLite or rusqlite outside of any one model's statement.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),

    /// An error from PostgreSQL outside of any one model's statement. Its
    /// message is the server's (with the SQLSTATE), not the driver's bare
    /// "db error".
    #[cfg(feature = "postgres")]
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),

    /// A statement on a model's table failed (a missing table, a constraint, ...).
    #[error("{model}: statement on table `{table}` failed: {source}")]
    Query {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// What the database said; [`DbError::sqlstate`] gives its code.
        #[source]
        source: DbError,
    },

    /// The table lacks a column the model expects: the schema is older or newer
    /// than the struct. [`Model::check_table`](crate::Model::check_table) lists
    /// every difference at once.
    #[error("{model}: table `{table}` has no column `{column}`, which the struct expects")]
    NoSuchColumn {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The missing column.
        column: String,
        /// What the database said.
        #[source]
        source: DbError,
    },

    /// A row would repeat the values of a unique constraint's columns (or of
    /// the primary key) that another row has: `#[column(unique)]`,
    /// `#[model(unique(a, b))]`. SQLite's `SQLITE_CONSTRAINT_UNIQUE` and
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`, PostgreSQL's SQLSTATE 23505;
    /// [`Error::sqlstate`] gives the code.
    #[error(
        "{model}: another row of `{table}` has the same ({}): {source}",
        columns.join(", ")
    )]
    UniqueViolation {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The constraint's columns (column names, not field names). Boxed,
        /// to keep `Error` small.
        columns: Box<[String]>,
        /// What the database said.
        #[source]
        source: DbError,
    },

    /// A database URL [`AnyDb::connect`](crate::AnyDb::connect) does not take.
    #[error("cannot connect to `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },

    /// A migration file cannot be read or applied as written, an applied one
    /// changed, or the models and the migrations differ: the reason says
    /// which (see [`migrate`](crate::migrate)).
    #[error("migration `{migration}`: {reason}")]
    Migration {
        /// The migration's name.
        migration: String,
        /// What is wrong.
        reason: String,
    },

    /// A statement of a migration failed; the migration was rolled back.
    #[error("migration `{migration}` failed and was rolled back: {source}")]
    MigrationFailed {
        /// The migration's name.
        migration: String,
        /// The failure.
        #[source]
        source: Box<Error>,
    },

    /// The database is locked by another connection's write (`SQLITE_BUSY`).
    /// Give connections a busy timeout so they wait instead:
    /// `conn.busy_timeout(Duration::from_secs(5))`.
    #[error(
        "{model}: table `{table}` is locked by another connection (SQLITE_BUSY); \
         set a busy timeout with `Connection::busy_timeout` to wait for it: {source}"
    )]
    Busy {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// What the database said.
        #[source]
        source: DbError,
    },

    /// A stored value could not be read into its field (TEXT in a REAL column, NULL
    /// in a non-`Option` field, an integer out of range, ...).
    #[error("{model}: cannot read column `{column}` of table `{table}`: {source}")]
    Column {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The column whose value does not fit the field.
        column: &'static str,
        /// Why it does not fit.
        #[source]
        source: ValueError,
    },

    /// The PostgreSQL client is lent out by
    /// [`Postgres::client`](crate::Postgres::client): drop that borrow before
    /// using the connection again.
    #[error(
        "the PostgreSQL connection is in use: a borrow from `Postgres::client()` is still alive"
    )]
    ConnectionInUse,

    /// A value cannot be written to its column as it is: a NaN on SQLite,
    /// which would store it as NULL.
    #[error("{model}: cannot write column `{column}` of table `{table}`: {source}")]
    Unwritable {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The column the value is for.
        column: &'static str,
        /// Why it cannot be written.
        #[source]
        source: ValueError,
    },

    /// A non-null foreign key points at a row that does not exist.
    #[error("{model}.{column} = {key}: no row in `{table}` has that primary key")]
    MissingParent {
        /// The model holding the foreign key.
        model: &'static str,
        /// The foreign-key column.
        column: &'static str,
        /// The table it points into.
        table: &'static str,
        /// The key, as `Debug` prints it.
        key: String,
    },

    /// [`Model::update`](crate::Model::update) found no row with the instance's key.
    #[error("{model}: no row in `{table}` has primary key {key}")]
    NotFound {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The key, as `Debug` prints it.
        key: String,
    },

    /// A statement would need more bound values than the connection allows,
    /// even with every `is_in` list bound as one value. Nothing was run.
    #[error(
        "{model}: a statement on `{table}` needs {needed} bound values, \
         more than the connection's limit of {limit}"
    )]
    TooManyParameters {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// How many values the statement binds.
        needed: usize,
        /// The connection's `SQLITE_LIMIT_VARIABLE_NUMBER`, or on PostgreSQL
        /// 65,535, the most parameters its protocol can count.
        limit: usize,
    },

    /// A statement inside [`Postgres::transaction`](crate::Postgres::transaction)
    /// failed, so PostgreSQL aborted the transaction (or the savepoint of a
    /// nested call), although the closure returned `Ok`: nothing of it was
    /// committed, and it was rolled back.
    #[cfg(feature = "postgres")]
    #[error(
        "the transaction was aborted by an earlier failed statement and rolled back: \
         nothing was committed, although the closure returned Ok"
    )]
    TransactionAborted {
        /// What PostgreSQL said when asked to commit (SQLSTATE 25P02).
        #[source]
        source: postgres::Error,
    },

    /// A condition nests `and`, `or`, `not` and relation filters deeper than
    /// [`Condition::MAX_DEPTH`](crate::Condition::MAX_DEPTH) levels; nothing
    /// was run.
    #[error(
        "{model}: a condition on `{table}` nests `and`, `or`, `not` and relation filters more than {limit} levels deep"
    )]
    ConditionTooDeep {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// The deepest nesting allowed.
        limit: usize,
    },

    /// The live table differs from the model:
    /// [`Model::check_table`](crate::Model::check_table) lists every difference.
    #[error("{0}")]
    Schema(#[from] SchemaError),

    /// A single-instance relation accessor was called inside [`strict`](crate::strict).
    #[error(
        "lazy load of `{model}.{relation}` refused inside orm_core::strict: \
         load it for all rows at once with `{prefetch}`"
    )]
    LazyLoad {
        /// The model whose accessor was called.
        model: &'static str,
        /// The relation (the accessor's name).
        relation: &'static str,
        /// The batch function to call instead, such as `Category::prefetch_products`.
        prefetch: &'static str,
    },

    /// An async connection's driver is gone: its SQLite thread ended, or
    /// PostgreSQL closed the connection. Open a new one.
    #[error("connection closed: {0}")]
    Closed(String),

    /// A broken promise inside this crate (please report it), returned
    /// instead of a panic.
    #[error("internal error in orm_core: {0}")]
    Internal(&'static str),

    /// The function given to [`Nested::nested`](crate::Nested::nested) returned a
    /// different number of entries than it was given.
    #[error("nested prefetch returned {got} entries for {expected} children")]
    NestedLength {
        /// How many children were passed in.
        expected: usize,
        /// How many entries came back.
        got: usize,
    },
    /// `atomic_with` asked for a kind of transaction inside one already
    /// open: the open transaction's kind holds. Nest with `atomic` (a
    /// savepoint).
    #[error("atomic_with(Begin::{begin}) inside a transaction already open: its kind holds; nest with `atomic`")]
    NestedBegin {
        /// The kind asked for.
        begin: &'static str,
    },
}

impl Error {
    /// The database's code for the failure, wherever in this error it is: a
    /// PostgreSQL SQLSTATE (`23505` for a unique violation), or SQLite's
    /// extended result code as a number.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            #[cfg(feature = "postgres")]
            Error::Postgres(e) | Error::TransactionAborted { source: e } => {
                e.code().map(|c| c.code().to_owned())
            }
            Error::Sqlite(e) => e.sqlstate(),
            Error::Query { source, .. }
            | Error::NoSuchColumn { source, .. }
            | Error::UniqueViolation { source, .. }
            | Error::Busy { source, .. } => source.sqlstate(),
            _ => None,
        }
    }
}

/// What a driver's error says about itself, by the driver's rules: what
/// [`DbError`](crate::DbError) and the crate's most specific errors
/// ([`Error::NoSuchColumn`](crate::Error::NoSuchColumn),
/// [`Error::UniqueViolation`](crate::Error::UniqueViolation),
/// [`Error::Busy`](crate::Error::Busy)) are read from.
pub(crate) trait DriverError {
    /// The database's code for the failure (PostgreSQL's SQLSTATE, SQLite's
    /// extended result code as a number).
    fn sqlstate(&self) -> Option<String>;
    /// The column a statement named but its table lacks.
    fn missing_column(&self) -> Option<String>;
    /// A violated unique or primary-key constraint.
    fn unique_violation(&self) -> Option<UniqueViolation>;
    /// Whether another connection held the database (SQLite's busy or
    /// locked); a server backend waits for its locks instead.
    fn is_busy(&self) -> bool {
        false
    }
}

/// What a unique violation says about itself.
pub(crate) struct UniqueViolation {
    /// The violated constraint's name, where the database gives it.
    pub(crate) constraint: Option<String>,
    /// SQLite's list of the constraint's columns: `t.a, t.b`.
    pub(crate) listed: Option<String>,
    /// The columns the message lists, read as well as its text allows.
    pub(crate) columns: Vec<String>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the database driver said about a failed statement.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// From SQLite, through rusqlite.
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    /// From PostgreSQL, through the `postgres` crate.
    #[cfg(feature = "postgres")]
    #[error("{}", postgres_message(.0))]
    Postgres(postgres::Error),
}

#[cfg(feature = "postgres")]
fn postgres_message(e: &postgres::Error) -> String {
    use std::error::Error as _;
    match (e.as_db_error(), e.source()) {
        (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        // "error serializing parameter 5": say why.
        (None, Some(source)) => format!("{e}: {source}"),
        (None, None) => e.to_string(),
    }
}

impl DbError {
    /// The SQLSTATE code of a PostgreSQL error (`23505` for a unique
    /// violation), or SQLite's extended result code as a number.
    pub fn sqlstate(&self) -> Option<String> {
        self.driver().sqlstate()
    }

    /// What the driver's error says, read by the driver's own rules.
    fn driver(&self) -> &dyn DriverError {
        match self {
            DbError::Sqlite(e) => e,
            #[cfg(feature = "postgres")]
            DbError::Postgres(e) => e,
        }
    }

    /// The name of the column the statement named but the table lacks.
    pub(crate) fn missing_column(&self) -> Option<String> {
        self.driver().missing_column()
    }

    /// A unique or primary-key violation: the constraint's name where the
    /// database gives one, and the columns its message lists.
    pub(crate) fn unique_violation(&self) -> Option<UniqueViolation> {
        self.driver().unique_violation()
    }

    /// The database was busy or locked by another connection.
    pub(crate) fn is_busy(&self) -> bool {
        self.driver().is_busy()
    }
}

/// A live table differs from its model, in every way listed.
///
/// ```
/// use orm_core::{Error, Model};
/// #[derive(Model)]
/// struct Book { id: i64, title: String, year: Option<i64> }
///
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// conn.execute_batch("CREATE TABLE book (id INTEGER PRIMARY KEY, name TEXT NOT NULL, year TEXT)")?;
/// let Err(Error::Schema(e)) = Book::check_table(&conn) else { panic!("the table differs") };
/// assert_eq!(e.to_string(), "Book: table `book` differs from the struct:\n\
///     - column `title` is missing\n\
///     - column `year` is TEXT, the field needs INTEGER\n\
///     - column `name` is not in the struct");
/// # Ok::<(), orm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The model.
    pub model: &'static str,
    /// Its table.
    pub table: &'static str,
    /// Every difference found.
    pub differences: Vec<Difference>,
}

impl std::error::Error for SchemaError {}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: table `{}` differs from the struct:",
            self.model, self.table
        )?;
        for d in &self.differences {
            write!(f, "\n- {d}")?;
        }
        Ok(())
    }
}

/// One way a live table differs from its model.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The table does not exist.
    MissingTable,
    /// A column the struct has is not in the table.
    MissingColumn(String),
    /// A column of the table is not in the struct.
    ExtraColumn(String),
    /// A column's declared type reads differently from the field's type
    /// (compared by SQLite's type affinity, or by PostgreSQL type).
    Type {
        /// The column.
        column: String,
        /// The type the field needs.
        expected: String,
        /// The declared type.
        found: String,
    },
    /// A column is `NOT NULL` where the field is an `Option`, or nullable
    /// where it is not (reading a NULL into it would fail).
    Nullability {
        /// The column.
        column: String,
        /// Whether the field allows NULL.
        field_nullable: bool,
    },
    /// The primary key is another column, or more than one.
    PrimaryKey {
        /// The field's column.
        expected: String,
        /// The table's key columns.
        found: Vec<String>,
    },
    /// A foreign key references another table or column, or nothing.
    ForeignKey {
        /// The column.
        column: String,
        /// The table and column the field points at.
        expected: (String, String),
        /// What the table declares, if anything.
        found: Option<(String, String)>,
    },
    /// A foreign-key column has no index starting with it, so every batch
    /// load scans the table.
    MissingIndex {
        /// The column.
        column: String,
        /// The index `create_table` would make.
        index: String,
    },
    /// A unique constraint of the model is not in the table: no unique index
    /// has exactly its columns.
    MissingUnique {
        /// Its columns.
        columns: Vec<String>,
        /// The index `create_table` would make.
        index: String,
    },
    /// An index of the model is not in the table: no index starts with its
    /// columns, in order.
    MissingIndexOn {
        /// Its columns.
        columns: Vec<String>,
        /// The index `create_table` would make.
        index: String,
    },
    /// A column's default differs from the field's `#[column(default = ...)]`,
    /// or only one of them has one.
    Default {
        /// The column.
        column: String,
        /// The field's default, as the DDL writes it.
        expected: Option<String>,
        /// The column's default, as the database reports it.
        found: Option<String>,
    },
    /// A foreign key's `ON DELETE` action differs from the field's.
    OnDelete {
        /// The column.
        column: String,
        /// The field's `on_delete`.
        expected: OnDelete,
        /// The table's action, as the database spells it.
        found: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingTable => write!(f, "the table does not exist"),
            Difference::MissingColumn(c) => write!(f, "column `{c}` is missing"),
            Difference::ExtraColumn(c) => write!(f, "column `{c}` is not in the struct"),
            Difference::Type {
                column,
                expected,
                found,
            } => write!(
                f,
                "column `{column}` is {found}, the field needs {expected}"
            ),
            Difference::Nullability {
                column,
                field_nullable: true,
            } => write!(f, "column `{column}` is NOT NULL, the field is an Option"),
            Difference::Nullability { column, .. } => write!(
                f,
                "column `{column}` allows NULL, the field is not an Option"
            ),
            Difference::PrimaryKey { expected, found } => write!(
                f,
                "the primary key is ({}), the struct's is `{expected}`",
                found.join(", ")
            ),
            Difference::ForeignKey {
                column,
                expected: (table, key),
                found,
            } => match found {
                Some((t, k)) => write!(
                    f,
                    "column `{column}` references `{t}`.`{k}`, the field `{table}`.`{key}`"
                ),
                None => write!(
                    f,
                    "column `{column}` has no foreign key; the field references `{table}`.`{key}`"
                ),
            },
            Difference::MissingIndex { column, index } => write!(
                f,
                "column `{column}` has no index (create_table would make `{index}`)"
            ),
            Difference::MissingUnique { columns, index } => write!(
                f,
                "no unique constraint on ({}) (create_table would make `{index}`)",
                columns.join(", ")
            ),
            Difference::MissingIndexOn { columns, index } => write!(
                f,
                "no index on ({}) (create_table would make `{index}`)",
                columns.join(", ")
            ),
            Difference::Default {
                column,
                expected,
                found,
            } => match (found, expected) {
                (None, Some(e)) => {
                    write!(f, "column `{column}` has no default, the field's is {e}")
                }
                (Some(found), None) => write!(
                    f,
                    "column `{column}` has default {found}, the field has none"
                ),
                (found, expected) => write!(
                    f,
                    "column `{column}` has default {}, the field's is {}",
                    found.as_deref().unwrap_or("-"),
                    expected.as_deref().unwrap_or("-")
                ),
            },
            Difference::OnDelete {
                column,
                expected,
                found,
            } => write!(
                f,
                "foreign key `{column}` is ON DELETE {found}, the field's is ON DELETE {expected}"
            ),
        }
    }
}
