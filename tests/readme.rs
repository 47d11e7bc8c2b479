//! Not published, and nothing to import: the package that owns the
//! workspace's integration tests (this directory) and runnable examples
//! (`examples/`), so that the published `orm-core` references nothing
//! outside its own directory. Its library exists to run the README's code
//! blocks as doctests (`cargo test --workspace` runs them).
#![forbid(unsafe_code)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
