//! The compile-time contract: misuse fails to compile with an error at the
//! user's tokens; correct use compiles and runs.

/// The expected messages are recorded without features: rustc lists
/// candidate impls, and the feature column types and backends add to them.
#[test]
#[cfg_attr(
    any(
        feature = "postgres",
        feature = "chrono",
        feature = "time",
        feature = "uuid",
        feature = "serde_json"
    ),
    ignore = "compile-fail messages are recorded without features"
)]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../tests/ui/fail/*.rs");
    t.pass("../tests/ui/pass/*.rs");
}
