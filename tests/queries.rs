//! Typed queries and writes: every operator, ordering, windows, counts and
//! writes, asserted on results and on the statements run, on every backend.

#[macro_use]
mod backends;
mod common;

use backends::Backend;
use common::{Category, Product, Ticket};
use orm_core::rusqlite::limits::Limit;
use orm_core::{count_queries, record_queries, Condition, Db, Error, ForeignKey, Model};

type R = orm_core::Result<()>;

fn backend<B: backends::Named>(_: &B) -> &'static str {
    B::NAME
}

fn product(
    id: i64,
    name: &str,
    price: f64,
    stock: Option<i64>,
    note: Option<&str>,
    cat: i64,
) -> Product {
    Product {
        id,
        name: name.into(),
        price,
        stock,
        note: note.map(str::to_owned),
        category: ForeignKey::new(cat),
        brand: None,
    }
}

#[awaited::both]
fn shop(conn: &impl Backend) -> R {
    common::create_tables(conn)?;
    for (id, name) in [(1, "Books"), (2, "Games"), (3, "Music"), (4, "Garden")] {
        Category {
            id,
            name: name.into(),
        }
        .insert(&conn)?;
    }
    let rows = [
        product(1, "Dune", 9.5, Some(3), None, 1),
        product(2, "Dust", 4.0, None, Some("used"), 1),
        product(3, "Go board", 40.0, Some(1), Some("ships separately"), 2),
        product(4, "Chess set", 25.0, Some(0), None, 2),
        product(5, "Kind of Blue", 12.0, None, Some("50% off"), 3),
        product(6, "Hyperion", 9.5, Some(7), Some("5_0 off"), 1),
        product(7, "DUNE messiah", 11.0, Some(2), None, 1),
        product(
            8,
            "Robert'); DROP TABLE product;--",
            1.0,
            None,
            Some("*?[x]\\"),
            3,
        ),
    ];
    Product::insert_all(conn, &rows)?;
    Ok(())
}

fn ids(rows: &[Product]) -> Vec<i64> {
    rows.iter().map(|p| p.id).collect()
}

/// A tree: a nullable key to its own table.
#[derive(Model, Debug, Clone, PartialEq)]
struct Node {
    id: i64,
    #[foreign_key(related_name = "children")]
    parent: Option<ForeignKey<Node>>,
}

