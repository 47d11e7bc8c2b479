//! Every statement the crate runs, reported through `tracing`.
//!
//! Each statement emits one event with target `orm_core::query`: at `DEBUG`,
//! or at `WARN` when it took at least the slow-statement threshold (1 s unless
//! [`set_slow_threshold`] says otherwise). Its fields:
//!
//! | field | value |
//! |---|---|
//! | `db.statement` | the SQL text |
//! | `db.system` | `sqlite` or `postgresql` |
//! | `model`, `table` | the model the statement is for |
//! | `rows` | rows returned, or changed by a write |
//! | `elapsed_ms` | time from binding to the last row |
//! | `error` | only when the statement failed (to prepare or to run): the error |
//! | `db.params` | the bound values, only after [`set_log_values`]`(true)` (they may be private) |
//!
//! With no subscriber interested in the target, a statement costs one cached
//! check and no clock reads. Show the SQL with `tracing-subscriber`:
//!
//! ```ignore
//! tracing_subscriber::fmt().with_env_filter("orm_core::query=debug").init();
//! ```
//!
//! ```
//! use std::time::Duration;
//! orm_core::log::set_slow_threshold(Duration::from_millis(250));
//! assert_eq!(orm_core::log::slow_threshold(), Duration::from_millis(250));
//! # orm_core::log::set_slow_threshold(Duration::from_secs(1));
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::Level;

use crate::backend::{Ctx, Param};

/// The target of every event: filter on it (`orm_core::query=debug`).
pub const TARGET: &str = "orm_core::query";

static SLOW_MICROS: AtomicU64 = AtomicU64::new(1_000_000);
static LOG_VALUES: AtomicBool = AtomicBool::new(false);

/// Statements taking at least this long are reported at `WARN` instead of
/// `DEBUG`. The default is one second.
pub fn set_slow_threshold(threshold: Duration) {
    let micros = u64::try_from(threshold.as_micros()).unwrap_or(u64::MAX);
    SLOW_MICROS.store(micros, Ordering::Relaxed);
}

/// The current slow-statement threshold.
pub fn slow_threshold() -> Duration {
    Duration::from_micros(SLOW_MICROS.load(Ordering::Relaxed))
}

/// Whether events carry the bound values (`db.params`). Off by default: the
/// values may be personal data or secrets.
pub fn set_log_values(on: bool) {
    LOG_VALUES.store(on, Ordering::Relaxed);
}

/// When a subscriber listens: the time the statement starts.
pub(crate) fn start() -> Option<Instant> {
    tracing::enabled!(target: "orm_core::query", Level::WARN).then(Instant::now)
}

/// The bound values as the log shows them, when a subscriber listens and
/// [`set_log_values`] asked for them: taken before the statement runs, so
/// that the values need not outlive their binding.
pub(crate) fn values(start: Option<Instant>, params: &[Param<'_>]) -> Option<String> {
    (start.is_some() && values_wanted()).then(|| format!("{params:?}"))
}

/// Whether [`set_log_values`] asked for the bound values.
pub(crate) fn values_wanted() -> bool {
    LOG_VALUES.load(Ordering::Relaxed)
}

/// Reports a statement: the rows it returned or changed, or the error it
/// failed with (a failed statement is reported as any other, with an
/// `error` field, so the log shows the SQL that failed).
pub(crate) fn finish(
    start: Option<Instant>,
    system: &'static str,
    ctx: &Ctx,
    sql: &str,
    outcome: Result<usize, &crate::Error>,
    values: Option<&str>,
) {
    let Some(start) = start else { return };
    let elapsed = start.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1e3;
    let values = values.unwrap_or("(not logged)");
    let (rows, error) = match outcome {
        Ok(rows) => (rows, None),
        Err(e) => (0, Some(e.to_string())),
    };
    let error = error.as_deref();
    if elapsed >= slow_threshold() {
        tracing::warn!(
            target: "orm_core::query",
            model = ctx.model,
            table = ctx.table,
            db.statement = sql,
            db.system = system,
            db.params = values,
            rows,
            elapsed_ms,
            error,
            "slow statement"
        );
    } else {
        tracing::debug!(
            target: "orm_core::query",
            model = ctx.model,
            table = ctx.table,
            db.statement = sql,
            db.system = system,
            db.params = values,
            rows,
            elapsed_ms,
            error,
            "statement"
        );
    }
}
