//! One column of a model's table: the metadata the derive writes, read by
//! the renderer, the drivers (to name a column in an error) and the DDL.

use crate::constraint::{Literal, OnDelete};
use crate::ColumnType;

/// One column of a model's table, as `#[derive(Model)]` describes it.
///
/// ```
/// use orm_core::{ColumnType, ForeignKey, Literal, Model, OnDelete};
/// # #[derive(Model)] struct Category { id: i64 }
/// #[derive(Model)]
/// struct Product {
///     id: i64,
///     note: Option<String>,
///     #[foreign_key(related_name = "products", on_delete = "cascade")]
///     category: ForeignKey<Category>,
///     #[column(name = "qty", default = 0)]
///     stock: i64,
/// }
///
/// let fk = &Product::COLUMNS[2];
/// assert_eq!((fk.name(), fk.column_type(), fk.nullable()), ("category_id", ColumnType::BigInt, false));
/// assert_eq!(fk.column_type().sqlite(), "INTEGER");
/// assert_eq!(fk.references(), Some(("category", "id")));
/// assert_eq!(fk.on_delete(), OnDelete::Cascade);
/// assert!(Product::COLUMNS[1].nullable());
/// let stock = &Product::COLUMNS[3];
/// assert_eq!((stock.name(), stock.field(), stock.default()), ("qty", "stock", Some(Literal::Integer(0))));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Column {
    name: &'static str,
    column_type: ColumnType,
    nullable: bool,
    references: Option<fn() -> (&'static str, &'static str)>,
    field: &'static str,
    default: Option<Literal>,
    on_delete: OnDelete,
    renamed_from: Option<&'static str>,
}

impl Column {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        column_type: ColumnType,
        nullable: bool,
        references: Option<fn() -> (&'static str, &'static str)>,
    ) -> Self {
        Column {
            name,
            column_type,
            nullable,
            references,
            field: name,
            default: None,
            on_delete: OnDelete::NoAction,
            renamed_from: None,
        }
    }

    #[doc(hidden)]
    pub const fn __renamed_from(self, renamed_from: &'static str) -> Self {
        Column {
            renamed_from: Some(renamed_from),
            ..self
        }
    }

    /// `#[column(renamed_from = "...")]`: the column's former name, which the
    /// next generated migration renames instead of dropping and adding.
    pub const fn renamed_from(&self) -> Option<&'static str> {
        self.renamed_from
    }

    #[doc(hidden)]
    pub const fn __field(self, field: &'static str) -> Self {
        Column { field, ..self }
    }

    #[doc(hidden)]
    pub const fn __default(self, default: Literal) -> Self {
        Column {
            default: Some(default),
            ..self
        }
    }

    #[doc(hidden)]
    pub const fn __on_delete(self, on_delete: OnDelete) -> Self {
        Column { on_delete, ..self }
    }

    /// The column name in the database: `#[column(name = "...")]`, else the
    /// field name (`<field>_id` for a foreign key). Every statement, schema
    /// check and error message uses it.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The name as a one-column list, for the index of a foreign key.
    pub(crate) fn name_as_list(&'static self) -> &'static [&'static str] {
        std::slice::from_ref(&self.name)
    }

    /// The Rust field the column belongs to (`r#type` is `type`).
    pub const fn field(&self) -> &'static str {
        self.field
    }

    /// The column's default, `#[column(default = ...)]`, which the DDL
    /// declares: a row inserted without the column gets it.
    pub const fn default(&self) -> Option<Literal> {
        self.default
    }

    /// For a foreign key: what deleting the parent row does,
    /// `#[foreign_key(on_delete = "...")]`.
    pub const fn on_delete(&self) -> OnDelete {
        self.on_delete
    }

    /// The column's type, which each backend names in its own DDL.
    pub const fn column_type(&self) -> ColumnType {
        self.column_type
    }

    /// Whether NULL is allowed (the field is an `Option`).
    pub const fn nullable(&self) -> bool {
        self.nullable
    }

    /// For a foreign key: the table and column it references.
    pub fn references(&self) -> Option<(&'static str, &'static str)> {
        self.references.map(|f| f())
    }
}
