//! Django's own example: authors and their books, with the default reverse
//! name `book_set` (no `related_name` given).
//!
//! Run with `cargo run --example authors`.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, ForeignKey, Model};

#[derive(Model, Debug)]
struct Author {
    id: i64,
    name: String,
}

#[derive(Model, Debug)]
struct Book {
    id: i64,
    title: String,
    year: i32,
    #[foreign_key]
    author: ForeignKey<Author>,
}

fn main() -> orm_core::Result<()> {
    // A file database, as a real application would use; removed at the end.
    let path = std::env::temp_dir().join(format!("orm-authors-{}.sqlite3", std::process::id()));
    let mut conn = Connection::open(&path)?;
    Author::create_table(&conn)?;
    Book::create_table(&conn)?;
    let authors = [
        "Ursula K. Le Guin",
        "Frank Herbert",
        "Octavia E. Butler",
        "Ted Chiang",
    ];
    let books = [
        ("A Wizard of Earthsea", 1968, 1),
        ("Dune", 1965, 2),
        ("The Left Hand of Darkness", 1969, 1),
        ("Kindred", 1979, 3),
        ("The Dispossessed", 1974, 1),
        ("Parable of the Sower", 1993, 3),
    ];
    let tx = conn.transaction()?;
    for (i, name) in authors.iter().enumerate() {
        Author {
            id: i as i64 + 1,
            name: name.to_string(),
        }
        .insert(&tx)?;
    }
    for (i, (title, year, author)) in books.into_iter().enumerate() {
        Book {
            id: i as i64 + 1,
            title: title.into(),
            year,
            author: ForeignKey::new(author),
        }
        .insert(&tx)?;
    }
    tx.commit()?;

    let (n_plus_one, n) = count_queries(&mut conn, |conn| -> orm_core::Result<usize> {
        let mut total = 0;
        for author in Author::all(conn)? {
            total += author.book_set(conn)?.len();
        }
        Ok(total)
    });
    println!("N+1 loop: {} books in {n} statements", n_plus_one?);

    // Author.objects.prefetch_related('book_set')
    let (pairs, n) = count_queries(&mut conn, |conn| {
        Author::prefetch_book_set(conn, Author::all(conn)?)
    });
    for (author, books) in pairs? {
        let titles: Vec<String> = books
            .iter()
            .map(|b| format!("{} ({})", b.title, b.year))
            .collect();
        let titles = if titles.is_empty() {
            "-".to_string()
        } else {
            titles.join("; ")
        };
        println!("{:<18} {titles}", author.name);
    }
    println!("prefetch_book_set: {n} statements");
    drop(conn);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
