//! Serves the catalog on 127.0.0.1.
//!
//! Settings come from the environment: `PORT` (default 3000; 0 picks a free
//! one) and `CATALOG_DB`, the SQLite file (default `catalog.sqlite3` in the
//! current directory), seeded with demo data on first start. Once the
//! server accepts connections it prints its URL, alone on a line, and nothing
//! else to stdout, so a script or test can wait for that line.
#![forbid(unsafe_code)]

use std::error::Error;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::{env, io};

use catalog::{db, seed};

const DEFAULT_PORT: u16 = 3000;
const DEFAULT_DB: &str = "catalog.sqlite3";

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
    let path = env::var_os("CATALOG_DB").map_or_else(|| PathBuf::from(DEFAULT_DB), PathBuf::from);
    let pool =
        db::pool(&path).map_err(|e| format!("cannot open the database {}: {e}", path.display()))?;
    let seeded = db::blocking(&pool, |conn| Ok(seed::seed_if_empty(conn)?)).await?;
    if seeded {
        eprintln!("catalog: wrote the demo data into {}", path.display());
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
