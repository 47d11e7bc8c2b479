//! Reverse prefetch against hand-written rusqlite, on file databases.
//!
//! `cargo bench --bench prefetch` generates the databases on first run (in
//! `target/bench-data/`), times every variant round-robin, and prints medians
//! with ratios to the hand-written batched IN list and to the floor, statement
//! counts and peak heap. `-- --smoke` runs tiny data once, for CI; `-- --chart`
//! also writes `docs/n-plus-one-vs-prefetch.svg`; `-- --alone` times each
//! variant's rounds back to back instead of interleaved; `-- --only=M,Z` and
//! `-- --rounds=N` narrow a run; `-- --profile=V` runs only the variant whose
//! name starts with `V` (`orm prefetch`, `hand-written batched`) for a profiler;
//! with `-- --fresh` that variant's one call is the connection's first statement
//! (categories built in memory, no statement cached), for whole-process counts.
//! The insert rows (`inserts.rs`, `-- --only=inserts` alone) time
//! `insert_all` of 10,000 rows against hand-written bulk inserts. With the
//! `tokio` feature each dataset also times `AsyncSqlite` against the sync
//! call, and with `postgres` and `--postgres` `AsyncPostgres` against
//! hand-written tokio-postgres; `-- --async-only` runs only those rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orm_core::rusqlite::limits::Limit;
use orm_core::rusqlite::{params_from_iter, Connection, OpenFlags};
use orm_core::{count_queries, ForeignKey, Model};
use peak_alloc::PeakAlloc;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

mod inserts;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

#[derive(Model, Debug, Clone, PartialEq)]
struct Category {
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Product {
    id: i64,
    name: String,
    price: f64,
    #[foreign_key(related_name = "products")]
    category: ForeignKey<Category>,
}

/// One database: how many categories, and how many products each has.
struct Dataset {
    name: &'static str,
    /// The database file it reads (M/100 reads M's).
    file: &'static str,
    categories: usize,
    products_of: fn(usize) -> usize,
    /// Only every `step`-th category is given to the loaders.
    step: usize,
    rounds: usize,
}

fn zipf(rank: usize) -> usize {
    // Harmonic weights over 1,000 ranks, scaled to about 100,000 products.
    const H_1000: f64 = 7.485_470_860_550_345;
    ((100_000.0 / (H_1000 * rank as f64)).round() as usize).max(1)
}

const DATASETS: &[Dataset] = &[
    Dataset {
        name: "S",
        file: "S",
        categories: 1_000,
        products_of: |_| 10,
        step: 1,
        rounds: 30,
    },
    Dataset {
        name: "M",
        file: "M",
        categories: 10_000,
        products_of: |_| 10,
        step: 1,
        rounds: 12,
    },
    Dataset {
        name: "L",
        file: "L",
        categories: 50_000,
        products_of: |_| 4,
        step: 1,
        rounds: 12,
    },
    Dataset {
        name: "Z",
        file: "Z",
        categories: 1_000,
        products_of: zipf,
        step: 1,
        rounds: 12,
    },
    Dataset {
        name: "M/10",
        file: "M",
        categories: 10_000,
        products_of: |_| 10,
        step: 10,
        rounds: 30,
    },
    Dataset {
        name: "M/30",
        file: "M",
        categories: 10_000,
        products_of: |_| 10,
        step: 30,
        rounds: 40,
    },
    Dataset {
        name: "M/100",
        file: "M",
        categories: 10_000,
        products_of: |_| 10,
        step: 100,
        rounds: 60,
    },
];

const SMOKE: Dataset = Dataset {
    name: "smoke",
    file: "smoke",
    categories: 50,
    products_of: |c| c % 4,
    step: 1,
    rounds: 1,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

/// The dataset's database file in `dir`.
fn file(set: &Dataset, dir: &Path) -> PathBuf {
    dir.join(format!("{}-v2.sqlite3", set.file))
}

/// Opens the dataset's file, creating it on first use. Products are shuffled
/// over the table, as in a table that grew over time.
fn open(set: &Dataset, dir: &Path) -> Result<Connection, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let path = file(set, dir);
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut conn = Connection::open(&tmp)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE category (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                 price REAL NOT NULL, category_id INTEGER NOT NULL REFERENCES category(id));",
        )?;
        let mut owners = Vec::new();
        for c in 1..=set.categories {
            owners.extend(std::iter::repeat_n(c as i64, (set.products_of)(c)));
        }
        owners.shuffle(&mut StdRng::seed_from_u64(27_833));
        let tx = conn.transaction()?;
        let cats: Vec<Category> = (1..=set.categories as i64)
            .map(|id| Category {
                id,
                name: format!("category {id}"),
            })
            .collect();
        Category::insert_all(&tx, &cats)?;
        let products: Vec<Product> = owners
            .iter()
            .enumerate()
            .map(|(i, &c)| Product {
                id: i as i64 + 1,
                name: format!("product {}", i + 1),
                price: (i % 1000) as f64 / 4.0,
                category: ForeignKey::new(c),
            })
            .collect();
        Product::insert_all(&tx, &products)?;
        tx.execute_batch("CREATE INDEX product_category_id ON product (category_id);")?;
        tx.commit()?;
        drop(conn);
        std::fs::rename(&tmp, &path)?;
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn)
}

// ---- the variants -----------------------------------------------------------

type Output = Vec<Vec<Product>>;

fn product(row: &orm_core::rusqlite::Row<'_>) -> orm_core::rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        name: row.get(1)?,
        price: row.get(2)?,
        category: ForeignKey::new(row.get(3)?),
    })
}

/// What hand-written grouping starts from: each category's position by id,
/// and one empty `Vec` per category.
fn slots(cats: &[Category]) -> (HashMap<i64, usize>, Output) {
    let mut slot = HashMap::with_capacity(cats.len());
    for (i, cat) in cats.iter().enumerate() {
        slot.entry(cat.id).or_insert(i);
    }
    (slot, (0..cats.len()).map(|_| Vec::new()).collect())
}

/// (2) One cached query per category.
fn n_plus_one(conn: &Connection, cats: &[Category]) -> orm_core::Result<Output> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, price, category_id FROM product WHERE category_id = ?1 ORDER BY id",
    )?;
    let mut out = Vec::with_capacity(cats.len());
    for cat in cats {
        let rows = stmt.query_map([cat.id], product)?;
        out.push(rows.collect::<Result<Vec<_>, _>>()?);
    }
    Ok(out)
}

