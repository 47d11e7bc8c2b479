//! Rebuilds the crate when a migration file is added or changed, so that
//! `orm_core::migrations!("migrations")` embeds it; and turns the integration
//! test's PostgreSQL half on when `ORM_POSTGRES_URL` names a server (as
//! `scripts/with-postgres` does), so that without one those tests are listed
//! as ignored rather than passing without having run.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=ORM_POSTGRES_URL");
    println!("cargo:rustc-check-cfg=cfg(catalog_postgres)");
    if std::env::var_os("ORM_POSTGRES_URL").is_some() {
        println!("cargo:rustc-cfg=catalog_postgres");
    }
}
