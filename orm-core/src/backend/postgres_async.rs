//! PLACEHOLDER, being written: the async postgres driver.
#![allow(dead_code, unused_variables)]

use super::{Caps, Ctx, Exec, Param, Row, ScopeKind};
use crate::error::{Error, Result};
use crate::render::Dialect;
use crate::value::Value;

/// An async connection (being written).
#[derive(Debug)]
pub struct AsyncPostgres {}

/// A borrowed [`AsyncPostgres`], as the driver seam sees it.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Pg<'c>(pub(crate) &'c AsyncPostgres);

const TODO: Error = Error::Internal("not yet");

impl<'c> Exec for Pg<'c> {
    type Stmt = String;
    type Scope = ();
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn caps(&self) -> Result<Caps> {
        Err(TODO)
    }
    fn identity(&self) -> usize {
        0
    }
    async fn prepare(&self, sql: &str, ctx: Ctx) -> Result<String> {
        Err(TODO)
    }
    async fn query<F>(&self, stmt: &mut String, params: Vec<Param<'_>>, on_row: F) -> Result<usize>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        Err(TODO)
    }
    async fn execute(&self, stmt: &mut String, params: &[Param<'_>]) -> Result<u64> {
        Err(TODO)
    }
    async fn execute_values(&self, stmt: &mut String, values: &[Value<'_>]) -> Result<(u64, i64)> {
        Err(TODO)
    }
    async fn batch(&self, sql: &str, ctx: Ctx) -> Result<()> {
        Err(TODO)
    }
    #[cfg(feature = "postgres")]
    async fn copy_in(
        &self,
        copy: &str,
        columns: &str,
        values: &[Value<'_>],
        ctx: Ctx,
    ) -> Result<u64> {
        Err(TODO)
    }
    async fn open(&self, kind: ScopeKind, ctx: Ctx) -> Result<Option<()>> {
        Err(TODO)
    }
    async fn close(&self, scope: ()) -> Result<()> {
        Err(TODO)
    }
}
