//! The benchmark's insert rows: `insert_all` of 10,000 rows against the best
//! hand-written bulk insert of the same rows, on SQLite (a file database in
//! WAL mode) and, with `--postgres`, on PostgreSQL. Each round starts from an
//! empty table (emptied outside the timing); variants run round-robin in a new
//! order each round; the ratio is to the fastest hand-written variant.

use std::path::Path;
use std::time::{Duration, Instant};

use orm_core::rusqlite::{params, Connection};
use orm_core::{count_queries, Model, Recordable};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::{median, ms};

#[derive(Model, Debug, Clone, PartialEq)]
pub(crate) struct Sale {
    id: i64,
    item: String,
    price: f64,
    quantity: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
pub(crate) struct Ticket {
    #[primary_key(auto)]
    id: i64,
    title: String,
    seats: i64,
}

pub(crate) const ROWS: usize = 10_000;
const SMOKE_ROWS: usize = 100;

pub(crate) fn sales(n: usize) -> Vec<Sale> {
    (1..=n as i64)
        .map(|id| Sale {
            id,
            item: format!("item number {id}"),
            price: (id % 1000) as f64 / 4.0,
            quantity: id % 7,
        })
        .collect()
}

pub(crate) fn tickets(n: usize) -> Vec<Ticket> {
    (1..=n as i64)
        .map(|i| Ticket {
            id: 0,
            title: format!("ticket {i}"),
            seats: i % 5,
        })
        .collect()
}

/// One way to insert the rows; returns how many keys it has (all of them).
pub(crate) struct Variant<C> {
    pub(crate) name: &'static str,
    /// Whether it is hand-written: the ratio's base is the fastest of these.
    pub(crate) hand: bool,
    pub(crate) run: fn(&C, &[Sale], &[Ticket]) -> orm_core::Result<usize>,
}

/// Times every variant `rounds` times (after one warm-up round), each from
/// an empty table; prints medians, ratios and statement counts. Variants
/// with automatic keys and with keys the rows hold are two groups, each
/// with its own base.
pub(crate) fn measure<C: Recordable>(
    backend: &str,
    conn: &mut C,
    empty: fn(&C) -> orm_core::Result<()>,
    groups: &[&[Variant<C>]],
    smoke: bool,
    rounds: usize,
) -> orm_core::Result<()> {
    let n = if smoke { SMOKE_ROWS } else { ROWS };
    let rounds = if smoke { 1 } else { rounds };
    let sales = sales(n);
    let tickets = tickets(n);
    println!(
        "\n### inserts on {backend}: {n} rows, {rounds} rounds (x hand-written: against the \
         fastest hand-written row of the group)\n"
    );
    // The fastest run too: on a busy machine, a run of a few milliseconds
    // is sometimes descheduled for a whole time slice.
    println!("| variant | median ms | × hand-written | fastest ms | × hand-written | statements |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut rng = StdRng::seed_from_u64(1_729);
    for group in groups {
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); group.len()];
        let mut order: Vec<usize> = (0..group.len()).collect();
        for round in 0..=rounds {
            order.shuffle(&mut rng);
            for &v in &order {
                empty(conn)?;
                let start = Instant::now();
                let keys = (group[v].run)(conn, &sales, &tickets)?;
                let took = start.elapsed();
                assert_eq!(keys, n, "{} inserted another number of rows", group[v].name);
                if round > 0 {
                    times[v].push(took);
                }
            }
        }
        let mut statements = Vec::new();
        for variant in group.iter() {
            empty(conn)?;
            let (keys, count) = count_queries(conn, |c| (variant.run)(c, &sales, &tickets));
            keys?;
            statements.push(count);
        }
        let fastest: Vec<Duration> = times
            .iter()
            .map(|t| t.iter().copied().min().unwrap_or_default())
            .collect();
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        let base = |of: &[Duration]| {
            group
                .iter()
                .zip(of)
                .filter(|(v, _)| v.hand)
                .map(|(_, m)| ms(*m))
                .fold(f64::INFINITY, f64::min)
        };
        let (base, base_min) = (base(&medians), base(&fastest));
        for (((variant, m), low), count) in group.iter().zip(&medians).zip(&fastest).zip(statements)
        {
            // Hand-written PostgreSQL code runs on the client, unseen by the counter.
            let count = match count {
                0 => "-".to_owned(),
                n => n.to_string(),
            };
            println!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {count} |",
                variant.name,
                ms(*m),
                ms(*m) / base,
                ms(*low),
                ms(*low) / base_min,
            );
        }
    }
    empty(conn)
}

