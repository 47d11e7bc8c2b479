//! The HTML pages. Each is a `Display` type, so rendering is `to_string()`
//! and writing into the page needs no error handling of its own.

use std::fmt::{self, Display, Formatter, Write};

use crate::views::{Catalog, CategoryPage};

/// `text` with the characters HTML gives a meaning replaced by entities: every
/// name and review comes from the database, and may hold `<` or `&`.
pub struct Escaped<'a>(pub &'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// The page of `/`.
pub struct IndexPage<'a>(pub &'a Catalog);

impl Display for IndexPage<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let catalog = self.0;
        head(f, "Catalog")?;
        writeln!(f, "<h1>Catalog</h1>")?;
        for category in &catalog.categories {
            writeln!(f, "<section>")?;
            writeln!(
                f,
                r#"<h2><a href="/categories/{}">{}</a></h2>"#,
                category.id,
                Escaped(&category.name)
            )?;
            writeln!(f, "<p>{}</p>", Count(category.product_count, "product"))?;
            if !category.cheapest.is_empty() {
                writeln!(f, "<p>Cheapest:</p>\n<ol>")?;
                for product in &category.cheapest {
                    writeln!(
                        f,
                        "<li>{} <span class=price>{:.2}</span></li>",
                        Escaped(&product.name),
                        product.price
                    )?;
                }
                writeln!(f, "</ol>")?;
            }
            writeln!(f, "</section>")?;
        }
        foot(f, catalog.statements)
    }
}

/// The page of `/categories/{id}`.
pub struct CategoryHtml<'a>(pub &'a CategoryPage);

impl Display for CategoryHtml<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let page = self.0;
        let name = Escaped(&page.category.name);
        head(f, &format!("{name} · Catalog"))?;
        writeln!(f, r#"<p><a href="/">All categories</a></p>"#)?;
        writeln!(f, "<h1>{name}</h1>")?;
        writeln!(f, "<p>{}</p>", Count(page.products.len(), "product"))?;
        for (product, reviews) in &page.products {
            writeln!(f, "<section>")?;
            writeln!(
                f,
                "<h2>{} <span class=price>{:.2}</span></h2>",
                Escaped(&product.name),
                product.price
            )?;
            if reviews.is_empty() {
                writeln!(f, "<p>No reviews yet.</p>")?;
            } else {
                writeln!(f, "<ul>")?;
                for review in reviews {
                    writeln!(
                        f,
                        "<li><b>{}/5</b> {}</li>",
                        review.rating,
                        Escaped(&review.body)
                    )?;
                }
                writeln!(f, "</ul>")?;
            }
            writeln!(f, "</section>")?;
        }
        foot(f, page.statements)
    }
}

/// `n` things, in the singular for one.
struct Count<N>(N, &'static str);

impl<N: Display + PartialEq + From<u8>> Display for Count<N> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let Count(n, noun) = self;
        let plural = if *n == N::from(1) { "" } else { "s" };
        write!(f, "{n} {noun}{plural}")
    }
}

/// `title` must already be escaped.
fn head(f: &mut Formatter<'_>, title: &str) -> fmt::Result {
    writeln!(
        f,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }}
.price {{ color: #555; font-variant-numeric: tabular-nums; }}
footer {{ margin-top: 2rem; color: #555; border-top: 1px solid #ddd; }}
</style>
</head>
<body>"#
    )
}

/// The statement count is the point of the example, so every page ends with it.
fn foot(f: &mut Formatter<'_>, statements: usize) -> fmt::Result {
    writeln!(
        f,
        "<footer><p>This page ran {}.</p></footer>\n</body>\n</html>",
        Count(statements, "SQL statement")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_html_reads_as_markup() {
        let escaped = Escaped(r#"<a href="x">Tom & Jerry's</a>"#).to_string();
        assert_eq!(
            escaped,
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(Escaped("plain · text").to_string(), "plain · text");
    }

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(Count(1_usize, "product").to_string(), "1 product");
        assert_eq!(Count(0_u64, "product").to_string(), "0 products");
        assert_eq!(
            Count(3_usize, "SQL statement").to_string(),
            "3 SQL statements"
        );
    }
}
