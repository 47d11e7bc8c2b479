//! A web catalog on orm-core: categories, products and reviews served by
//! axum, each page loaded in a fixed number of SQL statements, which the page
//! states. Run it with `cargo run -p catalog`; see `main.rs` for the settings.
//!
//! The server is a library too, so that the integration test can write more
//! rows with the same models and check that the statement counts stay put.
#![forbid(unsafe_code)]

pub mod db;
pub mod error;
mod html;
pub mod models;
mod routes;
pub mod seed;
pub mod views;

pub use routes::app;