// ---- SQLite --------------------------------------------------------------------

/// Rows per hand-written multi-row statement: its fastest (callgrind on these
/// rows: 16 or 256 rows per statement take 8% to 9% more instructions, 1,024
/// rows 19% more).
const HAND_ROWS: usize = 64;

fn hand_single(conn: &Connection, sales: &[Sale], _: &[Ticket]) -> orm_core::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO sale (id, item, price, quantity) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for s in sales {
            stmt.execute(params![s.id, s.item, s.price, s.quantity])?;
        }
    }
    tx.commit()?;
    Ok(sales.len())
}

fn multi_row_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO sale (id, item, price, quantity) VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql
}

fn hand_multi(conn: &Connection, sales: &[Sale], _: &[Ticket]) -> orm_core::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    {
        let full = multi_row_sql(HAND_ROWS);
        for chunk in sales.chunks(HAND_ROWS) {
            let mut stmt = if chunk.len() == HAND_ROWS {
                tx.prepare_cached(&full)?
            } else {
                tx.prepare_cached(&multi_row_sql(chunk.len()))?
            };
            let mut i = 1;
            for s in chunk {
                stmt.raw_bind_parameter(i, s.id)?;
                stmt.raw_bind_parameter(i + 1, &s.item)?;
                stmt.raw_bind_parameter(i + 2, s.price)?;
                stmt.raw_bind_parameter(i + 3, s.quantity)?;
                i += 4;
            }
            stmt.raw_execute()?;
        }
    }
    tx.commit()?;
    Ok(sales.len())
}

fn hand_returning(conn: &Connection, _: &[Sale], tickets: &[Ticket]) -> orm_core::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    let mut keys = Vec::with_capacity(tickets.len());
    {
        let mut stmt =
            tx.prepare_cached("INSERT INTO ticket (title, seats) VALUES (?1, ?2) RETURNING id")?;
        for t in tickets {
            keys.push(stmt.query_row(params![t.title, t.seats], |r| r.get::<_, i64>(0))?);
        }
    }
    tx.commit()?;
    Ok(keys.len())
}

fn hand_rowid(conn: &Connection, _: &[Sale], tickets: &[Ticket]) -> orm_core::Result<usize> {
    let tx = conn.unchecked_transaction()?;
    let mut keys = Vec::with_capacity(tickets.len());
    {
        let mut stmt = tx.prepare_cached("INSERT INTO ticket (title, seats) VALUES (?1, ?2)")?;
        for t in tickets {
            stmt.execute(params![t.title, t.seats])?;
            keys.push(tx.last_insert_rowid());
        }
    }
    tx.commit()?;
    Ok(keys.len())
}

const SQLITE_KEYED: &[Variant<Connection>] = &[
    Variant {
        name: "orm insert_all",
        hand: false,
        run: |c, s, _| Ok(Sale::insert_all(c, s)?.len()),
    },
    Variant {
        name: "hand-written: one transaction, one prepared single-row INSERT",
        hand: true,
        run: hand_single,
    },
    Variant {
        name: "hand-written: one transaction, prepared 64-row INSERTs",
        hand: true,
        run: hand_multi,
    },
];

const SQLITE_AUTO: &[Variant<Connection>] = &[
    Variant {
        name: "orm insert_all, automatic keys",
        hand: false,
        run: |c, _, t| Ok(Ticket::insert_all(c, t)?.len()),
    },
    Variant {
        name: "hand-written: one transaction, single-row INSERT ... RETURNING id",
        hand: true,
        run: hand_returning,
    },
    Variant {
        name: "hand-written: one transaction, single-row INSERT, last_insert_rowid",
        hand: true,
        run: hand_rowid,
    },
];

