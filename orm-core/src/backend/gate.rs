//! The gate: one async connection shared by many tasks.
//!
//! An async connection is `Sync`: tasks share it by reference, and a driver
//! that pipelines (tokio-postgres) runs their statements together on the one
//! connection. What must not mix is a transaction and statements that are not
//! its own. So every plan takes a shared turn at the gate for its duration,
//! several at once, and a transaction (an `atomic` block, a plan's write
//! scope) takes the exclusive turn: other tasks' statements wait until it
//! ends.
//!
//! Statements of the block's own task must not wait for the block: the block
//! marks the task (a task-local list of the blocks it is inside) and its
//! inside is a level of its own, with a lock of its own, so that a nested
//! block (a savepoint) is exclusive among its siblings in the same way.
//!
//! A block or scope whose future is dropped before it ends (a timeout, a
//! client gone) cannot await its `ROLLBACK` in `Drop`. It leaves the
//! statements that undo it with the gate ([`Gate::defer`]), before its turn
//! ends; the next turn at the gate runs them first, exclusively. So that
//! this need not wait for the connection's next use, the driver may also
//! spawn a task that takes that turn at once ([`Gate::settle_detached`]).
//!
//! Nothing here knows a driver: a driver implements [`Undo`] and owns a
//! `Gate` (in an `Arc`, to hand it to such a task).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::error::Result;

/// What the gate asks of a driver: to run statements it was left to undo
/// a transaction or a savepoint.
pub(crate) trait Undo: Sync {
    /// Runs `sql`, statements separated by `;` that return nothing. Its
    /// request is on its way once the future has been polled once.
    fn undo(&self, sql: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Identities of gates, unique within the process.
static GATES: AtomicUsize = AtomicUsize::new(1);

tokio::task_local! {
    /// The blocks the current task is inside, innermost last, on any gate.
    static BLOCKS: Vec<Level>;
    /// The shared turn of the plan being run, which its write scope trades
    /// for the exclusive one (waiting for it while holding the shared turn
    /// would wait for itself).
    static TURN: RefCell<Option<Shared>>;
}

/// Where a connection's statements wait: at the connection itself, or
/// inside one of its blocks.
#[derive(Clone)]
struct Level {
    gate: usize,
    /// 0 at the connection, 1 inside its outermost block, and so on.
    depth: u32,
    lock: Arc<RwLock<()>>,
}

/// A plan's shared turn.
struct Shared {
    gate: usize,
    _guard: OwnedRwLockReadGuard<()>,
}

/// The one connection's gate. See the [module](self).
#[derive(Debug)]
pub(crate) struct Gate {
    id: usize,
    root: Arc<RwLock<()>>,
    /// What dropped blocks and scopes left to undo, oldest first.
    pending: Mutex<VecDeque<String>>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            id: GATES.fetch_add(1, Ordering::Relaxed),
            root: Arc::default(),
            pending: Mutex::default(),
        }
    }
}

impl Gate {
    /// Identifies the connection, unique within the process.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// How many of this connection's blocks the current task is inside.
    pub(crate) fn depth(&self) -> u32 {
        self.level().depth
    }

    fn level(&self) -> Level {
        BLOCKS
            .try_with(|blocks| blocks.iter().rev().find(|l| l.gate == self.id).cloned())
            .ok()
            .flatten()
            .unwrap_or_else(|| Level {
                gate: self.id,
                depth: 0,
                lock: Arc::clone(&self.root),
            })
    }

