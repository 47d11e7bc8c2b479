//! Raw SQL through the seam: one placeholder style (`?`) on every backend,
//! values bound, rows read into tuples or a model, each statement counted and
//! logged like the library's own.

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::backend::{Ctx, Exec, Param, Row};
use crate::db::{Database, Mode, Out, Plan};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::value::Owned;
use crate::{Model, SqlType};

/// Raw SQL on any connection: `conn.raw(sql, params)`. In scope with
/// `use orm_core::Raw` (or `use orm_core::*`).
///
/// The text uses `?` for each parameter on every backend (rewritten to `$1`,
/// `$2`, ... for PostgreSQL; a `?` inside quotes or a comment is left alone,
/// so PostgreSQL's own `?` operators need their function form there);
/// `params` is a tuple of values. Rows read into a tuple of column types or
/// into a model (its columns in order, as `SELECT *` of its table gives them).
///
/// ```
/// use orm_core::{Model, Raw};
/// #[derive(Model)] struct Product { id: i64, name: String, price: f64 }
///
/// let conn = orm_core::rusqlite::Connection::open_in_memory()?;
/// Product::create_table(&conn)?;
/// Product { id: 1, name: "Dune".into(), price: 9.5 }.insert(&conn)?;
/// Product { id: 2, name: "Go board".into(), price: 40.0 }.insert(&conn)?;
///
/// let rows: Vec<(i64, String)> =
///     conn.raw("SELECT id, name FROM product WHERE price > ?", (5.0,)).all()?;
/// assert_eq!(rows, [(1, "Dune".to_string()), (2, "Go board".to_string())]);
/// let dear: Option<Product> =
///     conn.raw("SELECT * FROM product WHERE price > ? ORDER BY id", (20.0,)).first()?;
/// assert_eq!(dear.map(|p| p.id), Some(2));
/// let changed = conn.raw("UPDATE product SET price = price * ? WHERE id = ?", (2.0, 1)).execute()?;
/// assert_eq!(changed, 1);
/// # Ok::<(), orm_core::Error>(())
/// ```
pub trait Raw: Database {
    /// A raw statement with `?` placeholders and its parameters.
    fn raw<'q, P: Params>(&'q self, sql: &'q str, params: P) -> RawQuery<'q, Self, P> {
        RawQuery {
            conn: self,
            sql,
            params,
        }
    }
}

impl<D: Database + ?Sized> Raw for D {}

/// A raw statement, from [`Raw::raw`]: run it with [`all`](RawQuery::all),
/// [`first`](RawQuery::first) or [`execute`](RawQuery::execute). On an async
/// connection each returns a future.
#[must_use = "a raw statement does nothing until it runs"]
pub struct RawQuery<'q, D: ?Sized, P> {
    conn: &'q D,
    sql: &'q str,
    params: P,
}

fn ctx() -> Ctx {
    Ctx {
        model: "raw SQL",
        table: "(raw SQL)",
        columns: &[],
        indexes: &[],
    }
}

/// The statement's text for the connection's backend.
fn text(dialect: Dialect, sql: &str) -> Cow<'_, str> {
    match dialect {
        Dialect::Sqlite => Cow::Borrowed(sql),
        Dialect::Postgres => Cow::Owned(numbered(sql)),
    }
}

fn params(values: &[Owned]) -> Vec<Param<'_>> {
    values.iter().map(|v| Param::Value(v.as_value())).collect()
}

/// A raw statement's rows, read as `T`; at most `limit` of them kept.
struct RawRows<'q, T> {
    sql: &'q str,
    values: Vec<Owned>,
    limit: usize,
    row: PhantomData<fn() -> T>,
}

