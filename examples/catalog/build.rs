//! Rebuilds the crate when a migration file is added or changed, so that
//! `orm_core::migrations!("migrations")` embeds it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
