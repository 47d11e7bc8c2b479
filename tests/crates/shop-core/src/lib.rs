//! Parent models of another crate's relations: this crate knows nothing of
//! `shop-catalog`, whose models point here. It names the runtime `orm`
//! (a renamed dependency), so its models say `#[model(crate = "::orm")]`.

use orm::Model;

/// A category; its products are declared in `shop-catalog`.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = "::orm")]
pub struct Category {
    /// The key.
    pub id: i64,
    /// The name.
    pub name: String,
}

/// A tag; products are tagged through `shop-catalog`'s junction.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = "::orm")]
pub struct Tag {
    /// The key.
    pub id: i64,
    /// The label.
    pub label: String,
}