impl<T: FromRaw> RawRows<'_, T> {
    async fn run<E: Exec>(self, conn: &E) -> Result<Vec<T>> {
        let text = text(conn.dialect(), self.sql);
        let mut stmt = conn.prepare(&text, ctx()).await?;
        let mut out = Vec::new();
        conn.query(&mut stmt, params(&self.values), |row| {
            if out.len() < self.limit {
                out.push(T::__from_raw(row)?);
            }
            Ok(())
        })
        .await?;
        Ok(out)
    }
}

impl<T: FromRaw> Plan for RawRows<'_, T> {
    type Output = Vec<T>;
    crate::db::plan_methods!();
}

/// A raw statement that returns no rows.
struct RawExecute<'q> {
    sql: &'q str,
    values: Vec<Owned>,
}

impl RawExecute<'_> {
    async fn run<E: Exec>(self, conn: &E) -> Result<u64> {
        let text = text(conn.dialect(), self.sql);
        let mut stmt = conn.prepare(&text, ctx()).await?;
        conn.execute(&mut stmt, &params(&self.values)).await
    }
}

impl Plan for RawExecute<'_> {
    type Output = u64;
    crate::db::plan_methods!();
}

impl<'q, D: Database + ?Sized + 'q, P: Params> RawQuery<'q, D, P> {
    fn rows<T: FromRaw>(&self, limit: usize) -> Out<'q, D, Vec<T>> {
        self.conn.__run(RawRows {
            sql: self.sql,
            values: self.params.__values(),
            limit,
            row: PhantomData,
        })
    }

    /// Every row, read as `T`: a tuple of column types, or a model.
    pub fn all<T: FromRaw>(&self) -> Out<'q, D, Vec<T>> {
        self.rows(usize::MAX)
    }

    /// The first row, if any.
    pub fn first<T: FromRaw>(&self) -> Out<'q, D, Option<T>> {
        D::Mode::__then(self.rows(1), |rows| Ok(rows.into_iter().next()))
    }

    /// Runs a statement that returns no rows; how many rows it changed.
    pub fn execute(&self) -> Out<'q, D, u64> {
        self.conn.__run(RawExecute {
            sql: self.sql,
            values: self.params.__values(),
        })
    }
}