    fn pending(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn has_pending(&self) -> bool {
        !self.pending().is_empty()
    }

    /// Leaves `sql` to be run before anything else on the connection: the
    /// undo of a block or scope dropped before it ended. Call it before
    /// the block's exclusive turn ends.
    pub(crate) fn defer(&self, sql: String) {
        self.pending().push_back(sql);
    }

    /// Runs a plan in a shared turn at the current task's level (after
    /// what dropped blocks left to undo), and what the plan itself left
    /// to undo (a write scope dropped on an error) before it returns.
    pub(crate) async fn run<T>(
        &self,
        conn: &impl Undo,
        plan: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let level = self.level();
        let guard = self.shared(conn, &level).await;
        let turn = RefCell::new(Some(Shared {
            gate: self.id,
            _guard: guard,
        }));
        let out = TURN.scope(turn, plan).await;
        if self.has_pending() {
            let _undone = self.exclusive_at(conn, level, false).await;
        }
        out
    }

    async fn shared(&self, conn: &impl Undo, level: &Level) -> OwnedRwLockReadGuard<()> {
        loop {
            if self.has_pending() {
                let turn = self.exclusive_at(conn, level.clone(), false).await;
                return turn.guard.downgrade();
            }
            let guard = Arc::clone(&level.lock).read_owned().await;
            // Left by a turn that ended while this one waited.
            if !self.has_pending() {
                return guard;
            }
        }
    }

    /// The exclusive turn at the current task's level, for a block or a
    /// plan's write scope (whose plan gives up its shared turn for it),
    /// after what dropped blocks left to undo.
    pub(crate) async fn exclusive(&self, conn: &impl Undo) -> Exclusive {
        // The plan's shared turn ends here, not at the end of the scope.
        let traded = TURN
            .try_with(|turn| {
                let mut turn = turn.borrow_mut();
                match &*turn {
                    Some(shared) if shared.gate == self.id => turn.take().is_some(),
                    _ => false,
                }
            })
            .unwrap_or(false);
        self.exclusive_at(conn, self.level(), traded).await
    }

    async fn exclusive_at(&self, conn: &impl Undo, level: Level, traded: bool) -> Exclusive {
        let guard = Arc::clone(&level.lock).write_owned().await;
        let turn = Exclusive {
            level,
            guard,
            traded,
        };
        self.undo_pending(conn).await;
        turn
    }

    /// Runs what dropped blocks left to undo; only in an exclusive turn.
    /// Each statement leaves the queue once sent: a turn dropped in
    /// between leaves the rest to the next one.
    async fn undo_pending(&self, conn: &impl Undo) {
        loop {
            let Some(sql) = self.pending().front().cloned() else {
                return;
            };
            // Its failure is logged by the driver; the next statement on a
            // connection left in a failed transaction reports it.
            let _ = first_polled(conn.undo(&sql), || {
                self.pending().pop_front();
            })
            .await;
        }
    }

    /// Runs `block` inside a new level below `turn`: the current task's
    /// statements on this connection no longer wait at the gate, only for
    /// each other.
    pub(crate) fn inside<F: Future>(
        &self,
        turn: &Exclusive,
        block: F,
    ) -> impl Future<Output = F::Output> {
        let mut blocks = BLOCKS.try_with(Clone::clone).unwrap_or_default();
        blocks.push(Level {
            gate: self.id,
            depth: turn.level.depth + 1,
            lock: Arc::default(),
        });
        BLOCKS.scope(blocks, block)
    }

    /// Undoes what dropped blocks left, in an exclusive turn at the
    /// connection: for a task of its own, outside any block.
    pub(crate) async fn settle_detached(&self, conn: &impl Undo) {
        if self.has_pending() {
            let _turn = self.exclusive(conn).await;
        }
    }

    /// Undoes, in `turn`, what blocks nested in it left when dropped, so
    /// that the end of its block sees them undone.
    pub(crate) async fn settle(&self, conn: &impl Undo, _turn: &Exclusive) {
        self.undo_pending(conn).await;
    }
}

/// An exclusive turn at the gate: released when dropped.
pub(crate) struct Exclusive {
    level: Level,
    guard: OwnedRwLockWriteGuard<()>,
    /// Taken by a plan's write scope in exchange for its shared turn.
    traded: bool,
}

impl Exclusive {
    /// How many blocks of the connection the turn is inside: 0 for a
    /// transaction of its own, more for a savepoint.
    pub(crate) fn depth(&self) -> u32 {
        self.level.depth
    }

    /// Gives a write scope's plan its shared turn back.
    pub(crate) fn end(self) {
        if !self.traded {
            return;
        }
        let gate = self.level.gate;
        let guard = self.guard.downgrade();
        let _ = TURN.try_with(|turn| {
            turn.borrow_mut().get_or_insert(Shared {
                gate,
                _guard: guard,
            });
        });
    }
}

/// Awaits `future`, calling `sent` once it has been polled once: for a
/// driver that queues its request on the first poll (tokio-postgres), the
/// statement is then on its way, whether or not its answer is awaited.
pub(crate) async fn first_polled<F: Future>(future: F, sent: impl FnOnce()) -> F::Output {
    let mut future = pin!(future);
    let mut sent = Some(sent);
    poll_fn(|cx| {
        let out = future.as_mut().poll(cx);
        if let Some(sent) = sent.take() {
            sent();
        }
        out
    })
    .await
}
