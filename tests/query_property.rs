//! Queries against oracles on random data: random filters and orders against
//! the same rows filtered and sorted in Rust, and filtered top-N prefetch
//! against one query per parent.

use std::cmp::Ordering;
use std::collections::HashSet;

#[macro_use]
mod backends;

use backends::Backend;
use orm_core::{count_queries, Condition, ForeignKey, Model, Query};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// Not the shop's: one column of each kind the random conditions cover (a
// number, a nullable one, text, nullable text, a nullable key), short-named.
#[derive(Model, Debug, Clone, PartialEq)]
struct Owner {
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Item {
    id: i64,
    a: i64,
    b: Option<i64>,
    s: String,
    t: Option<String>,
    #[foreign_key(related_name = "items")]
    owner: Option<ForeignKey<Owner>>,
}

/// A condition, as data: built into a `Condition<Item>` and evaluated in Rust.
#[derive(Debug, Clone)]
enum C {
    A(Op, i64),
    B(Op, Option<i64>),
    BNull(bool),
    AIn(Vec<i64>),
    BIn(Vec<Option<i64>>),
    S(Text, String),
    T(Text, String),
    Like(String),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
    Not(Box<C>),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum Text {
    Contains,
    Starts,
    Ends,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

fn text_op() -> impl Strategy<Value = Text> {
    prop_oneof![Just(Text::Contains), Just(Text::Starts), Just(Text::Ends)]
}

/// Short strings over an alphabet of wildcards, escapes, case and non-ASCII.
fn word() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('A'),
            Just('b'),
            Just('%'),
            Just('_'),
            Just('*'),
            Just('?'),
            Just('['),
            Just('\\'),
            Just('é')
        ],
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn leaf() -> impl Strategy<Value = C> {
    prop_oneof![
        (op(), -3i64..4).prop_map(|(o, v)| C::A(o, v)),
        (op(), proptest::option::of(-3i64..4)).prop_map(|(o, v)| C::B(o, v)),
        any::<bool>().prop_map(C::BNull),
        proptest::collection::vec(-3i64..4, 0..4).prop_map(C::AIn),
        proptest::collection::vec(proptest::option::of(-3i64..4), 0..4).prop_map(C::BIn),
        (text_op(), word()).prop_map(|(o, w)| C::S(o, w)),
        (text_op(), word()).prop_map(|(o, w)| C::T(o, w)),
        word().prop_map(C::Like),
    ]
}

/// The filters the top-N prefetch properties draw from: one of each kind of
/// column (a number, a nullable column's NULL test, text).
fn top_n_leaf() -> impl Strategy<Value = C> {
    prop_oneof![
        (op(), -3i64..4).prop_map(|(o, v)| C::A(o, v)),
        any::<bool>().prop_map(C::BNull),
        (text_op(), word()).prop_map(|(o, w)| C::S(o, w)),
    ]
}

fn condition() -> impl Strategy<Value = C> {
    leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|c| C::Not(Box::new(c))),
        ]
    })
}

fn build(c: &C) -> Condition<Item> {
    let f = Item::fields();
    match c {
        C::A(op, v) => match op {
            Op::Eq => f.a.eq(*v),
            Op::Ne => f.a.ne(*v),
            Op::Lt => f.a.lt(*v),
            Op::Le => f.a.le(*v),
            Op::Gt => f.a.gt(*v),
            Op::Ge => f.a.ge(*v),
        },
        C::B(op, v) => match op {
            Op::Eq => f.b.eq(*v),
            Op::Ne => f.b.ne(*v),
            Op::Lt => f.b.lt(*v),
            Op::Le => f.b.le(*v),
            Op::Gt => f.b.gt(*v),
            Op::Ge => f.b.ge(*v),
        },
        C::BNull(true) => f.b.is_null(),
        C::BNull(false) => f.b.is_not_null(),
        C::AIn(vs) => f.a.is_in(vs.clone()),
        C::BIn(vs) => f.b.is_in(vs.clone()),
        C::S(Text::Contains, w) => f.s.contains(w),
        C::S(Text::Starts, w) => f.s.starts_with(w),
        C::S(Text::Ends, w) => f.s.ends_with(w),
        C::T(Text::Contains, w) => f.t.contains(w),
        C::T(Text::Starts, w) => f.t.starts_with(w),
        C::T(Text::Ends, w) => f.t.ends_with(w),
        C::Like(p) => f.s.like(p),
        C::And(a, b) => build(a).and(build(b)),
        C::Or(a, b) => build(a) | build(b),
        C::Not(a) => !build(a),
    }
}

