//! The routes, and the HTTP side of each page: parsing, status, content type.

use std::num::IntErrorKind;

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
/// this site's message rather than axum's rejection text.
async fn category(
    State(pool): State<Pool>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let id = parse_id(&id)?;
    let page = db::blocking(&pool, move |conn| {
        let (found, statements) = db::counted_read(conn, |conn| views::category(conn, id))?;
        let (category, products) =
            found.ok_or_else(|| AppError::NotFound(format!("there is no category {id}")))?;
        Ok(CategoryPage {
            category,
            products,
            statements,
        })
    })
    .await?;
    Ok(Html(CategoryHtml(&page).to_string()))
}

async fn no_such_page(uri: Uri) -> AppError {
    AppError::NotFound(format!("there is no page at {}", uri.path()))
}

async fn load_catalog(pool: &Pool) -> Result<Catalog, AppError> {
    db::blocking(pool, |conn| {
        let (categories, statements) = db::counted_read(conn, views::categories)?;
        Ok(Catalog {
            statements,
            categories,
        })
    })
    .await
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse().map_err(|e: std::num::ParseIntError| {
        AppError::BadRequest(match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                format!("category id {id} is out of range")
            }
            _ => format!("a category id is a whole number, not {id:?}"),
        })
    })
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
    }
}
