//! Test support: one test body, run on sync and async connections.
//!
//! A model's function returns `Result<T>` on a sync connection and a future
//! of it on an async one, so a body written for the sync connection
//! (`Category::all(&conn)?`) needs an `.await` on the async one.
//! [`on_each_backend!`] writes each body as it is for the sync connections
//! and, rewritten, for the async ones: every `expr?` becomes
//! `Wait::wait(expr).await?`, every call that is given the connection is
//! awaited through [`Wait`], and the sync guards and transactions become
//! their async forms (see the macro's documentation). [`Wait`] makes that
//! type-check whatever the call returns: a future is awaited, anything else
//! is ready at once. [`both`] does the same for a helper the bodies share.
#![forbid(unsafe_code)]

use std::future::{ready, Future, Ready};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

pub use awaited_macros::{both, on_each_backend};

/// A value the rewritten bodies `.await`: a future as it is, anything else
/// as a future that is ready at once.
pub trait Wait {
    /// What the `.await` gives.
    type Output;
    /// The future to await.
    type Future: Future<Output = Self::Output>;
    /// `self` as a future.
    fn wait(self) -> Self::Future;
}

impl<'a, T> Wait for Pin<Box<dyn Future<Output = T> + Send + 'a>> {
    type Output = T;
    type Future = Self;
    fn wait(self) -> Self {
        self
    }
}

impl<'a, T> Wait for Pin<Box<dyn Future<Output = T> + 'a>> {
    type Output = T;
    type Future = Self;
    fn wait(self) -> Self {
        self
    }
}

/// Ready at once: what a sync call, or a helper that asks nothing of the
/// connection, returns.
macro_rules! ready {
    ($(impl$(<$($g:ident),*>)? for $ty:ty;)*) => {$(
        impl$(<$($g),*>)? Wait for $ty {
            type Output = Self;
            type Future = Ready<Self>;
            fn wait(self) -> Ready<Self> {
                ready(self)
            }
        }
    )*};
}

ready! {
    impl<T, E> for Result<T, E>;
    impl<T> for Option<T>;
    impl for bool;
    impl for &'static str;
    impl for ();
}

/// `std::panic::catch_unwind` for a future: what a body's
/// `catch_unwind(|| ..)` becomes when its closure awaits. The future is
/// dropped where it panicked, as the closure's frame would be.
pub async fn catch_unwind<F: Future>(f: F) -> std::thread::Result<F::Output> {
    let mut f = Box::pin(f);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}

/// Runs an async test body to its end on a runtime of its own (one
/// thread: the test harness runs tests in parallel already).
pub fn block_on<T, F: Future<Output = T>>(body: F) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body)
}
