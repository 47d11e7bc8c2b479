//! Tables as values: what a model declares, or what a sequence of migrations
//! has built, with owned names, so that both can be compared and diffed.

use crate::constraint::{Literal, OnDelete};
use crate::dialect::Dialect;
use crate::render::all_indexes;
use crate::statement::Table;
use crate::{ColumnType, Model};

/// A table: its columns in order, its primary key and its indexes (the one
/// on each foreign-key column included).
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    /// The table name.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<ColumnDef>,
    /// The primary key's column.
    pub primary_key: String,
    /// Whether the database assigns the key (`#[primary_key(auto)]`).
    pub auto_key: bool,
    /// Unique constraints and indexes, the foreign keys' own first.
    pub indexes: Vec<IndexDef>,
    /// `#[model(renamed_from = "...")]`: the table's name before, for the
    /// next migration only. Never part of a migration's state.
    pub renamed_from: Option<String>,
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// The column name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Its default.
    pub default: Option<Default>,
    /// The table and column it references, and what deleting that row does.
    pub references: Option<Reference>,
    /// `#[column(renamed_from = "...")]`: the column's name before, for the
    /// next migration only. Never part of a migration's state.
    pub renamed_from: Option<String>,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The table it points into.
    pub table: String,
    /// The column it points at (that table's primary key).
    pub column: String,
    /// What deleting the row pointed at does.
    pub on_delete: OnDelete,
}

/// A column default: a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Default {
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
}

impl Default {
    /// The literal as `dialect` writes it after `DEFAULT`.
    pub(crate) fn sql(&self, dialect: Dialect) -> String {
        match self {
            Default::Bool(b) => Literal::Bool(*b).sql(dialect),
            Default::Integer(i) => Literal::Integer(*i).sql(dialect),
            Default::Real(r) => Literal::Real(*r).sql(dialect),
            Default::Text(s) => crate::constraint::quote_text(s),
        }
    }
}

impl From<Literal> for Default {
    fn from(literal: Literal) -> Self {
        match literal {
            Literal::Bool(b) => Default::Bool(b),
            Literal::Integer(i) => Default::Integer(i),
            Literal::Real(r) => Default::Real(r),
            Literal::Text(s) => Default::Text(s.to_owned()),
        }
    }
}

/// A unique constraint or an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
}

impl IndexDef {
    /// The name `create_table` gives it on `table`.
    pub fn name(&self, table: &str) -> String {
        let columns: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        crate::constraint::index_name(table, &columns, self.unique)
    }
}

impl TableDef {
    /// What model `M` declares.
    pub fn of<M: Model>() -> Self {
        let table = Table::of::<M>();
        TableDef {
            name: M::TABLE.to_owned(),
            columns: M::COLUMNS
                .iter()
                .map(|c| ColumnDef {
                    name: c.name().to_owned(),
                    ty: c.column_type(),
                    nullable: c.nullable(),
                    default: c.default().map(Default::from),
                    references: c.references().map(|(table, column)| Reference {
                        table: table.to_owned(),
                        column: column.to_owned(),
                        on_delete: c.on_delete(),
                    }),
                    renamed_from: c.renamed_from().map(str::to_owned),
                })
                .collect(),
            primary_key: M::primary_key_column().to_owned(),
            auto_key: M::AUTO_KEY,
            indexes: all_indexes(&table, M::INDEXES)
                .iter()
                .map(|i| IndexDef {
                    columns: i.columns().iter().map(|&c| c.to_owned()).collect(),
                    unique: i.unique(),
                })
                .collect(),
            renamed_from: M::RENAMED_FROM.map(str::to_owned),
        }
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The same table without rename hints: what a migration's state holds.
    pub(crate) fn settled(&self) -> TableDef {
        let mut table = self.clone();
        table.renamed_from = None;
        for column in &mut table.columns {
            column.renamed_from = None;
        }
        table
    }
}
