//! The dialects of SQL the crate speaks: the bottom layer, named by the
//! renderer, the drivers and the DDL alike.

/// The SQL dialects the crate renders: what
/// [`Model::create_table_sql_for`](crate::Model::create_table_sql_for) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite's.
    Sqlite,
    /// PostgreSQL's.
    Postgres,
}
