//! What a request can fail with, and the status each failure gets.

use std::{error, fmt};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::db::GetError;

/// A failed request. Every variant becomes a status and a plain-text
/// message: no failure reaches the client as a panic or an empty body.
#[derive(Debug)]
pub enum AppError {
    /// The request itself is wrong (an id that is not a number): 400.
    BadRequest(String),
    /// The request names something that does not exist: 404.
    NotFound(String),
    /// No connection came free in time, or none could be opened: 503,
    /// worth retrying. Boxed: deadpool's error is several times the size of
    /// the others, and every `Result` of a handler would carry it.
    Pool(Box<GetError>),
    /// The database failed: 500.
    Db(orm_core::Error),
}

impl From<orm_core::Error> for AppError {
    fn from(e: orm_core::Error) -> Self {
        AppError::Db(e)
    }
}

impl From<GetError> for AppError {
    fn from(e: GetError) -> Self {
        AppError::Pool(Box::new(e))
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::BadRequest(message) | AppError::NotFound(message) => f.write_str(message),
            AppError::Pool(e) => write!(f, "no database connection available: {}", causes(&**e)),
            AppError::Db(e) => write!(f, "database error: {}", causes(e)),
        }
    }
}

/// No `source`: the message already includes the causes', and a report that
/// walks the chain would print them twice.
impl error::Error for AppError {}

/// `e`'s message followed by those of its causes that it does not already
/// include: a PostgreSQL error says only "db error" itself, and the
/// server's reason ("database \"shop\" does not exist") is its cause's.
pub fn causes(e: &(dyn error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = e.source();
    }
    message
}

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
            AppError::Db(_) => {
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

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::causes;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_are_told_once_each() {
        let server = Layer("ERROR: database \"x\" does not exist", None);
        let driver = Layer("db error", Some(Box::new(server)));
        let pool = Layer(
            "Error occurred while creating a new object: db error",
            Some(Box::new(driver)),
        );
        assert_eq!(
            causes(&pool),
            "Error occurred while creating a new object: db error: \
             ERROR: database \"x\" does not exist"
        );
        assert_eq!(causes(&Layer("alone", None)), "alone");
    }
}