/// `eq`/`ne` as Rust's `==`/`!=`; other comparisons never match a NULL.
fn compare(op: Op, x: Option<i64>, v: Option<i64>) -> bool {
    match op {
        Op::Eq => x == v,
        Op::Ne => x != v,
        _ => match (x, v) {
            (Some(x), Some(v)) => match op {
                Op::Lt => x < v,
                Op::Le => x <= v,
                Op::Gt => x > v,
                _ => x >= v,
            },
            _ => false,
        },
    }
}

fn text(op: Text, s: Option<&str>, w: &str) -> bool {
    s.is_some_and(|s| match op {
        Text::Contains => s.contains(w),
        Text::Starts => s.starts_with(w),
        Text::Ends => s.ends_with(w),
    })
}

/// LIKE: `%` any text, `_` one character; SQLite's ignores ASCII case,
/// PostgreSQL's does not.
fn like(s: &[char], p: &[char], ascii_case: bool) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| like(&s[i..], rest, ascii_case)),
        Some(('_', rest)) => !s.is_empty() && like(&s[1..], rest, ascii_case),
        Some((c, rest)) => s.split_first().is_some_and(|(x, tail)| {
            (x == c || (ascii_case && x.eq_ignore_ascii_case(c))) && like(tail, rest, ascii_case)
        }),
    }
}

fn eval(c: &C, r: &Item, ascii_case: bool) -> bool {
    match c {
        C::A(op, v) => compare(*op, Some(r.a), Some(*v)),
        C::B(op, v) => compare(*op, r.b, *v),
        C::BNull(null) => r.b.is_none() == *null,
        C::AIn(vs) => vs.contains(&r.a),
        C::BIn(vs) => vs.contains(&r.b),
        C::S(op, w) => text(*op, Some(&r.s), w),
        C::T(op, w) => text(*op, r.t.as_deref(), w),
        C::Like(p) => like(
            &r.s.chars().collect::<Vec<_>>(),
            &p.chars().collect::<Vec<_>>(),
            ascii_case,
        ),
        C::And(a, b) => eval(a, r, ascii_case) && eval(b, r, ascii_case),
        C::Or(a, b) => eval(a, r, ascii_case) || eval(b, r, ascii_case),
        C::Not(a) => !eval(a, r, ascii_case),
    }
}