/// `?` placeholders as `$1`, `$2`, ...: outside quotes (also PostgreSQL's
/// `E'...'` strings, whose `\'` is a quote, and `$tag$...$tag$` strings),
/// quoted identifiers and comments (PostgreSQL's `/* */` nest).
fn numbered(sql: &str) -> String {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    // Copies `chars[from..to]` to `out`.
    let copy = |out: &mut String, from: usize, to: usize| out.extend(&chars[from..to]);
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        match c {
            '\'' | '"' => {
                // `E'...'` (not the end of a longer word): a backslash escapes.
                let escapes = c == '\''
                    && matches!(prev, Some('E' | 'e'))
                    && !(i >= 2 && ident(chars[i - 2]));
                let mut j = i + 1;
                while j < chars.len() {
                    if escapes && chars[j] == '\\' {
                        j += 2;
                        continue;
                    }
                    if chars[j] == c {
                        break;
                    }
                    j += 1;
                }
                let to = (j + 1).min(chars.len());
                copy(&mut out, i, to);
                i = to;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                let mut j = i;
                while j < chars.len() && chars[j] != '\n' {
                    j += 1;
                }
                let to = (j + 1).min(chars.len());
                copy(&mut out, i, to);
                i = to;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let (mut j, mut depth) = (i + 2, 1);
                while j < chars.len() && depth > 0 {
                    match (chars[j], chars.get(j + 1)) {
                        ('*', Some('/')) => (depth, j) = (depth - 1, j + 2),
                        ('/', Some('*')) => (depth, j) = (depth + 1, j + 2),
                        _ => j += 1,
                    }
                }
                let to = j.min(chars.len());
                copy(&mut out, i, to);
                i = to;
            }
            // `$tag$...$tag$` (or `$$...$$`), not inside a word nor `$1`.
            '$' if !prev.is_some_and(ident) => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let tag_ok = chars.get(j) == Some(&'$')
                    && !chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if !tag_ok {
                    out.push(c);
                    i += 1;
                    continue;
                }
                let tag = &chars[i..=j];
                let mut k = j + 1;
                while k < chars.len() && !chars[k..].starts_with(tag) {
                    k += 1;
                }
                let to = (k + tag.len()).min(chars.len());
                copy(&mut out, i, to);
                i = to;
            }
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The parameters of a raw statement: a tuple of values of column types
/// (`(5.0,)`, `(1, "x")`), or `()` for none. Implemented by the crate.
pub trait Params: crate::query::sealed::Params {
    #[doc(hidden)]
    fn __values(&self) -> Vec<Owned>;
}

impl crate::query::sealed::Params for () {}
impl Params for () {
    fn __values(&self) -> Vec<Owned> {
        Vec::new()
    }
}

/// What a raw row reads as: a tuple of column types, or a model. Implemented
/// by the crate.
pub trait FromRaw: Sized + Send {
    #[doc(hidden)]
    fn __from_raw(row: &Row<'_>) -> Result<Self>;
}

impl<M: Model> FromRaw for M {
    fn __from_raw(row: &Row<'_>) -> Result<M> {
        M::from_row(row)
    }
}

fn column<T: SqlType>(row: &Row<'_>, i: usize) -> Result<T> {
    row.get(i).map_err(|source| Error::Column {
        model: "raw SQL",
        table: "(raw SQL)",
        column: "(raw column)",
        source,
    })
}

/// One parameter of a raw statement: a value of a column type, or `&str`.
/// Implemented by the crate.
pub trait Bind: crate::query::sealed::Bind {
    #[doc(hidden)]
    fn __owned(&self) -> Owned;
}

impl<T: SqlType> crate::query::sealed::Bind for T {}
impl<T: SqlType> Bind for T {
    fn __owned(&self) -> Owned {
        Owned::from_value(self.to_value())
    }
}

impl crate::query::sealed::Bind for &str {}
impl Bind for &str {
    fn __owned(&self) -> Owned {
        Owned::Text((*self).into())
    }
}

macro_rules! tuples {
    ($(($($t:ident $i:tt),+))+) => {$(
        impl<$($t: Bind),+> crate::query::sealed::Params for ($($t,)+) {}
        impl<$($t: Bind),+> Params for ($($t,)+) {
            fn __values(&self) -> Vec<Owned> {
                vec![$(self.$i.__owned()),+]
            }
        }

        impl<$($t: SqlType + Send),+> FromRaw for ($($t,)+) {
            fn __from_raw(row: &Row<'_>) -> Result<Self> {
                Ok(($(column::<$t>(row, $i)?,)+))
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes_and_comments() {
        assert_eq!(
            numbered("SELECT '?', \"a?\", x FROM t -- why?\nWHERE a = ? AND b /* ? */ = ?"),
            "SELECT '?', \"a?\", x FROM t -- why?\nWHERE a = $1 AND b /* ? */ = $2"
        );
    }

    /// Review: PostgreSQL's other quotes. A `?` in a dollar-quoted string
    /// (a `DO` block, a function body) or after `\'` in an `E'...'` string
    /// is inside quotes, as the docs promise to leave alone.
    #[test]
    fn placeholders_in_postgres_dollar_and_escape_strings_are_left_alone() {
        assert_eq!(
            numbered("SELECT $$why?$$, $t$a ? b$t$, ?"),
            "SELECT $$why?$$, $t$a ? b$t$, $1"
        );
        assert_eq!(numbered("SELECT E'it\\'s ?', ?"), "SELECT E'it\\'s ?', $1");
    }

    /// Review: `/*/` does not close the comment it opens.
    #[test]
    fn a_comment_opened_by_slash_star_slash_stays_open() {
        assert_eq!(numbered("SELECT /*/ ? */ ?"), "SELECT /*/ ? */ $1");
    }
}
