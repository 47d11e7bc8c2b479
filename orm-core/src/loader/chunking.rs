//! How one load binds its keys: how many per statement (the backend's
//! limit less what the filter binds, rounded to a power of two), and whether
//! the statement may offer the scan of the whole table.

use super::{sizes, Plan};
use crate::backend::Exec;
use crate::error::{Error, Result};
use crate::render;
use crate::statement::Projection;
use crate::value::Value;
use crate::SqlType;

/// Keys covering at least 1/`SCAN_RATIO` of the rows of the parent table make
/// a full scan of the child table cheaper than probing its index once per
/// key. Measured on the benchmark's M dataset (README): the scan costs about
/// 10 ms per 100k rows plus 0.4 µs per row kept, the index about 0.7 µs per
/// row found, so they cross near a third of the table.
const SCAN_RATIO: i64 = 3;

/// How one load binds its keys: how many per statement, and whether it may scan.
pub(super) struct Chunking {
    pub(super) chunk: usize,
    pub(super) lists_as_json: bool,
    pub(super) scan: Option<&'static str>,
}

pub(super) fn chunking(
    conn: &impl Exec,
    plan: &Plan<'_>,
    n: usize,
    projection: Projection,
) -> Result<Chunking> {
    crate::exec::shallow(&plan.ctx, plan.shape)?;
    let dialect = conn.dialect();
    // Whether to offer the scan: not for one key (the single-row
    // accessors), where the choice costs more than it can save, nor where an
    // earlier call learned that the parent table is too large for the keys to
    // scan it.
    let may_scan = |parent: &&'static str| {
        projection == Projection::Model
            && !plan.ordered()
            && plan.shape.extras.is_empty()
            && n > 1
            && !sizes::known_larger(conn.identity(), parent, threshold(n))
    };
    // Keys bound as one array: one statement for all of them.
    let caps = conn.caps()?;
    let Some(limit) = caps.variable_limit() else {
        // The keys' array and the scan's size, and the filter's values.
        let needed = render::shape_params(dialect, plan.shape, false) + 2;
        crate::exec::within(&plan.ctx, needed, caps)?;
        return Ok(Chunking {
            chunk: n,
            lists_as_json: false,
            scan: plan.scan_sized_by.filter(may_scan),
        });
    };
    // What the statement binds besides the keys: the filter's values (with
    // long lists as one value each, or every list so if that is what fits),
    // and a window's two numbers.
    let fixed = |json| match projection {
        Projection::CountPerKey => plan
            .shape
            .filter
            .as_ref()
            .map_or(0, |f| render::params_of(dialect, f, json)),
        _ => render::shape_params(dialect, plan.shape, json),
    };
    let lists_as_json = fixed(false) >= limit;
    let fixed = fixed(lists_as_json);
    if fixed >= limit {
        return Err(Error::TooManyParameters {
            model: plan.ctx.model,
            table: plan.ctx.table,
            needed: fixed + 1,
            limit,
        });
    }
    let room = limit - fixed;
    // The scan takes one parameter besides the keys: offer it only where that
    // does not add a statement.
    let scan = plan
        .scan_sized_by
        .filter(|parent| room > 1 && n.div_ceil(room - 1) == n.div_ceil(room) && may_scan(parent));
    let room = if scan.is_some() { room - 1 } else { room };
    Ok(Chunking {
        chunk: render::bucket(n, room),
        lists_as_json,
        scan,
    })
}

pub(super) fn threshold(keys: usize) -> i64 {
    i64::try_from(keys)
        .unwrap_or(i64::MAX)
        .saturating_mul(SCAN_RATIO)
}

/// The keys of one statement, as values: the chunk padded to `count` by
/// repeating its first key (same text, same result), or every key where the
/// backend binds them as one array.
pub(super) fn key_values<'k, K: SqlType>(keys: &[&'k K], count: usize) -> Vec<Value<'k>> {
    (0..count.max(keys.len()))
        .map(|i| keys.get(i).unwrap_or(&keys[0]).to_value())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_round_up_to_powers_of_two_under_the_limit() {
        use crate::render::bucket;
        let got: Vec<usize> = [1, 2, 3, 20, 32, 33, 40_000]
            .iter()
            .map(|&n| bucket(n, 32_765))
            .collect();
        assert_eq!(got, [1, 2, 4, 32, 32, 64, 32_765]);
        assert_eq!(bucket(7, 5), 5);
    }
}