/// The SQLite rows, on a file database in `dir` (WAL, `synchronous =
/// NORMAL`: a commit does not wait for the disk, and the log is
/// checkpointed between runs, so that the rows measure the statements
/// rather than the disk's flush).
pub(crate) fn sqlite(
    dir: &Path,
    smoke: bool,
    rounds: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("inserts.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = Connection::open(&path)?;
    // Checkpoints outside the timing: an automatic one would land in
    // whichever variant commits when the log passes 1,000 pages.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;",
    )?;
    Sale::create_table(&conn)?;
    Ticket::create_table(&conn)?;
    measure(
        "SQLite",
        &mut conn,
        |c| {
            Ok(c.execute_batch(
                "DELETE FROM sale; DELETE FROM ticket; PRAGMA wal_checkpoint(RESTART);",
            )?)
        },
        &[SQLITE_KEYED, SQLITE_AUTO],
        smoke,
        rounds,
    )?;
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}

// ---- PostgreSQL ----------------------------------------------------------------

#[cfg(feature = "postgres")]
pub(crate) mod pg {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::io::Write as _;

    use orm_core::postgres::types::ToSql;
    use orm_core::postgres::{Client, Statement};
    use orm_core::{Model, Postgres};

    use super::{measure, Sale, Ticket, Variant};

    /// Rows per hand-written multi-row statement (4,000 parameters).
    const HAND_ROWS: usize = 1_000;

    thread_local! {
        /// Each hand-written statement prepared once, as a careful engineer would.
        static PREPARED: RefCell<HashMap<String, Statement>> = RefCell::new(HashMap::new());
    }

    fn prepared(client: &mut Client, sql: &str) -> orm_core::Result<Statement> {
        if let Some(stmt) = PREPARED.with(|p| p.borrow().get(sql).cloned()) {
            return Ok(stmt);
        }
        let stmt = client.prepare(sql)?;
        PREPARED.with(|p| p.borrow_mut().insert(sql.to_owned(), stmt.clone()));
        Ok(stmt)
    }

