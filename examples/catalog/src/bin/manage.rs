//! The catalog's migrations: `cargo run -p catalog --bin manage -- makemigrations`
//! writes the next one after a model changes (`--check` fails instead, for
//! CI), `migrate sqlite://catalog.sqlite3` applies them, `showmigrations`
//! lists them. The server applies them at start-up too.

fn main() -> std::process::ExitCode {
    orm_core::migrate::manage(
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"),
        &catalog::models::tables(),
        std::env::args().skip(1),
    )
}
