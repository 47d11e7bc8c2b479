//! What a request can fail with, and the status each failure gets.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orm_core::pool::r2d2;

/// A failed request. Every variant becomes a status and a plain-text
/// message: no failure reaches the client as a panic or an empty body.
#[derive(Debug)]
pub enum AppError {
    /// The request itself is wrong (an id that is not a number): 400.
    BadRequest(String),
    /// The request names something that does not exist: 404.
    NotFound(String),
    /// No connection came free in time: 503, worth retrying.
    Pool(r2d2::Error),
    /// The database failed: 500.
    Db(orm_core::Error),
    /// The blocking task died (it panicked or the runtime is shutting down): 500.
    Task(tokio::task::JoinError),
}

impl From<orm_core::Error> for AppError {
    fn from(e: orm_core::Error) -> Self {
        AppError::Db(e)
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Pool(e)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::BadRequest(message) | AppError::NotFound(message) => f.write_str(message),
            AppError::Pool(e) => write!(f, "no database connection available: {e}"),
            AppError::Db(e) => write!(f, "database error: {e}"),
            AppError::Task(e) => write!(f, "request task failed: {e}"),
        }
    }
}

/// No `source`: the message already includes the cause's, and a report that
/// walks the chain would print it twice.
impl std::error::Error for AppError {}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            // The details of server-side failures (SQL, table names, paths)
            // go to the operator's log, not to whoever sent the request.
            AppError::Pool(_) => {
                eprintln!("catalog: {self}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is busy; try again shortly".to_owned(),
                )
            }
            AppError::Db(_) | AppError::Task(_) => {
                eprintln!("catalog: {self}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: the catalog could not be read".to_owned(),
                )
            }
        };
        (status, format!("{}: {message}\n", status.as_u16())).into_response()
    }
}