/// Order terms: (column: 0 = a, 1 = b, 2 = s, descending).
fn order(terms: &[(u8, bool)]) -> impl Fn(&Item, &Item) -> Ordering + '_ {
    move |x, y| {
        for &(column, desc) in terms {
            let o = match column {
                0 => x.a.cmp(&y.a),
                1 => x.b.cmp(&y.b),
                _ => x.s.as_bytes().cmp(y.s.as_bytes()),
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        x.id.cmp(&y.id)
    }
}

fn ordered(mut q: Query<Item>, terms: &[(u8, bool)]) -> Query<Item> {
    let f = Item::fields();
    for &(column, desc) in terms {
        q = q.order_by(match (column, desc) {
            (0, false) => f.a.asc(),
            (0, true) => f.a.desc(),
            (1, false) => f.b.asc(),
            (1, true) => f.b.desc(),
            (_, false) => f.s.asc(),
            (_, true) => f.s.desc(),
        });
    }
    q
}

/// An item's columns: a, b, s, t and its owner's key.
type Columns = (i64, Option<i64>, String, Option<String>, Option<i64>);

fn item() -> impl Strategy<Value = Columns> {
    (
        -3i64..4,
        proptest::option::of(-3i64..4),
        word(),
        proptest::option::of(word()),
        proptest::option::of(0i64..10),
    )
}

#[awaited::both]
fn store<B: Backend>(conn: &B, rows: &[Columns]) -> Vec<Item> {
    conn.without_foreign_keys().unwrap();
    Owner::create_table(conn).unwrap();
    Item::create_table(conn).unwrap();
    for id in 0..8 {
        Owner { id }.insert(conn).unwrap();
    }
    let items: Vec<Item> = rows
        .iter()
        .enumerate()
        .map(|(i, (a, b, s, t, owner))| Item {
            // Keys in a scrambled order (a permutation modulo the prime 1009).
            id: (i as i64 * 7919) % 1009,
            a: *a,
            b: *b,
            s: s.clone(),
            t: t.clone(),
            owner: owner.map(ForeignKey::new),
        })
        .collect();
    Item::insert_all(conn, &items).unwrap();
    items
}

#[awaited::both]
#[allow(clippy::too_many_arguments)]
fn queries_case<B: Backend>(
    conn: B,
    rows: Vec<Columns>,
    c: Option<C>,
    terms: Vec<(u8, bool)>,
    limit: Option<u64>,
    offset: u64,
    variables: i32,
) -> Result<(), TestCaseError> {
    let items = store(&conn, &rows);
    conn.set_variable_limit(variables);
    let mut want: Vec<Item> = items
        .iter()
        .filter(|r| c.as_ref().is_none_or(|c| eval(c, r, B::NAME == "sqlite")))
        .cloned()
        .collect();
    want.sort_by(order(&terms));
    let matching = want.len();
    let window: Vec<Item> = want
        .into_iter()
        .skip(offset as usize)
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect();

    let mut q = ordered(Item::query(), &terms).offset(offset);
    if let Some(c) = &c {
        q = q.filter(build(c));
    }
    if let Some(limit) = limit {
        q = q.limit(limit);
    }
    match q.all(&conn) {
        Ok(got) => {
            prop_assert_eq!(&got, &window, "{:?}", c);
            prop_assert_eq!(q.count(&conn).unwrap(), window.len() as u64);
            prop_assert_eq!(q.exists(&conn).unwrap(), !window.is_empty());
            // `first` binds a limit and an offset of its own.
            match q.first(&conn) {
                Ok(first) => prop_assert_eq!(first, window.first().cloned()),
                Err(orm_core::Error::TooManyParameters { .. }) => prop_assert!(variables < 4),
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
        // Only a tiny variable limit can refuse a filter, and only one
        // with more separate values than it allows.
        Err(orm_core::Error::TooManyParameters { needed, limit, .. }) => {
            prop_assert!(needed > limit && variables < 4, "{} > {}", needed, limit);
        }
        Err(e) => prop_assert!(false, "{}", e),
    }
    // Deleting what the filter selects leaves exactly the rest.
    if variables == 32_766 {
        let mut q = Item::query();
        if let Some(c) = &c {
            q = q.filter(build(c));
        }
        prop_assert_eq!(q.delete(&conn).unwrap(), matching);
        prop_assert_eq!(
            Item::query().count(&conn).unwrap() as usize,
            items.len() - matching
        );
    }
    Ok(())
}

#[awaited::both]
#[allow(clippy::too_many_arguments)]
fn top_n_case<B: Backend>(
    mut conn: B,
    rows: Vec<Columns>,
    leaf: Option<C>,
    terms: Vec<(u8, bool)>,
    limit: Option<u64>,
    offset: u64,
    input: Vec<i64>,
    variables: i32,
) -> Result<(), TestCaseError> {
    store(&conn, &rows);
    let owners: Vec<Owner> = input.iter().map(|&id| Owner { id }).collect();
    let with_filter = |q: Query<Item>| match &leaf {
        Some(c) => q.filter(build(c)),
        None => q,
    };
    let mut query = with_filter(ordered(Item::query(), &terms)).offset(offset);
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    // The oracle: one query per parent, through the layer the first
    // property checks against Rust.
    // (A loop, not a `map`: on an async connection each query is awaited.)
    let f = Item::fields();
    let mut expected: Vec<Vec<Item>> = Vec::with_capacity(owners.len());
    for o in &owners {
        let mut q = with_filter(ordered(Item::query(), &terms))
            .filter(f.owner.eq(ForeignKey::new(o.id)))
            .offset(offset);
        if let Some(limit) = limit {
            q = q.limit(limit);
        }
        expected.push(q.all(&conn).unwrap());
    }

    conn.set_variable_limit(variables);
    let (got, n) = count_queries(&mut conn, |c| {
        Owner::prefetch_items_with(c, owners.clone(), query.clone())
    });
    let got = got.unwrap();
    prop_assert_eq!(
        got.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>(),
        owners.clone()
    );
    prop_assert_eq!(
        got.into_iter().map(|(_, i)| i).collect::<Vec<_>>(),
        expected.clone()
    );
    prop_assert_eq!(
        Owner::load_items_with(&conn, &owners, query.clone()).unwrap(),
        expected.clone()
    );
    let counts = Owner::count_items_with(&conn, &owners, query.clone()).unwrap();
    prop_assert_eq!(
        counts,
        expected.iter().map(|l| l.len() as u64).collect::<Vec<_>>()
    );

    // One statement per chunk of keys, whose size leaves room for the
    // filter's value and the window's two; or one scan when the query
    // has no order and no window and the keys are many.
    let distinct = input.iter().collect::<HashSet<_>>().len();
    let windowed = limit.is_some() || offset > 0;
    let fixed = usize::from(matches!(leaf, Some(C::A(..) | C::S(..)))) + 2 * usize::from(windowed);
    // PostgreSQL binds all keys as one array: one statement.
    let chunks = if B::NAME == "postgres" {
        usize::from(distinct > 0)
    } else {
        distinct.div_ceil(variables as usize - fixed)
    };
    let may_scan = terms.is_empty() && !windowed;
    let expected_n = if limit == Some(0) { 0 } else { chunks };
    prop_assert!(
        n == expected_n || (may_scan && n == 1 && expected_n > 0),
        "{} statements, expected {} (scan possible: {})",
        n,
        expected_n,
        may_scan
    );
    Ok(())
}

/// What a `queries_case` takes but the connection.
type QueriesInputs = (
    Vec<Columns>,
    Option<C>,
    Vec<(u8, bool)>,
    Option<u64>,
    u64,
    i32,
);

/// What a `top_n_case` takes but the connection.
type TopNInputs = (
    Vec<Columns>,
    Option<C>,
    Vec<(u8, bool)>,
    Option<u64>,
    u64,
    Vec<i64>,
    i32,
);

/// A `queries_case`'s inputs, `variables` the limits on bound variables to
/// try: the same strategy, in the same order, for every connection (a
/// recorded failure replays alike on each).
fn queries_inputs(variables: impl Strategy<Value = i32>) -> impl Strategy<Value = QueriesInputs> {
    (
        proptest::collection::vec(item(), 0..40),
        proptest::option::of(condition()),
        proptest::collection::vec((0u8..3, any::<bool>()), 0..3),
        proptest::option::of(0u64..6),
        0u64..4,
        variables,
    )
}

/// A `top_n_case`'s inputs, as [`queries_inputs`].
fn top_n_inputs(variables: impl Strategy<Value = i32>) -> impl Strategy<Value = TopNInputs> {
    (
        proptest::collection::vec(item(), 0..60),
        proptest::option::of(top_n_leaf()),
        proptest::collection::vec((0u8..3, any::<bool>()), 0..3),
        proptest::option::of(0u64..4),
        prop_oneof![Just(0u64), 0u64..3],
        // Owners 0..8 are stored; 8 and 9 dangle.
        proptest::collection::vec(0i64..10, 0..12),
        variables,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn queries_equal_filtering_and_sorting_in_rust(
        (rows, c, terms, limit, offset, variables) in queries_inputs(prop_oneof![Just(32_766), 1i32..4]),
    ) {
        queries_case(backends::sqlite(), rows, c, terms, limit, offset, variables)?;
    }

    #[test]
    fn filtered_top_n_prefetch_equals_one_query_per_parent(
        (rows, leaf, terms, limit, offset, input, variables) in top_n_inputs(prop_oneof![Just(32_766), 4i32..9]),
    ) {
        top_n_case(backends::sqlite(), rows, leaf, terms, limit, offset, input, variables)?;
    }
}

#[cfg(feature = "postgres")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn queries_equal_filtering_and_sorting_in_rust_on_postgres(
        (rows, c, terms, limit, offset, variables) in queries_inputs(Just(32_766)),
    ) {
        queries_case(backends::postgres(), rows, c, terms, limit, offset, variables)?;
    }

    #[test]
    fn filtered_top_n_prefetch_equals_one_query_per_parent_on_postgres(
        (rows, leaf, terms, limit, offset, input, variables) in top_n_inputs(Just(32_766)),
    ) {
        top_n_case(backends::postgres(), rows, leaf, terms, limit, offset, input, variables)?;
    }
}

// The same cases on the async connections, each on a fresh one in a
// runtime of its own; fewer of them, the sync entries above cover the
// statements, these the async drivers.
#[cfg(feature = "tokio")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn queries_equal_filtering_and_sorting_in_rust_on_async_sqlite(
        (rows, c, terms, limit, offset, variables) in queries_inputs(prop_oneof![Just(32_766), 1i32..4]),
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            queries_case(conn, rows, c, terms, limit, offset, variables).await
        })?;
    }

    #[test]
    fn filtered_top_n_prefetch_equals_one_query_per_parent_on_async_sqlite(
        (rows, leaf, terms, limit, offset, input, variables) in top_n_inputs(prop_oneof![Just(32_766), 4i32..9]),
    ) {
        awaited::block_on(async {
            let conn = backends::async_sqlite().await;
            top_n_case(conn, rows, leaf, terms, limit, offset, input, variables).await
        })?;
    }
}

#[cfg(all(feature = "tokio", feature = "postgres"))]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn queries_equal_filtering_and_sorting_in_rust_on_async_postgres(
        (rows, c, terms, limit, offset, variables) in queries_inputs(Just(32_766)),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            queries_case(conn, rows, c, terms, limit, offset, variables).await
        })?;
    }

    #[test]
    fn filtered_top_n_prefetch_equals_one_query_per_parent_on_async_postgres(
        (rows, leaf, terms, limit, offset, input, variables) in top_n_inputs(Just(32_766)),
    ) {
        awaited::block_on(async {
            let conn = backends::async_postgres().await;
            top_n_case(conn, rows, leaf, terms, limit, offset, input, variables).await
        })?;
    }
}
