//! What a table declares besides its columns' types: unique constraints,
//! indexes, `ON DELETE` actions and column defaults. The derive writes them
//! into [`Model::INDEXES`](crate::Model::INDEXES) and [`Column`](crate::Column);
//! `create_table` renders them and `check_table` compares them, and a
//! migration tool can read them from the same constants.

use std::fmt;

use crate::dialect::Dialect;

/// What the database does to a child row when its parent row is deleted:
/// `#[foreign_key(on_delete = "cascade")]`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnDelete {
    /// No `ON DELETE` clause: deleting a parent that still has children fails
    /// (when the check runs at the end of the statement: `NO ACTION`).
    #[default]
    NoAction,
    /// `ON DELETE CASCADE`: the children are deleted with the parent.
    Cascade,
    /// `ON DELETE SET NULL`: the children's key becomes NULL (an
    /// `Option<ForeignKey<_>>` field only).
    SetNull,
    /// `ON DELETE RESTRICT`: deleting a parent that has children fails at once.
    Restrict,
}

impl OnDelete {
    /// The action as SQL spells it: `NO ACTION`, `CASCADE`, `SET NULL`, `RESTRICT`.
    pub const fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::Restrict => "RESTRICT",
        }
    }

    /// Reads SQLite's `pragma_foreign_key_list.on_delete` or a spelled-out
    /// action; `None` for `SET DEFAULT` and anything unknown.
    pub(crate) fn parse(sql: &str) -> Option<Self> {
        Some(match sql.to_ascii_uppercase().as_str() {
            "NO ACTION" | "" => OnDelete::NoAction,
            "CASCADE" => OnDelete::Cascade,
            "SET NULL" => OnDelete::SetNull,
            "RESTRICT" => OnDelete::Restrict,
            _ => return None,
        })
    }
}

impl fmt::Display for OnDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

/// A unique constraint or an index over one or more columns, in order:
/// `#[model(unique(a, b), index(c))]`, `#[column(unique)]`, `#[column(index)]`.
///
/// ```
/// use orm_core::{Index, Model};
/// #[derive(Model)]
/// #[model(unique(shelf, position))]
/// struct Book { id: i64, shelf: i64, position: i64, #[column(index)] title: String }
///
/// let [unique, index] = Book::INDEXES else { panic!() };
/// assert_eq!((unique.columns(), unique.unique()), (&["shelf", "position"][..], true));
/// assert_eq!((index.columns(), index.unique()), (&["title"][..], false));
/// assert_eq!(unique.name(Book::TABLE), "book_shelf_position_key4_5");
/// # let _: &Index = unique;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Index {
    columns: &'static [&'static str],
    unique: bool,
}

impl Index {
    #[doc(hidden)]
    pub const fn __new(columns: &'static [&'static str], unique: bool) -> Self {
        Index { columns, unique }
    }

    /// The column names (not the field names), in the index's order.
    pub const fn columns(&self) -> &'static [&'static str] {
        self.columns
    }

    /// Whether it is a unique constraint (a `CREATE UNIQUE INDEX`).
    pub const fn unique(&self) -> bool {
        self.unique
    }

    /// The name `create_table` gives it on `table`; see [`index_name`].
    pub fn name(&self, table: &str) -> String {
        index_name(table, self.columns, self.unique)
    }
}

/// The name of an index of `table` on `columns`:
/// `<table>_<col>_…_<col>_<idx|key><n>` (`key` for a unique one), where the
/// numbers after `idx`/`key` are the byte lengths of the table and of every
/// column but the last, so two different tables, column lists or kinds never
/// share a name (`a_b` + `c_id` gives `a_b_c_id_idx3`, `a` + `b_c_id` gives
/// `a_b_c_id_idx1`, `a` + (`b`, `c_id`) gives `a_b_c_id_idx1_1`). Names past
/// PostgreSQL's 63 bytes end in a hash of the whole name, so truncation
/// cannot make two equal either.
///
/// ```
/// assert_eq!(orm_core::index_name("product", &["category_id"], false), "product_category_id_idx7");
/// assert_eq!(orm_core::index_name("issues", &["project_id", "number"], true), "issues_project_id_number_key6_10");
/// ```
pub fn index_name(table: &str, columns: &[&str], unique: bool) -> String {
    let mut name = String::from(table);
    for column in columns {
        name.push('_');
        name.push_str(column);
    }
    name.push_str(if unique { "_key" } else { "_idx" });
    name.push_str(&table.len().to_string());
    for column in columns.iter().take(columns.len().saturating_sub(1)) {
        name.push('_');
        name.push_str(&column.len().to_string());
    }
    if name.len() <= 63 {
        return name;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 46;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:016x}", &name[..cut])
}

