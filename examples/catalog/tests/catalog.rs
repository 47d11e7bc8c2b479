//! Starts the catalog binary on a free loopback port, reads its pages over
//! HTTP, and checks what they show and how many statements each request ran,
//! before and after the database grows.
//!
//! Every test runs twice: `sqlite::*` on a SQLite file of its own, and
//! `postgres::*` on a PostgreSQL database of its own, created on the server
//! `ORM_POSTGRES_URL` names (`scripts/with-postgres cargo test -p catalog`
//! starts a throwaway one). Without that variable when the tests are built,
//! the PostgreSQL half is listed as ignored (see `build.rs`), never passed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
#[cfg(feature = "postgres")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use catalog::models::{Category, Product, Review};
#[cfg(feature = "postgres")]
use orm_core::postgres::config::{Config, Host};
#[cfg(feature = "postgres")]
use orm_core::Postgres;
use orm_core::{AnyDb, Atomic, ForeignKey, Model};
use serde_json::Value;

/// Writes each test once per backend: `sqlite::name` and `postgres::name`
/// call `name` with a fresh [`Store`] of that backend.
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() -> orm_core::Result<()> {
                    super::$name(super::Store::sqlite(stringify!($name)))
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[test]
                fn $name() -> orm_core::Result<()> {
                    super::$name(super::Store::postgres())
                }
            )*
        }
    };
}

on_each_backend! {
    pages_show_the_seed_in_a_fixed_number_of_statements,
    bad_ids_get_a_client_error_with_a_message,
    a_restart_keeps_the_data_and_does_not_seed_again,
    concurrent_requests_count_only_their_own_statements,
}

/// How long the server may take to print its URL: it seeds on first start.
const STARTUP: Duration = Duration::from_secs(60);

/// A scratch directory for one test's database, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("catalog-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("catalog.sqlite3")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(feature = "postgres")]
/// A PostgreSQL database of one test's own, dropped afterwards.
struct PgDatabase {
    /// The connection that created it, to the database `ORM_POSTGRES_URL` names.
    admin: Postgres,
    name: String,
    url: String,
}

#[cfg(feature = "postgres")]
impl PgDatabase {
    fn new() -> PgDatabase {
        static DATABASES: AtomicUsize = AtomicUsize::new(0);
        let params = std::env::var("ORM_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "ORM_POSTGRES_URL is not set: run the PostgreSQL tests against a \
                 throwaway server with `scripts/with-postgres cargo test -p catalog`"
            )
        });
        let admin = Postgres::connect(&params).unwrap_or_else(|e| {
            panic!("cannot connect to PostgreSQL at ORM_POSTGRES_URL={params:?}: {e}")
        });
        let name = format!(
            "catalog_test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("a database of the test's own");
        let url = postgres_url(&params, &name);
        PgDatabase { admin, name, url }
    }
}

#[cfg(feature = "postgres")]
impl Drop for PgDatabase {
    fn drop(&mut self) {
        // FORCE: a server killed a moment ago may still be seen as connected.
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

#[cfg(feature = "postgres")]
/// A `postgres://` URL, which the server takes, to the database `dbname`
/// on the server that `params` (`host=... port=...` or a URL) names.
fn postgres_url(params: &str, dbname: &str) -> String {
    let config: Config = params
        .parse()
        .unwrap_or_else(|e| panic!("ORM_POSTGRES_URL={params:?} does not parse: {e}"));
    let mut url = String::from("postgres://");
    if let Some(user) = config.get_user() {
        url += &percent_encoded(user.as_bytes());
        if let Some(password) = config.get_password() {
            url += ":";
            url += &percent_encoded(password);
        }
        url += "@";
    }
    match config.get_hosts() {
        [] => url += "localhost",
        [Host::Tcp(host), ..] if host.contains(':') => url += &format!("[{host}]"),
        [Host::Tcp(host), ..] => url += host,
        #[cfg(unix)]
        [Host::Unix(dir), ..] => {
            url += &percent_encoded(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()));
        }
    }
    if let [port, ..] = config.get_ports() {
        url += &format!(":{port}");
    }
    url + "/" + dbname
}

#[cfg(feature = "postgres")]
/// `bytes` with all but URL-safe characters written `%XX`.
fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where one test's catalog lives, removed afterwards.
enum Store {
    Sqlite(Scratch),
    /// Boxed: the connection in it is large, and clippy asks.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgDatabase>),
}

impl Store {
    fn sqlite(test: &str) -> Store {
        Store::Sqlite(Scratch::new(test))
    }

    #[cfg(feature = "postgres")]
    fn postgres() -> Store {
        Store::Postgres(Box::new(PgDatabase::new()))
    }

    /// The server's `CATALOG_DATABASE_URL`.
    fn url(&self) -> String {
        match self {
            // The scratch path is absolute: `sqlite:///tmp/...`.
            Store::Sqlite(scratch) => format!("sqlite://{}", scratch.db().display()),
            #[cfg(feature = "postgres")]
            Store::Postgres(db) => db.url.clone(),
        }
    }

