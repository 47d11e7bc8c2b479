//! The compile-time contract of the async connections (feature `tokio`):
//! a forgotten `.await` is an error at the call that says so.

/// Recorded with the `tokio` feature alone: other features add candidate
/// impls to rustc's messages.
#[test]
#[cfg_attr(
    any(
        feature = "postgres",
        feature = "chrono",
        feature = "time",
        feature = "uuid",
        feature = "serde_json"
    ),
    ignore = "compile-fail messages are recorded with the tokio feature alone"
)]
fn ui_async() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../tests/ui/async_fail/*.rs");
}