/// A column's default, `#[column(default = ...)]`: a literal of the field's
/// type, written into the DDL as `DEFAULT <literal>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal {
    /// `true` or `false`: `1`/`0` on SQLite, `TRUE`/`FALSE` on PostgreSQL.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// A string, quoted as SQL quotes it.
    Text(&'static str),
}

impl Literal {
    /// The literal as `dialect` writes it after `DEFAULT`.
    pub(crate) fn sql(&self, dialect: Dialect) -> String {
        match (*self, dialect) {
            (Literal::Bool(b), Dialect::Sqlite) => u8::from(b).to_string(),
            (Literal::Bool(b), Dialect::Postgres) => (if b { "TRUE" } else { "FALSE" }).into(),
            (Literal::Integer(i), _) => i.to_string(),
            // `{:?}` always has a `.` or an exponent: a REAL, not an integer.
            (Literal::Real(r), _) => format!("{r:?}"),
            (Literal::Text(s), _) => quote_text(s),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Real(r) => write!(f, "{r:?}"),
            Literal::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// `text` as an SQL string literal: `'it''s'`.
pub(crate) fn quote_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    out.push_str(&text.replace('\'', "''"));
    out.push('\'');
    out
}

/// A default expression as a database reports it, reduced to the value it
/// writes, so that `'a'::text`, `('a')` and `'a'` compare equal, and `TRUE`
/// equals `1`.
pub(crate) fn canonical_default(sql: &str) -> String {
    let mut s = sql.trim();
    loop {
        // PostgreSQL's casts: `'x'::text`, `'-1'::integer`, `1.5::double precision`.
        if let Some(at) = s.rfind("::") {
            let cast = &s[at + 2..];
            if !cast.contains('\'') && !cast.contains(')') {
                s = s[..at].trim_end();
                continue;
            }
        }
        if s.len() >= 2 && s.starts_with('(') && s.ends_with(')') {
            s = s[1..s.len() - 1].trim();
            continue;
        }
        break;
    }
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        let inner = s[1..s.len() - 1].replace("''", "'");
        // A quoted number (PostgreSQL quotes negative ones) is that number.
        return match inner.parse::<f64>() {
            Ok(n) if inner.trim() == inner => format_number(&inner, n),
            _ => format!("'{inner}'"),
        };
    }
    match s.to_ascii_lowercase().as_str() {
        "true" => "1".into(),
        "false" => "0".into(),
        other => match other.parse::<f64>() {
            Ok(n) => format_number(other, n),
            Err(_) => other.to_owned(),
        },
    }
}

fn format_number(text: &str, n: f64) -> String {
    match text.parse::<i64>() {
        Ok(i) => i.to_string(),
        Err(_) => format!("{n:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_are_unique_per_table_columns_and_kind() {
        assert_eq!(index_name("a_b", &["c_id"], false), "a_b_c_id_idx3");
        assert_eq!(index_name("a", &["b_c_id"], false), "a_b_c_id_idx1");
        assert_eq!(index_name("a", &["b", "c_id"], false), "a_b_c_id_idx1_1");
        assert_eq!(index_name("a", &["b_c", "id"], false), "a_b_c_id_idx1_3");
        assert_eq!(index_name("a", &["b_c_id"], true), "a_b_c_id_key1");
        let long = "x".repeat(70);
        assert_ne!(
            index_name(&long, &["a_id"], false),
            index_name(&long, &["b_id"], false)
        );
        assert!(index_name(&long, &["a_id"], false).len() <= 63);
    }

    #[test]
    fn defaults_compare_by_value() {
        for (a, b) in [
            ("'x'::text", "'x'"),
            ("('it''s')", "'it''s'"),
            ("'-1'::integer", "-1"),
            ("true", "1"),
            ("FALSE", "0"),
            ("1.5::double precision", "1.5"),
            ("2.0", "2.0"),
        ] {
            assert_eq!(canonical_default(a), canonical_default(b), "{a} vs {b}");
        }
        assert_ne!(canonical_default("'1'"), canonical_default("'2'"));
        assert_eq!(Literal::Text("it's").sql(Dialect::Sqlite), "'it''s'");
        assert_eq!(Literal::Real(2.0).sql(Dialect::Postgres), "2.0");
    }
}