/// (3) What a careful engineer writes: IN lists chunked at the runtime limit,
/// cached statements, HashMap grouping, assembled in input order.
fn batched(conn: &Connection, cats: &[Category]) -> orm_core::Result<Output> {
    let limit = conn.limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER)? as usize;
    let (slot, mut out) = slots(cats);
    let keys: Vec<i64> = cats.iter().map(|c| c.id).collect();
    for chunk in keys.chunks(limit.max(1)) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT id, name, price, category_id FROM product WHERE category_id IN ({marks})"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(chunk))?;
        while let Some(row) = rows.next()? {
            let p = product(row)?;
            out[slot[p.category.key()]].push(p);
        }
    }
    Ok(out)
}

/// (5) Hand-written full scan of `product`, kept when the key is wanted: what
/// beats any IN list once the keys cover much of the table.
fn scan_filter(conn: &Connection, cats: &[Category]) -> orm_core::Result<Output> {
    let (slot, mut out) = slots(cats);
    let mut stmt = conn.prepare_cached("SELECT id, name, price, category_id FROM product")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        if let Some(&i) = slot.get(&row.get::<_, i64>(3)?) {
            out[i].push(product(row)?);
        }
    }
    Ok(out)
}

/// (4) The floor: every product row stepped once into one `Vec`.
fn floor(conn: &Connection) -> orm_core::Result<Vec<Product>> {
    let mut stmt = conn.prepare_cached("SELECT id, name, price, category_id FROM product")?;
    let rows = stmt.query_map([], product)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A variant gets its own copy of the categories, made before the clock starts
/// (`prefetch_products` consumes them; the others borrow), and hands back what
/// it produced, so that the clock stops before the result is dropped.
struct Variant<C = Connection> {
    name: &'static str,
    run: fn(&C, Vec<Category>) -> orm_core::Result<Loaded>,
}

/// What a variant produced.
enum Loaded {
    Pairs(Vec<(Category, Vec<Product>)>),
    Groups(Output),
    Flat(Vec<Product>),
}

impl Loaded {
    fn rows(&self) -> usize {
        match self {
            Loaded::Pairs(pairs) => pairs.iter().map(|(_, p)| p.len()).sum(),
            Loaded::Groups(groups) => total(groups),
            Loaded::Flat(rows) => rows.len(),
        }
    }
}

fn total(out: &Output) -> usize {
    out.iter().map(Vec::len).sum()
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "orm prefetch_products",
        run: |conn, cats| Ok(Loaded::Pairs(Category::prefetch_products(conn, cats)?)),
    },
    Variant {
        name: "orm load_products",
        run: |conn, cats| Ok(Loaded::Groups(Category::load_products(conn, &cats)?)),
    },
    Variant {
        name: "orm accessor per category (N+1)",
        run: |conn, cats| {
            let groups = cats
                .iter()
                .map(|c| c.products(conn))
                .collect::<orm_core::Result<_>>()?;
            Ok(Loaded::Groups(groups))
        },
    },
    Variant {
        name: "hand-written N+1",
        run: |conn, cats| Ok(Loaded::Groups(n_plus_one(conn, &cats)?)),
    },
    Variant {
        name: "hand-written batched",
        run: |conn, cats| Ok(Loaded::Groups(batched(conn, &cats)?)),
    },
    Variant {
        name: "hand-written scan + hash filter",
        run: |conn, cats| Ok(Loaded::Groups(scan_filter(conn, &cats)?)),
    },
    Variant {
        name: "floor (all rows, one Vec)",
        run: |conn, _| Ok(Loaded::Flat(floor(conn)?)),
    },
];

const BATCHED: usize = 4;
const FLOOR: usize = 6;

// ---- queries: filtered and top-N prefetch, filtered selects ------------------

/// Products above this price: half of them (prices are `(i % 1000) / 4`).
const MIN_PRICE: f64 = 125.0;

fn products_above() -> orm_core::Query<Product> {
    Product::query().filter(Product::fields().price.gt(MIN_PRICE))
}

fn three_most_expensive() -> orm_core::Query<Product> {
    Product::query()
        .order_by(Product::fields().price.desc())
        .limit(3)
}

/// Hand-written: `sql` with `chunk` keys per statement (`{keys}` in it),
/// `extra` bound after them, rows grouped by category.
fn batched_with(
    conn: &Connection,
    cats: &[Category],
    sql: &str,
    extra: Option<f64>,
) -> orm_core::Result<Output> {
    let limit = conn.limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER)? as usize;
    let chunk = limit.saturating_sub(usize::from(extra.is_some())).max(1);
    let (slot, mut out) = slots(cats);
    let keys: Vec<i64> = cats.iter().map(|c| c.id).collect();
    for chunk in keys.chunks(chunk) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut stmt = conn.prepare_cached(&sql.replace("{keys}", &marks))?;
        let mut params: Vec<&dyn orm_core::rusqlite::ToSql> = chunk
            .iter()
            .map(|k| k as &dyn orm_core::rusqlite::ToSql)
            .collect();
        if let Some(extra) = &extra {
            params.push(extra);
        }
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(row) = rows.next()? {
            let p = product(row)?;
            out[slot[p.category.key()]].push(p);
        }
    }
    Ok(out)
}

/// Each pair: the library, then what a careful engineer writes by hand.
const QUERY_VARIANTS: &[Variant] = &[
    Variant {
        name: "orm filtered prefetch (price > 125)",
        run: |conn, cats| {
            Ok(Loaded::Groups(Category::load_products_with(
                conn,
                &cats,
                products_above(),
            )?))
        },
    },
    Variant {
        name: "hand-written filtered batched",
        run: |conn, cats| {
            let sql = "SELECT id, name, price, category_id FROM product \
                       WHERE category_id IN ({keys}) AND price > ?";
            Ok(Loaded::Groups(batched_with(
                conn,
                &cats,
                sql,
                Some(MIN_PRICE),
            )?))
        },
    },
    Variant {
        name: "orm top-3 per category (price desc)",
        run: |conn, cats| {
            Ok(Loaded::Groups(Category::load_products_with(
                conn,
                &cats,
                three_most_expensive(),
            )?))
        },
    },
    Variant {
        name: "hand-written window query",
        run: |conn, cats| {
            let sql =
                "SELECT id, name, price, category_id FROM (SELECT id, name, price, category_id, \
                       row_number() OVER (PARTITION BY category_id ORDER BY price DESC, id) AS rn \
                       FROM product WHERE category_id IN ({keys})) WHERE rn <= 3";
            Ok(Loaded::Groups(batched_with(conn, &cats, sql, None)?))
        },
    },
    Variant {
        name: "orm query().filter().all()",
        run: |conn, _| Ok(Loaded::Flat(products_above().all(conn)?)),
    },
    Variant {
        name: "hand-written prepare_cached + mapping",
        run: |conn, _| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, price, category_id FROM product WHERE price > ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([MIN_PRICE], product)?;
            Ok(Loaded::Flat(rows.collect::<Result<_, _>>()?))
        },
    },
];

