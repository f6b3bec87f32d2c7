//! What every connection of the process shares: the connection table and
//! the budget of bytes the server holds for clients.
//!
//! - **The budget.** Bytes of unfinished requests (held once, by the
//!   connection wrapper, until a request is whole) and bytes of answers the
//!   client does not take (what the last blocked write offered) are charged
//!   to one process-wide [`BUDGET`]. A charge past it sheds the connection
//!   holding the most, oldest first; that is the only way many connections,
//!   each within its own limits, could add up to more memory.
//! - **The table.** At most `WXAUTH_MAX_CONNECTIONS` connections are
//!   counted. A new one past that evicts the connection that has waited on
//!   its client longest (an idle keep-alive, or the slowest unfinished
//!   request), never one whose request is being answered; so one address
//!   holding every slot cannot keep another client out. Only when every
//!   connection is busy is the newcomer closed unanswered.
//!
//! Connections live on several worker threads; each has a [`Slot`] here
//! (atomics and a waker), and the table itself is one short-held mutex.

use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

/// Bytes held for all clients together (unfinished requests and answers
/// not taken), at most: 4 MiB, 256 full 16 KiB heads or about 40 blocked
/// 32 KiB answers (each charged with what actix holds for it).
pub const BUDGET: usize = 4 * 1024 * 1024;

/// Milliseconds since the process's first connection, never 0 (0 means
/// "not waiting" in [`Slot::waiting_since`]).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed().as_millis();
    u64::try_from(elapsed).unwrap_or(u64::MAX).saturating_add(1)
}

/// One connection's entry in the table.
#[derive(Debug)]
pub(super) struct Slot {
    id: u64,
    /// Bytes charged to the budget.
    held: AtomicUsize,
    /// Since when the connection waits on its client with no request being
    /// answered (idle, or an unfinished request); 0: busy.
    waiting_since: AtomicU64,
    /// Closed by the table: the connection ends at its next poll.
    evicted: AtomicBool,
    waker: AtomicWaker,
}

impl Slot {
    /// Whether the table closed this connection.
    pub(super) fn evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// The task to wake when the table closes this connection.
    pub(super) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// The connection waits on its client (from now, unless it already did).
    pub(super) fn waiting(&self) {
        let _ =
            self.waiting_since
                .compare_exchange(0, now_ms(), Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The connection has a whole request to answer.
    pub(super) fn busy(&self) {
        self.waiting_since.store(0, Ordering::Release);
    }

    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// The connection table and the budget; see the module.
#[derive(Debug)]
pub(super) struct Table {
    max_connections: usize,
    budget: usize,
    held: AtomicUsize,
    next_id: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Table {
    pub(super) fn new(max_connections: usize, budget: usize) -> Self {
        Self {
            max_connections: max_connections.max(1),
            budget,
            held: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for a new connection, evicting the one that has waited on its
    /// client longest when the table is full; `None` when every connection
    /// is busy.
    pub(super) fn open(&self) -> Option<Arc<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= self.max_connections {
            let victim = slots
                .values()
                .filter(|slot| slot.waiting_since.load(Ordering::Acquire) != 0)
                .min_by_key(|slot| (slot.waiting_since.load(Ordering::Acquire), slot.id))
                .map(|slot| slot.id)?;
            if let Some(slot) = slots.remove(&victim) {
                self.release_all(&slot);
                slot.evict();
            }
        }
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            held: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(now_ms()),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        slots.insert(slot.id, Arc::clone(&slot));
        Some(slot)
    }

    /// The connection ended: its slot and its charge are given back.
    pub(super) fn close(&self, slot: &Slot) {
        self.release_all(slot);
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&slot.id);
    }

    /// Sets what `slot` holds to `bytes`. Past the budget, the connection
    /// holding the most (oldest first) is shed; `false` when that is `slot`
    /// itself, which must then close.
    pub(super) fn hold(&self, slot: &Slot, bytes: usize) -> bool {
        let before = slot.held.swap(bytes, Ordering::AcqRel);
        if slot.evicted() {
            // Released by the eviction already; charge nothing more.
            slot.held.store(0, Ordering::Release);
            return false;
        }
        if bytes <= before {
            self.held.fetch_sub(before - bytes, Ordering::AcqRel);
            return true;
        }
        let total = self
            .held
            .fetch_add(bytes - before, Ordering::AcqRel)
            .saturating_add(bytes - before);
        if total <= self.budget {
            return true;
        }
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        while self.held.load(Ordering::Acquire) > self.budget {
            let Some(victim) = slots
                .values()
                .max_by_key(|other| {
                    (
                        other.held.load(Ordering::Acquire),
                        std::cmp::Reverse(other.id),
                    )
                })
                .map(|other| other.id)
            else {
                break;
            };
            let Some(other) = slots.remove(&victim) else {
                break;
            };
            self.release_all(&other);
            other.evict();
            if other.id == slot.id {
                return false;
            }
        }
        true
    }

    fn release_all(&self, slot: &Slot) {
        let held = slot.held.swap(0, Ordering::AcqRel);
        self.held.fetch_sub(held, Ordering::AcqRel);
    }

    /// Bytes held for all connections.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_the_connection_holding_the_most_oldest_first_is_shed() {
        let table = Table::new(100, 100);
        let a = table.open().unwrap();
        let b = table.open().unwrap();
        let c = table.open().unwrap();
        assert!(table.hold(&a, 40));
        assert!(table.hold(&b, 40));
        assert_eq!(table.held(), 80);
        // c's charge passes the budget: a and b hold as much, a is older.
        assert!(table.hold(&c, 30));
        assert!(a.evicted() && !b.evicted() && !c.evicted());
        assert_eq!(table.held(), 70);
        // c grows past everyone: c itself goes.
        assert!(!table.hold(&c, 70));
        assert!(c.evicted());
        assert_eq!(table.held(), 40);
        table.close(&b);
        assert_eq!(table.held(), 0);
    }

    #[test]
    fn a_full_table_evicts_the_longest_waiting_never_a_busy_one() {
        let table = Table::new(2, usize::MAX);
        let first = table.open().unwrap();
        let second = table.open().unwrap();
        first.busy();
        let third = table.open().unwrap();
        assert!(!first.evicted() && second.evicted() && !third.evicted());
        third.busy();
        // Everyone busy: the newcomer is refused.
        assert!(table.open().is_none());
        first.waiting();
        assert!(table.open().is_some());
        assert!(first.evicted());
    }
}
