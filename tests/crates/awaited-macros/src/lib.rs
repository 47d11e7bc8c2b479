//! The macros of the `awaited` test-support crate: see its documentation.

mod both;
mod each;
mod rewrite;

use proc_macro::TokenStream;

/// Writes each test once per connection: `fn name(conn) -> R { body }`
/// becomes `sqlite::name` and (feature `postgres`) `postgres::name`, with
/// the body as it is on a sync connection, and (feature `tokio`)
/// `async_sqlite::name` and (both features) `async_postgres::name`, with
/// the body awaited on an async one. A test marked `#[sync_only]` is
/// written for the sync connections only.
///
/// The async body is the sync one with:
/// - `expr?` as `Wait::wait(expr).await?`;
/// - a call given the connection (`f(&conn, ..)`, `x.m(conn)`, `conn.m(..)`)
///   as `Wait::wait(call).await`;
/// - `count_queries(&mut conn, |c| body)` (and `record_queries`,
///   `assert_queries(&mut conn, n, ..)`, and any `f(&mut conn, .., |c| body)`
///   as `f_async(.., fut)`) as `count_queries_async((async |c| body)(&conn)).await`;
///   `strict(&conn, || body)` as `strict_async((async || body)()).await`;
/// - `conn.in_transaction(|tx| body)` and `conn.atomic(|tx| body)` as
///   `conn.atomic(async |tx| body)` (`AsyncAtomic`);
/// - a closure or a `fn` item that awaits made `async` (a `fn`'s `impl Db`
///   as `impl AsyncDb`, `impl Backend` as `impl AsyncBackend`), and its
///   calls awaited;
/// - the same inside `assert!`, `assert_eq!`, `matches!`, `format!`,
///   proptest's `prop_assert!` and their kin.
///
/// A closure whose only `?` is on a value that is not a call given the
/// connection stays a closure (`rows.iter().map(|r| Ok(f(r)?))`): only a
/// closure that awaits something else is made async and its `?`s awaited.
#[proc_macro]
pub fn on_each_backend(input: TokenStream) -> TokenStream {
    each::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// A helper that takes the connection as its first parameter,
/// `fn name(conn: &impl Backend, ..) -> T` (or `&impl Db`), made to serve
/// both kinds: on a sync connection it runs as written and returns `T`; on
/// an async one (`AsyncBackend`, `AsyncDb`) it returns a future of `T`
/// running the body rewritten as `on_each_backend!` rewrites a test's.
///
/// The connection may also be a type parameter of the helper's own,
/// `fn name<B: Backend>(conn: B, ..)` (or `&B`, `&mut B`): the body may
/// then name it (`B::NAME`), and on an async connection `B` is bounded by
/// the async counterpart instead. A connection taken by value is moved
/// into the future.
///
/// Another parameter of that type (`fn case<B: Backend>(conn: B, other: B, ..)`)
/// is a connection too, its calls awaited as the first's. A bound of the
/// suite's own is given its async counterpart in the attribute:
/// `#[awaited::both(Probe => AsyncProbe)] fn same<B: Probe>(db: &B, ..)`.
///
/// The connection's type becomes the last generic parameter: a helper with
/// generic parameters of its own is called `differences::<Issue, _>(&conn)`.
#[proc_macro_attribute]
pub fn both(args: TokenStream, item: TokenStream) -> TokenStream {
    both::expand(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
