//! An admin page: users, their orders and each order's lines, rendered inside
//! `orm_core::strict` so that any per-row query would be an error.
//!
//! Run with `cargo run --example admin`.

use orm_core::rusqlite::Connection;
use orm_core::{count_queries, strict, ForeignKey, Model, Nested};

#[derive(Model, Debug, Clone)]
struct User {
    id: i64,
    email: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "order")] // a keyword: every identifier is quoted
struct Order {
    id: i64,
    placed: String,
    #[foreign_key(related_name = "orders")]
    user: ForeignKey<User>,
}

#[derive(Model, Debug, Clone)]
struct OrderLine {
    id: i64,
    sku: String,
    quantity: i64,
    cents: i64,
    #[foreign_key(related_name = "lines")]
    order: ForeignKey<Order>,
}

type Page = Vec<(User, Vec<(Order, Vec<OrderLine>)>)>;

fn render(conn: &Connection) -> orm_core::Result<Page> {
    let users = User::all(conn)?;
    User::prefetch_orders(conn, users)?.nested(conn, Order::prefetch_lines)
}

fn main() -> orm_core::Result<()> {
    let mut conn = Connection::open_in_memory()?;
    User::create_table(&conn)?;
    Order::create_table(&conn)?;
    OrderLine::create_table(&conn)?;
    let tx = conn.transaction()?;
    let mut line_id = 0;
    for u in 1..=20 {
        User {
            id: u,
            email: format!("user{u}@example.com"),
        }
        .insert(&tx)?;
        for o in 0..u % 4 {
            let id = u * 10 + o;
            let placed = format!("2026-11-{:02}", 1 + o);
            Order {
                id,
                placed,
                user: ForeignKey::new(u),
            }
            .insert(&tx)?;
            for l in 0..=o {
                line_id += 1;
                let sku = format!("SKU-{:03}", (u * 7 + l) % 50);
                let (quantity, cents) = (1 + l, 250 * (1 + (u + l) % 9));
                OrderLine {
                    id: line_id,
                    sku,
                    quantity,
                    cents,
                    order: ForeignKey::new(id),
                }
                .insert(&tx)?;
            }
        }
    }
    tx.commit()?;

    // The page the N+1 way: one query per user for its orders, one per order
    // for its lines.
    let (lines, n_plus_one) = count_queries(&mut conn, |conn| -> orm_core::Result<usize> {
        let mut lines = 0;
        for user in User::all(conn)? {
            for order in user.orders(conn)? {
                lines += order.lines(conn)?.len();
            }
        }
        Ok(lines)
    });
    println!("the N+1 way: {} lines in {n_plus_one} statements", lines?);

    // The strict scope proves the page has no N+1: a lazy accessor would fail.
    let (page, n) = count_queries(&mut conn, |conn| strict(conn, || render(conn)));
    let page = page?;
    for (user, orders) in page.iter().take(6) {
        let total: i64 = orders
            .iter()
            .flat_map(|(_, lines)| lines)
            .map(|l| l.quantity * l.cents)
            .sum();
        println!(
            "{:<22} {} order(s), {} line(s), {:>8.2} total",
            user.email,
            orders.len(),
            orders.iter().map(|(_, l)| l.len()).sum::<usize>(),
            total as f64 / 100.0
        );
    }
    println!(
        "... {} users rendered in {n} statements, inside orm_core::strict",
        page.len()
    );

    // What the guard catches: a per-row accessor inside the strict scope.
    let user = page[0].0.clone();
    let refused = strict(&conn, || user.orders(&conn)).unwrap_err();
    println!("refused: {refused}");
    Ok(())
}
