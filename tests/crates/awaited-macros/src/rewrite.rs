//! A body written for a sync connection, rewritten to run on an async one.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::{self, VisitMut};
use syn::{
    parse_quote, parse_quote_spanned, Block, Expr, ExprCall, ExprClosure, ExprMethodCall, Ident,
    Item, ItemFn, Local, Macro, Pat, Stmt, Token, Type, TypeParamBound,
};

/// The guards of orm-core whose async forms have the same name plus `_async`
/// and drop the connection argument.
const GUARDS: &[&str] = &["count_queries", "record_queries", "assert_queries"];

/// The macros whose arguments are expressions, rewritten like any other.
const EXPR_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "format",
    "panic",
    "print",
    "println",
    "eprint",
    "eprintln",
    "vec",
    "dbg",
    "prop_assert",
    "prop_assert_eq",
    "prop_assert_ne",
];

/// Rewrites a sync body for an async connection (see `on_each_backend!`).
pub(crate) struct Awaiter {
    /// The names that hold a connection: the test's, the parameters of the
    /// closures given to guards and transactions.
    conns: HashSet<String>,
    /// Local closures and `fn`s made `async`: their calls are awaited.
    callables: HashSet<String>,
    /// Whether `expr?` is awaited: not in a closure that nothing else
    /// makes async (`rows.iter().map(|r| Ok(f(r)?))` stays a closure).
    wait_tries: bool,
}

impl Awaiter {
    pub(crate) fn new(conns: impl IntoIterator<Item = String>) -> Self {
        Awaiter {
            conns: conns.into_iter().collect(),
            callables: HashSet::new(),
            wait_tries: true,
        }
    }

    pub(crate) fn block(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
    }

    /// Whether `e` is a connection: `conn`, `&conn`, `&mut conn`, `(conn)`.
    fn is_conn(&self, e: &Expr) -> bool {
        match e {
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.conns.contains(&i.to_string())),
            Expr::Reference(r) => self.is_conn(&r.expr),
            Expr::Paren(p) => self.is_conn(&p.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.is_conn(&u.expr),
            _ => false,
        }
    }

    /// Whether the call is given a connection, as an argument or as its receiver.
    fn is_conn_call(&self, e: &Expr) -> bool {
        match e {
            Expr::Call(c) => c.args.iter().any(|a| self.is_conn(a)),
            // `conn.raw(sql, params)` builds the statement; what runs it
            // (`.all()`, `.first()`, `.execute()`) is the call to await.
            Expr::MethodCall(_) if self.is_raw(e) => false,
            Expr::MethodCall(m) => {
                self.is_conn(&m.receiver)
                    || self.is_raw(&m.receiver)
                    || m.args.iter().any(|a| self.is_conn(a))
            }
            _ => false,
        }
    }

    /// `conn.raw(sql, params)`: a statement, not yet run.
    fn is_raw(&self, e: &Expr) -> bool {
        matches!(e, Expr::MethodCall(m) if m.method == "raw" && self.is_conn(&m.receiver))
    }

    /// A call of a local closure or `fn` made async.
    fn is_async_callable(&self, e: &Expr) -> bool {
        let Expr::Call(ExprCall { func, .. }) = e else {
            return false;
        };
        matches!(&**func, Expr::Path(p) if p.path.get_ident().is_some_and(|i| self.callables.contains(&i.to_string())))
    }

    /// Rewrites `body` with `names` as connections too.
    fn with_conns<T>(&mut self, names: Vec<String>, f: impl FnOnce(&mut Self) -> T) -> T {
        let added: Vec<String> = names
            .into_iter()
            .filter(|n| self.conns.insert(n.clone()))
            .collect();
        let out = f(self);
        for n in added {
            self.conns.remove(&n);
        }
        out
    }