    /// A connection of the test's own, as another process would open one
    /// while the server runs.
    fn connect(&self) -> orm_core::Result<AnyDb> {
        let db = AnyDb::connect(self.url())?;
        if let AnyDb::Sqlite(conn) = &db {
            conn.busy_timeout(Duration::from_secs(10))?;
        }
        Ok(db)
    }
}

/// A running catalog process, killed when dropped, so that a failed
/// assertion does not leave a server behind.
struct Server {
    child: Child,
    url: String,
    http: ureq::Agent,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(store: &Store) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_catalog"))
            .env("PORT", port.to_string())
            .env("CATALOG_DATABASE_URL", store.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the catalog binary");
        // Owned by the guard from here on, so every early return kills it.
        let mut server = Server {
            child,
            url: String::new(),
            http: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build(),
            ),
        };

        // Threads spawned by a test share its output capture, so the
        // server's log shows up with a failing test and not otherwise.
        let stderr = server.child.stderr.take().expect("piped stderr");
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
            }
        });
        let stdout = server.child.stdout.take().expect("piped stdout");
        let (lines, first) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });

        let expected = format!("http://127.0.0.1:{port}/");
        match first.recv_timeout(STARTUP) {
            Ok(line) => assert_eq!(line, expected, "the first line of stdout is the URL"),
            Err(e) => panic!("the server printed no URL ({e}); see its log above"),
        }
        server.url = expected;
        server
    }

    /// The status and body of `GET path`.
    fn get(&self, path: &str) -> (u16, String) {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        let mut response = self
            .http
            .get(&url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("GET {url}: reading the body: {e}"));
        (response.status().as_u16(), body)
    }

    /// The body of `GET path`, which must answer 200.
    fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn json(&self, path: &str) -> Value {
        let body = self.page(path);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

/// A port nobody listens on now. Another process could take it before the
/// server binds it; on a test machine's loopback that does not happen.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The count in a page's "This page ran N SQL statements." footer.
fn statements(page: &str) -> u64 {
    let (_, rest) = page
        .split_once("This page ran ")
        .unwrap_or_else(|| panic!("no statement count in the page:\n{page}"));
    let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(rest[number.len()..].starts_with(" SQL statement"), "{rest}");
    number.parse().expect("a count")
}

/// The category called `name` in the JSON listing.
fn category<'a>(listing: &'a Value, name: &str) -> &'a Value {
    listing["categories"]
        .as_array()
        .expect("categories is an array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no category {name} in {listing}"))
}

/// Grows the database through orm-core, as another process would while the
/// server runs: many products in category 1, many reviews, many categories.
fn grow(store: &Store) -> orm_core::Result<()> {
    store.connect()?.atomic(grow_in)
}

fn grow_in(tx: &AnyDb) -> orm_core::Result<()> {
    let extra: Vec<Product> = (0..300)
        .map(|i| Product {
            id: 0,
            name: format!("Extra {i}"),
            price: 0.5 + f64::from(i) / 100.0,
            category: ForeignKey::new(1),
        })
        .collect();
    let ids = Product::insert_all(tx, &extra)?;
    let reviews: Vec<Review> = ids
        .iter()
        .flat_map(|&id| {
            (1..=3).map(move |rating| Review {
                id: 0,
                rating,
                body: format!("Review {rating} of product {id}"),
                product: ForeignKey::new(id),
            })
        })
        .collect();
    Review::insert_all(tx, &reviews)?;
    for c in 0..40 {
        let category = Category {
            id: 0,
            name: format!("More {c}"),
        }
        .insert(tx)?;
        let stock: Vec<Product> = (0..10)
            .map(|i| Product {
                id: 0,
                name: format!("More {c}.{i}"),
                price: f64::from(i),
                category: ForeignKey::new(category),
            })
            .collect();
        Product::insert_all(tx, &stock)?;
    }
    Ok(())
}