fn report_queries(set: &Dataset, rounds: usize, results: &[Measured]) {
    println!(
        "\n### {}: queries ({} rounds; each library row against the hand-written row under it)\n",
        set.name, rounds
    );
    println!("| variant | median ms | × hand-written | rows | statements | peak heap MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (pair, variants) in results.chunks(2).zip(QUERY_VARIANTS.chunks(2)) {
        let [orm, hand] = pair else { continue };
        assert_eq!(
            orm.rows, hand.rows,
            "{} loaded another number of rows",
            variants[0].name
        );
        for (variant, m) in variants.iter().zip(pair) {
            println!(
                "| {} | {:.2} | {:.2} | {} | {} | {:.1} |",
                variant.name,
                ms(m.median),
                ms(m.median) / ms(hand.median),
                m.rows,
                m.statements,
                mib(m.peak_heap)
            );
        }
    }
}

// ---- measuring ----------------------------------------------------------------

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Measured {
    /// Until the result is produced.
    median: Duration,
    /// Until it is also dropped.
    with_drop: Duration,
    statements: usize,
    peak_heap: usize,
    rows: usize,
}

/// Peak heap above what was live before the call, with the input already built
/// and the result still alive.
fn peak_of(f: impl FnOnce() -> orm_core::Result<Loaded>) -> orm_core::Result<usize> {
    let before = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let loaded = f()?;
    let peak = HEAP.peak_usage().saturating_sub(before);
    drop(loaded);
    Ok(peak)
}