    /// `f(&mut conn, .., |c| body)` (a guard): `f_async(.., (async |c| body)(&conn)).await`.
    fn guard(&mut self, call: &mut ExprCall) -> Option<Expr> {
        let Expr::Path(func) = &*call.func else {
            return None;
        };
        let last = func.path.segments.last()?.ident.to_string();
        let first = call.args.first()?;
        let mutable = matches!(first, Expr::Reference(r) if r.mutability.is_some());
        let strict = last == "strict";
        if !self.is_conn(first)
            || !matches!(call.args.last(), Some(Expr::Closure(_)))
            || !(GUARDS.contains(&last.as_str()) || mutable || strict)
        {
            return None;
        }
        let conn = strip_ref(first).clone();
        let mut args: Vec<Expr> = call.args.iter().skip(1).cloned().collect();
        let Some(Expr::Closure(mut closure)) = args.pop() else {
            return None;
        };
        let params = closure_params(&closure);
        self.with_conns(params, |me| me.visit_expr_mut(&mut closure.body));
        // An async block, not an async closure called at once: the
        // parameter's type is known before the body is checked.
        let bind = closure.inputs.first().map(|p| quote!(let #p = &#conn;));
        let capture = &closure.capture;
        let body = &closure.body;
        let future: Expr = match &closure.output {
            syn::ReturnType::Default => parse_quote!(async #capture { #bind #body }),
            syn::ReturnType::Type(_, ty) => {
                parse_quote!(async #capture { #bind (async || -> #ty { #body })().await })
            }
        };
        let path = if GUARDS.contains(&last.as_str()) || strict {
            let name = Ident::new(
                &format!("{last}_async"),
                func.path.segments.last()?.ident.span(),
            );
            quote!(::orm_core::#name)
        } else {
            let mut path = func.path.clone();
            let seg = path.segments.last_mut()?;
            seg.ident = Ident::new(&format!("{last}_async"), seg.ident.span());
            path.into_token_stream()
        };
        Some(parse_quote_spanned!(call.span()=> #path(#(#args,)* #future).await))
    }

    /// `catch_unwind(AssertUnwindSafe(|| body))` whose closure awaits:
    /// `awaited::catch_unwind(async { body }).await`, so that the panic
    /// is caught where the future is polled.
    fn catch_unwind(&mut self, call: &mut ExprCall) -> Option<Expr> {
        let Expr::Path(func) = &*call.func else {
            return None;
        };
        if func.path.segments.last()?.ident != "catch_unwind" || call.args.len() != 1 {
            return None;
        }
        let span = call.span();
        let mut arg = call.args.first()?.clone();
        if let Expr::Call(wrapper) = &arg {
            let unwind_safe = matches!(&*wrapper.func, Expr::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "AssertUnwindSafe"));
            if unwind_safe && wrapper.args.len() == 1 {
                arg = wrapper.args.first()?.clone();
            }
        }
        let Expr::Closure(mut closure) = arg else {
            return None;
        };
        if !self.closure(&mut closure) {
            return None;
        }
        let (capture, body) = (&closure.capture, &closure.body);
        let future: Expr = match &closure.output {
            syn::ReturnType::Default => parse_quote!(async #capture { #body }),
            syn::ReturnType::Type(_, ty) => parse_quote!((async #capture || -> #ty { #body })()),
        };
        Some(parse_quote_spanned!(span=>
            ::awaited::catch_unwind(::std::panic::AssertUnwindSafe(#future)).await))
    }

    /// `conn.in_transaction(|tx| body)`, `conn.atomic(|tx| body)`:
    /// `conn.atomic(async |tx| body)`, awaited.
    fn transaction(&mut self, call: &mut ExprMethodCall) -> Option<Expr> {
        let method = call.method.to_string();
        if !(method == "in_transaction" || method == "atomic")
            || !self.is_conn(&call.receiver)
            || call.args.len() != 1
        {
            return None;
        }
        let span = call.span();
        let Some(Expr::Closure(closure)) = call.args.first_mut() else {
            return None;
        };
        let params = closure_params(closure);
        self.with_conns(params, |me| me.visit_expr_mut(&mut closure.body));
        closure.asyncness = Some(Token![async](closure.or1_token.span));
        let receiver = &call.receiver;
        let closure = &*closure;
        Some(parse_quote_spanned!(span=> ::awaited::Wait::wait(#receiver.atomic(#closure)).await))
    }

    /// The closures given to a call that is given the connection too
    /// (`nested(conn, |conn, rows| ..)`): on an async connection the library
    /// wants a future from them, `Box::pin(async move { body })`.
    fn callbacks(&mut self, args: &mut Punctuated<Expr, Token![,]>) -> bool {
        if !args.iter().any(|a| self.is_conn(a))
            || !args.iter().any(|a| matches!(a, Expr::Closure(_)))
        {
            return false;
        }
        for arg in args {
            let Expr::Closure(closure) = arg else {
                self.visit_expr_mut(arg);
                continue;
            };
            let params = closure_params(closure).into_iter().take(1).collect();
            self.with_conns(params, |me| me.visit_expr_mut(&mut closure.body));
            let body = &closure.body;
            *closure.body =
                parse_quote_spanned!(body.span()=> ::std::boxed::Box::pin(async move { #body }));
        }
        true
    }

    /// A closure that awaits is made async. A `?` alone does not make it
    /// so: a closure given to an iterator adapter has to stay one.
    fn closure(&mut self, closure: &mut ExprClosure) -> bool {
        let tries = std::mem::replace(&mut self.wait_tries, false);
        let mut plain = (*closure.body).clone();
        self.visit_expr_mut(&mut plain);
        let asynchronous = awaits(&plain);
        if asynchronous {
            self.wait_tries = true;
            self.visit_expr_mut(&mut closure.body);
            closure.asyncness = Some(Token![async](closure.or1_token.span));
        } else {
            *closure.body = plain;
        }
        self.wait_tries = tries;
        asynchronous
    }

    /// A `fn` item that awaits is made async, its `impl Db` and `impl
    /// Backend` parameters made their async counterparts.
    fn item_fn(&mut self, f: &mut ItemFn) {
        let mut conns = Vec::new();
        for input in &f.sig.inputs {
            if let syn::FnArg::Typed(arg) = input {
                if let (Pat::Ident(name), true) = (&*arg.pat, is_conn_type(&arg.ty)) {
                    conns.push(name.ident.to_string());
                }
            }
        }
        let mut inner = Awaiter::new(conns);
        inner.callables = self.callables.clone();
        inner.visit_block_mut(&mut f.block);
        if awaits_block(&f.block) {
            f.sig.asyncness = Some(Default::default());
            for input in &mut f.sig.inputs {
                if let syn::FnArg::Typed(arg) = input {
                    asyncify_type(&mut arg.ty);
                }
            }
            self.callables.insert(f.sig.ident.to_string());
        }
    }

    /// The arguments of `assert!`, `assert_eq!`, `matches!` and their kin.
    fn mac(&mut self, mac: &mut Macro) {
        let Some(name) = mac.path.get_ident().map(ToString::to_string) else {
            return;
        };
        if name == "matches" {
            if let Ok(mut m) = mac.parse_body::<Matches>() {
                self.visit_expr_mut(&mut m.expr);
                let (expr, rest) = (&m.expr, &m.rest);
                mac.tokens = quote!(#expr, #rest);
            }
        } else if EXPR_MACROS.contains(&name.as_str()) {
            let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
            if let Ok(mut args) = parser.parse2(mac.tokens.clone()) {
                for arg in &mut args {
                    self.visit_expr_mut(arg);
                }
                mac.tokens = args.into_token_stream();
            }
        }
    }
}

impl VisitMut for Awaiter {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Try(t) => {
                self.visit_expr_mut(&mut t.expr);
                if self.wait_tries && !matches!(&*t.expr, Expr::Await(_)) {
                    let inner = &t.expr;
                    *t.expr =
                        parse_quote_spanned!(inner.span()=> ::awaited::Wait::wait(#inner).await);
                }
                return;
            }
            Expr::Call(call) => {
                // `is_strict(&conn)`: whether the task is inside `strict_async`.
                if matches!(&*call.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "is_strict"))
                    && call.args.len() == 1
                    && self.is_conn(&call.args[0])
                {
                    *e = parse_quote_spanned!(call.span()=> ::orm_core::is_strict_async());
                    return;
                }
                if let Some(new) = self.catch_unwind(call) {
                    *e = new;
                    return;
                }
                if let Some(new) = self.guard(call) {
                    *e = new;
                    return;
                }
                if self.callbacks(&mut call.args) {
                    self.visit_expr_mut(&mut call.func);
                    *e = parse_quote_spanned!(e.span()=> ::awaited::Wait::wait(#e).await);
                    return;
                }
            }
            Expr::MethodCall(call) => {
                if let Some(new) = self.transaction(call) {
                    *e = new;
                    return;
                }
                if self.callbacks(&mut call.args) {
                    self.visit_expr_mut(&mut call.receiver);
                    *e = parse_quote_spanned!(e.span()=> ::awaited::Wait::wait(#e).await);
                    return;
                }
            }
            Expr::Closure(closure) => {
                self.closure(closure);
                return;
            }
            Expr::Macro(m) => {
                self.mac(&mut m.mac);
                return;
            }
            _ => {}
        }
        visit_mut::visit_expr_mut(self, e);
        if self.is_async_callable(e) {
            *e = parse_quote_spanned!(e.span()=> #e.await);
        } else if self.is_conn_call(e) {
            *e = parse_quote_spanned!(e.span()=> ::awaited::Wait::wait(#e).await);
        }
    }

    fn visit_local_mut(&mut self, local: &mut Local) {
        let Some(init) = &mut local.init else {
            return;
        };
        if let (Pat::Ident(name), Expr::Closure(closure)) = (&local.pat, &mut *init.expr) {
            if self.closure(closure) {
                self.callables.insert(name.ident.to_string());
            }
            return;
        }
        visit_mut::visit_local_mut(self, local);
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        match stmt {
            Stmt::Macro(m) => self.mac(&mut m.mac),
            Stmt::Item(Item::Fn(f)) => self.item_fn(f),
            // An import may serve the sync connection only (`Atomic`).
            Stmt::Item(Item::Use(u)) => u.attrs.push(parse_quote!(#[allow(unused_imports)])),
            // Other items (models) are the same for every connection.
            Stmt::Item(_) => {}
            _ => visit_mut::visit_stmt_mut(self, stmt),
        }
    }
}

/// `matches!(expr, pattern)`: the expression, and the rest untouched.
struct Matches {
    expr: Expr,
    rest: TokenStream,
}

impl Parse for Matches {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let expr = input.parse()?;
        input.parse::<Token![,]>()?;
        Ok(Matches {
            expr,
            rest: input.parse()?,
        })
    }
}

fn strip_ref(e: &Expr) -> &Expr {
    match e {
        Expr::Reference(r) => strip_ref(&r.expr),
        Expr::Paren(p) => strip_ref(&p.expr),
        other => other,
    }
}

fn closure_params(closure: &ExprClosure) -> Vec<String> {
    closure
        .inputs
        .iter()
        .filter_map(|p| match p {
            Pat::Ident(i) => Some(i.ident.to_string()),
            Pat::Type(t) => match &*t.pat {
                Pat::Ident(i) => Some(i.ident.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Finds an `.await` outside nested async closures and blocks.
#[derive(Default)]
struct FindAwait(bool);

impl<'ast> Visit<'ast> for FindAwait {
    fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
        self.0 = true;
    }
    fn visit_expr_closure(&mut self, c: &'ast ExprClosure) {
        if c.asyncness.is_none() {
            syn::visit::visit_expr_closure(self, c);
        }
    }
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast Item) {}
    fn visit_macro(&mut self, m: &'ast Macro) {
        // The rewritten macros' arguments are expressions again.
        if m.tokens.to_string().contains(". await") {
            self.0 = true;
        }
    }
}

fn awaits(e: &Expr) -> bool {
    let mut find = FindAwait::default();
    find.visit_expr(e);
    find.0
}

fn awaits_block(b: &Block) -> bool {
    let mut find = FindAwait::default();
    find.visit_block(b);
    find.0
}

/// The connection traits a helper names, and their async counterparts.
fn counterpart(name: &str) -> Option<TokenStream> {
    match name {
        "Db" => Some(quote!(::orm_core::AsyncDb)),
        "Backend" => Some(quote!(crate::backends::AsyncBackend)),
        _ => None,
    }
}

/// Whether the type is `&impl Db`, `&impl Backend` (or their paths).
fn is_conn_type(ty: &Type) -> bool {
    let Type::Reference(r) = ty else {
        return false;
    };
    let Type::ImplTrait(t) = &*r.elem else {
        return false;
    };
    t.bounds.iter().any(|b| match b {
        TypeParamBound::Trait(t) => t
            .path
            .segments
            .last()
            .is_some_and(|s| counterpart(&s.ident.to_string()).is_some()),
        _ => false,
    })
}

/// `&impl Db` as `&impl AsyncDb`, `&impl Backend` as `&impl AsyncBackend`.
pub(crate) fn asyncify_type(ty: &mut Type) {
    let Type::Reference(r) = ty else {
        return;
    };
    let Type::ImplTrait(t) = &mut *r.elem else {
        return;
    };
    for b in &mut t.bounds {
        if let TypeParamBound::Trait(t) = b {
            if let Some(new) = t
                .path
                .segments
                .last()
                .and_then(|s| counterpart(&s.ident.to_string()))
            {
                t.path = parse_quote!(#new);
            }
        }
    }
}

/// The async counterpart of a connection trait's path, if it is one.
pub(crate) fn async_bound(path: &syn::Path) -> Option<TokenStream> {
    counterpart(&path.segments.last()?.ident.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `body` rewritten for an async `conn`, next to what it should be.
    #[track_caller]
    fn rewrites(body: &str, expected: &str) {
        let mut got: Block = syn::parse_str(&format!("{{ {body} }}")).expect("a body");
        Awaiter::new(["conn".to_string()]).block(&mut got);
        let expected: Block = syn::parse_str(&format!("{{ {expected} }}")).expect("a result");
        // Spacing aside: a macro's rewritten arguments print their commas apart.
        let text = |b: Block| b.into_token_stream().to_string().replace(' ', "");
        assert_eq!(text(got), text(expected));
    }

    #[test]
    fn tries_and_calls_given_the_connection_are_awaited() {
        rewrites(
            "let all = Category::all(&conn)?; let n = all.len();",
            "let all = ::awaited::Wait::wait(Category::all(&conn)).await?; let n = all.len();",
        );
        rewrites(
            "let err = category(1).insert(&conn).unwrap_err(); let x = pairs?;",
            "let err = ::awaited::Wait::wait(category(1).insert(&conn)).await.unwrap_err();
             let x = ::awaited::Wait::wait(pairs).await?;",
        );
        rewrites(
            "conn.exec(\"SELECT 1\")?;",
            "::awaited::Wait::wait(conn.exec(\"SELECT 1\")).await?;",
        );
    }

    #[test]
    fn is_strict_asks_the_task() {
        rewrites(
            "assert!(!is_strict(&conn)); let s = orm_core::is_strict(conn);",
            "assert!(!::orm_core::is_strict_async()); let s = ::orm_core::is_strict_async();",
        );
    }

    #[test]
    fn macro_arguments_are_rewritten() {
        rewrites(
            "assert_eq!(Category::get(&conn, 2)?, None, \"{x}\");
             assert!(matches!(x.insert(&conn), Err(Error::Unwritable { .. })));",
            "assert_eq!(::awaited::Wait::wait(Category::get(&conn, 2)).await?, None, \"{x}\");
             assert!(matches!(::awaited::Wait::wait(x.insert(&conn)).await, Err(Error::Unwritable { .. })));",
        );
    }

    #[test]
    fn guards_take_a_future() {
        rewrites(
            "let (pairs, n) = count_queries(&mut conn, |c| Category::prefetch_products(c, cats));",
            "let (pairs, n) = ::orm_core::count_queries_async(async {
                 let c = &conn;
                 ::awaited::Wait::wait(Category::prefetch_products(c, cats)).await
             }).await;",
        );
        rewrites(
            "assert_queries(&mut conn, 1, |c| { Category::all(c).unwrap(); });",
            "::orm_core::assert_queries_async(1, async {
                 let c = &conn;
                 { ::awaited::Wait::wait(Category::all(c)).await.unwrap(); }
             }).await;",
        );
        rewrites(
            "let (rows, n) = counted(&mut conn, |conn| -> R { Ok(A::all(conn)?) })?;",
            "let (rows, n) = counted_async(async {
                 let conn = &conn;
                 (async || -> R { { Ok(::awaited::Wait::wait(A::all(conn)).await?) } })().await
             }).await?;",
        );
        rewrites(
            "strict(&conn, || -> R { Ok(()) })?;",
            "::orm_core::strict_async(async {
                 (async || -> R { { Ok(()) } })().await
             }).await?;",
        );
    }

    #[test]
    fn transactions_are_atomic_blocks() {
        rewrites(
            "let kept = conn.in_transaction(|tx| A::insert_all(tx, &rows))?;",
            "let kept = ::awaited::Wait::wait(conn.atomic(async |tx|
                 ::awaited::Wait::wait(A::insert_all(tx, &rows)).await)).await?;",
        );
    }

    #[test]
    fn closures_and_fns_that_await_are_async_and_awaited() {
        rewrites(
            "let q = |c| -> R { Ok(A::query().filter(c).all(&conn)?) };
             let cheap = || f.price.lt(10.0);
             assert_eq!(q(cheap())?, [1]);",
            "let q = async |c| -> R { Ok(::awaited::Wait::wait(A::query().filter(c).all(&conn)).await?) };
             let cheap = || f.price.lt(10.0);
             assert_eq!(q(cheap()).await?, [1]);",
        );
        rewrites(
            "fn q(conn: &impl Db, c: C) -> R { Ok(A::query().filter(c).all(conn)?) }
             q(&conn, x)?;",
            "async fn q(conn: &impl ::orm_core::AsyncDb, c: C) -> R {
                 Ok(::awaited::Wait::wait(A::query().filter(c).all(conn)).await?)
             }
             q(&conn, x).await?;",
        );
    }

    #[test]
    fn closures_with_only_a_try_stay_closures() {
        rewrites(
            "let r: Result<Vec<_>, E> = rows.iter().map(|x| Ok((x, f(x)?))).collect();
             let all = rows.iter().map(|x| -> R { Ok(g(x, &conn)?) });",
            "let r: Result<Vec<_>, E> = rows.iter().map(|x| Ok((x, f(x)?))).collect();
             let all = rows.iter().map(async |x| -> R { Ok(::awaited::Wait::wait(g(x, &conn)).await?) });",
        );
    }

    #[test]
    fn prop_asserts_are_rewritten() {
        rewrites(
            "prop_assert_eq!(q.count(&conn).unwrap(), 3, \"{:?}\", c);
             prop_assert!(A::exists(&conn)?);",
            "prop_assert_eq!(::awaited::Wait::wait(q.count(&conn)).await.unwrap(), 3, \"{:?}\", c);
             prop_assert!(::awaited::Wait::wait(A::exists(&conn)).await?);",
        );
    }

    #[test]
    fn raw_statements_are_awaited_where_they_run() {
        rewrites(
            "let n = conn.raw(\"UPDATE t SET a = ?\", (1,)).execute()?;",
            "let n = ::awaited::Wait::wait(conn.raw(\"UPDATE t SET a = ?\", (1,)).execute()).await?;",
        );
    }

    #[test]
    fn callbacks_given_with_the_connection_return_futures() {
        rewrites(
            "let t = x.nested(&conn, |conn, rows| A::prefetch_b(conn, rows));",
            "let t = ::awaited::Wait::wait(x.nested(&conn, |conn, rows|
                 ::std::boxed::Box::pin(async move {
                     ::awaited::Wait::wait(A::prefetch_b(conn, rows)).await
                 }))).await;",
        );
    }

    #[test]
    fn catch_unwind_catches_the_futures_panic() {
        rewrites(
            "let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                 let _ = A::all(&conn);
             }));",
            "let p = ::awaited::catch_unwind(::std::panic::AssertUnwindSafe(async {
                 { let _ = ::awaited::Wait::wait(A::all(&conn)).await; }
             })).await;",
        );
    }
}
