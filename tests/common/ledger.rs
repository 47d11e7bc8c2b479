//! One table of balances, for the tests of `atomic`: rows written, kept or
//! undone, with no relation in the way.

use orm_core::Model;

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Acct {
    #[primary_key]
    pub id: i64,
    pub bal: i64,
}

pub fn acct(id: i64, bal: i64) -> Acct {
    Acct { id, bal }
}
