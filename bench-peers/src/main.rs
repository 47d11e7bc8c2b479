//! Diesel 2 (`belonging_to` + `grouped_by`) and sea-orm-sync 2 (`load_many`)
//! on the prefetch task: all categories in memory, each one's products in
//! input order. Prints medians and their ratio to a hand-written batched IN
//! list measured in the same run. Run after `cargo bench --bench prefetch`
//! has generated the databases:
//!
//! ```sh
//! cd bench-peers && cargo run --release
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

mod schema {
    diesel::table! {
        category (id) {
            id -> BigInt,
            name -> Text,
        }
    }
    diesel::table! {
        product (id) {
            id -> BigInt,
            name -> Text,
            price -> Double,
            category_id -> BigInt,
        }
    }
    diesel::joinable!(product -> category (category_id));
    diesel::allow_tables_to_appear_in_same_query!(category, product);
}

mod with_diesel {
    use super::schema::{category, product};
    use diesel::prelude::*;

    #[derive(Queryable, Identifiable, Selectable, Debug, Clone)]
    #[diesel(table_name = category)]
    pub struct Category {
        pub id: i64,
        pub name: String,
    }

    #[derive(Queryable, Identifiable, Associations, Selectable, Debug)]
    #[diesel(belongs_to(Category))]
    #[diesel(table_name = product)]
    pub struct Product {
        pub id: i64,
        pub name: String,
        pub price: f64,
        pub category_id: i64,
    }

    pub fn categories(conn: &mut SqliteConnection) -> QueryResult<Vec<Category>> {
        category::table
            .order(category::id)
            .select(Category::as_select())
            .load(conn)
    }

    pub fn sql(cats: &[Category]) -> String {
        let q = Product::belonging_to(cats).select(Product::as_select());
        diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string()
    }

    pub fn prefetch(conn: &mut SqliteConnection, cats: &[Category]) -> QueryResult<usize> {
        let products = Product::belonging_to(cats)
            .select(Product::as_select())
            .load(conn)?;
        let grouped: Vec<Vec<Product>> = products.grouped_by(cats);
        Ok(grouped.iter().map(Vec::len).sum())
    }
}

mod with_sea_orm {
    pub mod category {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "category")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub name: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::product::Entity")]
            Product,
        }

        impl Related<super::product::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Product.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod product {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "product")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub name: String,
            pub price: f64,
            pub category_id: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::category::Entity",
                from = "Column::CategoryId",
                to = "super::category::Column::Id"
            )]
            Category,
        }

        impl Related<super::category::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Category.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    use sea_orm::{DatabaseConnection, DbErr, EntityTrait, LoaderTrait, QueryOrder};

    pub fn categories(db: &DatabaseConnection) -> Result<Vec<category::Model>, DbErr> {
        category::Entity::find()
            .order_by_asc(category::Column::Id)
            .all(db)
    }

    pub fn prefetch(db: &DatabaseConnection, cats: &[category::Model]) -> Result<usize, DbErr> {
        let loaded = cats.load_many(product::Entity, db)?;
        Ok(loaded.iter().map(Vec::len).sum())
    }
}

/// The same hand-written batched IN list as the main benchmark's variant (3).
fn batched(conn: &rusqlite::Connection, cats: &[i64]) -> rusqlite::Result<usize> {
    struct Product {
        _id: i64,
        _name: String,
        _price: f64,
        category_id: i64,
    }
    let limit = conn.limit(rusqlite::limits::Limit::SQLITE_LIMIT_VARIABLE_NUMBER)? as usize;
    let slot: HashMap<i64, usize> = cats.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut out: Vec<Vec<Product>> = (0..cats.len()).map(|_| Vec::new()).collect();
    for chunk in cats.chunks(limit.max(1)) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT id, name, price, category_id FROM product WHERE category_id IN ({marks})"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(chunk))?;
        while let Some(row) = rows.next()? {
            let p = Product {
                _id: row.get(0)?,
                _name: row.get(1)?,
                _price: row.get(2)?,
                category_id: row.get(3)?,
            };
            out[slot[&p.category_id]].push(p);
        }
    }
    Ok(out.iter().map(Vec::len).sum())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Median of `rounds` runs after one warm-up, or the first error.
///
/// Each variant is timed alone, on its own connection, one after the other.
/// Interleaving them (as the main benchmark does with its variants, which all
/// share one connection) misleads here: with three connections on one file,
/// each with its own page cache, whichever ran after another's large read was
/// up to 40% faster or slower than alone.
fn time_alone(
    rounds: usize,
    mut run: impl FnMut() -> Result<usize, String>,
) -> Result<(Duration, usize), String> {
    let rows = run()?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        run()?;
        times.push(start.elapsed());
    }
    Ok((median(times), rows))
}

fn main() -> AnyResult<()> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    println!("| dataset | variant | median ms | × hand-written batched | products |");
    println!("|---|---|---:|---:|---:|");
    for (name, file, step, rounds) in [
        ("S", "S", 1, 20),
        ("M", "M", 1, 8),
        ("L", "L", 1, 4),
        ("Z", "Z", 1, 8),
        ("M/100", "M", 100, 40),
    ] {
        let path = dir.join(format!("{file}-v2.sqlite3"));
        if !path.exists() {
            return Err(format!(
                "{} is missing: run `cargo bench --bench prefetch` first",
                path.display()
            )
            .into());
        }
        let url = path.to_str().ok_or("path is not UTF-8")?;

        let base = {
            let raw = rusqlite::Connection::open(&path)?;
            let mut stmt = raw.prepare("SELECT id FROM category ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            let ids: Vec<i64> = ids.into_iter().step_by(step).collect();
            time_alone(rounds, || batched(&raw, &ids).map_err(|e| e.to_string()))?
        };
        let diesel = {
            use diesel::Connection as _;
            let mut conn = diesel::SqliteConnection::establish(url)?;
            let cats: Vec<_> = with_diesel::categories(&mut conn)?
                .into_iter()
                .step_by(step)
                .collect();
            if std::env::var_os("SHOW_SQL").is_some() {
                eprintln!("{}", &with_diesel::sql(&cats[..3.min(cats.len())]));
            }
            time_alone(rounds, || {
                with_diesel::prefetch(&mut conn, &cats).map_err(|e| e.to_string())
            })
        };
        let sea = {
            let db = sea_orm::Database::connect(format!("sqlite://{url}?mode=ro"))?;
            let cats: Vec<_> = with_sea_orm::categories(&db)?
                .into_iter()
                .step_by(step)
                .collect();
            time_alone(rounds, || {
                with_sea_orm::prefetch(&db, &cats).map_err(|e| e.to_string())
            })
        };
        let results = [Ok(base), diesel, sea];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let names = [
            "hand-written batched (rusqlite 0.38)",
            "Diesel 2.3 belonging_to + grouped_by",
            "sea-orm-sync 2 load_many",
        ];
        for (variant, result) in names.into_iter().zip(results) {
            match result {
                Ok((d, rows)) => println!(
                    "| {name} | {variant} | {:.2} | {:.2} | {rows} |",
                    ms(d),
                    ms(d) / ms(base.0)
                ),
                Err(e) => {
                    // The peers' messages quote the whole statement: keep the cause.
                    let cause: String = e.chars().take(60).collect();
                    println!("| {name} | {variant} | fails: {cause}… | – | – |")
                }
            }
        }
    }
    Ok(())
}