    fn multi_row_sql(rows: usize) -> String {
        let mut sql = String::from("INSERT INTO sale (id, item, price, quantity) VALUES ");
        for i in 0..rows {
            let p = i * 4;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4));
        }
        sql
    }

    fn hand_values(pg: &Postgres, sales: &[Sale], _: &[Ticket]) -> orm_core::Result<usize> {
        let mut client = pg.client();
        let full = prepared(&mut client, &multi_row_sql(HAND_ROWS))?;
        let mut tx = client.transaction()?;
        for chunk in sales.chunks(HAND_ROWS) {
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 4);
            for s in chunk {
                params.extend::<[&(dyn ToSql + Sync); 4]>([&s.id, &s.item, &s.price, &s.quantity]);
            }
            if chunk.len() == HAND_ROWS {
                tx.execute(&full, &params)?;
            } else {
                tx.execute(&multi_row_sql(chunk.len()), &params)?;
            }
        }
        tx.commit()?;
        Ok(sales.len())
    }

    fn hand_unnest(pg: &Postgres, sales: &[Sale], _: &[Ticket]) -> orm_core::Result<usize> {
        let ids: Vec<i64> = sales.iter().map(|s| s.id).collect();
        let items: Vec<&str> = sales.iter().map(|s| s.item.as_str()).collect();
        let prices: Vec<f64> = sales.iter().map(|s| s.price).collect();
        let quantities: Vec<i64> = sales.iter().map(|s| s.quantity).collect();
        let mut client = pg.client();
        let stmt = prepared(
            &mut client,
            "INSERT INTO sale (id, item, price, quantity) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::float8[], $4::int8[])",
        )?;
        let n = client.execute(&stmt, &[&ids, &items, &prices, &quantities])?;
        Ok(n as usize)
    }

    fn hand_copy(pg: &Postgres, sales: &[Sale], _: &[Ticket]) -> orm_core::Result<usize> {
        let mut client = pg.client();
        let mut writer = client.copy_in("COPY sale (id, item, price, quantity) FROM STDIN")?;
        let mut buf = String::with_capacity(sales.len() * 40);
        for s in sales {
            // No tab, newline or backslash in the names: nothing to escape.
            buf.push_str(&format!(
                "{}\t{}\t{:?}\t{}\n",
                s.id, s.item, s.price, s.quantity
            ));
        }
        writer.write_all(buf.as_bytes()).expect("COPY data sent");
        Ok(writer.finish()? as usize)
    }

    fn hand_unnest_keys(pg: &Postgres, _: &[Sale], tickets: &[Ticket]) -> orm_core::Result<usize> {
        let titles: Vec<&str> = tickets.iter().map(|t| t.title.as_str()).collect();
        let seats: Vec<i64> = tickets.iter().map(|t| t.seats).collect();
        // Keys in input order: drawn beside each row's ordinal.
        let mut client = pg.client();
        let stmt = prepared(
            &mut client,
            "WITH u AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('ticket', 'id')) AS k, v.* \
             FROM UNNEST($1::text[], $2::int8[]) WITH ORDINALITY AS v(title, seats, n)), \
             w AS (INSERT INTO ticket (id, title, seats) SELECT k, title, seats FROM u) \
             SELECT k FROM u ORDER BY n",
        )?;
        let rows = client.query(&stmt, &[&titles, &seats])?;
        let keys: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok(keys.len())
    }

    /// Keys drawn from the sequence first, then the rows with them by COPY.
    fn hand_draw_copy(pg: &Postgres, _: &[Sale], tickets: &[Ticket]) -> orm_core::Result<usize> {
        let mut client = pg.client();
        let draw = prepared(
            &mut client,
            "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence('ticket', 'id')::regclass AS s) \
             SELECT nextval(q.s) FROM q, generate_series(1, $1::int8)",
        )?;
        let keys: Vec<i64> = client
            .query(&draw, &[&(tickets.len() as i64)])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut writer = client.copy_in("COPY ticket (id, title, seats) FROM STDIN")?;
        let mut buf = String::with_capacity(tickets.len() * 24);
        for (key, t) in keys.iter().zip(tickets) {
            buf.push_str(&format!("{key}\t{}\t{}\n", t.title, t.seats));
        }
        writer.write_all(buf.as_bytes()).expect("COPY data sent");
        writer.finish()?;
        Ok(keys.len())
    }

    const KEYED: &[Variant<Postgres>] = &[
        Variant {
            name: "orm insert_all",
            hand: false,
            run: |c, s, _| Ok(Sale::insert_all(c, s)?.len()),
        },
        Variant {
            name: "hand-written: one transaction, 1,000-row VALUES",
            hand: true,
            run: hand_values,
        },
        Variant {
            name: "hand-written: one UNNEST statement",
            hand: true,
            run: hand_unnest,
        },
        Variant {
            name: "hand-written: COPY (text)",
            hand: true,
            run: hand_copy,
        },
    ];

    const AUTO: &[Variant<Postgres>] = &[
        Variant {
            name: "orm insert_all, automatic keys",
            hand: false,
            run: |c, _, t| Ok(Ticket::insert_all(c, t)?.len()),
        },
        Variant {
            name: "hand-written: one UNNEST statement, keys by ordinality",
            hand: true,
            run: hand_unnest_keys,
        },
        Variant {
            name: "hand-written: keys drawn from the sequence, then COPY (text)",
            hand: true,
            run: hand_draw_copy,
        },
    ];

    pub(crate) fn run(smoke: bool, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
        let url = std::env::var("ORM_POSTGRES_URL").map_err(|_| {
            "--postgres needs a server in ORM_POSTGRES_URL: run under scripts/with-postgres"
        })?;
        let mut pg = Postgres::connect(&url)?;
        pg.batch_execute(
            "DROP SCHEMA IF EXISTS bench_inserts CASCADE; CREATE SCHEMA bench_inserts; \
             SET search_path TO bench_inserts",
        )?;
        Sale::create_table(&pg)?;
        Ticket::create_table(&pg)?;
        measure(
            "PostgreSQL",
            &mut pg,
            |c| c.batch_execute("TRUNCATE sale; TRUNCATE ticket RESTART IDENTITY"),
            &[KEYED, AUTO],
            smoke,
            rounds,
        )?;
        pg.batch_execute("DROP SCHEMA bench_inserts CASCADE")?;
        Ok(())
    }
}
