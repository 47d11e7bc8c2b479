//! What earlier loads learned about the size of parent tables, per
//! connection, so that a load whose keys are few for the table probes the
//! index with a plain `IN` list and skips the statement that could also scan. A stale size can only choose the slower plan, never a wrong result:
//! a table that grew is measured again by the next statement that may scan;
//! one that shrank keeps a load on the index, which is always correct.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// At most this many (connection, table) sizes are kept; past it the
/// map starts over, so connections opened and dropped forever cannot grow it.
const CAPACITY: usize = 4096;

/// A size learned is trusted for this many calls, then measured again
/// by the next call that could scan: the table may have shrunk, or the
/// connection's address may now be another connection's (a dropped
/// connection's memory is reused), and a stale size would keep dense
/// loads on the slower plan. Re-measuring costs one call in this many a
/// bounded count.
const TRUSTED_USES: u32 = 64;

type Sizes = HashMap<(usize, &'static str), (i64, u32)>;

static SIZES: Mutex<Option<Sizes>> = Mutex::new(None);

/// The sizes; a panic elsewhere while they were held leaves them usable
/// (each update is one map operation).
fn locked() -> MutexGuard<'static, Option<Sizes>> {
    SIZES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The table's size, as a lower bound: the statement steps over at most
/// `2 × threshold` rows, and says `2 × threshold + 1` when one follows.
pub(super) fn learn(connection: usize, table: &'static str, size: i64) {
    let mut sizes = locked();
    let sizes = sizes.get_or_insert_with(HashMap::new);
    if sizes.len() >= CAPACITY {
        sizes.clear();
    }
    sizes.insert((connection, table), (size, 0));
}

/// The table was found small enough to scan: nothing to remember.
pub(super) fn forget(connection: usize, table: &'static str) {
    let mut sizes = locked();
    if let Some(sizes) = sizes.as_mut() {
        sizes.remove(&(connection, table));
    }
}

/// Whether the table is known to have more than `threshold` rows (and the
/// size is not due to be measured again): the choice the statement would make
/// on the table as it was measured. A size learned as a lower bound, twice an
/// earlier call's threshold and one, serves calls with up to twice as many
/// keys.
pub(super) fn known_larger(connection: usize, table: &'static str, threshold: i64) -> bool {
    let mut sizes = locked();
    let Some(entry) = sizes.as_mut().and_then(|s| s.get_mut(&(connection, table))) else {
        return false;
    };
    let (size, uses) = entry;
    if *size <= threshold {
        return false;
    }
    // A table without rowid (learned as `i64::MAX`) stays without one.
    if *size == i64::MAX {
        return true;
    }
    *uses += 1;
    if *uses >= TRUSTED_USES {
        *uses = 0;
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::sizes;

    /// A learned size is trusted a bounded number of times, then measured
    /// again; a scan forgets it.
    #[test]
    fn a_learned_size_is_measured_again() {
        let (conn, table) = (usize::MAX - 7, "sizes_test");
        sizes::learn(conn, table, 1_000);
        assert!(!sizes::known_larger(conn, table, 1_000), "not larger");
        let trusted = (0..200)
            .take_while(|_| sizes::known_larger(conn, table, 10))
            .count();
        assert_eq!(trusted, 63);
        assert!(sizes::known_larger(conn, table, 10));
        sizes::forget(conn, table);
        assert!(!sizes::known_larger(conn, table, 10));
    }
}
