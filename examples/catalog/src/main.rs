//! Serves the catalog on 127.0.0.1.
//!
//! Settings come from the environment:
//!
//! - `PORT`: default 3000; 0 picks a free one.
//! - `CATALOG_DATABASE_URL`: the database, `sqlite://catalog.sqlite3` (the
//!   default, in the current directory), `sqlite:///an/absolute/path.db` or
//!   `postgres://user:password@host/dbname`.
//! - `CATALOG_DB`: the older setting, a SQLite file's path, read only when
//!   `CATALOG_DATABASE_URL` is not set.
//!
//! At start the pending migrations are applied, then an empty database gets
//! the demo data. Once the server accepts connections it prints its URL,
//! alone on a line, and nothing else to stdout, so a script or test can wait
//! for that line.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::error::Error;
use std::ffi::OsString;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::{env, io};

use catalog::error::causes;
use catalog::models::MIGRATIONS;
use catalog::{db, seed};

const DEFAULT_PORT: u16 = 3000;
const DEFAULT_DATABASE_URL: &str = "sqlite://catalog.sqlite3";

#[tokio::main]
async fn main() -> ExitCode {
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catalog: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn Error>> {
    let port = port()?;
    let url = database_url(
        env::var_os("CATALOG_DATABASE_URL"),
        env::var_os("CATALOG_DB"),
    )?;
    let shown = without_password(&url);
    let pool = db::pool(&url).map_err(|e| format!("cannot open the database {shown}: {e}"))?;
    {
        let conn = pool
            .get()
            .await
            .map_err(|e| format!("cannot open the database {shown}: {}", causes(&e)))?;
        let applied = MIGRATIONS
            .apply(&conn)
            .await
            .map_err(|e| format!("cannot migrate the database {shown}: {}", causes(&e)))?;
        for name in applied {
            eprintln!("catalog: applied the migration {name} to {shown}");
        }
        let seeded = seed::seed_if_empty(&conn)
            .await
            .map_err(|e| format!("cannot seed the database {shown}: {}", causes(&e)))?;
        if seeded {
            eprintln!("catalog: wrote the demo data into {shown}");
        }
    }

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    // The bound port, which differs from the asked one when that was 0.
    let port = listener.local_addr()?.port();
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "http://127.0.0.1:{port}/")?;
    // Piped stdout is block-buffered: without the flush a waiting reader
    // would not see the line until the buffer fills.
    stdout.flush()?;
    drop(stdout);

    axum::serve(listener, catalog::app(pool)).await?;
    Ok(())
}

fn port() -> Result<u16, String> {
    match env::var("PORT") {
        Err(env::VarError::NotPresent) => Ok(DEFAULT_PORT),
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number (0 to 65535), not {port:?}")),
        Err(env::VarError::NotUnicode(port)) => Err(format!("PORT is not a number: {port:?}")),
    }
}

/// The database URL: `CATALOG_DATABASE_URL`, else the SQLite file
/// `CATALOG_DB` names, else the default.
fn database_url(url: Option<OsString>, sqlite_path: Option<OsString>) -> Result<String, String> {
    match (url, sqlite_path) {
        (Some(url), _) => url
            .into_string()
            .map_err(|url| format!("CATALOG_DATABASE_URL is not UTF-8: {url:?}")),
        // `sqlite://` then the path: `sqlite://rel.db` or `sqlite:///abs.db`.
        (None, Some(path)) => path
            .into_string()
            .map(|path| format!("sqlite://{path}"))
            .map_err(|path| format!("CATALOG_DB is not UTF-8: {path:?}")),
        (None, None) => Ok(DEFAULT_DATABASE_URL.to_owned()),
    }
}

/// `url` as it may be printed: a password in it is replaced by `***`.
fn without_password(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.into();
    };
    let Some((user, _password)) = user_info.split_once(':') else {
        return url.into();
    };
    let after = &rest[authority.len()..];
    format!("{scheme}://{user}:***@{host}{after}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_comes_first_then_the_old_path_then_the_default() {
        let url = |url: Option<&str>, path: Option<&str>| {
            database_url(url.map(OsString::from), path.map(OsString::from))
        };
        assert_eq!(url(None, None).as_deref(), Ok("sqlite://catalog.sqlite3"));
        assert_eq!(
            url(None, Some("/tmp/c.db")).as_deref(),
            Ok("sqlite:///tmp/c.db")
        );
        assert_eq!(url(None, Some("c.db")).as_deref(), Ok("sqlite://c.db"));
        assert_eq!(
            url(Some("postgres://u@h/db"), Some("c.db")).as_deref(),
            Ok("postgres://u@h/db")
        );
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            without_password("postgres://shop:s3cr@t@db.example:5432/shop?sslmode=require"),
            "postgres://shop:***@db.example:5432/shop?sslmode=require"
        );
        for unchanged in [
            "postgres://shop@db.example/shop",
            "postgres://db.example/shop",
            "sqlite://catalog.sqlite3",
            "sqlite:///tmp/a:b@c.db",
            "sqlite::memory:",
        ] {
            assert_eq!(without_password(unchanged), unchanged);
        }
    }
}