fn measure<C: orm_core::Recordable>(
    conn: &mut C,
    cats: &[Category],
    variants: &[Variant<C>],
    rounds: usize,
    alone: bool,
    warmup: usize,
) -> orm_core::Result<Vec<Measured>> {
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    let mut with_drop = times.clone();
    // Every variant once per round, so that a noisy moment hits all alike, in
    // a new order each round: whatever runs after the floor's full scan finds
    // SQLite's page cache full of table pages instead of index pages, and that
    // must not always be the same variant. The first `warmup` rounds warm up.
    // With `--alone`, each variant's rounds run back to back instead, so each
    // finds the cache as it left it, as a program repeating one task would.
    let mut rng = StdRng::seed_from_u64(4662);
    let mut order: Vec<usize> = (0..variants.len()).collect();
    let schedule: Vec<(usize, usize)> = if alone {
        (0..variants.len())
            .flat_map(|v| (0..warmup + rounds).map(move |round| (round, v)))
            .collect()
    } else {
        (0..warmup + rounds)
            .flat_map(|round| {
                order.shuffle(&mut rng);
                order.clone().into_iter().map(move |v| (round, v))
            })
            .collect()
    };
    {
        for &(round, v) in &schedule {
            let variant = &variants[v];
            let input = cats.to_vec();
            let start = Instant::now();
            let loaded = (variant.run)(conn, input)?;
            let produced = start.elapsed();
            drop(std::hint::black_box(loaded));
            let freed = start.elapsed();
            if round >= warmup || rounds == 1 {
                times[v].push(produced);
                with_drop[v].push(freed);
            }
        }
    }
    let mut out = Vec::new();
    for (v, variant) in variants.iter().enumerate() {
        let (rows, statements) = count_queries(conn, |conn| (variant.run)(conn, cats.to_vec()));
        let rows = rows?.rows();
        let input = cats.to_vec();
        let peak_heap = peak_of(|| (variant.run)(conn, input))?;
        out.push(Measured {
            median: median(std::mem::take(&mut times[v])),
            with_drop: median(std::mem::take(&mut with_drop[v])),
            statements,
            peak_heap,
            rows,
        });
    }
    Ok(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn report(set: &Dataset, cats: usize, rounds: usize, results: &[Measured]) {
    println!(
        "\n### {} ({} categories given, {} products loaded, {} rounds)\n",
        set.name, cats, results[0].rows, rounds
    );
    println!(
        "| variant | median ms | × batched | × floor | with drop ms | × batched | × floor \
         | statements | peak heap MiB | heap × batched |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = ms(results[BATCHED].median);
    let low = ms(results[FLOOR].median);
    let base_drop = ms(results[BATCHED].with_drop);
    let low_drop = ms(results[FLOOR].with_drop);
    let heap = results[BATCHED].peak_heap.max(1) as f64;
    for (variant, m) in VARIANTS.iter().zip(results) {
        let t = ms(m.median);
        let d = ms(m.with_drop);
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.2} |",
            variant.name,
            t,
            t / base,
            t / low,
            d,
            d / base_drop,
            d / low_drop,
            m.statements,
            mib(m.peak_heap),
            m.peak_heap as f64 / heap
        );
    }
    for (variant, m) in VARIANTS.iter().zip(results).take(FLOOR) {
        // The floor loads every product, whichever categories were given.
        assert_eq!(
            m.rows, results[BATCHED].rows,
            "{} loaded a different number of rows",
            variant.name
        );
    }
}

/// Median times against number of parents on M: (parents, ms).
type Series = Vec<(f64, f64)>;

/// The N+1 loop and one prefetch, timed for 1 to 10,000 categories of M
/// spread over the whole table (like M/100): the chart's lines.
fn series(
    all: &[Category],
    n_plus_one: &dyn Fn(&[Category]) -> orm_core::Result<Output>,
    prefetch: &dyn Fn(&[Category]) -> orm_core::Result<Output>,
) -> orm_core::Result<(Series, Series)> {
    let sizes = [1usize, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000];
    let mut n1 = Vec::new();
    let mut pf = Vec::new();
    for &n in &sizes {
        let cats: Vec<Category> = all.iter().step_by(all.len() / n).take(n).cloned().collect();
        let rounds = 7;
        let time = |f: &dyn Fn(&[Category]) -> orm_core::Result<Output>| -> orm_core::Result<f64> {
            // Six runs first: PostgreSQL plans a prepared statement afresh
            // for its first five runs before it settles on a plan.
            for _ in 0..6 {
                f(&cats)?;
            }
            let v = (0..rounds)
                .map(|_| {
                    let s = Instant::now();
                    f(&cats).map(|_| s.elapsed())
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ms(median(v)))
        };
        n1.push((n as f64, time(n_plus_one)?));
        pf.push((n as f64, time(prefetch)?));
    }
    Ok((n1, pf))
}

/// Time against number of parents on M: N+1 against prefetch, as an SVG,
/// with PostgreSQL's lines when given.
fn chart(
    sqlite: (Series, Series),
    postgres: Option<(Series, Series)>,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let (n1, pf) = sqlite;
    let every = || {
        n1.iter()
            .chain(&pf)
            .chain(postgres.iter().flat_map(|(a, b)| a.iter().chain(b)))
    };
    let root = SVGBackend::new(out, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = every().map(|p| p.1).fold(0.0, f64::max) * 1.5;
    let min = every().map(|p| p.1).fold(f64::MAX, f64::min) / 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Loading each category's products (M: 10 products per category)",
            ("sans-serif", 18),
        )
        .margin(16)
        .margin_right(36)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1.0f64..10_000.0).log_scale(), (min..max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("categories given")
        .y_desc("median time, ms")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let red = RGBColor(200, 40, 40);
    let blue = RGBColor(30, 90, 200);
    chart
        .draw_series(LineSeries::new(n1.clone(), red.stroke_width(2)))?
        .label("N+1: one query per category (prepare_cached)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    chart.draw_series(n1.iter().map(|&p| Circle::new(p, 3, red.filled())))?;
    chart
        .draw_series(LineSeries::new(pf.clone(), blue.stroke_width(2)))?
        .label("Category::load_products: one query")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart.draw_series(pf.iter().map(|&p| Circle::new(p, 3, blue.filled())))?;
    if let Some((n1, pf)) = &postgres {
        let orange = RGBColor(230, 130, 20);
        let green = RGBColor(20, 140, 70);
        let dashed = |c: RGBColor| c.stroke_width(2);
        chart
            .draw_series(LineSeries::new(n1.clone(), dashed(orange)))?
            .label("PostgreSQL N+1: one prepared query per category")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dashed(orange)));
        chart.draw_series(
            n1.iter()
                .map(|&p| TriangleMarker::new(p, 4, orange.filled())),
        )?;
        chart
            .draw_series(LineSeries::new(pf.clone(), dashed(green)))?
            .label("PostgreSQL Category::load_products: one query")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], dashed(green)));
        chart.draw_series(
            pf.iter()
                .map(|&p| TriangleMarker::new(p, 4, green.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("\nchart written to {}", out.display());
    let lines = std::iter::once(("SQLite", &n1, &pf))
        .chain(postgres.iter().map(|(a, b)| ("PostgreSQL", a, b)));
    for (backend, n1, pf) in lines {
        for ((n, a), (_, b)) in n1.iter().zip(pf) {
            println!(
                "  {backend:<10} {n:>6} categories: N+1 {a:>9.3} ms, prefetch {b:>8.3} ms, {:.1}x",
                a / b
            );
        }
    }
    Ok(())
}

/// Runs one variant `rounds` times: what `--profile=V` hands a profiler.
/// `valgrind --tool=callgrind --toggle-collect='*profiled*'` counts only this.
#[inline(never)]
fn profiled<C>(
    variant: &Variant<C>,
    conn: &C,
    cats: &[Category],
    rounds: usize,
) -> orm_core::Result<usize> {
    let mut rows = 0;
    for _ in 0..rounds {
        rows += (variant.run)(conn, cats.to_vec())?.rows();
    }
    Ok(rows)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let profile_name = args.iter().find_map(|a| a.strip_prefix("--profile="));
    let profile: Option<&Variant> = profile_name
        .filter(|_| !args.iter().any(|a| a == "--postgres"))
        .and_then(|v| {
            VARIANTS
                .iter()
                .chain(QUERY_VARIANTS)
                .find(|variant| variant.name.starts_with(v))
        });
    let smoke = args.iter().any(|a| a == "--smoke");
    let postgres = args.iter().any(|a| a == "--postgres");
    if postgres && cfg!(not(feature = "postgres")) {
        return Err("--postgres needs the postgres feature: \
                    cargo bench --bench prefetch --features postgres -- --postgres"
            .into());
    }
    let async_only = args.iter().any(|a| a == "--async-only");
    if async_only && cfg!(not(feature = "tokio")) {
        return Err("--async-only needs the tokio feature: \
                    cargo bench --bench prefetch --features tokio -- --async-only"
            .into());
    }
    let want_chart = args.iter().any(|a| a == "--chart");
    let fresh = args.iter().any(|a| a == "--fresh");
    if fresh && profile.is_none() {
        return Err("--fresh goes with --profile=V".into());
    }
    let alone = args.iter().any(|a| a == "--alone");
    let rounds: Option<usize> = args
        .iter()
        .find_map(|a| a.strip_prefix("--rounds="))
        .and_then(|r| r.parse().ok());
    let only: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--only="))
        .flat_map(|s| s.split(','))
        .collect();

    let (sets, dir): (Vec<&Dataset>, PathBuf) = if smoke {
        let dir = std::env::temp_dir().join(format!("orm-bench-smoke-{}", std::process::id()));
        (vec![&SMOKE], dir)
    } else {
        (
            DATASETS
                .iter()
                .filter(|s| only.is_empty() || only.contains(&s.name))
                .collect(),
            data_dir(),
        )
    };
    println!(
        "prefetch benchmark: medians; ratios to the hand-written batched IN list (x batched) \
         and to stepping every product row once (x floor)"
    );
    for set in sets {
        let mut conn = open(set, &dir)?;
        let cats: Vec<Category> = if fresh {
            // What `Category::all` would read, without a statement run.
            (1..=set.categories as i64)
                .step_by(set.step)
                .map(|id| Category {
                    id,
                    name: format!("category {id}"),
                })
                .collect()
        } else {
            Category::all(&conn)?
                .into_iter()
                .step_by(set.step)
                .collect()
        };
        let rounds = rounds.unwrap_or(set.rounds);
        #[cfg(feature = "postgres")]
        if postgres && profile_name.is_some() {
            pg::run(set, &conn, &cats, rounds, alone, profile_name)?;
            continue;
        }
        if let Some(variant) = profile {
            // Warm the page and statement caches, then run only the variant;
            // with `--fresh`, its first call is the connection's first.
            if !fresh {
                (variant.run)(&conn, cats.to_vec())?;
            }
            let rows = profiled(variant, &conn, &cats, rounds)?;
            println!(
                "{}: {} on {}, {rounds} rounds, {rows} rows",
                set.name,
                variant.name,
                cats.len()
            );
            continue;
        }
        if async_only {
            #[cfg(feature = "tokio")]
            run_async(set, &dir, &conn, &cats, rounds, postgres)?;
            continue;
        }
        let results = measure(&mut conn, &cats, VARIANTS, rounds, alone, 1)?;
        report(set, cats.len(), rounds, &results);
        if set.name == "M" || smoke {
            let results = measure(&mut conn, &cats, QUERY_VARIANTS, rounds, alone, 1)?;
            report_queries(set, rounds, &results);
        }
        #[cfg(feature = "postgres")]
        if postgres {
            pg::run(set, &conn, &cats, rounds, alone, profile_name)?;
        }
        #[cfg(feature = "tokio")]
        run_async(set, &dir, &conn, &cats, rounds, postgres)?;
        if want_chart && set.name == "M" {
            let out =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/n-plus-one-vs-prefetch.svg");
            std::fs::create_dir_all(out.parent().expect("docs/"))?;
            let sqlite = series(&cats, &|c| n_plus_one(&conn, c), &|c| {
                Category::load_products(&conn, c)
            })?;
            #[cfg(feature = "postgres")]
            let postgres = match postgres {
                true => Some(pg::series(set, &conn)?),
                false => None,
            };
            #[cfg(not(feature = "postgres"))]
            let postgres = None;
            chart(sqlite, postgres, &out)?;
        }
    }
    if profile_name.is_none() && !async_only && (only.is_empty() || only.contains(&"inserts")) {
        inserts::sqlite(&dir, smoke, rounds.unwrap_or(INSERT_ROUNDS))?;
        #[cfg(feature = "postgres")]
        if postgres {
            inserts::pg::run(smoke, rounds.unwrap_or(INSERT_ROUNDS))?;
        }
    }
    if smoke {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// The async rows of a dataset: `AsyncSqlite`, and `AsyncPostgres` with `--postgres`.
#[cfg(feature = "tokio")]
fn run_async(
    set: &Dataset,
    dir: &Path,
    conn: &Connection,
    cats: &[Category],
    rounds: usize,
    postgres: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    nonblocking::sqlite(set, dir, cats, rounds)?;
    #[cfg(feature = "postgres")]
    if postgres {
        nonblocking::pg::run(set, conn, cats, rounds)?;
    }
    #[cfg(not(feature = "postgres"))]
    let _ = (conn, postgres);
    Ok(())
}

/// Rounds of the insert rows (`-- --only=inserts` runs only them).
const INSERT_ROUNDS: usize = 60;

/// The same task on PostgreSQL (`-- --postgres`, with the `postgres` feature
/// and a server in `ORM_POSTGRES_URL`: `scripts/with-postgres cargo bench
/// --bench prefetch --features postgres -- --postgres`). Each dataset is
/// copied from its SQLite file into a schema of its own, in the same row
/// order, and timed against hand-written `postgres` code.
#[cfg(feature = "postgres")]
mod pg {
    use std::cell::RefCell;
    use std::io::Write;

    use orm_core::postgres::Statement;
    use orm_core::Postgres;

    use super::*;

    type Error = Box<dyn std::error::Error>;

    /// A connection in the dataset's schema, loaded on first use.
    pub(super) fn open(set: &Dataset, sqlite: &Connection) -> Result<Postgres, Error> {
        let url = std::env::var("ORM_POSTGRES_URL").map_err(|_| {
            "--postgres needs a server in ORM_POSTGRES_URL: run under scripts/with-postgres"
        })?;
        let pg = Postgres::connect(&url)?;
        let schema = schema(set);
        pg.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
        ))?;
        let loaded: bool = pg.query(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'product')",
            &[],
        )?[0]
            .get(0);
        if !loaded {
            pg.batch_execute(
                "CREATE TABLE category (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
                 CREATE TABLE product (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
                     price DOUBLE PRECISION NOT NULL,
                     category_id BIGINT NOT NULL REFERENCES category (id));",
            )?;
            copy(
                &pg,
                sqlite,
                "SELECT id, name FROM category ORDER BY rowid",
                "category (id, name)",
            )?;
            copy(
                &pg,
                sqlite,
                "SELECT id, name, price, category_id FROM product ORDER BY rowid",
                "product (id, name, price, category_id)",
            )?;
            pg.batch_execute(
                "CREATE INDEX product_category_id ON product (category_id);
                 ANALYZE category; ANALYZE product;",
            )?;
        }
        Ok(pg)
    }

    /// The schema a dataset is copied into.
    pub(super) fn schema(set: &Dataset) -> String {
        format!("bench_{}", set.file.to_lowercase())
    }

    /// Copies a query's rows into `target` with COPY, as tab-separated text.
    fn copy(pg: &Postgres, sqlite: &Connection, query: &str, target: &str) -> Result<(), Error> {
        let mut client = pg.client();
        let mut writer = client.copy_in(&format!("COPY {target} FROM STDIN"))?;
        let mut stmt = sqlite.prepare(query)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mut line = String::new();
            for i in 0..columns {
                if i > 0 {
                    line.push('\t');
                }
                match row.get_ref(i)? {
                    orm_core::rusqlite::types::ValueRef::Integer(v) => line += &v.to_string(),
                    orm_core::rusqlite::types::ValueRef::Real(v) => line += &v.to_string(),
                    orm_core::rusqlite::types::ValueRef::Text(t) => line += std::str::from_utf8(t)?,
                    other => return Err(format!("unexpected {other:?}").into()),
                }
            }
            line.push('\n');
            writer.write_all(line.as_bytes())?;
        }
        writer.finish()?;
        Ok(())
    }

    thread_local! {
        /// What a careful engineer keeps: each statement prepared once per
        /// connection (cleared when a dataset opens a new connection).
        static PREPARED: RefCell<HashMap<&'static str, Statement>> = RefCell::new(HashMap::new());
    }

    fn prepared(pg: &Postgres, sql: &'static str) -> orm_core::Result<Statement> {
        if let Some(stmt) = PREPARED.with(|p| p.borrow().get(sql).cloned()) {
            return Ok(stmt);
        }
        let stmt = pg.client().prepare(sql)?;
        PREPARED.with(|p| p.borrow_mut().insert(sql, stmt.clone()));
        Ok(stmt)
    }

    pub(super) fn product(row: &orm_core::postgres::Row) -> Product {
        Product {
            id: row.get(0),
            name: row.get(1),
            price: row.get(2),
            category: ForeignKey::new(row.get(3)),
        }
    }

    /// One prepared query per category.
    fn n_plus_one(pg: &Postgres, cats: &[Category]) -> orm_core::Result<Output> {
        let stmt = prepared(
            pg,
            "SELECT id, name, price, category_id FROM product WHERE category_id = $1 ORDER BY id",
        )?;
        let mut client = pg.client();
        cats.iter()
            .map(|cat| {
                Ok(client
                    .query(&stmt, &[&cat.id])?
                    .iter()
                    .map(product)
                    .collect())
            })
            .collect()
    }

    /// One `= ANY($1)` query with every key as one array, grouped in Rust, in
    /// input order; each group in key order, as the library returns them.
    fn batched(pg: &Postgres, cats: &[Category]) -> orm_core::Result<Output> {
        let stmt = prepared(
            pg,
            "SELECT id, name, price, category_id FROM product WHERE category_id = ANY($1)",
        )?;
        let (slot, mut out) = slots(cats);
        let keys: Vec<i64> = cats.iter().map(|c| c.id).collect();
        for row in pg.client().query(&stmt, &[&keys])? {
            let p = product(&row);
            out[slot[p.category.key()]].push(p);
        }
        for group in &mut out {
            group.sort_unstable_by_key(|p| p.id);
        }
        Ok(out)
    }

    /// The whole table once, filtered in Rust: what beats any key list
    /// once the keys cover much of the table.
    fn scan(pg: &Postgres, cats: &[Category]) -> orm_core::Result<Output> {
        let stmt = prepared(pg, "SELECT id, name, price, category_id FROM product")?;
        let (slot, mut out) = slots(cats);
        for row in pg.client().query(&stmt, &[])? {
            let category: i64 = row.get(3);
            if let Some(&i) = slot.get(&category) {
                out[i].push(product(&row));
            }
        }
        for group in &mut out {
            group.sort_unstable_by_key(|p| p.id);
        }
        Ok(out)
    }

    const VARIANTS: &[Variant<Postgres>] = &[
        Variant {
            name: "orm prefetch_products",
            run: |pg, cats| Ok(Loaded::Pairs(Category::prefetch_products(pg, cats)?)),
        },
        Variant {
            name: "orm load_products",
            run: |pg, cats| Ok(Loaded::Groups(Category::load_products(pg, &cats)?)),
        },
        Variant {
            name: "orm accessor per category (N+1)",
            run: |pg, cats| {
                let groups = cats
                    .iter()
                    .map(|c| c.products(pg))
                    .collect::<orm_core::Result<_>>()?;
                Ok(Loaded::Groups(groups))
            },
        },
        Variant {
            name: "hand-written N+1 (prepared)",
            run: |pg, cats| Ok(Loaded::Groups(n_plus_one(pg, &cats)?)),
        },
        Variant {
            name: "hand-written = ANY($1), grouped",
            run: |pg, cats| Ok(Loaded::Groups(batched(pg, &cats)?)),
        },
        Variant {
            name: "hand-written scan + hash filter",
            run: |pg, cats| Ok(Loaded::Groups(scan(pg, &cats)?)),
        },
    ];

    const BATCHED: usize = 4;
    const N_PLUS_ONE: usize = 3;
    const PLAN_CACHE_WARMUP: usize = 6;
    const SCAN: usize = 5;

    pub(super) fn run(
        set: &Dataset,
        sqlite: &Connection,
        cats: &[Category],
        rounds: usize,
        alone: bool,
        profile: Option<&str>,
    ) -> Result<(), Error> {
        PREPARED.with(|p| p.borrow_mut().clear());
        let mut pg = open(set, sqlite)?;
        if let Some(name) = profile {
            let variant = VARIANTS
                .iter()
                .find(|v| v.name.starts_with(name))
                .ok_or("no PostgreSQL variant has that name")?;
            (variant.run)(&pg, cats.to_vec())?;
            let rows = profiled(variant, &pg, cats, rounds)?;
            println!(
                "{} on PostgreSQL: {}, {rounds} rounds, {rows} rows",
                set.name, variant.name
            );
            return Ok(());
        }
        // Each round of N+1 on L is 50,000 round trips: fewer rounds there.
        let rounds = if cats.len() > 20_000 {
            rounds.min(5)
        } else {
            rounds.min(12)
        };
        // PostgreSQL plans a prepared statement afresh for its first five
        // runs, then settles on a plan: six warm-up rounds time every variant
        // as a long-lived connection runs it.
        let results = measure(&mut pg, cats, VARIANTS, rounds, alone, PLAN_CACHE_WARMUP)?;
        println!(
            "\n### {} on PostgreSQL ({} categories given, {} products loaded, {} rounds)\n",
            set.name,
            cats.len(),
            results[0].rows,
            rounds
        );
        println!(
            "| variant | median ms | × hand-written | N+1 ÷ variant | statements | peak heap MiB |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        let base = ms(results[BATCHED].median);
        let n1 = ms(results[N_PLUS_ONE].median);
        for (i, (variant, m)) in VARIANTS.iter().zip(&results).enumerate() {
            // The hand-written variants use the client directly, which the
            // guard does not see: their statements are counted by design.
            let statements = match i {
                N_PLUS_ONE => cats.len(),
                BATCHED | SCAN => 1,
                _ => m.statements,
            };
            let t = ms(m.median);
            println!(
                "| {} | {:.2} | {:.2} | {:.1} | {} | {:.1} |",
                variant.name,
                t,
                t / base,
                n1 / t,
                statements,
                mib(m.peak_heap)
            );
            assert_eq!(
                m.rows, results[BATCHED].rows,
                "{} loaded another number of rows",
                variant.name
            );
        }
        Ok(())
    }

    /// The chart's PostgreSQL lines, on M.
    pub(super) fn series(set: &Dataset, sqlite: &Connection) -> Result<(Series, Series), Error> {
        PREPARED.with(|p| p.borrow_mut().clear());
        let pg = open(set, sqlite)?;
        let all = Category::all(&pg)?;
        Ok(super::series(&all, &|c| n_plus_one(&pg, c), &|c| {
            Category::load_products(&pg, c)
        })?)
    }
}

/// The same loads on async connections (feature `tokio`): `AsyncSqlite`
/// against the sync call on the same file, and with `postgres` and
/// `--postgres`, `AsyncPostgres` against hand-written tokio-postgres and
/// three loads awaited together against one. Each call is driven to the end
/// by a current-thread tokio runtime (`block_on`), the same for the library
/// and the hand-written code; variants interleaved in a new order each round.
#[cfg(feature = "tokio")]
mod nonblocking {
    use std::future::Future;
    use std::pin::Pin;

    use orm_core::{count_queries_async, AsyncSqlite};
    use tokio::runtime::Runtime;

    use super::*;

    type Error = Box<dyn std::error::Error>;
    type Fut<'e> = Pin<Box<dyn Future<Output = orm_core::Result<Loaded>> + 'e>>;

    /// A variant called directly, or a future driven by the runtime.
    enum Run<E> {
        Sync(fn(&E, Vec<Category>) -> orm_core::Result<Loaded>),
        Async(for<'e> fn(&'e E, Vec<Category>) -> Fut<'e>),
    }

    struct Timed<E> {
        name: &'static str,
        run: Run<E>,
    }

    /// What a set of async variants runs on.
    trait Env {
        fn runtime(&self) -> &Runtime;
    }

    impl<E: Env> Timed<E> {
        fn call(&self, env: &E, cats: Vec<Category>) -> orm_core::Result<Loaded> {
            match self.run {
                Run::Sync(f) => f(env, cats),
                Run::Async(f) => env.runtime().block_on(f(env, cats)),
            }
        }

        /// The statements an async variant ran, as the connection's guard
        /// sees them (`None` for a sync one: see the sync tables).
        fn statements(&self, env: &E, cats: Vec<Category>) -> orm_core::Result<Option<usize>> {
            match self.run {
                Run::Sync(_) => Ok(None),
                Run::Async(f) => {
                    let (out, n) = env.runtime().block_on(count_queries_async(f(env, cats)));
                    out.map(|_| Some(n))
                }
            }
        }
    }

    struct Row {
        median: Duration,
        /// The median CPU time of the process's threads over a call.
        cpu: Duration,
        rows: usize,
        statements: Option<usize>,
    }

    /// The CPU time all the process's threads have run: `AsyncSqlite` works
    /// on a thread of its own, so its wall-clock time on a machine whose
    /// cores are shared also counts the waits for a second core.
    fn process_cpu() -> Duration {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `t` is a valid, writable timespec for the call's duration.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }

    /// Every variant once per round, in a new order each round; the first
    /// `warmup` rounds are not timed.
    fn time<E: Env>(
        env: &E,
        cats: &[Category],
        variants: &[Timed<E>],
        rounds: usize,
        warmup: usize,
    ) -> orm_core::Result<Vec<Row>> {
        let mut times = vec![Vec::with_capacity(rounds); variants.len()];
        let mut cpu = times.clone();
        let mut rng = StdRng::seed_from_u64(4662);
        let mut order: Vec<usize> = (0..variants.len()).collect();
        for round in 0..warmup + rounds {
            order.shuffle(&mut rng);
            for &v in &order {
                let input = cats.to_vec();
                let cpu_start = process_cpu();
                let start = Instant::now();
                let loaded = variants[v].call(env, input)?;
                let produced = start.elapsed();
                let cpu_used = process_cpu().saturating_sub(cpu_start);
                drop(std::hint::black_box(loaded));
                if round >= warmup || rounds == 1 {
                    times[v].push(produced);
                    cpu[v].push(cpu_used);
                }
            }
        }
        variants
            .iter()
            .zip(times.into_iter().zip(cpu))
            .map(|(variant, (times, cpu))| {
                Ok(Row {
                    median: median(times),
                    cpu: median(cpu),
                    rows: variant.call(env, cats.to_vec())?.rows(),
                    statements: variant.statements(env, cats.to_vec())?,
                })
            })
            .collect()
    }

    fn statements(row: &Row) -> String {
        row.statements.map_or("–".into(), |n| n.to_string())
    }

    fn runtime() -> Result<Runtime, Error> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    }

    /// The sync connection and `AsyncSqlite` on the same file.
    struct Lite {
        rt: Runtime,
        sync: Connection,
        lite: AsyncSqlite,
    }

    impl Env for Lite {
        fn runtime(&self) -> &Runtime {
            &self.rt
        }
    }

    const LITE: &[Timed<Lite>] = &[
        Timed {
            name: "orm prefetch_products, sync connection",
            run: Run::Sync(|env, cats| {
                Ok(Loaded::Pairs(Category::prefetch_products(&env.sync, cats)?))
            }),
        },
        Timed {
            name: "orm prefetch_products(&AsyncSqlite).await",
            run: Run::Async(|env, cats| {
                Box::pin(async move {
                    Ok(Loaded::Pairs(
                        Category::prefetch_products(&env.lite, cats).await?,
                    ))
                })
            }),
        },
    ];

    /// `AsyncSqlite` against the sync call, on the dataset's file.
    pub(super) fn sqlite(
        set: &Dataset,
        dir: &Path,
        cats: &[Category],
        rounds: usize,
    ) -> Result<(), Error> {
        let rt = runtime()?;
        let lite = rt.block_on(AsyncSqlite::open(file(set, dir)))?;
        let env = Lite {
            sync: open(set, dir)?,
            lite,
            rt,
        };
        let results = time(&env, cats, LITE, rounds, 1)?;
        println!(
            "\n### {} async, SQLite ({} categories given, {} products loaded, {} rounds)\n",
            set.name,
            cats.len(),
            results[0].rows,
            rounds
        );
        println!("| variant | median ms | × sync | CPU ms, all threads | × sync | statements |");
        println!("|---|---:|---:|---:|---:|---:|");
        let base = ms(results[0].median);
        let base_cpu = ms(results[0].cpu);
        for (variant, row) in LITE.iter().zip(&results) {
            assert_eq!(
                row.rows, results[0].rows,
                "{} loaded another number of rows",
                variant.name
            );
            let (t, c) = (ms(row.median), ms(row.cpu));
            println!(
                "| {} | {t:.2} | {:.3} | {c:.2} | {:.3} | {} |",
                variant.name,
                t / base,
                c / base_cpu,
                statements(row)
            );
        }
        Ok(())
    }

    #[cfg(feature = "postgres")]
    pub(super) mod pg {
        use orm_core::postgres::Statement;
        use orm_core::AsyncPostgres;

        use super::*;

        /// One `AsyncPostgres` in the dataset's schema, and the hand-written
        /// statement prepared once on its client.
        struct Pg {
            rt: Runtime,
            pg: AsyncPostgres,
            any: Statement,
        }

        impl Env for Pg {
            fn runtime(&self) -> &Runtime {
                &self.rt
            }
        }

        /// Hand-written tokio-postgres: one `= ANY($1)` query with every key
        /// as one array, on a statement prepared once, rows grouped in
        /// input order, each group in key order as the library returns it.
        async fn any(env: &Pg, cats: &[Category]) -> orm_core::Result<Output> {
            let (slot, mut out) = slots(cats);
            let keys: Vec<i64> = cats.iter().map(|c| c.id).collect();
            for row in env.pg.client().query(&env.any, &[&keys]).await? {
                let p = super::super::pg::product(&row);
                out[slot[p.category.key()]].push(p);
            }
            for group in &mut out {
                group.sort_unstable_by_key(|p| p.id);
            }
            Ok(out)
        }

        const ORM: usize = 0;
        const HAND: usize = 1;
        const ONE: usize = 2;
        const THREE: usize = 3;
        const HAND_THREE: usize = 4;

        const VARIANTS: &[Timed<Pg>] = &[
            Timed {
                name: "orm prefetch_products(&AsyncPostgres).await",
                run: Run::Async(|env, cats| {
                    Box::pin(async move {
                        Ok(Loaded::Pairs(
                            Category::prefetch_products(&env.pg, cats).await?,
                        ))
                    })
                }),
            },
            Timed {
                name: "hand-written tokio-postgres = ANY($1), grouped",
                run: Run::Async(|env, cats| {
                    Box::pin(async move { Ok(Loaded::Groups(any(env, &cats).await?)) })
                }),
            },
            Timed {
                name: "orm load_products(&AsyncPostgres).await, one",
                run: Run::Async(|env, cats| {
                    Box::pin(async move {
                        Ok(Loaded::Groups(
                            Category::load_products(&env.pg, &cats).await?,
                        ))
                    })
                }),
            },
            Timed {
                name: "orm three load_products awaited in tokio::try_join!",
                run: Run::Async(|env, cats| {
                    Box::pin(async move {
                        let pg = &env.pg;
                        let (a, b, c) = tokio::try_join!(
                            Category::load_products(pg, &cats),
                            Category::load_products(pg, &cats),
                            Category::load_products(pg, &cats),
                        )?;
                        assert!(a == b && b == c, "three loads of the same parents differ");
                        Ok(Loaded::Groups(a))
                    })
                }),
            },
            Timed {
                name: "hand-written: three = ANY($1) awaited in tokio::try_join!",
                run: Run::Async(|env, cats| {
                    Box::pin(async move {
                        let (a, b, c) =
                            tokio::try_join!(any(env, &cats), any(env, &cats), any(env, &cats))?;
                        assert!(a == b && b == c, "three loads of the same parents differ");
                        Ok(Loaded::Groups(a))
                    })
                }),
            },
        ];

        /// `AsyncPostgres` against hand-written tokio-postgres on the
        /// dataset's schema (copied by the sync rows' `pg::open` if needed).
        pub(in super::super) fn run(
            set: &Dataset,
            sqlite: &Connection,
            cats: &[Category],
            rounds: usize,
        ) -> Result<(), Error> {
            drop(super::super::pg::open(set, sqlite)?);
            let url = std::env::var("ORM_POSTGRES_URL")?;
            let rt = runtime()?;
            let (pg, any) = rt.block_on(async {
                let pg = AsyncPostgres::connect(&url).await?;
                let search_path = format!("SET search_path TO {}", super::super::pg::schema(set));
                pg.client().batch_execute(&search_path).await?;
                let any = pg
                    .client()
                    .prepare("SELECT id, name, price, category_id FROM product WHERE category_id = ANY($1)")
                    .await?;
                Ok::<_, Error>((pg, any))
            })?;
            let env = Pg { rt, pg, any };
            // As the sync rows: PostgreSQL plans a prepared statement afresh
            // for its first five runs, then settles on a plan.
            let results = time(&env, cats, VARIANTS, rounds, 6)?;
            println!(
                "\n### {} async, PostgreSQL ({} categories given, {} products loaded, {} rounds)\n",
                set.name,
                cats.len(),
                results[ORM].rows,
                rounds
            );
            println!("| variant | median ms | × hand-written | × one load | statements |");
            println!("|---|---:|---:|---:|---:|");
            let hand = ms(results[HAND].median);
            let one = ms(results[ONE].median);
            for (i, (variant, row)) in VARIANTS.iter().zip(&results).enumerate() {
                assert_eq!(
                    row.rows, results[HAND].rows,
                    "{} loaded another number of rows",
                    variant.name
                );
                let t = ms(row.median);
                let (by_hand, by_one) = match i {
                    ORM | HAND => (format!("{:.3}", t / hand), "–".into()),
                    ONE | THREE => ("–".into(), format!("{:.3}", t / one)),
                    // Three hand-written loads against one.
                    _ => ("–".into(), format!("{:.3}", t / hand)),
                };
                // The hand-written statements run on the client, which the
                // guard does not see: counted by design.
                let statements = match i {
                    HAND => "1".into(),
                    HAND_THREE => "3".into(),
                    _ => statements(row),
                };
                println!(
                    "| {} | {t:.2} | {by_hand} | {by_one} | {statements} |",
                    variant.name
                );
            }
            Ok(())
        }
    }
}