on_each_backend! {
    fn the_pinned_surface(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let (rows, n) = count_queries(&mut conn, |conn| {
            Product::query()
                .filter(f.price.lt(10.0).and(f.name.like("D%")))
                .order_by(f.price.desc())
                .limit(20)
                .offset(0)
                .all(conn)
        });
        // SQLite's LIKE ignores ASCII case: "Dune", "Dust"; "DUNE messiah" costs 11.
        assert_eq!((ids(&rows?), n), (vec![1, 2], 1));
        let one: Option<Product> = Product::query().filter(f.id.eq(3)).first(&conn)?;
        assert_eq!(one.map(|p| p.name), Some("Go board".to_string()));
        let n: u64 = Product::query().filter(f.note.is_null()).count(&conn)?;
        assert_eq!(n, 3);
        let any: bool = Product::query()
            .filter(f.category.eq(ForeignKey::new(1)))
            .exists(&conn)?;
        assert!(any);
        assert!(!Product::query()
            .filter(f.category.eq(ForeignKey::new(4)))
            .exists(&conn)?);
        Ok(())
    }

    fn comparisons_and_null(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let q = |c| -> orm_core::Result<Vec<i64>> { Ok(ids(&Product::query().filter(c).all(&conn)?)) };
        assert_eq!(q(f.price.eq(9.5))?, [1, 6]);
        assert_eq!(q(f.price.ne(9.5))?, [2, 3, 4, 5, 7, 8]);
        assert_eq!(q(f.price.le(9.5))?, [1, 2, 6, 8]);
        assert_eq!(q(f.price.gt(25.0))?, [3]);
        assert_eq!(q(f.price.ge(25.0))?, [3, 4]);
        // `Option` columns: eq/ne as Rust's ==/!=, NULL never less or greater.
        assert_eq!(q(f.stock.eq(None))?, [2, 5, 8]);
        assert_eq!(q(f.stock.ne(None))?, [1, 3, 4, 6, 7]);
        assert_eq!(q(f.stock.eq(3))?, [1]);
        assert_eq!(q(f.stock.ne(3))?, [2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(q(f.stock.ne(Some(3)))?, [2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(q(f.stock.lt(2))?, [3, 4]);
        assert_eq!(q(f.stock.lt(None))?, Vec::<i64>::new());
        assert_eq!(q(f.stock.is_null())?, [2, 5, 8]);
        assert_eq!(q(f.stock.is_not_null())?, [1, 3, 4, 6, 7]);
        // `not` is the exact complement, NULL rows included (SQL's NOT is not).
        assert_eq!(q(f.stock.lt(2).not())?, [1, 2, 5, 6, 7, 8]);
        assert_eq!(q(!f.stock.lt(2))?, [1, 2, 5, 6, 7, 8]);
        assert_eq!(q(f.stock.eq(3).not())?, q(f.stock.ne(3))?);
        assert_eq!(q(f.note.contains("off").not())?, [1, 2, 3, 4, 7, 8]);
        assert_eq!(q(f.stock.is_in([1, 3]).not())?, [2, 4, 5, 6, 7, 8]);
        Ok(())
    }

    fn combining_conditions(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let q = |c| -> orm_core::Result<Vec<i64>> { Ok(ids(&Product::query().filter(c).all(&conn)?)) };
        let cheap = || f.price.lt(10.0);
        let books = || f.category.eq(ForeignKey::new(1));
        assert_eq!(q(cheap().and(books()))?, [1, 2, 6]);
        assert_eq!(q(cheap() & books())?, [1, 2, 6]);
        assert_eq!(q(cheap().or(f.stock.eq(0)))?, [1, 2, 4, 6, 8]);
        assert_eq!(q(cheap() | f.stock.eq(0))?, [1, 2, 4, 6, 8]);
        assert_eq!(q((cheap() | f.stock.eq(0)) & !books())?, [4, 8]);
        // Several filter calls all apply.
        let rows = Product::query()
            .filter(cheap())
            .filter(books())
            .filter(f.stock.is_not_null())
            .all(&conn)?;
        assert_eq!(ids(&rows), [1, 6]);
        Ok(())
    }

    fn text_operators_match_literally(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let q = |c| -> orm_core::Result<Vec<i64>> { Ok(ids(&Product::query().filter(c).all(&conn)?)) };
        // `%`, `_` and GLOB's `*?[` are plain characters in the needle.
        assert_eq!(q(f.note.contains("50%"))?, [5]);
        assert_eq!(q(f.note.contains("%"))?, [5]);
        assert_eq!(q(f.note.contains("5_0"))?, [6]);
        assert_eq!(q(f.note.contains("_"))?, [6]);
        assert_eq!(q(f.note.contains("*?[x]\\"))?, [8]);
        assert_eq!(q(f.note.contains("?"))?, [8]);
        assert_eq!(q(f.note.starts_with("ships"))?, [3]);
        assert_eq!(q(f.note.ends_with("off"))?, [5, 6]);
        // Case-sensitive, unlike SQLite's LIKE.
        assert_eq!(q(f.name.contains("dune"))?, Vec::<i64>::new());
        assert_eq!(q(f.name.starts_with("DUNE"))?, [7]);
        // `like` keeps each backend's case rules: SQLite's ignores ASCII case.
        let dune: &[i64] = if backend(&conn) == "sqlite" { &[1, 7] } else { &[] };
        assert_eq!(q(f.name.like("dune%"))?, dune);
        // `like` keeps its wildcards.
        assert_eq!(q(f.note.like("5%0%"))?, [5, 6]);
        assert_eq!(q(f.note.like("5_0%"))?, [6]);
        // ... and has no escape character on either backend: `\` is itself.
        assert_eq!(q(f.note.like("%\\"))?, [8]);
        assert_eq!(q(f.note.like("%[x]\\"))?, [8]);
        // Values are bound, never spliced: the injection is just a name.
        assert_eq!(q(f.name.eq("Robert'); DROP TABLE product;--"))?, [8]);
        assert_eq!(q(f.name.contains("'); DROP"))?, [8]);
        assert_eq!(Product::query().count(&conn)?, 8);
        Ok(())
    }

    fn is_in_any_size(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats = Category::query()
            .filter(Category::fields().name.is_in(["Books", "Games"]))
            .all(&conn)?;
        assert_eq!(cats.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);
        fn q(conn: &impl Db, c: Condition<Product>) -> orm_core::Result<Vec<i64>> {
            Ok(ids(&Product::query().filter(c).all(conn)?))
        }
        assert_eq!(q(&conn, f.id.is_in([8, 3, 3, 99]))?, [3, 8]);
        assert_eq!(q(&conn, f.stock.is_in([Some(0), None]))?, [2, 4, 5, 8]);
        // Empty: nothing matches, and no statement runs.
        let (rows, n) = count_queries(&mut conn, |c| q(c, f.id.is_in(Vec::<i64>::new())));
        assert_eq!((rows?, n), (vec![], 0));
        let (count, n) = count_queries(&mut conn, |c| {
            Product::query()
                .filter(f.id.is_in(Vec::<i64>::new()))
                .count(c)
        });
        assert_eq!((count?, n), (0, 0));
        // But an empty list OR'ed with something still queries.
        assert_eq!(q(&conn, f.id.is_in(Vec::<i64>::new()).or(f.id.eq(1)))?, [1]);
        assert_eq!(q(&conn, f.id.is_in(Vec::<i64>::new()).not())?.len(), 8);

        Ok(())
    }

    // The borrowed forms are what this test is about.
    #[allow(clippy::needless_borrows_for_generic_args)]
    fn is_in_takes_borrowed_arrays_and_slices(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let cats = Category::query()
            .filter(Category::fields().name.is_in(&["Books", "Games"]))
            .all(&conn)?;
        assert_eq!(cats.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);
        let names: Vec<&str> = vec!["Dune", "Dust"];
        let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let q = |c| -> orm_core::Result<Vec<i64>> { Ok(ids(&Product::query().filter(c).all(&conn)?)) };
        assert_eq!(q(f.name.is_in(&names[..]))?, [1, 2]);
        assert_eq!(q(f.name.is_in(&names))?, [1, 2]);
        assert_eq!(q(f.name.is_in(&owned))?, [1, 2]);
        assert_eq!(q(f.id.is_in(&[8, 3]))?, [3, 8]);
        assert_eq!(q(f.stock.is_in(&[0, 3]))?, [1, 4]);
        assert_eq!(q(f.note.is_in(&["used"]))?, [2]);
        assert_eq!(q(f.category.is_in(&[ForeignKey::new(3)]))?, [5, 8]);
        // A bare `None` still reads as the column's own `Option`.
        assert_eq!(q(f.note.eq(None))?, [1, 4, 7]);
        assert_eq!(q(f.stock.ne(None))?, [1, 3, 4, 6, 7]);
        Ok(())
    }

    /// More values than one statement can bind: an error naming the limit
    /// before anything runs (PostgreSQL's protocol counts parameters in 16
    /// bits; SQLite has its variable limit).
    fn more_values_than_a_statement_takes(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let many = (0..70_000).fold(f.id.eq(-1), |c, i| c.or(f.price.gt(f64::from(i))));
        let limit = if backend(&conn) == "postgres" { 65_535 } else { 32_766 };
        let too_many = |r: orm_core::Result<u64>| match r {
            Err(Error::TooManyParameters { needed, limit: l, .. }) => {
                assert!(needed > 70_000, "{needed}");
                assert_eq!(l, limit);
            }
            other => panic!("expected TooManyParameters, got {other:?}"),
        };
        let (r, n) = count_queries(&mut conn, |c| Product::query().filter(many.clone()).count(c));
        too_many(r);
        assert_eq!(n, 0);
        too_many(Product::query().filter(many.clone()).delete(&conn).map(|n| n as u64));
        // An `or` of `eq`s over one column is one list, bound as one value,
        // as `is_in`'s: any number of them, in one statement.
        let eqs = (0..70_000).fold(f.id.eq(-1), |c, i| c.or(f.id.eq(i)));
        let (r, n) = count_queries(&mut conn, |c| Product::query().filter(eqs.or(f.note.eq(None))).count(c));
        assert_eq!((r?, n), (8, 1));
        let names = ["Dune", "Dust"].iter().fold(f.note.eq(None), |c, name| c.or(f.name.eq(*name)));
        assert!(format!("{names:?}").contains("Or"));
        let (r, n) = count_queries(&mut conn, |c| Product::query().filter(names.clone()).count(c));
        assert_eq!((r?, n), (4, 1));
        let cats = Category::all(&conn)?;
        too_many(
            Category::load_products_with(&conn, &cats, Product::query().filter(many.clone()))
                .map(|l| l.len() as u64),
        );
        assert_eq!(Product::query().count(&conn)?, 8);
        Ok(())
    }

    /// `or` and `and` alternating in a loop nest one level per step: up to
    /// `Condition::MAX_DEPTH` the query runs; past it, every way of running
    /// it is `Error::ConditionTooDeep` with no statement, never a stack
    /// overflow (cloning, printing, rendering and dropping included).
    fn deep_conditions_are_an_error_not_a_crash(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let deep = |depth: usize| {
            (0..depth).fold(f.name.eq("none"), |c, k| {
                if k % 2 == 0 {
                    c.or(f.id.eq(k as i64 + 1))
                } else {
                    c.and(f.price.gt(0.0))
                }
            })
        };
        let max = orm_core::Condition::<Product>::MAX_DEPTH;
        let deepest = Product::query().filter(deep(max));
        let copy = deepest.clone();
        assert!(format!("{copy:?}").contains("Or"));
        assert_eq!(ids(&copy.all(&conn)?), [1, 3, 5, 7]);
        assert_eq!(copy.first(&conn)?.map(|p| p.id), Some(1));
        assert_eq!(copy.count(&conn)?, 4);
        let cats = Category::all(&conn)?;
        assert_eq!(Category::count_products_with(&conn, &cats, copy.clone())?, [2, 1, 1, 0]);
        // Chains of one kind flatten, and `not` twice folds: no depth.
        let long = (0..300).fold(f.id.eq(0), |c, k| c.or(f.id.eq(k)));
        assert_eq!(Product::query().filter(long.not().not()).count(&conn)?, 8);

        for depth in [max + 1, max + 2, 100_000] {
            let query = Product::query().filter(deep(depth));
            let copy = query.clone();
            let _ = format!("{copy:?}");
            let too_deep = |r: Result<u64, Error>| match r {
                Err(Error::ConditionTooDeep { limit, .. }) => assert_eq!(limit, max),
                other => panic!("depth {depth}: expected ConditionTooDeep, got {other:?}"),
            };
            let (r, n) = count_queries(&mut conn, |c| copy.all(c).map(|v| v.len() as u64));
            too_deep(r);
            assert_eq!(n, 0);
            too_deep(copy.first(&conn).map(|p| u64::from(p.is_some())));
            too_deep(copy.count(&conn));
            too_deep(copy.exists(&conn).map(u64::from));
            too_deep(copy.update(&conn, [f.note.set(Some("x".to_string()))]).map(|n| n as u64));
            too_deep(copy.delete(&conn).map(|n| n as u64));
            too_deep(Category::load_products_with(&conn, &cats, copy.clone()).map(|l| l.len() as u64));
            too_deep(Category::count_products_with(&conn, &cats, copy.clone()).map(|l| l.len() as u64));
            // Combined further, it stays too deep; so does a relation
            // filter or an annotation around it.
            too_deep(Product::query().filter(deep(depth).or(f.id.eq(1)).not()).count(&conn));
            too_deep(Category::query().filter(Category::PRODUCTS.any(deep(depth))).count(&conn));
            too_deep(
                Category::query()
                    .annotate(Category::PRODUCTS.filter(deep(depth)).count())
                    .all(&conn)
                    .map(|v| v.len() as u64),
            );
            too_deep(
                Category::query()
                    .order_by(Category::PRODUCTS.filter(deep(depth)).count().desc())
                    .count(&conn),
            );
        }
        // A relation filter nests too: a tree's `has` in a loop.
        Node::create_table(&conn)?;
        Node { id: 1, parent: None }.insert(&conn)?;
        Node { id: 2, parent: Some(ForeignKey::new(1)) }.insert(&conn)?;
        let n = Node::fields();
        let below = |levels: usize| (0..levels).fold(n.id.eq(1), |c, _| n.parent.has(c));
        assert_eq!(Node::query().filter(below(1)).all(&conn)?, [Node { id: 2, parent: Some(ForeignKey::new(1)) }]);
        // (Each level is a sub-select: SQLite refuses some 30 of them with
        // its own error, "Expression tree is too large".)
        assert_eq!(Node::query().filter(below(20)).count(&conn)?, 0);
        for levels in [max + 1, 100_000] {
            match Node::query().filter(below(levels)).count(&conn) {
                Err(Error::ConditionTooDeep { limit, .. }) => assert_eq!(limit, max),
                other => panic!("{levels} levels: expected ConditionTooDeep, got {other:?}"),
            }
        }
        assert_eq!(Product::query().count(&conn)?, 8);
        Ok(())
    }

    /// Pinned, as the README says: SQLite stores -0.0 as 0 (the sign is
    /// lost on the way in; it compares equal), PostgreSQL keeps it.
    fn negative_zero(conn) -> R {
        shop(&conn)?;
        product(9, "free", -0.0, None, None, 1).insert(&conn)?;
        let price = Product::get(&conn, 9)?.expect("row 9").price;
        assert_eq!(price, 0.0);
        assert_eq!(price.is_sign_negative(), backend(&conn) == "postgres");
        let f = Product::fields();
        assert_eq!(ids(&Product::query().filter(f.price.eq(0.0)).all(&conn)?), [9]);
        assert_eq!(ids(&Product::query().filter(f.price.eq(-0.0)).all(&conn)?), [9]);
        Ok(())
    }

    /// Pinned, as the README says: past the key `i64::MAX`, PostgreSQL's
    /// sequence fails; SQLite picks an unused key at random.
    fn the_automatic_key_after_the_largest_one(conn) -> R {
        Ticket::create_table(&conn)?;
        let ticket = |id| Ticket { id, title: format!("t{id}") };
        ticket(i64::MAX).upsert(&conn)?;
        let next = ticket(0).insert(&conn);
        if backend(&conn) == "postgres" {
            assert_eq!(next.unwrap_err().sqlstate().as_deref(), Some("2200H"));
            assert_eq!(Ticket::query().count(&conn)?, 1);
        } else {
            let key = next?;
            assert!(key > 0 && key != i64::MAX, "{key}");
            assert_eq!(Ticket::get(&conn, key)?.map(|t| t.title), Some("t0".into()));
        }
        Ok(())
    }

    fn order_limit_offset(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let all =
            |q: orm_core::Query<Product>| -> orm_core::Result<Vec<i64>> { Ok(ids(&q.all(&conn)?)) };
        // Without order_by: primary-key order.
        assert_eq!(all(Product::query())?, (1..=8).collect::<Vec<_>>());
        // Ties broken by the primary key; later order_by calls come after.
        assert_eq!(
            all(Product::query().order_by(f.price.asc()))?,
            [8, 2, 1, 6, 7, 5, 4, 3]
        );
        assert_eq!(
            all(Product::query()
                .order_by(f.category.desc())
                .order_by(f.price.asc()))?,
            [8, 5, 4, 3, 2, 1, 6, 7]
        );
        // NULLs first ascending, last descending, as Rust orders `None`.
        assert_eq!(
            all(Product::query().order_by(f.stock.asc()))?,
            [2, 5, 8, 4, 3, 7, 1, 6]
        );
        assert_eq!(
            all(Product::query().order_by(f.stock.desc()))?,
            [6, 1, 7, 3, 4, 2, 5, 8]
        );
        assert_eq!(
            all(Product::query().order_by(f.price.asc()).limit(3))?,
            [8, 2, 1]
        );
        assert_eq!(
            all(Product::query().order_by(f.price.asc()).offset(6))?,
            [4, 3]
        );
        assert_eq!(
            all(Product::query().order_by(f.price.asc()).limit(2).offset(3))?,
            [6, 7]
        );
        assert_eq!(all(Product::query().limit(0))?, Vec::<i64>::new());
        let q = Product::query().order_by(f.price.desc()).offset(1);
        assert_eq!(q.first(&conn)?.map(|p| p.id), Some(4));
        assert_eq!(q.count(&conn)?, 7);
        assert_eq!(Product::query().limit(3).count(&conn)?, 3);
        assert!(Product::query().offset(7).exists(&conn)?);
        assert!(!Product::query().offset(8).exists(&conn)?);
        Ok(())
    }

    fn updates_and_deletes_by_filter(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let (changed, n) = count_queries(&mut conn, |c| {
            Product::query().filter(f.price.gt(20.0)).update(
                c,
                [f.price.set(19.0), f.note.set(Some("capped".to_string()))],
            )
        });
        assert_eq!((changed?, n), (2, 1));
        let capped = Product::query().filter(f.note.eq("capped")).all(&conn)?;
        assert_eq!(ids(&capped), [3, 4]);
        assert!(capped.iter().all(|p| p.price == 19.0));
        // An update of NULL, and with a window: the two cheapest only.
        let changed = Product::query()
            .order_by(f.price.asc())
            .limit(2)
            .update(&conn, [f.stock.set(None::<i64>)])?;
        assert_eq!(changed, 2);
        assert_eq!(Product::query().filter(f.stock.is_null()).count(&conn)?, 3);
        // No assignment: nothing to do, no statement.
        let (changed, n) = count_queries(&mut conn, |c| Product::query().update(c, []));
        assert_eq!((changed?, n), (0, 0));
        let gone = Product::query()
            .filter(f.note.contains("50%"))
            .delete(&conn)?;
        assert_eq!(gone, 1);
        assert_eq!(Product::query().delete(&conn)?, 7);
        assert_eq!(Product::query().count(&conn)?, 0);
        Ok(())
    }

    fn instance_writes(conn) -> R {
        shop(&conn)?;
        let mut dune = Product::get(&conn, 1)?.expect("product 1");
        dune.price = 8.0;
        dune.note = Some("paperback".into());
        dune.update(&conn)?;
        assert_eq!(Product::get(&conn, 1)?, Some(dune.clone()));
        // Updating a key with no row is an error naming the model and the key.
        let ghost = product(42, "ghost", 1.0, None, None, 1);
        let err = ghost.update(&conn).unwrap_err();
        assert!(
            matches!(&err, Error::NotFound { model: "Product", table: "product", key } if key == "42"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "Product: no row in `product` has primary key 42"
        );
        // Upsert inserts, then updates.
        ghost.upsert(&conn)?;
        assert_eq!(Product::get(&conn, 42)?.map(|p| p.price), Some(1.0));
        Product {
            price: 2.0,
            ..ghost.clone()
        }
        .upsert(&conn)?;
        assert_eq!(Product::get(&conn, 42)?.map(|p| p.price), Some(2.0));
        assert!(ghost.delete(&conn)?);
        assert!(!ghost.delete(&conn)?);
        assert_eq!(Product::get(&conn, 42)?, None);
        // insert returns the key it stored.
        assert_eq!(product(50, "new", 1.0, None, None, 2).insert(&conn)?, 50);
        Ok(())
    }

    fn database_assigned_keys(conn) -> R {
        Ticket::create_table(&conn)?;
        assert!(Ticket::create_table_sql().contains("\"id\" INTEGER PRIMARY KEY"));
        // The field's value is ignored; the new key is returned.
        let a = Ticket {
            id: 0,
            title: "first".into(),
        }
        .insert(&conn)?;
        let b = Ticket {
            id: 0,
            title: "second".into(),
        }
        .insert(&conn)?;
        assert_eq!((a, b), (1, 2));
        let keys = Ticket::insert_all(
            &conn,
            &[
                Ticket {
                    id: 99,
                    title: "x".into(),
                },
                Ticket {
                    id: 99,
                    title: "y".into(),
                },
            ],
        )?;
        assert_eq!(keys, [3, 4]);
        assert_eq!(
            Ticket::get(&conn, 2)?.map(|t| t.title),
            Some("second".into())
        );
        // Upsert keeps the key it is given.
        Ticket {
            id: 10,
            title: "ten".into(),
        }
        .upsert(&conn)?;
        assert_eq!(Ticket::get(&conn, 10)?.map(|t| t.title), Some("ten".into()));
        // The next database-assigned key is past it, on both backends, in
        // one statement each; an upsert of a lower key moves nothing back.
        let (keys, n) = count_queries(&mut conn, |c| -> orm_core::Result<_> {
            let next = Ticket {
                id: 0,
                title: "eleven".into(),
            }
            .insert(c)?;
            Ticket {
                id: 2,
                title: "two".into(),
            }
            .upsert(c)?;
            let after = Ticket {
                id: 0,
                title: "twelve".into(),
            }
            .insert(c)?;
            Ok((next, after))
        });
        assert_eq!((keys?, n), ((11, 12), 3));
        assert_eq!(Ticket::get(&conn, 2)?.map(|t| t.title), Some("two".into()));
        Ok(())
    }

    fn nan_compares_as_in_rust(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let nan = f64::NAN;
        let (counts, n) = count_queries(&mut conn, |c| -> orm_core::Result<_> {
            let count = |q: orm_core::Query<Product>| q.count(c);
            Ok([
                count(Product::query().filter(f.price.eq(nan)))?,
                count(Product::query().filter(f.price.ne(nan)))?,
                count(Product::query().filter(f.price.lt(nan) | f.price.ge(nan)))?,
                count(Product::query().filter(f.price.is_in([nan, 9.5])))?,
                count(Product::query().filter(f.price.eq(nan).not()))?,
            ])
        });
        // The two always-false filters run no statement.
        assert_eq!((counts?, n), ([0, 8, 0, 2, 8], 3));
        // SQLite would store a NaN as NULL: writing one is an error naming
        // the column, and the row keeps what it had. PostgreSQL stores NaN.
        let mut dune = Product::get(&conn, 1)?.expect("product 1");
        dune.price = nan;
        let writes = [
            dune.update(&conn).err(),
            dune.upsert(&conn).err(),
            Product::query()
                .filter(f.id.eq(1))
                .update(&conn, [f.price.set(nan)])
                .err(),
        ];
        match backend(&conn) {
            "sqlite" => {
                for err in writes {
                    let err = err.expect("a NaN write fails on SQLite");
                    assert!(
                        matches!(err, Error::Unwritable { model: "Product", column: "price", .. }),
                        "{err}"
                    );
                }
                let mut new = dune.clone();
                new.id = 9;
                assert!(matches!(new.insert(&conn), Err(Error::Unwritable { .. })));
                assert_eq!(Product::get(&conn, 9)?, None);
                assert_eq!(Product::get(&conn, 1)?.map(|p| p.price), Some(9.5));
            }
            _ => {
                assert!(writes.iter().all(Option::is_none), "{writes:?}");
                assert!(Product::get(&conn, 1)?.is_some_and(|p| p.price.is_nan()));
            }
        }
        Ok(())
    }

    fn a_query_can_be_reused_and_printed(conn) -> R {
        shop(&conn)?;
        let f = Product::fields();
        let q = Product::query()
            .filter(f.price.lt(10.0))
            .order_by(f.name.asc());
        assert_eq!(q.count(&conn)?, 4);
        assert_eq!(ids(&q.all(&conn)?), [1, 2, 6, 8]);
        let debug = format!("{q:?}");
        assert!(debug.contains("Product"), "{debug}");
        assert_eq!(f.price.name(), "price");
        assert_eq!(f.category.name(), "category_id");
        Ok(())
    }
}

/// Far more values than SQLite's variable limit, in one statement: the
/// list is bound as one JSON array (on PostgreSQL, every list is one array).
#[test]
fn long_lists_past_the_variable_limit_are_one_value() -> R {
    let mut conn = backends::sqlite();
    shop(&conn)?;
    let f = Product::fields();
    let q = |conn: &orm_core::rusqlite::Connection, c| -> orm_core::Result<Vec<i64>> {
        Ok(ids(&Product::query().filter(c).all(conn)?))
    };
    conn.set_limit(Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 5)?;
    let many: Vec<i64> = (0..10_000).rev().collect();
    let (rows, sql) = record_queries(&mut conn, |c| q(c, f.id.is_in(many.clone())));
    assert_eq!((rows?, sql.len()), ((1..=8).collect(), 1));
    assert!(sql[0].contains("json_each"), "{}", sql[0]);
    let names: Vec<String> = (0..50)
        .map(|i| format!("n{i}"))
        .chain(["Dune".into()])
        .collect();
    assert_eq!(q(&conn, f.name.is_in(names))?, [1]);
    Ok(())
}

#[test]
fn handles_work_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<orm_core::Query<Product>>();
    send_sync::<orm_core::Condition<Product>>();
}

/// SQLite's GLOB and LIKE read text as C strings; the text operators compare
/// bytes, so a NUL in the needle or the data changes nothing. (PostgreSQL
/// refuses NUL in text altogether.)
#[test]
fn text_operators_see_past_a_nul() -> R {
    let conn = backends::sqlite();
    shop(&conn)?;
    product(9, "nul\0x", 1.0, None, None, 1).insert(&conn)?;
    let f = Product::fields();
    let q = |c| -> orm_core::Result<Vec<i64>> { Ok(ids(&Product::query().filter(c).all(&conn)?)) };
    assert_eq!(q(f.name.contains("\0"))?, [9]);
    assert_eq!(q(f.name.contains("l\0x"))?, [9]);
    assert_eq!(q(f.name.starts_with("nul\0"))?, [9]);
    assert_eq!(q(f.name.ends_with("\0x"))?, [9]);
    assert!(q(f.name.ends_with("x"))?.contains(&9));
    assert!(q(f.name.contains(""))?.len() == 9);
    assert_eq!(q(f.note.ends_with(""))?, [2, 3, 5, 6, 8]);
    assert_eq!(
        Product::query()
            .filter(f.name.contains("\0"))
            .delete(&conn)?,
        1
    );
    assert_eq!(Product::query().count(&conn)?, 8);
    Ok(())
}