fn pages_show_the_seed_in_a_fixed_number_of_statements(store: Store) -> orm_core::Result<()> {
    let server = Server::start(&store);

    let index = server.page("/");
    assert!(
        index.contains(r#"<a href="/categories/1">Books</a>"#),
        "{index}"
    );
    assert!(index.contains("7 products"), "{index}");
    assert!(index.contains("Foundation"), "the cheapest book: {index}");
    assert!(
        !index.contains("The Dispossessed"),
        "the dearest book is past the 5 cheapest"
    );
    // Names from the database are escaped.
    assert!(index.contains("Games &amp; Puzzles"), "{index}");
    assert!(index.contains("&lt;blink&gt; tag mug"), "{index}");
    assert!(!index.contains("<blink>"), "{index}");
    assert_eq!(statements(&index), 3);

    let listing = server.json("/api/categories");
    assert_eq!(listing["statements"], 3);
    assert_eq!(listing["categories"].as_array().map(Vec::len), Some(8));
    let books = category(&listing, "Books");
    assert_eq!(books["product_count"], 7);
    let prices: Vec<f64> = books["cheapest"]
        .as_array()
        .expect("cheapest is an array")
        .iter()
        .map(|p| p["price"].as_f64().expect("a price"))
        .collect();
    assert_eq!(prices, [6.99, 7.5, 8.0, 9.5, 10.99]);
    assert_eq!(category(&listing, "Games & Puzzles")["product_count"], 6);

    let books_page = server.page("/categories/1");
    assert!(books_page.contains("<h1>Books</h1>"), "{books_page}");
    assert!(
        books_page.contains("The Dispossessed"),
        "every product: {books_page}"
    );
    assert!(
        books_page.contains("Does the job, nothing more."),
        "{books_page}"
    );
    assert!(books_page.contains("No reviews yet."), "{books_page}");
    assert_eq!(statements(&books_page), 3);

    // Forty-one times the categories, fifty times the products of Books,
    // and each of those with reviews: the same statements per request.
    grow(&store)?;

    let index = server.page("/");
    assert!(index.contains("More 39"), "the new categories are listed");
    assert_eq!(statements(&index), 3);

    let listing = server.json("/api/categories");
    assert_eq!(listing["statements"], 3);
    assert_eq!(listing["categories"].as_array().map(Vec::len), Some(48));
    let books = category(&listing, "Books");
    assert_eq!(books["product_count"], 307);
    assert_eq!(books["cheapest"][0]["name"], "Extra 0");
    assert_eq!(books["cheapest"].as_array().map(Vec::len), Some(5));

    let books_page = server.page("/categories/1");
    assert!(books_page.contains("Extra 299"), "every product");
    assert!(books_page.contains("Review 3 of product"), "their reviews");
    assert!(books_page.contains("307 products"));
    assert_eq!(statements(&books_page), 3);
    Ok(())
}

fn bad_ids_get_a_client_error_with_a_message(store: Store) -> orm_core::Result<()> {
    let server = Server::start(&store);
    let cases = [
        ("/categories/abc", 400, "abc"),
        ("/categories/1.5", 400, "whole number"),
        ("/categories/999999", 404, "no category 999999"),
        ("/categories/-1", 404, "no category -1"),
        ("/categories/99999999999999999999", 400, "out of range"),
        ("/categories/-99999999999999999999", 400, "out of range"),
        ("/categories/%FF", 400, "whole number, not \"%FF\""),
        ("/categories/%31", 200, "Books"),
        ("/categories/+1", 404, "no category \"+1\""),
        ("/categories/01", 404, "no category \"01\""),
        ("/no/such/page", 404, "no page at /no/such/page"),
    ];
    for (path, status, message) in cases {
        let (got, body) = server.get(path);
        assert_eq!(got, status, "GET {path}: {body}");
        // The site's own message, never the framework's.
        assert!(
            status == 200 || body.starts_with(&format!("{status}: ")),
            "GET {path}: {body:?}"
        );
        assert!(
            body.contains(message),
            "GET {path}: {body:?} lacks {message:?}"
        );
    }
    // The server is still up and well.
    assert_eq!(statements(&server.page("/")), 3);
    Ok(())
}

fn a_restart_keeps_the_data_and_does_not_seed_again(store: Store) -> orm_core::Result<()> {
    let server = Server::start(&store);
    assert_eq!(
        server.json("/api/categories")["categories"]
            .as_array()
            .map(Vec::len),
        Some(8)
    );
    drop(server);

    let conn = store.connect()?;
    Category {
        id: 0,
        name: "Added <later>".into(),
    }
    .insert(&conn)?;
    drop(conn);

    let server = Server::start(&store);
    let listing = server.json("/api/categories");
    assert_eq!(listing["categories"].as_array().map(Vec::len), Some(9));
    assert_eq!(category(&listing, "Added <later>")["product_count"], 0);
    let index = server.page("/");
    assert!(index.contains("Added &lt;later&gt;"), "{index}");
    assert!(index.contains("0 products"), "{index}");
    Ok(())
}

fn concurrent_requests_count_only_their_own_statements(store: Store) -> orm_core::Result<()> {
    let server = Server::start(&store);
    // Requests on different pooled connections at once: each page's count
    // must be its own statements, not its neighbours'.
    thread::scope(|s| {
        for t in 0..4 {
            let server = &server;
            s.spawn(move || {
                for i in 0..10 {
                    let path = if (t + i) % 2 == 0 {
                        "/"
                    } else {
                        "/categories/2"
                    };
                    assert_eq!(statements(&server.page(path)), 3, "GET {path}");
                    assert_eq!(server.json("/api/categories")["statements"], 3);
                }
            });
        }
    });
    Ok(())
}
