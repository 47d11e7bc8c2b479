//! The one error type of the crate.

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
    /// An error from SQLite or rusqlite outside of any one model's query.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),

    /// A statement on a model's table failed (a missing table, a constraint, ...).
    #[error("{model}: statement on table `{table}` failed: {source}")]
    Query {
        /// The Rust model.
        model: &'static str,
        /// Its table.
        table: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
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
        /// What rusqlite said.
        #[source]
        source: rusqlite::Error,
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

    /// The function given to [`Nested::nested`](crate::Nested::nested) returned a
    /// different number of entries than it was given.
    #[error("nested prefetch returned {got} entries for {expected} children")]
    NestedLength {
        /// How many children were passed in.
        expected: usize,
        /// How many entries came back.
        got: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
