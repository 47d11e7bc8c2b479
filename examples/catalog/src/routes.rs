//! The routes, and the HTTP side of each page: parsing, status, content type.

use std::num::IntErrorKind;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};

use crate::db::{self, Pool};
use crate::error::AppError;
use crate::html::{CategoryHtml, IndexPage};
use crate::views::{self, Catalog, CategoryPage};

/// The whole site, on connections from `pool`.
pub fn app(pool: Pool) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/categories/{id}", get(category))
        .route("/api/categories", get(api_categories))
        .fallback(no_such_page)
        .with_state(pool)
}

async fn index(State(pool): State<Pool>) -> Result<Html<String>, AppError> {
    let catalog = load_catalog(&pool).await?;
    Ok(Html(IndexPage(&catalog).to_string()))
}

async fn api_categories(State(pool): State<Pool>) -> Result<Json<Catalog>, AppError> {
    Ok(Json(load_catalog(&pool).await?))
}

/// The id is taken as a `String` and parsed here, so that a bad one gets
/// this site's message rather than axum's rejection text; so does one that
/// is not UTF-8 once percent-decoded (`%FF`), which axum rejects itself.
async fn category(
    State(pool): State<Pool>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Html<String>, AppError> {
    let id = match id {
        Ok(Path(id)) => parse_id(&id)?,
        Err(PathRejection::FailedToDeserializePathParams(e))
            if matches!(e.kind(), ErrorKind::InvalidUtf8InPathParam { .. }) =>
        {
            return Err(AppError::BadRequest(format!(
                "a category id is a whole number, not {:?}",
                uri.path().trim_start_matches("/categories/")
            )));
        }
        Err(other) => return Err(AppError::BadRequest(other.body_text())),
    };
    let (found, statements) = {
        // Back to the pool before the page is rendered.
        let conn = pool.get().await?;
        db::counted_read(&conn, |tx| views::category(tx, id)).await?
    };
    let (category, products) =
        found.ok_or_else(|| AppError::NotFound(format!("there is no category {id}")))?;
    let page = CategoryPage {
        category,
        products,
        statements,
    };
    Ok(Html(CategoryHtml(&page).to_string()))
}

async fn no_such_page(uri: Uri) -> AppError {
    AppError::NotFound(format!("there is no page at {}", uri.path()))
}

async fn load_catalog(pool: &Pool) -> Result<Catalog, AppError> {
    let conn = pool.get().await?;
    let (categories, statements) = db::counted_read(&conn, views::categories).await?;
    Ok(Catalog {
        statements,
        categories,
    })
}

/// The id, written as the site writes it: `+1` and `01` parse as 1 but are
/// not its page's address, and get a 404 rather than a duplicate of it.
fn parse_id(id: &str) -> Result<i64, AppError> {
    let n: i64 = id.parse().map_err(|e: std::num::ParseIntError| {
        AppError::BadRequest(match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                format!("category id {id} is out of range")
            }
            _ => format!("a category id is a whole number, not {id:?}"),
        })
    })?;
    if n.to_string() != id {
        return Err(AppError::NotFound(format!(
            "there is no category {id:?}; its id is written {n}"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_whole_numbers_in_range() {
        assert_eq!(parse_id("42").ok(), Some(42));
        for bad in [
            "abc",
            "",
            "1.5",
            "1e3",
            "99999999999999999999",
            "-99999999999999999999",
        ] {
            assert!(
                matches!(parse_id(bad), Err(AppError::BadRequest(_))),
                "{bad:?} was accepted"
            );
        }
        assert_eq!(parse_id("-1").ok(), Some(-1));
        for other_spelling in ["+1", "01", "-0", "007"] {
            assert!(
                matches!(parse_id(other_spelling), Err(AppError::NotFound(_))),
                "{other_spelling:?} was accepted"
            );
        }
    }
}
