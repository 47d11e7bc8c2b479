//! Rows held in arrival order until the last is in, then moved into their
//! slots, each slot's `Vec` allocated once at its final length.
//!
//! Pushing each row straight into its slot as it arrives touches a `Vec` far
//! from the previous one on every row of a scan (rows come in table order,
//! slots in input order), and it does so while SQLite steps the statement,
//! so every cache miss stalls the load; slots also grow by doubling, a
//! reallocation and a copy each time. Held here, rows are written one after
//! another, as into one `Vec`; the move into the slots is a tight loop whose
//! misses overlap, with no reallocation. The rows wait in blocks, each freed
//! once its rows have moved, and a slot is allocated only when its first row
//! moves, so the peak stays well under two copies of the rows.

use std::mem::size_of;

/// About this many bytes of rows per block.
const BLOCK_BYTES: usize = 64 * 1024;

pub(super) struct Staged<T> {
    blocks: Vec<Vec<T>>,
    /// The slot of each row, in arrival order.
    slots: Vec<u32>,
    per_block: usize,
}

impl<T> Staged<T> {
    pub(super) fn new() -> Self {
        Staged {
            blocks: Vec::new(),
            slots: Vec::new(),
            per_block: (BLOCK_BYTES / size_of::<T>().max(1)).max(16),
        }
    }

    /// Whether `slot` numbers can be held: the loader places rows directly
    /// for outputs of more slots than a `u32` counts.
    pub(super) fn holds(slots: usize) -> bool {
        u32::try_from(slots).is_ok()
    }

    /// The row that arrived last.
    #[inline]
    pub(super) fn last(&self) -> Option<&T> {
        self.blocks.last().and_then(|block| block.last())
    }

    /// `slot` is below the number of slots [`Staged::holds`] accepted.
    #[inline]
    pub(super) fn push(&mut self, slot: usize, item: T) {
        let block = match self.blocks.last_mut() {
            Some(block) if block.len() < block.capacity() => block,
            _ => {
                self.blocks.push(Vec::with_capacity(self.per_block));
                let Some(block) = self.blocks.last_mut() else {
                    return;
                };
                block
            }
        };
        block.push(item);
        self.slots.push(u32::try_from(slot).unwrap_or(u32::MAX));
    }

    /// Moves every row to the end of its slot, in arrival order, after any
    /// the slot already holds. With `out_of_order`, says whether some row
    /// came before its predecessor in its slot: each slot's first row moved
    /// is compared with the rows it already holds, and, with `each`, every
    /// row with its predecessor.
    #[inline]
    pub(super) fn into_slots(
        self,
        slots: &mut [Vec<T>],
        out_of_order: Option<&impl Fn(&T, &T) -> bool>,
        each: bool,
    ) -> bool {
        // Most loads hold nothing here: the accessors' single rows, sparse loads.
        if self.slots.is_empty() {
            return false;
        }
        self.distribute(slots, out_of_order, each)
    }

    fn distribute(
        self,
        slots: &mut [Vec<T>],
        out_of_order: Option<&impl Fn(&T, &T) -> bool>,
        each: bool,
    ) -> bool {
        // Each slot's rows still to come; 0 once its first has moved.
        let mut counts = vec![0u32; slots.len()];
        for &slot in &self.slots {
            if let Some(count) = counts.get_mut(slot as usize) {
                *count = count.saturating_add(1);
            }
        }
        let mut unordered = false;
        let mut ids = self.slots.iter();
        for block in self.blocks {
            for (item, &slot) in block.into_iter().zip(&mut ids) {
                let (Some(list), Some(count)) =
                    (slots.get_mut(slot as usize), counts.get_mut(slot as usize))
                else {
                    continue;
                };
                let first = *count != 0;
                if first {
                    list.reserve_exact(*count as usize);
                    *count = 0;
                }
                if let (Some(out_of_order), Some(last), true) =
                    (out_of_order, list.last(), first || each)
                {
                    unordered |= out_of_order(last, &item);
                }
                list.push(item);
            }
        }
        unordered
    }
}

#[cfg(test)]
mod tests {
    use super::Staged;

    #[test]
    fn rows_reach_their_slots_in_arrival_order_at_their_exact_length() {
        let mut staged = Staged::new();
        // Over several blocks (16 rows at least per block).
        let rows: Vec<(usize, u64)> = (0..100u64).map(|i| ((i * 7 % 3) as usize, i)).collect();
        for &(slot, item) in &rows {
            staged.push(slot, item);
        }
        assert_eq!(staged.last(), Some(&99));
        let mut slots = vec![Vec::new(); 4];
        let later = |a: &u64, b: &u64| a > b;
        assert!(!staged.into_slots(&mut slots, Some(&later), true));
        for (slot, list) in slots.iter().enumerate() {
            let expected: Vec<u64> = rows
                .iter()
                .filter(|&&(s, _)| s == slot)
                .map(|&(_, item)| item)
                .collect();
            assert_eq!(list, &expected);
            assert_eq!(list.capacity(), list.len());
        }
    }

    #[test]
    fn a_row_before_its_predecessor_in_its_slot_is_reported() {
        let mut staged = Staged::new();
        for (slot, item) in [(0, 1), (1, 5), (0, 3), (1, 4)] {
            staged.push(slot, item);
        }
        let mut slots = vec![Vec::new(); 2];
        let later = |a: &i32, b: &i32| a > b;
        assert!(staged.into_slots(&mut slots, Some(&later), true));
        assert_eq!(slots, [vec![1, 3], vec![5, 4]]);
    }

    #[test]
    fn rows_follow_those_a_slot_already_holds_and_are_compared_with_them() {
        let later = |a: &i32, b: &i32| a > b;
        for (held, unordered) in [(2, false), (9, true)] {
            let mut staged = Staged::new();
            staged.push(0, 5);
            staged.push(0, 6);
            let mut slots = vec![vec![1, held], Vec::new()];
            // In order among themselves: only the first is compared.
            assert_eq!(
                staged.into_slots(&mut slots, Some(&later), false),
                unordered
            );
            assert_eq!(slots[0], [1, held, 5, 6]);
        }
    }
}
